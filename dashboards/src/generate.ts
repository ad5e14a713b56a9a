/**
 * Writes dashboards/sshd-fleet.json and dashboards/sshd-host.json from the sources beside this
 * file. `--check` writes nothing and exits 1 when a committed file differs from its source.
 *
 *   node dashboards/src/generate.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises'
import { renderDashboards } from './render.ts'

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--check')
  if (unknown.length > 0) {
    process.stderr.write(`usage: node dashboards/src/generate.ts [--check]\n`)
    return 2
  }
  const check = argv.includes('--check')
  let stale = 0
  for (const r of await renderDashboards()) {
    const current = await readFile(r.path, 'utf8').catch(() => undefined)
    if (current === r.text) continue
    if (check) {
      stale++
      process.stderr.write(
        `dashboards/${r.file} ${current === undefined ? 'is missing' : 'differs from its source'}: run node dashboards/src/generate.ts\n`,
      )
    } else {
      await writeFile(r.path, r.text)
      process.stdout.write(`wrote dashboards/${r.file}\n`)
    }
  }
  return stale > 0 ? 1 : 0
}

process.exitCode = await main(process.argv.slice(2))
