/**
 * `sshd-exporter sessions --json` end to end, process start included, as an operator runs it on
 * a host: `node dist/cli.js sessions --json` and, when given, the single executable's
 * `sshd-exporter sessions --json` (what a package installs) against a synthetic tree, timed from
 * spawn to exit. Beside them, in the same run: bare Node's start (`node -e 0`) and the CLI's own
 * (`--version`), so that what the reading costs can be told from what starting costs. Every run's
 * JSON is checked against the tree: connection, pre-auth and session counts.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { NODE_FULL_SCAN } from './floors.ts'
import type { BuiltTree } from './procfs-builder.ts'
import { median, percentile } from './stats.ts'

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js')

export interface CommandFigures {
  medianMs: number
  p99Ms: number
  runs: number
}

/**
 * Runs `command` with `args` `runs` times (after one warm-up run); `check` sees each stdout.
 * `command` defaults to this Node.
 */
function timeCommand(
  args: readonly string[],
  runs: number,
  check: (stdout: string) => void = () => {},
  command: string = process.execPath,
): CommandFigures {
  const times: number[] = []
  for (let i = 0; i <= runs; i++) {
    const start = performance.now()
    const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    const ms = performance.now() - start
    if (r.status !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} exited with ${r.status}: ${r.stderr.slice(-2000)}`,
      )
    }
    check(r.stdout)
    if (i > 0) times.push(ms) // the first fills the page cache with the tree and the modules
  }
  return { medianMs: median(times), p99Ms: percentile(times, 99), runs }
}

export interface SessionsCommandFigures {
  json: CommandFigures
  /** With --sessions: every session's process read too. */
  withSessions: CommandFigures
  /** The single executable's `sessions --json`; null when no binary was given. */
  binaryJson: CommandFigures | null
  /** floors/full-scan.mjs from spawn to exit: Node's start and the full scan's reads alone. */
  nodeFloor: CommandFigures
}

export function measureSessionsCommand(
  tree: BuiltTree,
  flags: readonly string[],
  runs: number,
  binary: string | null = null,
): SessionsCommandFigures {
  const want = tree.expected
  const check = (withSessions: boolean) => (stdout: string) => {
    const report = JSON.parse(stdout) as {
      version: number
      connections: {
        state: string
        sessions: number
        session_processes?: unknown[]
      }[]
    }
    const { connections } = report
    const preauth = connections.filter((c) => c.state === 'preauth').length
    const sessions = connections.reduce((n, c) => n + c.sessions, 0)
    const rows = connections.reduce((n, c) => n + (c.session_processes?.length ?? 0), 0)
    if (
      report.version !== 1 ||
      connections.length - preauth !== want.authenticated ||
      preauth !== want.preauth ||
      sessions !== want.sessions ||
      rows !== (withSessions ? want.sessions : 0)
    ) {
      throw new Error(
        `sessions --json${withSessions ? ' --sessions' : ''} listed ${connections.length - preauth} authenticated and ${preauth} pre-auth connections, ${sessions} sessions (${rows} session rows); the tree has ${want.authenticated}, ${want.preauth}, ${want.sessions}`,
      )
    }
  }
  const args = [CLI, 'sessions', '--json', ...flags]
  return {
    json: timeCommand(args, runs, check(false)),
    withSessions: timeCommand([...args, '--sessions'], runs, check(true)),
    binaryJson: binary === null ? null : timeCommand(args.slice(1), runs, check(false), binary),
    nodeFloor: timeCommand([NODE_FULL_SCAN, tree.root], runs, (stdout) => {
      const got = JSON.parse(stdout) as { connections: number; sessions: number }
      const connections = want.authenticated + want.preauth
      if (got.connections !== connections || got.sessions !== want.sessions) {
        throw new Error(
          `${NODE_FULL_SCAN} counted ${got.connections} connections and ${got.sessions} sessions; the tree has ${connections} and ${want.sessions}`,
        )
      }
    }),
  }
}

/** What starting costs: bare Node, and the CLI (and the binary, when given) up to `--version`. */
export function measureStarts(
  runs: number,
  binary: string | null = null,
): { node: CommandFigures; cli: CommandFigures; binary: CommandFigures | null } {
  return {
    node: timeCommand(['-e', '0'], runs),
    cli: timeCommand([CLI, '--version'], runs),
    binary: binary === null ? null : timeCommand(['--version'], runs, () => {}, binary),
  }
}
