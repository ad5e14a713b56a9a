/**
 * Slow and greedy clients against the app listening on loopback: hundreds of idle
 * connections and slowloris connections do not keep a scrape from being answered, the
 * header timeout closes the slow ones, and past the connection limit a new connection is
 * closed. The timeouts are made short through buildApp's `limits` so the file stays fast;
 * the production values are SERVER_LIMITS, checked at the end.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { createExporter } from '../../src/exporter.ts'
import { SERVER_LIMITS, type ServerLimits } from '../../src/web/app.ts'
import { exporterFlags } from '../helpers/flags.ts'
import { jsonLinesLogger, listenOnLoopback, silentLogger, testApp } from '../helpers/web-app.ts'

const IDLE = 500
const SLOW = 20

/** The soft limit of open files of this process (/proc/self/limits); Infinity when unknown. */
function openFilesLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.split(/\s{2,}/)[1]
    return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft)
  } catch {
    return Infinity
  }
}

async function serve(t: TestContext, limits: Partial<ServerLimits>) {
  const { logger, logs } = jsonLinesLogger('warn')
  const app = testApp({ scrape: () => Promise.resolve('up 1\n'), logger, limits })
  const port = await listenOnLoopback(app)
  const sockets = new Set<Socket>()
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await app.close()
  })
  /** A connection, watched: what it received and when the server closed it. */
  const open = () => {
    const socket = connect(port, '127.0.0.1')
    sockets.add(socket)
    const started = performance.now()
    let received = ''
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')))
    socket.on('error', () => {})
    const closed = new Promise<{ received: string; afterMs: number }>((resolve) =>
      socket.on('close', () => resolve({ received, afterMs: performance.now() - started })),
    )
    const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    return { socket, closed, connected, isClosed: () => socket.closed }
  }
  return { app, port, logs, open }
}

/** GET path on a new connection; resolves with the status and body. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')))
    req.end()
  })
}

describe('slow and greedy clients', () => {
  it(`serves a scrape while ${IDLE} idle and ${SLOW} slowloris connections are open, and closes the slow ones after the header timeout`, async (t) => {
    // The client's and the server's ends are both in this process: two descriptors each.
    const room = Math.floor((openFilesLimit() - 200) / 2)
    const idleCount = Math.min(IDLE, room - SLOW - 10)
    if (idleCount < IDLE) {
      t.diagnostic(`open files limit ${openFilesLimit()}: ${idleCount} idle connections`)
    }
    assert.ok(idleCount > 50, 'too few descriptors for the test: raise ulimit -n')
    const headersTimeoutMs = 2000
    const s = await serve(t, {
      headersTimeoutMs,
      requestTimeoutMs: headersTimeoutMs,
      timeoutCheckIntervalMs: 100,
    })
    const idle = Array.from({ length: idleCount }, () => s.open())
    await Promise.all(idle.map((c) => c.connected))

    // Slowloris: a request line, then one header byte every 200 ms, never the blank line.
    const slow = Array.from({ length: SLOW }, () => s.open())
    await Promise.all(slow.map((c) => c.connected))
    for (const c of slow) c.socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    const drip = setInterval(() => {
      for (const c of slow) if (!c.isClosed()) c.socket.write('X')
    }, 200)
    t.after(() => clearInterval(drip))

    const scrape = await get(s.port, '/metrics')
    assert.equal(scrape.status, 200)
    assert.equal(scrape.body, 'up 1\n')
    assert.equal((await get(s.port, '/-/healthy')).status, 200)
    assert.equal(
      idle.filter((c) => c.isClosed()).length + slow.filter((c) => c.isClosed()).length,
      0,
      'the scrape was answered while every other connection was still open',
    )

    const slowEnds = await Promise.all(slow.map((c) => c.closed))
    clearInterval(drip)
    for (const end of slowEnds) {
      assert.match(end.received, /^HTTP\/1\.1 408 /)
      // Not before the timeout; and not much after it (the check runs every 100 ms).
      assert.ok(end.afterMs >= headersTimeoutMs - 50, `closed after ${end.afterMs} ms`)
      assert.ok(end.afterMs < headersTimeoutMs + 3000, `closed after ${end.afterMs} ms`)
    }
    // Idle connections never sent a header: the same timeout closes them.
    const idleEnds = await Promise.all(idle.map((c) => c.closed))
    assert.ok(idleEnds.every((e) => e.afterMs < headersTimeoutMs + 3000))
    assert.equal(s.app.server.listening, true)
    assert.equal((await get(s.port, '/metrics')).status, 200)
  })

  it('closes a new connection past the maximum number of connections, and logs it once', async (t) => {
    const s = await serve(t, { maxConnections: 10 })
    const held = Array.from({ length: 10 }, () => s.open())
    await Promise.all(held.map((c) => c.connected))
    // The server counts a connection when it accepts it, not when the client sees it open.
    await new Promise((resolve) => setTimeout(resolve, 50))

    const extra = [s.open(), s.open()]
    for (const c of extra) {
      const end = await c.closed
      assert.equal(end.received, '', 'closed without an answer')
    }
    assert.ok(
      held.every((c) => !c.isClosed()),
      'the connections already open stay open',
    )
    const warnings = s.logs.filter((l) => l.max_connections === 10)
    assert.equal(warnings.length, 1, JSON.stringify(s.logs))
    assert.match(String(warnings[0]!.msg), /--web\.max-connections/)

    held[0]!.socket.destroy()
    await held[0]!.closed
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal((await get(s.port, '/metrics')).status, 200, 'room again after one closed')
  })

  it('closes a connection idle between requests after the keep-alive timeout', async (t) => {
    const s = await serve(t, { keepAliveTimeoutMs: 300 })
    const c = s.open()
    await c.connected
    c.socket.write('GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    const end = await c.closed
    assert.match(end.received, /^HTTP\/1\.1 200 /)
    assert.match(end.received, /Keep-Alive: timeout=\d+/i)
    assert.ok(end.afterMs >= 300, `closed after ${end.afterMs} ms`)
    assert.ok(end.afterMs < 3000, `closed after ${end.afterMs} ms`)
  })

  it('refuses a request header over the limit with 431', async (t) => {
    const s = await serve(t, {})
    const c = s.open()
    await c.connected
    const big = 'a'.repeat(SERVER_LIMITS.maxHeaderSize)
    c.socket.write(`GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`)
    assert.match((await c.closed).received, /^HTTP\/1\.1 431 /)
    // Just under the limit is served.
    const fits = 'a'.repeat(SERVER_LIMITS.maxHeaderSize - 200)
    const d = s.open()
    await d.connected
    d.socket.write(
      `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: ${fits}\r\n\r\n`,
    )
    assert.match((await d.closed).received, /^HTTP\/1\.1 200 /)
  })

  it('has the production limits by default, and --web.max-connections sets the maximum', async () => {
    const silent = silentLogger()
    const { app } = await createExporter(exporterFlags([]), silent)
    const server = app.server
    assert.equal(server.headersTimeout, SERVER_LIMITS.headersTimeoutMs)
    assert.equal(server.requestTimeout, SERVER_LIMITS.requestTimeoutMs)
    assert.equal(server.keepAliveTimeout, SERVER_LIMITS.keepAliveTimeoutMs)
    assert.equal(server.timeout, SERVER_LIMITS.socketTimeoutMs)
    assert.equal((server as { maxHeaderSize?: number }).maxHeaderSize, SERVER_LIMITS.maxHeaderSize)
    assert.equal(server.maxConnections, 1024)
    assert.ok(server.headersTimeout <= server.requestTimeout)
    await app.close()

    const limited = await createExporter(exporterFlags(['--web.max-connections=7']), silent)
    assert.equal(limited.app.server.maxConnections, 7)
    await limited.app.close()
    const unlimited = await createExporter(exporterFlags(['--web.max-connections=0']), silent)
    assert.ok(!(unlimited.app.server.maxConnections > 0))
    await unlimited.app.close()
  })
})
