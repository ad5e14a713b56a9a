/**
 * The web config in force, in-process: the app built on a WebConfigSource, over real TLS
 * connections where the handshake matters, with inject() where it does not.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { hashSync } from 'bcryptjs'
import { WebConfigSource } from '../../src/web/web.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { type ClientOptions, get } from '../helpers/exporter.ts'
import { jsonLinesLogger, listenOnLoopback, testApp } from '../helpers/web-app.ts'

let root: string
let certs: TestCerts
before(() => {
  root = mkdtempSync(join(tmpdir(), 'sshd-exporter-webapp-'))
  certs = makeCerts(root)
})
after(() => rmSync(root, { recursive: true, force: true }))

const HASH = hashSync('pw', 4)
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

let n = 0

async function serve(t: TestContext, lines: string[]) {
  const file = join(root, `web-${++n}.yml`)
  writeFileSync(file, lines.join('\n'))
  const { logger, logs } = jsonLinesLogger('debug')
  const source = await WebConfigSource.open(file, logger, 'sshd-exporter')
  const app = testApp({ logger, web: source })
  const port = await listenOnLoopback(app)
  t.after(() => app.close())
  const url = `${source.initial.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`
  const write = (next: string[]) => writeFileSync(file, next.join('\n'))
  /** 'status <n>' or 'refused'. */
  const outcome = async (options: ClientOptions = {}) => {
    try {
      return `status ${(await get(`${url}/metrics`, { ca: certs.ca.cert, ...options })).status}`
    } catch {
      return 'refused'
    }
  }
  return { app, file, logs, source, url, write, outcome }
}

const TLS = () => [
  'tls_server_config:',
  `  cert_file: ${certs.server.certFile}`,
  `  key_file: ${certs.server.keyFile}`,
]

describe('client_auth_type over real TLS handshakes', () => {
  // No certificate; a certificate from the client CA; one from a CA it does not trust.
  const table = {
    NoClientCert: ['status 200', 'status 200', 'status 200'],
    RequestClientCert: ['status 200', 'status 200', 'status 200'],
    RequireAnyClientCert: ['refused', 'status 200', 'status 200'],
    VerifyClientCertIfGiven: ['status 200', 'status 200', 'refused'],
    RequireAndVerifyClientCert: ['refused', 'status 200', 'refused'],
  }
  for (const [type, expected] of Object.entries(table)) {
    it(`${type}: ${expected.join(', ')}`, async (t) => {
      const ca = type === 'NoClientCert' ? [] : [`  client_ca_file: ${certs.ca.certFile}`]
      const s = await serve(t, [...TLS(), `  client_auth_type: ${type}`, ...ca])
      const got = [
        await s.outcome(),
        await s.outcome({ cert: certs.client.cert, key: certs.client.key }),
        await s.outcome({ cert: certs.stranger.cert, key: certs.stranger.key }),
      ]
      assert.deepEqual(got, expected)
    })
  }
})

describe('rules on every request', () => {
  it('429 past the rate limit (before auth), headers and 401 otherwise', async (t) => {
    const s = await serve(t, [
      'basic_auth_users:',
      `  alice: ${HASH}`,
      'rate_limit:',
      '  interval: 1h',
      '  burst: 3',
      'http_server_config:',
      '  headers:',
      '    X-Frame-Options: sameorigin',
    ])
    const denied = await s.app.inject('/-/healthy')
    assert.equal(denied.statusCode, 401)
    assert.equal(denied.headers['www-authenticate'], 'Basic')
    assert.equal(denied.headers['x-frame-options'], 'sameorigin')
    const ok = await s.app.inject({
      url: '/-/healthy',
      headers: { authorization: basic('alice', 'pw') },
    })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.headers['x-frame-options'], 'sameorigin')
    assert.equal((await s.app.inject('/')).statusCode, 401)
    const limited = await s.app.inject({
      url: '/-/healthy',
      headers: { authorization: basic('alice', 'pw') },
    })
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.body, 'Too Many Requests\n')
    const warned = s.logs.find((l) => l.key === 'basic_auth_users')
    assert.match(String(warned?.msg), /basic auth without TLS/)
  })

  it('applies changed users at the next request', async (t) => {
    const s = await serve(t, ['basic_auth_users:', `  alice: ${HASH}`])
    const as = (user: string) =>
      s.app.inject({ url: '/metrics', headers: { authorization: basic(user, 'pw') } })
    assert.equal((await as('alice')).statusCode, 200)
    s.write(['basic_auth_users:', `  bob: ${HASH}`])
    assert.equal((await as('alice')).statusCode, 401)
    assert.equal((await as('bob')).statusCode, 200)
    s.write([])
    assert.equal((await s.app.inject('/metrics')).statusCode, 200, 'no users: no auth')
  })

  it('fails closed while the file is missing, and logs it once', async (t) => {
    const s = await serve(t, ['basic_auth_users:', `  alice: ${HASH}`])
    unlinkSync(s.file)
    for (let i = 0; i < 3; i++) {
      const res = await s.app.inject('/-/ready')
      assert.equal(res.statusCode, 500)
      assert.equal(res.body, 'Internal Server Error\n')
    }
    const errors = s.logs.filter((l) => l.level === 'error')
    assert.equal(errors.length, 1)
    assert.match(String(errors[0]?.msg), /cannot read it \(ENOENT\).*answered 500/)
    s.write(['basic_auth_users:', `  alice: ${HASH}`])
    const back = await s.app.inject({
      url: '/-/ready',
      headers: { authorization: basic('alice', 'pw') },
    })
    assert.equal(back.statusCode, 200)
    assert.ok(s.logs.some((l) => l.msg === 'web config file is valid again; serving'))
  })

  it('fails closed on a change that needs a restart, until it is undone', async (t) => {
    const s = await serve(t, [...TLS(), '  client_auth_type: RequestClientCert'])
    s.write([
      ...TLS(),
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca_file: ${certs.ca.certFile}`,
    ])
    assert.equal(await s.outcome(), 'status 500')
    const error = s.logs.find((l) => l.level === 'error')
    assert.equal(error?.key, 'tls_server_config.client_auth_type')
    assert.match(
      String(error?.msg),
      /changed from RequestClientCert to RequireAndVerifyClientCert after start-up: restart sshd-exporter/,
    )
    s.write([...TLS(), '  client_auth_type: RequestClientCert'])
    assert.equal(await s.outcome(), 'status 200')

    s.write([])
    assert.equal(await s.outcome(), 'status 500')
    assert.ok(
      s.logs.some((l) => l.key === 'tls_server_config' && /TLS was turned off/.test(String(l.msg))),
    )
  })

  // Also the regression test for a request joining a read that began before the change.
  it('applies a new min_version from the connection after the one that read it', async (t) => {
    const s = await serve(t, [...TLS(), '  min_version: TLS13'])
    assert.equal(await s.outcome({ maxVersion: 'TLSv1.2' }), 'refused')
    s.write([...TLS(), '  min_version: TLS12'])
    assert.equal(await s.outcome(), 'status 200')
    assert.equal(await s.outcome({ maxVersion: 'TLSv1.2' }), 'status 200')
    s.write([...TLS(), '  min_version: TLS13'])
    await s.source.refresh()
    assert.equal(await s.outcome({ maxVersion: 'TLSv1.2' }), 'refused')
  })
})
