/**
 * helm/sshd-exporter without a helm binary: the values (the chart's and every ci/ set, merged as
 * Helm merges them) against values.schema.json, which must also refuse wrong values; every
 * `.Values` path a template names exists, and every value is used; the templates' actions are
 * balanced and name only defined templates; the rules and dashboards are symlinks into
 * dashboards/, not copies; Chart.yaml; and the DaemonSet runs with exactly the capabilities
 * test/real/privileges.test.ts proves an exporter running as uid 0 needs.
 */
import assert from 'node:assert/strict'
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { ROOT_CAPABILITIES } from './helpers/privileges.ts'

const REPO = join(import.meta.dirname, '..')
const CHART = join(REPO, 'helm', 'sshd-exporter')
const TEMPLATES = join(CHART, 'templates')

type Values = Record<string, unknown>

function readYaml(path: string): unknown {
  return parse(readFileSync(path, 'utf8'))
}

function isMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Helm's merge of a values file over the chart's: maps merge key by key, a null removes the key,
 * anything else (lists included) replaces.
 */
function coalesce(base: Values, over: Values): Values {
  const out: Values = { ...base }
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key]
    else if (isMap(value) && isMap(out[key])) out[key] = coalesce(out[key], value)
    else out[key] = value
  }
  return out
}

const values = readYaml(join(CHART, 'values.yaml')) as Values
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object
const ciFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('.yaml'))

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
  return ajv.compile(schema)
}

/** Every leaf path of the values (a map's key path; lists and empty maps are leaves). */
function leafPaths(v: Values, prefix = ''): string[] {
  const out: string[] = []
  for (const [key, value] of Object.entries(v)) {
    const path = prefix === '' ? key : `${prefix}.${key}`
    if (isMap(value) && Object.keys(value).length > 0) out.push(...leafPaths(value, path))
    else out.push(path)
  }
  return out
}

function has(v: Values, path: string): boolean {
  let cursor: unknown = v
  for (const key of path.split('.')) {
    if (!isMap(cursor) || !(key in cursor)) return false
    cursor = cursor[key]
  }
  return true
}

function get(v: Values, path: string): unknown {
  let cursor: unknown = v
  for (const key of path.split('.')) cursor = isMap(cursor) ? cursor[key] : undefined
  return cursor
}

// Templates: their actions, in order.

interface Action {
  /** The action's text, trim markers and spaces removed. */
  text: string
  /** 1-based line of its `{{`. */
  line: number
  comment: boolean
}

/** The `{{ … }}` actions of a template, comments included (and marked). */
function actions(source: string): Action[] {
  const out: Action[] = []
  let at = 0
  for (;;) {
    const open = source.indexOf('{{', at)
    if (open < 0) return out
    const line = source.slice(0, open).split('\n').length
    let body = open + 2
    if (source[body] === '-') body++
    const rest = source.slice(body)
    const comment = /^\s*\/\*/.test(rest)
    let close: number
    if (comment) {
      const endComment = source.indexOf('*/', body)
      assert.ok(endComment >= 0, `line ${line}: unterminated comment`)
      close = source.indexOf('}}', endComment)
    } else {
      close = source.indexOf('}}', body)
    }
    assert.ok(close >= 0, `line ${line}: unterminated action`)
    let end = close
    if (source[end - 1] === '-') end--
    out.push({ text: source.slice(body, end).trim(), line, comment })
    at = close + 2
  }
}

const BLOCK_KEYWORDS = new Set(['if', 'with', 'range', 'define', 'block'])

interface Block {
  keyword: string
  line: number
  /** In the else branch (where `with` and `range` give `.` back). */
  inElse: boolean
}

interface Checked {
  /** Every `.Values` path named, e.g. `webConfig.tls`. */
  paths: Set<string>
  /** Templates included or named. */
  includes: Set<string>
  /** Templates defined. */
  defines: Set<string>
}

/**
 * Checks that a template's blocks are balanced (every if/with/range/define/block ends once, an
 * else only in if/with/range) and that `.Values` is only named where `.` is the root (else
 * `$.Values`); collects the paths, includes and defines.
 */
function checkTemplate(name: string, source: string, into: Checked): void {
  const stack: Block[] = []
  for (const a of actions(source)) {
    if (a.comment) continue
    const where = `${name}:${a.line}`
    const keyword = /^([a-z]+)\b/.exec(a.text)?.[1] ?? ''
    // Paths are read in the action's own pipeline, before its block opens.
    const rebound = stack.some((b) => (b.keyword === 'with' || b.keyword === 'range') && !b.inElse)
    for (const m of a.text.matchAll(/(\$?)\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
      into.paths.add(m[2]!.slice(1))
      assert.ok(
        m[1] === '$' || !rebound || keyword === 'end',
        `${where}: .Values inside with/range means the rebound dot; write $.Values`,
      )
    }
    for (const m of a.text.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)) into.includes.add(m[1]!)
    if (BLOCK_KEYWORDS.has(keyword)) {
      if (keyword === 'define' || keyword === 'block') {
        const defined = /^(?:define|block)\s+"([^"]+)"/.exec(a.text)?.[1]
        assert.ok(defined, `${where}: ${keyword} without a name`)
        into.defines.add(defined)
        assert.equal(stack.length, 0, `${where}: define inside a block`)
      }
      stack.push({ keyword, line: a.line, inElse: false })
    } else if (keyword === 'else') {
      const top = stack.at(-1)
      assert.ok(
        top && ['if', 'with', 'range'].includes(top.keyword),
        `${where}: else outside if/with/range`,
      )
      // `else if` and `else with` stay in the same block; only a plain else gives `.` back.
      if (!/^else\s+(if|with)\b/.test(a.text)) top.inElse = true
    } else if (keyword === 'end') {
      assert.ok(stack.pop(), `${where}: end without a block`)
    }
  }
  assert.deepEqual(
    stack.map((b) => `${b.keyword} at line ${b.line}`),
    [],
    `${name}: blocks left open`,
  )
}

const templateFiles = readdirSync(TEMPLATES).sort()
const checked: Checked = { paths: new Set(), includes: new Set(), defines: new Set() }
for (const f of templateFiles) {
  checkTemplate(f, readFileSync(join(TEMPLATES, f), 'utf8'), checked)
}

describe('helm chart: values', () => {
  it('values.schema.json is a valid draft-07 schema', () => {
    const ajv = new Ajv({ strict: true })
    assert.equal(ajv.validateSchema(schema), true, JSON.stringify(ajv.errors))
    assert.equal(
      (schema as { $schema?: string }).$schema,
      'http://json-schema.org/draft-07/schema#',
    )
  })

  it('values.yaml and every ci/ set, merged as Helm merges them, pass the schema', () => {
    const validate = validator()
    assert.ok(validate(values), JSON.stringify(validate.errors))
    assert.ok(ciFiles.length >= 3, ciFiles.join())
    for (const f of ciFiles) {
      const over = (readYaml(join(CHART, 'ci', f)) ?? {}) as Values
      assert.ok(isMap(over), f)
      const merged = coalesce(values, over)
      assert.ok(validate(merged), `${f}: ${JSON.stringify(validate.errors)}`)
    }
  })

  it('the schema refuses wrong values', () => {
    const validate = validator()
    const wrong: [string, Values][] = [
      ['a negative port', { containerPort: -1 }],
      ['a port too high', { service: { port: 70000 } }],
      ['flags as one string', { extraArgs: '--log.level=debug' }],
      ['a flag without --', { extraArgs: ['log.level=debug'] }],
      ['an unknown key', { replicaCount: 2 }],
      ['a misspelt nested key', { serviceMonitor: { enable: true } }],
      [
        'a capability with CAP_',
        { securityContext: { capabilities: { add: ['CAP_SYS_PTRACE'] } } },
      ],
      ['an unknown events source', { events: { source: 'syslog' } }],
      ['a digest that is a tag', { image: { digest: 'latest' } }],
      ['a pull policy', { image: { pullPolicy: 'always' } }],
      ['a Localhost AppArmor profile without its name', { appArmorProfile: { type: 'Localhost' } }],
      ['an interval in words', { serviceMonitor: { interval: '30 seconds' } }],
      ['a relative journal directory', { events: { journalDirectory: 'var/log/journal' } }],
      ['a label that is a number', { commonLabels: { team: 1 } }],
    ]
    for (const [what, over] of wrong) {
      assert.equal(validate(coalesce(values, over)), false, `accepted ${what}`)
    }
  })

  it('every .Values path the templates name exists, and every value is used', () => {
    for (const path of checked.paths)
      assert.ok(has(values, path), `.Values.${path} not in values.yaml`)
    const used = [...checked.paths]
    for (const leaf of leafPaths(values)) {
      assert.ok(
        used.some((p) => leaf === p || leaf.startsWith(`${p}.`)),
        `${leaf} is in values.yaml but no template uses it`,
      )
    }
  })

  it('the README lists every value, and nothing else', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8')
    const listed = [...readme.matchAll(/^\| `([A-Za-z0-9_.]+)` +\|/gm)].map((m) => m[1]!)
    // A value is listed itself, or as a whole with the object holding it.
    for (const leaf of leafPaths(values)) {
      assert.ok(
        listed.some((k) => leaf === k || leaf.startsWith(`${k}.`)),
        `${leaf} is not in README.md`,
      )
    }
    for (const key of listed) assert.ok(has(values, key), `README.md lists ${key}, not a value`)
    assert.equal(new Set(listed).size, listed.length, 'each once')
  })
})

describe('helm chart: templates', () => {
  it('has the templates it should', () => {
    for (const f of [
      '_helpers.tpl',
      'daemonset.yaml',
      'service.yaml',
      'serviceaccount.yaml',
      'servicemonitor.yaml',
      'prometheusrule.yaml',
      'dashboards-configmap.yaml',
      'web-config-secret.yaml',
      'NOTES.txt',
    ]) {
      assert.ok(templateFiles.includes(f), f)
    }
  })

  it('includes only templates it defines', () => {
    for (const name of checked.includes)
      assert.ok(checked.defines.has(name), `${name} is not defined`)
    for (const name of checked.defines)
      assert.ok(checked.includes.has(name), `${name} is never used`)
  })

  it('finds unbalanced blocks and .Values under a rebound dot (the checks themselves)', () => {
    const none = (): Checked => ({ paths: new Set(), includes: new Set(), defines: new Set() })
    assert.throws(() => checkTemplate('t', '{{ if .Values.a }}x', none()), /left open/)
    assert.throws(() => checkTemplate('t', 'x{{ end }}', none()), /end without a block/)
    assert.throws(() => checkTemplate('t', '{{ define "a" }}{{ else }}{{ end }}', none()), /else/)
    assert.throws(
      () => checkTemplate('t', '{{ with .Values.a }}{{ .Values.b }}{{ end }}', none()),
      /\$\.Values/,
    )
    const ok = none()
    checkTemplate(
      't',
      '{{/* {{ if }} */}}{{- with .Values.a }}{{ $.Values.b }}{{ else }}{{ .Values.c }}{{ end -}}',
      ok,
    )
    assert.deepEqual([...ok.paths].sort(), ['a', 'b', 'c'])
  })

  it('runs the DaemonSet with exactly the capabilities uid 0 needs, read-only, on the host', () => {
    const sc = values.securityContext as Values
    const caps = sc.capabilities as { add: string[]; drop: string[] }
    assert.deepEqual(caps.add.map((c) => `CAP_${c}`).sort(), [...ROOT_CAPABILITIES].sort())
    assert.deepEqual(caps.drop, ['ALL'])
    assert.equal(sc.runAsUser, 0, 'the capability set proven for uid 0')
    assert.equal(sc.runAsNonRoot, false)
    assert.equal(sc.privileged, false)
    assert.equal(sc.allowPrivilegeEscalation, false)
    assert.equal(sc.readOnlyRootFilesystem, true)
    assert.deepEqual(values.appArmorProfile, { type: 'Unconfined' })
    for (const f of ciFiles) {
      const merged = coalesce(values, (readYaml(join(CHART, 'ci', f)) ?? {}) as Values)
      assert.deepEqual(get(merged, 'securityContext.capabilities.add'), caps.add, f)
    }

    const ds = readFileSync(join(TEMPLATES, 'daemonset.yaml'), 'utf8')
    assert.match(ds, /^ {6}hostPID: true$/m)
    assert.match(
      ds,
      /^ {10}securityContext:\n {12}\{\{- toYaml \.Values\.securityContext \| nindent 12 \}\}$/m,
    )
    assert.match(ds, /- --path\.procfs=\/host\/proc$/m)
    assert.match(ds, /- --path\.rootfs=\/host\/root$/m)
    for (const [name, mount, host] of [
      ['proc', '/host/proc', '/proc'],
      ['root', '/host/root', '/'],
    ]) {
      assert.match(
        ds,
        new RegExp(`- name: ${name}\\n {14}mountPath: ${mount}\\n(.*\\n)? {14}readOnly: true`),
      )
      assert.match(ds, new RegExp(`- name: ${name}\\n {10}hostPath:\\n {12}path: ${host}\\n`))
    }
    assert.deepEqual(get(values, 'livenessProbe.httpGet.path'), '/-/healthy')
    assert.deepEqual(get(values, 'readinessProbe.httpGet.path'), '/-/ready')
  })
})

describe('helm chart: files', () => {
  it('Chart.yaml has what Helm requires, and the exporter version as appVersion', () => {
    const chart = readYaml(join(CHART, 'Chart.yaml')) as Values
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
    assert.equal(chart.apiVersion, 'v2')
    assert.equal(chart.name, 'sshd-exporter')
    assert.match(String(chart.version), /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'SemVer 2')
    assert.equal(chart.appVersion, pkg.version)
    assert.equal(chart.type, 'application')
    assert.equal(typeof chart.description, 'string')
    assert.equal(typeof chart.kubeVersion, 'string')
  })

  it('the rules and the dashboards are symlinks into dashboards/, not copies', () => {
    const links: [string, string][] = [
      ['files/sshd-exporter.rules.yml', 'dashboards/rules/sshd-exporter.rules.yml'],
    ]
    const dashboards = readdirSync(join(REPO, 'dashboards')).filter((f) => f.endsWith('.json'))
    assert.ok(dashboards.includes('sshd-fleet.json') && dashboards.includes('sshd-host.json'))
    // Every dashboard of the project, none forgotten.
    assert.deepEqual(readdirSync(join(CHART, 'files', 'dashboards')).sort(), dashboards.sort())
    for (const d of dashboards) links.push([`files/dashboards/${d}`, `dashboards/${d}`])
    for (const [link, target] of links) {
      const path = join(CHART, link)
      assert.ok(lstatSync(path).isSymbolicLink(), `${link} is a symlink`)
      assert.ok(!readlinkSync(path).startsWith('/'), `${link} is relative`)
      assert.equal(relative(REPO, realpathSync(path)), target)
    }
  })

  it('the rule file is a Prometheus rule file whose groups the PrometheusRule takes', () => {
    const rules = readYaml(join(CHART, 'files', 'sshd-exporter.rules.yml')) as Values
    const groups = rules.groups as { name: string; rules: Values[] }[]
    assert.ok(Array.isArray(groups) && groups.length > 0)
    for (const g of groups) {
      assert.equal(typeof g.name, 'string')
      assert.ok(Array.isArray(g.rules) && g.rules.length > 0, g.name)
      for (const r of g.rules)
        assert.ok(typeof r.alert === 'string' || typeof r.record === 'string')
    }
    const template = readFileSync(join(TEMPLATES, 'prometheusrule.yaml'), 'utf8')
    assert.match(template, /\.Files\.Get "files\/sshd-exporter\.rules\.yml"/)
    assert.match(template, /toYaml \$rules\.groups/)
  })

  it('the dashboards are Grafana dashboards with uids, for the ConfigMaps', () => {
    for (const f of readdirSync(join(CHART, 'files', 'dashboards'))) {
      const d = JSON.parse(readFileSync(join(CHART, 'files', 'dashboards', f), 'utf8')) as Values
      assert.equal(typeof d.uid, 'string', f)
      assert.equal(typeof d.title, 'string', f)
      // A ConfigMap holds 1 MiB.
      assert.ok(readFileSync(join(CHART, 'files', 'dashboards', f)).length < 1024 * 1024, f)
    }
    const template = readFileSync(join(TEMPLATES, 'dashboards-configmap.yaml'), 'utf8')
    assert.match(template, /\.Files\.Glob "files\/dashboards\/\*\.json"/)
    assert.deepEqual(get(values, 'dashboards.labels'), { grafana_dashboard: '1' })
  })
})
