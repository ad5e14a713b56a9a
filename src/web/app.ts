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
  /** The server's timeouts and limits; SERVER_LIMITS for what is not given. */
  limits?: Partial<ServerLimits> | undefined
}

/**
 * What the server gives slow and greedy clients. Why each value: docs/web-config.md,
 * "Limits and timeouts". Times in milliseconds, sizes in bytes; 0 for maxConnections is
 * no limit.
 */
export interface ServerLimits {
  /** From a connection's first byte (or the end of the previous response) to a request's whole header. */
  headersTimeoutMs: number
  /** For a whole request, header and body, to come in; the response is not counted. */
  requestTimeoutMs: number
  /** How long an HTTP/1.1 connection may idle between requests. */
  keepAliveTimeoutMs: number
  /** How long an HTTP/2 session may idle. */
  http2SessionTimeoutMs: number
  /** A socket (or HTTP/2 session) on which no byte moves either way for this long is closed. */
  socketTimeoutMs: number
  /** How often the header and request timeouts are checked: they fire up to this much late. */
  timeoutCheckIntervalMs: number
  /** A request line and header bigger than this gets 431; HTTP/2: SETTINGS_MAX_HEADER_LIST_SIZE. */
  maxHeaderSize: number
  /** Request bodies (no route takes one). */
  bodyLimit: number
  /** Connections at once; past it a new connection is closed at once. --web.max-connections. */
  maxConnections: number
  /** Streams at once on one HTTP/2 connection. */
  http2MaxConcurrentStreams: number
}

export const SERVER_LIMITS: Readonly<ServerLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 65_000,
  http2SessionTimeoutMs: 65_000,
  socketTimeoutMs: 120_000,
  timeoutCheckIntervalMs: 1_000,
  maxHeaderSize: 16 * 1024,
  bodyLimit: 1024,
  maxConnections: 1024,
  http2MaxConcurrentStreams: 100,
}

/** The properties of Node's HTTP/1.1 servers (http, https, and http2's with allowHTTP1) set here. */
interface NodeServerLimits {
  headersTimeout: number
  requestTimeout: number
  keepAliveTimeout: number
  maxHeaderSize?: number | undefined
  connectionsCheckingInterval?: number | undefined
  maxConnections: number
  on(event: 'drop', listener: () => void): unknown
  updateSettings?: (settings: Record<string, number>) => void
}

/** Milliseconds between two log lines about connections closed past maxConnections. */
const DROP_LOG_INTERVAL_MS = 60_000

function applyLimits(server: NodeServerLimits, limits: ServerLimits, logger: Logger): void {
  server.headersTimeout = limits.headersTimeoutMs
  server.requestTimeout = limits.requestTimeoutMs
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  // Read by Node for every new connection, and when the server starts listening.
  server.maxHeaderSize = limits.maxHeaderSize
  server.connectionsCheckingInterval = limits.timeoutCheckIntervalMs
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections
  // HTTP/2 only (http2.Http2SecureServer); sent to every new session.
  server.updateSettings?.({
    maxConcurrentStreams: limits.http2MaxConcurrentStreams,
    maxHeaderListSize: limits.maxHeaderSize,
  })
  let dropped = 0
  let lastLog = -Infinity
  server.on('drop', () => {
    dropped++
    const now = performance.now()
    if (now - lastLog < DROP_LOG_INTERVAL_MS) return
    lastLog = now
    logger.warn(
      { max_connections: limits.maxConnections, dropped },
      'closed new connections: --web.max-connections reached',
    )
    dropped = 0
  })
}

/** A page of the caller's: GET only, never cached, its query given parsed. */
export interface AppRoute {
  path: string
  /** The landing page's link to it; none when undefined. */
  linkText?: string
  handle(query: URLSearchParams): Promise<{ status: number; type: string; body: string }>
}

function createFastify(
  logger: Logger,
  web: WebConfigSource | undefined,
  limits: ServerLimits = SERVER_LIMITS,
) {
  const base = {
    // Fastify's own copies of the server's timeouts; applyLimits() sets them all on
    // whichever server is made, HTTP/2's too.
    connectionTimeout: limits.socketTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http2SessionTimeout: limits.http2SessionTimeoutMs,
    bodyLimit: limits.bodyLimit,
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
    // Never Node's own refusal: it would refuse chains Go accepts (a client CA with
    // anyExtendedKeyUsage). The handshake completes and web.ts refuses, as Go would,
    // before a byte of the request is read (clientCertificateRefusal).
    rejectUnauthorized: false,
    // A connection that never finishes its handshake holds its slot no longer than one that
    // never finishes its headers (Node's default: 120 s).
    handshakeTimeout: limits.headersTimeoutMs,
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
  const limits = { ...SERVER_LIMITS, ...options.limits }
  const app = createFastify(options.logger, options.web, limits)
  applyLimits(app.server, limits, options.logger)
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
