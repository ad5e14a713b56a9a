/** The exporter's flags as the CLI parses them, for tests that build an exporter in-process. */
import assert from 'node:assert/strict'
import { COLLECTORS, type CollectorFlags, type ExporterFlags } from '../../src/collectors/index.ts'
import { parseFlags } from '../../src/flags/parse.ts'

export function exporterFlags(
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): ExporterFlags {
  const r = parseFlags<CollectorFlags>(argv, env, COLLECTORS)
  assert.equal(r.kind, 'flags')
  return r.flags
}
