// The argument syntax of the keywords behind EffectiveConfig, as servconf.c and misc.c read
// it: times (misc.c convtime, which changed between versions: SshdTimeSyntax), integers
// (atoi_err), ports (a2port), a ListenAddress's port (hpdelim), MaxStartups (sscanf
// "%d:%d:%d") and ChannelTimeout lists. Pure. Each returns the value, or undefined or a
// message when sshd refuses the argument.

import { NEWEST_SEMANTICS, type SshdConfigSemantics, type SshdTimeSyntax } from './semantics.ts'
import type { ChannelTimeout } from './values.ts'

export const INT_MAX = 2147483647

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
export function parseCount(text: string | undefined): number | string {
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

export type MaxStartupsRaw = { begin: number; rate: number; full: number } // percent; -1 when unset

/** A MaxStartups argument as `semantics` reads it; a one-number `N` has rate -1. */
export function checkMaxStartups(
  arg: string,
  semantics: SshdConfigSemantics,
): MaxStartupsRaw | string {
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

export function checkChannelTimeouts(
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

/**
 * A port as sshd's a2port takes it (1 to 65535, decimal digits only), or undefined.
 */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

/**
 * The port of a ListenAddress argument when it names one: `host:port` or `[host]:port` (an IPv6
 * address without brackets has no port: servconf.c's hpdelim sees more than one colon).
 */
export function listenAddressPort(arg: string): number | undefined | string {
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
