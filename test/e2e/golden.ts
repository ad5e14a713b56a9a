/**
 * The golden files of the end-to-end test, one per collector (golden/<collector>.prom) and one
 * for the exporter's own series (golden/exporter.prom), so that a change to one collector's
 * output touches one file. A scrape is cut into its metric families, each given to the collector
 * that README.md's Metrics table says writes it; the exporter writes them grouped by collector,
 * in COLLECTORS' order, which splitByWriter checks.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const GOLDEN_DIR = join(import.meta.dirname, 'golden')
const README = join(import.meta.dirname, '..', '..', 'README.md')

/** The writer of the exporter's own series: the table's "(exporter)" row. */
export const EXPORTER = 'exporter'

/** Metric name (or `prefix_*`) → its collector, from the README's Metrics table. */
export function writersFromReadme(readme = readFileSync(README, 'utf8')): Map<string, string> {
  const lines = readme.split('\n')
  const start = lines.indexOf('## Metrics')
  if (start < 0) throw new Error('README.md has no "## Metrics"')
  const writers = new Map<string, string>()
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break
    const cells = line.split('|').map((c) => c.trim())
    if (cells.length < 4 || /^-+$/.test(cells[1]!) || cells[1] === 'collector') continue
    const writer = cells[1] === '(exporter)' ? EXPORTER : cells[1]!
    for (const m of cells[2]!.matchAll(/`([^`]+)`/g)) writers.set(m[1]!, writer)
  }
  if (writers.size === 0) throw new Error('README.md has no table under "## Metrics"')
  return writers
}

function writerOf(name: string, writers: ReadonlyMap<string, string>): string {
  const exact = writers.get(name)
  if (exact !== undefined) return exact
  for (const [pattern, writer] of writers) {
    if (pattern.endsWith('*') && name.startsWith(pattern.slice(0, -1))) return writer
  }
  throw new Error(`${name}: not in README.md's Metrics table, so no golden file is its`)
}

/**
 * An exposition (families separated by blank lines) cut by writer, in the order written; each
 * part is its families as the exposition has them. Throws when a writer's families are not
 * together: the README's table, or the exporter's order, is wrong.
 */
export function splitByWriter(
  text: string,
  writers: ReadonlyMap<string, string> = writersFromReadme(),
): Map<string, string> {
  const parts = new Map<string, string[]>()
  let current = ''
  for (const family of text.trimEnd().split('\n\n')) {
    const name = /^# HELP (\S+) /.exec(family)?.[1]
    if (name === undefined) throw new Error(`a family without # HELP: ${family.slice(0, 200)}`)
    const writer = writerOf(name, writers)
    if (writer !== current && parts.has(writer)) {
      throw new Error(
        `${name} (${writer}) comes after ${current}'s families, apart from ${writer}'s`,
      )
    }
    current = writer
    parts.set(writer, [...(parts.get(writer) ?? []), family])
  }
  return new Map([...parts].map(([writer, families]) => [writer, `${families.join('\n\n')}\n`]))
}

/** The golden file of a writer. */
export function goldenFile(writer: string): string {
  return join(GOLDEN_DIR, `${writer}.prom`)
}
