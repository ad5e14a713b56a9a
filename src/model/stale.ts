/**
 * Stale sessions, worked out from the snapshot, utmp and tty times. Pure: the
 * caller reads the sources and passes what they hold.
 *
 * - utmp_orphan: a USER_PROCESS record sshd wrote whose process is gone, or
 *   whose pid now belongs to a process started after the login (pid reuse).
 *   What `who` and `last | grep still` show wrongly. Unknown without utmp.
 * - idle: a live sshd pty session whose tty has had no input for longer than
 *   the threshold (tty atime, as `who -u`). The ttys are those the post-auth
 *   titles name (`alice@pts/0,pts/3`), so utmp is not needed: some hosts keep none.
 * - preauth_overdue: a connection not authenticated after the threshold.
 */
import type { Connection, SshdSnapshot } from './snapshot.ts'
import { type UtmpRecord, UtmpType } from '../sources/utmp/parse.ts'

/** The thresholds of sshd_pty_sessions_idle_over, shortest first: label value and seconds. */
export const IDLE_THRESHOLDS = [
  { threshold: '1m', seconds: 60 },
  { threshold: '5m', seconds: 300 },
  { threshold: '15m', seconds: 900 },
  { threshold: '1h', seconds: 3600 },
  { threshold: '4h', seconds: 14_400 },
  { threshold: '1d', seconds: 86_400 },
] as const

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
  /** Idle seconds of a tty (`pts/0`), or null when the device is gone. */
  ttyIdle: (line: string) => number | null
  idleThresholdSeconds: number
}

export interface StaleValues {
  preauthOverdue: number
  /** null: no utmp on this host, so this reason is unknown. */
  utmpOrphan: number | null
  /** Pty sessions idle past the threshold. */
  idle: number
  /** Live pty sessions: the ttys the post-auth titles name. */
  ptySessions: number
  /** Pty sessions idle longer than each of IDLE_THRESHOLDS, in its order. */
  idleOver: number[]
  /** The longest idle time of a pty session; 0 when there is none (or no tty could be read). */
  idleMaxSeconds: number
  /** Age of the oldest authenticated connection; null when there is none. */
  oldestSessionAge: number | null
}

/** Slack between a process's start and the login time it writes (clock ticks, rounding). */
const START_SLACK_SECONDS = 2

export function staleValues(input: StaleInput): StaleValues {
  let preauthOverdue = 0
  let oldest: number | null = null
  let ptySessions = 0
  let idle = 0
  let idleMaxSeconds = 0
  const idleOver = new Array<number>(IDLE_THRESHOLDS.length).fill(0)
  // Indexed loops: an unoptimised for-of makes an object per element (see scanFull).
  const { connections } = input.snapshot
  for (let i = 0; i < connections.length; i++) {
    const c = connections[i]!
    const age = input.connectionAge(c)
    if (c.state === 'preauth') {
      if (age > input.preauthThresholdSeconds) preauthOverdue++
      continue
    }
    if (oldest === null || age > oldest) oldest = age
    const { ttys } = c
    ptySessions += ttys.length
    for (let j = 0; j < ttys.length; j++) {
      // A device gone: the session ended since the title was read.
      const seconds = input.ttyIdle(ttys[j]!)
      if (seconds === null) continue
      if (seconds > input.idleThresholdSeconds) idle++
      if (seconds > idleMaxSeconds) idleMaxSeconds = seconds
      for (let k = 0; k < IDLE_THRESHOLDS.length; k++) {
        if (seconds > IDLE_THRESHOLDS[k]!.seconds) idleOver[k]!++
      }
    }
  }
  return {
    preauthOverdue,
    utmpOrphan: input.utmp === null ? null : utmpOrphans(input.utmp, input.pidState).length,
    idle,
    ptySessions,
    idleOver,
    idleMaxSeconds,
    oldestSessionAge: oldest,
  }
}

/** A utmp login of sshd's with no live session behind it, and why. */
export interface UtmpOrphan {
  record: UtmpRecord
  /** gone: no such process; reused: the pid belongs to a process started after the login. */
  why: 'gone' | 'reused'
}

/** The sshd logins in utmp whose process is gone or whose pid was reused since. */
export function utmpOrphans(
  utmp: readonly UtmpRecord[],
  pidState: (pid: number) => PidState | null,
): UtmpOrphan[] {
  const orphans: UtmpOrphan[] = []
  for (let i = 0; i < utmp.length; i++) {
    const r = utmp[i]!
    if (!isSshdRecord(r)) continue
    const state = pidState(r.pid)
    if (state === null) orphans.push({ record: r, why: 'gone' })
    else if (state.startedAt > r.time + START_SLACK_SECONDS)
      orphans.push({ record: r, why: 'reused' })
  }
  return orphans
}
