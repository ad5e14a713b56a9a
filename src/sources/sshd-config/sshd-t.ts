// parseSshdT: EffectiveConfig from `sshd -T` output, the configuration as sshd itself
// evaluated it (sources/sshd-binary.ts runs sshd). Keys are lower case up to 10.0 and mixed
// case from 10.4 (docs/openssh.md); lines we do not read are ignored. A value of ours missing
// or malformed is a ConfigProblem of the file `sshd -T` and takes OpenSSH's default. Pure.

import { checkChannelTimeouts, listenAddressPort, parseCount, parsePort } from './syntax.ts'
import {
  type ConfigProblem,
  type EffectiveConfig,
  effectiveListenPorts,
  parseLogLevel,
  SSHD_DEFAULTS,
  type SshdConfig,
} from './values.ts'

const SSHD_T = 'sshd -T'

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
