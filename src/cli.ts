#!/usr/bin/env node
/**
 * sshd-exporter's command line: flags -> Config, start, graceful shutdown; and the `sessions`
 * subcommand (src/sessions/command.ts). Exit codes: 0 after a clean shutdown or --help/--version,
 * 1 when the server cannot start (the address is taken), 2 for a bad flag or a bad
 * --web.config.file. The server's modules (fastify, prom-client's registries) are loaded only
 * when the server starts, so that `sessions` starts as fast as a terminal tool should.
 */
import { COLLECTORS, type CollectorFlags, type ExporterFlags } from './collectors/index.ts'
import { isExporterError } from './errors.ts'
import { type Flags, type ParseResult, parseFlags, type SubcommandSpec } from './flags/parse.ts'
import type { ListenAddress } from './flags/spec.ts'
import type { Logger } from './logger.ts'
import type { SessionsFlags } from './sessions/command.ts'
import { VERSION } from './version.ts'
import type { App } from './web/app.ts'

function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}

async function listen(app: App, address: ListenAddress): Promise<string> {
  if (address.host !== '') return app.listen({ host: address.host, port: address.port })
  try {
    // Every address, IPv6 and IPv4, as Go's ":port" does.
    return await app.listen({ host: '::', port: address.port })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err
    return app.listen({ host: '0.0.0.0', port: address.port })
  }
}

async function run(flags: ExporterFlags, logger: Logger): Promise<void> {
  const { createExporter } = await import('./exporter.ts')
  const exporter = await createExporter(flags, logger)
  const enabled = exporter.collectors.filter((c) => c.state === 'enabled').map((c) => c.name)

  let closing = false
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal, exiting now')
      process.exit(1)
    }
    closing = true
    logger.info({ signal }, 'shutting down')
    Promise.all([exporter.app.close(), exporter.close()]).then(
      () => {
        logger.info('shut down')
        process.exit(0)
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading')
    exporter.reload().catch((err: unknown) => logger.warn({ err }, 'reload failed'))
  })

  try {
    await listen(exporter.app, flags.web.listenAddress)
  } catch (err) {
    logger.error(
      { err, address: formatAddress(flags.web.listenAddress) },
      'cannot listen: is another process using the address? Set --web.listen-address',
    )
    process.exit(1)
  }
  const bound = exporter.app.server.address()
  logger.info(
    {
      version: VERSION,
      nodejs: process.versions.node,
      address:
        bound !== null && typeof bound === 'object'
          ? formatAddress({ host: bound.address, port: bound.port })
          : formatAddress(flags.web.listenAddress),
      telemetry_path: flags.web.telemetryPath,
      tls: exporter.web?.initial.tls !== undefined,
      collectors: enabled,
      procfs: flags.path.procfs,
      rootfs: flags.path.rootfs,
      node_flags: process.execArgv.join(' '),
    },
    'sshd_exporter listening',
  )
}

/** Flags, or the exit of --help, --version or a bad flag (2). */
function parseOrExit(argv: readonly string[], command?: SubcommandSpec): Flags<CollectorFlags> {
  let parsed: ParseResult<CollectorFlags>
  try {
    parsed = parseFlags<CollectorFlags>(argv, process.env, COLLECTORS, command)
  } catch (err) {
    if (!isExporterError(err)) throw err
    const name = command === undefined ? 'sshd-exporter' : `sshd-exporter ${command.name}`
    process.stderr.write(`${name}: error: ${err.message}\n`)
    process.exit(2)
  }
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text)
    process.exit(0)
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`sshd_exporter, version ${VERSION} (nodejs: ${process.versions.node})\n`)
    process.exit(0)
  }
  return parsed.flags
}

async function sessions(argv: readonly string[]): Promise<void> {
  const { runSessions, SESSIONS_COMMAND } = await import('./sessions/command.ts')
  const flags = parseOrExit(argv, SESSIONS_COMMAND) as unknown as SessionsFlags
  const controller = new AbortController()
  // --watch ends on ^C or a TERM as watch(1) does: with status 0.
  process.on('SIGINT', () => controller.abort())
  process.on('SIGTERM', () => controller.abort())
  // A reader that stops early (`sessions | head`) closes the pipe: end quietly with status 0, as
  // ps and who end when their pipe closes, not with an unhandled EPIPE and its stack.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(0)
  })
  process.exitCode = await runSessions(flags, process, controller.signal)
}

function main(): void {
  const argv = process.argv.slice(2)
  if (argv[0] === 'sessions') {
    sessions(argv.slice(1)).catch((err: unknown) => {
      process.stderr.write(`sshd-exporter sessions: error: ${String(err)}\n`)
      process.exit(1)
    })
    return
  }
  void serve(parseOrExit(argv))
}

/** Starts the server; a failure to start is logged and exits (2 for a bad web config, else 1). */
async function serve(flags: ExporterFlags): Promise<void> {
  const { createLogger } = await import('./logger.ts')
  const logger = createLogger(flags.log)
  try {
    await run(flags, logger)
  } catch (err) {
    const { WebConfigError } = await import('./web/web-config.ts')
    if (err instanceof WebConfigError) {
      // One line, like a bad flag's, naming the file, the key and what it accepts.
      logger.error({ web_config_file: err.file, key: err.key }, err.message)
      process.exit(2)
    }
    logger.fatal({ err }, 'start-up failed')
    process.exit(1)
  }
}

main()
