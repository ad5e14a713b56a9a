/**
 * The rules of Grafana's dashboard-linter (github.com/grafana/dashboard-linter, lint/rule_*.go)
 * that apply to Prometheus dashboards, checked on dashboard JSON. The linter is Go and cannot be
 * installed here; these follow its documented semantics, stricter where noted:
 *
 * - template-datasource-rule: a `datasource` variable of type prometheus, labelled "Data source".
 * - template-job-rule, template-instance-rule: `job` and `instance` query variables on
 *   `$datasource`, labelled "Job" and "Instance", multi-select, allValue `.+`.
 * - template-label-promql-rule: query variables are `label_values(…)`, `label_names(…)`,
 *   `metrics(…)` or `query_result(…)` of valid PromQL (stricter: the selector of
 *   `label_values(selector, label)` must parse alone, not just a prefix of it).
 * - template-on-time-change-reload-rule: query variables refresh on time range change (2).
 * - panel-datasource-rule: panels (stricter: every panel type, and every target) use
 *   `$datasource`.
 * - panel-title-description-rule, panel-units-rule, panel-no-targets-rule (stricter: every panel
 *   type but rows; a unit is required even where value mappings exist, and override units must be
 *   valid too).
 * - target-promql-rule: every expression is non-empty, valid PromQL.
 * - target-rate-interval-rule (stricter: every range selector, in any function, is
 *   `[$__rate_interval]`, not just those in rate and irate).
 * - target-job-rule, target-instance-rule: every selector has `job=~"$job"` and
 *   `instance=~"$instance"`.
 * - target-counter-agg-rule: a `*_total` selector only directly inside rate, irate or increase.
 * - uneditable-dashboard: `editable: false`.
 *
 * Plus one rule of this project: every panel sets its thresholds (absolute, from a base step).
 * The LogQL rules do not apply (no Loki targets).
 */
import { parser } from '@prometheus-io/lezer-promql'

type SyntaxNode = ReturnType<typeof parser.parse>['topNode']

export interface LintProblem {
  rule: string
  /** `dashboard`, `variable <name>`, `panel <id> "<title>"`, `… target <refId>`. */
  where: string
  message: string
}

/** Grafana unit ids (packages/grafana-data/src/valueFormats/categories.ts) these dashboards may use. */
export const VALID_UNITS: ReadonlySet<string> = new Set([
  'none',
  'string',
  'short',
  'percent',
  'percentunit',
  'locale',
  'sci',
  'bytes',
  'decbytes',
  'ns',
  'µs',
  'ms',
  's',
  'm',
  'h',
  'd',
  'dtdurationms',
  'dtdurations',
  'dthms',
  'dtdhms',
  'clockms',
  'clocks',
  'hertz',
  'cps',
  'ops',
  'reqps',
  'rps',
  'wps',
  'iops',
  'cpm',
  'opm',
  'rpm',
  'wpm',
  'dateTimeAsIso',
  'dateTimeFromNow',
  'bool',
  'bool_yes_no',
  'bool_on_off',
])

const DATASOURCE_UIDS = new Set(['$datasource', '${datasource}'])
const TEMPLATE_FUNCTIONS = new Set(['label_names', 'label_values', 'metrics', 'query_result'])
const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase'])
/** What `$__rate_interval` becomes before parsing, to recognise it in the tree afterwards. */
const RATE_INTERVAL_SENTINEL = '987654321ms'

type Json = Record<string, unknown>

interface Variable {
  name?: string
  label?: string
  type?: string
  query?: unknown
  datasource?: unknown
  multi?: boolean
  allValue?: string
  refresh?: number
}

interface Target {
  refId?: string
  expr?: string
  datasource?: unknown
}

interface Panel {
  id?: number
  type?: string
  title?: string
  description?: string
  datasource?: unknown
  targets?: Target[]
  panels?: Panel[]
  fieldConfig?: {
    defaults?: { unit?: string; thresholds?: { mode?: string; steps?: Array<{ value: unknown }> } }
    overrides?: Array<{ properties?: Array<{ id?: string; value?: unknown }> }>
  }
}

/** Every panel, rows' collapsed panels included, in order. */
export function allPanels(dashboard: Json): Panel[] {
  const out: Panel[] = []
  const walk = (panels: Panel[] | undefined): void => {
    for (const p of panels ?? []) {
      out.push(p)
      walk(p.panels)
    }
  }
  walk(dashboard.panels as Panel[] | undefined)
  return out
}

export function templateVariables(dashboard: Json): Variable[] {
  return (dashboard.templating as { list?: Variable[] } | undefined)?.list ?? []
}

/** A query variable's query text, whether stored as a string or as `{ query }`. */
export function variableQuery(v: Variable): string {
  if (typeof v.query === 'string') return v.query
  const q = (v.query as { query?: unknown } | undefined)?.query
  return typeof q === 'string' ? q : ''
}

/**
 * A query variable's templating function and its arguments: `label_values(sel, label)` ->
 * `{ fn, expr: sel, label }`, `label_values(label)` -> no expression, `query_result(expr)` ->
 * `{ fn, expr }`.
 */
export function templateExpression(query: string): {
  fn: string
  expr: string | undefined
  label?: string
} {
  const m = /^\s*([a-z_]+)\((.*)\)\s*$/s.exec(query)
  if (!m) return { fn: '', expr: undefined }
  const fn = m[1]!
  const args = m[2]!
  if (fn === 'label_values' || fn === 'label_names') {
    const comma = lastTopLevelComma(args)
    if (fn === 'label_values') {
      if (comma === -1) return { fn, expr: undefined, label: args.trim() }
      return { fn, expr: args.slice(0, comma).trim(), label: args.slice(comma + 1).trim() }
    }
    return { fn, expr: args.trim() || undefined }
  }
  return { fn, expr: args.trim() || undefined }
}

function lastTopLevelComma(s: string): number {
  let depth = 0
  let quote: string | undefined
  let last = -1
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'" || c === '`') quote = c
    else if (c === '(' || c === '{' || c === '[') depth++
    else if (c === ')' || c === '}' || c === ']') depth--
    else if (c === ',' && depth === 0) last = i
  }
  return last
}

/**
 * Replaces Grafana variables outside string literals, as the linter does before parsing:
 * `$__rate_interval` by a sentinel duration (recognised by the rate-interval rule), other
 * interval and range variables by `1m`, anything else by its name.
 */
export function expandOutsideStrings(expr: string): string {
  let out = ''
  let quote: string | undefined
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!
    if (quote) {
      out += c
      if (c === '\\' && i + 1 < expr.length) out += expr[++i]
      else if (c === quote) quote = undefined
      continue
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c
      out += c
      continue
    }
    const m = /^(?:\$\{([^}]+)\}|\$(\w+)|\[\[([^[\]]+)\]\])/.exec(expr.slice(i))
    if (c === '$' || (c === '[' && expr[i + 1] === '[')) {
      if (m) {
        const name = (m[1] ?? m[2] ?? m[3]!).split(':')[0]!
        if (name === '__rate_interval') out += RATE_INTERVAL_SENTINEL
        else if (/^__(interval|range|auto)/.test(name)) out += '1m'
        else out += name
        i += m[0].length - 1
        continue
      }
    }
    out += c
  }
  return out
}

/** The syntax errors lezer-promql finds, as positions; empty when the expression parses. */
function syntaxErrors(expr: string): string[] {
  const errors: string[] = []
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}`)
    },
  })
  return errors
}

function text(expr: string, node: SyntaxNode): string {
  return expr.slice(node.from, node.to)
}

function unquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1)
  return JSON.parse(literal.startsWith("'") ? `"${literal.slice(1, -1)}"` : literal) as string
}

/** The problems of one expression under the target-* rules; `rule` names the failing rule. */
export function lintExpression(rawExpr: string): Array<{ rule: string; message: string }> {
  const problems: Array<{ rule: string; message: string }> = []
  if (rawExpr.trim() === '') return [{ rule: 'target-promql-rule', message: 'empty expression' }]
  const expr = expandOutsideStrings(rawExpr)
  const errors = syntaxErrors(expr)
  if (errors.length > 0) {
    return [{ rule: 'target-promql-rule', message: `invalid PromQL: ${errors.join(', ')}` }]
  }
  const tree = parser.parse(expr)
  tree.iterate({
    enter(ref) {
      const node = ref.node
      if (node.name === 'MatrixSelector') {
        const duration = node.getChild('DurationExpr')
        if (!duration || text(expr, duration) !== RATE_INTERVAL_SENTINEL) {
          problems.push({
            rule: 'target-rate-interval-rule',
            message: `range ${duration ? `[${text(expr, duration)}]` : ''} should be [$__rate_interval]`,
          })
        }
      }
      if (node.name === 'SubqueryExpr') {
        problems.push({
          rule: 'target-rate-interval-rule',
          message: 'subqueries are not used here: their range cannot follow $__rate_interval',
        })
      }
      if (node.name !== 'VectorSelector') return
      const matchers = new Map<string, { op: string; value: string }>()
      const labelMatchers = node.getChild('LabelMatchers')
      for (const m of labelMatchers?.getChildren('UnquotedLabelMatcher') ?? []) {
        const name = m.getChild('LabelName')
        const op = m.getChild('MatchOp')
        const value = m.getChild('StringLiteral')
        if (name && op && value) {
          matchers.set(text(expr, name), { op: text(expr, op), value: unquote(text(expr, value)) })
        }
      }
      for (const label of ['job', 'instance']) {
        const m = matchers.get(label)
        if (!m || m.op !== '=~' || m.value !== `$${label}`) {
          problems.push({
            rule: `target-${label}-rule`,
            message: `selector ${text(expr, node)} lacks ${label}=~"$${label}"`,
          })
        }
      }
      const name = node.getChild('Identifier')
      if (name && text(expr, name).endsWith('_total')) {
        const matrix = node.parent
        const body = matrix?.parent
        const call = body?.parent
        const fn = call?.getChild('FunctionIdentifier')
        if (
          matrix?.name !== 'MatrixSelector' ||
          body?.name !== 'FunctionCallBody' ||
          call?.name !== 'FunctionCall' ||
          !fn ||
          !COUNTER_FUNCTIONS.has(text(expr, fn))
        ) {
          problems.push({
            rule: 'target-counter-agg-rule',
            message: `counter ${text(expr, name)} is not inside rate, irate or increase`,
          })
        }
      }
    },
  })
  return problems
}

function datasourceUid(ds: unknown): string | undefined {
  if (typeof ds === 'string') return ds
  const uid = (ds as { uid?: unknown } | undefined)?.uid
  return typeof uid === 'string' ? uid : undefined
}

/** Every problem of one dashboard; empty when it passes. */
export function lintDashboard(dashboard: Json): LintProblem[] {
  const problems: LintProblem[] = []
  const add = (rule: string, where: string, message: string): void => {
    problems.push({ rule, where, message })
  }

  if (dashboard.editable !== false) add('uneditable-dashboard', 'dashboard', 'is editable')

  const vars = templateVariables(dashboard)
  const datasources = vars.filter((v) => v.type?.toLowerCase() === 'datasource')
  if (datasources.length === 0) {
    add('template-datasource-rule', 'dashboard', 'has no templated data source')
  }
  for (const ds of datasources) {
    const where = `variable ${ds.name}`
    if (variableQuery(ds) !== 'prometheus') {
      add('template-datasource-rule', where, `is of type ${variableQuery(ds)}, not prometheus`)
    }
    const okNames = datasources.length === 1 ? ['datasource', 'prometheus_datasource'] : []
    if (!okNames.includes(ds.name ?? '')) {
      add('template-datasource-rule', where, 'should be named datasource')
    }
    const okLabels = datasources.length === 1 ? ['Data source', 'Prometheus data source'] : []
    if (!okLabels.includes(ds.label ?? '')) {
      add('template-datasource-rule', where, `labelled ${ds.label}, should be "Data source"`)
    }
  }
  for (const name of ['job', 'instance']) {
    const rule = `template-${name}-rule`
    const v = vars.find((x) => x.name === name)
    if (!v) {
      add(rule, 'dashboard', `is missing the ${name} variable`)
      continue
    }
    const where = `variable ${name}`
    if (!DATASOURCE_UIDS.has(datasourceUid(v.datasource) ?? '')) {
      add(rule, where, 'should use data source $datasource')
    }
    if (v.type !== 'query') add(rule, where, `is of type ${v.type}, not query`)
    const label = name[0]!.toUpperCase() + name.slice(1)
    if (v.label !== label) add(rule, where, `labelled ${v.label}, should be ${label}`)
    if (v.multi !== true) add(rule, where, 'should be a multi select')
    if (v.allValue !== '.+') add(rule, where, `allValue is ${v.allValue}, should be .+`)
  }
  for (const v of vars.filter((x) => x.type === 'query')) {
    const where = `variable ${v.name}`
    const query = variableQuery(v)
    const { fn, expr } = templateExpression(query)
    if (!TEMPLATE_FUNCTIONS.has(fn)) {
      add('template-label-promql-rule', where, `invalid templated query ${query}`)
    } else if (expr !== undefined && syntaxErrors(expandOutsideStrings(expr)).length > 0) {
      add('template-label-promql-rule', where, `invalid PromQL in ${query}`)
    }
    if (v.refresh !== 2) {
      add('template-on-time-change-reload-rule', where, `refresh is ${v.refresh}, should be 2`)
    }
  }

  for (const p of allPanels(dashboard)) {
    if (p.type === 'row') continue
    const where = `panel ${p.id} "${p.title ?? ''}"`
    if (!DATASOURCE_UIDS.has(datasourceUid(p.datasource) ?? '')) {
      add('panel-datasource-rule', where, `uses data source ${JSON.stringify(p.datasource)}`)
    }
    if (!p.title || !p.description) {
      add('panel-title-description-rule', where, 'has no title or no description')
    }
    const unit = p.fieldConfig?.defaults?.unit
    if (!unit || !VALID_UNITS.has(unit)) {
      add('panel-units-rule', where, `has no or an invalid unit: ${JSON.stringify(unit)}`)
    }
    for (const o of p.fieldConfig?.overrides ?? []) {
      for (const prop of o.properties ?? []) {
        if (prop.id === 'unit' && !VALID_UNITS.has(String(prop.value))) {
          add('panel-units-rule', where, `override has an invalid unit ${String(prop.value)}`)
        }
      }
    }
    const thresholds = p.fieldConfig?.defaults?.thresholds
    const steps = thresholds?.steps ?? []
    const values = steps.slice(1).map((s) => s.value)
    if (
      thresholds?.mode !== 'absolute' ||
      steps.length === 0 ||
      steps[0]!.value !== null ||
      values.some((v, i) => typeof v !== 'number' || (i > 0 && v <= (values[i - 1] as number)))
    ) {
      add('panel-thresholds', where, 'has no explicit ascending absolute thresholds')
    }
    if (!p.targets || p.targets.length === 0) {
      add('panel-no-targets-rule', where, 'has no targets')
    }
    for (const t of p.targets ?? []) {
      const tWhere = `${where} target ${t.refId}`
      if (!DATASOURCE_UIDS.has(datasourceUid(t.datasource) ?? '')) {
        add('panel-datasource-rule', tWhere, `uses data source ${JSON.stringify(t.datasource)}`)
      }
      for (const problem of lintExpression(t.expr ?? '')) {
        add(problem.rule, tWhere, `${problem.message} in ${t.expr}`)
      }
    }
  }
  return problems
}

/** Every PromQL expression of a dashboard: targets, and the selectors of its query variables. */
export function dashboardExpressions(
  dashboard: Json,
): Array<{ where: string; expr: string; kind: 'target' | 'variable' }> {
  const out: Array<{ where: string; expr: string; kind: 'target' | 'variable' }> = []
  for (const v of templateVariables(dashboard)) {
    if (v.type !== 'query') continue
    const { expr } = templateExpression(variableQuery(v))
    if (expr !== undefined) out.push({ where: `variable ${v.name}`, expr, kind: 'variable' })
  }
  for (const p of allPanels(dashboard)) {
    for (const t of p.targets ?? []) {
      if (t.expr)
        out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr, kind: 'target' })
    }
  }
  return out
}
