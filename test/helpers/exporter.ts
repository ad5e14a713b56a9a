/**
 * Runs the real exporter (node src/cli.ts) as a child process on a free
 * loopback port, reads the port from its start-up log line, and scrapes it.
 * Stopped with SIGTERM after the test, whatever happened. An exporter whose
 * start-up line says `tls: true` is reached over https, with the client
 * options given (CA, client certificate, basic auth).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { IncomingHttpHeaders } from 'node:http'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { SecureVersion, TLSSocket } from 'node:tls'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')

/** How the tests' client talks to an exporter with a web config. */
export interface ClientOptions {
  /** PEM of the CA the exporter's certificate is checked against. */
  ca?: string | undefined
  /** A client certificate and its key, PEM. */
  cert?: string | undefined
  key?: string | undefined
  /** Sent as `Authorization: Basic …`. */
  auth?: { user: string; password: string } | undefined
  /** Raw Authorization header, instead of `auth`. */
  authorization?: string | undefined
  minVersion?: SecureVersion | undefined
  maxVersion?: SecureVersion | undefined
}

export interface Response {
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** The TLS version of the connection (`TLSv1.3`); undefined over plain HTTP. */
  tlsVersion: string | undefined
  /** The serial number of the certificate the exporter showed; undefined over plain HTTP. */
  serverSerial: string | undefined
}

export interface RunningExporter {
  url: string
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[]
  child: ChildProcess
  /** GET path; throws unless 200. With a web config, uses startExporter's client options. */
  scrape(path?: string): Promise<string>
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>
}

/** What startExporter returns: a RunningExporter that can also make one-off requests. */
export interface StartedExporter extends RunningExporter {
  /**
   * GET path on a new connection with startExporter's client options, overridden by
   * `options` (an explicit undefined removes one); resolves whatever the status.
   */
  request(path?: string, options?: ClientOptions): Promise<Response>
}

/** One GET on a new connection (no keep-alive), over https when the URL says so. */
export function get(url: string, options: ClientOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {}
  if (options.authorization !== undefined) headers.authorization = options.authorization
  else if (options.auth !== undefined) {
    const { user, password } = options.auth
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  }
  const tls = url.startsWith('https:')
  return new Promise((resolve, reject) => {
    const common = { agent: false as const, headers, timeout: 10_000 }
    const req = tls
      ? httpsRequest(url, {
          ...common,
          ...(options.ca === undefined ? {} : { ca: options.ca }),
          ...(options.cert === undefined ? {} : { cert: options.cert }),
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
          ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
        })
      : httpRequest(url, common)
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 10s`)))
    req.on('error', reject)
    req.on('response', (res) => {
      const socket = res.socket as Partial<TLSSocket>
      const tlsVersion = tls ? (socket.getProtocol?.() ?? undefined) : undefined
      const serverSerial = tls ? socket.getPeerCertificate?.().serialNumber : undefined
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          tlsVersion,
          serverSerial,
        }),
      )
    })
    req.end()
  })
}

/** A command prefix that runs the exporter as nobody (uid and gid 65534, no groups). */
export const AS_NOBODY: readonly string[] = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--',
]

/**
 * `prefix` runs the exporter through another command, e.g. `AS_NOBODY` to drop root.
 * `client`: how to reach an exporter with a web config (CA, client certificate, auth).
 */
export async function startExporter(
  args: string[],
  t?: TestContext,
  env: NodeJS.ProcessEnv = process.env,
  prefix: readonly string[] = [],
  client: ClientOptions = {},
): Promise<StartedExporter> {
  const argv = [process.execPath, CLI, '--web.listen-address=127.0.0.1:0', ...args]
  const [command, ...rest] = [...prefix, ...argv]
  const child = spawn(command!, rest, { stdio: ['ignore', 'ignore', 'pipe'], env })
  return attachExporter(child, { t, client })
}

export interface AttachOptions {
  t?: TestContext | undefined
  client?: ClientOptions
  /** How long to wait for the start-up line; 10 s by default. */
  timeoutMs?: number
}

/**
 * An exporter already spawned as `child` (its stderr piped), whatever started it: its log
 * lines parsed as they come, ready once its start-up line says where it listens (over https
 * when that line says `tls: true`), stopped with SIGTERM after the test when `t` is given.
 */
export async function attachExporter(
  child: ChildProcess,
  options: AttachOptions = {},
): Promise<StartedExporter> {
  const { t, client = {}, timeoutMs = 10_000 } = options
  const logs: Record<string, unknown>[] = []
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  let buffered = ''
  let scheme = 'http'
  const address = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `exporter did not start within ${timeoutMs / 1000}s: ${JSON.stringify([...logs, buffered])}`,
          ),
        ),
      timeoutMs,
    )
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      buffered += chunk
      let nl = buffered.indexOf('\n')
      while (nl >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        nl = buffered.indexOf('\n')
        let record: Record<string, unknown>
        try {
          record = JSON.parse(line) as Record<string, unknown>
        } catch {
          record = { raw: line }
        }
        logs.push(record)
        if (record.msg === 'sshd_exporter listening') {
          clearTimeout(timer)
          if (record.tls === true) scheme = 'https'
          resolve(String(record.address))
        }
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(
        new Error(
          `exporter exited with ${code} before listening: ${JSON.stringify([...logs, buffered])}`,
        ),
      )
    })
  })
  let stopped: Promise<number | null> | null = null
  const stop = () => {
    if (stopped === null) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      stopped = exited
    }
    return stopped
  }
  t?.after(stop)
  const host = await address
  const url = `${scheme}://${host}`
  const plain = scheme === 'http' && Object.keys(client).length === 0
  const request = (path = '/metrics', options: ClientOptions = {}) =>
    get(`${url}${path}`, { ...client, ...options })
  return {
    url,
    logs,
    child,
    stop,
    request,
    async scrape(path = '/metrics') {
      if (!plain) {
        const res = await request(path)
        if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`)
        return res.body
      }
      const res = await fetch(`${url}${path}`)
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`)
      return res.text()
    },
  }
}

/** The value of one series in an exposition, or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return undefined
}

/** Every series of one metric name, `{labels}` -> value. */
export function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== ' ' && rest[0] !== '{') continue
    const space = rest.lastIndexOf(' ')
    out.set(rest.slice(0, space), Number(rest.slice(space + 1)))
  }
  return out
}

/**
 * Scrapes until `ok` holds for one whole scrape (20 s at most) and returns that
 * scrape; a timeout names `what` and shows the last scrape.
 */
export async function scrapeUntil(
  exporter: RunningExporter,
  what: string,
  ok: (text: string) => boolean,
): Promise<string> {
  const deadline = Date.now() + 20_000
  let last = ''
  for (;;) {
    last = await exporter.scrape()
    if (ok(last)) return last
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last scrape:\n${last}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
