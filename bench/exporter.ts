/**
 * The exporter under measurement: started as it ships (node with NODE_FLAGS and NODE_ENV, dist/), on a
 * free loopback port, against a procfs and rootfs; scraped over HTTP as Prometheus scrapes it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { NODE_ENV, NODE_FLAGS } from '../src/runtime.ts'
import { freePort } from '../test/helpers/free-port.ts'
import { median, peakRssMb, percentile } from './stats.ts'

/**
 * The build that ships (`npm run build`): Node's TypeScript stripping, which `npm start` uses,
 * loads a WebAssembly compiler that adds about 30 MB to the resident set.
 */
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js')

export interface RunningExporter {
  url: string
  pid: number
  /** The exporter's peak RSS so far, in MB. */
  peakRssMb(): number
  stop(): Promise<void>
}

/**
 * Starts the exporter with `flags` (plus a listen address) and waits until it answers. `cli`:
 * another build's dist/cli.js (bench/before-after.ts), default this checkout's.
 */
export async function startExporter(
  flags: readonly string[],
  cli: string = CLI,
): Promise<RunningExporter> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`)
  const port = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    [...NODE_FLAGS, cli, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...NODE_ENV } },
  )
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000)
  })
  const url = `http://127.0.0.1:${port}/metrics`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the exporter exited with ${child.exitCode}: ${stderr}`)
    }
    try {
      const r = await fetch(url)
      await r.text()
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the exporter did not answer: ${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const pid = child.pid!
  return {
    url,
    pid,
    peakRssMb: () => {
      try {
        return peakRssMb(readFileSync(`/proc/${pid}/status`, 'utf8'))
      } catch {
        return NaN
      }
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

export interface ScrapeFigures {
  medianMs: number
  p99Ms: number
  scrapes: number
  /** The last scrape's body, for checks. */
  body: string
}

/** `warmup` scrapes, then `scrapes` timed one after another (request to last byte). */
export async function timeScrapes(
  url: string,
  scrapes: number,
  warmup: number,
): Promise<ScrapeFigures> {
  let body = ''
  for (let i = 0; i < warmup; i++) body = await (await fetch(url)).text()
  const times: number[] = []
  for (let i = 0; i < scrapes; i++) {
    const start = performance.now()
    const response = await fetch(url)
    body = await response.text()
    times.push(performance.now() - start)
    if (!response.ok) throw new Error(`scrape answered ${response.status}`)
  }
  return { medianMs: median(times), p99Ms: percentile(times, 99), scrapes, body }
}
