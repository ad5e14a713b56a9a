/**
 * sshd's lines from the systemd journal: one long-lived `journalctl --follow --output=json`
 * child, restarted with back-off after the entry it last delivered (its cursor), never run per
 * scrape. What journalctl does with identifiers, --follow, --merge, cursors and JSON fields
 * (systemd 252, checked on real journal files by the tests): docs/how-it-counts.md, "Following
 * the log".
 */
import { execa } from 'execa'
import type { LoggerLike } from '../logger.ts'
import type { LogRecord, LogSource } from './log-record.ts'
import { SSHD_PROGNAMES } from './proctitle.ts'

/** Longest JSON line handled; a longer one is counted as not understood and skipped unread. */
export const MAX_LINE_BYTES = 64 * 1024

/** The restart delay: `initialMs`, doubled after each failed run up to `maxMs`. */
export interface Backoff {
  initialMs: number
  maxMs: number
}

export const DEFAULT_BACKOFF: Readonly<Backoff> = { initialMs: 1000, maxMs: 30_000 }

export interface JournalFollowerOptions {
  /** A journal directory (`--collector.events.journal-directory`); the system journal when absent. */
  directory?: string | undefined
  /** The journalctl binary (default `journalctl`, found on PATH). */
  journalctl?: string | undefined
  /** Called once per sshd entry, in the journal's order. */
  onRecord: (record: LogRecord) => void
  logger: LoggerLike
  /** Restart delays (default 1 s doubling to 30 s). A run that lasted `maxMs` resets the delay. */
  backoff?: Backoff | undefined
  /** How long journalctl must run without exiting before `up` turns true (default 1 s). */
  settleMs?: number | undefined
}

/** One JSON line of `journalctl --output=json`, understood. */
export interface JournalEntry {
  /** `__CURSOR`: where to restart after this entry. */
  readonly cursor: string | undefined
  /** The record, or null when the entry has no usable MESSAGE. */
  readonly record: LogRecord | null
}

const DECIMAL = /^[0-9]{1,10}$/
const OUTPUT_FIELDS = '--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_PID,SYSLOG_PID'
/**
 * One `--identifier=` match a name in SSHD_PROGNAMES (`sshd-session.pam` too): journald takes
 * SYSLOG_IDENTIFIER whole from the tag before `[pid]:`.
 */
const IDENTIFIER_ARGS = SSHD_PROGNAMES.map((name) => `--identifier=${name}`)
const CURSOR_ERROR = /cursor/i
const STDERR_TAIL_CHARS = 2048

function isByte(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255
}

/**
 * A journal field's value as text: a string as is; an array of bytes decoded as UTF-8 (invalid
 * sequences become U+FFFD); an array of values (the field was given more than once) by its first.
 * Undefined for null (a field over 4096 bytes) and anything else.
 */
export function journalFieldText(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (!Array.isArray(value) || value.length === 0) return undefined
  const first: unknown = value[0]
  if (typeof first !== 'number') return journalFieldText(first)
  if (!value.every(isByte)) return undefined
  return Buffer.from(value).toString('utf8')
}

function fieldPid(value: unknown): number | undefined {
  const text = journalFieldText(value)
  if (text === undefined || !DECIMAL.test(text)) return undefined
  const pid = Number(text)
  return pid > 0 ? pid : undefined
}

/**
 * One line of `journalctl --output=json`; null when it is not a JSON object. The pid is `_PID`
 * (journald's own, trusted, in the pid namespace the exporter reads /proc in) before
 * `SYSLOG_PID` (the one in sshd's syslog tag, in sshd's namespace).
 */
export function parseJournalEntry(line: string): JournalEntry | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
  const fields = value as Record<string, unknown>
  const cursor = typeof fields.__CURSOR === 'string' ? fields.__CURSOR : undefined
  const message = journalFieldText(fields.MESSAGE)
  if (message === undefined) return { cursor, record: null }
  return {
    cursor,
    record: {
      identifier: journalFieldText(fields.SYSLOG_IDENTIFIER),
      pid: fieldPid(fields._PID) ?? fieldPid(fields.SYSLOG_PID),
      message,
    },
  }
}

/**
 * Splits a byte stream into lines (without the `\n`), holding at most `maxBytes` of an
 * unfinished line: a longer line is reported to `onOversize` once and its bytes dropped up to
 * the next newline. A last line without a newline is never handed on.
 */
export class LineSplitter {
  readonly #maxBytes: number
  readonly #onLine: (line: Buffer) => void
  readonly #onOversize: () => void
  #parts: Buffer[] = []
  #length = 0
  #discarding = false

  constructor(maxBytes: number, onLine: (line: Buffer) => void, onOversize: () => void) {
    this.#maxBytes = maxBytes
    this.#onLine = onLine
    this.#onOversize = onOversize
  }

  /** Bytes held of the unfinished line (never more than maxBytes). */
  get pending(): number {
    return this.#length
  }

  push(chunk: Buffer): void {
    let start = 0
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      if (this.#discarding) {
        this.#discarding = false
      } else if (this.#length + nl - start > this.#maxBytes) {
        this.#onOversize()
      } else if (this.#length === 0) {
        this.#onLine(chunk.subarray(start, nl))
      } else {
        this.#parts.push(chunk.subarray(start, nl))
        this.#onLine(Buffer.concat(this.#parts, this.#length + nl - start))
      }
      this.#parts = []
      this.#length = 0
      start = nl + 1
    }
    const rest = chunk.length - start
    if (rest === 0 || this.#discarding) return
    if (this.#length + rest > this.#maxBytes) {
      this.#parts = []
      this.#length = 0
      this.#discarding = true
      this.#onOversize()
    } else {
      this.#parts.push(chunk.subarray(start))
      this.#length += rest
    }
  }
}

/** Output is streamed, not kept; an exit, even by a signal, resolves rather than rejects. */
function spawnJournalctl(file: string, args: readonly string[]) {
  return execa(file, args, { stdin: 'ignore', buffer: false, reject: false })
}

/** One journalctl child and what it did. */
interface Run {
  readonly child: ReturnType<typeof spawnJournalctl>
  readonly startedAt: number
  /** The cursor it was started after, if any. */
  readonly afterCursor: string | undefined
  delivered: boolean
  stderrTail: string
  settleTimer: NodeJS.Timeout | undefined
}

/**
 * Follows sshd's entries in the journal. `start()` begins at the end (entries already there are
 * not replayed); a journalctl that exits is restarted after the last entry delivered, so nothing
 * is lost or repeated, unless journalctl rejects that cursor: then it starts at the end again
 * and says so.
 */
export class JournalFollower implements LogSource {
  readonly kind = 'journal' as const
  readonly #directory: string | undefined
  readonly #journalctl: string
  readonly #onRecord: (record: LogRecord) => void
  readonly #logger: LoggerLike
  readonly #backoff: Backoff
  readonly #settleMs: number
  #run: Run | undefined
  #exited: Promise<void> | undefined
  #restartTimer: NodeJS.Timeout | undefined
  #delayMs: number
  #cursor: string | undefined
  #started = false
  #stopping = false
  #up = false
  /** A failure was logged at warn; later ones go to debug until a run lasts backoff.maxMs. */
  #warned = false
  #delivered = 0
  #restarts = 0
  #unparsed = 0
  #callbackFailed = false

  constructor(options: JournalFollowerOptions) {
    this.#directory = options.directory
    this.#journalctl = options.journalctl ?? 'journalctl'
    this.#onRecord = options.onRecord
    this.#logger = options.logger
    this.#backoff = { ...(options.backoff ?? DEFAULT_BACKOFF) }
    this.#settleMs = options.settleMs ?? 1000
    this.#delayMs = this.#backoff.initialMs
  }

  /** True while journalctl has been running for settleMs (or has delivered an entry). */
  get up(): boolean {
    return this.#up
  }

  /** Records handed to onRecord. */
  get delivered(): number {
    return this.#delivered
  }

  /** journalctl started again after it exited. */
  get restarts(): number {
    return this.#restarts
  }

  /** Lines that were not JSON, too long, or had no usable MESSAGE. */
  get unparsed(): number {
    return this.#unparsed
  }

  /** The journalctl arguments for a start after `cursor`, or at the end when undefined. */
  journalctlArgs(cursor: string | undefined): string[] {
    const args = ['--follow', '--output=json', OUTPUT_FIELDS, '--no-pager', '--quiet']
    if (this.#directory !== undefined) args.push(`--directory=${this.#directory}`, '--merge')
    if (cursor === undefined) args.push('--lines=0')
    else args.push(`--after-cursor=${cursor}`, '--lines=all')
    args.push(...IDENTIFIER_ARGS)
    return args
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#spawn()
  }

  /**
   * Ends journalctl (SIGTERM; execa sends SIGKILL 5 s later if needed) and waits for it. Nothing
   * is restarted afterwards, and the follower cannot be started again.
   */
  async stop(): Promise<void> {
    this.#stopping = true
    clearTimeout(this.#restartTimer)
    this.#restartTimer = undefined
    const run = this.#run
    if (run !== undefined) {
      clearTimeout(run.settleTimer)
      run.child.kill('SIGTERM')
    }
    this.#up = false
    await this.#exited
  }

  #spawn(): void {
    this.#restartTimer = undefined
    if (this.#stopping) return
    const afterCursor = this.#cursor
    const child = spawnJournalctl(this.#journalctl, this.journalctlArgs(afterCursor))
    const run: Run = {
      child,
      startedAt: performance.now(),
      afterCursor,
      delivered: false,
      stderrTail: '',
      settleTimer: undefined,
    }
    this.#run = run
    run.settleTimer = setTimeout(() => {
      run.settleTimer = undefined
      if (this.#run === run && !this.#stopping) this.#settled(run)
    }, this.#settleMs)
    const splitter = new LineSplitter(
      MAX_LINE_BYTES,
      (line) => this.#line(run, line),
      () => this.#unparsed++,
    )
    child.stdout.on('data', (chunk: Buffer) => splitter.push(chunk))
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (text: string) => {
      run.stderrTail = (run.stderrTail + text).slice(-STDERR_TAIL_CHARS)
      this.#logger.debug({ stderr: text.trimEnd() }, 'journalctl wrote to stderr')
    })
    this.#exited = child.then((result) => this.#exit(run, result))
  }

  #settled(run: Run): void {
    if (this.#up) return
    this.#up = true
    if (this.#restarts > 0) {
      this.#logger.debug({ restarts: this.#restarts, after: run.afterCursor }, 'journalctl running')
    }
  }

  #line(run: Run, line: Buffer): void {
    const entry = parseJournalEntry(line.toString('utf8'))
    if (entry === null) {
      this.#unparsed++
      return
    }
    if (entry.cursor !== undefined) this.#cursor = entry.cursor
    if (entry.record === null) {
      this.#unparsed++
      return
    }
    if (!run.delivered) {
      run.delivered = true
      this.#settled(run)
    }
    this.#delivered++
    try {
      this.#onRecord(entry.record)
    } catch (err) {
      if (!this.#callbackFailed) {
        this.#callbackFailed = true
        this.#logger.error({ err }, 'a journal record handler threw; records are still delivered')
      }
    }
  }

  #exit(
    run: Run,
    result: {
      exitCode?: number | undefined
      signal?: string | undefined
      shortMessage?: string | undefined
    },
  ): void {
    clearTimeout(run.settleTimer)
    this.#up = false
    if (this.#stopping) return
    const lastLine = run.stderrTail.trimEnd().split('\n').at(-1) ?? ''
    const lasted = performance.now() - run.startedAt
    if (lasted >= this.#backoff.maxMs) {
      this.#delayMs = this.#backoff.initialMs
      this.#warned = false
    }
    const delayMs = this.#delayMs
    this.#delayMs = Math.min(this.#delayMs * 2, this.#backoff.maxMs)
    const details = {
      exitCode: result.exitCode,
      signal: result.signal,
      stderr: lastLine || (result.exitCode === undefined ? result.shortMessage : undefined),
      restartInMs: delayMs,
    }
    const rejected =
      run.afterCursor !== undefined &&
      !run.delivered &&
      result.exitCode !== undefined &&
      result.exitCode !== 0 &&
      CURSOR_ERROR.test(lastLine)
    if (rejected) {
      // A cursor taken since (from an entry without MESSAGE) is still worth trying.
      if (this.#cursor === run.afterCursor) this.#cursor = undefined
      this.#logger.warn(
        { ...details, cursor: run.afterCursor },
        'journalctl rejected the cursor of the last entry read; following from the end, so entries written meanwhile are not counted',
      )
    } else if (!this.#warned) {
      this.#warned = true
      this.#logger.warn(details, 'journalctl exited; restarting it with back-off')
    } else {
      this.#logger.debug(details, 'journalctl exited again')
    }
    this.#restartTimer = setTimeout(() => {
      this.#restarts++
      this.#spawn()
    }, delayMs)
  }
}

export interface JournalProbeOptions {
  /** As for JournalFollower: a directory, or the system journal when absent. */
  directory?: string | undefined
  journalctl?: string | undefined
  timeoutMs?: number | undefined
}

/**
 * Whether a journal is there to follow, for `--collector.events.source=auto`: runs
 * `journalctl [--directory=<dir>] --lines=0 --no-pager` once (not `--quiet`, which hides the
 * messages looked for) and resolves true, or the reason it is not usable:
 * - journalctl cannot be run, or exits non-zero (a missing directory: `Failed to open <dir>: No
 *   such file or directory`; every file unreadable: `No journal files were opened due to
 *   insufficient permissions.`): its last line on stderr;
 * - it prints `No journal files were found.` (no /var/log/journal nor /run/log/journal files, an
 *   empty directory), though it exits 0;
 * - it prints its hint that messages from other users and the system are not shown: a user not
 *   in `systemd-journal` or `adm` sees only its own journal, where sshd does not log.
 * Never rejects.
 */
export async function journalAvailable(options: JournalProbeOptions = {}): Promise<true | string> {
  const journalctl = options.journalctl ?? 'journalctl'
  const args = ['--lines=0', '--no-pager']
  if (options.directory !== undefined) args.unshift(`--directory=${options.directory}`)
  const r = await execa(journalctl, args, {
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs ?? 5000,
    maxBuffer: 64 * 1024,
  })
  const stderr = r.stderr.trim()
  const lastLine = stderr.split('\n').at(-1) ?? ''
  if (r.timedOut) return `${journalctl} did not answer within ${options.timeoutMs ?? 5000} ms`
  if (r.exitCode === undefined) return `cannot run ${journalctl}: ${r.shortMessage ?? 'failed'}`
  if (r.exitCode !== 0) return lastLine || `${journalctl} exited with code ${r.exitCode}`
  if (stderr.includes('No journal files were found')) return 'No journal files were found.'
  if (stderr.includes('not seeing messages from other users and the system')) {
    return 'not allowed to read the system journal (a member of systemd-journal or adm is)'
  }
  return true
}
