/**
 * --web.config.file with the real exporter (node src/cli.ts): TLS, client certificates,
 * basic auth, headers, HTTP/2, changes without a restart, and the one line and exit code 2
 * a bad file gets. Certificates are made by openssl for each run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as http2Connect } from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { X509Certificate } from 'node:crypto'
import { hashSync } from 'bcryptjs'
import { COLLECTORS } from '../../src/collectors/index.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { type ClientOptions, type StartedExporter, startExporter } from '../helpers/exporter.ts'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')
/** The exporter's own metrics are enough here; no collector needs to run. */
const NO_COLLECTORS = COLLECTORS.map((c) => `--no-collector.${c.name}`)

const ALICE = { user: 'alice', password: 'wonderland' }
const BOB = { user: 'bob', password: 'builder' }
// htpasswd writes $2y$; bcryptjs writes $2b$: the same algorithm.
const ALICE_HASH = hashSync(ALICE.password, 10).replace(/^\$2b\$/, '$2y$')
const BOB_HASH = hashSync(BOB.password, 6)

let root: string
let certs: TestCerts

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sshd-exporter-web-'))
  certs = makeCerts(join(root, 'certs'))
})
after(() => rmSync(root, { recursive: true, force: true }))

/** Writes a web config into its own directory under the test root; returns its path. */
function writeConfig(name: string, text: string): string {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'web.yml')
  writeFileSync(file, text)
  return file
}

function serial(pem: string): string {
  return new X509Certificate(pem).serialNumber
}

function withoutDate(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'date'))
}

/** `code: message` of a refused request's error, or `answered <status>` when a response came. */
async function refusal(exporter: StartedExporter, options: ClientOptions): Promise<string> {
  try {
    const res = await exporter.request('/metrics', options)
    return `answered ${res.status}`
  } catch (err) {
    return `${(err as NodeJS.ErrnoException).code}: ${(err as Error).message}`
  }
}

describe('--web.config.file: TLS, basic auth and headers', () => {
  let exporter: StartedExporter
  before(async () => {
    const file = writeConfig(
      'tls-auth',
      [
        'tls_server_config:',
        `  cert_file: ${certs.server.certFile}`,
        `  key_file: ${certs.server.keyFile}`,
        'basic_auth_users:',
        `  alice: ${ALICE_HASH}`,
        `  bob: ${BOB_HASH}`,
        'http_server_config:',
        '  headers:',
        '    X-Frame-Options: deny',
        '    X-Content-Type-Options: nosniff',
        `    Content-Security-Policy: "default-src 'none'"`,
        '    Strict-Transport-Security: max-age=31536000',
        '',
      ].join('\n'),
    )
    exporter = await startExporter(
      [...NO_COLLECTORS, `--web.config.file=${file}`],
      undefined,
      process.env,
      [],
      { ca: certs.ca.cert, auth: ALICE },
    )
  })
  after(() => exporter.stop())

  it('says so in its start-up line and serves https', async () => {
    assert.match(exporter.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    const line = exporter.logs.find((l) => l.msg === 'sshd_exporter listening')
    assert.equal(line?.tls, true)
    const read = exporter.logs.find((l) => l.msg === 'read web config file')
    assert.equal(read?.basic_auth_users, 2)
    assert.equal(read?.client_auth_type, 'NoClientCert')
    const res = await exporter.request('/metrics')
    assert.equal(res.status, 200)
    assert.match(res.body, /^sshd_exporter_build_info\{/m)
    assert.equal(res.serverSerial, serial(certs.server.cert))
  })

  it('speaks TLS 1.3, and TLS 1.2 (the default min_version) to a client that asks for it', async () => {
    assert.equal((await exporter.request('/-/healthy')).tlsVersion, 'TLSv1.3')
    const tls12 = await exporter.request('/-/healthy', { maxVersion: 'TLSv1.2' })
    assert.equal(tls12.status, 200)
    assert.equal(tls12.tlsVersion, 'TLSv1.2')
  })

  it('shows the certificate from cert_file: a client trusting another CA gives up', async () => {
    assert.match(
      await refusal(exporter, { ca: certs.wrongCa.cert }),
      /^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /,
    )
  })

  it('answers a wrong password and an unknown user alike: 401, WWW-Authenticate: Basic', async () => {
    const right = await exporter.request('/metrics')
    assert.equal(right.status, 200)
    const bob = await exporter.request('/metrics', { auth: BOB })
    assert.equal(bob.status, 200, 'a $2b$ hash of another cost works too')

    const wrongPassword = await exporter.request('/metrics', {
      auth: { user: 'alice', password: 'wonderlan' },
    })
    const unknownUser = await exporter.request('/metrics', {
      auth: { user: 'mallory', password: ALICE.password },
    })
    const none = await exporter.request('/metrics', { auth: undefined })
    const malformed = await exporter.request('/metrics', {
      auth: undefined,
      authorization: 'Basic !!!',
    })
    for (const res of [wrongPassword, unknownUser, none, malformed]) {
      assert.equal(res.status, 401)
      assert.equal(res.headers['www-authenticate'], 'Basic')
      assert.equal(res.body, 'Unauthorized\n')
    }
    assert.deepEqual(withoutDate(unknownUser.headers), withoutDate(wrongPassword.headers))
    assert.deepEqual(withoutDate(none.headers), withoutDate(wrongPassword.headers))
    assert.doesNotMatch(
      wrongPassword.body + JSON.stringify(wrongPassword.headers),
      /alice|user|password/i,
    )
  })

  it('protects the landing page, health, readiness, metrics and unknown paths alike', async () => {
    for (const path of ['/', '/-/healthy', '/-/ready', '/metrics', '/nope']) {
      const denied = await exporter.request(path, { auth: undefined })
      assert.equal(denied.status, 401, path)
      assert.equal(denied.body, 'Unauthorized\n', path)
      const allowed = await exporter.request(path)
      assert.equal(allowed.status, path === '/nope' ? 404 : 200, path)
    }
    assert.equal((await exporter.request('/-/healthy')).body, 'Healthy\n')
    assert.match((await exporter.request('/')).body, /<h1>sshd exporter<\/h1>/)
  })

  it('sets the configured headers on every answer, 401 included', async () => {
    for (const res of [
      await exporter.request('/metrics'),
      await exporter.request('/metrics', { auth: undefined }),
      await exporter.request('/nope'),
    ]) {
      assert.equal(res.headers['x-frame-options'], 'deny')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers['content-security-policy'], "default-src 'none'")
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000')
    }
  })

  it('speaks HTTP/2 as well (http2 defaults to true), under the same rules', async () => {
    const session = http2Connect(exporter.url, { ca: certs.ca.cert })
    try {
      const ask = (authorization?: string) =>
        new Promise<{ status: number; frame: string | undefined; body: string }>(
          (resolve, reject) => {
            const headers: Record<string, string> = { ':path': '/-/ready' }
            if (authorization !== undefined) headers.authorization = authorization
            const stream = session.request(headers)
            let status = 0
            let frame: string | undefined
            let body = ''
            stream.on('response', (h) => {
              status = Number(h[':status'])
              frame = h['x-frame-options'] as string | undefined
            })
            stream.setEncoding('utf8')
            stream.on('data', (chunk: string) => (body += chunk))
            stream.on('end', () => resolve({ status, frame, body }))
            stream.on('error', reject)
          },
        )
      const basic = `Basic ${Buffer.from(`${ALICE.user}:${ALICE.password}`).toString('base64')}`
      assert.deepEqual(await ask(basic), { status: 200, frame: 'deny', body: 'Ready\n' })
      assert.deepEqual(await ask(), { status: 401, frame: 'deny', body: 'Unauthorized\n' })
      assert.equal(session.alpnProtocol, 'h2')
    } finally {
      session.close()
    }
  })
})

describe('--web.config.file: client certificates (RequireAndVerifyClientCert), min_version TLS13', () => {
  let exporter: StartedExporter
  before(async () => {
    const file = writeConfig(
      'mtls',
      [
        'tls_server_config:',
        // Relative paths start at the config file's directory, as in exporter-toolkit.
        `  cert_file: ../certs/server.crt`,
        `  key_file: ../certs/server.key`,
        '  client_auth_type: RequireAndVerifyClientCert',
        `  client_ca_file: ${certs.ca.certFile}`,
        '  client_allowed_sans: [prometheus, spiffe://test/other]',
        '  min_version: TLS13',
        '',
      ].join('\n'),
    )
    exporter = await startExporter(
      [...NO_COLLECTORS, `--web.config.file=${file}`],
      undefined,
      process.env,
      [],
      { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key },
    )
  })
  after(() => exporter.stop())

  it('serves a client with a certificate from the CA and an allowed SAN', async () => {
    const res = await exporter.request('/metrics')
    assert.equal(res.status, 200)
    assert.equal(res.tlsVersion, 'TLSv1.3')
    assert.match(res.body, /^sshd_exporter_build_info\{/m)
    for (const path of ['/', '/-/healthy', '/-/ready']) {
      assert.equal((await exporter.request(path)).status, 200, path)
    }
  })

  it('refuses a client without a certificate before reading a request', async () => {
    // The handshake completes (the client CAs are checked by Go's rules after it, see
    // src/web/client-cert.ts) and the connection is closed before a request is read: Go sends
    // a certificate_required alert in the handshake instead.
    assert.equal(
      await refusal(exporter, { cert: undefined, key: undefined }),
      'ECONNRESET: socket hang up',
    )
  })

  it('refuses a certificate from another CA before reading a request', async () => {
    // Node verifies the client's certificate when OpenSSL's handshake ends and closes the
    // connection without an alert; the request never gets an answer.
    assert.equal(
      await refusal(exporter, { cert: certs.stranger.cert, key: certs.stranger.key }),
      'ECONNRESET: socket hang up',
    )
    const line = exporter.logs.find((l) => l.msg === 'read web config file')
    assert.equal(line?.client_auth_type, 'RequireAndVerifyClientCert')
  })

  it('refuses a certificate from the CA whose SANs are not in client_allowed_sans', async () => {
    assert.equal(
      await refusal(exporter, { cert: certs.otherClient.cert, key: certs.otherClient.key }),
      'ECONNRESET: socket hang up',
    )
  })

  it('enforces min_version: a TLS 1.2 client is refused', async () => {
    assert.match(await refusal(exporter, { maxVersion: 'TLSv1.2' }), /alert protocol version/)
  })
})

describe('--web.config.file: changes without a restart', () => {
  let exporter: StartedExporter
  let file: string
  const config = (cert: string, key: string, users: string) =>
    [
      'tls_server_config:',
      `  cert_file: ${cert}`,
      `  key_file: ${key}`,
      'basic_auth_users:',
      users,
      '',
    ].join('\n')

  before(async () => {
    file = writeConfig(
      'reload',
      config(certs.server.certFile, certs.server.keyFile, `  alice: ${ALICE_HASH}`),
    )
    exporter = await startExporter(
      [...NO_COLLECTORS, `--web.config.file=${file}`],
      undefined,
      process.env,
      [],
      { ca: certs.ca.cert, auth: ALICE },
    )
  })
  after(() => exporter.stop())

  it('applies new users at the next request and a new certificate at the next connection', async () => {
    const first = await exporter.request('/metrics')
    assert.equal(first.status, 200)
    assert.equal(first.serverSerial, serial(certs.server.cert))

    writeFileSync(file, config(certs.server2.certFile, certs.server2.keyFile, `  bob: ${BOB_HASH}`))
    assert.equal((await exporter.request('/metrics')).status, 401, 'alice is gone')
    const bob = await exporter.request('/metrics', { auth: BOB })
    assert.equal(bob.status, 200)
    assert.equal(bob.serverSerial, serial(certs.server2.cert), 'the renewed certificate')
  })

  it('answers 500 while the file is bad, logs it once, and recovers when it is fixed', async () => {
    const good = config(certs.server.certFile, certs.server.keyFile, `  bob: ${BOB_HASH}`)
    writeFileSync(file, `${good}bogus: true\n`)
    const before = exporter.logs.length
    for (let i = 0; i < 3; i++) {
      const res = await exporter.request('/-/healthy', { auth: BOB })
      assert.equal(res.status, 500)
      assert.equal(res.body, 'Internal Server Error\n')
    }
    const errors = exporter.logs.slice(before).filter((l) => l.level === 'error')
    assert.equal(errors.length, 1, JSON.stringify(errors))
    assert.equal(errors[0]?.key, 'bogus')
    assert.match(String(errors[0]?.msg), /bogus: unknown key \(line 6\)/)

    writeFileSync(file, good)
    assert.equal((await exporter.request('/-/healthy', { auth: BOB })).status, 200)
  })

  it('re-reads the certificate on SIGHUP, with no request in between', async () => {
    writeFileSync(file, config(certs.server2.certFile, certs.server2.keyFile, `  bob: ${BOB_HASH}`))
    const before = exporter.logs.length
    exporter.child.kill('SIGHUP')
    const deadline = Date.now() + 10_000
    while (!exporter.logs.slice(before).some((l) => l.msg === 'web config file changed; applied')) {
      assert.ok(Date.now() < deadline, JSON.stringify(exporter.logs.slice(before)))
      await new Promise((r) => setTimeout(r, 20))
    }
    const res = await exporter.request('/metrics', { auth: BOB })
    assert.equal(res.status, 200)
    assert.equal(res.serverSerial, serial(certs.server2.cert))
  })
})

describe('--web.config.file: a bad file stops start-up', () => {
  /** Runs the CLI to its exit; returns the exit code and stderr's lines. */
  function start(args: string[], env: NodeJS.ProcessEnv = {}) {
    const r = spawnSync(
      process.execPath,
      [CLI, '--web.listen-address=127.0.0.1:0', ...NO_COLLECTORS, ...args],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...env },
        timeout: 10_000,
      },
    )
    return { status: r.status, stdout: r.stdout, lines: r.stderr.trimEnd().split('\n') }
  }

  const tls = () => [
    'tls_server_config:',
    `  cert_file: ${certs.server.certFile}`,
    `  key_file: ${certs.server.keyFile}`,
  ]

  const cases: { name: string; text: () => string; key: string | undefined; says: RegExp }[] = [
    {
      name: 'YAML that does not parse',
      text: () => 'tls_server_config: [cert_file\n',
      key: undefined,
      says: /not valid YAML/,
    },
    {
      name: 'an unknown key',
      text: () => 'tls_server_config:\n  cert_filse: server.crt\n',
      key: 'tls_server_config.cert_filse',
      says: /unknown key \(line 2\): expected one of .*cert_file/,
    },
    {
      name: 'a bad value',
      text: () => [...tls(), '  min_version: TLS14', ''].join('\n'),
      key: 'tls_server_config.min_version',
      says: /"TLS14" is not valid \(line 4\): expected TLS10, TLS11, TLS12 or TLS13/,
    },
    {
      name: 'a certificate file that cannot be read',
      text: () =>
        [
          'tls_server_config:',
          '  cert_file: missing.crt',
          `  key_file: ${certs.server.keyFile}`,
          '',
        ].join('\n'),
      key: 'tls_server_config.cert_file',
      says: /cannot read .*missing\.crt \(ENOENT\): check the path/,
    },
    {
      name: 'a key that does not match the certificate',
      text: () =>
        [
          'tls_server_config:',
          `  cert_file: ${certs.server.certFile}`,
          `  key_file: ${certs.server2.keyFile}`,
          '',
        ].join('\n'),
      key: 'tls_server_config.key_file',
      says: /does not match the certificate/,
    },
    {
      name: 'a password that is not a bcrypt hash',
      text: () => 'basic_auth_users:\n  alice: wonderland\n',
      key: 'basic_auth_users.alice',
      says: /not a bcrypt hash \(line 2\): expected a bcrypt hash/,
    },
    {
      name: 'a header exporter-toolkit does not allow',
      text: () => 'http_server_config:\n  headers:\n    Content-Type: text/html\n',
      key: 'http_server_config.headers.Content-Type',
      says: /this header cannot be set/,
    },
    {
      name: 'a client CA without a client_auth_type that asks for certificates',
      text: () => [...tls(), `  client_ca_file: ${certs.ca.certFile}`, ''].join('\n'),
      key: 'tls_server_config.client_ca_file',
      says: /set client_auth_type: RequireAndVerifyClientCert/,
    },
    {
      name: 'TLS settings without a certificate',
      text: () => 'tls_server_config:\n  min_version: TLS13\n',
      key: 'tls_server_config.min_version',
      says: /TLS is off/,
    },
  ]
  for (const c of cases) {
    it(`${c.name}: exit 2 and one line naming the file and ${c.key ?? 'the problem'}`, () => {
      const file = writeConfig(`bad-${c.name.replace(/\W+/g, '-')}`, c.text())
      const r = start([`--web.config.file=${file}`])
      assert.equal(r.status, 2, r.lines.join('\n'))
      assert.equal(r.stdout, '')
      assert.equal(r.lines.length, 1, r.lines.join('\n'))
      const line = JSON.parse(r.lines[0]!) as Record<string, unknown>
      assert.equal(line.level, 'error')
      assert.equal(line.web_config_file, file)
      assert.equal(line.key, c.key)
      const msg = String(line.msg)
      assert.ok(msg.startsWith(`--web.config.file=${JSON.stringify(file)}: `), msg)
      if (c.key !== undefined) assert.ok(msg.includes(` ${c.key}: `), msg)
      assert.match(msg, c.says)
    })
  }

  it('never prints a password hash or a key it refuses', () => {
    const file = writeConfig('bad-secret', 'basic_auth_users:\n  alice: $2y$10$tooshort\n')
    const r = start([`--web.config.file=${file}`])
    assert.equal(r.status, 2)
    assert.doesNotMatch(r.lines.join('\n'), /tooshort/)
  })

  it('a missing file, and a directory: exit 2 naming the file', () => {
    const missing = join(root, 'nowhere', 'web.yml')
    const r = start([`--web.config.file=${missing}`])
    assert.equal(r.status, 2)
    assert.equal(r.lines.length, 1)
    assert.match(r.lines[0]!, /cannot read it \(ENOENT\)/)
    assert.ok(r.lines[0]!.includes(missing))
    const dir = start([`--web.config.file=${root}`])
    assert.equal(dir.status, 2)
    assert.match(dir.lines[0]!, /cannot read it \(EISDIR\)/)
  })

  it('takes the file from SSHD_EXPORTER_WEB_CONFIG_FILE as well', () => {
    const file = writeConfig('bad-env', 'nonsense: 1\n')
    const r = start([], { SSHD_EXPORTER_WEB_CONFIG_FILE: file })
    assert.equal(r.status, 2)
    assert.equal((JSON.parse(r.lines[0]!) as { key: unknown }).key, 'nonsense')
  })
})
