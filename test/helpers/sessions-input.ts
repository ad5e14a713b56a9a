/**
 * Inputs for buildSessionsReport (src/model/sessions.ts), for test/model/sessions.test.ts and the
 * renderers' tests (test/sessions/text.test.ts, html.test.ts): a fixed clock (NOW, UPTIME, TICKS,
 * ticksForAge), and builders of a Connection, a TcpSocket, a SessionProcess, a UtmpRecord and a
 * SessionsInput that knows nothing but the clock; `over` replaces any field.
 */
import type { SessionProcess, SessionsInput } from '../../src/model/sessions.ts'
import type { Connection } from '../../src/model/snapshot.ts'
import { type TcpSocket, TcpTimer } from '../../src/sources/net-tcp/table.ts'
import { type UtmpRecord, UtmpType } from '../../src/sources/utmp/parse.ts'

/** 2023-11-14T22:13:20Z; the host booted 10,000 s before. */
export const NOW = 1_700_000_000
export const UPTIME = 10_000
export const TICKS = 100

/** The starttime (clock ticks after boot) of a process `age` seconds old now. */
export const ticksForAge = (age: number) => Math.round((UPTIME - age) * TICKS)

/** alice's authenticated connection, a minute old, on listener 100, with no session. */
export function connection(pid: number, over: Partial<Connection> = {}): Connection {
  return {
    pid,
    starttime: ticksForAge(60),
    listener: 100,
    state: 'authenticated',
    user: 'alice',
    sessions: 0,
    ptySessions: 0,
    ttys: [],
    postauth: [pid + 1],
    ...over,
  }
}

/** An established socket from 198.51.100.7:51000 to port 22. */
export function socket(over: Partial<TcpSocket> = {}): TcpSocket {
  return {
    localAddress: '192.0.2.10',
    localPort: 22,
    remoteAddress: '198.51.100.7',
    remotePort: 51000,
    state: 'ESTABLISHED',
    txQueue: 0,
    rxQueue: 0,
    timerActive: TcpTimer.NONE,
    retransmits: 0,
    uid: 0,
    probes: 0,
    inode: 1,
    ...over,
  }
}

/** A live session process `age` seconds old. */
export function session(
  pid: number,
  age: number,
  kind: SessionProcess['kind'],
  command: string | null,
  tty: string | null = null,
): SessionProcess {
  return { pid, starttime: ticksForAge(age), kind, tty, command, exited: false }
}

/** alice's utmp login on pts/0 from 198.51.100.7, an hour ago. */
export function utmpRecord(over: Partial<UtmpRecord> = {}): UtmpRecord {
  return {
    type: UtmpType.USER_PROCESS,
    pid: 1,
    line: 'pts/0',
    id: 'ts/0',
    user: 'alice',
    host: '198.51.100.7',
    session: 0,
    time: NOW - 3600,
    ...over,
  }
}

/** No connection, no socket, no utmp, MaxSessions 10, thresholds of 1 h idle and 2 m preauth. */
export function sessionsInput(over: Partial<SessionsInput> = {}): SessionsInput {
  return {
    snapshot: { listeners: [], connections: [] },
    uptimeSeconds: UPTIME,
    nowSeconds: NOW,
    clockTicksPerSecond: TICKS,
    sockets: null,
    instanceOf: () => ({ port: '22', maxSessions: 10 }),
    ttyIdle: () => null,
    sessionsOf: () => [],
    idleThresholdSeconds: 3600,
    preauthThresholdSeconds: 120,
    utmp: null,
    pidState: () => null,
    unavailable: [],
    ...over,
  }
}
