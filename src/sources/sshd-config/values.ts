// The values of sshd's configuration that the exporter reports (EffectiveConfig), OpenSSH's
// defaults for them and sshd's log levels, and what can go wrong reading them: a ConfigProblem
// (log it once; the value falls back to the default) or, when the main sshd_config cannot be
// used, an SshdConfigError. Shared by sshd-t.ts (values from `sshd -T`) and parse.ts and
// read.ts (values from the files). Pure, no I/O.

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
export function parseLogLevel(text: string): SshdLogLevel | undefined {
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

/** Ends the message of a problem that makes sshd refuse to start. */
export const REFUSED = 'sshd refuses to start with this'

/**
 * Every port sshd binds, from its Port values and ListenAddress ports (undefined: all Ports),
 * and `bound`, the ports of ListenAddresses already bound (before 8.4, by an included file).
 */
export function effectiveListenPorts(
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
