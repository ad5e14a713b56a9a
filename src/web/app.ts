/**
 * The HTTP app: the telemetry path, a landing page, and the health endpoints
 * Prometheus's own servers have. Built by a function and tested with inject();
 * listening is the caller's business. What the landing page says of the exporter comes
 * from the caller; it links the metrics and health itself. With a web config, it speaks
 * HTTPS (and HTTP/2 beside HTTP/1.1 unless the config turns it off) and every route
 * follows the config's rules: web.ts.
 */
import Fastify, { LogController } from 'fastify'
import { Registry } from 'prom-client'
import type { Logger } from '../logger.ts'
import { type LandingTable, landingPage } from './landing.ts'
import type { WebConfigSource } from './web.ts'

export interface AppOptions {
  telemetryPath: string
  /** Renders one scrape (shared between concurrent requests by the scraper). */
  scrape: () => Promise<string>
  logger: Logger
  version: string
  /** What the landing page says: the exporter's name, a description, notes, tables (its collectors). */
  landing: {
    name: string
    description: string
    notes?: readonly string[]
    tables: readonly LandingTable[]
  }
  /** --web.config.file, read: TLS, basic auth, headers, rate limit. */
  web?: WebConfigSource | undefined
  /** More pages of the caller's, under the same web config; linked from the landing page. */
  routes?: readonly AppRoute[]
}

/** A page of the caller's: GET only, never cached, its query given parsed. */
export interface AppRoute {
  path: string
  /** The landing page's link to it; none when undefined. */
  linkText?: string
  handle(query: URLSearchParams): Promise<{ status: number; type: string; body: string }>
}

function createFastify(logger: Logger, web: WebConfigSource | undefined) {
  const base = {
    // Fastify's own info lines ("Server listening at …") would double the CLI's one
    // start-up line; its warnings and errors still come through.
    loggerInstance: logger.child(
      {},
      { level: logger.isLevelEnabled('warn') ? 'warn' : logger.level },
    ),
    // One line per scrape every 15 s on every host is noise.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  }
  const plain = () => Fastify(base)
  const tls = web?.initial.tls
  if (web === undefined || tls === undefined) return plain()
  const https = {
    ...tls.context,
    requestCert: tls.requestCert,
    rejectUnauthorized: tls.rejectUnauthorized,
  }
  // The routes and hooks use only what HTTP/1.1, HTTPS and HTTP/2 requests have in common,
  // so the app keeps one type whatever server carries it.
  if (web.initial.config.http2) {
    return Fastify({
      ...base,
      http2: true,
      https: { ...https, allowHTTP1: true },
    }) as unknown as ReturnType<typeof plain>
  }
  return Fastify({ ...base, https }) as unknown as ReturnType<typeof plain>
}

export type App = ReturnType<typeof buildApp>

export function buildApp(options: AppOptions) {
  const app = createFastify(options.logger, options.web)
  const web = options.web
  if (web !== undefined) {
    web.attach(app.server)
    app.addHook('onRequest', (request, reply) => web.guard(request, reply))
  }
  const landing = landingPage({
    ...options.landing,
    version: options.version,
    links: [
      { address: options.telemetryPath, text: 'Metrics' },
      ...(options.routes ?? []).flatMap((r) =>
        r.linkText === undefined ? [] : [{ address: r.path, text: r.linkText }],
      ),
      { address: '/-/healthy', text: 'Health' },
    ],
  })

  app.get(options.telemetryPath, async (_request, reply) => {
    const body = await options.scrape()
    return reply.type(Registry.PROMETHEUS_CONTENT_TYPE).send(body)
  })
  if (options.telemetryPath !== '/') {
    app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(landing))
  }
  for (const route of options.routes ?? []) {
    app.get(route.path, async (request, reply) => {
      const at = request.url.indexOf('?')
      const query = new URLSearchParams(at < 0 ? '' : request.url.slice(at + 1))
      const page = await route.handle(query)
      return reply
        .code(page.status)
        .type(page.type)
        .header('cache-control', 'no-store')
        .send(page.body)
    })
  }
  app.get('/-/healthy', async (_request, reply) => reply.type('text/plain').send('Healthy\n'))
  app.get('/-/ready', async (_request, reply) => reply.type('text/plain').send('Ready\n'))
  app.setNotFoundHandler(async (_request, reply) =>
    reply.code(404).type('text/plain').send('404 page not found\n'),
  )
  return app
}
