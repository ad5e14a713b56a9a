/**
 * Full TLS handshakes per second against the exporter (dist/, `npm run build` first) under
 * client_auth_type RequireAndVerifyClientCert: a new connection each time, no session
 * resumption, the client certificate sent, until the server's answer to a GET /-/healthy.
 * Two client CAs: one with the clientAuth extended key usage (OpenSSL verifies the chain)
 * and one with anyExtendedKeyUsage only (OpenSSL refuses it for its purpose and the chain
 * is verified again as Go does, src/web/client-cert.ts). The certificates are made as the TLS
 * tests make theirs (test/helpers/certs.ts).
 *
 *   node bench/web-tls.ts [--before /tmp/wt-before] [--seconds 5] [--rounds 3]
 *
 * --before: another checkout (its dist/cli.js), measured with the clientAuth CA (the only
 * one it serves) alternately with this one. Printed and returned: handshakes per second,
 * median over the rounds.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { NODE_ENV, NODE_FLAGS } from '../src/runtime.ts'
import { makeCa, makeLeaf } from '../test/helpers/certs.ts'
import { freePort } from '../test/helpers/free-port.ts'
import { median } from './stats.ts'

export interface TlsFigures {
  /** Handshakes (and one request each) per second, medians over the rounds. */
  clientAuthCa: number
  anyEkuCa: number
  before?: { clientAuthCa: number } | undefined
  /** Each round's figure, by CA (and the build before's). */
  runs: Record<string, number[]>
}

async function startTls(cli: string, config: string) {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      cli,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      `--web.config.file=${config}`,
      '--collector.config.sshd-binary=',
      '--collector.events.source=none',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...NODE_ENV } },
  )
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the exporter exited with ${child.exitCode}`)
    if (await portOpen(port)) break
    if (Date.now() > deadline) throw new Error('the exporter did not start')
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    port,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r()
        child.once('exit', () => r())
        child.kill('SIGTERM')
      }),
  }
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net')
  return new Promise((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy()
      r(true)
    })
    s.on('error', () => r(false))
  })
}

/** One connection: handshake, GET /-/healthy, close. */
function once(port: number, ca: string, cert: string, key: string): Promise<void> {
  return new Promise((ok, fail) => {
    const r = request(
      {
        host: '127.0.0.1',
        port,
        path: '/-/healthy',
        ca,
        cert,
        key,
        agent: false,
        servername: 'localhost',
      },
      (res) => {
        res.resume()
        res.on('end', () =>
          res.statusCode === 200 ? ok() : fail(new Error(`status ${res.statusCode}`)),
        )
      },
    )
    r.on('error', fail).end()
  })
}

/** Handshakes per second over `seconds`, `concurrency` clients at once. */
async function rate(
  port: number,
  ca: string,
  cert: string,
  key: string,
  seconds: number,
): Promise<number> {
  for (let i = 0; i < 20; i++) await once(port, ca, cert, key)
  const concurrency = 8
  let done = 0
  const start = performance.now()
  const end = start + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await once(port, ca, cert, key)
        done++
      }
    }),
  )
  return done / ((performance.now() - start) / 1000)
}

export async function benchWebTls(
  options: { before?: string | undefined; seconds?: number; rounds?: number } = {},
): Promise<TlsFigures> {
  const seconds = options.seconds ?? 5
  const rounds = options.rounds ?? 3
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-bench-tls-'))
  try {
    makeCa(dir, 'srv-ca')
    makeLeaf(
      dir,
      'server',
      'srv-ca',
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
    )
    const runs: Record<string, number[]> = { clientAuth: [], anyEku: [], before: [] }
    const configs: Record<string, string> = {}
    for (const [kind, eku] of [
      ['clientAuth', 'clientAuth'],
      ['anyEku', 'anyExtendedKeyUsage'],
    ] as const) {
      makeCa(dir, `ca-${kind}`, { eku })
      makeLeaf(
        dir,
        `client-${kind}`,
        `ca-${kind}`,
        'subjectAltName=DNS:prometheus\nextendedKeyUsage=clientAuth\n',
      )
      configs[kind] = join(dir, `web-${kind}.yml`)
      writeFileSync(
        configs[kind],
        [
          'tls_server_config:',
          `  cert_file: ${join(dir, 'server.crt')}`,
          `  key_file: ${join(dir, 'server.key')}`,
          '  client_auth_type: RequireAndVerifyClientCert',
          `  client_ca_file: ${join(dir, `ca-${kind}.crt`)}`,
        ].join('\n'),
      )
    }
    const read = (f: string) => readFileSync(join(dir, f), 'utf8')
    const ca = read('srv-ca.crt')
    const here = resolve(import.meta.dirname, '..', 'dist', 'cli.js')
    const before =
      options.before === undefined ? undefined : resolve(options.before, 'dist', 'cli.js')
    const measure = async (cli: string, kind: string, into: number[]) => {
      const exporter = await startTls(cli, configs[kind]!)
      try {
        into.push(
          await rate(
            exporter.port,
            ca,
            read(`client-${kind}.crt`),
            read(`client-${kind}.key`),
            seconds,
          ),
        )
      } finally {
        await exporter.stop()
      }
    }
    for (let round = 0; round < rounds; round++) {
      if (before !== undefined && round % 2 === 1) await measure(before, 'clientAuth', runs.before!)
      await measure(here, 'clientAuth', runs.clientAuth!)
      await measure(here, 'anyEku', runs.anyEku!)
      if (before !== undefined && round % 2 === 0) await measure(before, 'clientAuth', runs.before!)
    }
    const figures: TlsFigures = {
      clientAuthCa: median(runs.clientAuth!),
      anyEkuCa: median(runs.anyEku!),
      before: before === undefined ? undefined : { clientAuthCa: median(runs.before!) },
      runs,
    }
    return figures
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      before: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
    },
  })
  const seconds = Number(values.seconds)
  const rounds = Number(values.rounds)
  const figures = await benchWebTls({ before: values.before, seconds, rounds })
  const f = (v: number[] | undefined) => (v ?? []).map((x) => x.toFixed(0)).join(', ')
  console.log(`handshakes/s, RequireAndVerifyClientCert, ${seconds} s runs, median of ${rounds}:`)
  console.log(
    `  clientAuth CA (OpenSSL path):           ${figures.clientAuthCa.toFixed(0)}  [${f(figures.runs.clientAuth)}]`,
  )
  console.log(
    `  anyExtendedKeyUsage CA (Go-rules path): ${figures.anyEkuCa.toFixed(0)}  [${f(figures.runs.anyEku)}]`,
  )
  if (figures.before !== undefined) {
    console.log(
      `  before, clientAuth CA:                  ${figures.before.clientAuthCa.toFixed(0)}  [${f(figures.runs.before)}]`,
    )
  }
}
