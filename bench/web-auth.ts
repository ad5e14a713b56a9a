/**
 * Basic auth under a flood of unknown users: does it delay Prometheus's scrape?
 *
 *   npm run build && node bench/web-auth.ts [--before DIR] [--scrapes 30] [--load 8] [--cost 16]
 *
 * The exporter as it ships (dist/cli.js; with --before, another checkout's or dist directory's
 * too, bench/before-after.ts) is started against a small synthetic tree with a web config of
 * one user whose bcrypt hash has cost --cost (made here, with bcryptjs: seconds). Its first
 * authenticated scrape pays that comparison, the next ones come from the cache. Measured, in
 * one run per build: the authenticated scrape's median over --scrapes scrapes, one after
 * another, alone; then the same while --load requests with an unknown user are kept in flight
 * (each answered, 401 or 429, is sent again at once). Printed: both medians and their ratio,
 * and how the load was answered. Before the bcrypt pool, an unknown user was compared against
 * the costliest configured hash on the main thread; after it, against a cost-10 decoy on a
 * worker thread, with a bounded queue (429 past it).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { hashSync } from 'bcryptjs'
import { NODE_ENV, NODE_FLAGS } from '../src/runtime.ts'
import { freePort } from '../test/helpers/free-port.ts'
import { buildProcfs } from './procfs-builder.ts'
import { median, percentile } from './stats.ts'

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js')
const USER = 'prometheus'
const PASSWORD = 'scrape-secret'

export interface AuthLoadOptions {
  /** A build's dist/cli.js; default this checkout's. */
  cli?: string
  /** Timed scrapes alone, and again under load. */
  scrapes?: number
  /** Unknown-user requests kept in flight. */
  load?: number
  /** The configured user's bcrypt cost. */
  cost?: number
  /** The hash to configure (made with `cost` when not given; reuse it across builds). */
  hash?: string
}

export interface AuthLoadFigures {
  cli: string
  cost: number
  load: number
  scrapes: number
  /** The first authenticated scrape: it pays the configured hash's comparison. */
  firstScrapeMs: number
  aloneMedianMs: number
  aloneP99Ms: number
  loadedMedianMs: number
  loadedP99Ms: number
  /** loadedMedianMs / aloneMedianMs. */
  ratio: number
  /** Unknown-user requests answered while the load ran, by status. */
  loadAnswers: Record<string, number>
}

const authorization = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

async function scrape(url: string, header: string, signal?: AbortSignal): Promise<number> {
  const response = await fetch(url, {
    headers: { authorization: header },
    ...(signal === undefined ? {} : { signal }),
  })
  await response.text()
  return response.status
}

async function timeScrapes(url: string, scrapes: number): Promise<number[]> {
  const header = authorization(USER, PASSWORD)
  const times: number[] = []
  for (let i = 0; i < scrapes; i++) {
    const start = performance.now()
    const status = await scrape(url, header)
    times.push(performance.now() - start)
    if (status !== 200) throw new Error(`an authenticated scrape answered ${status}`)
  }
  return times
}

/** Starts a build with a web config; SIGKILL when it does not stop within 5 s of SIGTERM. */
async function start(cli: string, flags: readonly string[]) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`)
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [...NODE_FLAGS, cli, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error', ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...NODE_ENV } },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000)
  })
  const url = `http://127.0.0.1:${port}/metrics`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the exporter exited: ${stderr}`)
    try {
      // Listening: any answer will do (this one is 401), and no bcrypt work is asked for.
      await (await fetch(url)).text()
      break
    } catch {
      if (Date.now() > deadline) throw new Error(`the exporter did not answer: ${stderr}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) return done()
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
      child.once('exit', () => {
        clearTimeout(kill)
        done()
      })
      child.kill('SIGTERM')
    })
  return { url, stop }
}

/** One build: the authenticated scrape alone, then under a flood of unknown users. */
export async function measureAuthUnderLoad(
  options: AuthLoadOptions = {},
): Promise<AuthLoadFigures> {
  const cli = resolve(options.cli ?? CLI)
  const scrapes = options.scrapes ?? 30
  const load = options.load ?? 8
  const cost = options.cost ?? 16
  const hash = options.hash ?? hashSync(PASSWORD, cost)
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sshd-auth-bench-'))
  try {
    const tree = buildProcfs(join(dir, 'proc'), {
      connections: 50,
      sessions: 3,
      preauth: 5,
      unrelated: 200,
      version: '9.2',
    })
    const config = join(dir, 'web.yml')
    writeFileSync(config, `basic_auth_users:\n  ${USER}: '${hash}'\n`)
    const exporter = await start(cli, [
      `--web.config.file=${config}`,
      `--path.procfs=${tree.root}`,
      `--path.rootfs=${tree.rootfs}`,
      '--collector.config.sshd-binary=',
      '--collector.events.source=none',
    ])
    const abort = new AbortController()
    try {
      const first = performance.now()
      const status = await scrape(exporter.url, authorization(USER, PASSWORD))
      const firstScrapeMs = performance.now() - first
      if (status !== 200) throw new Error(`the first authenticated scrape answered ${status}`)
      await timeScrapes(exporter.url, 3)
      const alone = await timeScrapes(exporter.url, scrapes)

      const loadAnswers: Record<string, number> = {}
      let sent = 0
      const flood = async (i: number) => {
        for (let n = 0; !abort.signal.aborted; n++) {
          sent++
          const answer = await scrape(
            exporter.url,
            authorization(`nobody-${i}`, `guess-${n}`),
            abort.signal,
          ).catch(() => 'aborted')
          if (answer !== 'aborted') loadAnswers[answer] = (loadAnswers[answer] ?? 0) + 1
        }
      }
      const loops = Array.from({ length: load }, (_, i) => flood(i))
      // Every flood request is sent, and has had time to reach the server.
      while (sent < load) await new Promise((r) => setTimeout(r, 10))
      await new Promise((r) => setTimeout(r, 200))
      const loaded = await timeScrapes(exporter.url, scrapes)
      abort.abort()
      await Promise.all(loops)
      return {
        cli,
        cost,
        load,
        scrapes,
        firstScrapeMs,
        aloneMedianMs: median(alone),
        aloneP99Ms: percentile(alone, 99),
        loadedMedianMs: median(loaded),
        loadedP99Ms: percentile(loaded, 99),
        ratio: median(loaded) / median(alone),
        loadAnswers,
      }
    } finally {
      abort.abort()
      await exporter.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function cliOf(dir: string): string {
  for (const cli of [join(dir, 'dist', 'cli.js'), join(dir, 'cli.js')]) {
    if (existsSync(cli)) return resolve(cli)
  }
  throw new Error(`no dist/cli.js or cli.js in ${dir}: run npm run build there`)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      before: { type: 'string' },
      after: { type: 'string', default: '.' },
      scrapes: { type: 'string', default: '30' },
      load: { type: 'string', default: '8' },
      cost: { type: 'string', default: '16' },
    },
  })
  const cost = Number(values.cost)
  console.error(`… hashing the password at cost ${cost}`)
  const hash = hashSync(PASSWORD, cost)
  const builds: [string, string][] = [['after', cliOf(values.after)]]
  if (values.before !== undefined) builds.unshift(['before', cliOf(values.before)])
  const lines = [
    `| build | first scrape | alone: median (p99) | ${values.load} unknown users in flight: median (p99) | ratio | unknown users answered |`,
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ]
  for (const [name, cli] of builds) {
    console.error(`… ${name}: ${cli}`)
    const f = await measureAuthUnderLoad({
      cli,
      scrapes: Number(values.scrapes),
      load: Number(values.load),
      cost,
      hash,
    })
    const answers = Object.entries(f.loadAnswers)
      .map(([status, n]) => `${n}× ${status}`)
      .join(', ')
    lines.push(
      `| ${name} | ${f.firstScrapeMs.toFixed(0)} ms | ${f.aloneMedianMs.toFixed(1)} ms (${f.aloneP99Ms.toFixed(1)}) | ${f.loadedMedianMs.toFixed(1)} ms (${f.loadedP99Ms.toFixed(1)}) | ${f.ratio.toFixed(2)} | ${answers || 'none'} |`,
    )
  }
  console.log(
    `Authenticated scrape (cost-${cost} hash, cached), ${values.scrapes} scrapes each\n\n${lines.join('\n')}`,
  )
}

// import.meta.main needs Node 24.2; the engines field allows 22.18.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
