/**
 * Client certificates accepted as Go's crypto/x509 accepts them for ExtKeyUsageClientAuth,
 * over real TLS connections to the app: CAs and leaves with no extended key usage,
 * anyExtendedKeyUsage, clientAuth, serverAuth only; an intermediate with
 * anyExtendedKeyUsage; an expired leaf; a leaf from another CA. Certificates made here with
 * the openssl command.
 */
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { after, before, describe, it, type TestContext } from 'node:test'
import { certFacts, goClientCertRefusal, TrustAnchors } from '../../src/web/client-cert.ts'
import { WebConfigSource } from '../../src/web/web.ts'
import { makeCa, makeCerts, makeLeaf, type TestCerts } from '../helpers/certs.ts'
import { get } from '../helpers/exporter.ts'
import { listenOnLoopback, silentLogger, testApp } from '../helpers/web-app.ts'

let root: string
let certs: TestCerts
const pem = (name: string) => ({
  cert: readFileSync(join(root, `${name}.crt`), 'utf8'),
  key: readFileSync(join(root, `${name}.key`), 'utf8'),
})

const leafExt = (eku: string | undefined, san = 'DNS:prometheus') =>
  `subjectAltName=${san}\n${eku === undefined ? '' : `extendedKeyUsage=${eku}\n`}`

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sshd-exporter-client-cert-'))
  certs = makeCerts(root)
  makeCa(root, 'ca-none')
  makeCa(root, 'ca-any', { eku: 'anyExtendedKeyUsage' })
  makeCa(root, 'ca-client', { eku: 'clientAuth' })
  makeCa(root, 'ca-server', { eku: 'serverAuth' })
  makeCa(root, 'ca-other')
  for (const ca of ['none', 'any', 'client', 'server']) {
    makeLeaf(root, `leaf-${ca}`, `ca-${ca}`, leafExt('clientAuth'))
  }
  makeLeaf(root, 'leaf-noeku', 'ca-none', leafExt(undefined))
  makeLeaf(root, 'leaf-anyeku', 'ca-none', leafExt('anyExtendedKeyUsage'))
  makeLeaf(root, 'leaf-servereku', 'ca-none', leafExt('serverAuth'))
  makeLeaf(root, 'leaf-grafana', 'ca-any', leafExt('clientAuth', 'DNS:grafana'))
  makeLeaf(root, 'leaf-other', 'ca-other', leafExt('clientAuth'))
  // An intermediate under ca-none with anyExtendedKeyUsage, and a leaf under it.
  makeLeaf(
    root,
    'int-any',
    'ca-none',
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nextendedKeyUsage=anyExtendedKeyUsage\n',
  )
  makeLeaf(root, 'leaf-via-int', 'int-any', leafExt('clientAuth'))
  // Not a CA: its "leaf" must be refused.
  makeLeaf(root, 'leaf-notca', 'ca-none', leafExt(undefined))
  makeLeaf(root, 'leaf-under-leaf', 'leaf-notca', leafExt('clientAuth'))
  makeLeaf(root, 'leaf-short', 'ca-any', leafExt('clientAuth'), { days: 1 })
  makeLeaf(root, 'leaf-expired', 'ca-any', leafExt('anyExtendedKeyUsage'), { days: -1 })
})
after(() => rmSync(root, { recursive: true, force: true }))

const ALL_CAS = ['ca-none', 'ca-any', 'ca-client', 'ca-server']
let n = 0

async function serve(t: TestContext, type: string, sans?: string[]) {
  const bundle = join(root, `bundle-${++n}.crt`)
  writeFileSync(bundle, ALL_CAS.map((c) => pem(c).cert).join(''))
  const file = join(root, `web-${n}.yml`)
  writeFileSync(
    file,
    [
      'tls_server_config:',
      `  cert_file: ${certs.server.certFile}`,
      `  key_file: ${certs.server.keyFile}`,
      `  client_auth_type: ${type}`,
      `  client_ca_file: ${bundle}`,
      ...(sans === undefined ? [] : [`  client_allowed_sans: [${sans.join(', ')}]`]),
    ].join('\n'),
  )
  const logger = silentLogger()
  const source = await WebConfigSource.open(file, logger, 'sshd-exporter')
  let scrapes = 0
  const app = testApp({
    scrape: () => {
      scrapes++
      return Promise.resolve('up 1\n')
    },
    logger,
    web: source,
  })
  let requests = 0
  app.server.on('request', () => requests++)
  const port = await listenOnLoopback(app)
  t.after(() => app.close())
  const outcome = async (name: string | undefined, extra = '') => {
    const p = name === undefined ? { cert: undefined, key: undefined } : pem(name)
    const cert = p.cert === undefined ? undefined : p.cert + extra
    try {
      const r = await get(`https://127.0.0.1:${port}/metrics`, { ca: certs.ca.cert, ...p, cert })
      return `status ${r.status}`
    } catch {
      return 'refused'
    }
  }
  return { port, outcome, counts: () => ({ scrapes, requests }) }
}

/** Go's answer (crypto/x509 Verify with ExtKeyUsageClientAuth) for each client certificate. */
const GO: Record<string, boolean> = {
  'leaf-none': true, // CA without EKU
  'leaf-any': true, // CA with anyExtendedKeyUsage only (the issue)
  'leaf-client': true, // CA with clientAuth
  'leaf-server': false, // CA restricted to serverAuth
  'leaf-noeku': true,
  'leaf-anyeku': true,
  'leaf-servereku': false,
  'leaf-other': false, // from a CA the exporter does not trust
  'leaf-under-leaf': false, // signed by a certificate that is not a CA
  'leaf-expired': false,
}

describe('client certificates as Go verifies them, over real TLS connections', () => {
  for (const type of ['RequireAndVerifyClientCert', 'VerifyClientCertIfGiven']) {
    it(`${type}: each kind of CA and leaf`, async (t) => {
      const s = await serve(t, type)
      for (const [leaf, ok] of Object.entries(GO)) {
        assert.equal(await s.outcome(leaf), ok ? 'status 200' : 'refused', leaf)
      }
      // The intermediate with anyExtendedKeyUsage, sent by the client after its leaf.
      assert.equal(await s.outcome('leaf-via-int', pem('int-any').cert), 'status 200')
      // Without the intermediate, there is no chain.
      assert.equal(await s.outcome('leaf-via-int'), 'refused')
      assert.equal(
        await s.outcome(undefined),
        type === 'RequireAndVerifyClientCert' ? 'refused' : 'status 200',
      )
    })
  }

  it('RequireAnyClientCert and RequestClientCert do not verify: every certificate is served', async (t) => {
    for (const type of ['RequireAnyClientCert', 'RequestClientCert']) {
      const s = await serve(t, type)
      for (const leaf of ['leaf-any', 'leaf-server', 'leaf-servereku', 'leaf-other']) {
        assert.equal(await s.outcome(leaf), 'status 200', `${type} ${leaf}`)
      }
    }
  })

  it('client_allowed_sans still applies to chains verified as Go does', async (t) => {
    const s = await serve(t, 'RequireAndVerifyClientCert', ['prometheus'])
    assert.equal(await s.outcome('leaf-any'), 'status 200')
    assert.equal(await s.outcome('leaf-anyeku'), 'status 200')
    assert.equal(await s.outcome('leaf-grafana'), 'refused', 'from ca-any, SAN not allowed')
    assert.equal(await s.outcome('leaf-server'), 'refused')
  })

  it('a refused connection carries no request, even one sent with the handshake', async (t) => {
    const s = await serve(t, 'RequireAndVerifyClientCert')
    for (const [name, version] of [
      ['leaf-server', 'TLSv1.3'],
      ['leaf-other', 'TLSv1.3'],
      ['leaf-servereku', 'TLSv1.2'],
      [undefined, 'TLSv1.3'],
    ] as const) {
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve) => {
          const socket = connect({
            host: '127.0.0.1',
            port: s.port,
            ca: certs.ca.cert,
            ...(name === undefined ? {} : pem(name)),
            minVersion: version,
            maxVersion: version,
          })
          // Written at once: with TLS 1.3 it leaves with the client's Finished.
          socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
          socket.on('error', () => {})
          socket.on('close', () => resolve())
          socket.resume()
        })
      }
    }
    assert.deepEqual(s.counts(), { scrapes: 0, requests: 0 })
    assert.equal(await s.outcome('leaf-any'), 'status 200')
    assert.deepEqual(s.counts(), { scrapes: 1, requests: 1 })
  })
})

describe('goClientCertRefusal', () => {
  const x = (name: string) => new X509Certificate(pem(name).cert)

  it("applies Go's rules: EKU, CA flag, validity, unknown issuer", () => {
    const anchors = new TrustAnchors(ALL_CAS.map(x))
    for (const [leaf, ok] of Object.entries(GO)) {
      assert.equal(goClientCertRefusal(x(leaf), [], anchors) === undefined, ok, leaf)
    }
    assert.equal(goClientCertRefusal(x('leaf-via-int'), [x('int-any')], anchors), undefined)
    assert.match(
      goClientCertRefusal(x('leaf-under-leaf'), [x('leaf-notca')], anchors) ?? '',
      /not a CA/,
    )
    assert.match(goClientCertRefusal(x('leaf-server'), [], anchors) ?? '', /clientAuth/)
    assert.match(goClientCertRefusal(x('leaf-other'), [], anchors) ?? '', /unknown authority/)
  })

  it('refuses an expired leaf (and one not yet valid)', () => {
    const anchors = new TrustAnchors([x('ca-any')])
    const leaf = x('leaf-short')
    const day = 86_400_000
    assert.equal(goClientCertRefusal(leaf, [], anchors, Date.now()), undefined)
    // After its one day (and before the CA's two end): expired.
    assert.match(
      goClientCertRefusal(leaf, [], anchors, Date.now() + 1.5 * day) ?? '',
      /expired or not yet valid/,
    )
    assert.match(
      goClientCertRefusal(leaf, [], anchors, Date.now() - day) ?? '',
      /expired or not yet valid/,
    )
  })

  it('reads the extensions Go reads', () => {
    assert.deepEqual(certFacts(x('ca-any')).ekus, ['2.5.29.37.0'])
    assert.equal(certFacts(x('ca-none')).ekus, undefined)
    assert.deepEqual(certFacts(x('ca-none')).basicConstraints, { ca: true, maxPathLen: -1 })
    assert.deepEqual(certFacts(x('leaf-noeku')).unhandledCritical, [])
    assert.equal(certFacts(x('leaf-noeku')).signatureAlgorithm, '1.2.840.10045.4.3.2')
  })
})
