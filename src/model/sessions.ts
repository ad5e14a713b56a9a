/**
 * The live sessions table: one row per connection, with its sessions, from the same snapshot,
 * sockets, instances and stale rules the collectors use. Pure: src/scrape/sessions.ts reads the
 * host. Its JSON form is a public, versioned schema (docs/sessions.md): add fields, never change
 * or remove one without a new version.
 */
import type { TcpSocket } from '../sources/net-tcp/table.ts'
import type { UtmpRecord } from '../sources/utmp/parse.ts'
import { isDeadPeer } from './sockets.ts'
import type { Connection, ConnectionState, SshdSnapshot } from './snapshot.ts'
import { type PidState, utmpOrphans } from './stale.ts'

export const SESSIONS_SCHEMA_VERSION = 1

/** Why a connection is stale: the stale collector's reasons that belong to one connection. */
export type StaleReason = 'preauth_overdue' | 'idle' | 'dead_peer'

/** pty: a session with a terminal; notty: a command or subsystem without one; internal-sftp: served by sshd itself. */
export type SessionKind = 'pty' | 'notty' | 'internal-sftp'

/** A session process as read from /proc: a child of a connection's post-auth process. */
export interface SessionProcess {
  pid: number
  /** Clock ticks after boot. */
  starttime: number
  kind: SessionKind
  /** Its controlling terminal (`pts/3`); null for none. */
  tty: string | null
  /** Its command line; null when it cannot be read (gone, or hidden by hidepid). */
  command: string | null
  /** Exited, not yet reaped by sshd: still a session to sshd's MaxSessions. */
  exited: boolean
}

export interface SessionRow {
  pid: number
  kind: SessionKind
  tty: string | null
  started_at: string
  age_seconds: number
  /** Seconds since input on its tty; null without a tty or when the device is gone. */
  idle_seconds: number | null
  command: string | null
  exited: boolean
}

export interface PtyRow {
  tty: string
  idle_seconds: number | null
}

export interface ConnectionRow {
  /** The connection's root process (its monitor once authenticated): `kill` it to end it. */
  pid: number
  user: string | null
  state: ConnectionState
  /** The client's address and port; null when the sockets cannot be read (not root). */
  client: { address: string; port: number } | null
  /** The sshd instance's port (sshd_instance_info's port label). */
  instance_port: string | null
  started_at: string
  age_seconds: number
  sessions: number
  /** The effective MaxSessions of its instance; null when unknown. */
  max_sessions: number | null
  at_max: boolean
  ptys: PtyRow[]
  stale: StaleReason[]
  /** What ends the connection, for an operator to run: never run by the exporter. */
  end_command: string
  /** Present when asked for (SessionsInput.sessionsOf): each session's process. */
  session_processes?: SessionRow[]
}

/** A utmp login of sshd's with no live session behind it: what `who` shows wrongly. */
export interface UtmpOrphanRow {
  line: string
  user: string
  host: string
  pid: number
  login_at: string
  /** gone: no such process; reused: the pid now belongs to a later process. */
  why: 'gone' | 'reused'
}

/** Something the reader could not see, said once. */
export interface Unavailable {
  what: 'client_addresses' | 'utmp' | 'max_sessions'
  why: string
}

export interface SessionsReport {
  version: typeof SESSIONS_SCHEMA_VERSION
  generated_at: string
  thresholds: { idle_seconds: number; preauth_seconds: number }
  unavailable: Unavailable[]
  connections: ConnectionRow[]
  /** null when this host keeps no utmp. */
  utmp_orphans: UtmpOrphanRow[] | null
}

export interface SessionsInput {
  snapshot: SshdSnapshot
  /** Seconds since boot now, and since the epoch now: ages and start times. */
  uptimeSeconds: number
  nowSeconds: number
  clockTicksPerSecond: number
  /** Each connection's socket by pid; null when the sockets cannot be read. */
  sockets: ReadonlyMap<number, TcpSocket | undefined> | null
  /** Its instance's port and MaxSessions, by connection pid. */
  instanceOf: (pid: number) => { port: string; maxSessions: number | undefined } | undefined
  ttyIdle: (line: string) => number | null
  /** Each connection's session processes; null: not read, and no session_processes. */
  sessionsOf: ((c: Connection) => readonly SessionProcess[]) | null
  idleThresholdSeconds: number
  preauthThresholdSeconds: number
  /** null: no utmp on this host. */
  utmp: readonly UtmpRecord[] | null
  pidState: (pid: number) => PidState | null
  unavailable: Unavailable[]
}

function isoOf(epochSeconds: number): string {
  return new Date(Math.round(epochSeconds * 1000)).toISOString()
}

/** Ages to the millisecond: the JSON keeps what the clock tick gives, and no more. */
function seconds(value: number): number {
  return Math.max(0, Math.round(value * 1000) / 1000)
}

/** An idle time to the millisecond; null stays null (no tty). */
function idleSeconds(value: number | null): number | null {
  return value === null ? null : seconds(value)
}

/** The report, connections sorted by sessions (most first), then age (oldest first), then pid. */
export function buildSessionsReport(input: SessionsInput): SessionsReport {
  const bootSeconds = input.nowSeconds - input.uptimeSeconds
  const startedAt = (starttime: number) => bootSeconds + starttime / input.clockTicksPerSecond
  const rows = input.snapshot.connections.map((c): ConnectionRow => {
    const age = seconds(input.nowSeconds - startedAt(c.starttime))
    const instance = input.instanceOf(c.pid)
    const max = instance?.maxSessions
    const socket = input.sockets?.get(c.pid)
    const ptys = c.ttys.map((tty) => ({ tty, idle_seconds: idleSeconds(input.ttyIdle(tty)) }))
    const sessionRows = input.sessionsOf?.(c).map((s): SessionRow => ({
      pid: s.pid,
      kind: s.kind,
      tty: s.tty,
      started_at: isoOf(startedAt(s.starttime)),
      age_seconds: seconds(input.nowSeconds - startedAt(s.starttime)),
      idle_seconds: s.tty === null ? null : input.ttyIdle(s.tty),
      command: s.command,
      exited: s.exited,
    }))
    return {
      pid: c.pid,
      user: c.user,
      state: c.state,
      client:
        socket === undefined ? null : { address: socket.remoteAddress, port: socket.remotePort },
      instance_port: instance?.port ?? null,
      started_at: isoOf(startedAt(c.starttime)),
      age_seconds: age,
      sessions: c.sessions,
      max_sessions: max ?? null,
      at_max: c.state === 'authenticated' && max !== undefined && c.sessions >= max,
      ptys,
      stale: staleReasons(c, age, ptys, input),
      end_command: `kill ${c.pid}`,
      ...(sessionRows === undefined ? {} : { session_processes: sessionRows }),
    }
  })
  rows.sort((a, b) => b.sessions - a.sessions || b.age_seconds - a.age_seconds || a.pid - b.pid)
  return {
    version: SESSIONS_SCHEMA_VERSION,
    generated_at: isoOf(input.nowSeconds),
    thresholds: {
      idle_seconds: input.idleThresholdSeconds,
      preauth_seconds: input.preauthThresholdSeconds,
    },
    unavailable: input.unavailable,
    connections: rows,
    utmp_orphans:
      input.utmp === null
        ? null
        : utmpOrphans(input.utmp, input.pidState).map(({ record, why }) => ({
            line: record.line,
            user: record.user,
            host: record.host,
            pid: record.pid,
            login_at: isoOf(record.time),
            why,
          })),
  }
}

/** The stale collector's rules (sshd_stale_sessions), applied to one connection. */
function staleReasons(
  c: Connection,
  age: number,
  ptys: readonly PtyRow[],
  input: SessionsInput,
): StaleReason[] {
  const reasons: StaleReason[] = []
  if (c.state === 'preauth' && age > input.preauthThresholdSeconds) reasons.push('preauth_overdue')
  if (ptys.some((p) => p.idle_seconds !== null && p.idle_seconds > input.idleThresholdSeconds)) {
    reasons.push('idle')
  }
  if (input.sockets !== null) {
    const socket = input.sockets.get(c.pid)
    // A connection whose socket is gone from the table counts as the collector counts it.
    if (input.sockets.has(c.pid) && (socket === undefined || isDeadPeer(socket))) {
      reasons.push('dead_peer')
    }
  }
  return reasons
}

export interface SessionsFilter {
  /** Only this user's connections (and utmp logins). */
  user?: string | undefined
  /** Only stale connections (and utmp orphans). */
  stale?: boolean | undefined
  /** Only connections at their MaxSessions. */
  atMax?: boolean | undefined
}

/** The report with only the connections (and utmp orphans) the filter asks for. */
export function filterSessions(report: SessionsReport, filter: SessionsFilter): SessionsReport {
  const { user, stale, atMax } = filter
  const connections = report.connections.filter(
    (c) =>
      (user === undefined || c.user === user) &&
      (!stale || c.stale.length > 0) &&
      (!atMax || c.at_max),
  )
  // An orphan is stale and has a user, but no sessions to be at a maximum.
  const orphans =
    report.utmp_orphans === null || !atMax
      ? (report.utmp_orphans?.filter((o) => user === undefined || o.user === user) ?? null)
      : []
  return { ...report, connections, utmp_orphans: orphans }
}
