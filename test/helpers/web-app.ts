/**
 * The HTTP app as the web tests build it, without a whole exporter: buildApp with the test
 * defaults (a scrape at /metrics that answers `up 1\n`, version `test`, a landing page with no
 * tables, a silent logger), and loggers that say nothing or keep their JSON lines for a test to
 * read. A test passes whatever it checks (its scrape, its logger, its web config) itself.
 */
import type { AddressInfo } from 'node:net'
import type { LogLevel } from '../../src/flags/core.ts'
import { createLogger, type Logger } from '../../src/logger.ts'
import { type App, type AppOptions, buildApp } from '../../src/web/app.ts'

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return createLogger({ level: 'error', format: 'json', destination: { write() {} } })
}

/** A JSON logger at `level` that keeps each line it writes, parsed, in `logs`. */
export function jsonLinesLogger(level: LogLevel): {
  logger: Logger
  logs: Record<string, unknown>[]
} {
  const logs: Record<string, unknown>[] = []
  const logger = createLogger({
    level,
    format: 'json',
    destination: {
      write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>),
    },
  })
  return { logger, logs }
}

/** buildApp with the test defaults; `options` replaces or adds to them. */
export function testApp(options: Partial<AppOptions> = {}): App {
  return buildApp({
    telemetryPath: '/metrics',
    scrape: () => Promise.resolve('up 1\n'),
    version: 'test',
    landing: { name: 'test exporter', description: 'For tests.', tables: [] },
    ...options,
    logger: options.logger ?? silentLogger(),
  })
}

/** Starts `app` listening on a free port of 127.0.0.1; returns the port. */
export async function listenOnLoopback(app: App): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}
