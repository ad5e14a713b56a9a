/**
 * The /sessions page: every text the host supplies escaped, no script, no asset from elsewhere,
 * a refresh only when asked, and the terminal table's columns.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  buildSessionsReport,
  type SessionsInput,
  type SessionsReport,
} from '../../src/model/sessions.ts'
import { renderHtml, type HtmlOptions } from '../../src/sessions/html.ts'
import { renderText } from '../../src/sessions/text.ts'
import {
  connection,
  NOW,
  session,
  sessionsInput,
  socket,
  ticksForAge,
  utmpRecord,
} from '../helpers/sessions-input.ts'

const XSS = '<script>alert("x")</script>'
const XSS_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'

function report(over: Partial<SessionsInput> = {}): SessionsReport {
  return buildSessionsReport(
    sessionsInput({
      snapshot: {
        listeners: [],
        connections: [
          connection(300, {
            user: XSS,
            sessions: 2,
            ptySessions: 1,
            ttys: ['pts/0'],
            starttime: ticksForAge(4000),
          }),
          connection(210, { state: 'preauth', user: null, starttime: ticksForAge(500) }),
        ],
      },
      sockets: new Map([
        [300, socket({ remoteAddress: '2001:db8::7', remotePort: 50022, inode: 9 })],
      ]),
      instanceOf: () => ({ port: '22', maxSessions: 2 }),
      ttyIdle: () => 7200,
      sessionsOf: (c) =>
        c.pid === 300
          ? [
              session(302, 3990, 'pty', `bash -c '${XSS}' & echo "a&b"`, 'pts/0'),
              { ...session(303, 30, 'notty', null), exited: true },
            ]
          : [],
      utmp: [
        utmpRecord({
          pid: 777,
          line: 'pts/9',
          id: 'ts/9',
          user: '<b>dave</b>',
          host: '<img src=//evil.example/x onerror=alert(1)>',
          time: NOW - 60,
        }),
      ],
      unavailable: [{ what: 'utmp', why: 'utmp cannot be read: <EACCES>' }],
      ...over,
    }),
  )
}

const options = (over: Partial<HtmlOptions> = {}): HtmlOptions => ({
  refreshSeconds: undefined,
  filter: {},
  home: '/',
  api: '/api/v1/sessions',
  ...over,
})

describe('renderHtml', () => {
  const html = renderHtml(report(), options())

  it('escapes a <script> in a user name and a command line', () => {
    assert.ok(html.includes(`<td>${XSS_ESCAPED}</td>`), 'the user cell holds the escaped name')
    assert.ok(
      html.includes(`<code>bash -c &#39;${XSS_ESCAPED}&#39; &amp; echo &quot;a&amp;b&quot;</code>`),
      'the command line is escaped',
    )
    assert.ok(!html.includes(XSS))
  })

  it('has no script tag, and no inline event handler', () => {
    assert.doesNotMatch(html, /<script/i)
    assert.doesNotMatch(html, /<[^>]+\son\w+=/i)
  })

  it('escapes the utmp orphans, the notes and the filter', () => {
    assert.ok(
      html.includes(
        '<li>pts/9 &lt;b&gt;dave&lt;/b&gt; from &lt;img src=//evil.example/x onerror=alert(1)&gt;, pid 777 gone, since 2023-11-14T22:12:20.000Z</li>',
      ),
    )
    assert.ok(html.includes('<p class="note">utmp cannot be read: &lt;EACCES&gt;</p>'))
    const filtered = renderHtml(report(), options({ filter: { user: '<i>x</i>', stale: true } }))
    assert.ok(
      filtered.includes('<h1>sshd sessions (user &lt;i&gt;x&lt;/i&gt;, stale only)</h1>'),
      filtered,
    )
  })

  it('loads nothing from another origin: every src and href is a path on this one', () => {
    const hostile = renderHtml(
      report(),
      options({ api: '/api/v1/sessions?user=%22%3E%3Cscript%3E', home: '/' }),
    )
    for (const page of [html, hostile]) {
      // The attributes of the page's own tags: escaped text holds no tag.
      const tags = page.match(/<[a-z][^>]*>/gi) ?? []
      const refs = tags.flatMap((tag) =>
        [...tag.matchAll(/\s(src|href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi)].map((m) => m[2]!),
      )
      assert.deepEqual(
        refs.filter((r) => !/^"\/(?!\/)/.test(r)),
        [],
        'only same-origin paths',
      )
    }
    assert.deepEqual(
      [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]),
      ['/api/v1/sessions', '/'],
    )
    assert.doesNotMatch(html, /<link|<img|<iframe|@import|url\(/i)
  })

  it('refreshes itself only when asked', () => {
    assert.doesNotMatch(html, /http-equiv/i)
    const refreshing = renderHtml(report(), options({ refreshSeconds: 5 }))
    assert.equal(refreshing.match(/<meta http-equiv="refresh" content="5">/g)?.length, 1)
    assert.equal(refreshing.match(/http-equiv/g)?.length, 1)
  })

  it('has the same 8 columns as the terminal table', () => {
    const th = [...html.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1])
    const text = renderText(report(), { sessions: false })
    const header = text.split('\n')[2]!.split(/\s+/)
    assert.equal(th.length, 8)
    assert.deepEqual(th, header)
    assert.deepEqual(th, ['PID', 'USER', 'CLIENT', 'STATE', 'AGE', 'SESSIONS', 'PTYS', 'STALE'])
  })

  it('shows each connection with its sessions under it', () => {
    assert.ok(
      html.includes(
        `<tr class="connection"><td>300</td><td>${XSS_ESCAPED}</td><td>[2001:db8::7]:50022</td><td>authenticated</td><td>1h06m</td><td>2/2 max</td><td>pts/0 idle 2h00m</td><td class="stale">idle: kill 300</td></tr>`,
      ),
      html,
    )
    assert.ok(
      html.includes(
        '<tr class="session"><td>303</td><td colspan="7">notty · 30s <code>(exited, not yet reaped by sshd)</code></td></tr>',
      ),
    )
    assert.ok(
      html.includes(
        '<tr class="connection"><td>210</td><td>-</td><td>-</td><td>preauth</td><td>8m20s</td><td>-</td><td>-</td><td class="stale">preauth_overdue: kill 210</td></tr>',
      ),
    )
    assert.ok(
      html.includes('<p>2 connections, 2 sessions, 2 stale, read at 2023-11-14T22:13:20.000Z.'),
    )
  })

  it('neutralises bidi overrides in host text, as the terminal table does', () => {
    const bidi = renderHtml(
      report({
        sessionsOf: () => [session(302, 10, 'notty', 'cat invoice\u202Efdp.sh')],
      }),
      options(),
    )
    assert.doesNotMatch(bidi, /\u202E/)
  })
})
