/**
 * The TLS half of the web config: reads the certificate, key and client CA a config
 * names, checks they can be used together (a key that does not match its certificate is
 * a start-up error, as in exporter-toolkit), and turns exporter-toolkit's settings into
 * Node's server options. client_auth_type keeps Go's crypto/tls meaning (the table is in
 * docs/web-config.md); what OpenSSL cannot refuse in the handshake is refused as soon as
 * the handshake ends, before any request is read: clientCertificateRefusal.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { open } from 'node:fs/promises'
import {
  createSecureContext,
  type DetailedPeerCertificate,
  type SecureContextOptions,
} from 'node:tls'
import { goClientCertRefusal, nodeRootAnchors, TrustAnchors } from './client-cert.ts'
import {
  CIPHER_SUITES,
  type ClientAuthType,
  CURVES,
  type PemSource,
  TLS_VERSIONS,
  type TlsServerConfig,
  webConfigProblem as problem,
} from './web-config.ts'

/** Certificates and keys are small; a bigger file is a wrong path. */
const PEM_MAX_BYTES = 1 << 20

/** The PEM texts a TLS config names, read. */
export interface TlsMaterial {
  cert: string
  key: string
  clientCa: string | undefined
}

export interface ServerTls {
  /** For the server's secure context (created with it, and swapped when it changes). */
  context: SecureContextOptions
  /** Fixed when the server is created. */
  requestCert: boolean
  /**
   * Whether client_auth_type wants OpenSSL's verification to pass. The server itself is
   * created with Node's rejectUnauthorized off (app.ts), and a client this refuses is
   * refused by clientCertificateRefusal, which accepts what Go accepts (client-cert.ts).
   */
  rejectUnauthorized: boolean
  clientAuthType: ClientAuthType
  allowedSans: ReadonlySet<string> | undefined
  /** client_ca_file or client_ca, parsed once; undefined: Node's root CAs. */
  clientCas?: TrustAnchors | undefined
  /** The server certificate, for logs. */
  subject: string
  validTo: Date
}

/** Reads a file whole; one larger than `max` bytes (a wrong path, surely) is an error. */
export async function readCapped(path: string, max: number): Promise<string> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    if (size > max) {
      throw Object.assign(new Error(`larger than ${max} bytes`), { code: 'EFBIG' })
    }
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e.code ?? e.message
}

async function readPem(source: PemSource, file: string): Promise<string> {
  if (source.file === undefined) return source.inline
  try {
    return await readCapped(source.file, PEM_MAX_BYTES)
  } catch (err) {
    throw problem(
      file,
      source.key,
      `cannot read ${source.file} (${reason(err)})`,
      "check the path (relative paths start at the web config file's directory) and that the exporter's user can read it",
      err,
    )
  }
}

export async function readTlsMaterial(tls: TlsServerConfig, file: string): Promise<TlsMaterial> {
  const [cert, key, clientCa] = await Promise.all([
    readPem(tls.cert, file),
    readPem(tls.key, file),
    tls.clientCa === undefined ? undefined : readPem(tls.clientCa, file),
  ])
  return { cert, key, clientCa }
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** Every certificate in a PEM bundle; throws on one that does not parse. */
export function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT_RE) ?? []).map((block) => new X509Certificate(block))
}

function what(source: PemSource): string {
  return source.file === undefined ? 'the inline PEM' : source.file
}

/**
 * Checks what was read and builds the server's TLS settings; a WebConfigError names the key
 * when a certificate or key does not parse, the key does not match the certificate, or
 * Node refuses a setting.
 */
export function serverTls(tls: TlsServerConfig, material: TlsMaterial, file: string): ServerTls {
  let certs: X509Certificate[]
  try {
    certs = pemCertificates(material.cert)
  } catch (err) {
    throw problem(
      file,
      tls.cert.key,
      `${what(tls.cert)} holds a certificate that does not parse (${reason(err)})`,
      'expected PEM certificates (-----BEGIN CERTIFICATE-----), the server\u2019s first',
      err,
    )
  }
  const leaf = certs[0]
  if (leaf === undefined) {
    throw problem(
      file,
      tls.cert.key,
      `no PEM certificate in ${what(tls.cert)}`,
      'expected PEM certificates (-----BEGIN CERTIFICATE-----), the server\u2019s first',
    )
  }
  let key: KeyObject
  try {
    key = createPrivateKey(material.key)
  } catch (err) {
    throw problem(
      file,
      tls.key.key,
      `no usable private key in ${what(tls.key)} (${reason(err)})`,
      'expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)',
      err,
    )
  }
  if (!leaf.checkPrivateKey(key)) {
    throw problem(
      file,
      tls.key.key,
      `the key in ${what(tls.key)} does not match the certificate in ${what(tls.cert)}`,
      `give the key the certificate was issued for, or the certificate for this key`,
    )
  }
  let ca: string | undefined
  let clientCas: TrustAnchors | undefined
  if (tls.clientCa !== undefined && material.clientCa !== undefined) {
    let cas: X509Certificate[]
    try {
      cas = pemCertificates(material.clientCa)
    } catch (err) {
      throw problem(
        file,
        tls.clientCa.key,
        `${what(tls.clientCa)} holds a certificate that does not parse (${reason(err)})`,
        'expected the PEM certificates of the CAs that sign client certificates',
        err,
      )
    }
    if (cas.length === 0) {
      throw problem(
        file,
        tls.clientCa.key,
        `no PEM certificate in ${what(tls.clientCa)}`,
        'expected the PEM certificates of the CAs that sign client certificates',
      )
    }
    ca = material.clientCa
    clientCas = new TrustAnchors(cas)
  }

  const context: SecureContextOptions = {
    cert: material.cert,
    key: material.key,
    minVersion: TLS_VERSIONS[tls.minVersion],
    maxVersion: TLS_VERSIONS[tls.maxVersion],
    honorCipherOrder: tls.preferServerCipherSuites,
  }
  if (ca !== undefined) context.ca = ca
  // Go's cipher_suites rule TLS 1.2 and below only; TLS 1.3 keeps its defaults unless
  // the list names TLS 1.3 suites, which then restrict it (Go ignores those).
  if (tls.cipherSuites.length > 0) {
    context.ciphers = tls.cipherSuites.map((s) => CIPHER_SUITES[s]!).join(':')
  }
  if (tls.curvePreferences.length > 0) {
    context.ecdhCurve = tls.curvePreferences.map((c) => CURVES[c]!).join(':')
  }
  try {
    createSecureContext(context)
  } catch (err) {
    throw problem(
      file,
      'tls_server_config',
      `Node cannot use these TLS settings (${(err as Error).message})`,
      'check cipher_suites, curve_preferences and min_version/max_version',
      err,
    )
  }

  const requestCert = tls.clientAuthType !== 'NoClientCert'
  return {
    context,
    requestCert,
    rejectUnauthorized: tls.clientAuthType === 'RequireAndVerifyClientCert',
    clientAuthType: tls.clientAuthType,
    allowedSans: tls.clientAllowedSans === undefined ? undefined : new Set(tls.clientAllowedSans),
    clientCas,
    subject: leaf.subject.replace(/\n/g, ', '),
    validTo: new Date(leaf.validTo),
  }
}

/** What clientCertificateRefusal needs of a TLS socket. */
export interface PeerInfo {
  authorized: boolean
  authorizationError?: Error | string | undefined
  getPeerX509Certificate(): X509Certificate | undefined
  /** The chain the client sent (with the CA OpenSSL found), for the Go-style check. */
  getPeerCertificate?(detailed: true): DetailedPeerCertificate
}

/** OpenSSL's X509_V_ERR_INVALID_PURPOSE, as Node reports it (code, or message). */
function purposeOnly(error: Error | string | undefined): boolean {
  const e = error as (Error & { code?: unknown }) | string | undefined
  const text = typeof e === 'string' ? e : typeof e?.code === 'string' ? e.code : e?.message
  return text === 'INVALID_PURPOSE' || text === 'unsuitable certificate purpose'
}

/**
 * The client's certificate and the ones it sent after it (with the CA OpenSSL found), when
 * OpenSSL refused the chain for its purpose alone; undefined otherwise. Must run before
 * getPeerX509Certificate(): after that call, Node 24's getPeerCertificate(true) no longer
 * links the issuers.
 */
function purposeRefusedChain(socket: PeerInfo): X509Certificate[] | undefined {
  if (socket.authorized || !purposeOnly(socket.authorizationError)) return undefined
  const out: X509Certificate[] = []
  const seen = new Set<DetailedPeerCertificate>()
  let c = socket.getPeerCertificate?.(true)
  while (c?.raw !== undefined && !seen.has(c) && out.length < 16) {
    seen.add(c)
    out.push(new X509Certificate(c.raw))
    c = c.issuerCertificate
  }
  return out.length === 0 ? undefined : out
}

/**
 * Why the client certificate does not verify; undefined when it does. OpenSSL's verdict
 * stands except for INVALID_PURPOSE (its client purpose check refuses CAs and leaves with
 * anyExtendedKeyUsage alone, which Go accepts): then `chain` is verified again, whole,
 * with Go's rules (client-cert.ts).
 */
function notVerified(
  socket: PeerInfo,
  chain: X509Certificate[] | undefined,
  tls: ServerTls,
): string | undefined {
  if (socket.authorized) return undefined
  if (chain !== undefined) {
    let why: string | undefined
    try {
      why = goClientCertRefusal(chain[0]!, chain.slice(1), tls.clientCas ?? nodeRootAnchors())
    } catch (err) {
      why = `unreadable certificate chain (${String(err)})`
    }
    return why === undefined ? undefined : `client certificate not verified (${why})`
  }
  return `client certificate not verified (${String(socket.authorizationError)})`
}

/**
 * Why a finished TLS handshake must not carry requests under this policy; undefined when
 * it may. OpenSSL verifies; what it refuses only for the certificates' purpose is verified
 * here as Go does (notVerified).
 */
export function clientCertificateRefusal(socket: PeerInfo, tls: ServerTls): string | undefined {
  const verifies =
    tls.clientAuthType === 'VerifyClientCertIfGiven' ||
    tls.clientAuthType === 'RequireAndVerifyClientCert'
  const chain = verifies ? purposeRefusedChain(socket) : undefined
  const cert = tls.requestCert ? socket.getPeerX509Certificate() : undefined
  switch (tls.clientAuthType) {
    case 'RequireAnyClientCert':
      if (cert === undefined) return 'no client certificate'
      break
    case 'VerifyClientCertIfGiven':
      if (cert !== undefined) {
        const why = notVerified(socket, chain, tls)
        if (why !== undefined) return why
      }
      break
    case 'RequireAndVerifyClientCert': {
      if (cert === undefined) return 'no client certificate'
      const why = notVerified(socket, chain, tls)
      if (why !== undefined) return why
      break
    }
    case 'NoClientCert':
    case 'RequestClientCert':
      break
  }
  if (tls.allowedSans !== undefined) {
    if (cert === undefined) return 'no client certificate to check client_allowed_sans against'
    const sans = subjectAltNames(cert.subjectAltName ?? '')
    if (!sans.some((san) => tls.allowedSans!.has(san))) {
      return `no SAN of the client certificate is in client_allowed_sans (it has ${sans.join(', ') || 'none'})`
    }
  }
  return undefined
}

/** `0:0:0:0:0:FFFF:102:304` (OpenSSL's form) as Go's net.IP.String() writes it. */
function goIp(text: string): string {
  if (!text.includes(':')) return text
  const groups = text.split(':').map((g) => parseInt(g, 16))
  if (groups.length === 8 && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!]
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1)
  } catch {
    return text.toLowerCase()
  }
}

/**
 * The DNS, email, IP and URI subject alternative names in Node's `subjectAltName` text
 * (`DNS:a, IP Address:127.0.0.1, URI:"x\u002cy"`), written as Go writes them, which is
 * what exporter-toolkit compares client_allowed_sans with. Other kinds are left out.
 */
export function subjectAltNames(text: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < text.length) {
    const colon = text.indexOf(':', i)
    if (colon < 0) break
    const kind = text.slice(i, colon)
    let value: string
    let end: number
    if (text[colon + 1] === '"') {
      // Node quotes values holding separators, JSON-style.
      let j = colon + 2
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      end = j + 1
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string
      } catch {
        value = text.slice(colon + 2, j)
      }
    } else {
      const comma = text.indexOf(', ', colon + 1)
      end = comma < 0 ? text.length : comma
      value = text.slice(colon + 1, end)
    }
    if (kind === 'DNS' || kind === 'email' || kind === 'URI') out.push(value)
    else if (kind === 'IP Address') out.push(goIp(value))
    i = text.startsWith(', ', end) ? end + 2 : end
  }
  return out
}
