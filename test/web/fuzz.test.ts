/**
 * Fuzzing the HTTP surface, in-process, over real sockets on loopback: raw HTTP/1.1
 * requests (methods, paths with .. and encodings, huge and malformed headers, duplicate
 * Host, bad Authorization values) against an app with basic auth, over plain TCP and over
 * TLS; and raw HTTP/2 frames after the preface against the TLS + HTTP/2 app. Every
 * connection must end with a response or a clean close, never a 500; the server must
 * answer /-/healthy after every batch; no unhandled rejection or uncaught exception; and
 * the heap, after a forced GC, must not grow from batch to batch.
 *
 * Seeded: FUZZ_SEED=<n> replays a run; a failure prints the seed and the shrunk input.
 * FUZZ_RUNS=<n> sets the runs per batch.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as http2Connect } from 'node:http2'
import { connect as netConnect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { hashSync } from 'bcryptjs'
import fc from 'fast-check'
import { type App, SERVER_LIMITS } from '../../src/web/app.ts'
import { WebConfigSource } from '../../src/web/web.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { listenOnLoopback, silentLogger, testApp } from '../helpers/web-app.ts'

const SEED = process.env.FUZZ_SEED === undefined ? Date.now() >>> 0 : Number(process.env.FUZZ_SEED)
const RUNS = Number(process.env.FUZZ_RUNS ?? 60)
/** A connection that neither answers nor closes in this long is a failure. */
const CONNECTION_DEADLINE_MS = 5000
const MAX_HEADER = SERVER_LIMITS.maxHeaderSize
const GOOD_AUTH = `Basic ${Buffer.from('alice:pw').toString('base64')}`

// ---------------------------------------------------------------------------------------
// Process-wide watch: the app runs in this process.

const faults: string[] = []
const onRejection = (reason: unknown) => faults.push(`unhandledRejection: ${String(reason)}`)
const onException = (err: Error) => faults.push(`uncaughtException: ${err.stack ?? String(err)}`)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

// ---------------------------------------------------------------------------------------
// Servers.

let root: string
let certs: TestCerts
const silent = silentLogger()

async function serve(lines: string[]): Promise<{ app: App; port: number }> {
  const file = join(root, `web-${Math.random().toString(36).slice(2)}.yml`)
  writeFileSync(file, lines.join('\n'))
  const web = await WebConfigSource.open(file, silent, 'sshd-exporter')
  const app = testApp({
    logger: silent,
    web,
    // Short, so that a request the fuzzer leaves unfinished ends in time.
    limits: {
      headersTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      timeoutCheckIntervalMs: 100,
      keepAliveTimeoutMs: 200,
      http2SessionTimeoutMs: 1000,
    },
  })
  return { app, port: await listenOnLoopback(app) }
}

let plain: { app: App; port: number }
let secure: { app: App; port: number }

before(async () => {
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  root = mkdtempSync(join(tmpdir(), 'sshd-exporter-fuzz-'))
  certs = makeCerts(root)
  const users = ['basic_auth_users:', `  alice: ${hashSync('pw', 4)}`]
  plain = await serve(users)
  secure = await serve([
    'tls_server_config:',
    `  cert_file: ${certs.server.certFile}`,
    `  key_file: ${certs.server.keyFile}`,
    'http_server_config:',
    '  http2: true',
    ...users,
  ])
})

after(async () => {
  await Promise.all([plain?.app.close(), secure?.app.close()])
  rmSync(root, { recursive: true, force: true })
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
})

// ---------------------------------------------------------------------------------------
// Raw connections.

interface Outcome {
  /** Everything the server sent. */
  received: Buffer
  /**
   * 'closed': the server closed (or reset) the connection; 'answered': it sent something
   * and then nothing for QUIET_MS (a keep-alive connection, closed by the client); 'hung':
   * neither within the deadline.
   */
  end: 'closed' | 'answered' | 'hung'
}

const QUIET_MS = 50

/**
 * Sends data and waits for the end. The request is not half-closed: Node's HTTP servers
 * abort a request whose client half-closes before the answer (as Go's do), which would
 * hide the answer.
 */
function exchange(socket: Socket, data: Buffer, opened: 'connect' | 'secureConnect') {
  return new Promise<Outcome>((resolve) => {
    const chunks: Buffer[] = []
    let done = false
    let quiet: NodeJS.Timeout | undefined
    const finish = (end: Outcome['end']) => {
      if (done) return
      done = true
      clearTimeout(deadline)
      clearTimeout(quiet)
      socket.destroy()
      resolve({ received: Buffer.concat(chunks), end })
    }
    const deadline = setTimeout(() => finish('hung'), CONNECTION_DEADLINE_MS)
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      clearTimeout(quiet)
      quiet = setTimeout(() => finish('answered'), QUIET_MS)
    })
    socket.on('error', () => finish('closed'))
    socket.on('close', () => finish('closed'))
    socket.once(opened, () => socket.write(data))
  })
}

function sendPlain(data: Buffer): Promise<Outcome> {
  return exchange(netConnect(plain.port, '127.0.0.1'), data, 'connect')
}

function sendTls(data: Buffer, alpn: 'http/1.1' | 'h2'): Promise<Outcome> {
  const socket: TLSSocket = tlsConnect({
    host: '127.0.0.1',
    port: secure.port,
    ca: certs.ca.cert,
    servername: 'localhost',
    ALPNProtocols: [alpn],
  })
  return exchange(socket, data, 'secureConnect')
}

/** The status of the first response, or undefined when there was none. */
function status(received: Buffer): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(received.toString('latin1'))
  return m === null ? undefined : Number(m[1])
}

/** A response, or a close without one; never a hang, never a server error. */
function assertCleanHttp1(o: Outcome): void {
  assert.notEqual(o.end, 'hung', 'the connection neither answered nor closed')
  const s = status(o.received)
  if (o.received.length > 0) assert.notEqual(s, undefined, 'not an HTTP response')
  assert.ok(s === undefined || s < 500, `server error ${s}`)
}

async function healthy(): Promise<void> {
  const o = await sendPlain(
    Buffer.from(`GET /-/healthy HTTP/1.1\r\nHost: x\r\nAuthorization: ${GOOD_AUTH}\r\n\r\n`),
  )
  assert.equal(status(o.received), 200, o.received.toString('latin1'))
  const t = await sendTls(
    Buffer.from(
      `GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ${GOOD_AUTH}\r\n\r\n`,
    ),
    'http/1.1',
  )
  assert.equal(status(t.received), 200, t.received.toString('latin1'))
  await healthyOverHttp2()
}

function healthyOverHttp2(): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${secure.port}`, {
      ca: certs.ca.cert,
      servername: 'localhost',
    })
    session.on('error', reject)
    const req = session.request({ ':path': '/-/healthy', authorization: GOOD_AUTH })
    req.on('response', (headers) => {
      const code = headers[':status']
      req.resume()
      req.on('end', () => {
        session.close()
        if (code === 200) resolve()
        else reject(new Error(`HTTP/2 /-/healthy: ${code}`))
      })
    })
    req.on('error', reject)
    req.setTimeout(CONNECTION_DEADLINE_MS, () => reject(new Error('HTTP/2 /-/healthy: no answer')))
    req.end()
  })
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 requests.

const latin1 = (bytes: number[]) => Buffer.from(bytes).toString('latin1')

const method = fc.oneof(
  fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PRI'),
  fc.constantFrom('get', 'GET ', 'G\tET', 'GE(T', 'M-SEARCH', 'PROPFIND', '', ' '),
  fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,12}$/),
  fc.uint8Array({ maxLength: 8 }).map((b) => latin1([...b])),
)

const segment = fc.oneof(
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2E%2E',
    '.%2e',
    '%00',
    '%',
    '%zz',
    '%c0%ae',
    '%ff',
    '%2f',
    '%5c..%5c',
    '\\..\\',
    'metrics',
    '-',
    'healthy',
    'sessions',
    'api',
    '',
    ';',
    '?',
    '#',
    '*',
  ),
  fc.string({ maxLength: 12, unit: 'grapheme' }).map((s) => encodeURI(s)),
  fc.string({ maxLength: 6, unit: 'grapheme' }),
  fc.constantFrom('a'.repeat(300), 'x'.repeat(8000), '%2e'.repeat(2000)),
)

const path = fc.oneof(
  fc.array(segment, { maxLength: 8 }).map((s) => `/${s.join('/')}`),
  fc.array(segment, { maxLength: 4 }).map((s) => `//${s.join('//')}`),
  fc
    .tuple(fc.array(segment, { maxLength: 4 }), fc.string({ maxLength: 20 }))
    .map(([s, q]) => `/${s.join('/')}?${q}`),
  fc.constantFrom('*', 'http://127.0.0.1/metrics', 'metrics', '', '/metrics', '/-/healthy'),
  fc.uint8Array({ maxLength: 30 }).map((b) => `/${latin1([...b])}`),
)

const version = fc.oneof(
  { weight: 6, arbitrary: fc.constant('HTTP/1.1') },
  fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/9.9', 'http/1.1', 'HTTP/1.1x', ''),
)

/** Authorization values: broken Basic of every sort, and sometimes the right one. */
const authorization = fc.oneof(
  fc.constantFrom(
    GOOD_AUTH,
    'Basic',
    'Basic ',
    'Basic !!!!',
    'Basic ====',
    'Basic YWxpY2U=', // "alice": no colon
    `Basic ${Buffer.from(':').toString('base64')}`,
    `Basic ${Buffer.from('alice:').toString('base64')}`,
    `Basic ${Buffer.from(':pw').toString('base64')}`,
    `basic ${Buffer.from('alice:pw').toString('base64')}`,
    `Basic  ${Buffer.from('alice:pw').toString('base64')}`,
    'Bearer abc',
    'Digest username="alice"',
    `Basic ${'A'.repeat(10 * 1024)}`,
    `Basic ${Buffer.from(`alice:${'p'.repeat(8 * 1024)}`).toString('base64')}`,
  ),
  fc.string({ maxLength: 40 }).map((s) => `Basic ${s}`),
  fc.uint8Array({ maxLength: 40 }).map((b) => `Basic ${Buffer.from(b).toString('base64')}`),
  // Not UTF-8: raw bytes in the header, and inside the base64.
  fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => `Basic ${latin1([...b])}`),
  fc
    .uint8Array({ minLength: 1, maxLength: 20 })
    .map(
      (b) =>
        `Basic ${Buffer.concat([Buffer.from('alice:'), Buffer.from(b.map((x) => x | 0x80))]).toString('base64')}`,
    ),
)

const headerLine = fc.oneof(
  fc.constant('Host: 127.0.0.1'),
  fc.constant('Host: other'),
  fc.constant('Host:'),
  authorization.map((a) => `Authorization: ${a}`),
  fc.constantFrom(
    'Connection: close',
    'Connection: keep-alive',
    'Content-Length: 5',
    'Content-Length: -1',
    'Content-Length: 99999999999999999999',
    'Content-Length: 1, 2',
    'Transfer-Encoding: chunked',
    'Transfer-Encoding: gzip, chunked',
    'Transfer-Encoding: identity',
    'Expect: 100-continue',
    'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAARAAAAA',
    'Content-Type: application/json',
    'Accept-Encoding: gzip',
    'X-Forwarded-For: 1.2.3.4',
    'no colon here',
    ' leading: space',
    'Trailing : space',
    ': empty name',
    '\tobs-fold continuation',
    'Bad\u0000Name: x',
    'X: bad\u0000value',
    'X: a\rb',
  ),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.string({ maxLength: 40 }))
    .map(([n, v]) => `${n}: ${v}`),
  fc.uint8Array({ maxLength: 40 }).map((b) => latin1([...b])),
  fc.integer({ min: 1, max: 3 * MAX_HEADER }).map((n) => `X-Big: ${'b'.repeat(n)}`),
)

const body = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  fc.constantFrom('hello', '0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', 'x'.repeat(5000)),
  fc.uint8Array({ maxLength: 200 }).map((b) => latin1([...b])),
)

const eol = fc.oneof({ weight: 8, arbitrary: fc.constant('\r\n') }, fc.constantFrom('\n', '\r'))

const http1Request = fc
  .record({ method, path, version, headers: fc.array(headerLine, { maxLength: 8 }), body, eol })
  .map(
    ({ method, path, version, headers, body, eol }) =>
      `${method} ${path} ${version}${eol}${headers.join(eol)}${headers.length > 0 ? eol : ''}${eol}${body}`,
  )

/**
 * A request that is well-formed up to a header over the limit: always 431. Node counts the
 * bytes of the request line's parts and of header names and values, not of the separators.
 */
const oversized = fc.record({
  path: fc.constantFrom('/metrics', '/', '/-/healthy', '/nope'),
  size: fc.integer({ min: MAX_HEADER + 1, max: 4 * MAX_HEADER }),
  many: fc.boolean(),
  auth: fc.boolean(),
})

function oversizedRequest(r: { path: string; size: number; many: boolean; auth: boolean }) {
  const big = r.many
    ? Array.from({ length: Math.ceil(r.size / 90) }, (_, i) => `X-${i}: ${'v'.repeat(90)}`)
    : [`X-Big: ${'b'.repeat(r.size)}`]
  const lines = ['Host: 127.0.0.1', ...(r.auth ? [`Authorization: ${GOOD_AUTH}`] : []), ...big]
  return Buffer.from(`GET ${r.path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1')
}

// ---------------------------------------------------------------------------------------
// HTTP/2 frames.

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

function frame(type: number, flags: number, stream: number, payload: Buffer, length?: number) {
  const header = Buffer.alloc(9)
  header.writeUIntBE(length ?? payload.length, 0, 3)
  header.writeUInt8(type, 3)
  header.writeUInt8(flags, 4)
  header.writeUInt32BE(stream & 0x7fffffff, 5)
  return Buffer.concat([header, payload])
}

/** HPACK: GET https://localhost/-/healthy with the right basic auth, literal without indexing. */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name)
  const v = Buffer.from(value)
  return Buffer.concat([Buffer.from([0x00]), hpackLength(n.length), n, hpackLength(v.length), v])
}

/** HPACK's string length: a 7-bit prefix, then 7 bits a byte (RFC 7541, 5.1), no Huffman. */
function hpackLength(n: number): Buffer {
  if (n < 0x7f) return Buffer.from([n])
  const bytes = [0x7f]
  for (n -= 0x7f; n >= 0x80; n >>= 7) bytes.push((n & 0x7f) | 0x80)
  bytes.push(n)
  return Buffer.from(bytes)
}

/** One request whose header list is over the limit, in HEADERS and CONTINUATION frames. */
function oversizedHeaderFrames(stream: number): Buffer {
  const block = Buffer.concat([VALID_HEADER_BLOCK, literal('x-big', 'b'.repeat(3 * MAX_HEADER))])
  const chunks: Buffer[] = []
  for (let at = 0; at < block.length; at += 8192) chunks.push(block.subarray(at, at + 8192))
  return Buffer.concat(
    chunks.map((c, i) =>
      i === 0
        ? frame(0x1, 0x1 | (chunks.length === 1 ? 0x4 : 0), stream, c)
        : frame(0x9, i === chunks.length - 1 ? 0x4 : 0, stream, c),
    ),
  )
}
const VALID_HEADER_BLOCK = Buffer.concat([
  Buffer.from([0x82, 0x87]), // :method GET, :scheme https
  literal(':path', '/-/healthy'),
  literal(':authority', 'localhost'),
  literal('authorization', GOOD_AUTH),
])

const h2Frame = fc.oneof(
  // Anything: any type (mostly the defined ones), flags, stream, length that may lie.
  fc
    .record({
      type: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 9 }) }, fc.nat(255)),
      flags: fc.nat(255),
      stream: fc.oneof(fc.constantFrom(0, 1, 3, 5, 2, 0x7fffffff), fc.nat()),
      payload: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      lie: fc.option(fc.nat(0xffffff), { freq: 4 }),
    })
    .map(({ type, flags, stream, payload, lie }) =>
      frame(type, flags, stream, payload, lie ?? undefined),
    ),
  // A valid request, to be mixed with the rest.
  fc.constantFrom(1, 3, 5).map((s) => frame(0x1, 0x5, s, VALID_HEADER_BLOCK)),
  // HEADERS with random HPACK, END_HEADERS and END_STREAM set or not.
  fc
    .record({ s: fc.constantFrom(1, 3, 5), f: fc.nat(255), b: fc.uint8Array({ maxLength: 64 }) })
    .map(({ s, f, b }) => frame(0x1, f, s, Buffer.from(b))),
  // A header list over the limit.
  fc.constantFrom(1, 7).map(oversizedHeaderFrames),
  fc.constant(frame(0x4, 0x0, 0, Buffer.from([0, 3, 0, 0, 0, 0]))), // SETTINGS MAX_CONCURRENT_STREAMS 0
  fc.constant(frame(0x4, 0x1, 0, Buffer.alloc(0))), // SETTINGS ACK
  fc.constant(frame(0x6, 0x0, 0, Buffer.alloc(8))), // PING
  fc.constant(frame(0x8, 0x0, 1, Buffer.from([0x7f, 0xff, 0xff, 0xff]))), // WINDOW_UPDATE max
  fc.constant(frame(0x3, 0x0, 1, Buffer.from([0, 0, 0, 8]))), // RST_STREAM CANCEL
  fc.constant(frame(0x9, 0x4, 1, Buffer.alloc(16))), // CONTINUATION
  fc.constant(frame(0x7, 0x0, 0, Buffer.alloc(8))), // GOAWAY
)

const h2Connection = fc
  .record({
    preface: fc.oneof(
      { weight: 8, arbitrary: fc.constant(PREFACE) },
      fc.constant(PREFACE.subarray(0, 10)),
      fc.constant(Buffer.from('GET / HTTP/1.1\r\n\r\n')),
    ),
    settings: fc.boolean(),
    frames: fc.array(h2Frame, { maxLength: 12 }),
  })
  .map(({ preface, settings, frames }) =>
    Buffer.concat([preface, ...(settings ? [frame(0x4, 0, 0, Buffer.alloc(0))] : []), ...frames]),
  )

/** Many HEADERS frames, one per stream, more than the server allows at once. */
function streamFlood(count: number): Buffer {
  const frames = [PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]
  for (let i = 0; i < count; i++) frames.push(frame(0x1, 0x5, 2 * i + 1, VALID_HEADER_BLOCK))
  return Buffer.concat(frames)
}

// ---------------------------------------------------------------------------------------

/** Connections sent at once, each run: unfinished requests wait for the header timeout. */
const group = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: 8 })

const params = (runs: number, batch: number) => ({
  seed: SEED + batch,
  numRuns: runs,
  endOnFailure: true,
})

async function batch(n: number, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(group(http1Request), async (reqs) => {
      const outcomes = await Promise.all(reqs.map((r) => sendPlain(Buffer.from(r, 'latin1'))))
      for (const o of outcomes) assertCleanHttp1(o)
    }),
    params(runs, n),
  )
  await fc.assert(
    fc.asyncProperty(oversized, async (r) => {
      const o = await sendPlain(oversizedRequest(r))
      assert.equal(status(o.received), 431, o.received.toString('latin1').slice(0, 200))
    }),
    params(Math.ceil(runs / 10), n),
  )
  await fc.assert(
    fc.asyncProperty(group(http1Request), async (reqs) => {
      const outcomes = await Promise.all(
        reqs.map((r) => sendTls(Buffer.from(r, 'latin1'), 'http/1.1')),
      )
      for (const o of outcomes) assertCleanHttp1(o)
    }),
    params(Math.ceil(runs / 4), n),
  )
  await fc.assert(
    fc.asyncProperty(group(h2Connection), async (connections) => {
      for (const o of await Promise.all(connections.map((c) => sendTls(c, 'h2')))) {
        assert.notEqual(o.end, 'hung', 'the HTTP/2 connection neither answered nor closed')
      }
    }),
    params(Math.ceil(runs / 2), n),
  )
  await healthy()
  assert.deepEqual(faults, [])
}

describe(`fuzzing the HTTP surface (seed ${SEED}, ${RUNS} runs a batch)`, () => {
  it('every connection ends cleanly; health after each batch; no unhandled errors; a flat heap', async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED}`)
    // Warm-up: code paths compiled, caches and pools filled.
    await batch(0, RUNS)
    const before = heapUsed()
    const batches = 4
    for (let n = 1; n <= batches; n++) await batch(n, RUNS)
    const grown = heapUsed() - before
    t.diagnostic(`heap growth over ${batches} batches: ${(grown / 1024).toFixed(0)} KiB`)
    assert.ok(grown < 5 * 1024 * 1024, `heap grew ${grown} bytes over ${batches} batches`)
  })

  it('HTTP/2: a stream flood past the concurrent streams limit is refused, and the server goes on', async () => {
    const o = await sendTls(streamFlood(SERVER_LIMITS.http2MaxConcurrentStreams * 3), 'h2')
    assert.notEqual(o.end, 'hung')
    // The server's SETTINGS frame comes first: MAX_CONCURRENT_STREAMS (0x3) is the limit.
    const settings = o.received
    assert.equal(settings.readUInt8(3), 0x4, 'a SETTINGS frame first')
    const length = settings.readUIntBE(0, 3)
    const advertised = new Map<number, number>()
    for (let at = 9; at < 9 + length; at += 6) {
      advertised.set(settings.readUInt16BE(at), settings.readUInt32BE(at + 2))
    }
    assert.equal(advertised.get(0x3), SERVER_LIMITS.http2MaxConcurrentStreams)
    assert.equal(advertised.get(0x6), SERVER_LIMITS.maxHeaderSize)
    // Then: RST_STREAM (REFUSED_STREAM) or GOAWAY for the streams past the limit.
    const types = new Map<number, number>()
    for (let at = 0; at + 9 <= o.received.length; at += 9 + o.received.readUIntBE(at, 3)) {
      const type = o.received.readUInt8(at + 3)
      types.set(type, (types.get(type) ?? 0) + 1)
    }
    assert.ok(
      (types.get(0x1) ?? 0) <= SERVER_LIMITS.http2MaxConcurrentStreams,
      'at most the limit answered',
    )
    assert.ok((types.get(0x3) ?? 0) + (types.get(0x7) ?? 0) > 0, 'the rest refused')
    await healthy()
    assert.deepEqual(faults, [])
  })
})
