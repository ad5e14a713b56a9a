/**
 * The two C floors the exporter's process scan is compared to
 * (bench/floors/*.c; each file's head says what it does and why it is a floor):
 *
 * - full-scan: every <pid>/stat under the procfs root, plus the sshd titles;
 *   what any process exporter must read;
 * - tree-walk: only the reads of the exporter's walk down from the listener
 *   (per-connection sshd: from pid 1) through task/<pid>/children.
 *
 * Both include floors/procread.h (the procfs reading, parsing and timing they
 * share), which gcc finds next to them. buildFloors compiles them with gcc -O2;
 * runFloor runs one and reduces its per-run times, the first run being a
 * warm-up left out of the figures.
 *
 * CLI: node bench/floors.ts <procfs root> [runs] builds both into a temporary
 * directory, runs them (tree-walk finding the listeners itself) and prints
 * their figures as JSON.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, percentile } from './stats.ts'

export interface FloorFigures {
  kind: 'full-scan' | 'tree-walk'
  medianMs: number
  p99Ms: number
  runs: number
  processes: number
  sshd: number
  sessions: number
  connections: number
}

/**
 * full-scan.c's twin in Node (plain JavaScript, one run a process): bench/sessions.ts times it
 * from spawn to exit as the floor of a one-shot read of the host on Node.
 */
export const NODE_FULL_SCAN = fileURLToPath(new URL('./floors/full-scan.mjs', import.meta.url))

const SOURCES = {
  fullScan: fileURLToPath(new URL('./floors/full-scan.c', import.meta.url)),
  treeWalk: fileURLToPath(new URL('./floors/tree-walk.c', import.meta.url)),
}

/** Compiles both floors into outDir (created if missing); returns the binaries' paths. */
export function buildFloors(outDir: string): { fullScan: string; treeWalk: string } {
  mkdirSync(outDir, { recursive: true })
  const fullScan = join(outDir, 'full-scan')
  const treeWalk = join(outDir, 'tree-walk')
  compile(SOURCES.fullScan, fullScan)
  compile(SOURCES.treeWalk, treeWalk)
  return { fullScan, treeWalk }
}

function compile(source: string, binary: string): void {
  const gcc = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', binary, source], {
    encoding: 'utf8',
  })
  if (gcc.error !== undefined) {
    if ((gcc.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'gcc not found: the C floors need it; install it with scripts/install-bench-deps.sh',
      )
    }
    throw gcc.error
  }
  if (gcc.status !== 0) {
    throw new Error(`gcc failed on ${source} (exit ${gcc.status ?? gcc.signal}):\n${gcc.stderr}`)
  }
}

interface FloorOutput {
  processes: number
  sshd: number
  sessions: number
  connections: number
  runs_ms: number[]
}

function isFloorOutput(v: unknown): v is FloorOutput {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  return (
    ['processes', 'sshd', 'sessions', 'connections'].every((k) => Number.isInteger(o[k])) &&
    Array.isArray(o.runs_ms) &&
    o.runs_ms.every((x) => typeof x === 'number')
  )
}

/**
 * Runs one floor `runs` times on `root` (plus one warm-up run, dropped). For
 * tree-walk, `listenerPids` names the listeners (an empty list: none); without
 * it the program finds them with one untimed full scan. `holderPids` names the
 * processes holding sshd's socket that per-connection sshd is walked from
 * (pid 1), with `listenerPids` given.
 */
export function runFloor(
  binary: string,
  kind: FloorFigures['kind'],
  root: string,
  runs: number,
  listenerPids?: readonly number[],
  holderPids: readonly number[] = [],
): FloorFigures {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer`)
  const args = [root, String(runs + 1)]
  if (kind === 'tree-walk' && listenerPids !== undefined) {
    args.push(listenerPids.join(','))
    if (holderPids.length > 0) args.push(holderPids.join(','))
  }
  const run = spawnSync(binary, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (run.error !== undefined) throw run.error
  if (run.status !== 0) {
    throw new Error(`${kind} failed (exit ${run.status ?? run.signal}):\n${run.stderr}`)
  }
  let out: unknown
  try {
    out = JSON.parse(run.stdout)
  } catch {
    throw new Error(`${kind} printed no JSON: ${run.stdout.slice(0, 200)}`)
  }
  if (!isFloorOutput(out) || out.runs_ms.length !== runs + 1) {
    throw new Error(`${kind} printed unexpected JSON: ${run.stdout.slice(0, 200)}`)
  }
  const times = out.runs_ms.slice(1)
  return {
    kind,
    medianMs: median(times),
    p99Ms: percentile(times, 99),
    runs: times.length,
    processes: out.processes,
    sshd: out.sshd,
    sessions: out.sessions,
    connections: out.connections,
  }
}

function main(argv: readonly string[]): void {
  const [root, runsText = '200'] = argv
  const runs = Number(runsText)
  if (root === undefined || argv.length > 2 || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write('usage: node bench/floors.ts <procfs root> [runs]\n')
    process.exitCode = 2
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-floors-'))
  try {
    const bin = buildFloors(dir)
    const figures = {
      fullScan: runFloor(bin.fullScan, 'full-scan', root, runs),
      treeWalk: runFloor(bin.treeWalk, 'tree-walk', root, runs),
    }
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// import.meta.main needs Node 24.2; the engines field allows 22.18.
if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2))
