/**
 * PromQL checks for the rule and dashboard tests: parse an expression with Prometheus' own lezer
 * grammar, list its syntax errors and the metric names it selects, and read the exported
 * metrics from the table of docs/metrics.md. Grafana's variables are not PromQL: substitute them
 * first (substituteGrafanaVariables).
 */
import { parser } from '@prometheus-io/lezer-promql'

type Tree = ReturnType<typeof parser.parse>
type SyntaxNode = Tree['topNode']

export function parsePromQL(expr: string): Tree {
  return parser.parse(expr)
}

/** The syntax errors in `expr`, each with its offset and the text around it; empty when valid. */
export function parseErrors(expr: string): string[] {
  const errors: string[] = []
  parsePromQL(expr).iterate({
    enter(node) {
      if (!node.type.isError) return
      const near = expr.slice(Math.max(0, node.from - 10), node.to + 10)
      errors.push(`syntax error at offset ${node.from}: near ${JSON.stringify(near)}`)
    },
  })
  return errors
}

function metricNameOf(selector: SyntaxNode, expr: string): string | undefined {
  const id = selector.getChild('Identifier')
  if (id !== null) return expr.slice(id.from, id.to)
  // {__name__="x"}; a regex on __name__ cannot be resolved, so it is returned as written and
  // fails any allow-list.
  const matchers = selector.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []
  for (const matcher of matchers) {
    const label = matcher.getChild('LabelName')
    if (label === null || expr.slice(label.from, label.to) !== '__name__') continue
    const op = matcher.getChild('MatchOp')
    const value = matcher.getChild('StringLiteral')
    if (op === null || value === null) continue
    const literal = expr.slice(value.from, value.to)
    if (op.getChild('EqlSingle') !== null) return unquote(literal)
    return `{__name__${expr.slice(op.from, op.to)}${literal}}`
  }
  // A quoted name ({"my.metric"}) or none at all ({job="x"}).
  const quoted = selector.getChild('LabelMatchers')?.getChild('QuotedLabelName')
  if (quoted) return unquote(expr.slice(quoted.from, quoted.to))
  return undefined
}

/** A PromQL string literal's value: "…" and '…' with escapes, `…` raw. */
function unquote(literal: string): string {
  const body = literal.slice(1, -1)
  if (literal.startsWith('`')) return body
  try {
    return JSON.parse(`"${body.replace(/\\'/g, "'").replace(/(^|[^\\])"/g, '$1\\"')}"`) as string
  } catch {
    return body
  }
}

/**
 * The metric names `expr` selects, each once, in order of appearance. Selectors without a name
 * (`{job="x"}`) add nothing; a regex on `__name__` is returned as written.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>()
  parsePromQL(expr).iterate({
    enter(node) {
      if (node.name !== 'VectorSelector') return
      const name = metricNameOf(node.node, expr)
      if (name !== undefined) names.add(name)
      return false
    },
  })
  return [...names]
}

/** Grafana's built-in interval variables, replaced by a duration (or, for `_ms`/`_s`, a number). */
const GRAFANA_BUILTINS: Record<string, string> = {
  __rate_interval: '5m',
  __interval: '1m',
  __range: '1h',
  __interval_ms: '60000',
  __range_ms: '3600000',
  __range_s: '3600',
}

/**
 * Grafana's template variables (`$name`, `${name}`, `${name:format}`, `[[name]]`) replaced so that
 * the result is PromQL: built-in intervals by a duration, every other variable by `values[name]`
 * or else the placeholder `x` (fine inside label matchers, the usual place). `$1` and the like
 * (label_replace's replacement) are not variables and stay.
 */
export function substituteGrafanaVariables(
  expr: string,
  values: Readonly<Record<string, string>> = {},
): string {
  return expr.replace(
    /\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]|\$([A-Za-z_]\w*)/g,
    (_all, braced?: string, bracketed?: string, plain?: string) => {
      const name = braced ?? bracketed ?? plain ?? ''
      return values[name] ?? GRAFANA_BUILTINS[name] ?? 'x'
    },
  )
}

/**
 * The metric names in the table of docs/metrics.md (the first table after its `# Metrics` title):
 * the first cell of each row, backticks removed. Wildcard rows (`process_*`, `nodejs_*`) are
 * returned as written; use isCatalogued to match against them.
 */
export function catalogueMetricNames(metricsDoc: string): string[] {
  const lines = metricsDoc.split('\n')
  const start = lines.findIndex((l) => /^#\s+Metrics\s*$/.test(l))
  if (start < 0) throw new Error('docs/metrics.md has no "# Metrics" title')
  const names: string[] = []
  let inTable = false
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break
    if (!line.startsWith('|')) {
      if (inTable) break
      continue
    }
    inTable = true
    const first = line.split('|')[1]?.trim() ?? ''
    for (const m of first.matchAll(/`([^`]+)`/g)) names.push(m[1] as string)
  }
  if (names.length === 0) throw new Error('docs/metrics.md has no table under "# Metrics"')
  return names
}

/** Whether `name` is in `catalogue`, where an entry ending in `*` matches any name it prefixes. */
export function isCatalogued(name: string, catalogue: readonly string[]): boolean {
  return catalogue.some((c) => (c.endsWith('*') ? name.startsWith(c.slice(0, -1)) : name === c))
}
