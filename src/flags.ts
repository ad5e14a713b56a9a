/**
 * Command-line flags in node_exporter's style: `--name=value` or `--name value`,
 * `--no-name` for a boolean, `--collector.<name>` / `--no-collector.<name>` for
 * every registered collector, and an environment variable for every flag
 * (`SSHD_EXPORTER_` and the flag's name in upper case, `.` and `-` as `_`).
 * A flag wins over its variable. A bad value is an ExporterError naming the
 * flag and what it accepts; the CLI prints it on one line and exits 2.
 */
import { ErrorCode, ExporterError } from './errors.ts'

export interface ListenAddress {
  /** Empty for every address. */
  host: string
  port: number
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'json' | 'logfmt'
export type EventsSource = 'auto' | 'journal' | 'file' | 'none'

export interface Config {
  web: {
    listenAddress: ListenAddress
    telemetryPath: string
    /** exporter-toolkit's web config (TLS, basic auth); undefined: plain HTTP, no auth. */
    configFile: string | undefined
    disableExporterMetrics: boolean
  }
  path: { procfs: string; rootfs: string }
  /** Collector name -> enabled. */
  collectors: Record<string, boolean>
  processes: { maxUsers: number; rescanIntervalSeconds: number }
  config: {
    /** undefined: sshd on PATH or in /usr/sbin; null: never run sshd. */
    sshdBinary: string | null | undefined
    /** undefined: <rootfs>/etc/ssh/sshd_config, and sshd -T without -f. */
    file: string | undefined
  }
  stale: {
    idleThresholdSeconds: number
    /** undefined: LoginGraceTime, or 120 s when it is unknown or 0. */
    preauthThresholdSeconds: number | undefined
  }
  sockets: { maxSources: number }
  events: {
    source: EventsSource
    /** undefined: the first of <rootfs>/var/log/auth.log, secure and messages that exists. */
    file: string | undefined
    /** undefined: the system journal. */
    journalDirectory: string | undefined
    /** Users, root aside, given their own sshd_logins_total series, first seen first. */
    maxUsers: number
  }
  scrape: { collectorTimeoutSeconds: number }
  log: { level: LogLevel; format: LogFormat }
}

export interface CollectorFlagInfo {
  name: string
  defaultEnabled: boolean
  help: string
}

export type ParseResult =
  { kind: 'config'; config: Config } | { kind: 'help'; text: string } | { kind: 'version' }

type Kind =
  | 'string'
  | 'optional'
  | 'bool'
  | 'int'
  | 'duration'
  | 'address'
  | 'path'
  | 'level'
  | 'format'
  | 'events-source'

interface FlagSpec {
  name: string
  kind: Kind
  /** null: the value stays undefined unless given (a default worked out later). */
  default: string | null
  help: string
  /** Sets the parsed value on the config being built. */
  apply: (config: Config, value: unknown) => void
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
const LOG_FORMATS: readonly LogFormat[] = ['json', 'logfmt']
const EVENTS_SOURCES: readonly EventsSource[] = ['auto', 'journal', 'file', 'none']

const ACCEPTS: Record<Kind, string> = {
  string: 'a string',
  optional: 'a string, or empty',
  bool: 'true or false',
  int: 'a whole number, 0 or more',
  duration: "a duration in Prometheus's syntax, e.g. 500ms, 10s, 5m, 1h",
  address: '[host]:port, e.g. :9922, 127.0.0.1:9922 or [::1]:9922',
  path: 'an absolute path starting with /, e.g. /metrics',
  level: LOG_LEVELS.join(', '),
  format: LOG_FORMATS.join(', '),
  'events-source': EVENTS_SOURCES.join(', '),
}

const STATIC_FLAGS: readonly FlagSpec[] = [
  {
    name: 'web.listen-address',
    kind: 'address',
    default: ':9922',
    help: 'Address on which to expose metrics and the web interface.',
    apply: (c, v) => {
      c.web.listenAddress = v as ListenAddress
    },
  },
  {
    name: 'web.telemetry-path',
    kind: 'path',
    default: '/metrics',
    help: 'Path under which to expose metrics.',
    apply: (c, v) => {
      c.web.telemetryPath = v as string
    },
  },
  {
    name: 'web.config.file',
    kind: 'optional',
    default: null,
    help: "Path to a web config file in prometheus/exporter-toolkit's format (as node_exporter's): TLS, client certificates, basic auth, response headers. Re-read on every request and on SIGHUP. Empty: plain HTTP without auth.",
    apply: (c, v) => {
      c.web.configFile = v === '' ? undefined : (v as string)
    },
  },
  {
    name: 'web.disable-exporter-metrics',
    kind: 'bool',
    default: 'false',
    help: 'Exclude the exporter\u2019s own process and Node.js metrics (process_*, nodejs_*).',
    apply: (c, v) => {
      c.web.disableExporterMetrics = v as boolean
    },
  },
  {
    name: 'path.procfs',
    kind: 'string',
    default: '/proc',
    help: 'procfs mountpoint (the host\u2019s /proc when run in a container).',
    apply: (c, v) => {
      c.path.procfs = v as string
    },
  },
  {
    name: 'path.rootfs',
    kind: 'string',
    default: '/',
    help: 'Root of the host\u2019s filesystem, for utmp, sshd_config and logs.',
    apply: (c, v) => {
      c.path.rootfs = v as string
    },
  },
  {
    name: 'collector.processes.max-users',
    kind: 'int',
    default: '100',
    help: 'Most users given their own sshd_sessions series; the rest are summed under user="other".',
    apply: (c, v) => {
      c.processes.maxUsers = v as number
    },
  },
  {
    name: 'collector.processes.rescan-interval',
    kind: 'duration',
    default: '5m',
    help: "sshd's processes are found by walking down from its listeners (/proc/<pid>/task/<pid>/children); every process is read at start, when a listener goes, and this often, to find new listeners. 0: read every process on every scrape.",
    apply: (c, v) => {
      c.processes.rescanIntervalSeconds = v as number
    },
  },
  {
    name: 'collector.config.sshd-binary',
    kind: 'optional',
    default: null,
    help: 'sshd binary to run `sshd -T` with (as root, at start-up and at most once a minute); empty: never run it, read the files. Default: sshd on PATH or in /usr/sbin.',
    apply: (c, v) => {
      c.config.sshdBinary = v === '' ? null : (v as string)
    },
  },
  {
    name: 'collector.config.file',
    kind: 'string',
    default: null,
    help: 'sshd_config to read (Include files are resolved under --path.rootfs), and to pass to `sshd -T -f`, for sshd instances whose command line names no -f. Default: <rootfs>/etc/ssh/sshd_config, else <rootfs>/usr/etc/ssh/sshd_config (SUSE).',
    apply: (c, v) => {
      c.config.file = v as string
    },
  },
  {
    name: 'collector.stale.idle-threshold',
    kind: 'duration',
    default: '1h',
    help: 'A pty session whose tty has seen no input for this long is stale (reason="idle").',
    apply: (c, v) => {
      c.stale.idleThresholdSeconds = v as number
    },
  },
  {
    name: 'collector.stale.preauth-threshold',
    kind: 'duration',
    default: null,
    help: 'A connection still not authenticated after this long is stale (reason="preauth_overdue"). Default: the effective LoginGraceTime, or 120s when it is unknown or 0.',
    apply: (c, v) => {
      c.stale.preauthThresholdSeconds = v as number
    },
  },
  {
    name: 'collector.sockets.max-sources',
    kind: 'int',
    default: '20',
    help: 'Most client addresses given their own sshd_source_connections series; the rest are summed under source="other".',
    apply: (c, v) => {
      c.sockets.maxSources = v as number
    },
  },
  {
    name: 'collector.events.source',
    kind: 'events-source',
    default: 'auto',
    help: "Where sshd's log is read: journal, file, none, or auto (the journal when one is readable, else the first log file found).",
    apply: (c, v) => {
      c.events.source = v as EventsSource
    },
  },
  {
    name: 'collector.events.file',
    kind: 'string',
    default: null,
    help: 'Log file to follow like `tail -F` (rotation by rename and copytruncate). Default: the first of <rootfs>/var/log/auth.log, <rootfs>/var/log/secure and <rootfs>/var/log/messages that exists.',
    apply: (c, v) => {
      c.events.file = v as string
    },
  },
  {
    name: 'collector.events.journal-directory',
    kind: 'string',
    default: null,
    help: "Journal directory to read (journalctl --directory), e.g. a host's /var/log/journal mounted in a container. Default: the system journal.",
    apply: (c, v) => {
      c.events.journalDirectory = v as string
    },
  },
  {
    name: 'collector.events.max-users',
    kind: 'int',
    default: '100',
    help: 'Most users given their own sshd_logins_total series: the first to log in keep theirs for the exporter\u2019s life, later ones are counted under user="other"; root always has its own.',
    apply: (c, v) => {
      c.events.maxUsers = v as number
    },
  },
  {
    name: 'scrape.collector-timeout',
    kind: 'duration',
    default: '5s',
    help: 'Time limit of one collector in one scrape; past it the collector reports failure.',
    apply: (c, v) => {
      c.scrape.collectorTimeoutSeconds = v as number
    },
  },
  {
    name: 'log.level',
    kind: 'level',
    default: 'info',
    help: `Only log messages with the given severity or above: ${LOG_LEVELS.join(', ')}.`,
    apply: (c, v) => {
      c.log.level = v as LogLevel
    },
  },
  {
    name: 'log.format',
    kind: 'format',
    default: 'json',
    help: `Output format of log messages: ${LOG_FORMATS.join(', ')}.`,
    apply: (c, v) => {
      c.log.format = v as LogFormat
    },
  },
]

export function envName(flag: string): string {
  return `SSHD_EXPORTER_${flag.toUpperCase().replace(/[.-]/g, '_')}`
}

function invalid(flag: string, value: string, kind: Kind, why?: string): ExporterError {
  const reason = why ? `${why}; ` : ''
  return new ExporterError(
    ErrorCode.FLAG_INVALID,
    `--${flag}=${JSON.stringify(value)} is not valid: ${reason}expected ${ACCEPTS[kind]}`,
  )
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

function parseValue(spec: FlagSpec, value: string): unknown {
  switch (spec.kind) {
    case 'string':
      if (value === '') throw invalid(spec.name, value, spec.kind, 'it is empty')
      return value
    case 'optional':
      return value
    case 'bool':
      if (value === 'true' || value === '1') return true
      if (value === 'false' || value === '0') return false
      throw invalid(spec.name, value, spec.kind)
    case 'int': {
      if (!/^\d+$/.test(value)) throw invalid(spec.name, value, spec.kind)
      const n = Number(value)
      if (!Number.isSafeInteger(n)) throw invalid(spec.name, value, spec.kind, 'it is too large')
      return n
    }
    case 'duration': {
      const seconds = parseDuration(value)
      if (seconds === null) throw invalid(spec.name, value, spec.kind)
      return seconds
    }
    case 'address': {
      const address = parseListenAddress(value)
      if (address === null) throw invalid(spec.name, value, spec.kind)
      return address
    }
    case 'path':
      if (!value.startsWith('/') || /\s/.test(value)) throw invalid(spec.name, value, spec.kind)
      return value
    case 'level':
      if (!(LOG_LEVELS as readonly string[]).includes(value)) {
        throw invalid(spec.name, value, spec.kind)
      }
      return value
    case 'format':
      if (!(LOG_FORMATS as readonly string[]).includes(value)) {
        throw invalid(spec.name, value, spec.kind)
      }
      return value
    case 'events-source':
      if (!(EVENTS_SOURCES as readonly string[]).includes(value)) {
        throw invalid(spec.name, value, spec.kind)
      }
      return value
  }
}

function collectorFlags(collectors: readonly CollectorFlagInfo[]): FlagSpec[] {
  return collectors.map((c) => ({
    name: `collector.${c.name}`,
    kind: 'bool' as const,
    default: String(c.defaultEnabled),
    help: `${c.help} (default: ${c.defaultEnabled ? 'enabled' : 'disabled'})`,
    apply: (config: Config, v: unknown) => {
      config.collectors[c.name] = v as boolean
    },
  }))
}

/** The shape of a Config; every field is then set from its flag's default. */
function emptyConfig(): Config {
  return {
    web: {
      listenAddress: { host: '', port: 0 },
      telemetryPath: '',
      configFile: undefined,
      disableExporterMetrics: false,
    },
    path: { procfs: '', rootfs: '' },
    collectors: {},
    processes: { maxUsers: 0, rescanIntervalSeconds: 0 },
    config: { sshdBinary: undefined, file: undefined },
    stale: { idleThresholdSeconds: 0, preauthThresholdSeconds: undefined },
    sockets: { maxSources: 0 },
    events: { source: 'auto', file: undefined, journalDirectory: undefined, maxUsers: 0 },
    scrape: { collectorTimeoutSeconds: 0 },
    log: { level: 'info', format: 'json' },
  }
}

function helpText(flags: readonly FlagSpec[]): string {
  const lines = [
    'usage: sshd-exporter [<flags>]',
    '',
    'Prometheus exporter for OpenSSH servers: sessions per connection and user,',
    'MaxSessions, MaxStartups, stale sessions and what sshd refused.',
    '',
    'Flags:',
    '  -h, --[no-]help                Show this help.',
    '      --[no-]version             Show the version.',
  ]
  for (const f of flags) {
    const name = f.kind === 'bool' ? `--[no-]${f.name}` : `--${f.name}=${f.kind.toUpperCase()}`
    lines.push(`      ${name}`)
    const dflt = f.default === null ? '' : `, default: ${f.default}`
    lines.push(`          ${f.help} ($${envName(f.name)}${dflt})`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * Parses argv (without node and the script) and the environment into a Config.
 * Throws ExporterError for an unknown flag or a bad value.
 */
export function parseFlags(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  collectors: readonly CollectorFlagInfo[],
): ParseResult {
  const flags = [...STATIC_FLAGS, ...collectorFlags(collectors)]
  const byName = new Map(flags.map((f) => [f.name, f]))
  const given = new Map<string, string>()

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '-h' || arg === '--help') return { kind: 'help', text: helpText(flags) }
    if (arg === '--version') return { kind: 'version' }
    if (!arg.startsWith('--')) {
      throw new ExporterError(
        ErrorCode.FLAG_UNKNOWN,
        `unexpected argument ${JSON.stringify(arg)}: flags start with --, see --help`,
      )
    }
    const eq = arg.indexOf('=')
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1)
    let spec = byName.get(name)
    if (spec === undefined && name.startsWith('no-')) {
      const positive = byName.get(name.slice(3))
      if (positive?.kind === 'bool' && value === undefined) {
        spec = positive
        name = positive.name
        value = 'false'
      }
    }
    if (spec === undefined) {
      const hint = name.startsWith('collector.')
        ? `known collectors: ${collectors.map((c) => c.name).join(', ')}`
        : 'see --help'
      throw new ExporterError(ErrorCode.FLAG_UNKNOWN, `unknown flag --${name}: ${hint}`)
    }
    if (value === undefined) {
      if (spec.kind === 'bool') {
        value = 'true'
      } else {
        const next = argv[i + 1]
        if (next === undefined || next.startsWith('--')) {
          throw new ExporterError(
            ErrorCode.FLAG_MISSING_VALUE,
            `--${name} needs a value: expected ${ACCEPTS[spec.kind]}`,
          )
        }
        value = next
        i++
      }
    }
    given.set(name, value)
  }

  const config = emptyConfig()
  for (const spec of flags) {
    const fromFlag = given.get(spec.name)
    const fromEnv = env[envName(spec.name)]
    if (fromFlag !== undefined) {
      spec.apply(config, parseValue(spec, fromFlag))
    } else if (fromEnv === undefined) {
      if (spec.default !== null) spec.apply(config, parseValue(spec, spec.default))
    } else {
      try {
        spec.apply(config, parseValue(spec, fromEnv))
      } catch (err) {
        throw new ExporterError(
          ErrorCode.FLAG_INVALID,
          `${envName(spec.name)}: ${(err as Error).message}`,
        )
      }
    }
  }
  return { kind: 'config', config }
}
