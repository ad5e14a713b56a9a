import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  buildSessionsReport,
  filterSessions,
  type SessionProcess,
  type SessionsInput,
  type SessionsReport,
} from '../../src/model/sessions.ts'
import type { Connection } from '../../src/model/snapshot.ts'
import { deadPeers, type SshdSockets } from '../../src/model/sockets.ts'
import { staleValues } from '../../src/model/stale.ts'
import { type TcpSocket, TcpTimer } from '../../src/sources/net-tcp/table.ts'
import { UtmpType } from '../../src/sources/utmp/parse.ts'
import {
  connection,
  NOW,
  sessionsInput,
  socket,
  TICKS,
  ticksForAge,
  UPTIME,
  utmpRecord,
} from '../helpers/sessions-input.ts'

const BOOT = NOW - UPTIME
const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString()

/** A connection with one session. */
const conn = (pid: number, over: Partial<Connection> = {}): Connection =>
  connection(pid, { sessions: 1, ...over })

const input = (connections: Connection[], over: Partial<SessionsInput> = {}): SessionsInput =>
  sessionsInput({ snapshot: { listeners: [], connections }, ...over })

const report = (connections: Connection[], over: Partial<SessionsInput> = {}) =>
  buildSessionsReport(input(connections, over))

const byPid = (r: SessionsReport, pid: number) => {
  const row = r.connections.find((c) => c.pid === pid)
  assert.ok(row, `no row for pid ${pid}`)
  return row
}

describe('buildSessionsReport', () => {
  it('sorts by sessions (most first), then age (oldest first), then pid', () => {
    const r = report([
      conn(50, { sessions: 1, starttime: ticksForAge(100) }),
      conn(40, { sessions: 3, starttime: ticksForAge(10) }),
      conn(30, { sessions: 3, starttime: ticksForAge(500) }),
      conn(70, { sessions: 1, starttime: ticksForAge(100) }),
      conn(20, { sessions: 1, starttime: ticksForAge(100) }),
      conn(10, { sessions: 0, starttime: ticksForAge(9000), state: 'preauth', user: null }),
      conn(60, { sessions: 1, starttime: ticksForAge(100.5) }),
    ])
    assert.deepEqual(
      r.connections.map((c) => c.pid),
      [30, 40, 60, 20, 50, 70, 10],
    )
  })

  it('gives start times and ages from starttime, uptime and now, to the millisecond', () => {
    const r = report(
      [
        conn(300, {
          starttime: 12_345, // 123.45 s after boot
          ttys: ['pts/0'],
          ptySessions: 1,
        }),
      ],
      {
        sessionsOf: (c): SessionProcess[] => [
          {
            pid: c.pid + 2,
            starttime: 20_001,
            kind: 'pty',
            tty: 'pts/0',
            command: '-bash',
            exited: false,
          },
          {
            pid: c.pid + 3,
            starttime: 30_000,
            kind: 'notty',
            tty: null,
            command: null,
            exited: true,
          },
        ],
        ttyIdle: (line) => (line === 'pts/0' ? 42.5 : null),
      },
    )
    const row = byPid(r, 300)
    assert.equal(row.started_at, '2023-11-14T19:28:43.450Z')
    assert.equal(row.started_at, iso(BOOT + 123.45))
    assert.equal(row.age_seconds, 9876.55)
    assert.equal(r.generated_at, '2023-11-14T22:13:20.000Z')
    assert.deepEqual(row.ptys, [{ tty: 'pts/0', idle_seconds: 42.5 }])
    assert.deepEqual(row.session_processes, [
      {
        pid: 302,
        kind: 'pty',
        tty: 'pts/0',
        started_at: iso(BOOT + 200.01),
        age_seconds: 9799.99,
        idle_seconds: 42.5,
        command: '-bash',
        exited: false,
      },
      {
        pid: 303,
        kind: 'notty',
        tty: null,
        started_at: iso(BOOT + 300),
        age_seconds: 9700,
        idle_seconds: null,
        command: null,
        exited: true,
      },
    ])
    assert.equal(row.end_command, 'kill 300')
    assert.equal(row.instance_port, '22')
  })

  it('never gives a negative age (a process started after the uptime was read)', () => {
    const r = report([conn(300, { starttime: (UPTIME + 5) * TICKS })])
    assert.equal(byPid(r, 300).age_seconds, 0)
    assert.equal(byPid(r, 300).started_at, iso(NOW + 5))
  })

  describe('preauth_overdue', () => {
    it('is not given at exactly the threshold, and is given past it', () => {
      const r = report([
        conn(1, { state: 'preauth', user: null, sessions: 0, starttime: ticksForAge(120) }),
        conn(2, { state: 'preauth', user: null, sessions: 0, starttime: ticksForAge(120.01) }),
        conn(3, { state: 'authenticated', starttime: ticksForAge(5000) }),
      ])
      assert.equal(byPid(r, 1).age_seconds, 120)
      assert.deepEqual(byPid(r, 1).stale, [])
      assert.deepEqual(byPid(r, 2).stale, ['preauth_overdue'])
      assert.deepEqual(byPid(r, 3).stale, [], 'an authenticated connection is never overdue')
    })

    it('counts as the stale collector counts sshd_stale_sessions{reason="preauth_overdue"}', () => {
      const connections = [119, 120, 120.01, 121, 5000].map((age, i) =>
        conn(i + 1, { state: 'preauth', user: null, sessions: 0, starttime: ticksForAge(age) }),
      )
      const r = report(connections)
      const values = staleValues({
        snapshot: { listeners: [], connections },
        connectionAge: (c) => UPTIME - c.starttime / TICKS,
        preauthThresholdSeconds: 120,
        utmp: null,
        pidState: () => null,
        ttyIdle: () => null,
        idleThresholdSeconds: 3600,
      })
      assert.equal(values.preauthOverdue, 3)
      assert.equal(
        r.connections.filter((c) => c.stale.includes('preauth_overdue')).length,
        values.preauthOverdue,
      )
    })
  })

  describe('idle', () => {
    const idleOf: Record<string, number | null> = {
      'pts/0': 3600,
      'pts/1': 3600.001,
      'pts/2': null,
      'pts/3': 10,
    }
    const r = report(
      [
        conn(10, { ttys: ['pts/0'], ptySessions: 1 }),
        conn(20, { ttys: ['pts/3', 'pts/1'], ptySessions: 2, sessions: 2 }),
        conn(30, { ttys: ['pts/2'], ptySessions: 1 }),
        conn(40, { ttys: [], ptySessions: 0 }),
      ],
      { ttyIdle: (line) => idleOf[line] ?? null },
    )
    it('is not given at exactly the threshold', () => {
      assert.deepEqual(byPid(r, 10).stale, [])
      assert.deepEqual(byPid(r, 10).ptys, [{ tty: 'pts/0', idle_seconds: 3600 }])
    })
    it('is given when any pty is idle past it, once', () => {
      assert.deepEqual(byPid(r, 20).stale, ['idle'])
      assert.deepEqual(byPid(r, 20).ptys, [
        { tty: 'pts/3', idle_seconds: 10 },
        { tty: 'pts/1', idle_seconds: 3600.001 },
      ])
    })
    it('is not given for a tty whose device is gone, nor without a pty', () => {
      assert.deepEqual(byPid(r, 30).stale, [])
      assert.deepEqual(byPid(r, 30).ptys, [{ tty: 'pts/2', idle_seconds: null }])
      assert.deepEqual(byPid(r, 40).stale, [])
      assert.deepEqual(byPid(r, 40).ptys, [])
    })
  })

  describe('dead_peer', () => {
    const retransmitting = socket({
      state: 'ESTABLISHED',
      timerActive: TcpTimer.RETRANSMIT,
      retransmits: 2,
    })
    const sockets = new Map<number, TcpSocket | undefined>([
      [10, socket({ remoteAddress: '198.51.100.1', remotePort: 40001 })],
      [20, socket({ remoteAddress: '198.51.100.2', remotePort: 40002, state: 'CLOSE_WAIT' })],
      [30, undefined],
      [40, retransmitting],
      [50, socket({ timerActive: TcpTimer.RETRANSMIT, retransmits: 0 })],
    ])
    const connections = [10, 20, 30, 40, 50, 60].map((pid) => conn(pid))
    const r = report(connections, { sockets })

    it('is not given for a live peer, and the client is its address and port', () => {
      assert.deepEqual(byPid(r, 10).stale, [])
      assert.deepEqual(byPid(r, 10).client, { address: '198.51.100.1', port: 40001 })
      assert.deepEqual(byPid(r, 50).stale, [], 'data in flight alone is no dead peer')
    })
    it('is given for a socket in CLOSE_WAIT, whose client is still shown', () => {
      assert.deepEqual(byPid(r, 20).stale, ['dead_peer'])
      assert.deepEqual(byPid(r, 20).client, { address: '198.51.100.2', port: 40002 })
    })
    it('is given for a connection whose socket is gone from the table (undefined in the map)', () => {
      assert.deepEqual(byPid(r, 30).stale, ['dead_peer'])
      assert.equal(byPid(r, 30).client, null)
    })
    it('is given for a socket retransmitting unanswered data', () => {
      assert.deepEqual(byPid(r, 40).stale, ['dead_peer'])
    })
    it('is not given for a connection not in the map (exited while sockets were matched)', () => {
      assert.deepEqual(byPid(r, 60).stale, [])
      assert.equal(byPid(r, 60).client, null)
    })
    it('counts as the sockets collector counts dead peers', () => {
      const all: SshdSockets = {
        ports: [22],
        listening: [22],
        permitted: true,
        connections: [],
        malformed: 0,
      }
      assert.equal(deadPeers(all, sockets), 3)
      assert.equal(r.connections.filter((c) => c.stale.includes('dead_peer')).length, 3)
    })
    it('is never given when the sockets cannot be read (null), and no client is known', () => {
      const unread = report(connections, { sockets: null })
      for (const c of unread.connections) {
        assert.deepEqual(c.stale, [], `pid ${c.pid}`)
        assert.equal(c.client, null, `pid ${c.pid}`)
      }
    })
    it('lists the reasons in the order preauth_overdue, idle, dead_peer', () => {
      const both = report(
        [
          conn(1, { state: 'preauth', user: null, sessions: 0, starttime: ticksForAge(500) }),
          conn(2, { ttys: ['pts/9'], ptySessions: 1 }),
        ],
        {
          sockets: new Map([
            [1, undefined],
            [2, socket({ state: 'LAST_ACK' })],
          ]),
          ttyIdle: () => 99_999,
        },
      )
      assert.deepEqual(byPid(both, 1).stale, ['preauth_overdue', 'dead_peer'])
      assert.deepEqual(byPid(both, 2).stale, ['idle', 'dead_peer'])
    })
  })

  describe('at_max', () => {
    const maxOf: Record<number, { port: string; maxSessions: number | undefined } | undefined> = {
      10: { port: '22', maxSessions: 3 },
      20: { port: '22', maxSessions: 3 },
      30: { port: '2222', maxSessions: undefined },
      40: undefined,
      50: { port: '22', maxSessions: 3 },
      60: { port: '22', maxSessions: 0 },
    }
    const r = report(
      [
        conn(10, { sessions: 3 }),
        conn(20, { sessions: 2 }),
        conn(30, { sessions: 99 }),
        conn(40, { sessions: 99 }),
        conn(50, { sessions: 4 }),
        conn(60, { sessions: 0, state: 'preauth', user: null }),
      ],
      { instanceOf: (pid) => maxOf[pid] },
    )
    it('is true at MaxSessions and above, false below', () => {
      assert.equal(byPid(r, 10).at_max, true)
      assert.equal(byPid(r, 10).max_sessions, 3)
      assert.equal(byPid(r, 50).at_max, true)
      assert.equal(byPid(r, 20).at_max, false)
      assert.equal(byPid(r, 20).max_sessions, 3)
    })
    it('is false when MaxSessions is unknown, with max_sessions null', () => {
      assert.equal(byPid(r, 30).at_max, false)
      assert.equal(byPid(r, 30).max_sessions, null)
      assert.equal(byPid(r, 30).instance_port, '2222')
      assert.equal(byPid(r, 40).at_max, false)
      assert.equal(byPid(r, 40).max_sessions, null)
      assert.equal(byPid(r, 40).instance_port, null)
    })
    it('is false before authentication', () => {
      assert.equal(byPid(r, 60).at_max, false)
      assert.equal(byPid(r, 60).max_sessions, 0)
    })
  })

  describe('utmp orphans', () => {
    const alive = new Map<number, number>([
      [501, NOW - 3600 + 3], // started 3 s after the login: reused
      [502, NOW - 3600 + 2], // within the slack: the login's own process
      [503, NOW - 7200], // started before the login
    ])
    const records = [
      utmpRecord({ pid: 500, line: 'pts/4', user: 'bob', host: '203.0.113.9' }),
      utmpRecord({ pid: 501, line: 'pts/5', user: 'carol', host: '2001:db8::5' }),
      utmpRecord({ pid: 502, line: 'pts/6' }),
      utmpRecord({ pid: 503, line: 'pts/7' }),
      // Not sshd's: a console login, screen's, a dead process, a login process.
      utmpRecord({ pid: 600, line: 'tty1', host: '' }),
      utmpRecord({ pid: 601, line: 'pts/8', host: ':pts/2:S.0' }),
      utmpRecord({ pid: 602, line: 'pts/9', type: UtmpType.DEAD_PROCESS }),
      utmpRecord({ pid: 603, line: 'pts/10', host: '' }),
    ]
    const pidState = (pid: number) => {
      const startedAt = alive.get(pid)
      return startedAt === undefined ? null : { startedAt }
    }
    it('lists the sshd logins whose process is gone or whose pid was reused', () => {
      const r = report([], { utmp: records, pidState })
      assert.deepEqual(r.utmp_orphans, [
        {
          line: 'pts/4',
          user: 'bob',
          host: '203.0.113.9',
          pid: 500,
          login_at: iso(NOW - 3600),
          why: 'gone',
        },
        {
          line: 'pts/5',
          user: 'carol',
          host: '2001:db8::5',
          pid: 501,
          login_at: iso(NOW - 3600),
          why: 'reused',
        },
      ])
    })
    it('is null without utmp, and empty with an empty one', () => {
      assert.equal(report([], { utmp: null, pidState }).utmp_orphans, null)
      assert.deepEqual(report([], { utmp: [], pidState }).utmp_orphans, [])
    })
  })

  it('carries the schema version, thresholds and what was unavailable', () => {
    const unavailable = [{ what: 'utmp' as const, why: 'utmp cannot be read: EACCES' }]
    const r = report([], { unavailable, idleThresholdSeconds: 900, preauthThresholdSeconds: 30 })
    assert.equal(r.version, 1)
    assert.deepEqual(r.thresholds, { idle_seconds: 900, preauth_seconds: 30 })
    assert.deepEqual(r.unavailable, unavailable)
    assert.deepEqual(r.connections, [])
  })
})

describe('filterSessions', () => {
  const records = [
    utmpRecord({ pid: 500, line: 'pts/4', user: 'alice' }),
    utmpRecord({ pid: 501, line: 'pts/5', user: 'bob' }),
  ]
  // alice: 10 at max and idle, 20 not; bob: 30 at max, 40 dead peer; 50 pre-auth, overdue.
  const full = report(
    [
      conn(10, { sessions: 3, ttys: ['pts/0'], ptySessions: 1, starttime: ticksForAge(900) }),
      conn(20, { sessions: 2, starttime: ticksForAge(800) }),
      conn(30, { user: 'bob', sessions: 3, starttime: ticksForAge(700) }),
      conn(40, { user: 'bob', sessions: 1, starttime: ticksForAge(600) }),
      conn(50, { user: null, state: 'preauth', sessions: 0, starttime: ticksForAge(500) }),
    ],
    {
      instanceOf: () => ({ port: '22', maxSessions: 3 }),
      ttyIdle: () => 99_999,
      sockets: new Map([
        [10, socket()],
        [20, socket()],
        [30, socket()],
        [40, socket({ state: 'CLOSE_WAIT' })],
        [50, socket()],
      ]),
      utmp: records,
      pidState: () => null,
    },
  )
  const pids = (r: SessionsReport) => r.connections.map((c) => c.pid)
  const orphanPids = (r: SessionsReport) => r.utmp_orphans?.map((o) => o.pid) ?? null

  it('the unfiltered report is what the tests below expect', () => {
    assert.deepEqual(pids(full), [10, 30, 20, 40, 50])
    assert.deepEqual(
      full.connections.map((c) => [c.pid, c.at_max, c.stale]),
      [
        [10, true, ['idle']],
        [30, true, []],
        [20, false, []],
        [40, false, ['dead_peer']],
        [50, false, ['preauth_overdue']],
      ],
    )
    assert.deepEqual(orphanPids(full), [500, 501])
  })

  it('no filter keeps everything', () => {
    assert.deepEqual(filterSessions(full, {}), full)
    assert.deepEqual(filterSessions(full, { user: undefined, stale: false, atMax: false }), full)
  })

  it('user: that user’s connections and utmp logins', () => {
    const r = filterSessions(full, { user: 'bob' })
    assert.deepEqual(pids(r), [30, 40])
    assert.deepEqual(orphanPids(r), [501])
    assert.deepEqual(pids(filterSessions(full, { user: 'nobody' })), [])
    assert.deepEqual(orphanPids(filterSessions(full, { user: 'nobody' })), [])
  })

  it('stale: the stale connections, and every utmp orphan', () => {
    const r = filterSessions(full, { stale: true })
    assert.deepEqual(pids(r), [10, 40, 50])
    assert.deepEqual(orphanPids(r), [500, 501])
  })

  it('atMax: the connections at MaxSessions, and no utmp orphan', () => {
    const r = filterSessions(full, { atMax: true })
    assert.deepEqual(pids(r), [10, 30])
    assert.deepEqual(r.utmp_orphans, [])
  })

  it('combinations narrow each other', () => {
    assert.deepEqual(pids(filterSessions(full, { user: 'alice', stale: true })), [10])
    assert.deepEqual(orphanPids(filterSessions(full, { user: 'alice', stale: true })), [500])
    assert.deepEqual(pids(filterSessions(full, { user: 'bob', atMax: true })), [30])
    assert.deepEqual(pids(filterSessions(full, { stale: true, atMax: true })), [10])
    assert.deepEqual(pids(filterSessions(full, { user: 'bob', stale: true, atMax: true })), [])
    const all = filterSessions(full, { user: 'alice', stale: true, atMax: true })
    assert.deepEqual(pids(all), [10])
    assert.deepEqual(all.utmp_orphans, [])
  })

  it('null utmp_orphans stay null whatever the filter', () => {
    const noUtmp: SessionsReport = { ...full, utmp_orphans: null }
    for (const filter of [{}, { user: 'alice' }, { stale: true }, { atMax: true }]) {
      assert.equal(filterSessions(noUtmp, filter).utmp_orphans, null, JSON.stringify(filter))
    }
  })

  it('keeps the rest of the report, and leaves the report given alone', () => {
    const before = structuredClone(full)
    const r = filterSessions(full, { user: 'bob', atMax: true })
    assert.equal(r.version, 1)
    assert.equal(r.generated_at, full.generated_at)
    assert.deepEqual(r.thresholds, full.thresholds)
    assert.deepEqual(full, before)
  })
})
