/**
 * A stand-in for the syslog daemon between a test sshd and the events collector: it follows the
 * server's `-E` log (raw messages, `\r\n` ends) and hands every complete line to sinks that write
 * it the way the real thing would reach the exporter:
 *
 * - `SyslogFileSink`: an auth.log as rsyslog writes it (RFC 3164 or RFC 3339 timestamp, host,
 *   `tag[pid]: `), opened by name for every write, so that after a rename rotation the next line
 *   goes to the new file, as rsyslog's does after logrotate's HUP; `rotate()` renames,
 *   `copyTruncate()` copies and truncates in place, as logrotate does.
 * - any function, e.g. one appending to a real journal file with systemd-journal-remote.
 *
 * The relay polls (20 ms); `flush()` reads what sshd has written so far and waits for the sinks.
 */
import { appendFileSync, copyFileSync, renameSync, truncateSync } from 'node:fs'
import { open } from 'node:fs/promises'

export type Sink = (lines: readonly string[]) => void | Promise<void>

export class LogRelay {
  readonly #source: string
  readonly #sinks: Sink[]
  #offset = 0
  #partial = ''
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> = Promise.resolve()
  /** Every line relayed, in order. */
  readonly lines: string[] = []

  constructor(source: string, sinks: Sink[]) {
    this.#source = source
    this.#sinks = sinks
  }

  /** Starts at the end of the source: what sshd wrote before is not relayed. */
  async start(): Promise<void> {
    const handle = await open(this.#source, 'r')
    try {
      this.#offset = (await handle.stat()).size
    } finally {
      await handle.close()
    }
    const tick = (): void => {
      void this.flush()
        .catch(() => {})
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, 20).unref()
        })
    }
    this.#timer = setTimeout(tick, 20).unref()
  }

  /** Relays everything sshd has written so far; polls never overlap. */
  flush(): Promise<void> {
    const read = this.#running.then(() => this.#read())
    // A failed read (the server's directory removed at cleanup) fails that flush only.
    this.#running = read.catch(() => {})
    return read
  }

  /** Stops polling; never throws, so that the cleanup hooks after it still run. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  async #read(): Promise<void> {
    const handle = await open(this.#source, 'r')
    let text = ''
    try {
      const buffer = Buffer.alloc(64 * 1024)
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset)
        if (bytesRead === 0) break
        this.#offset += bytesRead
        text += buffer.toString('utf8', 0, bytesRead)
      }
    } finally {
      await handle.close()
    }
    if (text === '') return
    const parts = (this.#partial + text).split('\n')
    this.#partial = parts.pop() ?? ''
    const lines = parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    if (lines.length === 0) return
    this.lines.push(...lines)
    for (const sink of this.#sinks) await sink(lines)
  }
}

export interface SyslogFileOptions {
  format: 'rfc3164' | 'rfc3339'
  /** The syslog tag, e.g. `sshd` or `sshd-session`. */
  tag: string
  pid?: number
  host?: string
}

/** An auth.log as rsyslog writes it; see the module comment. */
export class SyslogFileSink {
  readonly path: string
  readonly #options: SyslogFileOptions
  #rotations = 0

  constructor(path: string, options: SyslogFileOptions) {
    this.path = path
    this.#options = options
  }

  readonly write = (lines: readonly string[]): void => {
    const { tag, pid, host = 'testhost' } = this.#options
    const prefix = `${host} ${tag}${pid === undefined ? '' : `[${pid}]`}: `
    let text = ''
    for (const line of lines) text += `${this.#timestamp(new Date())} ${prefix}${line}\n`
    appendFileSync(this.path, text)
  }

  /** logrotate's default: the file is renamed; the next line creates a new one. */
  rotate(): string {
    const to = `${this.path}.${++this.#rotations}`
    renameSync(this.path, to)
    return to
  }

  /** logrotate's copytruncate: copied aside, then emptied in place (nothing written between). */
  copyTruncate(): string {
    const to = `${this.path}.${++this.#rotations}`
    copyFileSync(this.path, to)
    truncateSync(this.path, 0)
    return to
  }

  #timestamp(d: Date): string {
    if (this.#options.format === 'rfc3339') {
      // rsyslog's RSYSLOG_FileFormat: 2026-11-21T10:00:00.123456+00:00
      return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00')
    }
    // RSYSLOG_TraditionalFileFormat: `Nov  1 09:05:03`, the day padded to two characters.
    const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })
    const day = String(d.getUTCDate()).padStart(2, ' ')
    const time = d.toISOString().slice(11, 19)
    return `${month} ${day} ${time}`
  }
}
