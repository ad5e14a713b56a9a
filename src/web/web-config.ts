/**
 * `--web.config.file`: prometheus/exporter-toolkit's web configuration (TLS, basic auth,
 * response headers, HTTP/2, rate limit), so that a node_exporter web config file works
 * unchanged. Pure: text in, a typed config out, or a WebConfigError that names the file,
 * the key, the line and what the key accepts. Decoding is as strict as exporter-toolkit's,
 * and stricter where it accepts a file that cannot do what it says: docs/web-config.md,
 * "How this layer matches exporter-toolkit". Reading the files the config names is
 * web-tls.ts's business; applying the config, web.ts's.
 */
import { dirname, isAbsolute, join } from 'node:path'
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
} from 'yaml'
import { ErrorCode, ExporterError } from '../errors.ts'

/** exporter-toolkit's TLS version names -> Node's. */
export const TLS_VERSIONS = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
} as const
export type TlsVersionName = keyof typeof TLS_VERSIONS
const TLS_VERSION_NAMES = Object.keys(TLS_VERSIONS) as TlsVersionName[]

/** Go's crypto/tls ClientAuthType names, as exporter-toolkit accepts them. */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number]
/** exporter-toolkit keeps this old name of RequireAnyClientCert. */
const CLIENT_AUTH_ALIASES: Readonly<Record<string, ClientAuthType>> = {
  RequireClientCert: 'RequireAnyClientCert',
}

/**
 * The cipher suites Go's tls.CipherSuites() names (the ones exporter-toolkit accepts),
 * as OpenSSL names them. The three TLS 1.3 suites have the same name in both.
 */
export const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
}

/** Suites HTTP/2 over TLS 1.2 needs one of (RFC 7540 9.2.2; Go refuses to start without). */
const HTTP2_REQUIRED_SUITES = [
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
]

/** exporter-toolkit's curve names -> OpenSSL's group names. */
export const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
}

/**
 * The only response headers exporter-toolkit lets a web config set, and the values it
 * accepts for each (null: any value).
 */
export const HEADERS: Readonly<Record<string, readonly string[] | null>> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
}

/** Where a PEM comes from: a file (resolved against the web config's directory) or inline. */
export type PemSource =
  | { key: string; file: string; inline?: undefined }
  | { key: string; inline: string; file?: undefined }

export interface TlsServerConfig {
  cert: PemSource
  key: PemSource
  clientCa: PemSource | undefined
  clientAuthType: ClientAuthType
  /** undefined: no SAN check. */
  clientAllowedSans: readonly string[] | undefined
  minVersion: TlsVersionName
  maxVersion: TlsVersionName
  /** Go names; empty: Node's default suites. */
  cipherSuites: readonly string[]
  /** exporter-toolkit names; empty: Node's default groups. */
  curvePreferences: readonly string[]
  preferServerCipherSuites: boolean
}

export interface WebConfig {
  /** undefined: plain HTTP. */
  tls: TlsServerConfig | undefined
  /** Offer HTTP/2 (with TLS only). */
  http2: boolean
  /** Headers set on every response, in the file's order; blank values are left out. */
  headers: readonly (readonly [string, string])[]
  /** User -> bcrypt hash; empty: no basic auth. */
  users: ReadonlyMap<string, string>
  /** undefined: no rate limit. */
  rateLimit: { intervalSeconds: number; burst: number } | undefined
}

export class WebConfigError extends ExporterError {
  readonly file: string
  /** The key at fault, dotted (`tls_server_config.min_version`); undefined for the whole file. */
  readonly key: string | undefined

  constructor(file: string, key: string | undefined, detail: string, options?: ErrorOptions) {
    const where = key === undefined ? '' : `${key}: `
    super(
      ErrorCode.WEB_CONFIG_INVALID,
      `--web.config.file=${JSON.stringify(file)}: ${where}${detail}`,
      options,
    )
    this.name = 'WebConfigError'
    this.file = file
    this.key = key
  }
}

/** A WebConfigError whose detail is the problem and then what to do: `problem: fix`. */
export function webConfigProblem(
  file: string,
  key: string | undefined,
  problem: string,
  fix: string,
  cause?: unknown,
): WebConfigError {
  return new WebConfigError(
    file,
    key,
    `${problem}: ${fix}`,
    cause === undefined ? undefined : { cause },
  )
}

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'rate_limit', 'basic_auth_users']
const TLS_KEYS = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_auth_type',
  'client_ca_file',
  'cipher_suites',
  'curve_preferences',
  'min_version',
  'max_version',
  'prefer_server_cipher_suites',
  'client_allowed_sans',
]
/** Keys that turn TLS on (exporter-toolkit's TLSConfig.IsEnabled). */
const TLS_ENABLING_KEYS = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_ca_file',
  'client_auth_type',
]
const HTTP_KEYS = ['http2', 'headers']
const RATE_LIMIT_KEYS = ['burst', 'interval']

/** go-yaml v2's boolean spellings (YAML 1.1). */
const YAML11_TRUE = new Set([
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'on',
  'On',
  'ON',
  'true',
  'True',
  'TRUE',
])
const YAML11_FALSE = new Set([
  'n',
  'N',
  'no',
  'No',
  'NO',
  'off',
  'Off',
  'OFF',
  'false',
  'False',
  'FALSE',
])

/** bcrypt as Go's x/crypto/bcrypt and bcryptjs both verify it: $2a$, $2b$ or $2y$, cost 04..31. */
const BCRYPT_RE = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/
const BCRYPT_FIX =
  "expected a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to 31), e.g. from htpasswd -nBC 10 '' | tr -d ':\\n'"

function list(names: readonly string[]): string {
  return names.length <= 1
    ? names.join('')
    : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`
}

/** One `key: value` of a mapping, with the nodes for line numbers. */
interface Entry {
  keyNode: YamlNode
  value: YamlNode | null
}

/** Reads typed values off the YAML tree; every failure names its dotted key and line. */
class Decoder {
  readonly file: string
  private readonly doc: Document
  private readonly lines: LineCounter

  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file
    this.doc = doc
    this.lines = lines
  }

  fail(
    key: string | undefined,
    node: YamlNode | null | undefined,
    problem: string,
    fix: string,
  ): never {
    const offset = node?.range?.[0]
    const line = offset === undefined ? '' : ` (line ${this.lines.linePos(offset).line})`
    throw new WebConfigError(this.file, key, `${problem}${line}: ${fix}`)
  }

  resolve(node: unknown): YamlNode | null {
    if (node === null || node === undefined) return null
    if (isAlias(node)) return (node.resolve(this.doc) as YamlNode | undefined) ?? null
    return node as YamlNode
  }

  isNull(node: YamlNode | null): boolean {
    return node === null || (isScalar(node) && node.value === null)
  }

  /** A mapping's entries, refusing keys not in `allowed` (`allowed` null: any key). */
  mapping(
    node: YamlNode | null,
    key: string | undefined,
    allowed: readonly string[] | null,
  ): Map<string, Entry> {
    const out = new Map<string, Entry>()
    if (this.isNull(node)) return out
    if (!isMap(node)) {
      const what = key === undefined ? 'the file' : key
      this.fail(key, node, `${what} is not a mapping`, this.mappingFix(key, allowed))
    }
    for (const pair of node.items) {
      const keyNode = this.resolve(pair.key)
      const name = keyNode !== null && isScalar(keyNode) ? this.text(keyNode) : null
      const dotted = key === undefined ? (name ?? '?') : `${key}.${name ?? '?'}`
      if (name === null || keyNode === null) {
        this.fail(key, keyNode, 'a key that is not a plain string', this.mappingFix(key, allowed))
      }
      if (allowed !== null && !allowed.includes(name)) {
        this.fail(dotted, keyNode, 'unknown key', `expected one of ${list(allowed)}`)
      }
      out.set(name, { keyNode, value: this.resolve(pair.value) })
    }
    return out
  }

  private mappingFix(key: string | undefined, allowed: readonly string[] | null): string {
    if (allowed !== null) return `expected a mapping with ${list(allowed)}`
    return key === 'basic_auth_users'
      ? 'expected a mapping of user names to bcrypt hashes'
      : 'expected a mapping of names to strings'
  }

  /** A scalar's text as go-yaml v2 reads it into a string: plain scalars keep their source. */
  text(node: YamlNode): string | null {
    if (!isScalar(node)) return null
    const value = node.value
    if (node.type === 'PLAIN' && typeof node.source === 'string' && value !== null) {
      return node.source
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      return String(value)
    }
    return null
  }

  string(entry: Entry | undefined, key: string, fix = 'expected a string'): string {
    const node = entry?.value ?? null
    if (this.isNull(node)) return ''
    const text = node === null ? null : this.text(node)
    if (text === null) this.fail(key, node, 'not a string', fix)
    return text
  }

  bool(entry: Entry | undefined, key: string, dflt: boolean): boolean {
    if (entry === undefined) return dflt
    const node = entry.value
    if (this.isNull(node)) return false
    if (node !== null && isScalar(node) && node.type === 'PLAIN') {
      const source = node.source ?? ''
      if (YAML11_TRUE.has(source)) return true
      if (YAML11_FALSE.has(source)) return false
    }
    this.fail(key, node ?? entry.keyNode, 'not a boolean', 'expected true or false')
  }

  /** A sequence of strings; undefined when absent or null. */
  strings(entry: Entry | undefined, key: string): string[] | undefined {
    const node = entry?.value ?? null
    if (this.isNull(node)) return undefined
    if (!isSeq(node)) this.fail(key, node, 'not a list', 'expected a list of strings')
    return node.items.map((item) => {
      const resolved = this.resolve(item)
      const text = resolved === null ? null : this.text(resolved)
      if (text === null)
        this.fail(key, resolved ?? node, 'not a list of strings', 'expected a list of strings')
      return text
    })
  }

  int(entry: Entry | undefined, key: string): number {
    const node = entry?.value ?? null
    if (this.isNull(node)) return 0
    if (
      node !== null &&
      isScalar(node) &&
      node.type === 'PLAIN' &&
      Number.isSafeInteger(node.value)
    ) {
      return node.value as number
    }
    this.fail(key, node, 'not a whole number', 'expected a whole number, e.g. 20')
  }
}

const GO_DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
}
const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y

/** Go's time.ParseDuration (`1s`, `1m30s`, `1.5h`, `500ms`, `0`) in seconds; null when malformed. */
export function parseGoDuration(text: string): number | null {
  let rest = text
  let sign = 1
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1
    rest = rest.slice(1)
  }
  if (rest === '0') return 0
  if (rest === '') return null
  let seconds = 0
  GO_DURATION_PART.lastIndex = 0
  while (GO_DURATION_PART.lastIndex < rest.length) {
    const m = GO_DURATION_PART.exec(rest)
    if (m === null) return null
    seconds += Number(m[1]) * GO_DURATION_UNITS[m[2]!]!
  }
  return sign * seconds
}

/** Go's path joining for the files a web config names: relative to the config's directory. */
function joinDir(dir: string, path: string): string {
  return path === '' || isAbsolute(path) ? path : join(dir, path)
}

/**
 * Parses and validates a web config file's text. `file` is its path: relative paths in it
 * resolve against its directory, and errors name it.
 */
export function parseWebConfig(text: string, file: string): WebConfig {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true })
  const yamlError = doc.errors[0]
  if (yamlError !== undefined) {
    const first = yamlError.message.split('\n')[0]!.replace(/:$/, '')
    throw webConfigProblem(file, undefined, `not valid YAML (${first})`, 'correct the YAML there')
  }
  const d = new Decoder(file, doc, lines)
  const root = d.mapping(d.resolve(doc.contents), undefined, TOP_KEYS)
  const dir = dirname(file)

  // http_server_config first: the TLS checks need http2.
  const httpEntry = root.get('http_server_config')
  const http = d.mapping(httpEntry?.value ?? null, 'http_server_config', HTTP_KEYS)
  const http2 = d.bool(http.get('http2'), 'http_server_config.http2', true)
  const headers = decodeHeaders(d, http.get('headers'))

  const tls = decodeTls(d, root.get('tls_server_config'), dir, http2)
  const users = decodeUsers(d, root.get('basic_auth_users'))
  const rateLimit = decodeRateLimit(d, root.get('rate_limit'))
  return { tls, http2, headers, users, rateLimit }
}

function decodeHeaders(d: Decoder, entry: Entry | undefined): [string, string][] {
  const out: [string, string][] = []
  const names = Object.keys(HEADERS)
  for (const [name, e] of d.mapping(entry?.value ?? null, 'http_server_config.headers', null)) {
    const key = `http_server_config.headers.${name}`
    if (!Object.hasOwn(HEADERS, name)) {
      d.fail(
        key,
        e.keyNode,
        'this header cannot be set',
        `expected one of ${list(names)} (exporter-toolkit's list, names as written there)`,
      )
    }
    const value = d.string(e, key)
    const allowed = HEADERS[name]
    if (allowed !== null && allowed !== undefined && value !== '' && !allowed.includes(value)) {
      d.fail(key, e.value, `${JSON.stringify(value)} is not valid`, `expected ${list(allowed)}`)
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
      d.fail(key, e.value, 'a control character in the value', 'expected one line of text')
    }
    if (value !== '') out.push([name, value])
  }
  return out
}

function decodeUsers(d: Decoder, entry: Entry | undefined): Map<string, string> {
  const users = new Map<string, string>()
  for (const [user, e] of d.mapping(entry?.value ?? null, 'basic_auth_users', null)) {
    const key = `basic_auth_users.${user}`
    if (user.includes(':')) {
      d.fail(
        key,
        e.keyNode,
        'a user name with a colon can never log in with basic auth',
        'rename the user',
      )
    }
    // Never echo the value: it is a secret.
    const hash = d.string(e, key, BCRYPT_FIX)
    const m = BCRYPT_RE.exec(hash)
    const cost = m === null ? 0 : Number(m[1])
    if (cost < 4 || cost > 31) d.fail(key, e.value ?? e.keyNode, 'not a bcrypt hash', BCRYPT_FIX)
    users.set(user, hash)
  }
  return users
}

function decodeRateLimit(
  d: Decoder,
  entry: Entry | undefined,
): { intervalSeconds: number; burst: number } | undefined {
  const r = d.mapping(entry?.value ?? null, 'rate_limit', RATE_LIMIT_KEYS)
  const burst = d.int(r.get('burst'), 'rate_limit.burst')
  if (burst < 0)
    d.fail('rate_limit.burst', r.get('burst')?.value, `${burst} is not valid`, 'expected 0 or more')
  const intervalEntry = r.get('interval')
  let intervalSeconds = 0
  const node = intervalEntry?.value ?? null
  if (!d.isNull(node) && node !== null) {
    const fix = "expected a duration in Go's syntax, e.g. 1s, 500ms or 1m30s; 0 turns the limit off"
    if (isScalar(node) && node.type === 'PLAIN' && Number.isSafeInteger(node.value)) {
      intervalSeconds = (node.value as number) / 1e9 // go-yaml v2 reads a bare integer as nanoseconds
    } else {
      const text = d.string(intervalEntry, 'rate_limit.interval', fix)
      const parsed = parseGoDuration(text)
      if (parsed === null)
        d.fail('rate_limit.interval', node, `${JSON.stringify(text)} is not valid`, fix)
      intervalSeconds = parsed
    }
    if (intervalSeconds < 0) d.fail('rate_limit.interval', node, 'a negative interval', fix)
  }
  return intervalSeconds === 0 ? undefined : { intervalSeconds, burst }
}

function decodeTls(
  d: Decoder,
  entry: Entry | undefined,
  dir: string,
  http2: boolean,
): TlsServerConfig | undefined {
  const section = 'tls_server_config'
  const t = d.mapping(entry?.value ?? null, section, TLS_KEYS)
  const k = (name: string) => `${section}.${name}`
  const str = (name: string) => d.string(t.get(name), k(name))

  const cert = str('cert')
  const key = str('key')
  const clientCa = str('client_ca')
  const certFile = str('cert_file')
  const keyFile = str('key_file')
  const clientCaFile = str('client_ca_file')
  const clientAuthText = str('client_auth_type')

  const versionOf = (name: string, dflt: TlsVersionName): TlsVersionName => {
    const e = t.get(name)
    const text = d.string(e, k(name))
    if (text === '') return dflt
    if (!(TLS_VERSION_NAMES as string[]).includes(text)) {
      d.fail(
        k(name),
        e?.value,
        `${JSON.stringify(text)} is not valid`,
        `expected ${list(TLS_VERSION_NAMES)}`,
      )
    }
    return text as TlsVersionName
  }
  const minVersion = versionOf('min_version', 'TLS12')
  const maxVersion = versionOf('max_version', 'TLS13')

  const namesOf = (
    name: string,
    known: Readonly<Record<string, string>>,
    what: string,
  ): string[] => {
    const e = t.get(name)
    const names = d.strings(e, k(name)) ?? []
    for (const n of names) {
      if (!Object.hasOwn(known, n)) {
        d.fail(
          k(name),
          e?.value,
          `unknown ${what} ${JSON.stringify(n)}`,
          `expected some of ${list(Object.keys(known))}`,
        )
      }
    }
    return names
  }
  const cipherSuites = namesOf('cipher_suites', CIPHER_SUITES, 'cipher suite')
  const curvePreferences = namesOf('curve_preferences', CURVES, 'curve')
  const preferServerCipherSuites = d.bool(
    t.get('prefer_server_cipher_suites'),
    k('prefer_server_cipher_suites'),
    true,
  )
  const sansEntry = t.get('client_allowed_sans')
  const clientAllowedSans = d.strings(sansEntry, k('client_allowed_sans'))

  const enabled = TLS_ENABLING_KEYS.some((name) => str(name) !== '')
  if (!enabled) {
    // exporter-toolkit would serve plain HTTP and ignore these: refuse rather than leave
    // someone believing TLS is on.
    for (const [name, e] of t) {
      if (!d.isNull(e.value)) {
        d.fail(
          k(name),
          e.keyNode,
          'TLS is off because neither cert_file nor cert is set',
          'set cert_file and key_file (or cert and key) to turn TLS on, or remove this key',
        )
      }
    }
    return undefined
  }

  const pem = (
    inline: string,
    inlineName: string,
    file: string,
    fileName: string,
  ): PemSource | undefined => {
    if (inline !== '' && file !== '') {
      d.fail(
        k(fileName),
        t.get(fileName)?.keyNode,
        `both ${inlineName} and ${fileName} are set`,
        `keep one of them`,
      )
    }
    if (file !== '') return { key: k(fileName), file: joinDir(dir, file) }
    if (inline !== '') return { key: k(inlineName), inline }
    return undefined
  }
  const certSource = pem(cert, 'cert', certFile, 'cert_file')
  const keySource = pem(key, 'key', keyFile, 'key_file')
  const caSource = pem(clientCa, 'client_ca', clientCaFile, 'client_ca_file')
  if (certSource === undefined) {
    d.fail(
      section,
      entry?.keyNode,
      'TLS needs a certificate',
      'set cert_file (or cert, the PEM inline)',
    )
  }
  if (keySource === undefined) {
    d.fail(
      section,
      entry?.keyNode,
      'TLS needs a private key',
      'set key_file (or key, the PEM inline)',
    )
  }

  let clientAuthType: ClientAuthType = 'NoClientCert'
  if (clientAuthText !== '') {
    const known = (CLIENT_AUTH_TYPES as readonly string[]).includes(clientAuthText)
    const alias = CLIENT_AUTH_ALIASES[clientAuthText]
    if (!known && alias === undefined) {
      d.fail(
        k('client_auth_type'),
        t.get('client_auth_type')?.value,
        `${JSON.stringify(clientAuthText)} is not valid`,
        `expected ${list(CLIENT_AUTH_TYPES)}`,
      )
    }
    clientAuthType = alias ?? (clientAuthText as ClientAuthType)
  }
  if (caSource !== undefined && clientAuthType === 'NoClientCert') {
    d.fail(
      caSource.key,
      t.get(caSource.key.slice(section.length + 1))?.keyNode,
      'a client CA without a client_auth_type that asks for client certificates',
      'set client_auth_type: RequireAndVerifyClientCert, or remove it',
    )
  }
  if (clientAllowedSans !== undefined) {
    if (clientAllowedSans.length === 0) {
      d.fail(
        k('client_allowed_sans'),
        sansEntry?.keyNode,
        'an empty list would refuse every client',
        'list the SANs to allow, or remove the key',
      )
    }
    if (clientAuthType === 'NoClientCert') {
      d.fail(
        k('client_allowed_sans'),
        sansEntry?.keyNode,
        'no client certificate is asked for, so no SAN can be checked',
        'set client_auth_type: RequireAndVerifyClientCert',
      )
    }
  }
  if (TLS_VERSION_NAMES.indexOf(minVersion) > TLS_VERSION_NAMES.indexOf(maxVersion)) {
    d.fail(
      k('min_version'),
      t.get('min_version')?.value ?? t.get('max_version')?.value,
      `${minVersion} is above max_version ${maxVersion}`,
      'expected min_version at or below max_version',
    )
  }
  if (
    http2 &&
    cipherSuites.length > 0 &&
    minVersion !== 'TLS13' &&
    !cipherSuites.some((s) => HTTP2_REQUIRED_SUITES.includes(s))
  ) {
    d.fail(
      k('cipher_suites'),
      t.get('cipher_suites')?.value,
      `HTTP/2 needs ${list(HTTP2_REQUIRED_SUITES)}`,
      'add one of them, or set http_server_config.http2: false',
    )
  }
  return {
    cert: certSource,
    key: keySource,
    clientCa: caSource,
    clientAuthType,
    clientAllowedSans,
    minVersion,
    maxVersion,
    cipherSuites,
    curvePreferences,
    preferServerCipherSuites,
  }
}
