/**
 * The terminal table of `sshd-exporter sessions`: ages, escaping, and a golden file of a fixed
 * report (golden/table.txt) built with buildSessionsReport from fixed inputs: a pre-auth
 * connection hanging past the threshold, alice with three sessions (one on a pty), bob idle on
 * his pty past the idle threshold, carol from an IPv6 address at her MaxSessions, and a utmp
 * login whose process is gone. UPDATE_GOLDEN=1 rewrites the golden file: read the diff.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  buildSessionsReport,
  type SessionProcess,
  type SessionsReport,
} from '../../src/model/sessions.ts'
import { formatAge, printable, renderText } from '../../src/sessions/text.ts'
import {
  connection,
  NOW,
  session,
  sessionsInput,
  socket,
  ticksForAge,
  utmpRecord,
} from '../helpers/sessions-input.ts'

const GOLDEN = join(import.meta.dirname, 'golden', 'table.txt')

/** A socket from remoteAddress:remotePort, its inode the port. */
const socketFrom = (remoteAddress: string, remotePort: number) =>
  socket({ remoteAddress, remotePort, inode: remotePort })

const orphan = utmpRecord({
  pid: 777,
  line: 'pts/9',
  id: 'ts/9',
  user: 'dave',
  host: '192.0.2.77',
  time: NOW - 90_000,
})

function fixedReport(): SessionsReport {
  const sessions: Record<number, SessionProcess[]> = {
    300: [
      session(302, 3000, 'pty', '-bash', 'pts/0'),
      session(303, 1200, 'notty', 'rsync --server -vlogDtpre.iLsfxCIvu . /srv/backup'),
      session(304, 45, 'internal-sftp', null),
    ],
    400: [session(402, 90_061, 'pty', 'vim /etc/hosts', 'pts/1')],
    500: [session(502, 59, 'notty', 'sleep 600')],
  }
  const idle: Record<string, number> = { 'pts/0': 75, 'pts/1': 7300 }
  return buildSessionsReport(
    sessionsInput({
      snapshot: {
        listeners: [],
        connections: [
          connection(210, { state: 'preauth', user: null, starttime: ticksForAge(300) }),
          connection(300, {
            sessions: 3,
            ptySessions: 1,
            ttys: ['pts/0'],
            starttime: ticksForAge(3001),
          }),
          connection(400, {
            user: 'bob',
            sessions: 1,
            ptySessions: 1,
            ttys: ['pts/1'],
            starttime: ticksForAge(90_062),
          }),
          connection(500, { user: 'carol', sessions: 1, starttime: ticksForAge(60) }),
        ],
      },
      sockets: new Map([
        [210, socketFrom('203.0.113.50', 60001)],
        [300, socketFrom('198.51.100.7', 51000)],
        [400, socketFrom('198.51.100.8', 51234)],
        [500, socketFrom('2001:db8::42', 50022)],
      ]),
      instanceOf: (pid) => ({ port: '22', maxSessions: pid === 500 ? 1 : 10 }),
      ttyIdle: (line) => idle[line] ?? null,
      sessionsOf: (c) => sessions[c.pid] ?? [],
      utmp: [orphan],
      pidState: () => null,
    }),
  )
}

describe('formatAge', () => {
  const cases: [number | null, string][] = [
    [null, '-'],
    [0, '0s'],
    [59, '59s'],
    [59.999, '59s'],
    [60, '1m00s'],
    [61, '1m01s'],
    [3599, '59m59s'],
    [3600, '1h00m'],
    [3661, '1h01m'],
    [86_399, '23h59m'],
    [86_400, '1d00h'],
    [90_061, '1d01h'],
    [10 * 86_400 + 3 * 3600, '10d03h'],
  ]
  for (const [seconds, text] of cases) {
    it(`${seconds} is ${text}`, () => assert.equal(formatAge(seconds), text))
  }
})

describe('printable', () => {
  it('escapes ESC, tab, DEL, C1 controls and bidi overrides', () => {
    assert.equal(printable('\x1b[31mred'), '\\x1b[31mred')
    assert.equal(printable('a\tb'), 'a\\x09b')
    assert.equal(printable('a\x7fb'), 'a\\x7fb')
    assert.equal(printable('a\x9bb'), 'a\\x9bb')
    assert.equal(printable('abc\u202Etxt.exe'), 'abc\\u202etxt.exe')
    assert.equal(printable('\u2066x\u2069'), '\\u2066x\\u2069')
    assert.equal(printable('line\nbreak\r'), 'line\\x0abreak\\x0d')
  })
  it('leaves printable text as it is, non-ASCII letters included', () => {
    assert.equal(
      printable('rsync --server -e.iLs . /srv/Zürich ~'),
      'rsync --server -e.iLs . /srv/Zürich ~',
    )
  })
})

describe('renderText', () => {
  it('matches golden/table.txt (UPDATE_GOLDEN=1 rewrites it)', () => {
    const text = renderText(fixedReport(), { sessions: true })
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(join(import.meta.dirname, 'golden'), { recursive: true })
      writeFileSync(GOLDEN, text)
    }
    assert.equal(text, readFileSync(GOLDEN, 'utf8'), `${GOLDEN}; UPDATE_GOLDEN=1 rewrites it`)
  })

  it('without sessions, leaves out the session rows only', () => {
    const withSessions = renderText(fixedReport(), { sessions: true })
    const without = renderText(fixedReport(), { sessions: false })
    assert.equal(
      without,
      withSessions
        .split('\n')
        .filter((line) => !/^ {4}\d/.test(line))
        .join('\n'),
    )
  })

  it('says so when there is no connection, and prints no table', () => {
    const empty = buildSessionsReport(sessionsInput())
    assert.equal(
      renderText(empty, { sessions: true }),
      '0 connections, 0 sessions, 0 stale, 0 at MaxSessions (2023-11-14T22:13:20.000Z)\n',
    )
  })

  it('lines up user names in wide and combining characters by the columns they take', () => {
    const report = buildSessionsReport(
      sessionsInput({
        snapshot: {
          listeners: [],
          connections: [
            connection(300, { user: '山田', sessions: 1, starttime: ticksForAge(100) }),
            connection(400, { user: 'jose\u0301', sessions: 1, starttime: ticksForAge(100) }),
            connection(500, { user: 'bob', sessions: 1, starttime: ticksForAge(100) }),
          ],
        },
      }),
    )
    // 山田 takes four columns and josé (e and a combining accent) four, as USER does: the
    // columns after USER start where the header's do, whatever the string's length.
    assert.deepEqual(renderText(report, { sessions: false }).split('\n').slice(2, 6), [
      'PID  USER  CLIENT  STATE          AGE    SESSIONS  PTYS  STALE',
      '300  山田  -       authenticated  1m40s  1/10      -     -',
      '400  jose\u0301  -       authenticated  1m40s  1/10      -     -',
      '500  bob   -       authenticated  1m40s  1/10      -     -',
    ])
  })

  it('escapes a command line and a user holding escape sequences, and the columns still line up', () => {
    const evil = '\x1b]0;owned\x07\x1b[2J'
    const report = buildSessionsReport(
      sessionsInput({
        snapshot: {
          listeners: [],
          connections: [
            connection(300, { user: `eve${evil}`, sessions: 2, starttime: ticksForAge(100) }),
            connection(400, { user: 'bob', sessions: 1, starttime: ticksForAge(100) }),
          ],
        },
        sessionsOf: (c) =>
          c.pid === 300
            ? [
                session(302, 90, 'notty', `printf '${evil}'`),
                session(30_000, 80, 'notty', 'sleep\t600'),
              ]
            : [],
        utmp: [
          utmpRecord({
            pid: 777,
            line: 'pts/9',
            id: 'ts/9',
            user: 'dave',
            host: `x\u202Emoc.elpmaxe`,
            time: NOW - 60,
          }),
          utmpRecord({
            pid: 12,
            line: 'pts/10',
            id: 'ts/10',
            user: `m\x1b[8m`,
            host: '192.0.2.1',
            time: NOW - 60,
          }),
        ],
      }),
    )
    const text = renderText(report, { sessions: true })
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f\u202e]/, 'no control character but newlines')
    const escaped = '\\x1b]0;owned\\x07\\x1b[2J'
    const user = `eve${escaped}`
    assert.equal(
      text,
      [
        '2 connections, 3 sessions, 0 stale, 0 at MaxSessions (2023-11-14T22:13:20.000Z)',
        '',
        `PID  ${'USER'.padEnd(user.length)}  CLIENT  STATE          AGE    SESSIONS  PTYS  STALE`,
        `300  ${user}  -       authenticated  1m40s  2/10      -     -`,
        `    302    notty  1m30s    printf '${escaped}'`,
        '    30000  notty  1m20s    sleep\\x09600',
        `400  ${'bob'.padEnd(user.length)}  -       authenticated  1m40s  1/10      -     -`,
        '',
        'utmp logins with no session behind them (who and last show them; nothing to end):',
        `  pts/9   ${'dave'.padEnd('m\\x1b[8m'.length)}  from x\\u202emoc.elpmaxe  pid 777 gone  since 2023-11-14T22:12:20.000Z`,
        '  pts/10  m\\x1b[8m  from 192.0.2.1           pid 12 gone   since 2023-11-14T22:12:20.000Z',
        '',
      ].join('\n'),
    )
  })
})
