/**
 * The Prometheus rules in dashboards/rules: promtool accepts them and passes their unit tests,
 * every alert is documented and tested both ways, and every expression parses and names only
 * metrics docs/metrics.md lists (or `up`, or a recording rule of the same file).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { catalogueMetricNames, isCatalogued, metricNames, parseErrors } from '../helpers/promql.ts'
import { PROMTOOL } from '../helpers/promtool.ts'
import { type Rule, type RuleFile, RULES_FILE as RULES, shortenedRules } from '../helpers/rules.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const TESTS = join(ROOT, 'dashboards', 'rules', 'tests')
const RUNBOOKS = join(ROOT, 'dashboards', 'RUNBOOKS.md')
const RUNBOOK_URL =
  'https://github.com/sshd-exporter/sshd-exporter/blob/main/dashboards/RUNBOOKS.md#'

/** The recording rules the dashboards use by name: renaming one breaks them. */
const RECORDING_CONTRACT = [
  'instance:sshd_sessions:sum',
  'instance:sshd_events:rate5m',
  'instance:sshd_stale_sessions:sum',
  'instance:sshd_startups:ratio_full',
]

interface ExpectedAlert {
  exp_labels?: Record<string, string>
  exp_annotations?: Record<string, string>
}

interface UnitTests {
  rule_files: string[]
  tests: {
    name?: string
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: ExpectedAlert[] }[]
    promql_expr_test?: { expr: string; eval_time: string; exp_samples?: unknown[] }[]
  }[]
}

const ruleFile = parse(readFileSync(RULES, 'utf8')) as RuleFile
const rules = ruleFile.groups.flatMap((g) => g.rules)
const alerts = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined)
const records = rules.filter((r): r is Rule & { record: string } => r.record !== undefined)

const testFiles = readdirSync(TESTS)
  .filter((f) => f.endsWith('.test.yml'))
  .sort()
  .map((f) => join(TESTS, f))
const unitTests = testFiles.map((f) => ({
  file: f,
  doc: parse(readFileSync(f, 'utf8')) as UnitTests,
}))

function promtool(args: string[]): { status: number | null; output: string } {
  assert.ok(
    existsSync(PROMTOOL),
    `promtool not found at ${PROMTOOL}: run scripts/install-test-deps.sh`,
  )
  const r = spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The metric names in `expr` that are neither exported (docs/metrics.md), `up`, nor recorded here. */
function unknownMetrics(expr: string, catalogue: readonly string[]): string[] {
  return metricNames(expr).filter((n) => !isCatalogued(n, catalogue))
}

const catalogue = [
  ...catalogueMetricNames(readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8')),
  'up',
  ...records.map((r) => r.record),
]

describe('Prometheus rules: promtool', () => {
  it('promtool check rules accepts the rule file and counts every rule', () => {
    const { status, output } = promtool(['check', 'rules', relative(ROOT, RULES)])
    assert.equal(status, 0, output)
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`), output)
    assert.doesNotMatch(output, /FAILED|error/i, output)
  })

  it("the end-to-end tests' shortened copy changes only alerts' for: and windows", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-rules-'))
    try {
      const file = join(dir, 'short.yml')
      writeFileSync(file, shortenedRules(ruleFile, { for: '2s', range: '20s' }))
      const { status, output } = promtool(['check', 'rules', file])
      assert.equal(status, 0, output)
      const short = (parse(readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules)
      assert.equal(short.length, rules.length)
      let windows = 0
      for (const [i, r] of rules.entries()) {
        const s = short[i]!
        windows += (r.expr.match(/\[\d+[smhdwy]\]/g) ?? []).length
        if (r.alert === undefined) {
          assert.deepEqual(s, r)
          continue
        }
        assert.deepEqual({ ...s, expr: '', for: '' }, { ...r, expr: '', for: '' })
        assert.equal(s.for, r.for === '0s' ? '0s' : '2s', r.alert)
        assert.equal(s.expr, r.expr.replace(/\[\d+[smhdwy]\]/g, '[20s]'), r.alert)
      }
      assert.ok(windows > 0, 'no range window to shorten')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('promtool test rules passes every unit test file', () => {
    assert.ok(testFiles.length >= 2, 'no unit test files found')
    const { status, output } = promtool([
      'test',
      'rules',
      ...testFiles.map((f) => relative(ROOT, f)),
    ])
    assert.equal(status, 0, output)
    assert.equal(output.match(/^\s*SUCCESS\s*$/gm)?.length, testFiles.length, output)
    assert.doesNotMatch(output, /FAILED/, output)
  })
})

describe('Prometheus rules: structure', () => {
  it('has the recording rules the dashboards use, each named level:metric:operations', () => {
    const names = records.map((r) => r.record)
    for (const name of RECORDING_CONTRACT) assert.ok(names.includes(name), `missing ${name}`)
    for (const name of names) assert.match(name, /^[a-z_]+:[a-z_]+:[a-z0-9_]+$/)
    assert.equal(new Set(names).size, names.length, 'duplicate recording rule')
  })

  it('gives every alert a Sshd name, a severity, a for, a summary, a description and a runbook', () => {
    assert.ok(alerts.length >= 10)
    assert.equal(new Set(alerts.map((a) => a.alert)).size, alerts.length, 'duplicate alert')
    for (const a of alerts) {
      assert.match(a.alert, /^Sshd[A-Z][A-Za-z]+$/, a.alert)
      assert.ok(['warning', 'critical'].includes(a.labels?.severity ?? ''), `${a.alert}: severity`)
      assert.match(a.for ?? '', /^\d+[smh]$/, `${a.alert}: for`)
      const { summary, description, runbook_url } = a.annotations ?? {}
      assert.ok(summary && summary.length > 10, `${a.alert}: summary`)
      assert.ok(description && description.length > 40, `${a.alert}: description`)
      assert.equal(runbook_url, `${RUNBOOK_URL}${a.alert.toLowerCase()}`, `${a.alert}: runbook_url`)
      // Only the alert about no target at all has no instance to name.
      if (a.alert !== 'SshdExporterAbsent') {
        assert.match(summary, /\{\{ \$labels\.instance \}\}/, `${a.alert}: summary names instance`)
        assert.match(description, /\{\{ \$labels\.instance \}\}/, `${a.alert}: description`)
      }
    }
  })

  it('has a RUNBOOKS.md section for every runbook_url anchor, and none for alerts that do not exist', () => {
    const headings = readFileSync(RUNBOOKS, 'utf8')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => anchor(l.replace(/^#+ /, '')))
    for (const a of alerts) {
      const target = (a.annotations?.runbook_url ?? '').split('#')[1] ?? ''
      assert.ok(headings.includes(target), `${a.alert}: no heading for #${target} in RUNBOOKS.md`)
    }
    const alertAnchors = new Set(alerts.map((a) => a.alert.toLowerCase()))
    for (const h of headings.filter((h) => h.startsWith('sshd') && !h.includes('-'))) {
      assert.ok(alertAnchors.has(h), `RUNBOOKS.md has a section #${h} for no alert`)
    }
  })

  it('tests every alert firing, with its labels and annotations checked, and not firing', () => {
    for (const { file, doc } of unitTests) {
      assert.deepEqual(doc.rule_files, ['../sshd-exporter.rules.yml'], file)
    }
    const cases = unitTests.flatMap(({ doc }) => doc.tests.flatMap((t) => t.alert_rule_test ?? []))
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert)
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0)
      const quiet = mine.filter((c) => (c.exp_alerts ?? []).length === 0)
      assert.ok(firing.length > 0, `${a.alert}: no test in which it fires`)
      assert.ok(quiet.length > 0, `${a.alert}: no test in which it does not fire`)
      for (const exp of firing.flatMap((c) => c.exp_alerts ?? [])) {
        assert.equal(exp.exp_labels?.severity, a.labels?.severity, `${a.alert}: severity`)
        for (const key of ['summary', 'description', 'runbook_url']) {
          assert.ok(exp.exp_annotations?.[key], `${a.alert}: a firing test does not check ${key}`)
        }
      }
    }
    for (const c of cases) {
      assert.ok(
        alerts.some((a) => a.alert === c.alertname),
        `a test expects ${c.alertname}, which is no alert`,
      )
    }
  })

  it('tests the value of every recording rule', () => {
    const exprs = unitTests.flatMap(({ doc }) =>
      doc.tests.flatMap((t) => (t.promql_expr_test ?? []).map((p) => p)),
    )
    for (const r of records) {
      const tested = exprs.filter(
        (p) => metricNames(p.expr).includes(r.record) && (p.exp_samples ?? []).length > 0,
      )
      assert.ok(tested.length > 0, `${r.record}: no promql_expr_test with samples`)
    }
  })
})

describe('Prometheus rules: PromQL', () => {
  it('reads the exported metrics from docs/metrics.md', () => {
    for (const name of ['sshd_up', 'sshd_events_total', 'sshd_stale_sessions']) {
      assert.ok(catalogue.includes(name), name)
    }
  })

  it('parses every expression with Prometheus’ grammar', () => {
    for (const r of rules) {
      assert.deepEqual(parseErrors(r.expr), [], `${r.alert ?? r.record}: ${r.expr}`)
    }
  })

  it('names only metrics the exporter exports, up, or this file’s recording rules', () => {
    for (const r of rules) {
      assert.ok(metricNames(r.expr).length > 0, `${r.alert ?? r.record}: no metric`)
      assert.deepEqual(unknownMetrics(r.expr, catalogue), [], `${r.alert ?? r.record}: ${r.expr}`)
    }
  })

  it('catches a metric that is not exported, and a syntax error (the checks are not vacuous)', () => {
    assert.deepEqual(
      unknownMetrics('sum by (job, instance) (sshd_sessions_total) > 0 and sshd_up', catalogue),
      ['sshd_sessions_total'],
    )
    assert.deepEqual(unknownMetrics('{__name__=~"sshd_.+"}', catalogue), ['{__name__=~"sshd_.+"}'])
    assert.deepEqual(unknownMetrics('process_resident_memory_bytes', catalogue), [])
    assert.notDeepEqual(parseErrors('sum by (job (sshd_up)'), [])
    assert.notDeepEqual(parseErrors('rate(sshd_events_total[5m]'), [])
  })
})
