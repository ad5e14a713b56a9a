/**
 * The exporter's own flags (web, paths, scrape, logging), as node_exporter names them. Each
 * collector declares its own flags beside its metrics (src/collectors/); parse.ts puts the two
 * together.
 */
import { flag, type FlagValues } from './spec.ts'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export const LOG_FORMATS = ['json', 'logfmt'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export type LogFormat = (typeof LOG_FORMATS)[number]

export const CORE_FLAGS = {
  web: {
    listenAddress: flag.address(
      'web.listen-address',
      ':9922',
      'Address on which to expose metrics and the web interface.',
    ),
    telemetryPath: flag.path(
      'web.telemetry-path',
      '/metrics',
      'Path under which to expose metrics.',
    ),
    configFile: flag.optional(
      'web.config.file',
      undefined,
      "Path to a web config file in prometheus/exporter-toolkit's format (as node_exporter's): TLS, client certificates, basic auth, response headers. Re-read on every request and on SIGHUP. Empty: plain HTTP without auth.",
    ),
    maxConnections: flag.int(
      'web.max-connections',
      '1024',
      'Maximum number of simultaneous connections (HTTP, HTTPS, HTTP/2 alike); past it a new connection is closed at once. 0: no limit.',
    ),
    enableSessions: flag.bool(
      'web.enable-sessions',
      'false',
      'Serve the live sessions table at /sessions (HTML) and /api/v1/sessions (JSON). They show user names, client addresses and command lines: configure basic auth or client certificates in --web.config.file.',
    ),
    disableExporterMetrics: flag.bool(
      'web.disable-exporter-metrics',
      'false',
      'Exclude the exporter\u2019s own process and Node.js metrics (process_*, nodejs_*).',
    ),
  },
  path: {
    procfs: flag.string(
      'path.procfs',
      '/proc',
      'procfs mountpoint (the host\u2019s /proc when run in a container).',
    ),
    rootfs: flag.string(
      'path.rootfs',
      '/',
      'Root of the host\u2019s filesystem, for utmp, sshd_config and logs.',
    ),
  },
  scrape: {
    collectorTimeoutSeconds: flag.duration(
      'scrape.collector-timeout',
      '5s',
      'Time limit of one collector in one scrape; past it the collector reports failure.',
    ),
  },
  log: {
    level: flag.choice(
      'log.level',
      LOG_LEVELS,
      'info',
      `Only log messages with the given severity or above: ${LOG_LEVELS.join(', ')}.`,
    ),
    format: flag.choice(
      'log.format',
      LOG_FORMATS,
      'json',
      `Output format of log messages: ${LOG_FORMATS.join(', ')}.`,
    ),
  },
}

export type CoreFlags = FlagValues<typeof CORE_FLAGS>
