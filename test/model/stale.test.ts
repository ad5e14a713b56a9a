import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Connection, SshdSnapshot } from '../../src/model/snapshot.ts'
import {
  IDLE_THRESHOLDS,
  isSshdRecord,
  type StaleInput,
  staleValues,
} from '../../src/model/stale.ts'
import { type UtmpRecord, UtmpType } from '../../src/sources/utmp/parse.ts'
import { utmpRecord } from '../helpers/sessions-input.ts'

/** alice's utmp login on pts/0 from 192.0.2.7, pid 100, at 1,000,000 s. */
const record = (over: Partial<UtmpRecord>): UtmpRecord =>
  utmpRecord({ pid: 100, host: '192.0.2.7', time: 1_000_000, ...over })

function conn(pid: number, state: Connection['state'], ttys: string[] = []): Connection {
  return {
    pid,
    starttime: 0,
    listener: null,
    state,
    user: state === 'preauth' ? null : 'alice',
    sessions: Math.max(1, ttys.length),
    ptySessions: ttys.length,
    ttys,
    postauth: state === 'preauth' ? [] : [pid + 1],
  }
}

function input(over: Partial<StaleInput>): StaleInput {
  const snapshot: SshdSnapshot = { listeners: [], connections: [] }
  return {
    snapshot,
    connectionAge: () => 0,
    preauthThresholdSeconds: 120,
    utmp: [],
    pidState: () => ({ startedAt: 999_000 }),
    ttyIdle: () => 0,
    idleThresholdSeconds: 3600,
    ...over,
  }
}

describe('isSshdRecord', () => {
  it('takes remote pty logins only', () => {
    assert.equal(isSshdRecord(record({})), true)
    assert.equal(isSshdRecord(record({ type: UtmpType.DEAD_PROCESS })), false)
    assert.equal(isSshdRecord(record({ line: 'tty1', host: '' })), false, 'a console login')
    assert.equal(isSshdRecord(record({ host: '' })), false)
    assert.equal(isSshdRecord(record({ host: ':pts/1:S.0' })), false, 'screen')
  })
})

describe('staleValues', () => {
  it('counts pre-auth connections past the threshold, and the oldest authenticated one', () => {
    const ages: Record<number, number> = { 1: 121, 2: 119, 3: 500, 4: 40 }
    const v = staleValues(
      input({
        snapshot: {
          listeners: [],
          connections: [
            conn(1, 'preauth'),
            conn(2, 'preauth'),
            conn(3, 'authenticated'),
            conn(4, 'authenticated'),
          ],
        },
        connectionAge: (c) => ages[c.pid]!,
      }),
    )
    assert.equal(v.preauthOverdue, 1)
    assert.equal(v.oldestSessionAge, 500)
  })

  it('an orphan: the pid is gone, or reused by a process started after the login', () => {
    const v = staleValues(
      input({
        utmp: [
          record({ pid: 1 }),
          record({ pid: 2 }),
          record({ pid: 3 }),
          record({ pid: 4, type: UtmpType.DEAD_PROCESS }),
        ],
        pidState: (pid) =>
          pid === 1 ? null : pid === 2 ? { startedAt: 1_000_100 } : { startedAt: 999_999 },
      }),
    )
    assert.equal(v.utmpOrphan, 2)
  })

  // alice has two ptys on one connection (alice@pts/0,pts/1), bob one; pts/3's session ended
  // since its title was read (no device). Idle seconds as `who -u` reads them.
  const idle: Record<string, number | null> = {
    'pts/0': 30,
    'pts/1': 4000,
    'pts/2': 100_000,
    'pts/3': null,
  }
  const ptyHost: SshdSnapshot = {
    listeners: [],
    connections: [
      conn(1, 'authenticated', ['pts/0', 'pts/1']),
      conn(2, 'authenticated', ['pts/2']),
      conn(3, 'authenticated', ['pts/3']),
      conn(4, 'authenticated'),
      conn(5, 'preauth'),
    ],
  }

  it('idle ttys from the post-auth titles, with utmp present', () => {
    const v = staleValues(
      input({
        snapshot: ptyHost,
        // utmp names other lines, and a live one for pts/0: it is not where the ttys come from.
        utmp: [record({ line: 'pts/0' }), record({ line: 'pts/9' })],
        ttyIdle: (line) => idle[line] ?? null,
      }),
    )
    assert.equal(v.utmpOrphan, 0)
    assert.equal(v.ptySessions, 4)
    assert.equal(v.idle, 2, 'pts/1 and pts/2, past the hour')
    assert.deepEqual(
      Object.fromEntries(IDLE_THRESHOLDS.map((t, i) => [t.threshold, v.idleOver[i]])),
      { '1m': 2, '5m': 2, '15m': 2, '1h': 2, '4h': 1, '1d': 1 },
    )
    assert.equal(v.idleMaxSeconds, 100_000)
  })

  it('idle ttys from the post-auth titles without utmp (Debian 13): the same, utmp_orphan unknown', () => {
    const read: string[] = []
    const v = staleValues(
      input({
        snapshot: ptyHost,
        utmp: null,
        ttyIdle: (line) => {
          read.push(line)
          return idle[line] ?? null
        },
      }),
    )
    assert.equal(v.utmpOrphan, null)
    assert.equal(v.ptySessions, 4)
    assert.equal(v.idle, 2)
    assert.deepEqual(v.idleOver, [2, 2, 2, 2, 1, 1])
    assert.equal(v.idleMaxSeconds, 100_000)
    assert.deepEqual(read, ['pts/0', 'pts/1', 'pts/2', 'pts/3'], 'each tty once')
  })

  it('idle is past the threshold, not at it; each threshold likewise', () => {
    const v = staleValues(
      input({
        snapshot: { listeners: [], connections: [conn(1, 'authenticated', ['pts/0', 'pts/1'])] },
        ttyIdle: (line) => (line === 'pts/0' ? 3600 : 60.5),
        idleThresholdSeconds: 3600,
      }),
    )
    assert.equal(v.idle, 0)
    assert.deepEqual(v.idleOver, [2, 1, 1, 0, 0, 0])
    assert.equal(v.idleMaxSeconds, 3600)
  })

  it('no pty session: idle 0 and every threshold 0, not absent; no utmp: utmp_orphan unknown', () => {
    const v = staleValues(input({ utmp: null }))
    assert.equal(v.utmpOrphan, null)
    assert.equal(v.idle, 0)
    assert.equal(v.ptySessions, 0)
    assert.deepEqual(v.idleOver, [0, 0, 0, 0, 0, 0])
    assert.equal(v.idleMaxSeconds, 0)
    assert.equal(v.oldestSessionAge, null)
  })
})
