import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  connectionsAtMaxSessions,
  instanceStartups,
  processValues,
  sessionsByUser,
} from '../../src/collectors/processes.ts'
import type { SshdInstance } from '../../src/model/instances.ts'
import type { Connection, SshdSnapshot } from '../../src/model/snapshot.ts'

let nextPid = 1000
function conn(user: string | null, sessions: number): Connection {
  return {
    pid: nextPid++,
    starttime: 1,
    listener: null,
    state: user === null ? 'preauth' : 'authenticated',
    user,
    sessions,
    ptySessions: 0,
    ttys: [],
    postauth: [],
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
      argv: ['/usr/sbin/sshd', '-D'],
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

  it('sums sessions per user, users with no session included, and other at 0 below the cap', () => {
    assert.deepEqual(Object.fromEntries(sessionsByUser(s, 100)), {
      alice: 4,
      bob: 2,
      carol: 2,
      dave: 0,
      other: 0,
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

  it('is other at 0 with no authenticated connection: the sum is 0, not absent', () => {
    assert.deepEqual(Object.fromEntries(sessionsByUser(snapshot([conn(null, 0)]), 10)), {
      other: 0,
    })
    assert.deepEqual(Object.fromEntries(sessionsByUser(snapshot([]), 0)), { other: 0 })
  })
})

describe('processValues', () => {
  it('counts by state, multiplexing and the busiest connection', () => {
    const v = processValues(
      snapshot([conn('alice', 3), conn('bob', 1), conn('bob', 2), conn(null, 0)], [[1, 10, 100]]),
    )
    assert.deepEqual(v, { preauth: 1, authenticated: 3, multiplexed: 2, sessionsMax: 3 })
  })
})

describe('connectionsAtMaxSessions', () => {
  it("compares each connection with its own instance's MaxSessions", () => {
    const a = conn('alice', 4)
    const b = conn('bob', 4)
    const c = conn('carol', 9)
    const pre = conn(null, 0)
    const max = new Map([
      [a.pid, 4],
      [b.pid, 10],
      [pre.pid, 0],
    ])
    // carol's instance is unknown: not counted; a pre-auth connection never is.
    assert.equal(
      connectionsAtMaxSessions(snapshot([a, b, c, pre]), (pid) => max.get(pid)),
      1,
    )
  })
})

describe('instanceStartups', () => {
  const s = snapshot([], [[2, 10, 100]])
  const listener = s.listeners[0]!
  const base = { port: '22', config: null, connections: [conn(null, 0), conn('x', 1)] }

  it("a titled listener's own count and limits", () => {
    const i: SshdInstance = { ...base, mode: 'process', listener }
    assert.deepEqual(instanceStartups(i), { startups: 2, limits: { begin: 10, full: 100 } })
  })

  it('an untitled listener: its pre-auth connections, limits from its configuration', () => {
    const untitled = { ...listener, startups: null, maxStartupsBegin: null, maxStartupsFull: null }
    const i: SshdInstance = { ...base, mode: 'process', listener: untitled }
    assert.deepEqual(instanceStartups(i), { startups: 1, limits: null })
  })

  it('a socket held for sshd: 0 startups, no limits; per-connection sshd: none at all', () => {
    assert.deepEqual(
      instanceStartups({ ...base, connections: [], mode: 'socket_activated', listener: null }),
      { startups: 0, limits: null },
    )
    assert.equal(instanceStartups({ ...base, mode: 'per_connection', listener: null }), null)
  })
})
