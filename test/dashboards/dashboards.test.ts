/**
 * The Grafana dashboards (dashboards/src -> dashboards/*.json): the committed JSON is what the
 * sources generate; dashboard-linter's rules hold for every variable, panel and target
 * (test/helpers/dashboard-lint.ts); every expression parses and names only metrics of
 * docs/metrics.md's table, `up`, or the recording rules the dashboards are built on; and the lint does fail
 * on a panel without a unit, description, thresholds or data source.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { parse as parseYaml } from 'yaml'
import * as common from '../../dashboards/src/common.ts'
import { type Rendered, renderDashboards } from '../../dashboards/src/render.ts'
import { RECORDING_RULES } from '../../dashboards/src/recording-rules.ts'
import {
  allPanels,
  dashboardExpressions,
  lintDashboard,
  type LintProblem,
} from '../helpers/dashboard-lint.ts'
import {
  catalogueMetricNames,
  isCatalogued,
  metricNames,
  parseErrors,
  substituteGrafanaVariables,
} from '../helpers/promql.ts'
import { EVENTS } from '../../src/sources/sshd-log/events.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const RULES_FILE = path.join(ROOT, 'dashboards', 'rules', 'sshd-exporter.rules.yml')
const run = promisify(execFile)

type Json = Record<string, unknown>

/**
 * docs/metrics.md's table (wildcard rows such as `process_*` included), and the `_bucket`,
 * `_sum` and `_count` series of the rows whose type is histogram.
 */
async function metricsCatalogue(): Promise<string[]> {
  const doc = await readFile(path.join(ROOT, 'docs', 'metrics.md'), 'utf8')
  const names = catalogueMetricNames(doc)
  assert.ok(names.length > 20, `docs/metrics.md's table lists metrics (found ${names.length})`)
  const histograms = names.filter((name) =>
    doc.split('\n').some((line) => {
      const cells = line.split('|').map((c) => c.trim())
      return cells[1] === `\`${name}\`` && cells[2] === 'histogram'
    }),
  )
  assert.ok(histograms.length > 0, "docs/metrics.md's table has a histogram")
  return [...names, ...histograms.flatMap((h) => ['_bucket', '_sum', '_count'].map((s) => h + s))]
}

/** The dashboards' event groups: common.ts's exported `*_EVENTS` lists. */
const EVENT_GROUPS: Array<[string, readonly unknown[]]> = Object.entries(common).flatMap(
  ([name, value]: [string, unknown]): Array<[string, readonly unknown[]]> =>
    name.endsWith('_EVENTS') && Array.isArray(value) ? [[name, value]] : [],
)

/**
 * Grafana's variables as a query would reach Prometheus: `$__rate_interval` and `$__interval` as
 * `1m`, the dashboards' own variables as a regex that matches anything (they stand inside
 * `=~"…"`).
 */
function substitute(expr: string): string {
  return substituteGrafanaVariables(expr, {
    __rate_interval: '1m',
    __interval: '1m',
    datasource: '.+',
    job: '.+',
    instance: '.+',
  })
}

function describeProblems(problems: readonly LintProblem[]): string {
  return problems.map((p) => `${p.rule}: ${p.where}: ${p.message}`).join('\n')
}

describe('Grafana dashboards', async () => {
  const rendered: Rendered[] = await renderDashboards()
  const byFile = new Map(rendered.map((r) => [r.file, r]))
  /** The generated dashboards, through JSON as Grafana reads them. */
  const dashboards = rendered.map((r) => ({ file: r.file, json: JSON.parse(r.text) as Json }))

  it('the committed JSON is what dashboards/src generates', async () => {
    assert.deepEqual(
      rendered.map((r) => r.file),
      ['sshd-fleet.json', 'sshd-host.json'],
    )
    for (const r of rendered) {
      const committed = await readFile(r.path, 'utf8').catch(() => '(missing)')
      assert.ok(
        committed === r.text,
        `dashboards/${r.file} differs from its source: run node dashboards/src/generate.ts`,
      )
      assert.ok(r.text.endsWith('}\n'), 'ends with one newline')
    }
  })

  it('generate.ts --check agrees, and refuses unknown arguments', async () => {
    const script = path.join(ROOT, 'dashboards', 'src', 'generate.ts')
    const ok = await run(process.execPath, [script, '--check'])
    assert.equal(ok.stderr, '')
    const bad = await run(process.execPath, [script, '--frobnicate']).then(
      () => 0,
      (e: { code?: number }) => e.code,
    )
    assert.equal(bad, 2)
  })

  it('has stable uids, titles, readonly, and links to each other by tag', () => {
    const fleet = byFile.get('sshd-fleet.json')!.dashboard
    const host = byFile.get('sshd-host.json')!.dashboard
    assert.equal(fleet.uid, 'sshd-exporter-fleet')
    assert.equal(host.uid, 'sshd-exporter-host')
    for (const d of [fleet, host]) {
      assert.equal(d.editable, false)
      assert.ok(d.tags?.includes('sshd-exporter'))
      assert.ok(
        d.links?.some((l) => String(l.type) === 'dashboards' && l.tags.includes('sshd-exporter')),
      )
    }
    // Panel ids and titles are unique (links, the README and the tests find panels by them).
    for (const { json } of dashboards) {
      const ids = allPanels(json).map((p) => p.id)
      assert.equal(new Set(ids).size, ids.length)
      const titles = allPanels(json)
        .filter((p) => p.type !== 'row')
        .map((p) => p.title)
      assert.deepEqual(
        titles.filter((x, i) => titles.indexOf(x) !== i),
        [],
        'duplicate panel titles',
      )
    }
  })

  for (const { file, json } of dashboards) {
    it(`${file} follows dashboard-linter's rules`, () => {
      const problems = lintDashboard(json)
      assert.equal(describeProblems(problems), '')
    })
  }

  it('the fleet view lets several instances (and All) be chosen; the host view several', () => {
    const vars = (file: string) =>
      (byFile.get(file)!.dashboard.templating?.list ?? []).filter((v) => v.name === 'instance')
    assert.equal(vars('sshd-fleet.json')[0]?.includeAll, true)
    assert.equal(vars('sshd-fleet.json')[0]?.multi, true)
    assert.equal(vars('sshd-host.json')[0]?.includeAll, false)
    assert.equal(vars('sshd-host.json')[0]?.multi, true)
  })

  it('every expression parses and names only docs/metrics.md metrics, up, or the recording rules', async () => {
    const catalogue = [...(await metricsCatalogue()), 'up', ...Object.values(RECORDING_RULES)]
    let count = 0
    for (const { file, json } of dashboards) {
      for (const { where, expr } of dashboardExpressions(json)) {
        count++
        const substituted = substitute(expr)
        assert.doesNotMatch(
          substituted,
          /\$/,
          `${file} ${where}: a variable left in ${substituted}`,
        )
        assert.deepEqual(parseErrors(substituted), [], `${file} ${where}: ${substituted}`)
        const names = metricNames(substituted)
        assert.ok(names.length > 0, `${file} ${where}: names no metric: ${expr}`)
        for (const name of names) {
          assert.ok(
            isCatalogued(name, catalogue),
            `${file} ${where}: unknown metric ${name} in ${expr}`,
          )
        }
      }
    }
    assert.ok(count > 60, `expressions checked: ${count}`)
  })

  it('names only events the exporter counts, in its groups and in every event matcher', () => {
    const known = new Set<string>(EVENTS)
    assert.ok(EVENT_GROUPS.length >= 6, `event groups in common.ts: ${EVENT_GROUPS.length}`)
    for (const [group, list] of EVENT_GROUPS) {
      assert.ok(list.length > 0, `${group} is empty`)
      for (const event of list) {
        assert.ok(
          typeof event === 'string' && known.has(event),
          `${group}: unknown event ${String(event)}`,
        )
      }
    }
    let matchers = 0
    for (const { file, json } of dashboards) {
      for (const { where, expr } of dashboardExpressions(json)) {
        for (const m of expr.matchAll(/\bevent\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
          matchers++
          for (const event of m[2]!.split('|')) {
            assert.ok(known.has(event), `${file} ${where}: unknown event ${event} in ${expr}`)
          }
        }
      }
    }
    assert.ok(matchers > 10, `event matchers checked: ${matchers}`)
  })

  it('uses the recording rules where the fleet repeats heavy queries, and they exist', async () => {
    const fleetExprs = dashboardExpressions(dashboards[0]!.json).map((e) => e.expr)
    for (const name of Object.values(RECORDING_RULES)) {
      assert.ok(
        fleetExprs.some((e) => metricNames(substitute(e)).includes(name)),
        `the fleet view uses ${name}`,
      )
    }
    // The host view reads raw metrics only.
    for (const { expr } of dashboardExpressions(dashboards[1]!.json)) {
      for (const name of metricNames(substitute(expr))) assert.doesNotMatch(name, /:/)
    }
    const text = await readFile(RULES_FILE, 'utf8').catch(() => {
      throw new Error(`${path.relative(ROOT, RULES_FILE)} is missing: the fleet view needs it`)
    })
    const doc = parseYaml(text) as { groups?: Array<{ rules?: Array<{ record?: string }> }> }
    const recorded = new Set(
      (doc.groups ?? []).flatMap((g) => (g.rules ?? []).map((r) => r.record).filter(Boolean)),
    )
    for (const name of Object.values(RECORDING_RULES)) {
      assert.ok(recorded.has(name), `${path.relative(ROOT, RULES_FILE)} records ${name}`)
    }
  })

  it('dashboards/README.md describes every panel', async () => {
    const readme = await readFile(path.join(ROOT, 'dashboards', 'README.md'), 'utf8')
    for (const { file, json } of dashboards) {
      for (const p of allPanels(json)) {
        const heading = p.type === 'row' ? `### ${p.title}\n` : `**${p.title}**`
        assert.ok(readme.includes(heading), `${file}: ${heading.trim()} in dashboards/README.md`)
      }
    }
  })

  it('every rate and increase uses $__rate_interval, and no other range appears', () => {
    for (const { json } of dashboards) {
      for (const { expr } of dashboardExpressions(json)) {
        for (const m of expr.matchAll(/\[([^\]]*)\]/g)) assert.equal(m[1], '$__rate_interval', expr)
      }
    }
  })

  describe('the lint fails a panel that lacks…', () => {
    /** The host dashboard with one change to its first panel of `type`; its lint problems. */
    function lintWith(type: string, change: (panel: Json) => void): LintProblem[] {
      const copy = JSON.parse(byFile.get('sshd-host.json')!.text) as Json
      const panel = (copy.panels as Json[]).find((p) => p.type === type)
      assert.ok(panel, `a ${type} panel`)
      change(panel)
      return lintDashboard(copy)
    }
    const rules = (problems: LintProblem[]) => [...new Set(problems.map((p) => p.rule))]

    for (const type of ['timeseries', 'stat', 'gauge', 'bargauge', 'table']) {
      it(`a unit (${type})`, () => {
        const problems = lintWith(type, (p) => {
          delete (p.fieldConfig as { defaults: Json }).defaults.unit
        })
        assert.deepEqual(rules(problems), ['panel-units-rule'])
      })
      it(`a description (${type})`, () => {
        assert.deepEqual(rules(lintWith(type, (p) => delete p.description)), [
          'panel-title-description-rule',
        ])
        assert.deepEqual(rules(lintWith(type, (p) => (p.description = ''))), [
          'panel-title-description-rule',
        ])
      })
      it(`thresholds (${type})`, () => {
        const problems = lintWith(type, (p) => {
          delete (p.fieldConfig as { defaults: Json }).defaults.thresholds
        })
        assert.deepEqual(rules(problems), ['panel-thresholds'])
      })
    }
    it('a valid unit', () => {
      const problems = lintWith('stat', (p) => {
        ;(p.fieldConfig as { defaults: Json }).defaults.unit = 'sessions'
      })
      assert.deepEqual(rules(problems), ['panel-units-rule'])
    })
    it('the templated data source', () => {
      const problems = lintWith('timeseries', (p) => {
        p.datasource = { type: 'prometheus', uid: 'P1809F7CD0C75ACF3' }
      })
      assert.deepEqual(rules(problems), ['panel-datasource-rule'])
    })
    it('targets', () => {
      assert.deepEqual(rules(lintWith('stat', (p) => delete p.targets)), ['panel-no-targets-rule'])
    })
    it('the job and instance matchers, $__rate_interval, rate() around a counter', () => {
      const withExpr = (expr: string) =>
        rules(lintWith('timeseries', (p) => ((p.targets as Json[])[0]!.expr = expr)))
      assert.deepEqual(withExpr('sum(sshd_sessions{instance=~"$instance"})'), ['target-job-rule'])
      assert.deepEqual(withExpr('sum(sshd_sessions{job=~"$job"})'), ['target-instance-rule'])
      assert.deepEqual(withExpr('rate(sshd_events_total{job=~"$job",instance=~"$instance"}[5m])'), [
        'target-rate-interval-rule',
      ])
      assert.deepEqual(withExpr('sshd_events_total{job=~"$job",instance=~"$instance"}'), [
        'target-counter-agg-rule',
      ])
      assert.deepEqual(withExpr('sum(sshd_sessions{job=~"$job",instance=~"$instance"}'), [
        'target-promql-rule',
      ])
    })
    it('an uneditable dashboard and the variables the linter wants', () => {
      const copy = JSON.parse(byFile.get('sshd-fleet.json')!.text) as Json
      copy.editable = true
      const list = (copy.templating as { list: Json[] }).list
      const instance = list.find((v) => v.name === 'instance')!
      instance.multi = false
      instance.refresh = 1
      list.find((v) => v.name === 'job')!.allValue = ''
      list.find((v) => v.name === 'datasource')!.label = 'Prometheus'
      assert.deepEqual(rules(lintDashboard(copy)).sort(), [
        'template-datasource-rule',
        'template-instance-rule',
        'template-job-rule',
        'template-on-time-change-reload-rule',
        'uneditable-dashboard',
      ])
    })
  })
})
