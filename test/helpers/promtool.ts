/**
 * Debian's promtool (package prometheus), run by the tests. A missing promtool
 * is a failure naming the install script, never a skip.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool'

function ensure(): void {
  if (!existsSync(PROMTOOL)) {
    throw new Error(`promtool not found at ${PROMTOOL}: run scripts/install-test-deps.sh (as root)`)
  }
}

/** `promtool check metrics` on an exposition; returns its complaints (empty when clean). */
export function checkMetrics(exposition: string): { status: number | null; output: string } {
  ensure()
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
}
