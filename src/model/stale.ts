/**
 * Stale sessions, worked out from the snapshot, utmp and tty times. Pure: the
 * caller reads the sources and passes what they hold.
 *
 * - utmp_orphan: a USER_PROCESS record sshd wrote whose process is gone, or
 *   whose pid now belongs to a process started after the login (pid reuse).
 *   What `who` and `last | grep still` show wrongly.
 * - idle: a live sshd pty session whose tty has had no input for longer than
 *   the threshold (tty atime, as `who -u`).
 * - preauth_overdue: a connection not authenticated after the threshold.
 */
import type { Connection, SshdSnapshot } from './snapshot.ts'
import { type UtmpRecord, UtmpType } from '../sources/utmp.ts'

/** Cumulative upper bounds of the pty idle-time distribution, in seconds. */
export const IDLE_BUCKETS = [60, 300, 900, 3600, 14400, 86400] as const

/**
 * Whether a USER_PROCESS record is a remote login of sshd's. sshd writes a pty
 * line and the client's address as host; local logins have no host, and
 * screen and X write `:…` hosts.
 */
export function isSshdRecord(r: UtmpRecord): boolean {
  return (
    r.type === UtmpType.USER_PROCESS &&
    r.line.startsWith('pts/') &&
    r.host !== '' &&
    !r.host.startsWith(':')
  )
}

/** What is known of a record's pid now: null when no such process. */
export interface PidState {
  /** Seconds since the epoch when the process started. */
  startedAt: number
}

export interface StaleInput {
  snapshot: SshdSnapshot
  /** Age in seconds of a connection (of its root process). */
  connectionAge: (c: Connection) => number
  preauthThresholdSeconds: number
  /** utmp records, or null when there is no utmp to read. */
  utmp: readonly UtmpRecord[] | null
  pidState: (pid: number) => PidState | null
  /** Idle seconds of a tty line, or null when the device is gone. */
  ttyIdle: (line: string) => number | null
  idleThresholdSeconds: number
}

export interface StaleValues {
  preauthOverdue: number
  /** null: no utmp on this host, so these reasons are unknown. */
  utmpOrphan: number | null
  idle: number | null
  /** Live sshd pty sessions by idle time, cumulative per IDLE_BUCKETS, +Inf last. */
  idleBuckets: number[] | null
  /** Age of the oldest authenticated connection; null when there is none. */
  oldestSessionAge: number | null
}

/** Slack between a process's start and the login time it writes (clock ticks, rounding). */
const START_SLACK_SECONDS = 2

export function staleValues(input: StaleInput): StaleValues {
  let preauthOverdue = 0
  let oldest: number | null = null
  // Indexed loops: an unoptimised for-of makes an object per element (see scanFull).
  const { connections } = input.snapshot
  for (let i = 0; i < connections.length; i++) {
    const c = connections[i]!
    const age = input.connectionAge(c)
    if (c.state === 'preauth') {
      if (age > input.preauthThresholdSeconds) preauthOverdue++
    } else if (oldest === null || age > oldest) {
      oldest = age
    }
  }
  if (input.utmp === null) {
    return {
      preauthOverdue,
      utmpOrphan: null,
      idle: null,
      idleBuckets: null,
      oldestSessionAge: oldest,
    }
  }

  let utmpOrphan = 0
  let idle = 0
  const buckets = new Array<number>(IDLE_BUCKETS.length + 1).fill(0)
  const { utmp } = input
  for (let i = 0; i < utmp.length; i++) {
    const r = utmp[i]!
    if (!isSshdRecord(r)) continue
    const state = input.pidState(r.pid)
    if (state === null || state.startedAt > r.time + START_SLACK_SECONDS) {
      utmpOrphan++
      continue
    }
    const seconds = input.ttyIdle(r.line)
    if (seconds === null) continue
    if (seconds > input.idleThresholdSeconds) idle++
    for (let i = 0; i < IDLE_BUCKETS.length; i++) if (seconds <= IDLE_BUCKETS[i]!) buckets[i]!++
    buckets[IDLE_BUCKETS.length]!++
  }
  return { preauthOverdue, utmpOrphan, idle, idleBuckets: buckets, oldestSessionAge: oldest }
}
