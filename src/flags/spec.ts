/**
 * What a flag is: its name, default, help, and how its text becomes a value. The builders in
 * `flag` make the kinds every flag uses; a group of flags is a plain object of them (nested for
 * the core flags), and `FlagValues` is the type of what parsing a group gives. A bad value is an
 * ExporterError naming the flag and what it accepts.
 */
import { ErrorCode, ExporterError } from '../errors.ts'

export interface FlagSpec<T> {
  /** The name without `--`, e.g. `collector.stale.idle-threshold`. */
  readonly name: string
  /** undefined: no default; the value stays undefined unless given. */
  readonly default: string | undefined
  readonly help: string
  /** True for `--[no-]name` flags, which need no value. */
  readonly bool: boolean
  /** The value of the flag given alone (`--watch` for `--watch=2s`); its value then needs `=`. */
  readonly implicit?: string
  /** The value's kind in --help: `--name=DURATION`. */
  readonly kind: string
  /** What a valid value looks like, for error messages. */
  readonly accepts: string
  /** The value of a given text; throws an ExporterError naming the flag. */
  parse(text: string): T
}

/** Flags, or groups of flags, by the key their values get. */
export interface FlagGroup {
  readonly [key: string]: FlagSpec<unknown> | FlagGroup
}

/** The values a group of flags parses to. */
export type FlagValues<G> = {
  -readonly [K in keyof G]: G[K] extends FlagSpec<infer T> ? T : FlagValues<G[K]>
}

/** `--name="text" is not valid: why; expected …`. */
export function invalid(name: string, text: string, accepts: string, why?: string): ExporterError {
  const reason = why ? `${why}; ` : ''
  return new ExporterError(
    ErrorCode.FLAG_INVALID,
    `--${name}=${JSON.stringify(text)} is not valid: ${reason}expected ${accepts}`,
  )
}

/** The environment variable of a flag: SSHD_EXPORTER_ and its name, `.` and `-` as `_`. */
export function envName(flag: string): string {
  return `SSHD_EXPORTER_${flag.toUpperCase().replace(/[.-]/g, '_')}`
}

export interface ListenAddress {
  /** Empty for every address. */
  host: string
  port: number
}

const DURATION_RE =
  /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/
const DURATION_UNITS = [365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001]

/** Prometheus's duration syntax (`1h30m`, `90s`, `500ms`, `0`) in seconds; null when malformed. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0
  const m = DURATION_RE.exec(text)
  if (m === null || text === '') return null
  let seconds = 0
  for (let i = 0; i < DURATION_UNITS.length; i++) {
    const part = m[i + 1]
    if (part !== undefined) seconds += Number(part) * DURATION_UNITS[i]!
  }
  return seconds
}

/** `[host]:port`; null when malformed. */
export function parseListenAddress(text: string): ListenAddress | null {
  const colon = text.lastIndexOf(':')
  if (colon < 0) return null
  let host = text.slice(0, colon)
  const portText = text.slice(colon + 1)
  if (!/^\d{1,5}$/.test(portText)) return null
  const port = Number(portText)
  if (port > 65535) return null
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return null
    host = host.slice(1, -1)
    if (!host.includes(':')) return null
  } else if (host.includes(':') || /[\s/[\]]/.test(host)) {
    return null
  }
  return { host, port }
}

/** A flag of `kind` whose text `read` turns into a value, or null when it is not valid. */
function kind<T>(kindName: string, accepts: string, read: (text: string) => T | null) {
  function make(name: string, dflt: string, help: string): FlagSpec<T>
  function make(name: string, dflt: undefined, help: string): FlagSpec<T | undefined>
  function make(name: string, dflt: string | undefined, help: string): FlagSpec<T | undefined> {
    return {
      name,
      default: dflt,
      help,
      bool: kindName === 'bool',
      kind: kindName,
      accepts,
      parse(text) {
        const value = read(text)
        if (value === null) throw invalid(name, text, accepts, text === '' ? 'it is empty' : '')
        return value
      },
    }
  }
  return make
}

export const flag = {
  /** Any text but empty. */
  string: kind('string', 'a string', (t) => (t === '' ? null : t)),
  /** Any text; empty stands for none (undefined). */
  optional: kind('optional', 'a string, or empty', (t) => (t === '' ? undefined : t)),
  bool: kind('bool', 'true or false', (t) =>
    t === 'true' || t === '1' ? true : t === 'false' || t === '0' ? false : null,
  ),
  int: kind('int', 'a whole number, 0 or more', (t) => {
    if (!/^\d+$/.test(t)) return null
    const n = Number(t)
    return Number.isSafeInteger(n) ? n : null
  }),
  /** Seconds. */
  duration: kind(
    'duration',
    "a duration in Prometheus's syntax, e.g. 500ms, 10s, 5m, 1h",
    parseDuration,
  ),
  address: kind(
    'address',
    '[host]:port, e.g. :9922, 127.0.0.1:9922 or [::1]:9922',
    parseListenAddress,
  ),
  path: kind('path', 'an absolute path starting with /, e.g. /metrics', (t) =>
    t.startsWith('/') && !/\s/.test(t) ? t : null,
  ),
  /** One of `choices`. */
  choice<const C extends string>(name: string, choices: readonly C[], dflt: C, help: string) {
    return kind(name.split('.').at(-1)!, choices.join(', '), (t) =>
      (choices as readonly string[]).includes(t) ? (t as C) : null,
    )(name, dflt, help)
  },
}
