/**
 * The dashboards and rules against a real Prometheus scraping the real exporter, which watches a
 * real sshd with live clients: a ControlMaster carrying three sessions (one with a pty), a plain
 * connection, and two pre-auth connections that never send their banner.
 *
 * Every dashboard query (each target, and each variable's label_values) is run through
 * Prometheus's HTTP API with the variables set to the real job and instance, and must succeed;
 * the key panels must show the live values; every rule of dashboards/rules/sshd-exporter.rules.yml
 * must be loaded and evaluate with health ok (the file must exist: the fleet view reads its
 * recording rules).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { DASHBOARDS, DASHBOARDS_DIR } from '../../dashboards/src/render.ts'
import { RECORDING_RULES } from '../../dashboards/src/recording-rules.ts'
import {
  allPanels,
  dashboardExpressions,
  templateExpression,
  templateVariables,
  variableQuery,
} from '../helpers/dashboard-lint.ts'
import { startExporter } from '../helpers/exporter.ts'
import { type PromSample, queryUntil, startPrometheus } from '../helpers/prometheus.ts'
import { metricNames, substituteGrafanaVariables } from '../helpers/promql.ts'
import { RULES_FILE, type RuleFile } from '../helpers/rules.ts'
import { sshdBinaries } from '../helpers/sshd/builds.ts'
import { openMixedClients } from '../helpers/sshd/clients.ts'
import { startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'
import { sleep, waitFor } from '../helpers/wait.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const VERSION = '10.0'
const JOB = 'sshd-exporter'
const MAX_SESSIONS = 3
const MAX_STARTUPS = { begin: 5, rate: 50, full: 20 }

type Json = Record<string, unknown>

/** The value of the one sample whose labels include `labels`. */
function value(samples: PromSample[], labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v))
  assert.ok(found.length <= 1, `several samples match ${JSON.stringify(labels)}`)
  return found[0] === undefined ? undefined : Number(found[0].value[1])
}

describe(`dashboards and rules on a real Prometheus, exporter and OpenSSH ${VERSION}`, () => {
  it('every query succeeds and the key panels show the live sessions', async (t) => {
    const sshd = await startSshd({
      version: VERSION,
      t,
      config: {
        MaxSessions: MAX_SESSIONS,
        MaxStartups: `${MAX_STARTUPS.begin}:${MAX_STARTUPS.rate}:${MAX_STARTUPS.full}`,
      },
    })
    const exporter = await startExporter(
      [
        `--path.procfs=${sshd.procfs}`,
        `--path.rootfs=${sshd.rootfs}`,
        `--collector.config.sshd-binary=${sshdBinaries(VERSION).sshd}`,
        `--collector.config.file=${sshd.configFile}`,
        '--collector.events.source=file',
        `--collector.events.file=${sshd.logFile}`,
      ],
      t,
    )
    const instance = new URL(exporter.url).host
    assert.ok(existsSync(RULES_FILE), `${path.relative(ROOT, RULES_FILE)} exists`)
    const prom = await startPrometheus({
      targets: [instance],
      job: JOB,
      ruleFiles: [RULES_FILE],
      t,
    })
    const where = `{job="${JOB}",instance="${instance}"}`
    // Scraped before the clients come, so that the event counters' increase is seen.
    await queryUntil(prom, `up${where}`, (r) => value(r) === 1)

    // A plain connection, a ControlMaster with three sessions (one with a pty), two hangers.
    const clients = await openMixedClients(sshd)
    t.after(() => clients.close())

    const vars = {
      __rate_interval: '1m',
      __interval: '1m',
      job: JOB,
      instance,
    }
    const sub = (expr: string) => substituteGrafanaVariables(expr, vars)
    // The live state has reached Prometheus, and the recording rules have seen it.
    await queryUntil(prom, `sum(sshd_sessions${where})`, (r) => value(r) === 4)
    await queryUntil(prom, `sshd_startups${where}`, (r) => value(r) === 2)
    await queryUntil(prom, `${RECORDING_RULES.sessions}${where}`, (r) => value(r) === 4)
    await queryUntil(prom, `${RECORDING_RULES.eventsRate5m}${where}`, (r) => r.length > 0)
    // The two logins read from sshd's log, and a second sample of them for rate().
    await queryUntil(
      prom,
      `sum(sshd_events_total{job="${JOB}",instance="${instance}",event="auth_accepted"})`,
      (r) => value(r) === 2,
    )
    await sleep(2_000)

    // The committed JSON, as Grafana gets it (test/dashboards checks it matches its source).
    const dashboards = await Promise.all(
      DASHBOARDS.map(
        async ({ file }) =>
          [
            file,
            JSON.parse(await readFile(path.join(DASHBOARDS_DIR, file), 'utf8')) as Json,
          ] as const,
      ),
    )

    // Every metric a dashboard or rule names is one this exporter declares in its live scrape
    // (# TYPE lines: a series may be absent, such as PerSourceMaxStartups at none, its metric
    // is not). Recording rules (a colon in the name) and Prometheus's own `up` aside.
    // A histogram's series are its name with _bucket, _sum and _count.
    const declared = new Set(
      [...(await exporter.scrape()).matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? ['_bucket', '_sum', '_count'].map((x) => name! + x) : [name!],
      ),
    )
    const rulesYaml = parseYaml(await readFile(RULES_FILE, 'utf8')) as RuleFile
    const named = new Map<string, string>()
    for (const [file, d] of dashboards) {
      for (const { expr } of dashboardExpressions(d)) {
        for (const name of metricNames(sub(expr))) named.set(name, file)
      }
    }
    for (const rule of rulesYaml.groups.flatMap((g) => g.rules)) {
      for (const name of metricNames(rule.expr)) named.set(name, 'sshd-exporter.rules.yml')
    }
    const undeclared = [...named].filter(
      ([name]) => !name.includes(':') && name !== 'up' && !declared.has(name),
    )
    assert.deepEqual(undeclared, [], 'metrics the live exporter does not export')
    assert.ok(named.size >= 20, `only ${named.size} metrics named`)

    // Every variable's label_values, as Grafana runs it: /api/v1/label/<label>/values.
    for (const [file, d] of dashboards) {
      for (const v of templateVariables(d).filter((x) => x.type === 'query')) {
        const q = templateExpression(variableQuery(v))
        assert.equal(q.fn, 'label_values', `${file} ${v.name}`)
        const values = await prom.labelValues(q.label!, q.expr && sub(q.expr))
        const expected = v.name === 'job' ? JOB : instance
        assert.ok(values.includes(expected), `${file} $${v.name}: ${JSON.stringify(values)}`)
      }
    }

    // Every target, instant and (unless it is an instant query) over a range.
    let queries = 0
    const empty: string[] = []
    for (const [file, d] of dashboards) {
      for (const panel of allPanels(d)) {
        for (const target of (panel.targets ?? []) as Array<{
          expr: string
          refId: string
          instant?: boolean
        }>) {
          const expr = sub(target.expr)
          const what = `${file} "${panel.title}": ${expr}`
          const result = await prom
            .query(expr)
            .catch((error: Error) => assert.fail(`${what}: ${error.message}`))
          if (result.length === 0) empty.push(`${file} ${panel.title} ${target.refId}`)
          if (!target.instant) {
            await prom
              .queryRange(expr, 30)
              .catch((error: Error) => assert.fail(`${what}: ${error.message}`))
          }
          queries++
        }
      }
    }
    assert.equal(
      queries,
      dashboards.flatMap(([, d]) => dashboardExpressions(d)).filter((e) => e.kind === 'target')
        .length,
    )

    // Only what has nothing to show here returns nothing: no failing collector, and the two
    // settings that are absent when `none` (PerSourceMaxStartups, UnusedConnectionTimeout).
    assert.deepEqual(empty, [
      'sshd-fleet.json Hosts failing each collector A',
      'sshd-host.json Limits D',
      'sshd-host.json Timeouts D',
    ])
    /** The live result of one target of one panel, found by title. */
    const [, fleet] = dashboards[0]!
    const [, host] = dashboards[1]!
    const panelQuery = async (d: Json, title: string, refId = 'A'): Promise<PromSample[]> => {
      const panel = allPanels(d).find((p) => p.title === title)
      assert.ok(panel, `a panel titled ${title}`)
      const target = (panel.targets as Array<{ refId: string; expr: string }>).find(
        (x) => x.refId === refId,
      )
      assert.ok(target, `${title} has a target ${refId}`)
      return prom.query(sub(target.expr))
    }

    // The host view.
    assert.equal(value(await panelQuery(host, 'sshd')), 1)
    assert.equal(value(await panelQuery(host, 'Exporter')), 1)
    assert.equal(value(await panelQuery(host, 'Sessions')), 4)
    assert.deepEqual(
      (await panelQuery(host, 'Sessions by user')).map((s) => [s.metric.user, s.value[1]]).sort(),
      [
        ['other', '0'],
        [TEST_USER, '4'],
      ].sort(),
    )
    assert.equal(value(await panelQuery(host, 'Authenticated connections')), 2)
    assert.equal(value(await panelQuery(host, 'Startups (pre-auth)')), 2)
    assert.equal(
      value(await panelQuery(host, 'MaxStartups used')),
      2 / MAX_STARTUPS.full,
      'startups over MaxStartups full',
    )
    assert.equal(value(await panelQuery(host, 'MaxSessions used')), 3 / MAX_SESSIONS)
    const perConnection = 'Sessions per connection against MaxSessions'
    assert.equal(value(await panelQuery(host, perConnection, 'A')), 3, 'most sessions on one')
    assert.equal(value(await panelQuery(host, perConnection, 'B')), MAX_SESSIONS)
    assert.equal(value(await panelQuery(host, 'Multiplexed connections', 'A')), 1)
    assert.equal(value(await panelQuery(host, 'Multiplexed connections', 'B')), 1, 'at MaxSessions')
    const bounds = await panelQuery(host, 'Startups against MaxStartups', 'B')
    assert.equal(value(bounds, { bound: 'begin' }), MAX_STARTUPS.begin)
    assert.equal(value(bounds, { bound: 'full' }), MAX_STARTUPS.full)
    assert.equal(value(await panelQuery(host, 'Startups against MaxStartups', 'A')), 2)
    assert.equal(value(await panelQuery(host, 'Limits', 'A')), MAX_SESSIONS)
    const configured = await panelQuery(host, 'Limits', 'B')
    assert.equal(value(configured, { bound: 'begin' }), MAX_STARTUPS.begin)
    assert.equal(value(configured, { bound: 'full' }), MAX_STARTUPS.full)
    assert.equal(value(await panelQuery(host, 'Limits', 'C')), MAX_STARTUPS.rate / 100)
    assert.deepEqual(
      (await panelQuery(host, 'Configuration read from')).map((s) => s.metric.source),
      ['sshd_t'],
    )
    assert.equal(value(await panelQuery(host, 'Listener reloaded')), 0, 'in sync')
    const collectors = await panelQuery(host, 'Collectors')
    assert.deepEqual(
      collectors.map((s) => [s.metric.collector, s.value[1]]).sort(),
      ['config', 'events', 'processes', 'sockets', 'stale'].map((c) => [c, '1']),
    )
    assert.equal(value(await panelQuery(host, 'Log source and malformed input', 'A')), 1)
    assert.equal(value(await panelQuery(host, 'Pty sessions idle', 'A')), 1, 'pty sessions')
    assert.equal(value(await panelQuery(host, 'Pty sessions idle', 'B')), 0, 'idle > 1m')
    const idleMax = value(await panelQuery(host, 'Oldest session age and longest idle pty', 'B'))
    assert.ok(idleMax !== undefined && idleMax >= 0 && idleMax < 60, `longest idle ${idleMax}`)
    assert.ok((value(await panelQuery(host, 'Oldest session')) ?? -1) > 0)
    assert.equal(value(await panelQuery(host, 'Top client addresses'), { source: '127.0.0.1' }), 4)
    const eventsByType = await panelQuery(host, 'Events by type')
    assert.ok(
      (value(eventsByType, { event: 'auth_accepted' }) ?? 0) > 0,
      `accepted logins counted: ${JSON.stringify(eventsByType)}`,
    )
    assert.equal(
      value(await panelQuery(host, 'Stale sessions by reason'), { reason: 'dead_peer' }),
      0,
    )

    // The fleet view, through the recording rules.
    assert.equal(value(await panelQuery(fleet, 'Open sessions')), 4)
    assert.equal(value(await panelQuery(fleet, 'Fullest MaxStartups')), 2 / MAX_STARTUPS.full)
    assert.equal(value(await panelQuery(fleet, 'Hosts ranked by sessions'), { instance }), 4)
    assert.equal(value(await panelQuery(fleet, 'Stale sessions')), 0)
    assert.equal(value(await panelQuery(fleet, 'Refusals')), 0)
    const hosts = async (refId: string) =>
      value(await panelQuery(fleet, 'Hosts', refId), { instance })
    assert.deepEqual(
      await Promise.all(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'].map(hosts)),
      [4, 2, 3, MAX_SESSIONS, 2, 2 / MAX_STARTUPS.full, 0, 1],
      'sessions, authenticated, most on one, MaxSessions, startups, full used, stale, sshd_up',
    )
    assert.equal(value(await panelQuery(fleet, 'Hosts with sshd')), 1)
    assert.equal(value(await panelQuery(fleet, 'Hosts with sshd down')), 0)
    assert.equal(value(await panelQuery(fleet, 'Exporters down')), 0)
    assert.equal(value(await panelQuery(fleet, 'Failing collectors')), 0)
    const health = async (refId: string) =>
      value(await panelQuery(fleet, 'Exporter health by host', refId), { instance })
    assert.deepEqual(
      await Promise.all(['A', 'B', 'C', 'E', 'F'].map(health)),
      [1, 1, 0, 1, 0],
      'up, sshd_up, failing collectors, events source, malformed input',
    )

    // Every rule of the rule file is loaded and evaluates without error.
    const rules = await waitFor(
      'every rule evaluated',
      async () => {
        const all = await prom.rules()
        return all.length > 0 && all.every((r) => r.health !== 'unknown') && all
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    )
    const bad = rules.filter((r) => r.health !== 'ok')
    assert.deepEqual(
      bad.map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
      [],
      'rules with errors',
    )
    const recorded = rules.filter((r) => r.type === 'recording').map((r) => r.name)
    for (const name of Object.values(RECORDING_RULES)) assert.ok(recorded.includes(name), name)
    const alerts = rules.filter((r) => r.type === 'alerting')
    const file = parseYaml(await readFile(RULES_FILE, 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; record?: string }> }>
    }
    const inFile = file.groups.flatMap((g) => g.rules)
    assert.deepEqual(
      alerts.map((r) => r.name),
      inFile.flatMap((r) => (r.alert === undefined ? [] : [r.alert])),
      'every alert of the file is loaded',
    )
    assert.deepEqual(
      recorded,
      inFile.flatMap((r) => (r.record === undefined ? [] : [r.record])),
      'every recording rule of the file is loaded',
    )
    t.diagnostic(
      `${recorded.length} recording and ${alerts.length} alerting rules, health ok: ${alerts.map((r) => r.name).join(', ')}`,
    )
    t.diagnostic(`${queries} dashboard queries ran against Prometheus`)
  })
})
