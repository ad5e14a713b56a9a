import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Connection, SshdSnapshot } from '../../src/model/snapshot.ts'
import { isSshdRecord, type StaleInput, staleValues } from '../../src/model/stale.ts'
import { type UtmpRecord, UtmpType } from '../../src/sources/utmp.ts'

function record(over: Partial<UtmpRecord>): UtmpRecord {
  return {
    type: UtmpType.USER_PROCESS,
    pid: 100,
    line: 'pts/0',
    id: 'ts/0',
    user: 'alice',
    host: '192.0.2.7',
    session: 0,
    time: 1_000_000,
    ...over,
  }
}

function conn(pid: number, state: Connection['state']): Connection {
  return {
    pid,
    starttime: 0,
    listener: null,
    state,
    user: state === 'preauth' ? null : 'alice',
    sessions: 1,
    ptySessions: 0,
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

  it('idle ttys and the cumulative distribution', () => {
    const idle: Record<string, number | null> = {
      'pts/0': 30,
      'pts/1': 4000,
      'pts/2': 100_000,
      'pts/3': null,
    }
    const v = staleValues(
      input({
        utmp: ['pts/0', 'pts/1', 'pts/2', 'pts/3'].map((line) => record({ line })),
        ttyIdle: (line) => idle[line] ?? null,
      }),
    )
    assert.equal(v.idle, 2)
    assert.deepEqual(v.idleBuckets, [1, 1, 1, 1, 2, 2, 3])
  })

  it('no utmp: those reasons are unknown, not zero', () => {
    const v = staleValues(input({ utmp: null }))
    assert.equal(v.utmpOrphan, null)
    assert.equal(v.idle, null)
    assert.equal(v.idleBuckets, null)
    assert.equal(v.oldestSessionAge, null)
  })
})
