/**
 * Client certificate chains verified as Go's crypto/x509 verifies them for a TLS server
 * (Certificate.Verify with Roots: the client CAs, KeyUsages: [ExtKeyUsageClientAuth]; golang/go
 * src/crypto/x509/verify.go, buildChains and isValid). Used only where OpenSSL refused a chain
 * for its purpose alone (INVALID_PURPOSE: a CA or leaf whose extended key usage is
 * anyExtendedKeyUsage alone); OpenSSL checks purposes before signatures, so everything is
 * checked again here. What is checked, and where it differs from Go (name constraints, a CA's
 * keyCertSign): docs/web-config.md, "Which client certificates verify".
 */
import { X509Certificate } from 'node:crypto'
import { rootCertificates } from 'node:tls'

const OID_ANY_EKU = '2.5.29.37.0'
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const OID_EKU = '2.5.29.37'
const OID_BASIC_CONSTRAINTS = '2.5.29.19'
const OID_NAME_CONSTRAINTS = '2.5.29.30'

/**
 * Critical extensions Go's parser handles (parser.go processExtensions: 2.5.29.x for key
 * usage 15, basic constraints 19, SAN 17, name constraints 30, CRL distribution points 31,
 * authority key id 35, policy constraints 36, EKU 37, subject key id 14, policies 32,
 * policy mappings 33, inhibit anyPolicy 54; and authority info access). Any other critical
 * extension makes Go refuse the certificate (isValid: UnhandledCriticalExtension).
 */
const HANDLED_CRITICAL = new Set([
  ...[14, 15, 17, 19, 30, 31, 32, 33, 35, 36, 37, 54].map((n) => `2.5.29.${n}`),
  '1.3.6.1.5.5.7.1.1',
])

/** md2, md5, sha1 with RSA (and the old OIW sha1WithRSA), ECDSA and DSA with SHA-1. */
const WEAK_SIGNATURES = new Set([
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.3.14.3.2.29',
  '1.2.840.10045.4.1',
  '1.2.840.10040.4.3',
])

/** Go's maxChainSignatureChecks. */
const MAX_SIGNATURE_CHECKS = 100

/** What the chain rules need of a certificate, read once from its DER. */
export interface CertFacts {
  x509: X509Certificate
  /** The extended key usage OIDs; undefined without the extension. */
  ekus: readonly string[] | undefined
  /** basicConstraints; undefined without the extension. maxPathLen -1: none. */
  basicConstraints: { ca: boolean; maxPathLen: number } | undefined
  nameConstraints: boolean
  unhandledCritical: readonly string[]
  signatureAlgorithm: string
  notBefore: number
  notAfter: number
}

// A minimal DER reader: certificates use single-byte tags in the parts read here.
interface Tlv {
  tag: number
  start: number
  end: number
}

function tlv(der: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error('truncated DER')
  const tag = der[pos]!
  if ((tag & 0x1f) === 0x1f) throw new Error('unsupported DER tag')
  let len = der[pos + 1]!
  let start = pos + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || start + n > limit) throw new Error('bad DER length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!
    start += n
  }
  const end = start + len
  if (end > limit) throw new Error('truncated DER')
  return { tag, start, end }
}

/** The children of a constructed value. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = []
  for (let pos = parent.start; pos < parent.end;) {
    const t = tlv(der, pos, parent.end)
    out.push(t)
    pos = t.end
  }
  return out
}

function oid(der: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06 || t.end === t.start) throw new Error('expected an OID')
  const parts: number[] = []
  let value = 0
  for (let i = t.start; i < t.end; i++) {
    value = value * 128 + (der[i]! & 0x7f)
    if ((der[i]! & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2
        parts.push(first, value - first * 40)
      } else parts.push(value)
      value = 0
    }
  }
  return parts.join('.')
}

function integer(der: Uint8Array, t: Tlv): number {
  if (t.tag !== 0x02 || t.end - t.start > 6) throw new Error('expected a small INTEGER')
  let v = 0
  for (let i = t.start; i < t.end; i++) v = v * 256 + der[i]!
  return v
}

/** Reads what the chain rules need; throws on DER it cannot read. */
export function certFacts(x509: X509Certificate): CertFacts {
  const der = x509.raw
  const cert = tlv(der, 0, der.length)
  const [tbs, sigAlg] = children(der, cert)
  if (tbs === undefined || sigAlg === undefined) throw new Error('not a certificate')
  const facts: CertFacts = {
    x509,
    ekus: undefined,
    basicConstraints: undefined,
    nameConstraints: false,
    unhandledCritical: [],
    signatureAlgorithm: oid(der, children(der, sigAlg)[0]!),
    notBefore: x509.validFromDate.getTime(),
    notAfter: x509.validToDate.getTime(),
  }
  const extensions = children(der, tbs).find((t) => t.tag === 0xa3)
  if (extensions === undefined) return facts
  const unhandled: string[] = []
  for (const ext of children(der, children(der, extensions)[0]!)) {
    const parts = children(der, ext)
    const id = oid(der, parts[0]!)
    const critical = parts.length === 3 && parts[1]!.tag === 0x01 && der[parts[1]!.start] !== 0
    const value = parts[parts.length - 1]!
    if (value.tag !== 0x04) throw new Error('bad extension')
    if (critical && !HANDLED_CRITICAL.has(id)) unhandled.push(id)
    const inner = () => tlv(der, value.start, value.end)
    if (id === OID_EKU) {
      facts.ekus = children(der, inner()).map((t) => oid(der, t))
    } else if (id === OID_BASIC_CONSTRAINTS) {
      let ca = false
      let maxPathLen = -1
      for (const t of children(der, inner())) {
        if (t.tag === 0x01) ca = der[t.start] !== 0
        else if (t.tag === 0x02) maxPathLen = integer(der, t)
      }
      facts.basicConstraints = { ca, maxPathLen }
    } else if (id === OID_NAME_CONSTRAINTS) {
      facts.nameConstraints = true
    }
  }
  facts.unhandledCritical = unhandled
  return facts
}

/** The certificates client certificates must chain to: the client CAs, read once per config. */
export class TrustAnchors {
  readonly #anchors: CertFacts[]
  readonly #raw: Set<string>

  constructor(certs: readonly X509Certificate[]) {
    this.#anchors = []
    for (const c of certs) {
      try {
        this.#anchors.push(certFacts(c))
      } catch {
        // A CA this reader cannot read anchors nothing here (OpenSSL may still use it).
      }
    }
    this.#raw = new Set(this.#anchors.map((a) => a.x509.fingerprint256))
  }

  /** The candidates for `child`'s issuer. */
  parentsOf(child: X509Certificate): CertFacts[] {
    return this.#anchors.filter((a) => child.checkIssued(a.x509))
  }

  contains(cert: X509Certificate): boolean {
    return (
      this.#raw.has(cert.fingerprint256) && this.#anchors.some((a) => a.x509.raw.equals(cert.raw))
    )
  }
}

let nodeRoots: TrustAnchors | undefined

/** Node's bundled root CAs, which OpenSSL verifies against without a client CA. */
export function nodeRootAnchors(): TrustAnchors {
  nodeRoots ??= new TrustAnchors(rootCertificates.map((pem) => new X509Certificate(pem)))
  return nodeRoots
}

type Kind = 'leaf' | 'intermediate' | 'root'

/** Go's isValid for `cert` appended to `chain` (leaf first); a reason to refuse, or undefined. */
function invalid(
  cert: CertFacts,
  kind: Kind,
  chain: readonly CertFacts[],
  now: number,
): string | undefined {
  const name = cert.x509.subject.replace(/\n/g, ', ')
  if (cert.unhandledCritical.length > 0) {
    return `${name}: unhandled critical extension ${cert.unhandledCritical.join(', ')}`
  }
  if (now < cert.notBefore || now > cert.notAfter) {
    return `${name}: expired or not yet valid (${cert.x509.validFrom} to ${cert.x509.validTo})`
  }
  // Go, isValid: a certificate listing extended key usages must list anyExtendedKeyUsage
  // or a requested one (here clientAuth); none listed, or no extension, is any usage.
  if (
    cert.ekus !== undefined &&
    cert.ekus.length > 0 &&
    !cert.ekus.includes(OID_ANY_EKU) &&
    !cert.ekus.includes(OID_CLIENT_AUTH)
  ) {
    return `${name}: extended key usage without clientAuth or anyExtendedKeyUsage`
  }
  if (kind !== 'leaf' && cert.nameConstraints) {
    return `${name}: name constraints, which only OpenSSL's verification checks here`
  }
  if (kind === 'intermediate' && cert.basicConstraints?.ca !== true) {
    return `${name}: not a CA, so not authorized to sign certificates`
  }
  const bc = cert.basicConstraints
  if (bc !== undefined && bc.maxPathLen >= 0 && chain.length - 1 > bc.maxPathLen) {
    return `${name}: too many intermediates for its path length constraint`
  }
  return undefined
}

interface Search {
  anchors: TrustAnchors
  intermediates: readonly CertFacts[]
  now: number
  signatureChecks: number
  hint: string | undefined
}

function signedBy(child: CertFacts, parent: CertFacts, s: Search): boolean {
  if (++s.signatureChecks > MAX_SIGNATURE_CHECKS) {
    s.hint = 'signature check attempts limit reached'
    return false
  }
  if (WEAK_SIGNATURES.has(child.signatureAlgorithm)) {
    s.hint ??= `${child.x509.subject.replace(/\n/g, ', ')}: SHA-1 or MD5 signature`
    return false
  }
  try {
    if (child.x509.verify(parent.x509.publicKey)) return true
  } catch {
    // a key that cannot verify this signature
  }
  s.hint ??= `bad signature on ${child.x509.subject.replace(/\n/g, ', ')}`
  return false
}

/** Go's buildChains, stopping at the first chain found: does one exist above `chain`? */
function buildChain(chain: CertFacts[], s: Search): boolean {
  const c = chain[chain.length - 1]!
  const tryParent = (parent: CertFacts, kind: Kind): boolean => {
    if (chain.some((x) => x.x509.raw.equals(parent.x509.raw))) return false
    if (!signedBy(c, parent, s)) return false
    const why = invalid(parent, kind, chain, s.now)
    if (why !== undefined) {
      s.hint = why
      return false
    }
    return kind === 'root' || buildChain([...chain, parent], s)
  }
  for (const root of s.anchors.parentsOf(c.x509)) if (tryParent(root, 'root')) return true
  for (const i of s.intermediates) {
    if (c.x509.checkIssued(i.x509) && tryParent(i, 'intermediate')) return true
  }
  return false
}

/**
 * Verifies a client certificate as Go's TLS server does (x509 Verify with KeyUsages
 * [ExtKeyUsageClientAuth]). `others`: the other certificates the client sent (and any
 * OpenSSL added), used as intermediates only. Returns why it is refused, or undefined.
 */
export function goClientCertRefusal(
  leaf: X509Certificate,
  others: readonly X509Certificate[],
  anchors: TrustAnchors,
  now: number = Date.now(),
): string | undefined {
  let leafFacts: CertFacts
  const intermediates: CertFacts[] = []
  try {
    leafFacts = certFacts(leaf)
    for (const o of others) intermediates.push(certFacts(o))
  } catch (err) {
    return `unreadable certificate (${(err as Error).message})`
  }
  const why = invalid(leafFacts, 'leaf', [], now)
  if (why !== undefined) return why
  if (anchors.contains(leaf)) return undefined
  const s: Search = { anchors, intermediates, now, signatureChecks: 0, hint: undefined }
  if (buildChain([leafFacts], s)) return undefined
  return `signed by unknown authority${s.hint === undefined ? '' : ` (${s.hint})`}`
}
