import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { COLLECTORS } from '../../src/collectors/index.ts'
import { createExporter } from '../../src/exporter.ts'
import { exporterFlags } from '../helpers/flags.ts'
import { createLogger } from '../../src/logger.ts'
import { VERSION } from '../../src/version.ts'

const silent = createLogger({ level: 'error', format: 'json', destination: { write() {} } })

const config = (argv: string[]) => exporterFlags(argv)

describe('HTTP app', () => {
  it('serves metrics in the Prometheus text format', async () => {
    const { app } = await createExporter(config([]), silent)
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
    assert.match(res.body, /^# HELP /m)
    assert.match(res.body, /^sshd_up [01]$/m)
    assert.match(
      res.body,
      new RegExp(`^sshd_exporter_build_info\\{version="${VERSION}",nodejs="`, 'm'),
    )
    assert.match(res.body, /^process_cpu_seconds_total /m)
    assert.match(res.body, /^nodejs_heap_size_used_bytes /m)
    await app.close()
  })

  it('leaves out process and Node.js metrics with --web.disable-exporter-metrics', async () => {
    const { app } = await createExporter(config(['--web.disable-exporter-metrics']), silent)
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    assert.doesNotMatch(res.body, /^(process|nodejs)_/m)
    assert.match(res.body, /^sshd_exporter_build_info/m)
    await app.close()
  })

  it('moves the metrics with --web.telemetry-path', async () => {
    const { app } = await createExporter(config(['--web.telemetry-path=/sshd']), silent)
    assert.equal((await app.inject('/sshd')).statusCode, 200)
    assert.equal((await app.inject('/metrics')).statusCode, 404)
    const landing = await app.inject('/')
    assert.match(landing.body, /<a href="\/sshd">Metrics<\/a>/)
    await app.close()
  })

  it('has a landing page with the version and the collectors', async () => {
    const { app } = await createExporter(config(['--no-collector.processes']), silent)
    const res = await app.inject('/')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
    assert.match(res.body, /<h1>sshd exporter<\/h1>/)
    assert.ok(res.body.includes(`Version: ${VERSION}`))
    assert.match(res.body, /<td>processes<\/td><td>disabled<\/td>/)
    assert.match(res.body, /<a href="\/metrics">Metrics<\/a>/)
    await app.close()
  })

  it('answers health and readiness, and 404 elsewhere', async () => {
    const { app } = await createExporter(config([]), silent)
    assert.equal((await app.inject('/-/healthy')).body, 'Healthy\n')
    assert.equal((await app.inject('/-/ready')).body, 'Ready\n')
    const missing = await app.inject('/nope')
    assert.equal(missing.statusCode, 404)
    assert.equal((await app.inject({ method: 'HEAD', url: '/metrics' })).statusCode, 200)
    await app.close()
  })

  it('with no collector enabled, still serves the exporter metrics', async () => {
    const { app } = await createExporter(
      config(COLLECTORS.map((c) => `--no-collector.${c.name}`)),
      silent,
    )
    const res = await app.inject('/metrics')
    assert.equal(res.statusCode, 200)
    assert.doesNotMatch(res.body, /^sshd_up/m)
    assert.doesNotMatch(res.body, /sshd_scrape_collector_success\{/)
    await app.close()
  })
})
