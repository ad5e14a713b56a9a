/**
 * A real Prometheus (Debian's /usr/bin/prometheus) for the tests: started on 127.0.0.1 and a free
 * port, its TSDB in a temporary directory, scraping the given targets every second and evaluating
 * the given rule files every second; and a small client of its HTTP API. A missing binary is a
 * failure naming the install script, never a skip. Stopped (SIGTERM, then SIGKILL) after the test,
 * and killed with this process whatever happens.
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { serverDirectory, startServerProcess } from './server-process.ts'
import { freePort } from './free-port.ts'
import { sleep } from './wait.ts'

export const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus'

export interface PromSample {
  metric: Record<string, string>
  value: [number, string]
}

export interface PromRule {
  name: string
  type: 'alerting' | 'recording'
  health: string
  lastError?: string
  query: string
}

export interface RunningPrometheus {
  url: string
  /** GET /api/v1/query; throws unless the status is success. */
  query(expr: string): Promise<PromSample[]>
  /** GET /api/v1/query_range over the last `seconds`, one step a second. */
  queryRange(expr: string, seconds: number): Promise<unknown[]>
  /** GET /api/v1/label/<label>/values?match[]=<selector>. */
  labelValues(label: string, match?: string): Promise<string[]>
  /** GET /api/v1/rules: every rule of every group. */
  rules(): Promise<PromRule[]>
  /** What Prometheus logged so far. */
  output(): string
  stop(): Promise<void>
}

interface ApiResponse<T> {
  status: string
  data: T
  errorType?: string
  error?: string
}

export async function startPrometheus(opts: {
  /** host:port of each target of the one scrape job. */
  targets: string[]
  job: string
  ruleFiles?: string[]
  /** host:port of Alertmanagers to send alerts to. */
  alertmanagers?: string[]
  t?: Pick<TestContext, 'after'>
}): Promise<RunningPrometheus> {
  const dir = await serverDirectory('prometheus', PROMETHEUS)
  const config = path.join(dir, 'prometheus.yml')
  // JSON is YAML: no YAML writer needed for a file this small.
  await writeFile(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: opts.ruleFiles ?? [],
      scrape_configs: [{ job_name: opts.job, static_configs: [{ targets: opts.targets }] }],
      alerting: { alertmanagers: [{ static_configs: [{ targets: opts.alertmanagers ?? [] }] }] },
    }),
  )
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const server = await startServerProcess({
    name: 'prometheus',
    binary: PROMETHEUS,
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    dir,
    readyUrl: `${url}/-/ready`,
    t: opts.t,
  })

  async function api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${url}${pathAndQuery}`)
    const body = (await res.json()) as ApiResponse<T>
    if (body.status !== 'success') {
      throw new Error(`${pathAndQuery}: ${body.status} ${body.errorType}: ${body.error}`)
    }
    return body.data
  }

  return {
    url,
    output: server.output,
    stop: server.stop,
    async query(expr) {
      const data = await api<{ resultType: string; result: unknown }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      )
      if (data.resultType === 'scalar') {
        return [{ metric: {}, value: data.result as [number, string] }]
      }
      return data.result as PromSample[]
    },
    async queryRange(expr, seconds) {
      const end = Date.now() / 1000
      const data = await api<{ result: unknown[] }>(
        `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${end - seconds}&end=${end}&step=1`,
      )
      return data.result
    },
    async labelValues(label, match) {
      const m = match === undefined ? '' : `?match[]=${encodeURIComponent(match)}`
      return api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values${m}`)
    },
    async rules() {
      const data = await api<{ groups: Array<{ rules: PromRule[] }> }>('/api/v1/rules')
      return data.groups.flatMap((g) => g.rules)
    },
  }
}

/** Polls `query` until `ok` holds for its result (20 s at most); returns that result. */
export async function queryUntil(
  prom: RunningPrometheus,
  expr: string,
  ok: (samples: PromSample[]) => boolean,
  timeoutMs = 20_000,
): Promise<PromSample[]> {
  const deadline = Date.now() + timeoutMs
  let last: PromSample[] = []
  for (;;) {
    try {
      last = await prom.query(expr)
      if (ok(last)) return last
    } catch (error) {
      if (Date.now() > deadline) throw error
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${expr}; last result: ${JSON.stringify(last)}`)
    }
    await sleep(250)
  }
}
