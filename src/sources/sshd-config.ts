// sshd's effective limits, from `sshd -T` output or from sshd_config files read the way sshd
// reads them (OpenSSH 9.2 and 10.0 servconf.c, checked against the real binaries by the tests).
//
// What sshd does, and this module copies:
// - One directive a line: `Keyword value`, `Keyword=value` or `Keyword = value`, keywords in
//   any case, `#` starts a comment where an argument could start, arguments may be quoted.
// - The first value of a keyword wins. Exceptions: `UnusedConnectionTimeout none` wins
//   wherever it comes; up to OpenSSH 10.0 the LAST `MaxStartups` wins, and a one-number
//   `MaxStartups N` keeps the rate of an earlier line (10.1 made it first-wins); up to 9.4
//   the last `PerSourceMaxStartups` wins (9.5 made it first-wins).
// - `Match` blocks run until the next `Match` or the end of the file. A criterion that needs
//   a connection (User, Address, ...) never matches here; `Match all` does, and its values
//   override the global ones for the keywords that Match may set (as for every connection).
// - `Include` takes globs; a relative path is resolved against /etc/ssh (not against the
//   including file); matches are read in byte order, dot-files only when named; a directory
//   reads as empty; no match is not an error. An included file inherits the Match state and
//   cannot change the includer's. sshd refuses more than 16 levels of nesting (so a loop).
// - A missing keyword takes OpenSSH's default.
// Paths are read under an injected root as if it were a chroot: `..` and absolute symlinks
// never leave it.

import { constants } from 'node:fs'
import { lstat, open, readdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { resolveInRoot as resolveHostPath } from './rootfs.ts'

/** MaxStartups `begin:rate:full`; `rate` is a ratio (0.3 for 30). */
export type MaxStartups = { begin: number; rate: number; full: number }

/** One ChannelTimeout entry, `type=interval` (type may be a pattern: `session:*`, `*`). */
export type ChannelTimeout = { type: string; seconds: number }

/** The values of sshd's configuration that the exporter reports. */
export type EffectiveConfig = {
  maxSessions: number
  maxStartups: MaxStartups
  /** 0 means unlimited. */
  loginGraceTimeSeconds: number
  /** 0 means disabled. */
  clientAliveIntervalSeconds: number
  clientAliveCountMax: number
  /** null means none (0 in the file means none too). */
  unusedConnectionTimeoutSeconds: number | null
  /** null means none. */
  perSourceMaxStartups: number | null
  /** [] means none. */
  channelTimeouts: ChannelTimeout[]
  /**
   * The TCP ports sshd listens on, sorted: each ListenAddress's own port, or every Port for one
   * without; every Port when there is no ListenAddress; 22 when there is no Port either.
   */
  listenPorts: number[]
  /** sshd's LogLevel, upper case: VERBOSE and DEBUG* log every session channel's start and end. */
  logLevel: SshdLogLevel
}

/** sshd's log levels (log.c log_levels[]), least verbose first. */
export const SSHD_LOG_LEVELS = [
  'QUIET',
  'FATAL',
  'ERROR',
  'INFO',
  'VERBOSE',
  'DEBUG',
  'DEBUG1',
  'DEBUG2',
  'DEBUG3',
] as const
export type SshdLogLevel = (typeof SSHD_LOG_LEVELS)[number]

/** Whether sshd logs `Starting session` and `Close session` (at VERBOSE and above). */
export function logsSessions(level: SshdLogLevel): boolean {
  return SSHD_LOG_LEVELS.indexOf(level) >= SSHD_LOG_LEVELS.indexOf('VERBOSE')
}

function parseLogLevel(text: string): SshdLogLevel | undefined {
  const upper = text.toUpperCase()
  return (SSHD_LOG_LEVELS as readonly string[]).includes(upper)
    ? (upper as SshdLogLevel)
    : undefined
}

/** Something that made a value partial or doubtful; log once. `file` is a path inside the root. */
export type ConfigProblem = { file: string; line?: number; message: string }

/** Values and what went wrong getting them. */
export type SshdConfig = { values: EffectiveConfig; problems: ConfigProblem[] }

/** Values from files, and which files were parsed (paths inside the root, in parse order). */
export type SshdConfigFiles = SshdConfig & { files: string[] }

export type SshdConfigOptions = {
  /** Where relative Include paths are resolved, inside the root. Default `/etc/ssh`. */
  sshdir?: string
  /**
   * Version of the sshd that reads these files (`9.2`, `OpenSSH_10.2p1`): up to 10.0 the last
   * MaxStartups wins (the first from 10.1), up to 9.4 the last PerSourceMaxStartups (the first
   * from 9.5). Default `10.0`.
   */
  opensshVersion?: string
  /** A file larger than this is skipped, with a problem. Default 1 MiB. */
  maxFileBytes?: number
  /** At most this many files are read. Default 1000. */
  maxFiles?: number
}

/** OpenSSH's defaults for what the configuration does not set. */
export const SSHD_DEFAULTS = Object.freeze({
  maxSessions: 10,
  maxStartups: Object.freeze({ begin: 10, rate: 0.3, full: 100 }),
  loginGraceTimeSeconds: 120,
  clientAliveIntervalSeconds: 0,
  clientAliveCountMax: 3,
  unusedConnectionTimeoutSeconds: null as number | null,
  perSourceMaxStartups: null as number | null,
  channelTimeouts: Object.freeze([] as ChannelTimeout[]),
  listenPorts: Object.freeze([22]),
  logLevel: 'INFO',
})

export const SSHD_CONFIG_ERROR_CODES = ['NOT_FOUND', 'UNREADABLE', 'TOO_BIG', 'BINARY'] as const
export type SshdConfigErrorCode = (typeof SSHD_CONFIG_ERROR_CODES)[number]

/** The main sshd_config could not be used; `NOT_FOUND` means there is none under the root. */
export class SshdConfigError extends Error {
  readonly code: SshdConfigErrorCode
  readonly file: string
  constructor(code: SshdConfigErrorCode, file: string, message: string) {
    super(`${file}: ${message}`)
    this.name = 'SshdConfigError'
    this.code = code
    this.file = file
  }
}

const INT_MAX = 2147483647
const MAX_INCLUDE_DEPTH = 16 // servconf.c SERVCONF_MAX_DEPTH
const MAX_PARSES = 10_000 // includes may re-read files; bounds a pathological fan-out
const DEFAULT_MAX_FILE_BYTES = 1024 * 1024
const DEFAULT_MAX_FILES = 1000
const SSHD_T = 'sshd -T'
const REFUSED = 'sshd refuses to start with this'

// ---------------------------------------------------------------------------------------------
// Values

/**
 * sshd's time syntax (misc.c convtime): `90`, `1m30s`, `2h`, `1w`; units s m h d w in either
 * case. Returns seconds, or undefined when sshd would reject it (`none` is not a time).
 */
export function parseSshdTime(text: string): number | undefined {
  if (text === '') return undefined
  let total = 0
  let i = 0
  while (i < text.length) {
    const start = i
    while (i < text.length && isDigit(text.charCodeAt(i))) i++
    if (i === start) return undefined
    const secs = Number(text.slice(start, i))
    let multiplier = 1
    if (i < text.length) {
      multiplier = timeUnit(text.charCodeAt(i))
      if (multiplier === 0) return undefined
      i++
    }
    if (secs > Math.floor(INT_MAX / multiplier)) return undefined
    total += secs * multiplier
    if (total > INT_MAX) return undefined
  }
  return total
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

function timeUnit(code: number): number {
  switch (code | 0x20) {
    case 0x73: // s
      return 1
    case 0x6d: // m
      return 60
    case 0x68: // h
      return 3600
    case 0x64: // d
      return 86400
    case 0x77: // w
      return 604800
    default:
      return 0
  }
}

const INTEGER = /^[\t\n\v\f\r ]*[+-]?\d+$/

/** An integer from 0 to INT_MAX, as sshd's atoi_err (strtonum) takes it. */
function parseCount(text: string | undefined): number | string {
  if (text === undefined || text === '') return 'missing'
  if (!INTEGER.test(text)) return 'invalid'
  const value = Number(text)
  if (value < 0) return 'too small'
  if (value > INT_MAX) return 'too large'
  return value === 0 ? 0 : value // -0
}

/** sscanf("%d:%d:%d"): how many numbers were read before the text stopped fitting. */
function scanColonInts(text: string): number[] {
  const out: number[] = []
  const re = /[\t\n\v\f\r ]*([+-]?\d+)/y
  let pos = 0
  while (out.length < 3) {
    if (out.length > 0) {
      if (text[pos] !== ':') break
      pos++
    }
    re.lastIndex = pos
    const m = re.exec(text)
    if (m === null) break
    out.push(Number(m[1]))
    pos = re.lastIndex
  }
  return out
}

type MaxStartupsRaw = { begin: number; rate: number; full: number } // percent; -1 when unset

function checkMaxStartups(arg: string): MaxStartupsRaw | string {
  const n = scanColonInts(arg)
  const bad = `invalid MaxStartups "${arg}"`
  if (n.some((v) => v > INT_MAX || v < -INT_MAX - 1)) return bad
  if (n.length === 3) {
    const [begin, rate, full] = n as [number, number, number]
    if (begin > full || rate > 100 || rate < 1 || begin <= 0 || full <= 0) return bad
    return { begin, rate, full }
  }
  if (n.length !== 1 || n[0]! <= 0) return bad
  return { begin: n[0]!, rate: -1, full: n[0]! }
}

function checkChannelTimeouts(args: string[]): ChannelTimeout[] | string {
  if (args.length === 0) return 'no ChannelTimeout specified'
  const out: ChannelTimeout[] = []
  for (const arg of args) {
    if (arg.toLowerCase() === 'none') {
      if (args.length > 1) return 'ChannelTimeout "none" must appear alone'
      return []
    }
    const eq = arg.indexOf('=')
    const seconds = eq > 0 ? parseSshdTime(arg.slice(eq + 1)) : undefined
    if (seconds === undefined) return `invalid ChannelTimeout "${arg}"`
    out.push({ type: arg.slice(0, eq), seconds })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// `sshd -T`

const T_KEYS = new Set([
  'maxsessions',
  'maxstartups',
  'logingracetime',
  'clientaliveinterval',
  'clientalivecountmax',
  'unusedconnectiontimeout',
  'persourcemaxstartups',
  'channeltimeout',
  'loglevel',
])

/** Keywords that `sshd -T` prints once per value, all kept. */
const T_MULTI_KEYS = new Set(['port', 'listenaddress'])

/**
 * A port as sshd's a2port takes it (1 to 65535, decimal digits only), or undefined.
 */
function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

/**
 * The port of a ListenAddress argument when it names one: `host:port` or `[host]:port` (an IPv6
 * address without brackets has no port: servconf.c's hpdelim sees more than one colon).
 */
function listenAddressPort(arg: string): number | undefined | string {
  let rest: string
  if (arg.startsWith('[')) {
    const close = arg.indexOf(']')
    if (close < 0) return `invalid ListenAddress "${arg}"`
    rest = arg.slice(close + 1)
    if (rest === '') return undefined
    if (!rest.startsWith(':')) return `invalid ListenAddress "${arg}"`
    rest = rest.slice(1)
  } else {
    const colon = arg.indexOf(':')
    if (colon < 0 || arg.indexOf(':', colon + 1) >= 0) return undefined
    rest = arg.slice(colon + 1)
  }
  return parsePort(rest) ?? `bad port number "${rest}" in ListenAddress "${arg}"`
}

/** Every port sshd binds, from its Port values and ListenAddress ports (undefined: all Ports). */
function effectiveListenPorts(ports: number[], addresses: (number | undefined)[]): number[] {
  const base = ports.length > 0 ? ports : [...SSHD_DEFAULTS.listenPorts]
  const all = new Set<number>()
  if (addresses.length === 0) for (const p of base) all.add(p)
  for (const a of addresses) {
    if (a !== undefined) all.add(a)
    else for (const p of base) all.add(p)
  }
  return [...all].sort((a, b) => a - b)
}

/**
 * Parses `sshd -T` output (`keyword value` a line; keywords lower-case up to 10.0, mixed case
 * later). Unknown lines are ignored; a malformed or missing value of ours is a problem and
 * takes OpenSSH's default. UnusedConnectionTimeout, PerSourceMaxStartups and ChannelTimeout
 * absent mean none: sshd before they existed, or 9.2, which prints ChannelTimeout only when set.
 */
export function parseSshdT(text: string): SshdConfig {
  const problems: ConfigProblem[] = []
  const seen = new Map<string, { value: string; line: number }>()
  const multi: { key: string; value: string; line: number }[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    const space = line.indexOf(' ')
    if (space <= 0) continue
    const key = line.slice(0, space).toLowerCase()
    if (T_KEYS.has(key) && !seen.has(key)) {
      seen.set(key, { value: line.slice(space + 1).trim(), line: i + 1 })
    } else if (T_MULTI_KEYS.has(key)) {
      multi.push({ key, value: line.slice(space + 1).trim(), line: i + 1 })
    }
  }
  const problem = (key: string, message: string): void => {
    const at = seen.get(key)
    problems.push(at ? { file: SSHD_T, line: at.line, message } : { file: SSHD_T, message })
  }
  const count = (key: string, fallback: number): number => {
    const at = seen.get(key)
    if (at === undefined) {
      problem(key, `${key} missing; OpenSSH's default ${fallback} used`)
      return fallback
    }
    const value = parseCount(at.value)
    if (typeof value === 'number') return value
    problem(key, `${key} "${at.value}": integer value ${value}; default ${fallback} used`)
    return fallback
  }
  const countOrNone = (key: string): number | null => {
    const at = seen.get(key)
    if (at === undefined || at.value === 'none') return null
    const value = parseCount(at.value)
    if (typeof value === 'number') return value
    problem(key, `${key} "${at.value}": integer value ${value}; none assumed`)
    return null
  }

  const values: EffectiveConfig = {
    maxSessions: count('maxsessions', SSHD_DEFAULTS.maxSessions),
    maxStartups: { ...SSHD_DEFAULTS.maxStartups },
    loginGraceTimeSeconds: count('logingracetime', SSHD_DEFAULTS.loginGraceTimeSeconds),
    clientAliveIntervalSeconds: count(
      'clientaliveinterval',
      SSHD_DEFAULTS.clientAliveIntervalSeconds,
    ),
    clientAliveCountMax: count('clientalivecountmax', SSHD_DEFAULTS.clientAliveCountMax),
    unusedConnectionTimeoutSeconds: countOrNone('unusedconnectiontimeout'),
    perSourceMaxStartups: countOrNone('persourcemaxstartups'),
    channelTimeouts: [],
    listenPorts: [],
    logLevel: SSHD_DEFAULTS.logLevel,
  }
  const level = seen.get('loglevel')
  if (level !== undefined) {
    const parsed = parseLogLevel(level.value)
    if (parsed === undefined) problem('loglevel', `loglevel "${level.value}" is not a log level`)
    else values.logLevel = parsed
  }
  // `listenaddress host:port` a line for every address bound (the Ports already applied), and
  // `port N` a line for every Port.
  const ports: number[] = []
  const addressPorts: number[] = []
  for (const m of multi) {
    const value = m.key === 'port' ? parsePort(m.value) : listenAddressPort(m.value.split(' ')[0]!)
    if (typeof value === 'number') (m.key === 'port' ? ports : addressPorts).push(value)
    else problems.push({ file: SSHD_T, line: m.line, message: `${m.key} "${m.value}" has no port` })
  }
  values.listenPorts = effectiveListenPorts(ports, addressPorts)
  const startups = seen.get('maxstartups')
  const m = startups && /^(\d+):(\d+):(\d+)$/.exec(startups.value)
  if (m) {
    values.maxStartups = { begin: Number(m[1]), rate: Number(m[2]) / 100, full: Number(m[3]) }
  } else {
    problem('maxstartups', `maxstartups "${startups?.value ?? ''}" is not begin:rate:full`)
  }
  const timeouts = seen.get('channeltimeout')
  if (timeouts !== undefined) {
    const parsed = checkChannelTimeouts(timeouts.value.split(/\s+/))
    if (typeof parsed === 'string') problem('channeltimeout', parsed)
    else values.channelTimeouts = parsed
  }
  if (values.unusedConnectionTimeoutSeconds === 0) values.unusedConnectionTimeoutSeconds = null
  return { values, problems }
}

// ---------------------------------------------------------------------------------------------
// sshd_config lines

type Directive = { keyword: string; args: string[]; error?: string }

const DELIMITERS = ' \t\r\n"='
const WHITESPACE = ' \t\r\n'

/** misc.c strdelim: one token, then past whitespace and at most one `=`. next -1: no rest. */
function strdelim(s: string, from: number): { token: string; next: number } | undefined {
  let i = from
  while (i < s.length && !DELIMITERS.includes(s[i]!)) i++
  if (i === s.length) return { token: s.slice(from), next: -1 }
  let token = s.slice(from, i)
  if (s[i] === '"') {
    const close = s.indexOf('"', i + 1)
    if (close === -1) return undefined
    token += s.slice(i + 1, close)
    i = close
  }
  const equals = s[i] === '='
  let j = i + 1
  while (j < s.length && WHITESPACE.includes(s[j]!)) j++
  if (!equals && s[j] === '=') {
    j++
    while (j < s.length && WHITESPACE.includes(s[j]!)) j++
  }
  return { token, next: j }
}

/** misc.c argv_split: blanks separate, quotes group, `\` escapes quotes, `\`, blank; `#` ends. */
function argvSplit(s: string): string[] | undefined {
  const out: string[] = []
  let i = 0
  while (i < s.length) {
    const c = s[i]
    if (c === ' ' || c === '\t') {
      i++
      continue
    }
    if (c === '#') break
    let quote = ''
    let arg = ''
    for (; i < s.length; i++) {
      const ch = s[i]!
      if (ch === '\\') {
        const next = s[i + 1]
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          arg += next
          i++
        } else {
          arg += ch
        }
      } else if (quote === '' && (ch === ' ' || ch === '\t')) {
        break
      } else if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch
      } else if (quote !== '' && ch === quote) {
        quote = ''
      } else {
        arg += ch
      }
    }
    if (quote !== '') return undefined
    out.push(arg)
  }
  return out
}

/** One physical line as servconf.c splits it; undefined for blank lines and comments. */
function parseLine(raw: string): Directive | undefined {
  let start = 0
  while (start < raw.length && ' \t\r'.includes(raw[start]!)) start++
  let end = raw.length
  while (end > start + 1 && ' \t\r\n\f'.includes(raw[end - 1]!)) end--
  const line = raw.slice(start, end)
  if (line === '') return undefined
  let tok = strdelim(line, 0)
  if (tok !== undefined && tok.token === '' && tok.next !== -1) tok = strdelim(line, tok.next)
  if (tok === undefined || tok.token === '' || tok.token.startsWith('#')) return undefined
  const keyword = tok.token
  const rest = tok.next === -1 ? '' : line.slice(tok.next)
  if (rest === '') return { keyword, args: [], error: 'no argument after keyword' }
  const args = argvSplit(rest)
  if (args === undefined) return { keyword, args: [], error: 'invalid quotes' }
  return { keyword, args }
}

// ---------------------------------------------------------------------------------------------
// Include paths and globs (glob(3) with no flags: sorted, `\` escapes, dot-files hidden)

/** The glob sshd expands for one Include argument, or a reason it cannot be used. */
function includePattern(arg: string, sshdir: string): string | { error: string } {
  if (arg === '') return { error: `Include with an empty argument (${REFUSED} line)` }
  if (arg.startsWith('~')) return { error: `Include "${arg}": sshd does not expand ~; skipped` }
  return normalizeSlashes(arg.startsWith('/') ? arg : `${sshdir}/${arg}`)
}

function normalizeSlashes(path: string): string {
  const out = `/${path.split('/').filter(Boolean).join('/')}`
  return out
}

function hasMagic(component: string): boolean {
  for (let i = 0; i < component.length; i++) {
    const c = component[i]
    if (c === '\\') i++
    else if (c === '*' || c === '?' || c === '[') return true
  }
  return false
}

function unescapeGlob(component: string): string {
  return component.replace(/\\(.)/g, '$1')
}

/** One path component against one glob component; a leading `.` must be matched literally. */
function matchComponent(pattern: string, name: string): boolean {
  if (!hasMagic(pattern)) return unescapeGlob(pattern) === name
  if (name.startsWith('.') && !pattern.startsWith('.') && !pattern.startsWith('\\.')) return false
  let p = 0
  let s = 0
  let starP = -1
  let starS = 0
  while (s < name.length) {
    if (p < pattern.length) {
      const c = pattern[p]!
      if (c === '*') {
        starP = ++p
        starS = s
        continue
      }
      if (c === '?') {
        p++
        s++
        continue
      }
      const bracket = c === '[' ? matchBracket(pattern, p, name[s]!) : undefined
      if (bracket !== undefined) {
        if (bracket.matched) {
          p = bracket.end
          s++
          continue
        }
      } else {
        const escaped = c === '\\' && p + 1 < pattern.length
        if ((escaped ? pattern[p + 1] : c) === name[s]) {
          p += escaped ? 2 : 1
          s++
          continue
        }
      }
    }
    if (starP === -1) return false
    p = starP
    s = ++starS
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

/** `[...]` at pattern[at]; undefined when unterminated (then `[` is literal). */
function matchBracket(
  pattern: string,
  at: number,
  ch: string,
): { matched: boolean; end: number } | undefined {
  let i = at + 1
  const negate = pattern[i] === '!' || pattern[i] === '^'
  if (negate) i++
  let matched = false
  let first = true
  while (i < pattern.length && (first || pattern[i] !== ']')) {
    first = false
    let lo = pattern[i]!
    if (lo === '\\' && i + 1 < pattern.length) lo = pattern[++i]!
    i++
    let hi = lo
    if (pattern[i] === '-' && i + 1 < pattern.length && pattern[i + 1] !== ']') {
      hi = pattern[i + 1]!
      if (hi === '\\' && i + 2 < pattern.length) hi = pattern[++i + 1]!
      i += 2
    }
    if (ch >= lo && ch <= hi) matched = true
  }
  if (i >= pattern.length) return undefined
  return { matched: matched !== negate, end: i + 1 }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** The known files an Include glob matches, as glob(3) would list them. */
function globKnown(pattern: string, files: ReadonlyMap<string, string>): string[] {
  const want = pattern.split('/')
  const out: string[] = []
  for (const path of files.keys()) {
    const have = path.split('/')
    if (have.length !== want.length) continue
    let ok = true
    for (let i = 1; ok && i < want.length; i++) ok = matchComponent(want[i]!, have[i]!)
    if (ok) out.push(path)
  }
  return out.sort(byteOrder)
}

// ---------------------------------------------------------------------------------------------
// sshd_config semantics

type Key =
  | 'maxSessions'
  | 'loginGraceTime'
  | 'clientAliveInterval'
  | 'clientAliveCountMax'
  | 'unusedConnectionTimeout'
  | 'perSourceMaxStartups'
  | 'channelTimeouts'
  | 'logLevel'

/** Keywords with a reading of their own rather than a first-wins slot. */
type SpecialKey = 'maxStartups' | 'port' | 'listenAddress'

/** How each keyword of ours is read; `match`: allowed in Match and copied from it. */
const KEYWORDS: Record<string, { key: Key | SpecialKey; match: boolean }> = {
  maxsessions: { key: 'maxSessions', match: true },
  maxstartups: { key: 'maxStartups', match: false },
  persourcemaxstartups: { key: 'perSourceMaxStartups', match: false },
  logingracetime: { key: 'loginGraceTime', match: false },
  clientaliveinterval: { key: 'clientAliveInterval', match: true },
  clientalivecountmax: { key: 'clientAliveCountMax', match: true },
  unusedconnectiontimeout: { key: 'unusedConnectionTimeout', match: true },
  channeltimeout: { key: 'channelTimeouts', match: true },
  port: { key: 'port', match: false },
  listenaddress: { key: 'listenAddress', match: false },
  loglevel: { key: 'logLevel', match: true },
}

const MATCH_CRITERIA = new Set([
  'user',
  'group',
  'host',
  'address',
  'localaddress',
  'localport',
  'rdomain',
  'version',
])

type Value = number | ChannelTimeout[]
/** A keyword's value as the global pass and as a matching Match block set it. */
type Slot = { global?: Value; match?: Value }

type ParseState = {
  files: ReadonlyMap<string, string>
  sshdir: string
  maxStartupsFirstWins: boolean
  perSourceFirstWins: boolean
  problems: ConfigProblem[]
  parsed: Set<string>
  stack: string[]
  parses: number
  slots: Record<Key, Slot>
  maxStartups: MaxStartupsRaw
  maxStartupsSet: boolean
  /** Every Port, in order (they add up, unlike most keywords). */
  ports: number[]
  /** Every ListenAddress's port; undefined for one without (it takes every Port). */
  listenAddresses: (number | undefined)[]
  /** sshd's activep: directives here apply. */
  active: boolean
  /** A Match line made the current context (so values also apply per connection). */
  matched: boolean
}

/** Whether `version` (default 10.0) is at least major.minor. */
function versionAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const m = /(\d+)\.(\d+)/.exec(version ?? '') ?? ['10.0', '10', '0']
  const [a, b] = [Number(m[1]), Number(m[2])]
  return a > major || (a === major && b >= minor)
}

/**
 * Parses sshd_config files already read: `files` maps paths inside the root to their text,
 * and holds every file an Include could reach (Include globs are matched against its keys).
 * Pure; `readSshdConfig` does the reading.
 */
export function parseSshdConfigFiles(
  main: string,
  files: ReadonlyMap<string, string>,
  options: SshdConfigOptions = {},
): SshdConfigFiles {
  const state: ParseState = {
    files,
    sshdir: normalizeSlashes(options.sshdir ?? '/etc/ssh'),
    maxStartupsFirstWins: versionAtLeast(options.opensshVersion, 10, 1),
    perSourceFirstWins: versionAtLeast(options.opensshVersion, 9, 5),
    problems: [],
    parsed: new Set(),
    stack: [],
    parses: 0,
    slots: {
      maxSessions: {},
      loginGraceTime: {},
      clientAliveInterval: {},
      clientAliveCountMax: {},
      unusedConnectionTimeout: {},
      perSourceMaxStartups: {},
      channelTimeouts: {},
      logLevel: {},
    },
    maxStartups: { begin: -1, rate: -1, full: -1 },
    maxStartupsSet: false,
    ports: [],
    listenAddresses: [],
    active: true,
    matched: false,
  }
  const path = normalizeSlashes(main)
  if (files.has(path)) parseFile(state, path, 0, false)
  else state.problems.push({ file: path, message: 'not found' })

  const { slots, maxStartups: ms } = state
  const pick = (key: Key, fallback: Value): Value =>
    slots[key].match ?? slots[key].global ?? fallback
  const unused = pick('unusedConnectionTimeout', 0) as number
  const perSource = (slots.perSourceMaxStartups.global ?? INT_MAX) as number
  const values: EffectiveConfig = {
    maxSessions: pick('maxSessions', SSHD_DEFAULTS.maxSessions) as number,
    maxStartups: {
      begin: ms.begin === -1 ? SSHD_DEFAULTS.maxStartups.begin : ms.begin,
      rate: ms.rate === -1 ? SSHD_DEFAULTS.maxStartups.rate : ms.rate / 100,
      full: ms.full === -1 ? SSHD_DEFAULTS.maxStartups.full : ms.full,
    },
    loginGraceTimeSeconds: (slots.loginGraceTime.global ??
      SSHD_DEFAULTS.loginGraceTimeSeconds) as number,
    clientAliveIntervalSeconds: pick(
      'clientAliveInterval',
      SSHD_DEFAULTS.clientAliveIntervalSeconds,
    ) as number,
    clientAliveCountMax: pick('clientAliveCountMax', SSHD_DEFAULTS.clientAliveCountMax) as number,
    unusedConnectionTimeoutSeconds: unused === 0 ? null : unused,
    perSourceMaxStartups: perSource === INT_MAX ? null : perSource,
    channelTimeouts: [...(pick('channelTimeouts', []) as ChannelTimeout[])],
    listenPorts: effectiveListenPorts(state.ports, state.listenAddresses),
    logLevel:
      SSHD_LOG_LEVELS[
        pick('logLevel', SSHD_LOG_LEVELS.indexOf(SSHD_DEFAULTS.logLevel)) as number
      ] ?? SSHD_DEFAULTS.logLevel,
  }
  return { values, problems: state.problems, files: [...state.parsed] }
}

function parseFile(state: ParseState, path: string, depth: number, neverMatch: boolean): void {
  state.parses++
  state.parsed.add(path)
  state.stack.push(path)
  const lines = state.files.get(path)!.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const directive = parseLine(lines[i]!)
    if (directive !== undefined) {
      processDirective(state, directive, path, i + 1, depth, neverMatch)
    }
  }
  state.stack.pop()
}

function processDirective(
  state: ParseState,
  d: Directive,
  file: string,
  line: number,
  depth: number,
  neverMatch: boolean,
): void {
  const keyword = d.keyword.toLowerCase()
  const spec = KEYWORDS[keyword]
  if (spec === undefined && keyword !== 'match' && keyword !== 'include') return
  const problem = (message: string): void => {
    state.problems.push({ file, line, message })
  }
  if (d.error !== undefined) {
    problem(`${d.keyword}: ${d.error} (${REFUSED} line)`)
    return
  }
  if (keyword === 'match') {
    const result = evaluateMatch(d.args)
    if (typeof result === 'string') problem(`${result} (${REFUSED} line)`)
    else if (result.note !== undefined) problem(result.note)
    // In a file included from an inactive context no Match can activate (SSHCFG_NEVERMATCH).
    state.active = !neverMatch && typeof result !== 'string' && result.match
    state.matched = true
    return
  }
  if (keyword === 'include') {
    include(state, d.args, depth, problem)
    return
  }
  if (spec === undefined) return
  if (!state.active && !spec.match) {
    problem(`${d.keyword} is not allowed within a Match block (${REFUSED} line)`)
    return
  }
  if (spec.key === 'maxStartups') {
    setMaxStartups(state, d, problem)
    return
  }
  if (spec.key === 'port' || spec.key === 'listenAddress') {
    addListen(state, spec.key, d, problem)
    return
  }
  if (spec.key === 'unusedConnectionTimeout' && d.args[0]?.toLowerCase() === 'none') {
    // servconf.c sets none without looking for an earlier value: none wins wherever it is.
    if (d.args.length > 1) problem(`${d.keyword}: extra arguments at end of line (${REFUSED} line)`)
    else if (state.active) {
      const slot = state.slots.unusedConnectionTimeout
      slot.global = 0
      if (state.matched) slot.match = 0
    }
    return
  }
  const value = readValue(spec.key, d)
  if (typeof value === 'string') {
    problem(`${d.keyword}: ${value} (${REFUSED} line)`)
    return
  }
  if (!state.active) return
  const slot = state.slots[spec.key]
  if (spec.key === 'perSourceMaxStartups' && !state.perSourceFirstWins) slot.global = value
  else slot.global ??= value
  if (state.matched) slot.match ??= value
}

/** A keyword's value, or why sshd rejects the line. */
function readValue(key: Key, d: Directive): Value | string {
  if (key === 'channelTimeouts') return checkChannelTimeouts(d.args)
  if (d.args.length > 1) return 'extra arguments at end of line'
  const arg = d.args[0]
  switch (key) {
    case 'loginGraceTime':
    case 'clientAliveInterval':
    case 'unusedConnectionTimeout': {
      if (arg === undefined || arg === '') return 'missing time value'
      return parseSshdTime(arg) ?? `invalid time value "${arg}"`
    }
    case 'logLevel': {
      const level = parseLogLevel(arg ?? '')
      return level === undefined
        ? `unsupported log level "${arg ?? ''}"`
        : SSHD_LOG_LEVELS.indexOf(level)
    }
    case 'perSourceMaxStartups': {
      if (arg === 'none') return INT_MAX
      const value = parseCount(arg)
      return typeof value === 'number' ? value : `integer value "${arg ?? ''}" ${value}`
    }
    default: {
      const value = parseCount(arg)
      return typeof value === 'number' ? value : `integer value "${arg ?? ''}" ${value}`
    }
  }
}

/** Port and ListenAddress add up rather than the first winning (servconf.c add_listen_addr). */
function addListen(
  state: ParseState,
  key: 'port' | 'listenAddress',
  d: Directive,
  problem: (m: string) => void,
): void {
  const arg = d.args[0]
  if (arg === undefined || arg === '') {
    problem(`${d.keyword}: missing argument (${REFUSED} line)`)
    return
  }
  if (key === 'port') {
    const port = parsePort(arg)
    if (port === undefined || d.args.length > 1) {
      problem(`${d.keyword}: bad port number "${d.args.join(' ')}" (${REFUSED} line)`)
    } else if (state.active) state.ports.push(port)
    return
  }
  // `ListenAddress host[:port] [rdomain name]`
  const port = listenAddressPort(arg)
  if (typeof port === 'string') problem(`${port} (${REFUSED} line)`)
  else if (state.active) state.listenAddresses.push(port)
}

function setMaxStartups(state: ParseState, d: Directive, problem: (m: string) => void): void {
  const arg = d.args[0]
  if (arg === undefined || arg === '') {
    problem(`${d.keyword}: missing argument (${REFUSED} line)`)
    return
  }
  const parsed = checkMaxStartups(arg)
  if (typeof parsed === 'string') {
    problem(`${parsed} (${REFUSED} line)`)
    return
  }
  if (d.args.length > 1) {
    problem(`${d.keyword}: extra arguments at end of line (${REFUSED} line)`)
    return
  }
  if (!state.active) return
  if (state.maxStartupsFirstWins) {
    if (state.maxStartupsSet) return
    state.maxStartups = parsed
  } else {
    // Up to 10.0 every line overwrites, and `MaxStartups N` leaves the rate as it was.
    state.maxStartups = {
      begin: parsed.begin,
      rate: parsed.rate === -1 ? state.maxStartups.rate : parsed.rate,
      full: parsed.full,
    }
  }
  state.maxStartupsSet = true
}

/**
 * A Match line with no connection to test: only `all` matches. Returns why sshd rejects it
 * as a string; `note` when the outcome is a guess.
 */
function evaluateMatch(args: string[]): { match: boolean; note?: string } | string {
  let attributes = 0
  let match = true
  let note: string | undefined
  for (let i = 0; i < args.length;) {
    const attribute = args[i++]!
    if (attribute.startsWith('#')) break
    attributes++
    const lower = attribute.toLowerCase()
    if (lower === 'all') {
      const next = args[i]
      if (attributes > 1 || (next !== undefined && next !== '' && !next.startsWith('#'))) {
        return "Match: 'all' cannot be combined with other criteria"
      }
      return { match: true }
    }
    if (lower === 'invalid-user') {
      match = false
      continue
    }
    let name = lower
    let arg: string | undefined
    const eq = lower.indexOf('=')
    if (eq > 0 && MATCH_CRITERIA.has(lower.slice(0, eq))) {
      name = lower.slice(0, eq)
      arg = attribute.slice(eq + 1)
    } else {
      arg = args[i++]
    }
    if (!MATCH_CRITERIA.has(name)) return `Match: unsupported criterion "${attribute}"`
    if (arg === undefined || arg === '' || arg.startsWith('#')) {
      return `Match: missing value for ${attribute}`
    }
    if (name === 'localport' && !/^\d+$/.test(arg)) return `Match: invalid LocalPort "${arg}"`
    if (name === 'version') {
      note = `Match Version ${arg}: the sshd version is not known here; treated as not matching`
    }
    match = false
  }
  if (attributes === 0) return 'Match needs one or more criteria'
  return note === undefined ? { match } : { match, note }
}

function include(
  state: ParseState,
  args: string[],
  depth: number,
  problem: (m: string) => void,
): void {
  if (args.length === 0) problem(`Include: missing filename argument (${REFUSED} line)`)
  for (const arg of args) {
    const pattern = includePattern(arg, state.sshdir)
    if (typeof pattern !== 'string') {
      problem(pattern.error)
      continue
    }
    for (const path of globKnown(pattern, state.files)) {
      if (state.stack.includes(path)) {
        const loop = [...state.stack.slice(state.stack.indexOf(path)), path].join(' -> ')
        problem(`Include loop ${loop} (${REFUSED}: too many recursive includes)`)
        continue
      }
      if (depth + 1 > MAX_INCLUDE_DEPTH) {
        problem(`Include of ${path} nests deeper than ${MAX_INCLUDE_DEPTH} levels (${REFUSED})`)
        continue
      }
      if (state.parses >= MAX_PARSES) {
        problem(`more than ${MAX_PARSES} Include expansions; ${path} and later ones ignored`)
        return
      }
      // An included file inherits the Match state and cannot change the includer's.
      const { active, matched } = state
      parseFile(state, path, depth + 1, !active)
      state.active = active
      state.matched = matched
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading under a root

type ReadResult = { text: string } | { code: SshdConfigErrorCode; message: string }

function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? String(error)
}

/** The host path of `path` inside `root` (sources/rootfs.ts), or why there is none. */
function resolveInRoot(root: string, path: string): string | { code: string } {
  try {
    return resolveHostPath(root, path) ?? { code: 'ENOENT' }
  } catch (error) {
    return { code: errno(error) }
  }
}

/** A whole file, at most `cap` bytes; a directory reads as empty (as sshd reads it). */
async function readInRoot(root: string, path: string, cap: number): Promise<ReadResult> {
  const host = resolveInRoot(root, path)
  if (typeof host !== 'string') {
    const missing = host.code === 'ENOENT' || host.code === 'ENOTDIR'
    return { code: missing ? 'NOT_FOUND' : 'UNREADABLE', message: `cannot open: ${host.code}` }
  }
  let handle: Awaited<ReturnType<typeof open>>
  try {
    // O_NONBLOCK: a FIFO reads as empty instead of hanging; O_NOFOLLOW: the path is resolved.
    handle = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = errno(error)
    return { code: code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE', message: `cannot open: ${code}` }
  }
  try {
    const buffer = Buffer.allocUnsafe(cap + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > cap) {
        return { code: 'TOO_BIG', message: `larger than ${cap} bytes; skipped` }
      }
    }
    const bytes = buffer.subarray(0, length)
    if (bytes.includes(0)) return { code: 'BINARY', message: 'contains NUL bytes; skipped' }
    return { text: bytes.toString('utf8') }
  } catch (error) {
    const code = errno(error)
    if (code === 'EISDIR') return { text: '' }
    return { code: 'UNREADABLE', message: `cannot read: ${code}` }
  } finally {
    await handle.close()
  }
}

/** glob(3) of an Include pattern under the root: paths inside the root, as sshd names them. */
async function globInRoot(
  root: string,
  pattern: string,
  problems: ConfigProblem[],
): Promise<string[]> {
  const components = pattern.split('/').filter(Boolean)
  let candidates = ['']
  let lastLiteral = true
  for (const component of components) {
    if (!hasMagic(component)) {
      const name = unescapeGlob(component)
      candidates = candidates.map((c) => `${c}/${name}`)
      lastLiteral = true
      continue
    }
    lastLiteral = false
    const next: string[] = []
    for (const dir of candidates) {
      const host = resolveInRoot(root, dir || '/')
      if (typeof host !== 'string') continue
      let names: string[]
      try {
        names = await readdir(host)
      } catch (error) {
        const code = errno(error)
        if (code !== 'ENOENT' && code !== 'ENOTDIR') {
          problems.push({ file: dir || '/', message: `cannot list directory: ${code}` })
        }
        continue
      }
      for (const name of names) {
        if (name !== '.' && name !== '..' && matchComponent(component, name)) {
          next.push(`${dir}/${name}`)
        }
      }
    }
    candidates = next
  }
  if (lastLiteral) {
    const exists: string[] = []
    for (const path of candidates) if (await entryExists(root, path)) exists.push(path)
    candidates = exists
  }
  return candidates.sort(byteOrder)
}

/** Whether the last component exists as a directory entry (glob lstat()s: a broken link does). */
async function entryExists(root: string, path: string): Promise<boolean> {
  const slash = path.lastIndexOf('/')
  const name = path.slice(slash + 1)
  if (name === '.' || name === '..') return typeof resolveInRoot(root, path) === 'string'
  const parent = resolveInRoot(root, path.slice(0, slash) || '/')
  if (typeof parent !== 'string') return false
  try {
    await lstat(parent === '/' ? `/${name}` : `${parent}/${name}`)
    return true
  } catch {
    return false
  }
}

/** The Include patterns of a file, as the parser will see them. */
function includePatterns(text: string, sshdir: string): string[] {
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const d = parseLine(raw)
    if (d === undefined || d.error !== undefined || d.keyword.toLowerCase() !== 'include') continue
    for (const arg of d.args) {
      const pattern = includePattern(arg, sshdir)
      if (typeof pattern === 'string') out.push(pattern)
    }
  }
  return out
}

/**
 * Reads `file` (a path inside `rootfs`, default /etc/ssh/sshd_config) and everything it
 * includes, under `rootfs` as a chroot, and parses them as sshd does. An included file that
 * cannot be used (unreadable, too big, binary) is a problem and is skipped; the main file
 * failing throws an SshdConfigError (`NOT_FOUND` when there is none).
 */
export async function readSshdConfig(
  rootfs: string,
  file = '/etc/ssh/sshd_config',
  options: SshdConfigOptions = {},
): Promise<SshdConfigFiles> {
  const root = resolve(rootfs)
  const main = normalizeSlashes(file)
  const sshdir = normalizeSlashes(options.sshdir ?? '/etc/ssh')
  const cap = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES
  const first = await readInRoot(root, main, cap)
  if (!('text' in first)) throw new SshdConfigError(first.code, main, first.message)

  const files = new Map([[main, first.text]])
  const problems: ConfigProblem[] = []
  const failed = new Set<string>()
  const globbed = new Set<string>()
  const queue = [first.text]
  let capped = false
  for (let text = queue.shift(); text !== undefined; text = queue.shift()) {
    for (const pattern of includePatterns(text, sshdir)) {
      if (globbed.has(pattern)) continue
      globbed.add(pattern)
      for (const path of await globInRoot(root, pattern, problems)) {
        if (files.has(path) || failed.has(path)) continue
        if (files.size >= maxFiles) {
          if (!capped)
            problems.push({ file: path, message: `more than ${maxFiles} files; skipped` })
          capped = true
          break
        }
        const read = await readInRoot(root, path, cap)
        if ('text' in read) {
          files.set(path, read.text)
          queue.push(read.text)
        } else {
          failed.add(path)
          problems.push({ file: path, message: read.message })
        }
      }
    }
  }
  const parsed = parseSshdConfigFiles(main, files, { ...options, sshdir })
  return { ...parsed, problems: [...problems, ...parsed.problems] }
}
