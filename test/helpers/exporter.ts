/**
 * Runs the real exporter (node src/cli.ts) as a child process on a free
 * loopback port, reads the port from its start-up log line, and scrapes it.
 * Stopped with SIGTERM after the test, whatever happened.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')

export interface RunningExporter {
  url: string
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[]
  child: ChildProcess
  scrape(path?: string): Promise<string>
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>
}

/** A command prefix that runs the exporter as nobody (uid and gid 65534, no groups). */
export const AS_NOBODY: readonly string[] = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--',
]

/**
 * `prefix` runs the exporter through another command, e.g. `AS_NOBODY` to drop root.
 */
export async function startExporter(
  args: string[],
  t?: TestContext,
  env: NodeJS.ProcessEnv = process.env,
  prefix: readonly string[] = [],
): Promise<RunningExporter> {
  const argv = [process.execPath, CLI, '--web.listen-address=127.0.0.1:0', ...args]
  const [command, ...rest] = [...prefix, ...argv]
  const child = spawn(command!, rest, { stdio: ['ignore', 'ignore', 'pipe'], env })
  const logs: Record<string, unknown>[] = []
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  let buffered = ''
  const address = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('exporter did not start within 10s')), 10_000)
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      buffered += chunk
      let nl = buffered.indexOf('\n')
      while (nl >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        nl = buffered.indexOf('\n')
        let record: Record<string, unknown>
        try {
          record = JSON.parse(line) as Record<string, unknown>
        } catch {
          record = { raw: line }
        }
        logs.push(record)
        if (record.msg === 'sshd_exporter listening') {
          clearTimeout(timer)
          resolve(String(record.address))
        }
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`exporter exited with ${code} before listening: ${JSON.stringify(logs)}`))
    })
  })
  let stopped: Promise<number | null> | null = null
  const stop = () => {
    if (stopped === null) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      stopped = exited
    }
    return stopped
  }
  t?.after(stop)
  const url = `http://${await address}`
  return {
    url,
    logs,
    child,
    stop,
    async scrape(path = '/metrics') {
      const res = await fetch(`${url}${path}`)
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`)
      return res.text()
    },
  }
}

/** The value of one series in an exposition, or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return undefined
}

/** Every series of one metric name, `{labels}` -> value. */
export function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== ' ' && rest[0] !== '{') continue
    const space = rest.lastIndexOf(' ')
    out.set(rest.slice(0, space), Number(rest.slice(space + 1)))
  }
  return out
}

/**
 * Scrapes until `ok` holds for one whole scrape (20 s at most) and returns that
 * scrape; a timeout names `what` and shows the last scrape.
 */
export async function scrapeUntil(
  exporter: RunningExporter,
  what: string,
  ok: (text: string) => boolean,
): Promise<string> {
  const deadline = Date.now() + 20_000
  let last = ''
  for (;;) {
    last = await exporter.scrape()
    if (ok(last)) return last
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last scrape:\n${last}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
