/**
 * Log parsing throughput: sshd-exporter against mtail (Debian bookworm's 3.0.0~rc50), on the same
 * synthetic auth.log (bench/auth-log.ts), both checked against the log's expected counts.
 *
 * Ours (`measureLogParsing`) is the exporter's own path for a followed file, as
 * state/events-source.ts wires it: a FileFollower (sources/file-follow.ts: 64 KiB reads, lines
 * split on `\n` and decoded) whose onLine hands each line to an EventAccumulator built with
 * `untaggedIsSshd: true` (`addLine`: parseSyslogLine, isSshdProgname, parseSshdMessage,
 * addEvent). The follower is started before the file exists, so that the file, when it appears,
 * is new content read from its start; one poll then reads all of it. That poll is timed with
 * performance.now(): one thread (the main one; the reads go through libuv's pool), no process
 * start-up.
 *
 * mtail (`measureMtail`) runs bench/mtail/sshd.mtail with `--one_shot`: it compiles the program,
 * reads the file from its start, prints the metrics and exits. The whole run is timed (wall
 * clock, start-up and compilation included; the CLI also times a run on an empty file to show
 * that fixed cost), and its CPU time (user + sys) comes from `/usr/bin/time`. mtail is a Go
 * program and may use several cores; `oneCore` pins it to CPU 0 with `taskset -c 0` (Go then
 * sets GOMAXPROCS to 1), the figure to compare with ours.
 *
 * CLI: `node bench/log-parse.ts [lines=1000000] [runs=5]` writes the log into os.tmpdir(), runs
 * both, and prints JSON: the medians, the ratio, and whether the counts agree. It fails (an
 * uncaught error, exit code 1) when our counts differ from the log's expected ones.
 */
import { spawn } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import process from 'node:process'
import { EventAccumulator } from '../src/model/events.ts'
import { FileFollower } from '../src/sources/file-follow.ts'
import {
  AUTH_METHODS,
  type AuthMethod,
  EVENTS,
  type SshdEventName,
} from '../src/sources/sshd-log/events.ts'
import { eventKey, writeAuthLog, zeroCounts } from './auth-log.ts'
import { median } from './stats.ts'

export interface LogParsingResult {
  /** One figure per run: lines / seconds of the timed poll. */
  linesPerSecond: number[]
  median: number
  /** Lines the accumulator read (every line of the file). */
  lines: number
  /** eventKey → value, from the accumulator's snapshot (every event and method). */
  counts: Record<string, number>
  /** Per run: wall seconds of the poll, and the process's CPU seconds (user + sys) during it. */
  seconds: number[]
  cpuSeconds: number[]
}

export interface MtailResult {
  /** One figure per run: lines / wall seconds of the whole mtail run. */
  linesPerSecond: number[]
  median: number
  /** eventKey → value, from mtail's printed metrics (every event and method, zeros included). */
  counts: Record<string, number>
  /** Whether mtail was pinned to one CPU (taskset -c 0). */
  oneCore: boolean
  /** Per run: wall seconds, and CPU seconds (user + sys, all threads) when /usr/bin/time is there. */
  seconds: number[]
  cpuSeconds: number[]
  /** Peak resident set, KiB, per run (from /usr/bin/time). */
  maxRssKiB: number[]
}

export interface MtailOptions {
  /** Pin mtail to CPU 0 with taskset; default true (when taskset exists). */
  oneCore?: boolean
  /** The line count to divide by; default: the file's lines, counted here. */
  lines?: number
}

const MTAIL = '/usr/bin/mtail'
const TIME = '/usr/bin/time'
const TASKSET = '/usr/bin/taskset'
const PROGRAM = join(import.meta.dirname, 'mtail', 'sshd.mtail')
/** Longer than any benchmark: the follower polls only when told to. */
const NEVER_MS = 3_600_000

/**
 * Feeds every line of `path` through the exporter's followed-file path `runs` times (a fresh
 * follower and accumulator each time) and returns the throughput of each run and the counts.
 * Throws when a run does not read the whole file or two runs count differently.
 */
export async function measureLogParsing(path: string, runs: number): Promise<LogParsingResult> {
  const size = statSync(path).size
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-bench-'))
  const linesPerSecond: number[] = []
  const seconds: number[] = []
  const cpuSeconds: number[] = []
  let lines = 0
  let counts: Record<string, number> | undefined
  try {
    for (let run = 0; run < runs; run++) {
      const followed = join(dir, `auth-${run}.log`)
      // As state/events-source.ts followFile does.
      const accumulator = new EventAccumulator({ untaggedIsSshd: true })
      const follower = new FileFollower({
        path: followed,
        onLine: (line) => {
          accumulator.addLine(line)
        },
        pollIntervalMs: NEVER_MS,
      })
      follower.start()
      await follower.poll() // the path does not exist yet
      symlinkSync(resolve(path), followed)

      const cpu = process.cpuUsage()
      const start = performance.now()
      await follower.poll()
      const elapsed = (performance.now() - start) / 1000
      const used = process.cpuUsage(cpu)
      await follower.stop()

      const stats = follower.stats
      const snapshot = accumulator.snapshot()
      if (stats.bytesRead !== size || stats.linesDelivered !== snapshot.linesRead) {
        throw new Error(
          `run ${run}: read ${stats.bytesRead} of ${size} bytes, delivered ${stats.linesDelivered} lines, accumulator read ${snapshot.linesRead}`,
        )
      }
      const runCounts = zeroCounts()
      for (const c of snapshot.counts) runCounts[eventKey(c.event, c.method)] = c.value
      if (counts !== undefined && differences(counts, runCounts).length > 0) {
        throw new Error(`run ${run} counted differently from run 0`)
      }
      counts = runCounts
      lines = snapshot.linesRead
      seconds.push(elapsed)
      cpuSeconds.push((used.user + used.system) / 1e6)
      linesPerSecond.push(lines / elapsed)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return {
    linesPerSecond,
    median: median(linesPerSecond),
    lines,
    counts: counts ?? zeroCounts(),
    seconds,
    cpuSeconds,
  }
}

interface Exit {
  code: number | null
  stdout: string
  stderr: string
  seconds: number
}

function run(command: string, args: readonly string[]): Promise<Exit> {
  return new Promise((resolveRun, reject) => {
    const start = performance.now()
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let errBytes = 0
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => {
      // mtail's own log; its head and tail are enough to say what went wrong.
      if (errBytes < 1 << 20) err.push(b)
      errBytes += b.length
    })
    child.on('error', reject)
    child.on('close', (code) => {
      resolveRun({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        seconds: (performance.now() - start) / 1000,
      })
    })
  })
}

const METRIC_EVENT = new Map<string, SshdEventName>(EVENTS.map((e) => [`sshd_${e}_total`, e]))
const METHODS = new Set<string>(AUTH_METHODS)

/** mtail's Prometheus text (`name{label="v",prog="sshd.mtail"} 3`) to eventKey → value. */
export function parseMtailMetrics(text: string): Record<string, number> {
  const counts = zeroCounts()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`mtail printed a line that is not a sample: ${line}`)
    const event = METRIC_EVENT.get(m[1]!)
    if (event === undefined) continue
    const method = /(?:^|,)method="([^"]*)"/.exec(m[2] ?? '')?.[1]
    if (method !== undefined && !METHODS.has(method)) {
      throw new Error(`mtail counted an unknown method: ${line}`)
    }
    const key = eventKey(event, method as AuthMethod | undefined)
    counts[key] = (counts[key] ?? 0) + Number(m[3])
  }
  return counts
}

function countLines(path: string): number {
  const data = readFileSync(path)
  let n = 0
  for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) n++
  return n
}

/**
 * Runs mtail `--one_shot` with bench/mtail/sshd.mtail on `path` `runs` times and returns the
 * throughput of each whole run (wall clock) and the counts mtail printed. Throws when mtail is
 * missing, fails, or two runs count differently.
 */
export async function measureMtail(
  path: string,
  runs: number,
  options: MtailOptions = {},
): Promise<MtailResult> {
  if (!existsSync(MTAIL)) {
    throw new Error(`${MTAIL} is missing: apt-get install -y mtail (Debian bookworm's 3.0.0~rc50)`)
  }
  const oneCore = (options.oneCore ?? true) && existsSync(TASKSET)
  const timed = existsSync(TIME)
  const lines = options.lines ?? countLines(path)
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-mtail-'))
  const progs = join(dir, 'progs')
  const timeFile = join(dir, 'time')
  const linesPerSecond: number[] = []
  const seconds: number[] = []
  const cpuSeconds: number[] = []
  const maxRssKiB: number[] = []
  let counts: Record<string, number> | undefined
  try {
    // A directory with nothing but the program: mtail loads every *.mtail in it.
    mkdirSync(progs)
    copyFileSync(PROGRAM, join(progs, 'sshd.mtail'))
    const mtailArgs = [
      '--one_shot',
      '--one_shot_format=prometheus',
      '--progs',
      progs,
      '--logs',
      resolve(path),
      '--logtostderr',
      // one_shot still opens its HTTP listener: on a free port of the loopback only.
      '--address=127.0.0.1',
      '--port=0',
    ]
    const pin = oneCore ? [TASKSET, '-c', '0'] : []
    const [command, ...args] = timed
      ? [TIME, '-f', '%e %U %S %M', '-o', timeFile, ...pin, MTAIL, ...mtailArgs]
      : [...pin, MTAIL, ...mtailArgs]
    for (let i = 0; i < runs; i++) {
      const exit = await run(command!, args)
      if (exit.code !== 0 || /compile failed|Compile errors/i.test(exit.stderr)) {
        throw new Error(`mtail exited with ${exit.code}:\n${exit.stderr.slice(-4000)}`)
      }
      const runCounts = parseMtailMetrics(exit.stdout)
      if (counts !== undefined && differences(counts, runCounts).length > 0) {
        throw new Error(`mtail run ${i} counted differently from run 0`)
      }
      counts = runCounts
      seconds.push(exit.seconds)
      linesPerSecond.push(lines / exit.seconds)
      if (timed) {
        const [, user, sys, rss] = readFileSync(timeFile, 'utf8')
          .trim()
          .split('\n')
          .at(-1)!
          .split(' ')
        cpuSeconds.push(Number(user) + Number(sys))
        maxRssKiB.push(Number(rss))
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return {
    linesPerSecond,
    median: median(linesPerSecond),
    counts: counts ?? zeroCounts(),
    oneCore,
    seconds,
    cpuSeconds,
    maxRssKiB,
  }
}

export interface Difference {
  key: string
  a: number
  b: number
}

/** Keys whose values differ (a missing key counts as 0). */
export function differences(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Difference[] {
  const out: Difference[] = []
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key] ?? 0
    const y = b[key] ?? 0
    if (x !== y) out.push({ key, a: x, b: y })
  }
  return out
}

if (import.meta.main) {
  const [linesArg, runsArg] = process.argv.slice(2)
  const lines = Number(linesArg ?? 1_000_000)
  const runs = Number(runsArg ?? 5)
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-auth-log-'))
  try {
    const file = join(dir, 'auth.log')
    const log = writeAuthLog(file, lines)
    const ours = await measureLogParsing(file, runs)
    const oursVsExpected = differences(log.expected, ours.counts)
    if (oursVsExpected.length > 0) {
      throw new Error(
        `sshd-exporter's counts differ from the log's expected counts (key: expected, ours):\n${oursVsExpected
          .map((d) => `  ${d.key}: ${d.a}, ${d.b}`)
          .join('\n')}`,
      )
    }
    const empty = join(dir, 'empty.log')
    writeAuthLog(empty, 0)
    const startup = await measureMtail(empty, runs, { oneCore: true, lines: 0 })
    const mtailOne = await measureMtail(file, runs, { oneCore: true, lines: log.lines })
    const mtailAll = await measureMtail(file, runs, { oneCore: false, lines: log.lines })
    const mtailVsOurs = differences(ours.counts, mtailOne.counts)
    const round = (x: number): number => Math.round(x)
    const ratio = ours.median / mtailOne.median
    process.stdout.write(
      `${JSON.stringify(
        {
          lines: log.lines,
          bytes: log.bytes,
          runs,
          ours: {
            medianLinesPerSecond: round(ours.median),
            linesPerSecond: ours.linesPerSecond.map(round),
            seconds: ours.seconds,
            cpuSeconds: ours.cpuSeconds,
          },
          mtail: {
            oneCore: {
              pinned: mtailOne.oneCore,
              medianLinesPerSecond: round(mtailOne.median),
              linesPerSecond: mtailOne.linesPerSecond.map(round),
              seconds: mtailOne.seconds,
              cpuSeconds: mtailOne.cpuSeconds,
              maxRssKiB: mtailOne.maxRssKiB,
            },
            allCores: {
              medianLinesPerSecond: round(mtailAll.median),
              linesPerSecond: mtailAll.linesPerSecond.map(round),
              seconds: mtailAll.seconds,
              cpuSeconds: mtailAll.cpuSeconds,
            },
            emptyFileSeconds: median(startup.seconds),
          },
          ratio: Math.round(ratio * 100) / 100,
          ratioAllCores: Math.round((ours.median / mtailAll.median) * 100) / 100,
          counts: {
            oursMatchExpected: true,
            mtailMatchesOurs: mtailVsOurs.length === 0,
            differences: mtailVsOurs.map((d) => ({ key: d.key, ours: d.a, mtail: d.b })),
            expected: log.expected,
          },
          target: {
            linesPerSecond: 500_000,
            met: ours.median > 500_000,
            fasterThanMtail: ratio > 1,
          },
        },
        null,
        2,
      )}\n`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
