/**
 * Two builds of the exporter on the same synthetic trees, alternately, in one run: what a change
 * did to the scrape, measured where the machine's noise falls on both alike.
 *
 *   git worktree add /tmp/bench-before <commit> && (cd /tmp/bench-before && npm ci && npm run build)
 *   node bench/before-after.ts --before /tmp/bench-before --after .
 *
 * --before and --after name a checkout (its dist/cli.js) or a dist directory. Each tree (N
 * authenticated connections with 3 sessions, N/10 pre-auth, B unrelated processes, a listener;
 * --connections 1000,10000, --unrelated 20000) is built once, then each build is started on it
 * and scraped over HTTP: 5 warm-up scrapes, then --scrapes (40) timed ones, in --rounds (2)
 * rounds, before/after in the first, after/before in the second, and so on (a drift over the
 * run falls on both). Every last scrape is checked against the tree (bench/check.ts; the before
 * build without the sshd instance series when it has none).
 *
 * Printed: per build and tree, the medians of each run (a range over the runs), the exporter's
 * CPU time per scrape (utime + stime: on a busy machine, less touched by waiting for a CPU than
 * wall time; USER_HZ granularity, 10 ms over a run's 40 scrapes), the processes,
 * stale and sockets collectors' own durations (sshd_scrape_collector_duration_seconds, medians
 * over the same scrapes), the peak RSS, and after / before: of the medians over all scrapes, and
 * round by round (the two runs of a round ran back to back).
 */
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { assertScrape, samples } from './check.ts'
import { startExporter } from './exporter.ts'
import { cpuTimeMs } from './proc-usage.ts'
import { type BuiltTree, buildProcfs } from './procfs-builder.ts'
import { median } from './stats.ts'

const COLLECTORS = ['processes', 'stale', 'sockets'] as const

interface Run {
  build: 'before' | 'after'
  medianMs: number
  collectors: Record<(typeof COLLECTORS)[number], number>
  times: number[]
  /** The exporter's CPU time (user + system, every thread) per timed scrape, in ms. */
  cpuMs: number
  rssMb: number
}

function cliOf(dir: string): string {
  for (const cli of [join(dir, 'dist', 'cli.js'), join(dir, 'cli.js')]) {
    if (existsSync(cli)) return resolve(cli)
  }
  throw new Error(`no dist/cli.js or cli.js in ${dir}: run npm run build there`)
}

async function measure(
  build: Run['build'],
  cli: string,
  tree: BuiltTree,
  scrapes: number,
): Promise<Run> {
  const exporter = await startExporter(
    [
      `--path.procfs=${tree.root}`,
      `--path.rootfs=${tree.rootfs}`,
      '--collector.config.sshd-binary=',
      '--collector.events.source=none',
    ],
    cli,
  )
  try {
    let body = ''
    for (let i = 0; i < 5; i++) body = await (await fetch(exporter.url)).text()
    const times: number[] = []
    const durations = Object.fromEntries(COLLECTORS.map((c) => [c, [] as number[]]))
    const cpuBefore = cpuTimeMs(exporter.pid)
    for (let i = 0; i < scrapes; i++) {
      const start = performance.now()
      const response = await fetch(exporter.url)
      body = await response.text()
      times.push(performance.now() - start)
      if (!response.ok) throw new Error(`scrape answered ${response.status}`)
      for (const s of samples(body, 'sshd_scrape_collector_duration_seconds')) {
        durations[s.labels.collector!]?.push(s.value * 1000)
      }
    }
    const cpuMs = (cpuTimeMs(exporter.pid) - cpuBefore) / scrapes
    // The builds before issue 14 report no sshd instances (sshd_instance_info, the port label).
    assertScrape(body, tree, { instances: samples(body, 'sshd_instance_info').length > 0 }, build)
    return {
      build,
      medianMs: median(times),
      collectors: Object.fromEntries(
        COLLECTORS.map((c) => [c, median(durations[c]!)]),
      ) as Run['collectors'],
      times,
      cpuMs,
      rssMb: exporter.peakRssMb(),
    }
  } finally {
    await exporter.stop()
  }
}

function range(values: readonly number[], digits = 0): string {
  const lo = Math.min(...values).toFixed(digits)
  const hi = Math.max(...values).toFixed(digits)
  return lo === hi ? lo : `${lo}–${hi}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      before: { type: 'string' },
      after: { type: 'string', default: '.' },
      connections: { type: 'string', default: '1000,10000' },
      unrelated: { type: 'string', default: '20000' },
      scrapes: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '2' },
    },
  })
  if (values.before === undefined) {
    throw new Error(
      'usage: node bench/before-after.ts --before DIR [--after DIR] [--connections 1000,10000] [--unrelated 20000] [--scrapes 40] [--rounds 2]',
    )
  }
  const builds = { before: cliOf(values.before), after: cliOf(values.after) }
  const scrapes = Number(values.scrapes)
  const rounds = Number(values.rounds)
  const unrelated = Number(values.unrelated)
  const base = existsSync('/dev/shm') ? '/dev/shm' : undefined
  const dir = mkdtempSync(join(base ?? '/tmp', 'sshd-exporter-before-after-'))
  console.error(
    `before ${builds.before}\nafter  ${builds.after}\ntrees in ${dir} (tmpfs: ${statfsSync(dir).type === 0x01021994})`,
  )
  const lines: string[] = [
    '| tree | build | scrape median (per run) | CPU per scrape | processes | stale | sockets | peak RSS |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const ratios: string[] = []
  try {
    for (const n of values.connections.split(',').map(Number)) {
      const name = `N=${n.toLocaleString('en')} B=${unrelated.toLocaleString('en')}`
      console.error(`… building ${name}`)
      const tree = buildProcfs(join(dir, `n${n}`, 'proc'), {
        connections: n,
        sessions: 3,
        preauth: n / 10,
        unrelated,
        version: '9.2',
      })
      const runs: Run[] = []
      for (let round = 0; round < rounds; round++) {
        const order =
          round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)
        for (const build of order) {
          const run = await measure(build, builds[build], tree, scrapes)
          console.error(
            `${name} round ${round + 1} ${build}: ${run.medianMs.toFixed(1)} ms, CPU ${run.cpuMs.toFixed(1)} ms (processes ${run.collectors.processes.toFixed(1)}, stale ${run.collectors.stale.toFixed(1)}, sockets ${run.collectors.sockets.toFixed(1)}), ${run.rssMb.toFixed(0)} MB`,
          )
          runs.push(run)
        }
      }
      const pooled: Record<Run['build'], number> = { before: NaN, after: NaN }
      for (const build of ['before', 'after'] as const) {
        const mine = runs.filter((r) => r.build === build)
        pooled[build] = median(mine.flatMap((r) => r.times))
        const cpu = mine.map((r) => r.cpuMs)
        const cells = [
          name,
          build,
          `${pooled[build].toFixed(1)} ms (${range(
            mine.map((r) => r.medianMs),
            1,
          )})`,
          `${median(cpu).toFixed(1)} ms (${range(cpu, 1)})`,
          ...COLLECTORS.map(
            (c) =>
              `${range(
                mine.map((r) => r.collectors[c]),
                1,
              )} ms`,
          ),
          `${range(mine.map((r) => r.rssMb))} MB`,
        ]
        lines.push(`| ${cells.join(' | ')} |`)
      }
      // Each round's two runs ran back to back: their ratio is the least touched by drift.
      const paired: number[] = []
      const pairedCpu: number[] = []
      for (let i = 0; i + 1 < runs.length; i += 2) {
        const [a, b] = [runs[i]!, runs[i + 1]!]
        const after = a.build === 'after' ? a : b
        const before = a.build === 'after' ? b : a
        paired.push(after.medianMs / before.medianMs)
        pairedCpu.push(after.cpuMs / before.cpuMs)
      }
      const cpu = (build: Run['build']): number =>
        median(runs.filter((r) => r.build === build).map((r) => r.cpuMs))
      ratios.push(
        `${name}: after / before ${(pooled.after / pooled.before).toFixed(2)} over all scrapes; round by round ${paired.map((r) => r.toFixed(2)).join(', ')} (median ${median(paired).toFixed(2)}); CPU per scrape ${(cpu('after') / cpu('before')).toFixed(2)}, round by round ${pairedCpu.map((r) => r.toFixed(2)).join(', ')}; ${runs.length / 2} runs of ${scrapes} scrapes per build.`,
      )
      rmSync(join(dir, `n${n}`), { recursive: true, force: true })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(lines.join('\n'))
  console.log()
  console.log(ratios.join('\n'))
}

await main()
