/**
 * What a scrape of a synthetic tree must say, against the tree's `expected` (bench/procfs-builder.ts):
 * the bench checks every measured exporter's last scrape with it, so that a fast scrape is also a
 * right one.
 */
import type { BuiltTree } from './procfs-builder.ts'

export interface Sample {
  labels: Record<string, string>
  value: number
}

/** The samples of one metric in the text format (labels without escapes, as sshd's are). */
export function samples(text: string, name: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const next = line.charAt(name.length)
    if (next !== '{' && next !== ' ') continue // a longer name
    const labels: Record<string, string> = {}
    if (next === '{') {
      const end = line.indexOf('}')
      for (const m of line.slice(name.length + 1, end).matchAll(/(\w+)="([^"]*)"/g)) {
        labels[m[1]!] = m[2]!
      }
    }
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) })
  }
  return out
}

function sum(text: string, name: string): number | null {
  const all = samples(text, name)
  return all.length === 0 ? null : all.reduce((n, s) => n + s.value, 0)
}

function value(text: string, name: string, labels: Record<string, string>): number | null {
  const keys = Object.keys(labels)
  const match = samples(text, name).find(
    (s) =>
      Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k]),
  )
  return match?.value ?? null
}

export interface CheckOptions {
  /**
   * The build reports sshd instances (sshd_instance_info, a `port` label on sshd_startups and
   * sshd_max_startups): the builds from issue 14 on. Earlier ones are checked without them.
   */
  instances: boolean
}

/** What differs between the scrape and the tree's `expected`; empty when nothing does. */
export function checkScrape(body: string, tree: BuiltTree, options: CheckOptions): string[] {
  const e = tree.expected
  const problems: string[] = []
  const expect = (what: string, got: number | null, want: number | null): void => {
    if (got !== want) problems.push(`${what}: ${got ?? 'absent'}, expected ${want ?? 'absent'}`)
  }
  expect('sshd_up', value(body, 'sshd_up', {}), 1)
  expect('sum of sshd_sessions', sum(body, 'sshd_sessions'), e.sessions)
  expect('preauth connections', value(body, 'sshd_connections', { state: 'preauth' }), e.preauth)
  expect(
    'authenticated connections',
    value(body, 'sshd_connections', { state: 'authenticated' }),
    e.authenticated,
  )
  expect(
    'sshd_multiplexed_connections',
    value(body, 'sshd_multiplexed_connections', {}),
    e.multiplexed,
  )
  expect(
    'sshd_connection_sessions_max',
    value(body, 'sshd_connection_sessions_max', {}),
    e.sessionsMax,
  )
  expect(
    'sum of sshd_source_connections',
    sum(body, 'sshd_source_connections'),
    e.establishedConnections,
  )
  // Sessions by user, unless more users than --collector.processes.max-users summed some into
  // `other` (exported at 0 otherwise, from issue 14's builds on).
  const byUser = samples(body, 'sshd_sessions')
  if (!byUser.some((s) => s.labels.user === 'other' && s.value > 0)) {
    const got = Object.fromEntries(
      byUser.filter((s) => s.labels.user !== 'other').map((s) => [s.labels.user!, s.value]),
    )
    for (const user of new Set([...Object.keys(got), ...Object.keys(e.sessionsByUser)])) {
      expect(`sshd_sessions{user="${user}"}`, got[user] ?? null, e.sessionsByUser[user] ?? null)
    }
  }
  const port = options.instances ? { port: '22' } : {}
  if (options.instances) {
    const mode = tree.mode === 'per_connection' ? 'per_connection' : 'process'
    expect(
      `sshd_instance_info{port="22",mode="${mode}"}`,
      value(body, 'sshd_instance_info', { ...port, mode }),
      1,
    )
    expect('sshd_instance_info series', samples(body, 'sshd_instance_info').length, 1)
  }
  // Per-connection sshd has no listener counting startups: no series at all.
  if (e.startups === null) expect('sshd_startups series', samples(body, 'sshd_startups').length, 0)
  else expect('sshd_startups', value(body, 'sshd_startups', port), e.startups)
  if (e.maxStartups === null) {
    expect('sshd_max_startups series', samples(body, 'sshd_max_startups').length, 0)
  } else {
    for (const bound of ['begin', 'full'] as const) {
      expect(
        `sshd_max_startups{bound="${bound}"}`,
        value(body, 'sshd_max_startups', { ...port, bound }),
        e.maxStartups[bound],
      )
    }
  }
  return problems
}

/** Throws with every difference when the scrape is not what the tree says. */
export function assertScrape(
  body: string,
  tree: BuiltTree,
  options: CheckOptions,
  who = 'the exporter',
): void {
  const problems = checkScrape(body, tree, options)
  if (problems.length > 0) {
    throw new Error(`${who} on ${tree.root} (${tree.mode}): ${problems.join('; ')}`)
  }
}
