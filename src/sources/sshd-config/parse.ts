// parseSshdConfigFiles: EffectiveConfig from sshd_config files already read (paths inside the
// root mapped to their text), as servconf.c reads them under one OpenSSH version's rules
// (semantics.ts). The first value of a keyword wins, but where SEMANTICS_CHANGES or
// `UnusedConnectionTimeout none` say otherwise; only `Match all` matches (there is no
// connection); Include nests up to 16 levels; sshd's command line (SshdCommandLine, from
// sources/sshd-argv.ts) is applied first, as sshd.c main() does. A line sshd would refuse is a
// ConfigProblem and sets nothing. Pure: read.ts reads the files. Sources: docs/openssh.md.

import { globKnown, includePattern, normalizeSlashes } from './glob.ts'
import { type Directive, parseLine } from './lexer.ts'
import { type SshdConfigSemantics, type SshdTimeSyntax, semanticsFor } from './semantics.ts'
import {
  checkChannelTimeouts,
  checkMaxStartups,
  INT_MAX,
  listenAddressPort,
  type MaxStartupsRaw,
  parseCount,
  parsePort,
  parseSshdTime,
} from './syntax.ts'
import {
  type ChannelTimeout,
  type ConfigProblem,
  type EffectiveConfig,
  effectiveListenPorts,
  parseLogLevel,
  REFUSED,
  SSHD_DEFAULTS,
  SSHD_LOG_LEVELS,
  type SshdConfigFiles,
  type SshdLogLevel,
} from './values.ts'

const MAX_INCLUDE_DEPTH = 16 // servconf.c SERVCONF_MAX_DEPTH
const MAX_PARSES = 10_000 // includes may re-read files; bounds a pathological fan-out

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
export function isNoFile(file: string): boolean {
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
