/**
 * Where the exporter's resident memory goes (issue: RSS at N = 1,000 after 100 scrapes at most
 * 60 MB). Investigation only; not part of `npm run bench`.
 *
 *   node bench/procfs-builder.ts --connections 1000 --sessions 3 --preauth 100 \
 *     --unrelated 20000 --version 9.2 --out /dev/shm/mem-n1000
 *   node bench/memory.ts --tree /dev/shm/mem-n1000 --modules
 *   node bench/memory.ts --tree /dev/shm/mem-n1000 --rounds 3 \
 *     --variant 'head|/tmp/mem-head' --variant 'after|.' \
 *     --variant 'after, semi 1 MB|.|--max-semi-space-size=1'
 *
 * --modules: bare node (NODE_FLAGS, NODE_ENV, a timer) and node that imports one package,
 * each in its own process: VmRSS once it settled.
 *
 * --variant 'name|dir|node flags|ENV=V,ENV=V': a build (dir/dist/cli.js or dir/cli.js) started
 * as bench/exporter.ts starts it (NODE_FLAGS, NODE_ENV, then the variant's flags and environment)
 * with bench/run.ts's flags on the tree. Each run: VmRSS, VmHWM, RssAnon, RssFile and threads
 * (/proc/<pid>/status) once it listens (before any scrape), after 1 scrape, after 100; the
 * median of scrapes 6 to 100 (request to last byte); with --heap-stats, process.memoryUsage()
 * after the 100 (a preload answers SIGUSR2; for investigation only). The variants alternate, in
 * reverse order every other round (bench/before-after.ts), so that drift falls on all alike.
 *
 * --snapshot DIR: also write a heap snapshot after the 100 scrapes (preload, SIGUSR2), for
 * bench/heap-summary.ts.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { NODE_ENV, NODE_FLAGS } from '../src/runtime.ts'
import { freePort } from '../test/helpers/free-port.ts'
import { cpuTimeMs, type MemoryStatus, memoryStatus } from './proc-usage.ts'
import { median } from './stats.ts'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      done(true)
    })
    socket.once('error', () => done(false))
  })
}

/**
 * The preload for --heap-stats and --snapshot: on SIGUSR2, process.memoryUsage() and V8's heap
 * spaces to $MEM_STATS_FILE, and a heap snapshot to $MEM_SNAPSHOT_FILE when set. A data: URL,
 * so that no TypeScript is stripped in the measured process.
 */
const PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(`
import { writeFileSync } from 'node:fs'
import v8 from 'node:v8'
process.on('SIGUSR2', () => {
  if (process.env.MEM_SNAPSHOT_FILE) v8.writeHeapSnapshot(process.env.MEM_SNAPSHOT_FILE)
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]))
  writeFileSync(process.env.MEM_STATS_FILE, JSON.stringify({ usage: process.memoryUsage(), spaces }))
})
`)

interface Variant {
  name: string
  cli: string
  nodeFlags: string[]
  env: Record<string, string>
}

function parseVariant(spec: string): Variant {
  const [name, dir = '.', flags = '', env = ''] = spec.split('|')
  const cli = [join(dir, 'dist', 'cli.js'), join(dir, 'cli.js'), join(dir, 'cli.cjs')].find((c) =>
    existsSync(c),
  )
  if (cli === undefined) throw new Error(`no dist/cli.js or cli.js in ${dir}`)
  return {
    name: name!,
    cli: resolve(cli),
    nodeFlags: flags.split(' ').filter((f) => f !== ''),
    env: Object.fromEntries(
      env
        .split(',')
        .filter((e) => e !== '')
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    ),
  }
}

interface Run {
  variant: string
  idle: MemoryStatus
  one: MemoryStatus
  hundred: MemoryStatus
  medianMs: number
  /** CPU time (user + system, all threads) per scrape over scrapes 2 to 100, in ms. */
  cpuMs: number
  usage?: { usage: NodeJS.MemoryUsage; spaces: Record<string, number> } | undefined
}

async function measure(
  v: Variant,
  tree: string,
  opts: { heapStats: boolean; snapshot?: string | undefined; scratch: string },
): Promise<Run> {
  const port = await freePort()
  const statsFile = join(opts.scratch, `stats-${port}.json`)
  const preload = opts.heapStats || opts.snapshot !== undefined ? ['--import', PRELOAD] : []
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...NODE_ENV,
    ...v.env,
    MEM_STATS_FILE: statsFile,
  }
  if (opts.snapshot !== undefined) {
    env.MEM_SNAPSHOT_FILE = join(
      opts.snapshot,
      `${v.name.replace(/[^A-Za-z0-9]+/g, '-')}.heapsnapshot`,
    )
  }
  const child = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      ...v.nodeFlags,
      ...preload,
      v.cli,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      `--path.procfs=${join(tree, 'proc')}`,
      `--path.rootfs=${join(tree, 'rootfs')}`,
      '--collector.config.sshd-binary=',
      '--collector.events.source=none',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env },
  )
  const pid = child.pid!
  try {
    const deadline = Date.now() + 30_000
    while (!(await listening(port))) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`${v.name} did not start`)
      await sleep(50)
    }
    await sleep(1000)
    const idle = memoryStatus(pid)
    const url = `http://127.0.0.1:${port}/metrics`
    const scrape = async (): Promise<number> => {
      const start = performance.now()
      const r = await fetch(url)
      const body = await r.text()
      if (!r.ok || !body.includes('sshd_'))
        throw new Error(`${v.name}: scrape answered ${r.status}`)
      return performance.now() - start
    }
    await scrape()
    await sleep(500)
    const one = memoryStatus(pid)
    const times: number[] = []
    const cpuBefore = cpuTimeMs(pid)
    for (let i = 1; i < 100; i++) times.push(await scrape())
    const cpuMs = (cpuTimeMs(pid) - cpuBefore) / 99
    await sleep(500)
    const hundred = memoryStatus(pid)
    const run: Run = {
      variant: v.name,
      idle,
      one,
      hundred,
      medianMs: median(times.slice(4)),
      cpuMs,
    }
    if (preload.length > 0) {
      child.kill('SIGUSR2')
      for (let i = 0; i < 600 && !existsSync(statsFile); i++) await sleep(100)
      await sleep(100)
      run.usage = JSON.parse(readFileSync(statsFile, 'utf8')) as Run['usage']
    }
    return run
  } finally {
    await new Promise<void>((done) => {
      if (child.exitCode !== null) return done()
      child.once('exit', () => done())
      child.kill('SIGTERM')
    })
  }
}

/** Node with NODE_FLAGS and NODE_ENV that imports `pkg` (or nothing) and idles: VmRSS. */
async function moduleRss(pkgs: readonly string[]): Promise<MemoryStatus> {
  const code =
    pkgs.map((p) => `await import(${JSON.stringify(p)});`).join('') +
    'process.stdout.write("ready\\n"); setInterval(() => {}, 1000)'
  const child = spawn(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', code], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...NODE_ENV },
  })
  await new Promise<void>((done, fail) => {
    child.stdout.once('data', () => done())
    child.once('exit', (code) => fail(new Error(`${pkgs.join(', ')} exited ${code}`)))
  })
  await sleep(1000)
  const s = memoryStatus(child.pid!)
  child.kill('SIGTERM')
  return s
}

const mb = (n: number): string => n.toFixed(1)

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tree: { type: 'string', default: '/dev/shm/mem-n1000' },
      modules: { type: 'boolean', default: false },
      'module-runs': { type: 'string', default: '3' },
      variant: { type: 'string', multiple: true, default: [] },
      rounds: { type: 'string', default: '2' },
      'heap-stats': { type: 'boolean', default: false },
      snapshot: { type: 'string' },
    },
  })
  if (values.modules) {
    const pkgs = [
      null,
      'fastify',
      'prom-client',
      'pino',
      'yaml',
      'bcryptjs',
      'execa',
      'node:worker_threads',
    ]
    console.log('| imported | VmRSS MB (median) | over bare node | RssAnon | RssFile | threads |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
    let bare = NaN
    for (const pkg of pkgs) {
      const runs: MemoryStatus[] = []
      for (let i = 0; i < Number(values['module-runs']); i++) {
        runs.push(await moduleRss(pkg === null ? [] : [pkg]))
      }
      const rss = median(runs.map((r) => r.rss))
      if (pkg === null) bare = rss
      console.log(
        `| ${pkg ?? '(nothing: bare node)'} | ${mb(rss)} | ${pkg === null ? '' : `+${mb(rss - bare)}`} | ${mb(median(runs.map((r) => r.anon)))} | ${mb(median(runs.map((r) => r.file)))} | ${runs[0]!.threads} |`,
      )
    }
  }
  if (values.modules) {
    // One after another, in the order the exporter loads them: what each adds to the ones before.
    const chain = ['pino', 'prom-client', 'fastify', 'yaml', 'execa', 'bcryptjs']
    console.log('\n| imported (cumulative) | VmRSS MB (median) | added by the last |')
    console.log('| --- | ---: | ---: |')
    let before = NaN
    for (let k = 0; k <= chain.length; k++) {
      const runs: MemoryStatus[] = []
      for (let i = 0; i < Number(values['module-runs']); i++) {
        runs.push(await moduleRss(chain.slice(0, k)))
      }
      const rss = median(runs.map((r) => r.rss))
      console.log(
        `| ${k === 0 ? '(bare node)' : chain.slice(0, k).join(' + ')} | ${mb(rss)} | ${k === 0 ? '' : `+${mb(rss - before)}`} |`,
      )
      before = rss
    }
  }
  const variants = values.variant.map(parseVariant)
  if (variants.length === 0) return
  const scratch = mkdtempSync(join(tmpdir(), 'sshd-exporter-memory-'))
  const runs: Run[] = []
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse()
      for (const v of order) {
        const run = await measure(v, values.tree, {
          heapStats: values['heap-stats'],
          snapshot: round === 0 ? values.snapshot : undefined,
          scratch,
        })
        console.error(
          `round ${round + 1} ${v.name}: idle ${mb(run.idle.rss)}, 1 scrape ${mb(run.one.rss)}, 100 scrapes ${mb(run.hundred.rss)} (HWM ${mb(run.hundred.hwm)}), median ${run.medianMs.toFixed(1)} ms, CPU ${run.cpuMs.toFixed(1)} ms a scrape`,
        )
        runs.push(run)
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  console.log()
  console.log(
    '| variant | idle RSS | after 1 scrape | after 100 | VmHWM | RssAnon / RssFile (100) | threads | median ms (runs) | CPU ms a scrape |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const v of variants) {
    const mine = runs.filter((r) => r.variant === v.name)
    const m = (f: (r: Run) => number): string => mb(median(mine.map(f)))
    const pooled = median(mine.map((r) => r.medianMs))
    console.log(
      `| ${v.name} | ${m((r) => r.idle.rss)} | ${m((r) => r.one.rss)} | ${m((r) => r.hundred.rss)} | ${m((r) => r.hundred.hwm)} | ${m((r) => r.hundred.anon)} / ${m((r) => r.hundred.file)} | ${mine[0]!.hundred.threads} | ${pooled.toFixed(1)} (${mine.map((r) => r.medianMs.toFixed(1)).join(', ')}) | ${m((r) => r.cpuMs)} |`,
    )
  }
  if (values['heap-stats'] || values.snapshot !== undefined) {
    console.log()
    console.log(
      '| variant | heapUsed | heapTotal | external | arrayBuffers | rss | spaces used (MB) |',
    )
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |')
    for (const r of runs.filter((r) => r.usage !== undefined)) {
      const u = r.usage!.usage
      const M = (n: number): string => mb(n / 2 ** 20)
      const spaces = Object.entries(r.usage!.spaces)
        .filter(([, n]) => n > 2 ** 18)
        .map(([s, n]) => `${s.replace(/_space$/, '')} ${M(n)}`)
        .join(', ')
      console.log(
        `| ${r.variant} | ${M(u.heapUsed)} | ${M(u.heapTotal)} | ${M(u.external)} | ${M(u.arrayBuffers)} | ${M(u.rss)} | ${spaces} |`,
      )
    }
  }
}

await main()
