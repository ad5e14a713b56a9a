import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { processValues, sessionsByUser } from '../../src/collectors/processes.ts'
import type { Connection, SshdSnapshot } from '../../src/model/snapshot.ts'

let nextPid = 1000
function conn(user: string | null, sessions: number): Connection {
  return {
    pid: nextPid++,
    starttime: 1,
    state: user === null ? 'preauth' : 'authenticated',
    user,
    sessions,
    ptySessions: 0,
  }
}

function snapshot(
  connections: Connection[],
  listeners: [number, number, number][] = [],
): SshdSnapshot {
  return {
    listeners: listeners.map(([startups, begin, full], i) => ({
      pid: i + 1,
      starttime: 1,
      startups,
      maxStartupsBegin: begin,
      maxStartupsFull: full,
    })),
    connections,
  }
}

describe('sessionsByUser', () => {
  const s = snapshot([
    conn('alice', 3),
    conn('alice', 1),
    conn('bob', 2),
    conn('carol', 2),
    conn('dave', 0),
    conn(null, 0),
  ])

  it('sums sessions per user, users with no session included', () => {
    assert.deepEqual(Object.fromEntries(sessionsByUser(s, 100)), {
      alice: 4,
      bob: 2,
      carol: 2,
      dave: 0,
    })
  })

  it('keeps the top users and sums the rest under other; ties by name', () => {
    assert.deepEqual(Object.fromEntries(sessionsByUser(s, 2)), { alice: 4, bob: 2, other: 2 })
    assert.deepEqual(Object.fromEntries(sessionsByUser(s, 0)), { other: 8 })
  })

  it('never lets an account named other shadow the sum', () => {
    const t = snapshot([conn('other', 5), conn('alice', 1), conn('bob', 1)])
    assert.deepEqual(Object.fromEntries(sessionsByUser(t, 2)), { alice: 1, other: 6 })
  })

  it('is empty with no authenticated connection', () => {
    assert.equal(sessionsByUser(snapshot([conn(null, 0)]), 10).size, 0)
  })
})

describe('processValues', () => {
  it('counts by state, multiplexing and the busiest connection', () => {
    const v = processValues(
      snapshot([conn('alice', 3), conn('bob', 1), conn('bob', 2), conn(null, 0)], [[1, 10, 100]]),
    )
    assert.deepEqual(v, {
      up: 1,
      startups: 1,
      maxStartups: { begin: 10, full: 100 },
      preauth: 1,
      authenticated: 3,
      multiplexed: 2,
      sessionsMax: 3,
    })
  })

  it('sums two listeners (two sshd instances)', () => {
    const v = processValues(
      snapshot(
        [],
        [
          [1, 10, 100],
          [2, 5, 20],
        ],
      ),
    )
    assert.equal(v.startups, 3)
    assert.deepEqual(v.maxStartups, { begin: 15, full: 120 })
  })

  it('without a listener: down, startups from pre-auth connections, no limits', () => {
    const v = processValues(snapshot([conn(null, 0), conn(null, 0), conn('x', 1)]))
    assert.equal(v.up, 0)
    assert.equal(v.startups, 2)
    assert.equal(v.maxStartups, null)
  })
})
