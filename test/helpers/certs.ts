/**
 * Throw-away certificates for the TLS tests, made with the openssl command: a CA; server
 * certificates for 127.0.0.1 and localhost from it; client certificates from it; and a
 * client certificate from a second CA the exporter does not trust. EC P-256 keys, valid
 * for two days. makeCa and makeLeaf make more, for the tests that need other extended key
 * usages or validity (client-cert.test.ts) and for bench/web-tls.ts.
 */
import { execFileSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Pair {
  /** Paths. */
  certFile: string
  keyFile: string
  /** PEM texts. */
  cert: string
  key: string
}

export interface TestCerts {
  dir: string
  ca: Pair
  /** Server certificate for 127.0.0.1 and localhost, from `ca`. */
  server: Pair
  /** A second server certificate from `ca` (a renewal). */
  server2: Pair
  /** Client certificate from `ca`, SANs DNS:prometheus and URI:spiffe://test/prometheus. */
  client: Pair
  /** Client certificate from `ca`, SAN DNS:grafana. */
  otherClient: Pair
  /** A CA the exporter does not trust, and a client certificate from it (SAN DNS:prometheus). */
  wrongCa: Pair
  stranger: Pair
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function pair(dir: string, name: string): Pair {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/**
 * A self-signed CA `<name>.crt` and `.key` in `dir`: CA:TRUE, keyCertSign and cRLSign, valid for
 * two days; its subject CN `cn` (default: the name), and `eku`, its extended key usage, when given.
 */
export function makeCa(
  dir: string,
  name: string,
  options: { cn?: string; eku?: string } = {},
): Pair {
  const { cn = name, eku } = options
  openssl(
    [
      ...['req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`],
      ...['-days', '2', '-subj', `/CN=${cn}`],
      ...['-addext', 'basicConstraints=critical,CA:TRUE'],
      ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      ...(eku === undefined ? [] : ['-addext', `extendedKeyUsage=${eku}`]),
    ],
    dir,
  )
  return pair(dir, name)
}

/**
 * A certificate `<name>.crt` and `.key` in `dir`, signed by the CA `<ca>.crt` there, with the
 * extensions `extensions` (an openssl extfile's lines); its subject CN `cn` (default: the name),
 * valid for `days` (default 2; -1 makes it expired).
 */
export function makeLeaf(
  dir: string,
  name: string,
  ca: string,
  extensions: string,
  options: { cn?: string; days?: number } = {},
): Pair {
  const { cn = name, days = 2 } = options
  openssl(
    [...['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]],
    dir,
  )
  writeFileSync(join(dir, `${name}.ext`), extensions)
  openssl(
    [
      ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`],
      ...['-set_serial', String(randomInt(1, 2 ** 47)), '-days', String(days)],
      ...['-out', `${name}.crt`, '-extfile', `${name}.ext`],
    ],
    dir,
  )
  return pair(dir, name)
}

const SERVER_EXT = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'

function clientExt(sans: string): string {
  return `subjectAltName=${sans}\nextendedKeyUsage=clientAuth\n`
}

/** Makes every certificate in `dir` (created if needed). */
export function makeCerts(dir: string): TestCerts {
  mkdirSync(dir, { recursive: true })
  const ca = makeCa(dir, 'ca', { cn: 'sshd-exporter test CA' })
  const wrongCa = makeCa(dir, 'wrong-ca', { cn: 'some other CA' })
  return {
    dir,
    ca,
    server: makeLeaf(dir, 'server', 'ca', SERVER_EXT, { cn: 'localhost' }),
    server2: makeLeaf(dir, 'server2', 'ca', SERVER_EXT, { cn: 'localhost' }),
    client: makeLeaf(
      dir,
      'client',
      'ca',
      clientExt('DNS:prometheus,URI:spiffe://test/prometheus'),
      { cn: 'prometheus' },
    ),
    otherClient: makeLeaf(dir, 'other-client', 'ca', clientExt('DNS:grafana'), { cn: 'grafana' }),
    wrongCa,
    stranger: makeLeaf(dir, 'stranger', 'wrong-ca', clientExt('DNS:prometheus'), {
      cn: 'prometheus',
    }),
  }
}
