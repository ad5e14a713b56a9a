/** TLS settings: files, certificate checks, Node options, client certificate rules, SANs. */
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CLIENT_AUTH_TYPES, parseWebConfig, WebConfigError } from '../../src/web/web-config.ts'
import {
  clientCertificateRefusal,
  type PeerInfo,
  readTlsMaterial,
  type ServerTls,
  serverTls,
  subjectAltNames,
} from '../../src/web/web-tls.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'

let root: string
let certs: TestCerts
before(() => {
  root = mkdtempSync(join(tmpdir(), 'sshd-exporter-tls-'))
  certs = makeCerts(root)
})
after(() => rmSync(root, { recursive: true, force: true }))

/** Parses a config under the certificates' directory, reads its files and builds the settings. */
async function build(lines: string[]): Promise<ServerTls> {
  const file = join(root, 'web.yml')
  const config = parseWebConfig(lines.join('\n'), file)
  assert.ok(config.tls)
  return serverTls(config.tls, await readTlsMaterial(config.tls, file), file)
}

async function refusedWith(lines: string[], key: string, says: RegExp): Promise<void> {
  await assert.rejects(build(lines), (err: unknown) => {
    assert.ok(err instanceof WebConfigError, String(err))
    assert.equal(err.key, key)
    assert.match(err.message, says)
    assert.doesNotMatch(err.message, /\n/)
    return true
  })
}

const TLS = ['tls_server_config:', '  cert_file: server.crt', '  key_file: server.key']

describe('serverTls', () => {
  it("gives Node exporter-toolkit's defaults: TLS 1.2 to 1.3, server's cipher order, no client certificate", async () => {
    const tls = await build(TLS)
    assert.equal(tls.context.cert, certs.server.cert)
    assert.equal(tls.context.key, certs.server.key)
    assert.equal(tls.context.minVersion, 'TLSv1.2')
    assert.equal(tls.context.maxVersion, 'TLSv1.3')
    assert.equal(tls.context.honorCipherOrder, true)
    assert.equal(tls.context.ciphers, undefined)
    assert.equal(tls.context.ecdhCurve, undefined)
    assert.equal(tls.context.ca, undefined)
    assert.equal(tls.requestCert, false)
    assert.equal(tls.subject, 'CN=localhost')
    assert.ok(tls.validTo.getTime() > Date.now())
  })

  it('maps cipher suites and curves to OpenSSL names, in order', async () => {
    const tls = await build([
      ...TLS,
      '  cipher_suites:',
      '    - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
      '    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      '    - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
      '    - TLS_AES_256_GCM_SHA384',
      '  curve_preferences: [CurveP384, X25519, CurveP256, CurveP521]',
      '  prefer_server_cipher_suites: false',
      '  min_version: TLS10',
      '  max_version: TLS12',
    ])
    assert.equal(
      tls.context.ciphers,
      'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:TLS_AES_256_GCM_SHA384',
    )
    assert.equal(tls.context.ecdhCurve, 'P-384:X25519:P-256:P-521')
    assert.equal(tls.context.honorCipherOrder, false)
    assert.equal(tls.context.minVersion, 'TLSv1')
    assert.equal(tls.context.maxVersion, 'TLSv1.2')
  })

  for (const [type, requestCert, rejectUnauthorized] of [
    ['NoClientCert', false, false],
    ['RequestClientCert', true, false],
    ['RequireAnyClientCert', true, false],
    ['VerifyClientCertIfGiven', true, false],
    ['RequireAndVerifyClientCert', true, true],
  ] as const) {
    it(`${type}: requestCert ${requestCert}, rejectUnauthorized ${rejectUnauthorized}`, async () => {
      const tls = await build([...TLS, `  client_auth_type: ${type}`])
      assert.equal(tls.clientAuthType, type)
      assert.equal(tls.requestCert, requestCert)
      assert.equal(tls.rejectUnauthorized, rejectUnauthorized)
    })
  }

  it('takes the client CA from a file or inline', async () => {
    const fromFile = await build([
      ...TLS,
      '  client_auth_type: RequireAndVerifyClientCert',
      '  client_ca_file: ca.crt',
    ])
    assert.equal(fromFile.context.ca, certs.ca.cert)
    const inline = await build([
      ...TLS,
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca: ${JSON.stringify(certs.ca.cert)}`,
    ])
    assert.equal(inline.context.ca, certs.ca.cert)
  })

  it('takes an inline certificate and key', async () => {
    const tls = await build([
      'tls_server_config:',
      `  cert: ${JSON.stringify(certs.server.cert)}`,
      `  key: ${JSON.stringify(certs.server.key)}`,
    ])
    assert.equal(tls.context.cert, certs.server.cert)
  })

  it('refuses a file it cannot read, naming the key', async () => {
    await refusedWith(
      ['tls_server_config:', '  cert_file: server.crt', '  key_file: nope.key'],
      'tls_server_config.key_file',
      /cannot read .*nope\.key \(ENOENT\): check the path/,
    )
    await refusedWith(
      [...TLS, '  client_auth_type: RequireAndVerifyClientCert', '  client_ca_file: nope.pem'],
      'tls_server_config.client_ca_file',
      /cannot read/,
    )
  })

  it('refuses a file over 1 MiB (surely a wrong path)', async () => {
    writeFileSync(join(root, 'huge.crt'), Buffer.alloc((1 << 20) + 1, 65))
    await refusedWith(
      ['tls_server_config:', '  cert_file: huge.crt', '  key_file: server.key'],
      'tls_server_config.cert_file',
      /cannot read .*huge\.crt \(EFBIG\)/,
    )
  })

  it('refuses a key that does not match the certificate', async () => {
    await refusedWith(
      ['tls_server_config:', '  cert_file: server.crt', '  key_file: server2.key'],
      'tls_server_config.key_file',
      /the key in .*server2\.key does not match the certificate in .*server\.crt/,
    )
  })

  it('refuses files that hold no certificate or no key', async () => {
    await refusedWith(
      ['tls_server_config:', '  cert_file: server.key', '  key_file: server.key'],
      'tls_server_config.cert_file',
      /no PEM certificate in/,
    )
    await refusedWith(
      ['tls_server_config:', '  cert_file: server.crt', '  key_file: server.crt'],
      'tls_server_config.key_file',
      /no usable private key/,
    )
    await refusedWith(
      [...TLS, '  client_auth_type: RequireAndVerifyClientCert', '  client_ca_file: server.key'],
      'tls_server_config.client_ca_file',
      /no PEM certificate in/,
    )
    await refusedWith(
      [
        'tls_server_config:',
        '  cert: "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n"',
        '  key_file: server.key',
      ],
      'tls_server_config.cert',
      /the inline PEM holds a certificate that does not parse/,
    )
  })
})

function peer(cert: 'none' | 'verified' | 'unverified', sans = 'DNS:prometheus'): PeerInfo {
  const x509 = { subjectAltName: sans } as X509Certificate
  return {
    authorized: cert === 'verified',
    authorizationError: cert === 'unverified' ? 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' : undefined,
    getPeerX509Certificate: () => (cert === 'none' ? undefined : x509),
  }
}

function policy(type: (typeof CLIENT_AUTH_TYPES)[number], sans?: string[]): ServerTls {
  return {
    context: {},
    requestCert: type !== 'NoClientCert',
    rejectUnauthorized: type === 'RequireAndVerifyClientCert',
    clientAuthType: type,
    allowedSans: sans === undefined ? undefined : new Set(sans),
    subject: '',
    validTo: new Date(),
  }
}

describe('clientCertificateRefusal', () => {
  // exporter-toolkit's (Go's) semantics: which connections go on, per client_auth_type.
  const table: Record<(typeof CLIENT_AUTH_TYPES)[number], [boolean, boolean, boolean]> = {
    // [no certificate, verified certificate, unverified certificate]
    NoClientCert: [true, true, true],
    RequestClientCert: [true, true, true],
    RequireAnyClientCert: [false, true, true],
    VerifyClientCertIfGiven: [true, true, false],
    RequireAndVerifyClientCert: [false, true, false],
  }
  for (const type of CLIENT_AUTH_TYPES) {
    it(`${type}: ${table[type].map((ok) => (ok ? 'serve' : 'refuse')).join(', ')}`, () => {
      const got = (['none', 'verified', 'unverified'] as const).map(
        (c) => clientCertificateRefusal(peer(c), policy(type)) === undefined,
      )
      assert.deepEqual(got, table[type])
    })
  }

  it('client_allowed_sans: one SAN in the list is enough; none, or no certificate, is refused', () => {
    const p = policy('RequireAndVerifyClientCert', [
      'grafana',
      'spiffe://test/prometheus',
      '10.0.0.1',
    ])
    assert.equal(
      clientCertificateRefusal(peer('verified', 'DNS:a, URI:spiffe://test/prometheus'), p),
      undefined,
    )
    assert.equal(clientCertificateRefusal(peer('verified', 'IP Address:10.0.0.1'), p), undefined)
    assert.match(
      clientCertificateRefusal(peer('verified', 'DNS:prometheus, email:a@b.c'), p) ?? '',
      /no SAN of the client certificate is in client_allowed_sans \(it has prometheus, a@b\.c\)/,
    )
    assert.match(clientCertificateRefusal(peer('verified', ''), p) ?? '', /it has none/)
    const asked = policy('RequestClientCert', ['prometheus'])
    assert.match(clientCertificateRefusal(peer('none'), asked) ?? '', /no client certificate/)
    assert.equal(
      clientCertificateRefusal(peer('unverified'), asked),
      undefined,
      'as Go: not verified',
    )
  })
})

describe('subjectAltNames', () => {
  it("reads Node's text as Go writes the names", () => {
    assert.deepEqual(
      subjectAltNames(
        'DNS:"a\\u002c b.example", IP Address:0:0:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:102:304, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:127.0.0.1, email:x@y.z, URI:"https://h/p?q=a\\u002cb", DirName:CN=x, DNS:*.wild.example',
      ),
      [
        'a, b.example',
        '::1',
        '1.2.3.4',
        '2001:db8::1',
        '127.0.0.1',
        'x@y.z',
        'https://h/p?q=a,b',
        '*.wild.example',
      ],
    )
    assert.deepEqual(subjectAltNames(''), [])
  })

  it("reads a real client certificate's names", () => {
    const cert = new X509Certificate(certs.client.cert)
    assert.deepEqual(subjectAltNames(cert.subjectAltName ?? ''), [
      'prometheus',
      'spiffe://test/prometheus',
    ])
  })
})
