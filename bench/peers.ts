/**
 * The Go peers on the same synthetic procfs tree as the exporter (bench/procfs-builder.ts):
 *
 * - process-exporter (Debian's prometheus-process-exporter), with a config that puts every
 *   process in a group named after its comm, so that it reads every process as it would on a
 *   host (stat, status, io, limits, cgroup, wchan, smaps_rollup, fd/ and each task/), with its
 *   defaults otherwise (-threads, -gather-smaps, -children);
 * - node_exporter (Debian's prometheus-node-exporter) with only its processes collector, which
 *   reads every <pid>/stat and task/ and sys/kernel/{pid_max,threads-max}.
 *
 * measurePeer starts one on a free loopback port, waits until it answers, scrapes /metrics
 * `warmup` times and then `scrapes` times in a row, each timed from the request to the last byte
 * of the body, and checks that the result is a real one: process-exporter's
 * namedprocess_namegroup_num_procs summed, or node_exporter's node_processes_pids and
 * node_processes_threads (one thread a process in the tree), equal to the tree's processes. It
 * reads the peer's peak RSS (VmHWM) and CPU time from the real /proc before stopping it.
 *
 * Both install with scripts/install-bench-deps.sh.
 *
 * CLI: node bench/peers.ts <procfs root> [scrapes] measures both and prints their figures as JSON.
 */
import { freePort } from '../test/helpers/free-port.ts'
import { median, percentile } from './stats.ts'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type PeerKind = 'process-exporter' | 'node-exporter'

export interface PeerFigures {
  kind: PeerKind
  medianMs: number
  p99Ms: number
  /** Timed scrapes (warm-up left out). */
  scrapes: number
  /** The peer's VmHWM after the scrapes, in MiB. */
  peakRssMb: number
  /** Whether every timed scrape's output counted the tree's processes. */
  ok: boolean
  note?: string
  /** From the peer's start to its first answer (process-exporter reads the whole tree first). */
  startMs: number
  /** CPU time (user + system) the peer spent per timed scrape. */
  cpuMsPerScrape: number
  /** The tree's processes (<pid> directories) and what the peer reported in its last scrape. */
  processes: number
  reported: number
}

export interface MeasureOptions {
  scrapes: number
  warmup: number
  /** Longest wait for the peer to answer after its start. Default 10 minutes. */
  startTimeoutMs?: number
  /** Longest wait for one scrape. Default 5 minutes. */
  scrapeTimeoutMs?: number
  /**
   * The peer must report exactly the processes counted before it started, and as many threads
   * (a synthetic tree: nothing else changes it, one thread each). False for a live /proc, where
   * processes come and go, the peer is one of them, and they have threads: within 10%, and at
   * least as many threads as processes. Default true.
   */
  exact?: boolean
}

const BINARIES: Record<PeerKind, string> = {
  'process-exporter': 'prometheus-process-exporter',
  'node-exporter': 'prometheus-node-exporter',
}

/**
 * process-exporter's config: one group per comm, every process matched. `.*` rather than `.+`:
 * kernel threads have an empty cmdline, which `.+` would leave out of every group.
 */
const PROCESS_EXPORTER_CONFIG = `process_names:
  - name: "{{.Comm}}"
    cmdline:
      - '.*'
`

/** The <pid> directories under a procfs root. */
export function countProcesses(root: string): number {
  let n = 0
  for (const name of readdirSync(root)) {
    const c = name.charCodeAt(0)
    if (c >= 48 && c <= 57) n++
  }
  return n
}

function args(kind: PeerKind, root: string, port: number, dir: string): string[] {
  const listen = `127.0.0.1:${port}`
  if (kind === 'process-exporter') {
    const config = join(dir, 'process-exporter.yml')
    writeFileSync(config, PROCESS_EXPORTER_CONFIG)
    return ['-procfs', root, '-config.path', config, '-web.listen-address', listen]
  }
  // An empty sysfs: the processes collector reads none of it.
  return [
    `--path.procfs=${root}`,
    `--path.sysfs=${dir}`,
    '--collector.disable-defaults',
    '--collector.processes',
    `--web.listen-address=${listen}`,
  ]
}

/** The sum of a metric's samples in an exposition text (each value is after the last space). */
export function sumMetric(text: string, name: string): number | null {
  let sum: number | null = null
  let at = 0
  for (;;) {
    at = text.indexOf(`\n${name}`, at)
    if (at < 0) return sum
    const end = text.indexOf('\n', at + 1)
    const line = text.slice(at + 1, end < 0 ? text.length : end)
    at = at + 1
    const next = line.charAt(name.length)
    if (next !== '{' && next !== ' ') continue // a longer name
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1))
  }
}

/** What a scrape's output says of the process count, and why it is wrong when it is. */
function check(
  kind: PeerKind,
  body: string,
  processes: number,
  exact = true,
): { reported: number; problem?: string } {
  const text = `\n${body}`
  const near = (n: number) => (exact ? n === processes : Math.abs(n - processes) <= processes / 10)
  if (kind === 'process-exporter') {
    const reported = sumMetric(text, 'namedprocess_namegroup_num_procs') ?? 0
    const errors = sumMetric(text, 'namedprocess_scrape_errors') ?? 0
    if (!near(reported)) {
      return { reported, problem: `num_procs sums to ${reported}, not ${processes}` }
    }
    if (errors > 0) return { reported, problem: `namedprocess_scrape_errors ${errors}` }
    return { reported }
  }
  const pids = sumMetric(text, 'node_processes_pids')
  const threads = sumMetric(text, 'node_processes_threads')
  const threadsOk = exact ? threads === processes : threads !== null && threads >= (pids ?? 0)
  if (pids === null || !near(pids) || !threadsOk) {
    return {
      reported: pids ?? 0,
      problem: `node_processes_pids ${pids} and node_processes_threads ${threads}, not ${processes}`,
    }
  }
  return { reported: pids }
}

/** VmHWM (kB) and utime + stime (ms) of a live process of this machine. */
function usage(pid: number): { hwmKb: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of proc(5), 11 and 12 after comm; in clock ticks (100 Hz).
  const ticks = Number(fields[11]) + Number(fields[12])
  return { hwmKb: hwm === null ? 0 : Number(hwm[1]), cpuMs: ticks * 10 }
}

async function scrape(url: string, timeoutMs: number): Promise<{ ms: number; body: string }> {
  const started = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  const body = await res.text()
  const ms = performance.now() - started
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`)
  return { ms, body }
}

async function waitUntilAnswering(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the peer exited (${child.exitCode ?? child.signalCode}): ${log()}`)
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      return
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`no answer after ${timeoutMs} ms: ${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Ends a child: SIGTERM, SIGKILL 5 s later if it is still there. */
export async function stop(child: ChildProcess): Promise<void> {
  // Never started (spawn failed), or gone already.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

const round = (n: number): number => Math.round(n * 10) / 10

/** Starts one peer on the tree, times its scrapes, checks them, and stops it. */
export async function measurePeer(
  kind: PeerKind,
  root: string,
  opts: MeasureOptions,
): Promise<PeerFigures> {
  if (!Number.isInteger(opts.scrapes) || opts.scrapes < 1) throw new Error('scrapes must be >= 1')
  const processes = countProcesses(root)
  const dir = mkdtempSync(join(tmpdir(), `sshd-exporter-${kind}-`))
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  let output = ''
  const started = performance.now()
  const child = spawn(BINARIES[kind], args(kind, root, port, dir), {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new Error(`${BINARIES[kind]} not found: run scripts/install-bench-deps.sh`)
          : err,
      )
    })
  })
  spawnError.catch(() => {}) // raced below; never left unhandled
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  try {
    await Promise.race([
      waitUntilAnswering(`${base}/`, child, opts.startTimeoutMs ?? 600_000, () =>
        output.trim().split('\n').slice(-3).join(' | '),
      ),
      spawnError,
    ])
    const startMs = performance.now() - started
    const timeout = opts.scrapeTimeoutMs ?? 300_000
    for (let i = 0; i < opts.warmup; i++) await scrape(`${base}/metrics`, timeout)

    const before = usage(child.pid!)
    const times: number[] = []
    const problems = new Set<string>()
    let reported = 0
    for (let i = 0; i < opts.scrapes; i++) {
      const { ms, body } = await scrape(`${base}/metrics`, timeout)
      times.push(ms)
      const result = check(kind, body, processes, opts.exact ?? true)
      reported = result.reported
      if (result.problem !== undefined) problems.add(result.problem)
    }
    const after = usage(child.pid!)
    times.sort((a, b) => a - b)
    const figures: PeerFigures = {
      kind,
      medianMs: round(median(times)),
      p99Ms: round(percentile(times, 99)),
      scrapes: times.length,
      peakRssMb: round(after.hwmKb / 1024),
      ok: problems.size === 0,
      startMs: Math.round(startMs),
      cpuMsPerScrape: round((after.cpuMs - before.cpuMs) / times.length),
      processes,
      reported,
    }
    if (problems.size > 0) figures.note = [...problems].join('; ')
    return figures
  } finally {
    await stop(child)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [root, scrapesText = '10'] = argv
  const scrapes = Number(scrapesText)
  if (root === undefined || argv.length > 2 || !Number.isInteger(scrapes) || scrapes < 1) {
    process.stderr.write('usage: node bench/peers.ts <procfs root> [scrapes]\n')
    process.exitCode = 2
    return
  }
  const figures: PeerFigures[] = []
  for (const kind of ['process-exporter', 'node-exporter'] as const) {
    figures.push(await measurePeer(kind, root, { scrapes, warmup: 1 }))
  }
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`)
}

// import.meta.main needs Node 24.2; the engines field allows 22.18.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2))
