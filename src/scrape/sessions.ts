/**
 * Reads the live sessions table through one scrape's view of the host (ScrapeContext): the
 * snapshot, sockets and instances a scrape reads, shared with one in flight, and on top of them
 * each connection's session processes (the post-auth process's children, which a scrape only
 * counts). src/model/sessions.ts builds the report from what is read here.
 */
import { isExporterError } from '../errors.ts'
import {
  buildSessionsReport,
  type SessionProcess,
  type SessionsReport,
  type Unavailable,
} from '../model/sessions.ts'
import type { Connection } from '../model/snapshot.ts'
import type { PidState } from '../model/stale.ts'
import type { UtmpRecord } from '../sources/utmp/parse.ts'
import { CLOCK_TICKS_PER_SECOND, type ProcFS, ttyName } from '../sources/procfs.ts'
import { parseSshdTitle, SSHD_COMMS } from '../sources/proctitle.ts'
import { preauthThresholdSeconds, type SshdConfigs } from '../state/sshd-configs.ts'
import type { ScrapeContext } from './context.ts'

export interface SessionsOptions {
  /** --collector.stale.idle-threshold, seconds. */
  idleThresholdSeconds: number
  /** --collector.stale.preauth-threshold, seconds; undefined: LoginGraceTime. */
  preauthThresholdSeconds: number | undefined
  /** Read each session's process too (session_processes). */
  withSessions: boolean
}

/** A command line is shown up to this many characters, as a ps column would cut it. */
const COMMAND_MAX_CHARS = 512

/** What the sessions reader needs of the exporter: the procfs and sshd's configurations. */
export interface SessionsSources {
  procfs: ProcFS
  configs: SshdConfigs | null
}

export async function readSessions(
  scrape: ScrapeContext,
  sources: SessionsSources,
  options: SessionsOptions,
): Promise<SessionsReport> {
  const [scan, byConnection, found, preauth] = await Promise.all([
    scrape.snapshot(),
    scrape.connectionSockets(),
    scrape.instances(),
    preauthThresholdSeconds(options.preauthThresholdSeconds, sources.configs),
  ])
  const { snapshot } = scan
  const uptime = scrape.uptime()
  const nowSeconds = Date.now() / 1000
  const unavailable: Unavailable[] = []
  if (byConnection === null && snapshot.connections.length > 0) {
    unavailable.push({
      what: 'client_addresses',
      why: "client addresses, ports and dead peers need each connection's socket: run as root, or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (docs/privileges.md)",
    })
  }
  const instances = new Map<number, { port: string; maxSessions: number | undefined }>()
  let maxSessionsKnown = false
  for (const instance of found.instances) {
    const maxSessions = instance.config?.values.maxSessions
    if (maxSessions !== undefined) maxSessionsKnown = true
    for (const c of instance.connections) instances.set(c.pid, { port: instance.port, maxSessions })
  }
  if (!maxSessionsKnown && snapshot.connections.length > 0) {
    unavailable.push({
      what: 'max_sessions',
      why: "sshd's configuration could not be read: MaxSessions is unknown (see the config collector's log)",
    })
  }
  // No utmp at all is no fault (some hosts keep none): utmp_orphans is null then.
  let utmp: readonly UtmpRecord[] | null = null
  try {
    utmp = scrape.utmp()?.records ?? null
  } catch (err) {
    unavailable.push({ what: 'utmp', why: `utmp cannot be read: ${(err as Error).message}` })
  }
  const bootSeconds = nowSeconds - uptime
  const started = new Map<number, number>()
  for (const c of snapshot.connections) started.set(c.pid, c.starttime)
  return buildSessionsReport({
    snapshot,
    uptimeSeconds: uptime,
    nowSeconds,
    clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
    sockets: byConnection,
    instanceOf: (pid) => instances.get(pid),
    ttyIdle: scrape.ttyIdle(),
    sessionsOf: options.withSessions ? (c) => sessionProcesses(sources.procfs, c) : null,
    idleThresholdSeconds: options.idleThresholdSeconds,
    preauthThresholdSeconds: preauth,
    utmp,
    pidState: (pid): PidState | null => {
      const starttime = started.get(pid) ?? scrape.processStartTime(pid)
      if (starttime === null) return null
      return { startedAt: bootSeconds + starttime / CLOCK_TICKS_PER_SECOND }
    },
    unavailable,
  })
}

/**
 * A connection's sessions: the children of its post-auth processes, as the scan counted them.
 * One that exits while it is read is left out; a malformed file is skipped.
 */
export function sessionProcesses(procfs: ProcFS, c: Connection): SessionProcess[] {
  const sessions: SessionProcess[] = []
  for (const parent of c.postauth) {
    const children = skipMalformed(() => procfs.readChildren(parent))
    if (children === null) continue
    for (const pid of children) {
      const s = skipMalformed(() => sessionProcess(procfs, pid))
      if (s !== null) sessions.push(s)
    }
  }
  sessions.sort((a, b) => a.starttime - b.starttime || a.pid - b.pid)
  return sessions
}

function sessionProcess(procfs: ProcFS, pid: number): SessionProcess | null {
  const stat = procfs.readStat(pid)
  if (stat === null) return null
  const exited = stat.state === 'Z' || stat.state === 'X'
  // sshd serves internal-sftp in a child of its own, titled `alice@internal-sftp`.
  if (SSHD_COMMS.has(stat.comm)) {
    const cmdline = procfs.readCmdline(pid)
    if (cmdline !== null && parseSshdTitle(cmdline).role === 'sftp') {
      return {
        pid,
        starttime: stat.starttime,
        kind: 'internal-sftp',
        tty: null,
        command: null,
        exited,
      }
    }
  }
  const tty = ttyName(stat.ttyNr)
  const argv = exited ? null : procfs.readArgv(pid)
  let command = argv === null || argv.length === 0 ? null : argv.join(' ')
  if (command !== null && command.length > COMMAND_MAX_CHARS) {
    command = `${command.slice(0, COMMAND_MAX_CHARS - 1)}…`
  }
  return {
    pid,
    starttime: stat.starttime,
    kind: tty === null ? 'notty' : 'pty',
    tty,
    command,
    exited,
  }
}

function skipMalformed<T>(read: () => T | null): T | null {
  try {
    return read()
  } catch (err) {
    if (isExporterError(err)) return null
    throw err
  }
}
