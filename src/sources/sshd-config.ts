// sshd's effective limits, from `sshd -T` output or from sshd_config files read the way sshd
// reads them (OpenSSH 9.2 and 10.0 servconf.c, checked against the real binaries by the tests).
//
// What sshd does, and this module copies:
// - One directive a line: `Keyword value`, `Keyword=value` or `Keyword = value`, keywords in
//   any case, `#` starts a comment where an argument could start, arguments may be quoted.
// - The first value of a keyword wins. Exceptions: `UnusedConnectionTimeout none` wins
//   wherever it comes; up to OpenSSH 10.0 the LAST `MaxStartups` wins, up to 9.4 the last
//   `PerSourceMaxStartups`. What else changed between versions (8.2 to 10.5) is in one table,
//   SEMANTICS_CHANGES; an unknown version is read with the newest rules.
// - `Match` blocks run until the next `Match` or the end of the file. A criterion that needs
//   a connection (User, Address, ...) never matches here; `Match all` does, and its values
//   override the global ones for the keywords that Match may set (as for every connection).
// - `Include` takes globs; a relative path is resolved against /etc/ssh (not against the
//   including file); matches are read in byte order, dot-files only when named; a directory
//   reads as empty; no match is not an error. An included file inherits the Match state and
//   cannot change the includer's. sshd refuses more than 16 levels of nesting (so a loop).
// - A missing keyword takes OpenSSH's default.
// - sshd's command line (`commandLine`, from sources/sshd-argv.ts) is applied first, as sshd.c
//   main() applies it before reading the file: -o lines are lines of a file `command-line`
//   (so the file cannot override them, but for last-wins MaxStartups and PerSourceMaxStartups);
//   -p ports replace every Port line; -g and -d/-q override LoginGraceTime and LogLevel.
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

/**
 * A level by name, as sshd -T names it: DEBUG1 is DEBUG (log.c log_level_name gives the first
 * name of a level), and Debian's SILENT (its patch adds it first, for QUIET) is QUIET.
 */
function parseLogLevel(text: string): SshdLogLevel | undefined {
  let upper = text.toUpperCase()
  if (upper === 'DEBUG1') upper = 'DEBUG'
  else if (upper === 'SILENT') upper = 'QUIET'
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
   * Version of the sshd that reads these files (`9.2`, `10.0p2`, `OpenSSH_10.2p1`): its rules
   * (semanticsFor). Default: the newest version's rules.
   */
  opensshVersion?: string
  /** A file larger than this is skipped, with a problem. Default 1 MiB. */
  maxFileBytes?: number
  /** At most this many files are read. Default 1000. */
  maxFiles?: number
  /** sshd's command line (sources/sshd-argv.ts parseSshdArgv), applied before the files. */
  commandLine?: SshdCommandLine
}

/**
 * What sshd's command line sets, as sshd.c main() applies it before it reads sshd_config.
 * Problems on an -o line name the file `command-line` and the -o's position (1 for the first).
 */
export type SshdCommandLine = {
  /** The `-o` arguments in order, each one sshd_config line (Match and Include are refused). */
  options: readonly string[]
  /** The `-p` ports in order: sshd then ignores every Port line after them. */
  ports: readonly number[]
  /** How many `options` came before the first -p (their Port lines count). Default: all. */
  optionsBeforePorts?: number
  /** `-g`: wins over every LoginGraceTime line. */
  loginGraceTime?: string
  /** The level -d and -q set: wins over every LogLevel line but a Match block's. */
  logLevel?: SshdLogLevel
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
// What each OpenSSH version reads differently

/** misc.c convtime: 8.2-8.3 keep the unit of an earlier number; strtol: blanks and a sign. */
export type SshdTimeSyntax = 'strtol-sticky-unit' | 'strtol' | 'digits' | 'decimal'

/** How one OpenSSH version reads the keywords behind EffectiveConfig (servconf.c, misc.c). */
export type SshdConfigSemantics = {
  time: SshdTimeSyntax
  /** Keywords of ours this version does not know: sshd refuses to start with them. */
  unknownKeywords: readonly string[]
  maxStartupsFirstWins: boolean
  /** `MaxStartups N`: N:rate-so-far:N, begin left at its default (10):30:N, or N:30:N. */
  maxStartupsOneNumber: 'keep-rate' | 'default-begin' | 'begin-and-full'
  /** A begin or full of 0 or less is refused (accepted before 9.2; -1 means unset). */
  maxStartupsPositive: boolean
  perSourceFirstWins: boolean
  /** `ChannelTimeout` with no value (only a comment) is refused, else ignored. */
  channelTimeoutNeedsValue: boolean
  /** A relative Include names `<sshdir>/<the keyword as written>` (8.2's bug). */
  includeRelativeToKeyword: boolean
  /** Each included file's end binds the ListenAddresses so far, adding Port 22 if none. */
  includeEndBindsListenAddresses: boolean
  /** Match blocks of a file included outside Match never apply per connection. */
  includedMatchGlobalOnly: boolean
  /** `Match invalid-user` and `Match Version` are known. */
  matchInvalidUser: boolean
  matchVersion: boolean
}

const OLDEST_SEMANTICS: SshdConfigSemantics = {
  time: 'strtol-sticky-unit',
  unknownKeywords: ['persourcemaxstartups', 'unusedconnectiontimeout', 'channeltimeout'],
  maxStartupsFirstWins: false,
  maxStartupsOneNumber: 'keep-rate',
  maxStartupsPositive: false,
  perSourceFirstWins: false,
  channelTimeoutNeedsValue: false,
  includeRelativeToKeyword: true,
  includeEndBindsListenAddresses: true,
  includedMatchGlobalOnly: true,
  matchInvalidUser: false,
  matchVersion: false,
}

/**
 * The rules of OpenSSH 8.2 (OLDEST_SEMANTICS), then each version that changed one, oldest
 * first. Read at every release tag from V_8_2_P1 to V_10_5_P1 (docs/openssh.md).
 */
const SEMANTICS_CHANGES: readonly (readonly [since: string, Partial<SshdConfigSemantics>])[] = [
  // servconf.c at V_8_3_P1, case sInclude: "%s/%s", SSHDIR, arg2 (8.2 used arg: the keyword)
  ['8.3', { includeRelativeToKeyword: false }],
  // misc.c at V_8_4_P1, convtime: the multiplier is reset for each number; servconf.c at
  // V_8_4_P1: process_queued_listen_addrs only once (parse_server_config), and an Include
  // outside Match passes SSHCFG_MATCH_ONLY instead of SSHCFG_NEVERMATCH (bz#3122)
  [
    '8.4',
    { time: 'strtol', includeEndBindsListenAddresses: false, includedMatchGlobalOnly: false },
  ],
  // servconf.c at V_8_5_P1: keyword persourcemaxstartups (the last wins: if (*activep))
  ['8.5', { unknownKeywords: ['unusedconnectiontimeout', 'channeltimeout'] }],
  // servconf.c at V_9_2_P1: keywords channeltimeout, unusedconnectiontimeout; case
  // sMaxStartups refuses max_startups <= 0 || max_startups_begin <= 0
  ['9.2', { unknownKeywords: [], maxStartupsPositive: true }],
  // servconf.c at V_9_5_P1, case sPerSourceMaxStartups: per_source_max_startups == -1
  ['9.5', { perSourceFirstWins: true }],
  // servconf.c at V_9_7_P1, case sChannelTimeout: fatal "no %s specified" when nstrs == 0
  ['9.7', { channelTimeoutNeedsValue: true }],
  // misc.c at V_9_8_P1, convtime: scandigits + strtonum (no blanks, no sign)
  ['9.8', { time: 'digits' }],
  // servconf.c at V_9_9_P1, match_cfg_line: invalid-user. (`User=bob` works in every version
  // but 9.9p1: strdelim split it at `=` up to 9.8, argv_next does not, V_9_9_P2 strprefix.)
  ['9.9', { matchInvalidUser: true }],
  // servconf.c at V_10_0_P1, match_cfg_line: version (against SSH_RELEASE)
  ['10.0', { matchVersion: true }],
  // servconf.c at V_10_1_P1, case sMaxStartups: *activep && max_startups == -1; one number:
  // value3 = value; value = value2 = -1
  ['10.1', { maxStartupsFirstWins: true, maxStartupsOneNumber: 'default-begin' }],
  // servconf.c at V_10_3_P1, case sMaxStartups: one number: value3 = value; value2 = -1;
  // misc.c at V_10_3_P1: convtime via convtime_double (decimal seconds, truncated)
  ['10.3', { maxStartupsOneNumber: 'begin-and-full', time: 'decimal' }],
  // 10.4 (servconf.h SSHD_CONFIG_ENTRIES) and 10.5 change how sshd -T spells keys (mixed
  // case), not what the files mean.
]

/** The newest release whose servconf.c was read for SEMANTICS_CHANGES. */
export const NEWEST_RESEARCHED_OPENSSH = '10.5'

function versionNumbers(version: string | null | undefined): [number, number] | null {
  const m = /(\d+)\.(\d+)/.exec(version ?? '')
  return m === null ? null : [Number(m[1]), Number(m[2])]
}

function atLeast([a, b]: [number, number], [c, d]: [number, number]): boolean {
  return a > c || (a === c && b >= d)
}

/**
 * The rules of OpenSSH `version` (`10.2`, `10.0p2`, `OpenSSH_9.2p1`); the newest rules when
 * it is unknown or missing (the caller says so), the oldest (8.2) for anything older.
 */
export function semanticsFor(version?: string | null): SshdConfigSemantics {
  const wanted = versionNumbers(version)
  let semantics = OLDEST_SEMANTICS
  for (const [since, changes] of SEMANTICS_CHANGES) {
    if (wanted !== null && !atLeast(wanted, versionNumbers(since)!)) break
    semantics = { ...semantics, ...changes }
  }
  return semantics
}

const NEWEST_SEMANTICS = semanticsFor(null)

// ---------------------------------------------------------------------------------------------
// Values

/**
 * sshd's time syntax (misc.c convtime): `90`, `1m30s`, `2h`, `1w`; units s m h d w in either
 * case; from 10.3 decimal seconds (`1.5`, truncated). Returns seconds, or undefined when sshd
 * would reject it (`none` is not a time). `syntax`: the version's (semanticsFor), default the
 * newest.
 */
export function parseSshdTime(
  text: string,
  syntax: SshdTimeSyntax = NEWEST_SEMANTICS.time,
): number | undefined {
  if (syntax === 'decimal') return parseDecimalTime(text)
  if (text === '') return undefined
  const strtol = syntax !== 'digits'
  let total = 0
  let multiplier = 1
  let i = 0
  while (i < text.length) {
    let negative = false
    if (strtol) {
      while (i < text.length && isSpace(text.charCodeAt(i))) i++
      if (text[i] === '+' || text[i] === '-') negative = text[i++] === '-'
    }
    const start = i
    while (i < text.length && isDigit(text.charCodeAt(i))) i++
    if (i === start) return undefined
    const secs = Number(text.slice(start, i))
    if (negative && secs !== 0) return undefined
    if (syntax !== 'strtol-sticky-unit') multiplier = 1
    if (i < text.length) {
      const unit = timeUnit(text.charCodeAt(i))
      if (unit === 0) return undefined
      if (unit > 1) multiplier = unit
      i++
    }
    if (secs > Math.floor(INT_MAX / multiplier)) return undefined
    total += secs * multiplier
    if (total > INT_MAX) return undefined
  }
  return total
}

/** misc.c convtime_double (10.3+): one seconds part, which alone may have decimals. */
function parseDecimalTime(text: string): number | undefined {
  if (text === '') return undefined
  let total = 0
  let seenSeconds = false
  let i = 0
  while (i < text.length) {
    // strtod must take all of the run of digits and dots: no exponent, no second dot
    const run = /^[\d.]+/.exec(text.slice(i))?.[0]
    if (run === undefined || !/^(\d+\.?\d*|\.\d+)$/.test(run)) return undefined
    i += run.length
    const unit = i < text.length ? timeUnit(text.charCodeAt(i)) : 1
    if (unit === 0) return undefined
    if (unit === 1) {
      if (seenSeconds) return undefined
      seenSeconds = true
    }
    if (run.includes('.') && (unit > 1 || run.endsWith('.'))) return undefined
    total += Number(run) * unit
    if (i < text.length) i++
  }
  return total > INT_MAX ? undefined : Math.trunc(total)
}

function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d)
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

/** A MaxStartups argument as `semantics` reads it; a one-number `N` has rate -1. */
function checkMaxStartups(arg: string, semantics: SshdConfigSemantics): MaxStartupsRaw | string {
  const n = scanColonInts(arg)
  const bad = `invalid MaxStartups "${arg}"`
  if (n.some((v) => v > INT_MAX || v < -INT_MAX - 1)) return bad
  const positive = semantics.maxStartupsPositive
  if (n.length === 3) {
    const [begin, rate, full] = n as [number, number, number]
    if (begin > full || rate > 100 || rate < 1 || (positive && (begin <= 0 || full <= 0))) {
      return bad
    }
    return { begin, rate, full }
  }
  if (n.length !== 1 || (positive && n[0]! <= 0)) return bad
  const begin = semantics.maxStartupsOneNumber === 'default-begin' ? -1 : n[0]!
  return { begin, rate: -1, full: n[0]! }
}

function checkChannelTimeouts(
  args: string[],
  time: SshdTimeSyntax = NEWEST_SEMANTICS.time,
): ChannelTimeout[] | string {
  if (args.length === 0) return 'no ChannelTimeout specified'
  const out: ChannelTimeout[] = []
  for (const arg of args) {
    if (arg.toLowerCase() === 'none') {
      if (args.length > 1) return 'ChannelTimeout "none" must appear alone'
      return []
    }
    const eq = arg.indexOf('=')
    const seconds = eq > 0 ? parseSshdTime(arg.slice(eq + 1), time) : undefined
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

/**
 * Every port sshd binds, from its Port values and ListenAddress ports (undefined: all Ports),
 * and `bound`, the ports of ListenAddresses already bound (before 8.4, by an included file).
 */
function effectiveListenPorts(
  ports: number[],
  addresses: (number | undefined)[],
  bound: number[] = [],
): number[] {
  const base = ports.length > 0 ? ports : [...SSHD_DEFAULTS.listenPorts]
  const all = new Set<number>(bound)
  if (addresses.length === 0 && bound.length === 0) for (const p of base) all.add(p)
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

/**
 * The glob sshd expands for one Include argument, or a reason it cannot be used. `keyword`:
 * the Include keyword as written, which OpenSSH 8.2 puts in place of a relative argument.
 */
function includePattern(
  arg: string,
  sshdir: string,
  keyword: string | null = null,
): string | { error: string } {
  if (arg === '') return { error: `Include with an empty argument (${REFUSED} line)` }
  if (arg.startsWith('~')) return { error: `Include "${arg}": sshd does not expand ~; skipped` }
  return normalizeSlashes(arg.startsWith('/') ? arg : `${sshdir}/${keyword ?? arg}`)
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
  semantics: SshdConfigSemantics
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
  /** Ports of ListenAddresses bound at the end of an included file (before 8.4). */
  boundListenPorts: number[]
  /** sshd -p was given (servconf.c ports_from_cmdline): Port lines are skipped unread. */
  portsFromCommandLine: boolean
  /** sshd's activep: directives here apply. */
  active: boolean
  /** A Match line made the current context (so values also apply per connection). */
  matched: boolean
  /** Match blocks here apply per connection (not in files included outside Match before 8.4). */
  perConnection: boolean
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
    semantics: semanticsFor(options.opensshVersion),
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
    boundListenPorts: [],
    portsFromCommandLine: false,
    active: true,
    matched: false,
    perConnection: true,
  }
  if (options.commandLine !== undefined) applyCommandLine(state, options.commandLine)
  const path = normalizeSlashes(main)
  if (isNoFile(main)) {
    // `sshd -f none`: no file, only the command line and the defaults.
  } else if (files.has(path)) parseFile(state, path, 0, false)
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
    listenPorts: effectiveListenPorts(state.ports, state.listenAddresses, state.boundListenPorts),
    logLevel:
      SSHD_LOG_LEVELS[
        pick('logLevel', SSHD_LOG_LEVELS.indexOf(SSHD_DEFAULTS.logLevel)) as number
      ] ?? SSHD_DEFAULTS.logLevel,
  }
  return { values, problems: state.problems, files: [...state.parsed] }
}

/** `-f none` (any case) reads no file (sshd.c main: strcasecmp(config_file_name, "none")). */
function isNoFile(file: string): boolean {
  return file.toLowerCase() === 'none'
}

const COMMAND_LINE = 'command-line'

/**
 * sshd.c main() (V_9_2_P1, V_10_0_P1): in the getopt loop, before sshd_config is read, each -o
 * goes through process_server_config_line(..., "command-line", ...), which refuses Match and
 * Include there; -p sets ports_from_cmdline; -g, -d and -q assign their option outright (so
 * they win over any -o or file line), while -o lines, like file lines, only fill what is unset.
 */
function applyCommandLine(state: ParseState, commandLine: SshdCommandLine): void {
  const { options, ports } = commandLine
  const before = commandLine.optionsBeforePorts ?? options.length
  const addPorts = (): void => {
    for (const port of ports) {
      if (Number.isInteger(port) && port >= 1 && port <= 65535) state.ports.push(port)
      else state.problems.push({ file: COMMAND_LINE, message: `-p ${port}: bad port number` })
    }
    if (ports.length > 0) state.portsFromCommandLine = true
  }
  options.forEach((text, index) => {
    if (index === before) addPorts()
    const directive = parseLine(text)
    if (directive === undefined) return
    const keyword = directive.keyword.toLowerCase()
    if (keyword === 'match' || keyword === 'include') {
      state.problems.push({
        file: COMMAND_LINE,
        line: index + 1,
        message: `${directive.keyword} is not supported as a command-line option (${REFUSED})`,
      })
      return
    }
    processDirective(state, directive, COMMAND_LINE, index + 1, 0, false)
  })
  if (before >= options.length) addPorts()
  if (commandLine.loginGraceTime !== undefined) {
    // sshd.c reads -g with the same convtime as the file's times.
    const seconds = parseSshdTime(commandLine.loginGraceTime, state.semantics.time)
    if (seconds === undefined) {
      state.problems.push({
        file: COMMAND_LINE,
        message: `-g "${commandLine.loginGraceTime}": invalid login grace time (${REFUSED})`,
      })
    } else state.slots.loginGraceTime.global = seconds
  }
  if (commandLine.logLevel !== undefined) {
    state.slots.logLevel.global = SSHD_LOG_LEVELS.indexOf(commandLine.logLevel)
  }
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
  if (depth > 0 && state.semantics.includeEndBindsListenAddresses) bindListenAddresses(state)
}

/**
 * servconf.c process_queued_listen_addrs, which before 8.4 ran at the end of every included
 * file (servconf.c at V_8_3_P1, parse_server_config_depth): no Port yet means Port 22, and the
 * ListenAddresses so far take the Ports so far.
 */
function bindListenAddresses(state: ParseState): void {
  if (state.ports.length === 0) state.ports.push(...SSHD_DEFAULTS.listenPorts)
  for (const port of state.listenAddresses) {
    if (port === undefined) state.boundListenPorts.push(...state.ports)
    else state.boundListenPorts.push(port)
  }
  state.listenAddresses = []
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
  if (state.semantics.unknownKeywords.includes(keyword)) {
    problem(`${d.keyword}: bad configuration option in this OpenSSH version (${REFUSED} line)`)
    return
  }
  if (keyword === 'match') {
    const result = evaluateMatch(d.args, state.semantics)
    if (typeof result === 'string') problem(`${result} (${REFUSED} line)`)
    else if (result.note !== undefined) problem(result.note)
    // In a file included from an inactive context no Match can activate (SSHCFG_NEVERMATCH).
    state.active = !neverMatch && typeof result !== 'string' && result.match
    state.matched = true
    return
  }
  if (keyword === 'include') {
    include(state, d, depth, problem)
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
      if (state.matched && state.perConnection) slot.match = 0
    }
    return
  }
  // Before 9.7 a ChannelTimeout line without a value (a comment only) sets nothing.
  const noValue = spec.key === 'channelTimeouts' && d.args.length === 0
  if (noValue && !state.semantics.channelTimeoutNeedsValue) return
  const value = readValue(spec.key, d, state.semantics.time)
  if (typeof value === 'string') {
    problem(`${d.keyword}: ${value} (${REFUSED} line)`)
    return
  }
  if (!state.active) return
  const slot = state.slots[spec.key]
  if (spec.key === 'perSourceMaxStartups' && !state.semantics.perSourceFirstWins) {
    slot.global = value
  } else slot.global ??= value
  if (state.matched && state.perConnection) slot.match ??= value
}

/** A keyword's value, or why sshd rejects the line. */
function readValue(key: Key, d: Directive, time: SshdTimeSyntax): Value | string {
  if (key === 'channelTimeouts') return checkChannelTimeouts(d.args, time)
  if (d.args.length > 1) return 'extra arguments at end of line'
  const arg = d.args[0]
  switch (key) {
    case 'loginGraceTime':
    case 'clientAliveInterval':
    case 'unusedConnectionTimeout': {
      if (arg === undefined || arg === '') return 'missing time value'
      return parseSshdTime(arg, time) ?? `invalid time value "${arg}"`
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
  // After -p, servconf.c skips a Port line without looking at it (argv_consume).
  if (key === 'port' && state.portsFromCommandLine) return
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
  const parsed = checkMaxStartups(arg, state.semantics)
  if (typeof parsed === 'string') {
    problem(`${parsed} (${REFUSED} line)`)
    return
  }
  if (d.args.length > 1) {
    problem(`${d.keyword}: extra arguments at end of line (${REFUSED} line)`)
    return
  }
  if (!state.active) return
  if (state.semantics.maxStartupsFirstWins) {
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
function evaluateMatch(
  args: string[],
  semantics: SshdConfigSemantics,
): { match: boolean; note?: string } | string {
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
    if (lower === 'invalid-user' && semantics.matchInvalidUser) {
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
    if (!MATCH_CRITERIA.has(name) || (name === 'version' && !semantics.matchVersion)) {
      return `Match: unsupported criterion "${attribute}"`
    }
    if (arg === undefined || arg === '' || arg.startsWith('#')) {
      return `Match: missing value for ${attribute}`
    }
    if (name === 'localport' && !/^\d+$/.test(arg)) return `Match: invalid LocalPort "${arg}"`
    if (name === 'version') {
      // It matches SSH_RELEASE, which distributions extend (Debian: `OpenSSH_10.0p2 Debian-7`).
      note = `Match Version ${arg}: the sshd's full release string is not known here; treated as not matching`
    }
    match = false
  }
  if (attributes === 0) return 'Match needs one or more criteria'
  return note === undefined ? { match } : { match, note }
}

function include(
  state: ParseState,
  d: Directive,
  depth: number,
  problem: (m: string) => void,
): void {
  const { args } = d
  if (args.length === 0) problem(`Include: missing filename argument (${REFUSED} line)`)
  const keyword = state.semantics.includeRelativeToKeyword ? d.keyword : null
  for (const arg of args) {
    const pattern = includePattern(arg, state.sshdir, keyword)
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
      const { active, matched, perConnection } = state
      if (state.semantics.includedMatchGlobalOnly && !matched) state.perConnection = false
      parseFile(state, path, depth + 1, !active)
      state.active = active
      state.matched = matched
      state.perConnection = perConnection
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
function includePatterns(text: string, sshdir: string, semantics: SshdConfigSemantics): string[] {
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const d = parseLine(raw)
    if (d === undefined || d.error !== undefined || d.keyword.toLowerCase() !== 'include') continue
    const keyword = semantics.includeRelativeToKeyword ? d.keyword : null
    for (const arg of d.args) {
      const pattern = includePattern(arg, sshdir, keyword)
      if (typeof pattern === 'string') out.push(pattern)
    }
  }
  return out
}

/**
 * Reads `file` (a path inside `rootfs`, default /etc/ssh/sshd_config) and everything it
 * includes, under `rootfs` as a chroot, and parses them as sshd does. An included file that
 * cannot be used (unreadable, too big, binary) is a problem and is skipped; the main file
 * failing throws an SshdConfigError (`NOT_FOUND` when there is none). `none` (sshd -f none)
 * reads no file. An -o Include in `options.commandLine` reads nothing: sshd refuses it.
 */
export async function readSshdConfig(
  rootfs: string,
  file = '/etc/ssh/sshd_config',
  options: SshdConfigOptions = {},
): Promise<SshdConfigFiles> {
  const root = resolve(rootfs)
  if (isNoFile(file)) return parseSshdConfigFiles(file, new Map(), options)
  const main = normalizeSlashes(file)
  const sshdir = normalizeSlashes(options.sshdir ?? '/etc/ssh')
  const cap = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES
  const semantics = semanticsFor(options.opensshVersion)
  const first = await readInRoot(root, main, cap)
  if (!('text' in first)) throw new SshdConfigError(first.code, main, first.message)

  const files = new Map([[main, first.text]])
  const problems: ConfigProblem[] = []
  const failed = new Set<string>()
  const globbed = new Set<string>()
  const queue = [first.text]
  let capped = false
  for (let text = queue.shift(); text !== undefined; text = queue.shift()) {
    for (const pattern of includePatterns(text, sshdir, semantics)) {
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
