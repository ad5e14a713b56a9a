/**
 * The web config in force, and the rules it puts on every request (landing page, health,
 * telemetry path and 404 alike): 500 while the file is bad, 429 past the rate limit, the
 * headers, basic auth. Read once by open(), whose error the caller stops on; then, as
 * exporter-toolkit does, read again on every request, every new connection and refresh(),
 * parsed again only when a byte changed. TLS on or off, client_auth_type and http2 are
 * fixed at start: a file that changes them, or stops being valid, fails every request
 * closed until it is fixed. What applies when: docs/web-config.md.
 */
import { resolve } from 'node:path'
import type { TLSSocket, Server as TlsServer } from 'node:tls'
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from '../logger.ts'
import { BasicAuth, VerifiedCache } from './basic-auth.ts'
import { TokenBucket } from './rate-limit.ts'
import {
  parseWebConfig,
  type WebConfig,
  WebConfigError,
  webConfigProblem as problem,
} from './web-config.ts'
import {
  clientCertificateRefusal,
  readCapped,
  readTlsMaterial,
  type ServerTls,
  serverTls,
  type TlsMaterial,
} from './web-tls.ts'

const CONFIG_MAX_BYTES = 1 << 20
const TEXT = 'text/plain; charset=utf-8'

/** What guard() needs of a Fastify reply. */
export interface ReplyLike<R> {
  code(statusCode: number): R
  type(contentType: string): R
  header(name: string, value: string): R
  send(payload: string): R
}

export interface WebState {
  config: WebConfig
  tls: ServerTls | undefined
  auth: BasicAuth | undefined
  limiter: TokenBucket | undefined
}

/** What one read of the file and the files it names gave. */
interface Inputs {
  text: string
  material: TlsMaterial | undefined
}

function sameInputs(a: Inputs | undefined, b: Inputs): boolean {
  return (
    a !== undefined &&
    a.text === b.text &&
    a.material?.cert === b.material?.cert &&
    a.material?.key === b.material?.key &&
    a.material?.clientCa === b.material?.clientCa
  )
}

async function readConfigText(file: string): Promise<string> {
  try {
    return await readCapped(file, CONFIG_MAX_BYTES)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    throw problem(
      file,
      undefined,
      `cannot read it (${code})`,
      "check the path given to --web.config.file and that the exporter's user can read it",
      err,
    )
  }
}

/** Reads and checks everything; throws WebConfigError. */
async function readAll(
  file: string,
  previous: { text: string; config: WebConfig } | undefined,
): Promise<{ inputs: Inputs; config: WebConfig }> {
  const text = await readConfigText(file)
  const config = text === previous?.text ? previous.config : parseWebConfig(text, file)
  const material = config.tls === undefined ? undefined : await readTlsMaterial(config.tls, file)
  return { inputs: { text, material }, config }
}

function buildState(
  file: string,
  config: WebConfig,
  inputs: Inputs,
  cache: VerifiedCache,
  previous: WebState | undefined,
): WebState {
  const tls =
    config.tls === undefined || inputs.material === undefined
      ? undefined
      : serverTls(config.tls, inputs.material, file)
  const auth = config.users.size === 0 ? undefined : new BasicAuth(config.users, cache)
  const rl = config.rateLimit
  const kept = previous?.limiter
  const limiter =
    rl === undefined
      ? undefined
      : kept !== undefined && kept.intervalSeconds === rl.intervalSeconds && kept.burst === rl.burst
        ? kept
        : new TokenBucket(rl.intervalSeconds, rl.burst)
  return { config, tls, auth, limiter }
}

/** A change the running server cannot take; undefined when there is none. */
function needsRestart(
  file: string,
  program: string,
  initial: WebState,
  next: WebState,
): WebConfigError | undefined {
  const restart = `restart ${program} to apply it, or undo the change`
  if ((initial.tls === undefined) !== (next.tls === undefined)) {
    const how = next.tls === undefined ? 'off' : 'on'
    return problem(file, 'tls_server_config', `TLS was turned ${how} after start-up`, restart)
  }
  if (initial.tls !== undefined && next.tls !== undefined) {
    if (initial.tls.clientAuthType !== next.tls.clientAuthType) {
      return problem(
        file,
        'tls_server_config.client_auth_type',
        `changed from ${initial.tls.clientAuthType} to ${next.tls.clientAuthType} after start-up`,
        restart,
      )
    }
    if (initial.config.http2 !== next.config.http2) {
      return problem(file, 'http_server_config.http2', 'changed after start-up', restart)
    }
  }
  return undefined
}

/** The fields a log line about the web config carries. */
function summary(file: string, state: WebState): Record<string, unknown> {
  const { config, tls } = state
  return {
    web_config_file: file,
    tls: tls !== undefined,
    ...(tls === undefined || config.tls === undefined
      ? {}
      : {
          http2: config.http2,
          client_auth_type: tls.clientAuthType,
          min_version: config.tls.minVersion,
          max_version: config.tls.maxVersion,
          certificate: tls.subject,
          certificate_expires: tls.validTo.toISOString(),
        }),
    basic_auth_users: config.users.size,
    headers: config.headers.map(([name]) => name),
    ...(config.rateLimit === undefined
      ? {}
      : {
          rate_limit_interval_seconds: config.rateLimit.intervalSeconds,
          rate_limit_burst: config.rateLimit.burst,
        }),
  }
}

function warn(logger: Logger, file: string, state: WebState): void {
  const { config, tls } = state
  const base = { web_config_file: file }
  if (
    config.tls !== undefined &&
    (config.tls.minVersion === 'TLS10' || config.tls.minVersion === 'TLS11')
  ) {
    logger.warn(
      { ...base, key: 'tls_server_config.min_version' },
      `min_version ${config.tls.minVersion}: Node's OpenSSL refuses TLS 1.0 and 1.1 at its default security level, so the effective minimum is TLS12`,
    )
  }
  if (tls !== undefined && tls.validTo.getTime() < Date.now()) {
    logger.warn(
      {
        ...base,
        key: 'tls_server_config.cert_file',
        certificate_expires: tls.validTo.toISOString(),
      },
      'the server certificate has expired: clients that verify it will refuse to connect',
    )
  }
  if (tls === undefined && config.users.size > 0) {
    logger.warn(
      { ...base, key: 'basic_auth_users' },
      'basic auth without TLS: passwords cross the network in clear text; set tls_server_config',
    )
  }
  if (config.rateLimit !== undefined && config.rateLimit.burst === 0) {
    logger.warn(
      { ...base, key: 'rate_limit.burst' },
      'rate_limit.burst is 0: every request is answered 429, as in exporter-toolkit',
    )
  }
}

export class WebConfigSource {
  /** Absolute path of the file. */
  readonly file: string
  /** What the server was built with. */
  readonly initial: WebState
  readonly #cache: VerifiedCache
  readonly #logger: Logger
  readonly #program: string
  /** The last good state, and what it was read from. */
  #state: WebState
  #good: { text: string; config: WebConfig }
  /** Inputs of the last attempt, good or bad; undefined after a read error. */
  #seen: Inputs | undefined
  #error: WebConfigError | undefined
  #running: Promise<void> | undefined
  #queued: Promise<void> | undefined
  #server: TlsServer | undefined

  private constructor(
    file: string,
    config: WebConfig,
    inputs: Inputs,
    state: WebState,
    cache: VerifiedCache,
    logger: Logger,
    program: string,
  ) {
    this.file = file
    this.initial = state
    this.#state = state
    this.#good = { text: inputs.text, config }
    this.#seen = inputs
    this.#cache = cache
    this.#logger = logger
    this.#program = program
  }

  /**
   * Reads the file at start-up; throws WebConfigError when it cannot be used. `program`
   * is the exporter's name, for the log line that asks to restart it.
   */
  static async open(file: string, logger: Logger, program: string): Promise<WebConfigSource> {
    const path = resolve(file)
    const cache = new VerifiedCache()
    const { inputs, config } = await readAll(path, undefined)
    const state = buildState(path, config, inputs, cache, undefined)
    logger.info(summary(path, state), 'read web config file')
    warn(logger, path, state)
    return new WebConfigSource(path, config, inputs, state, cache, logger, program)
  }

  /** The state to serve a request with (after re-reading), or the error that fails it closed. */
  async current(): Promise<WebState | WebConfigError> {
    await this.refresh()
    return this.#error ?? this.#state
  }

  /**
   * Re-reads the files; a change is applied and logged, a bad file logged once. Never
   * throws. Resolves after a read that started after the call: callers that come while a
   * read runs share the one read queued behind it.
   */
  refresh(): Promise<void> {
    if (this.#running === undefined) return this.#start()
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined
      return this.#start()
    })
    return this.#queued
  }

  #start(): Promise<void> {
    const running: Promise<void> = this.#refresh().finally(() => {
      if (this.#running === running) this.#running = undefined
    })
    this.#running = running
    return running
  }

  async #refresh(): Promise<void> {
    try {
      let read: { inputs: Inputs; config: WebConfig }
      try {
        read = await readAll(this.file, this.#good)
      } catch (err) {
        this.#seen = undefined
        throw err
      }
      if (sameInputs(this.#seen, read.inputs)) return
      this.#seen = read.inputs
      const next = buildState(this.file, read.config, read.inputs, this.#cache, this.#state)
      const restart = needsRestart(this.file, this.#program, this.initial, next)
      if (restart !== undefined) throw restart
      if (next.tls !== undefined) this.#server?.setSecureContext(next.tls.context)
      this.#state = next
      this.#good = { text: read.inputs.text, config: read.config }
      const fixed = this.#error !== undefined
      this.#error = undefined
      this.#logger.info(
        summary(this.file, next),
        fixed ? 'web config file is valid again; serving' : 'web config file changed; applied',
      )
      warn(this.#logger, this.file, next)
    } catch (err) {
      const error =
        err instanceof WebConfigError
          ? err
          : problem(this.file, undefined, `cannot apply it (${String(err)})`, 'check the file', err)
      if (this.#error?.message !== error.message) {
        this.#logger.error(
          { web_config_file: this.file, key: error.key },
          `${error.message} (every request is answered 500 until it is fixed)`,
        )
      }
      this.#error = error
    }
  }

  /**
   * Watches the connections of a server built with this source's initial TLS settings:
   * refuses the clients client_auth_type and client_allowed_sans refuse, and swaps the
   * server's certificate and TLS settings when they change.
   */
  attach(server: unknown): void {
    if (this.initial.tls === undefined) return
    const tlsServer = server as TlsServer
    this.#server = tlsServer
    // A connection re-reads the files (for the connections after it), so that a renewed
    // certificate is picked up even when no request gets through the old one.
    tlsServer.on('connection', () => void this.refresh())
    // Before the HTTP server's own listener, so that a refused socket is destroyed before
    // any parser is attached to it; the server is created with rejectUnauthorized off, so
    // this is where RequireAndVerifyClientCert is enforced too.
    tlsServer.prependListener('secureConnection', (socket: TLSSocket) => {
      const tls = this.#state.tls
      const why = tls === undefined ? undefined : clientCertificateRefusal(socket, tls)
      if (why === undefined) return
      this.#logger.debug({ remote: socket.remoteAddress, reason: why }, 'refused a TLS client')
      socket.destroy()
    })
    // Node closes the socket itself, after OpenSSL's alert has gone out.
    tlsServer.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.#logger.debug({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed')
    })
  }

  /**
   * The onRequest hook: 500 while the file is bad, 429 past the rate limit, the configured
   * headers, then basic auth (401 with `WWW-Authenticate: Basic`; 429 with `Retry-After: 1`
   * when its comparison would wait past the bcrypt queue's bound). Resolves with the reply
   * when it answered, undefined to let the route answer.
   */
  async guard<R extends ReplyLike<R>>(
    request: { headers: IncomingHttpHeaders },
    reply: R,
  ): Promise<R | undefined> {
    const state = await this.current()
    if (state instanceof WebConfigError) {
      return reply.code(500).type(TEXT).send('Internal Server Error\n')
    }
    if (state.limiter !== undefined && !state.limiter.take()) {
      return reply.code(429).type(TEXT).send('Too Many Requests\n')
    }
    for (const [name, value] of state.config.headers) reply.header(name, value)
    if (state.auth === undefined) return undefined
    const verdict = await state.auth.check(request.headers.authorization)
    if (verdict === 'busy') {
      // The bcrypt queue is full (bcrypt-pool.ts): nothing was queued; a cached login never
      // gets here.
      return reply.code(429).header('Retry-After', '1').type(TEXT).send('Too Many Requests\n')
    }
    if (verdict !== 'ok') {
      return reply.code(401).header('WWW-Authenticate', 'Basic').type(TEXT).send('Unauthorized\n')
    }
    return undefined
  }
}
