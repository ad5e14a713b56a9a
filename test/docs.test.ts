/**
 * The README and docs/: every relative link names a file that exists, and every `#anchor` a
 * heading of its target (GitHub's slugs); the README's short tables list exactly the collectors
 * the exporter has and the metrics docs/metrics.md catalogues.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { COLLECTORS } from '../src/collectors/index.ts'
import { catalogueMetricNames } from './helpers/promql.ts'

const ROOT = resolve(import.meta.dirname, '..')
const DOCS = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
]

/** The lines of `markdown` outside fenced code blocks, with inline code spans blanked. */
function prose(markdown: string): string[] {
  const lines: string[] = []
  let fence: string | null = null
  for (const line of markdown.split('\n')) {
    const open = /^\s*(```|~~~)/.exec(line)
    if (open) {
      if (fence === null) fence = open[1] as string
      else if (line.trim().startsWith(fence)) fence = null
      lines.push('')
      continue
    }
    lines.push(fence === null ? line.replace(/(`+)[^`]*?\1/g, '') : '')
  }
  return lines
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors of a Markdown file's headings, with GitHub's `-1`, `-2` for repeated ones. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  let fence: string | null = null
  for (const line of markdown.split('\n')) {
    const open = /^\s*(```|~~~)/.exec(line)
    if (open) {
      if (fence === null) fence = open[1] as string
      else if (line.trim().startsWith(fence)) fence = null
      continue
    }
    if (fence !== null) continue
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!h) continue
    const base = slug(h[1] as string)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** The link targets in `markdown` (inline links and images), outside code. */
export function linkTargets(markdown: string): Array<{ line: number; target: string }> {
  const out: Array<{ line: number; target: string }> = []
  prose(markdown).forEach((text, i) => {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ line: i + 1, target: m[1] as string })
    }
  })
  return out
}

/** What is wrong with each relative link of the Markdown file `file`: empty when all resolve. */
export function brokenLinks(file: string, markdown: string): string[] {
  const problems: string[] = []
  for (const { line, target } of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
    const where = `${relative(ROOT, file)}:${line}: ${target}`
    const hash = target.indexOf('#')
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
    const anchor = hash < 0 ? null : target.slice(hash + 1)
    const dest = pathPart === '' ? file : resolve(dirname(file), pathPart)
    if (dest !== file && !existsSync(dest)) {
      problems.push(`${where}: no such file`)
      continue
    }
    if (anchor === null) continue
    if (!dest.endsWith('.md') || (dest !== file && statSync(dest).isDirectory())) {
      problems.push(`${where}: an anchor into a file that is not Markdown`)
      continue
    }
    const text = dest === file ? markdown : readFileSync(dest, 'utf8')
    if (!anchors(text).has(decodeURIComponent(anchor))) {
      problems.push(`${where}: no heading #${anchor} in ${relative(ROOT, dest)}`)
    }
  }
  return problems
}

/** The backticked names in the given column of the first table after the heading `title`. */
function tableColumn(markdown: string, title: string, column: number): string[][] {
  const lines = markdown.split('\n')
  const start = lines.findIndex((l) => l === title)
  assert.ok(start >= 0, `no "${title}"`)
  const rows: string[][] = []
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break
    if (!line.startsWith('|')) {
      if (rows.length > 0) break
      continue
    }
    if (/^\|\s*-/.test(line)) continue
    const cell = line.split('|')[column]?.trim() ?? ''
    rows.push([...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string))
  }
  return rows.slice(1) // the header row
}

describe('links in README.md and docs/', () => {
  it('finds the documents, and links in each', () => {
    assert.ok(DOCS.length >= 8, `documents: ${DOCS.map((d) => relative(ROOT, d)).join(', ')}`)
    for (const f of DOCS) {
      if (f.endsWith('openssh.md')) continue // cites sources, links nothing local
      assert.ok(linkTargets(readFileSync(f, 'utf8')).length > 0, `${relative(ROOT, f)}: no link`)
    }
  })

  for (const file of DOCS) {
    it(`${relative(ROOT, file)}: every relative link and anchor resolves`, () => {
      assert.deepEqual(brokenLinks(file, readFileSync(file, 'utf8')), [])
    })
  }

  it('fails on a missing file, a missing anchor, and an anchor in another file', () => {
    const file = join(ROOT, 'docs', 'example.md')
    const md = [
      '# Title',
      '## Run it with `systemd`',
      '## Run it with systemd',
      '',
      'See [a](#title), [b](#run-it-with-systemd), [c](#run-it-with-systemd-1), [d](#nothing).',
      'Also [e](missing.md), [f](metrics.md#example), [g](metrics.md#no-such-heading),',
      '[h](../README.md#quick-start), [i](../src), [j](https://example.com/#x), `[k](nope.md)`.',
      '```',
      '[l](nope.md)',
      '## Not a heading',
      '```',
      '[m](#not-a-heading)',
    ].join('\n')
    assert.deepEqual(
      brokenLinks(file, md).map((p) => p.replace(/^docs\/example\.md:\d+: /, '')),
      [
        '#nothing: no heading #nothing in docs/example.md',
        'missing.md: no such file',
        'metrics.md#no-such-heading: no heading #no-such-heading in docs/metrics.md',
        '#not-a-heading: no heading #not-a-heading in docs/example.md',
      ],
    )
  })

  it("computes GitHub's anchors", () => {
    assert.equal(slug('sshd as systems start it'), 'sshd-as-systems-start-it')
    assert.equal(slug('TLS and basic auth'), 'tls-and-basic-auth')
    assert.equal(slug('MaxStartups: pre-authentication'), 'maxstartups-pre-authentication')
    assert.equal(slug('The one-liners, answered'), 'the-one-liners-answered')
  })
})

describe("the README's short tables", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

  it('lists every collector, in order, with its default', () => {
    const names = tableColumn(readme, '## Collectors', 1).map((r) => r[0])
    assert.deepEqual(
      names,
      COLLECTORS.map((c) => c.name),
    )
    const defaults = readme
      .split('\n')
      .filter((l) => /^\| `[a-z]+`\s*\|/.test(l))
      .map((l) => l.split('|')[2]?.trim() ?? '')
    for (const [i, c] of COLLECTORS.entries()) {
      assert.equal(defaults[i]?.startsWith('on'), c.defaultEnabled, `${c.name}: ${defaults[i]}`)
    }
  })

  it('names exactly the metrics docs/metrics.md catalogues', () => {
    const listed = tableColumn(readme, '## Metrics', 2).flat()
    const catalogue = catalogueMetricNames(readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8'))
    assert.ok(catalogue.length > 20, `catalogue: ${catalogue.length}`)
    assert.deepEqual([...listed].sort(), [...catalogue].sort())
  })
})
