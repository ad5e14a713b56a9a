/**
 * The shipped Prometheus rule file, as the tests read it, and the one change end-to-end tests
 * make to it: shorter `for:` and range windows, so that alerts fire and resolve in seconds.
 */
import path from 'node:path'
import { stringify } from 'yaml'

export const RULES_FILE = path.join(
  import.meta.dirname,
  '..',
  '..',
  'dashboards',
  'rules',
  'sshd-exporter.rules.yml',
)

export interface Rule {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

export interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[]
}

/** A range selector's window (`[5m]`, `[1h]`); subqueries (`[5m:1m]`) are not matched. */
const RANGE_WINDOW = /\[\d+[smhdwy]\]/g

/**
 * The rule file with every alert's non-zero `for:` set to `opts.for` and every range window in
 * an alert's expression set to `opts.range`; recording rules, labels and annotations unchanged.
 */
export function shortenedRules(file: RuleFile, opts: { for: string; range: string }): string {
  return stringify({
    groups: file.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) =>
        r.alert === undefined
          ? r
          : {
              ...r,
              expr: r.expr.replace(RANGE_WINDOW, `[${opts.range}]`),
              ...(r.for !== undefined && r.for !== '0s' ? { for: opts.for } : {}),
            },
      ),
    })),
  })
}
