/**
 * The HTTP app: the telemetry path, a landing page, and the health endpoints
 * Prometheus's own servers have. Built by a function and tested with inject();
 * listening is the CLI's business.
 */
import Fastify, { LogController } from 'fastify'
import { Registry } from 'prom-client'
import type { Logger } from '../logger.ts'
import { type CollectorStatus, landingPage } from './landing.ts'

export interface AppOptions {
  telemetryPath: string
  /** Renders one scrape (shared between concurrent requests by the scraper). */
  scrape: () => Promise<string>
  logger: Logger
  version: string
  collectors: readonly CollectorStatus[]
}

export type App = ReturnType<typeof buildApp>

export function buildApp(options: AppOptions) {
  const app = Fastify({
    // Fastify's own info lines ("Server listening at …") would double the CLI's one
    // start-up line; its warnings and errors still come through.
    loggerInstance: options.logger.child(
      {},
      { level: options.logger.isLevelEnabled('warn') ? 'warn' : options.logger.level },
    ),
    // One line per scrape every 15 s on every host is noise.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  })
  const landing = landingPage({
    version: options.version,
    telemetryPath: options.telemetryPath,
    collectors: options.collectors,
  })

  app.get(options.telemetryPath, async (_request, reply) => {
    const body = await options.scrape()
    return reply.type(Registry.PROMETHEUS_CONTENT_TYPE).send(body)
  })
  if (options.telemetryPath !== '/') {
    app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(landing))
  }
  app.get('/-/healthy', async (_request, reply) => reply.type('text/plain').send('Healthy\n'))
  app.get('/-/ready', async (_request, reply) => reply.type('text/plain').send('Ready\n'))
  app.setNotFoundHandler(async (_request, reply) =>
    reply.code(404).type('text/plain').send('404 page not found\n'),
  )
  return app
}
