/**
 * `sshd-exporter sessions`: reads the host once (or every interval with --watch) through the
 * exporter's own state and scrape view, and prints the live sessions table or its JSON. It
 * takes the exporter's --path.*, --collector.* and --log.* flags. Exit codes: 0, 1 when the host
 * cannot be read (/proc), 2 for a bad flag.
 */
import { setTimeout } from 'node:timers/promises'
import type { CollectorFlags } from '../collectors/index.ts'
import { isExporterError } from '../errors.ts'
import { type SubcommandFlags, type SubcommandSpec } from '../flags/parse.ts'
import { flag, type FlagValues } from '../flags/spec.ts'
import { createLineLogger } from '../line-logger.ts'
import type { ChildLogger } from '../logger.ts'
import { filterSessions, type SessionsReport } from '../model/sessions.ts'
import { ScrapeContext } from '../scrape/context.ts'
import { readSessions } from '../scrape/sessions.ts'
import { ProcFS } from '../sources/procfs.ts'
import { SshdConfigs } from '../state/sshd-configs.ts'
import { ExporterState } from '../state/state.ts'
import { renderText } from './text.ts'

export const SESSIONS_FLAGS = {
  sessions: flag.bool(
    'sessions',
    'false',
    'One row per session under its connection: pid, pty, notty or internal-sftp, age, idle time, command line.',
  ),
  user: flag.optional('user', undefined, "Only this user's connections and utmp logins."),
  stale: flag.bool(
    'stale',
    'false',
    'Only stale connections (idle, preauth_overdue, dead_peer) and utmp logins with no session.',
  ),
  atMax: flag.bool('at-max', 'false', 'Only connections whose sessions have reached MaxSessions.'),
  json: flag.bool(
    'json',
    'false',
    'JSON instead of the table: {"version":1,"connections":[…]} (docs/sessions.md); with --watch, one line per read.',
  ),
  watchSeconds: {
    ...flag.duration(
      'watch',
      undefined,
      'Read again and redraw every interval, as watch(1) does, until interrupted; --watch alone: every 2s.',
    ),
    implicit: '2s',
  },
}

export type SessionsFlags = SubcommandFlags<CollectorFlags, FlagValues<typeof SESSIONS_FLAGS>>

export const SESSIONS_COMMAND: SubcommandSpec = {
  name: 'sessions',
  usage: 'sshd-exporter sessions [<flags>]',
  description: `The live sessions table: one row per sshd connection (its first process, user, client,
state, age, sessions against MaxSessions, ptys and their idle times, stale reasons),
sorted by sessions, then age. Reads the host once, as the exporter does; unprivileged,
it shows what it may read and says what it could not.`,
  flags: SESSIONS_FLAGS,
  // A terminal tool: warnings only, in the form a person reads.
  defaults: { 'log.level': 'warn', 'log.format': 'logfmt' },
}

/** Where the command writes: the process's streams, or a test's. */
export interface Output {
  stdout: { write(text: string): unknown; isTTY?: boolean }
  stderr: { write(text: string): unknown }
}

/** Runs the command with parsed flags; resolves to the exit code (--watch: when `signal` aborts). */
export async function runSessions(
  flags: SessionsFlags,
  out: Output,
  signal?: AbortSignal,
  logger: ChildLogger = createLineLogger(flags.log),
): Promise<number> {
  const procfs = new ProcFS(flags.path.procfs)
  const configs = flags.collectors.config
    ? SshdConfigs.fromFlags(
        flags.collector.config,
        flags.path.rootfs,
        logger.child({ collector: 'config' }),
      )
    : null
  const state = new ExporterState({
    procfs,
    rootfs: flags.path.rootfs,
    logger,
    rescanIntervalMs: flags.collector.processes.rescanIntervalSeconds * 1000,
    configs,
  })
  const { command } = flags
  const said = new Set<string>()
  const read = async (): Promise<SessionsReport> => {
    const scrape = new ScrapeContext(state, signal ?? new AbortController().signal, {
      onScan() {},
      onUtmp() {},
    })
    const report = await readSessions(
      scrape,
      { procfs, configs },
      {
        idleThresholdSeconds: flags.collector.stale.idleThresholdSeconds,
        preauthThresholdSeconds: flags.collector.stale.preauthThresholdSeconds,
        withSessions: command.sessions,
      },
    )
    // What could not be read is said once, on stderr: the table stays a table.
    for (const u of report.unavailable) {
      if (said.has(u.what)) continue
      said.add(u.what)
      out.stderr.write(`sshd-exporter sessions: ${u.why}\n`)
    }
    return filterSessions(report, {
      user: command.user,
      stale: command.stale,
      atMax: command.atMax,
    })
  }
  const render = (report: SessionsReport, oneLine: boolean): string =>
    command.json
      ? `${JSON.stringify(report, null, oneLine ? undefined : 2)}\n`
      : renderText(report, { sessions: command.sessions })

  try {
    if (command.watchSeconds === undefined) {
      out.stdout.write(render(await read(), false))
      return 0
    }
    const intervalMs = Math.max(command.watchSeconds, 0.1) * 1000
    while (!signal?.aborted) {
      const report = await read()
      // ^C during a read: nothing more is written.
      if (signal?.aborted) break
      const text = render(report, true)
      if (out.stdout.isTTY && !command.json) {
        // As watch(1): home, clear, a header line, the table.
        out.stdout.write(
          `\x1b[H\x1b[2JEvery ${command.watchSeconds}s: sshd-exporter sessions\n\n${text}`,
        )
      } else {
        out.stdout.write(command.json ? text : `${text}\n`)
      }
      await sleep(intervalMs, signal)
    }
    return 0
  } catch (err) {
    if (!isExporterError(err) && !(err instanceof Error && 'code' in err)) throw err
    const where = isExporterError(err) ? '' : ` (--path.procfs=${flags.path.procfs})`
    out.stderr.write(
      `sshd-exporter sessions: error: cannot read the host${where}: ${err.message}\n`,
    )
    return 1
  }
}

/** Waits `ms`, or less when `signal` aborts (already aborted: not at all); leaves no listener. */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await setTimeout(ms, undefined, { signal })
  } catch (err) {
    if (!(err instanceof Error && err.name === 'AbortError')) throw err
  }
}
