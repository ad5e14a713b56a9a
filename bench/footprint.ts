/**
 * What the exporter costs a host beside node_exporter, measured in the same run on the same
 * synthetic tree, one subject after another:
 *
 * - the single executable (scripts/release.ts, amd64);
 * - `node <NODE_FLAGS> dist/cli.js`;
 * - the container image, built from the Dockerfile by podman and run from its own root with its
 *   ENTRYPOINT, CMD, Env and USER (test/helpers/container.ts, as the container test runs it), the
 *   tree bound where the image expects the host's /proc and root;
 * - the stack's floor: bench/stack-floor.ts, an exporter of nothing on fastify, pino and
 *   prom-client, bundled as the binary is and run with its flags: what any exporter on this stack
 *   costs before it reads /proc;
 * - Debian's prometheus-node-exporter with its processes collector (started as bench/peers.ts
 *   starts it).
 *
 * For each:
 * - start-up: from the spawn to the first answered /metrics scrape (the first scrape included);
 * - RSS idle: VmRSS 1 s after the process first answered /-/healthy (node_exporter: /), before
 *   any /metrics scrape;
 * - RSS after 100 scrapes: VmRSS 0.5 s after the 100th /metrics scrape (the first one counted);
 * - CPU seconds per 1,000 scrapes: utime + stime (/proc/<pid>/stat, all threads, 100 ticks a
 *   second) over scrapes 2 to 100, × 1,000 / 99.
 *
 * Every Node subject runs with NODE_ENV (MALLOC_ARENA_MAX=2), as the unit and the image run the
 * exporter; the binary has --optimize-for-size built in. Each exporter's last scrape is checked
 * against the tree (bench/check.ts), node_exporter's process count likewise (bench/peers.ts).
 *
 * CLI: node bench/footprint.ts [--connections 1000] [--unrelated 20000] [--binary PATH]
 * [--no-container] builds the tree on /dev/shm, the binary (unless --binary) and the image (as
 * root, with podman), measures the subjects and prints the table.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { arch, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { NODE_ENV, NODE_FLAGS } from '../src/runtime.ts'
import {
  buildMountedImage,
  containerProcess,
  type MountedImage,
  run,
} from '../test/helpers/container.ts'
import { freePort } from '../test/helpers/free-port.ts'
import { assertScrape } from './check.ts'
import { countProcesses, stop, sumMetric } from './peers.ts'
import { cpuTimeMs, memoryStatus } from './proc-usage.ts'
import { type BuiltTree, buildProcfs } from './procfs-builder.ts'

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js')
const NODE_EXPORTER = 'prometheus-node-exporter'

export type Subject =
  'binary' | 'node dist/cli.js' | 'container' | 'stack floor (bundled)' | 'node_exporter'

export interface FootprintFigures {
  subject: Subject
  /** Spawn to the first answered /metrics scrape, in ms. */
  startMs: number
  /** VmRSS before any /metrics scrape, in MiB. */
  idleRssMb: number
  /** VmRSS after `scrapes` scrapes, in MiB. */
  rssAfterMb: number
  /** Scrapes in all (the first one, which ends the start-up, included). */
  scrapes: number
  /** utime + stime over scrapes 2 to `scrapes`, per 1,000 scrapes, in seconds. */
  cpuSecondsPer1000: number
}

export interface FootprintOptions {
  /** The single executable; null: not measured. */
  binary: string | null
  /** The container image (buildContainer); null or absent: not measured. */
  container?: MountedImage | null
  /** The stack's floor, bundled (bundleStackFloor); null or absent: not measured. */
  stackFloor?: string | null
  /** Scrapes in all, the first included. Default 100. */
  scrapes?: number
  /** Measure node_exporter too. Default true. */
  nodeExporter?: boolean
  /** Longest wait from the spawn to the first answer. Default 60 s. */
  startTimeoutMs?: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function get(url: string, timeoutMs: number): Promise<{ ok: boolean; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  return { ok: r.ok, body: await r.text() }
}

interface Launch {
  subject: Subject
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
  /** Answered before any scrape, once the process listens. */
  health: string
  check(body: string): void
}

async function measureOne(launch: Launch, port: number, opts: FootprintOptions) {
  const scrapes = opts.scrapes ?? 100
  const base = `http://127.0.0.1:${port}`
  let output = ''
  const started = performance.now()
  const child = spawn(launch.command, launch.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: launch.env,
  })
  let spawnError: Error | null = null
  child.once('error', (err) => (spawnError = err))
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  try {
    const deadline = started + (opts.startTimeoutMs ?? 60_000)
    for (;;) {
      if (spawnError !== null) throw new Error(`${launch.subject}: ${String(spawnError)}`)
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${launch.subject} exited (${child.exitCode ?? child.signalCode}): ${output}`,
        )
      }
      try {
        if ((await get(`${base}${launch.health}`, 2000)).ok) break
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline)
        throw new Error(`${launch.subject} did not answer: ${output}`)
      await sleep(10)
    }
    const answeredMs = performance.now() - started
    const pid = child.pid!
    // The idle figure: settled, before any /metrics scrape. Start-up is timed without this wait.
    await sleep(1000)
    const idleRssMb = memoryStatus(pid).rss
    const first = performance.now()
    let last = await get(`${base}/metrics`, 300_000)
    const startMs = answeredMs + (performance.now() - first)
    if (!last.ok) throw new Error(`${launch.subject}: the first scrape failed: ${last.body}`)
    const cpuBefore = cpuTimeMs(pid) / 1000
    for (let i = 1; i < scrapes; i++) {
      last = await get(`${base}/metrics`, 300_000)
      if (!last.ok) throw new Error(`${launch.subject}: scrape ${i + 1} failed: ${last.body}`)
    }
    const cpuAfter = cpuTimeMs(pid) / 1000
    launch.check(last.body)
    await sleep(500)
    const figures: FootprintFigures = {
      subject: launch.subject,
      startMs,
      idleRssMb,
      rssAfterMb: memoryStatus(pid).rss,
      scrapes,
      cpuSecondsPer1000: scrapes > 1 ? ((cpuAfter - cpuBefore) * 1000) / (scrapes - 1) : NaN,
    }
    return figures
  } finally {
    await stop(child)
  }
}

/**
 * The three subjects on `tree`, one after another: the binary (when options.binary), `node
 * dist/cli.js`, node_exporter (unless options.nodeExporter is false). `flags`: the exporter's
 * flags for the tree (bench/run.ts's exporterFlags), without a listen address.
 */
export async function measureFootprint(
  tree: BuiltTree,
  flags: readonly string[],
  options: FootprintOptions,
): Promise<FootprintFigures[]> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  const results: FootprintFigures[] = []
  const exporterCheck = (body: string): void => assertScrape(body, tree, { instances: true })
  const exporterArgs = (port: number): string[] => [
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...flags,
  ]
  const env = { ...process.env, ...NODE_ENV }
  if (options.binary !== null) {
    const port = await freePort()
    results.push(
      await measureOne(
        {
          subject: 'binary',
          command: options.binary,
          args: exporterArgs(port),
          env,
          health: '/-/healthy',
          check: exporterCheck,
        },
        port,
        options,
      ),
    )
  }
  {
    const port = await freePort()
    results.push(
      await measureOne(
        {
          subject: 'node dist/cli.js',
          command: process.execPath,
          args: [...NODE_FLAGS, CLI, ...exporterArgs(port)],
          env,
          health: '/-/healthy',
          check: exporterCheck,
        },
        port,
        options,
      ),
    )
  }
  if (options.container) {
    const scratch = mkdtempSync(join(tmpdir(), 'sshd-exporter-footprint-container-'))
    try {
      const port = await freePort()
      const { command, env: containerEnv } = containerProcess(options.container, {
        scratch,
        // The tree is the host: its procfs at /host/proc and its root at /host/root, where the
        // image's CMD points --path.procfs and --path.rootfs.
        hostRoot: tree.rootfs,
        hostProc: tree.root,
        args: exporterArgs(port).filter((f) => !f.startsWith('--path.')),
      })
      results.push(
        await measureOne(
          {
            subject: 'container',
            command: command[0]!,
            args: command.slice(1),
            env: containerEnv,
            health: '/-/healthy',
            check: exporterCheck,
          },
          port,
          options,
        ),
      )
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
  }
  if (options.stackFloor) {
    const port = await freePort()
    results.push(
      await measureOne(
        {
          subject: 'stack floor (bundled)',
          command: process.execPath,
          args: [...NODE_FLAGS, options.stackFloor],
          env: { ...env, PORT: String(port) },
          health: '/-/healthy',
          check: (body) => {
            const n = sumMetric(`\n${body}`, 'stack_floor_scrapes')
            const want = options.scrapes ?? 100
            if (n !== want) throw new Error(`the stack floor counted ${n} scrapes, not ${want}`)
          },
        },
        port,
        options,
      ),
    )
  }
  if (options.nodeExporter ?? true) {
    const processes = countProcesses(tree.root)
    const sysfs = mkdtempSync(join(tmpdir(), 'sshd-exporter-footprint-sysfs-'))
    try {
      const port = await freePort()
      results.push(
        await measureOne(
          {
            subject: 'node_exporter',
            command: NODE_EXPORTER,
            // As bench/peers.ts runs it: the processes collector alone, an empty sysfs.
            args: [
              `--path.procfs=${tree.root}`,
              `--path.sysfs=${sysfs}`,
              '--collector.disable-defaults',
              '--collector.processes',
              `--web.listen-address=127.0.0.1:${port}`,
            ],
            env: process.env,
            health: '/',
            check: (body) => {
              const pids = sumMetric(`\n${body}`, 'node_processes_pids')
              if (pids !== processes) {
                throw new Error(`node_exporter: node_processes_pids ${pids}, not ${processes}`)
              }
            },
          },
          port,
          options,
        ),
      )
    } finally {
      rmSync(sysfs, { recursive: true, force: true })
    }
  }
  return results
}

/**
 * Builds the single executable for amd64 (scripts/release.ts) into `dir` and returns its path;
 * null, with the reason, on a machine that is not x64 (the binary would not run).
 */
export async function buildBinary(
  dir: string,
): Promise<{ binary: string; note?: undefined } | { binary: null; note: string }> {
  if (arch() !== 'x64') {
    return { binary: null, note: `this machine is ${arch()}, not x64: the amd64 binary left out` }
  }
  const { release } = await import('../scripts/release.ts')
  const out = join(dir, 'release')
  const result = await release({ out, arches: ['amd64'], log: () => {} })
  const tarball = result.artifacts.find((a) => a.endsWith('.linux-amd64.tar.gz'))
  if (tarball === undefined)
    throw new Error(`release built no amd64 tarball: ${result.artifacts.join(', ')}`)
  const unpacked = join(dir, 'binary')
  mkdirSync(unpacked, { recursive: true })
  execFileSync('tar', ['-xzf', join(out, tarball), '-C', unpacked])
  const top = readdirSync(unpacked).find((d) => d.endsWith('.linux-amd64'))
  if (top === undefined) throw new Error(`${tarball} holds no sshd-exporter-*.linux-amd64/`)
  return { binary: join(unpacked, top, 'sshd-exporter') }
}

/**
 * bench/stack-floor.ts bundled into one CommonJS file, as scripts/release.ts bundles the exporter
 * for the single executable; its path.
 */
export async function bundleStackFloor(dir: string): Promise<string> {
  const { build } = await import('esbuild')
  const outfile = join(dir, 'stack-floor.cjs')
  await build({
    entryPoints: [join(import.meta.dirname, 'stack-floor.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    logLevel: 'warning',
  })
  return outfile
}

/**
 * The container image, built from the Dockerfile with podman as the container test builds it
 * (test/helpers/container.ts) and mounted; null, with the reason, where that cannot be done (not
 * root, no podman).
 */
export async function buildContainer(): Promise<
  { container: MountedImage; note?: undefined } | { container: null; note: string }
> {
  if (process.getuid?.() !== 0) return { container: null, note: 'not root: the container left out' }
  try {
    await run('podman', ['--version'])
  } catch {
    return { container: null, note: 'podman not found: the container left out' }
  }
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
    version: string
  }
  return { container: await buildMountedImage('localhost/sshd-exporter:footprint', pkg.version) }
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`
}

/** The table's rows: `| tree | subject | start-up | RSS idle | RSS after 100 | CPU |`. */
export function footprintRows(tree: string, figures: readonly FootprintFigures[]): string[] {
  return figures.map(
    (f) =>
      `| ${tree} | ${f.subject} | ${fmtMs(f.startMs)} | ${f.idleRssMb.toFixed(1)} MiB | ${f.rssAfterMb.toFixed(1)} MiB | ${f.cpuSecondsPer1000.toFixed(2)} |`,
  )
}

export const FOOTPRINT_HEADER = [
  '| tree | subject | start-up | RSS idle | RSS after 100 scrapes | CPU s / 1,000 scrapes |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
]

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '1000' },
      unrelated: { type: 'string', default: '20000' },
      binary: { type: 'string' },
      scrapes: { type: 'string', default: '100' },
      'no-container': { type: 'boolean', default: false },
    },
  })
  const connections = Number(values.connections)
  const unrelated = Number(values.unrelated)
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
  const dir = mkdtempSync(join(base, 'sshd-exporter-footprint-'))
  let container: MountedImage | null = null
  try {
    if (!values['no-container']) {
      console.error('… building the container image')
      const built = await buildContainer()
      if (built.container === null) console.error(built.note)
      container = built.container
    }
    const stackFloor = await bundleStackFloor(dir)
    let binary: string | null = values.binary ?? null
    if (binary === null) {
      console.error('… building the binary')
      const built = await buildBinary(dir)
      if (built.binary === null) console.error(built.note)
      binary = built.binary
    }
    console.error(`… tree N=${connections} B=${unrelated}`)
    const tree = buildProcfs(join(dir, 'tree', 'proc'), {
      connections,
      sessions: 3,
      preauth: connections / 10,
      unrelated,
      version: '9.2',
      mode: 'daemon',
    })
    const flags = [
      `--path.procfs=${tree.root}`,
      `--path.rootfs=${tree.rootfs}`,
      '--collector.config.sshd-binary=',
      '--collector.events.source=none',
    ]
    const figures = await measureFootprint(tree, flags, {
      binary,
      container,
      stackFloor,
      scrapes: Number(values.scrapes),
    })
    for (const line of [
      ...FOOTPRINT_HEADER,
      ...footprintRows(`N=${connections} B=${unrelated}`, figures),
    ]) {
      console.log(line)
    }
  } finally {
    await container?.remove()
    rmSync(dir, { recursive: true, force: true })
  }
}

// import.meta.main needs Node 24.2; the engines field allows 22.18.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
