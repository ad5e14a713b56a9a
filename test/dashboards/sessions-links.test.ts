/**
 * The host dashboard's links to the exporter's live sessions page (/sessions, served with
 * --web.enable-sessions): every panel where an operator asks "which connection?" has a data link
 * to the scraped instance's own page, with the page's filter that fits the panel; the top bar has
 * a "Live sessions" link; the URLs name only the dashboard's variables and, interpolated as
 * Grafana does, open http(s)://<instance>/sessions.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { renderDashboards } from '../../dashboards/src/render.ts'
import { allPanels, templateVariables } from '../helpers/dashboard-lint.ts'
import { metricNames, substituteGrafanaVariables } from '../helpers/promql.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')

type Json = Record<string, unknown>
interface Link {
  title?: string
  url?: string
  type?: string
  targetBlank?: boolean
  includeVars?: boolean
  keepTime?: boolean
}
interface Panel {
  id?: number
  type?: string
  title?: string
  targets?: Array<{ expr?: string }>
  fieldConfig?: { defaults?: { links?: Link[] } }
}

const BASE = '${sessions_scheme}://${instance:raw}/sessions'
const URLS = { all: BASE, stale: `${BASE}?stale=1`, at_max: `${BASE}?at_max=1` } as const

/** Metrics whose panels answer "which connection is at MaxSessions?": link with ?at_max=1. */
const AT_MAX_METRICS = ['sshd_connections_at_max_sessions', 'sshd_connection_sessions_max']
/** Metrics whose panels answer "which sessions are stale?": link with ?stale=1. */
const STALE_METRICS = ['sshd_stale_sessions']
/** Metrics of connections and sessions now (and pre-auth ones): link to the whole page. */
const CONNECTION_METRICS = [
  'sshd_sessions',
  'sshd_connections',
  'sshd_startups',
  'sshd_oldest_session_age_seconds',
  'sshd_source_connections',
]

/** `${name}` and `$name` in a link's text, `__`-prefixed built-ins included. */
function variablesIn(text: string): string[] {
  return [...text.matchAll(/\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)/g)].map(
    (m) => (m[1] ?? m[2])!,
  )
}

/**
 * A data link's URL as Grafana opens it: each variable replaced by its value in the format it
 * names, or else encodeURI'd (Grafana's default for data links, `uriencode`); the rest as is.
 */
function interpolate(url: string, values: Record<string, string>): URL {
  const replaced = url.replace(
    /\$\{([A-Za-z_]\w*)(?::([^}]*))?\}/g,
    (_all, name: string, format?: string) => {
      const value = values[name]
      assert.ok(value !== undefined, `no value for $${name}`)
      if (format === undefined) return encodeURI(value)
      assert.equal(format, 'raw', `format ${format} of $${name}`)
      return value
    },
  )
  return new URL(replaced)
}

describe('links to the live sessions page', async () => {
  const rendered = await renderDashboards()
  const host = JSON.parse(rendered.find((r) => r.file === 'sshd-host.json')!.text) as Json
  const panels = (allPanels(host) as Panel[]).filter((p) => p.type !== 'row')
  const metricsOf = (p: Panel) =>
    (p.targets ?? []).flatMap((t) =>
      metricNames(substituteGrafanaVariables(t.expr ?? '', { __rate_interval: '1m' })),
    )
  const linksOf = (p: Panel) => p.fieldConfig?.defaults?.links ?? []
  const where = (p: Panel) => `panel ${p.id} "${p.title}"`

  it('has a sessions_scheme variable: http or https, http by default', () => {
    const v = templateVariables(host).find((x) => x.name === 'sessions_scheme') as
      (Json & { current?: { value?: unknown }; options?: Array<{ value?: unknown }> }) | undefined
    assert.ok(v, 'a sessions_scheme variable')
    assert.equal(v.type, 'custom')
    assert.equal(v.query, 'http,https')
    assert.equal(v.multi, false)
    assert.equal(v.includeAll, false)
    assert.equal(v.current?.value, 'http')
    assert.deepEqual(
      v.options?.map((o) => o.value),
      ['http', 'https'],
    )
  })

  it('every MaxSessions panel links to the connections at MaxSessions', () => {
    const matching = panels.filter(
      (p) =>
        metricsOf(p).some((m) => AT_MAX_METRICS.includes(m)) ||
        (p.targets ?? []).some((t) => /event="no_more_sessions"/.test(t.expr ?? '')),
    )
    assert.ok(matching.length >= 4, `MaxSessions panels: ${matching.map(where).join(', ')}`)
    for (const p of matching) {
      assert.ok(
        linksOf(p).some((l) => l.url === URLS.at_max),
        `${where(p)} links to ${URLS.at_max}: ${JSON.stringify(linksOf(p))}`,
      )
    }
  })

  it('every stale sessions panel links to the stale sessions', () => {
    const matching = panels.filter((p) => metricsOf(p).some((m) => STALE_METRICS.includes(m)))
    assert.ok(matching.length >= 1, 'a panel queries sshd_stale_sessions')
    for (const p of matching) {
      assert.ok(
        linksOf(p).some((l) => l.url === URLS.stale),
        `${where(p)} links to ${URLS.stale}: ${JSON.stringify(linksOf(p))}`,
      )
    }
  })

  it('every other connections, sessions and MaxStartups panel links to the whole page', () => {
    const filtered = [...AT_MAX_METRICS, ...STALE_METRICS]
    const matching = panels.filter(
      (p) =>
        metricsOf(p).some((m) => CONNECTION_METRICS.includes(m)) &&
        !metricsOf(p).some((m) => filtered.includes(m)),
    )
    for (const title of [
      'Sessions',
      'Authenticated connections',
      'Startups (pre-auth)',
      'MaxStartups used',
      'Connections by state',
      'Startups against MaxStartups',
    ]) {
      assert.ok(
        matching.some((p) => p.title === title),
        `${title} is among the panels checked`,
      )
    }
    for (const p of matching) {
      assert.ok(
        linksOf(p).some((l) => l.url === URLS.all),
        `${where(p)} links to ${URLS.all}: ${JSON.stringify(linksOf(p))}`,
      )
    }
  })

  it('every data link opens the page, says so, and names only dashboard variables', () => {
    const names = new Set(templateVariables(host).map((v) => v.name))
    const links = panels.flatMap((p) => linksOf(p).map((l) => ({ p, l })))
    assert.ok(links.length >= 10, `data links: ${links.length}`)
    for (const { p, l } of links) {
      assert.ok(
        (Object.values(URLS) as string[]).includes(l.url ?? ''),
        `${where(p)}: ${l.url} is not the sessions page`,
      )
      assert.match(l.title ?? '', /on \$\{instance\} \(needs --web\.enable-sessions\)$/, where(p))
      assert.equal(l.targetBlank, true, where(p))
      assert.deepEqual(Object.keys(l).sort(), ['targetBlank', 'title', 'url'], where(p))
      for (const name of variablesIn(`${l.url} ${l.title}`)) {
        assert.ok(names.has(name), `${where(p)}: $${name} is not a dashboard variable`)
      }
    }
  })

  it('has a "Live sessions" dashboard link to the page', () => {
    const links = (host.links ?? []) as Link[]
    const live = links.filter((l) => l.title === 'Live sessions')
    assert.equal(live.length, 1, JSON.stringify(links))
    const l = live[0]!
    assert.equal(l.type, 'link')
    assert.equal(l.url, URLS.all)
    // includeVars and keepTime would append var-… and from/to: the page takes neither.
    assert.equal(l.includeVars, false)
    assert.equal(l.keepTime, false)
    assert.equal(l.targetBlank, true)
  })

  it('the URLs, interpolated, open the scraped instance, with its scheme and the filter', () => {
    for (const [filter, url] of Object.entries(URLS)) {
      for (const scheme of ['http', 'https']) {
        const u = interpolate(url, { sessions_scheme: scheme, instance: 'ssh-1.example.org:9922' })
        assert.equal(u.protocol, `${scheme}:`)
        assert.equal(u.host, 'ssh-1.example.org:9922')
        assert.equal(u.pathname, '/sessions')
        assert.equal(u.search, filter === 'all' ? '' : `?${filter}=1`)
      }
      const v6 = interpolate(url, { sessions_scheme: 'http', instance: '[2001:db8::1]:9922' })
      assert.equal(v6.host, '[2001:db8::1]:9922')
    }
    // Without :raw, Grafana's encodeURI would turn the brackets into %5B and %5D.
    assert.throws(() =>
      interpolate(URLS.all.replace(':raw', ''), {
        sessions_scheme: 'http',
        instance: '[2001:db8::1]:9922',
      }),
    )
  })

  it('dashboards/README.md says what the links need', async () => {
    const readme = await readFile(path.join(ROOT, 'dashboards', 'README.md'), 'utf8')
    assert.match(readme, /--web\.enable-sessions/)
    assert.match(readme, /sessions_scheme/)
  })
})
