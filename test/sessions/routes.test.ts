/**
 * /sessions and /api/v1/sessions: the query they take, and the routes as the exporter serves
 * them behind --web.enable-sessions (in-process, with inject), against a synthetic procfs.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashSync } from 'bcryptjs'
import { createExporter, type Exporter } from '../../src/exporter.ts'
import type { SessionsReport } from '../../src/model/sessions.ts'
import { parseSessionsQuery, sessionsRoutes } from '../../src/sessions/routes.ts'
import { exporterFlags } from '../helpers/flags.ts'
import { tempProcTree } from '../helpers/procfs-tree.ts'
import { sshdHost, tempRootfs } from '../helpers/sessions-host.ts'
import { silentLogger, testApp } from '../helpers/web-app.ts'

const silent = silentLogger()
const q = (text: string) => parseSessionsQuery(new URLSearchParams(text))

describe('parseSessionsQuery', () => {
  const valid: [string, ReturnType<typeof q>][] = [
    ['', { filter: { user: undefined, stale: false, atMax: false }, refreshSeconds: undefined }],
    [
      'user=alice&stale=1&at_max=true&refresh=5',
      { filter: { user: 'alice', stale: true, atMax: true }, refreshSeconds: 5 },
    ],
    [
      'stale=&at_max',
      { filter: { user: undefined, stale: true, atMax: true }, refreshSeconds: undefined },
    ],
    [
      'stale=0&at_max=false&refresh=1',
      { filter: { user: undefined, stale: false, atMax: false }, refreshSeconds: 1 },
    ],
    [
      'refresh=3600',
      { filter: { user: undefined, stale: false, atMax: false }, refreshSeconds: 3600 },
    ],
    [
      `user=${'u'.repeat(256)}`,
      { filter: { user: 'u'.repeat(256), stale: false, atMax: false }, refreshSeconds: undefined },
    ],
  ]
  for (const [text, parsed] of valid) {
    it(`?${text.slice(0, 60)} is valid`, () => assert.deepEqual(q(text), parsed))
  }
  const invalid: [string, string][] = [
    ['refresh=0', 'refresh="0" is not valid: expected whole seconds, 1 to 3600'],
    ['refresh=3601', 'refresh="3601" is not valid: expected whole seconds, 1 to 3600'],
    ['refresh=abc', 'refresh="abc" is not valid: expected whole seconds, 1 to 3600'],
    ['refresh=', 'refresh="" is not valid: expected whole seconds, 1 to 3600'],
    ['refresh=1.5', 'refresh="1.5" is not valid: expected whole seconds, 1 to 3600'],
    ['refresh=-1', 'refresh="-1" is not valid: expected whole seconds, 1 to 3600'],
    ['stale=2', 'stale="2" is not valid: expected 1 or 0'],
    ['at_max=yes', 'at_max="yes" is not valid: expected 1 or 0'],
    ['user=', 'user is not valid: expected a user name of 1 to 256 characters'],
    [`user=${'u'.repeat(257)}`, 'user is not valid: expected a user name of 1 to 256 characters'],
  ]
  for (const [text, error] of invalid) {
    it(`?${text.slice(0, 60)} is not valid`, () => assert.deepEqual(q(text), { error }))
  }
})

describe('sessionsRoutes in buildApp', () => {
  it('serves the page and the API with no-store, filtered, and 400 for a bad query', async () => {
    let reads = 0
    const fixed: SessionsReport = {
      version: 1,
      generated_at: '2023-11-14T22:13:20.000Z',
      thresholds: { idle_seconds: 3600, preauth_seconds: 120 },
      unavailable: [],
      connections: [],
      utmp_orphans: null,
    }
    const app = testApp({
      routes: sessionsRoutes(() => {
        reads++
        return Promise.resolve(fixed)
      }),
    })
    const page = await app.inject('/sessions?user=alice&refresh=7')
    assert.equal(page.statusCode, 200)
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(page.headers['cache-control'], 'no-store')
    assert.match(page.body, /<meta http-equiv="refresh" content="7">/)
    assert.ok(
      page.body.includes('<a href="/api/v1/sessions?user=alice">JSON</a>'),
      'the JSON link keeps the filter, not the refresh',
    )
    const api = await app.inject('/api/v1/sessions?stale=1')
    assert.equal(api.statusCode, 200)
    assert.equal(api.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(api.headers['cache-control'], 'no-store')
    assert.deepEqual(JSON.parse(api.body), fixed)
    for (const url of ['/sessions?refresh=0', '/api/v1/sessions?stale=2']) {
      const bad = await app.inject(url)
      assert.equal(bad.statusCode, 400, url)
      assert.equal(bad.headers['cache-control'], 'no-store', url)
      assert.equal(bad.headers['content-type'], 'text/plain; charset=utf-8', url)
    }
    assert.equal(
      (await app.inject('/api/v1/sessions?user=')).body,
      'user is not valid: expected a user name of 1 to 256 characters\n',
    )
    assert.equal(reads, 2, 'a bad query reads nothing')
    await app.close()
  })
})

describe('the exporter with and without --web.enable-sessions', () => {
  let procfs: { root: string; remove(): void }
  let rootfs: { root: string; remove(): void }
  let webConfig: string
  before(() => {
    procfs = tempProcTree(sshdHost())
    rootfs = tempRootfs()
    webConfig = join(rootfs.root, 'web.yml')
    writeFileSync(webConfig, `basic_auth_users:\n  alice: ${hashSync('pw', 4)}\n`)
  })
  after(() => {
    procfs.remove()
    rootfs.remove()
  })
  const start = async (extra: string[]): Promise<Exporter> =>
    createExporter(
      exporterFlags([
        `--path.procfs=${procfs.root}`,
        `--path.rootfs=${rootfs.root}`,
        '--no-collector.config',
        '--no-collector.events',
        ...extra,
      ]),
      silent,
    )
  const WARNING = 'The live sessions page is on without authentication'

  it('without it: 404 on both paths, no link and no warning', async () => {
    const { app } = await start([])
    for (const url of ['/sessions', '/api/v1/sessions', '/sessions?refresh=0']) {
      const res = await app.inject(url)
      assert.equal(res.statusCode, 404, url)
      assert.equal(res.body, '404 page not found\n')
    }
    const landing = await app.inject('/')
    assert.ok(!landing.body.includes('/sessions'), 'no link')
    assert.ok(!landing.body.includes(WARNING))
    await app.close()
  })

  it('with it: 200 on both, version 1 JSON of the synthetic host, no-store', async () => {
    const { app } = await start(['--web.enable-sessions'])
    const api = await app.inject('/api/v1/sessions')
    assert.equal(api.statusCode, 200)
    assert.equal(api.headers['cache-control'], 'no-store')
    assert.equal(api.headers['content-type'], 'application/json; charset=utf-8')
    const report = JSON.parse(api.body) as SessionsReport
    assert.equal(report.version, 1)
    assert.equal(report.utmp_orphans, null, 'no utmp under the rootfs')
    assert.deepEqual(
      report.connections.map((c) => [c.pid, c.user, c.state, c.sessions, c.age_seconds, c.stale]),
      [
        [300, 'alice', 'authenticated', 2, 800, []],
        [210, null, 'preauth', 0, 500, ['preauth_overdue']],
      ],
    )
    assert.deepEqual(
      report.connections[0]!.session_processes!.map((s) => [
        s.pid,
        s.kind,
        s.command,
        s.age_seconds,
      ]),
      [
        [302, 'notty', '-bash', 798],
        [303, 'notty', 'sleep 600', 700],
      ],
    )
    assert.deepEqual(
      report.unavailable.map((u) => u.what),
      ['client_addresses', 'max_sessions'],
    )
    const page = await app.inject('/sessions')
    assert.equal(page.statusCode, 200)
    assert.equal(page.headers['cache-control'], 'no-store')
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    assert.match(page.body, /<td>300<\/td><td>alice<\/td>/)
    assert.doesNotMatch(page.body, /http-equiv/)
    const filtered = JSON.parse(
      (await app.inject('/api/v1/sessions?stale=1')).body,
    ) as SessionsReport
    assert.deepEqual(
      filtered.connections.map((c) => c.pid),
      [210],
    )
    const alice = JSON.parse(
      (await app.inject('/api/v1/sessions?user=alice')).body,
    ) as SessionsReport
    assert.deepEqual(
      alice.connections.map((c) => c.pid),
      [300],
    )
    await app.close()
  })

  it('with it: 400 on a bad query', async () => {
    const { app } = await start(['--web.enable-sessions'])
    for (const url of ['/sessions?refresh=3601', '/api/v1/sessions?at_max=2', '/sessions?user=']) {
      const res = await app.inject(url)
      assert.equal(res.statusCode, 400, url)
      assert.equal(res.headers['cache-control'], 'no-store', url)
    }
    assert.equal(
      (await app.inject('/sessions?refresh=abc')).body,
      'refresh="abc" is not valid: expected whole seconds, 1 to 3600\n',
    )
    await app.close()
  })

  it('with it and no web config: the landing page links it and warns', async () => {
    const { app } = await start(['--web.enable-sessions'])
    const landing = await app.inject('/')
    assert.ok(landing.body.includes('<li><a href="/sessions">Live sessions</a></li>'))
    assert.ok(landing.body.includes(`<p class="note"><strong>${WARNING}`))
    await app.close()
  })

  it('with it behind basic auth: no warning, and the pages ask for credentials', async () => {
    const { app } = await start(['--web.enable-sessions', `--web.config.file=${webConfig}`])
    assert.equal((await app.inject('/api/v1/sessions')).statusCode, 401)
    assert.equal((await app.inject('/sessions')).statusCode, 401)
    const authorization = `Basic ${Buffer.from('alice:pw').toString('base64')}`
    const landing = await app.inject({ url: '/', headers: { authorization } })
    assert.equal(landing.statusCode, 200)
    assert.ok(landing.body.includes('<a href="/sessions">Live sessions</a>'))
    assert.ok(!landing.body.includes(WARNING))
    const api = await app.inject({ url: '/api/v1/sessions', headers: { authorization } })
    assert.equal(api.statusCode, 200)
    assert.equal((JSON.parse(api.body) as SessionsReport).version, 1)
    await app.close()
  })
})
