/**
 * `npm run bench`: what a scrape costs, against floors and peers measured in the same run, and
 * how fast sshd's log is read; prints the tables and writes them to BENCHMARKS.md.
 *
 * - Synthetic procfs trees on tmpfs (bench/procfs-builder.ts): N authenticated connections with
 *   3 sessions each, N/10 pre-auth, B unrelated processes; one of them (N = 1,000) per-connection
 *   (no listener: one `sshd -i` per connection, pid 1's child). For each: the exporter as shipped
 *   (dist/, npm run build; tree walk) and with --collector.processes.rescan-interval=0 (every process read), scraped
 *   over HTTP; the two C floors (bench/floors); Debian's process-exporter and node_exporter
 *   (bench/peers.ts).
 * - The real /proc with the real-sshd test bed holding 200 connections (its PID namespace's).
 * - 50 concurrent scrapers (autocannon) on the N = 1,000 tree: one scan serves many of them.
 * - Log parsing: a generated 1,000,000-line auth.log through the exporter's followed-file path,
 *   and through Debian's mtail running an equivalent program (bench/log-parse.ts).
 *
 * Every figure is a median of repeated runs (p99 beside it); ratios compare figures taken in
 * the same run. The machine is shared: compare ratios, not absolute times, across runs.
 *
 * - `sshd-exporter sessions --json` end to end on the N = 1,000 trees (bench/sessions.ts).
 * - The web layer under attack: the authenticated scrape while unknown users are tried
 *   (bench/web-auth.ts), and TLS handshakes per second with client certificates (bench/web-tls.ts).
 *
 * - The footprint beside node_exporter (bench/footprint.ts): start-up to the first answered scrape,
 *   RSS idle and after 100 scrapes, CPU per 1,000 scrapes, for the single executable (built once
 *   per run, amd64, on x64 machines), `node dist/cli.js`, the container image (as root, with
 *   podman), the stack's floor (bench/stack-floor.ts) and node_exporter, on the N = 1,000 and
 *   N = 10,000 trees with B = 20,000 (node_exporter even under --no-peers).
 *
 * Flags: --quick (N = 100 and 1,000 only, fewer runs), --no-peers, --no-real, --no-logs, --no-web,
 * --no-footprint, --out FILE (default BENCHMARKS.md; --out - prints only).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { assertScrape } from './check.ts'
import { startExporter, timeScrapes } from './exporter.ts'
import { buildFloors, type FloorFigures, runFloor } from './floors.ts'
import {
  buildBinary,
  FOOTPRINT_HEADER,
  buildContainer,
  bundleStackFloor,
  type FootprintFigures,
  footprintRows,
  measureFootprint,
} from './footprint.ts'
import { measureLogParsing, measureMtail } from './log-parse.ts'
import { writeAuthLog } from './auth-log.ts'
import { countProcesses, measurePeer, type PeerFigures, sumMetric } from './peers.ts'
import { type BuiltTree, buildProcfs, type SshdMode } from './procfs-builder.ts'
import { measureSessionsCommand, measureStarts, type SessionsCommandFigures } from './sessions.ts'
import { type AuthLoadFigures, measureAuthUnderLoad } from './web-auth.ts'
import { benchWebTls, type TlsFigures } from './web-tls.ts'
import type { MountedImage } from '../test/helpers/container.ts'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
    'no-real': { type: 'boolean', default: false },
    'no-logs': { type: 'boolean', default: false },
    'no-web': { type: 'boolean', default: false },
    'no-footprint': { type: 'boolean', default: false },
    out: { type: 'string', default: join(import.meta.dirname, '..', 'BENCHMARKS.md') },
  },
})

const TMPFS_MAGIC = 0x01021994

interface Scenario {
  name: string
  connections: number
  unrelated: number
  /** Compared with the peers (the issue's B = 20,000 trees). */
  peers: boolean
  /** Default daemon: a listener. per_connection: `sshd -i` children of pid 1 (issue 14). */
  mode?: SshdMode
}

interface ScenarioFigures {
  scenario: Scenario
  tree: BuiltTree
  walk: { medianMs: number; p99Ms: number; rssMb: number; scrapes: number }
  full: { medianMs: number; p99Ms: number; rssMb: number; scrapes: number }
  floorFull: FloorFigures
  floorWalk: FloorFigures
  peers: PeerFigures[]
  /** `sshd-exporter sessions --json` end to end, on the N = 1,000 trees. */
  sessionsCommand: SessionsCommandFigures | null
  /** bench/footprint.ts's three subjects, on the B = 20,000 daemon trees with N = 1,000 or 10,000. */
  footprint: FootprintFigures[] | null
}

/** The single executable for the footprint section, built once per run (main); null: left out. */
let footprintBinary: { binary: string | null; note?: string | undefined } = { binary: null }
/** Likewise the container image, and the stack's floor (bundled). */
let footprintContainer: { container: MountedImage | null; note?: string | undefined } = {
  container: null,
}
let footprintFloor: string | null = null

const report: string[] = []
function say(line = ''): void {
  console.log(line)
  report.push(line)
}

function fmt(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  if (ms >= 10) return `${ms.toFixed(1)} ms`
  return `${ms.toFixed(2)} ms`
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a'
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()
  return `${cpus().length} × ${cpu}, Linux ${kernel}, Node.js ${process.version}`
}

/** A directory on tmpfs (/dev/shm), as the issue asks; the temp directory otherwise, said. */
function scratch(): { dir: string; tmpfs: boolean } {
  for (const base of ['/dev/shm', tmpdir()]) {
    if (!existsSync(base)) continue
    const dir = mkdtempSync(join(base, 'sshd-exporter-bench-'))
    return { dir, tmpfs: statfsSync(dir).type === TMPFS_MAGIC }
  }
  throw new Error('no temporary directory')
}

function exporterFlags(tree: { root: string; rootfs: string }): string[] {
  return [
    `--path.procfs=${tree.root}`,
    `--path.rootfs=${tree.rootfs}`,
    // No sshd -T on a synthetic tree: read the rootfs's sshd_config.
    '--collector.config.sshd-binary=',
    '--collector.events.source=none',
  ]
}

async function measureExporter(
  tree: BuiltTree,
  extra: readonly string[],
  scrapes: number,
): Promise<ScenarioFigures['walk'] & { body: string }> {
  const exporter = await startExporter([...exporterFlags(tree), ...extra])
  try {
    const t = await timeScrapes(exporter.url, scrapes, 5)
    assertScrape(t.body, tree, { instances: true })
    return { ...t, rssMb: exporter.peakRssMb() }
  } finally {
    await exporter.stop()
  }
}

async function scenario(s: Scenario, dir: string, floors: ReturnType<typeof buildFloors>) {
  const base = join(dir, s.name.replace(/[^A-Za-z0-9]+/g, '-'))
  const tree = buildProcfs(join(base, 'proc'), {
    connections: s.connections,
    sessions: 3,
    preauth: s.connections / 10,
    unrelated: s.unrelated,
    version: '9.2',
    mode: s.mode ?? 'daemon',
  })
  const big = s.connections >= 10_000
  const runs = args.quick ? 10 : big ? 20 : 50
  const walk = await measureExporter(tree, [], runs)
  const full = await measureExporter(
    tree,
    ['--collector.processes.rescan-interval=0'],
    big ? 10 : runs,
  )
  const floorFull = runFloor(floors.fullScan, 'full-scan', tree.root, runs)
  const floorWalk =
    tree.holderPid === null
      ? runFloor(floors.treeWalk, 'tree-walk', tree.root, runs, [tree.listenerPid])
      : runFloor(floors.treeWalk, 'tree-walk', tree.root, runs, [], [tree.holderPid])
  for (const f of [floorFull, floorWalk]) {
    const want = tree.expected.authenticated + tree.expected.preauth
    if (f.sessions !== tree.expected.sessions || f.connections !== want) {
      throw new Error(
        `the ${f.kind} floor counted ${f.sessions} sessions and ${f.connections} connections on ${s.name}, not ${tree.expected.sessions} and ${want}`,
      )
    }
  }
  const peers: PeerFigures[] = []
  if (s.peers && !args['no-peers']) {
    for (const kind of ['process-exporter', 'node-exporter'] as const) {
      peers.push(await measurePeer(kind, tree.root, { scrapes: big ? 3 : 10, warmup: 1 }))
    }
  }
  const sessionsCommand =
    s.connections === 1_000
      ? measureSessionsCommand(
          tree,
          exporterFlags(tree),
          args.quick ? 5 : 15,
          footprintBinary.binary,
        )
      : null
  const footprint =
    !args['no-footprint'] &&
    s.unrelated === 20_000 &&
    (s.mode ?? 'daemon') === 'daemon' &&
    (s.connections === 1_000 || s.connections === 10_000)
      ? await measureFootprint(tree, exporterFlags(tree), {
          binary: footprintBinary.binary,
          container: footprintContainer.container,
          stackFloor: footprintFloor,
        })
      : null
  const figures: ScenarioFigures = {
    scenario: s,
    tree,
    walk,
    full,
    floorFull,
    floorWalk,
    peers,
    sessionsCommand,
    footprint,
  }
  return { figures, base }
}

async function concurrentScrapers(tree: BuiltTree) {
  const exporter = await startExporter(exporterFlags(tree))
  try {
    const before = await (await fetch(exporter.url)).text()
    const result = await autocannon({ url: exporter.url, connections: 50, duration: 10 })
    const after = await (await fetch(exporter.url)).text()
    const scans = (text: string) => sumMetric(text, 'sshd_exporter_process_scans_total') ?? NaN
    return {
      requests: result.requests.total,
      errors: result.errors + result.non2xx,
      rps: result.requests.average,
      latencyMedianMs: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      scans: scans(after) - scans(before) - 1,
      rssMb: exporter.peakRssMb(),
    }
  } finally {
    await exporter.stop()
  }
}

async function realProc(floors: ReturnType<typeof buildFloors>) {
  const { startSshd } = await import('../test/helpers/sshd/server.ts')
  const sshd = await startSshd({ version: '9.2', config: { MaxStartups: '300:30:400' } })
  try {
    const clients = []
    for (let i = 0; i < 200; i += 20) {
      clients.push(...(await Promise.all(Array.from({ length: 20 }, () => sshd.connect()))))
    }
    // The test bed's sshd runs in a PID namespace of its own, and the exporter leaves out sshd in
    // another namespace than its procfs's (a container's, seen from the host): every reader is
    // pointed at the namespace's /proc, as an exporter deployed beside that sshd reads it.
    const procfs = sshd.procfs
    const flags = [
      `--path.procfs=${procfs}`,
      `--path.rootfs=${sshd.rootfs}`,
      '--collector.config.sshd-binary=',
      `--collector.config.file=${sshd.configFile}`,
      '--collector.events.source=none',
    ]
    const exporter = await startExporter(flags)
    let walk
    try {
      walk = await timeScrapes(exporter.url, 50, 5)
    } finally {
      await exporter.stop()
    }
    const sessions = sumMetric(walk.body, 'sshd_sessions')
    if (sessions !== 200) throw new Error(`the exporter counted ${sessions} sessions of 200`)
    const fullExporter = await startExporter([...flags, '--collector.processes.rescan-interval=0'])
    let full
    try {
      full = await timeScrapes(fullExporter.url, 50, 5)
    } finally {
      await fullExporter.stop()
    }
    const processes = countProcesses(procfs)
    const floorFull = runFloor(floors.fullScan, 'full-scan', procfs, 50)
    const floorWalk = runFloor(floors.treeWalk, 'tree-walk', procfs, 50)
    const peers: PeerFigures[] = []
    if (!args['no-peers']) {
      for (const kind of ['process-exporter', 'node-exporter'] as const) {
        peers.push(await measurePeer(kind, procfs, { scrapes: 20, warmup: 2, exact: false }))
      }
    }
    await Promise.all(clients.map((c) => c.close()))
    return { walk, full, floorFull, floorWalk, peers, processes }
  } finally {
    await sshd.stop()
  }
}

async function main(): Promise<void> {
  const started = new Date()
  const { dir, tmpfs } = scratch()
  try {
    say('# Benchmarks')
    say()
    say(`Written by \`npm run bench\` on ${started.toISOString().slice(0, 10)}: ${machine()}.`)
    say(`Trees on ${tmpfs ? 'tmpfs' : 'the temporary directory (not tmpfs)'}.`)
    say()
    const floors = buildFloors(join(dir, 'floors'))
    if (!args['no-footprint']) {
      console.error('… building the single executable (amd64)')
      footprintBinary = await buildBinary(join(dir, 'footprint'))
      console.error('… building the container image')
      footprintContainer = await buildContainer()
      footprintFloor = await bundleStackFloor(join(dir, 'footprint'))
    }
    const scenarios: Scenario[] = [
      { name: 'N=100 B=20000', connections: 100, unrelated: 20_000, peers: true },
      { name: 'N=1000 B=20000', connections: 1_000, unrelated: 20_000, peers: true },
      {
        name: 'N=1000 B=20000 per-connection',
        connections: 1_000,
        unrelated: 20_000,
        peers: false,
        mode: 'per_connection',
      },
      ...(args.quick
        ? []
        : [{ name: 'N=10000 B=20000', connections: 10_000, unrelated: 20_000, peers: true }]),
      { name: 'N=1000 B=2000', connections: 1_000, unrelated: 2_000, peers: false },
      { name: 'N=1000 B=50000', connections: 1_000, unrelated: 50_000, peers: false },
    ]
    const results: ScenarioFigures[] = []
    let crowd: Awaited<ReturnType<typeof concurrentScrapers>> | null = null
    for (const s of scenarios) {
      console.error(`… ${s.name}`)
      const { figures, base } = await scenario(s, dir, floors)
      if (s.name === 'N=1000 B=20000') crowd = await concurrentScrapers(figures.tree)
      results.push(figures)
      rmSync(base, { recursive: true, force: true })
    }
    printScenarios(results)
    printSessionsCommand(results, measureStarts(args.quick ? 5 : 15, footprintBinary.binary))
    if (!args['no-footprint']) printFootprint(results)
    if (crowd !== null) printCrowd(crowd)
    if (!args['no-real']) {
      console.error('… real /proc, 200 connections')
      printReal(await realProc(floors))
    }
    if (!args['no-logs']) {
      console.error('… log parsing')
      await printLogs(dir)
    }
    if (!args['no-web']) {
      console.error('… the web layer under attack')
      printWeb(
        await measureAuthUnderLoad(),
        await benchWebTls({ seconds: args.quick ? 3 : 5, rounds: args.quick ? 3 : 5 }),
      )
    }
    printTargets(results)
    say(readFileSync(join(import.meta.dirname, 'notes.md'), 'utf8').trimEnd())
  } finally {
    await footprintContainer.container?.remove()
    rmSync(dir, { recursive: true, force: true })
  }
  if (args.out !== '-') writeFileSync(args.out, `${report.join('\n')}\n`)
}

function printScenarios(results: readonly ScenarioFigures[]): void {
  say('## Scrape latency on synthetic trees')
  say()
  say('3 sessions per connection, N/10 pre-auth connections, OpenSSH 9.2 titles. Medians over')
  say('HTTP after 5 warm-up scrapes (p99 in brackets); floors are C programs (bench/floors).')
  say('The per-connection tree has no listener: systemd (pid 1) holds port 22 and starts one')
  say('`sshd -i` per connection as its child, so the walk starts at pid 1 and reads the stat of')
  say('each of its children (the floor likewise). Every exporter figure comes from a scrape whose')
  say('counts, instance and startups series were checked against the tree (bench/check.ts).')
  say()
  say(
    '| tree | processes | exporter (walk) | exporter (every process) | floor: tree walk | floor: full scan | walk / walk floor | walk / full floor | peak RSS |',
  )
  say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    say(
      `| ${r.scenario.name} | ${r.tree.processes} | ${fmt(r.walk.medianMs)} (${fmt(r.walk.p99Ms)}) | ${fmt(r.full.medianMs)} (${fmt(r.full.p99Ms)}) | ${fmt(r.floorWalk.medianMs)} | ${fmt(r.floorFull.medianMs)} | ${ratio(r.walk.medianMs, r.floorWalk.medianMs)} | ${ratio(r.walk.medianMs, r.floorFull.medianMs)} | ${r.walk.rssMb.toFixed(0)} MB |`,
    )
  }
  say()
  const daemon = results.find((r) => r.scenario.name === 'N=1000 B=20000')
  const perConnection = results.find((r) => r.scenario.mode === 'per_connection')
  if (daemon !== undefined && perConnection !== undefined) {
    say(
      `Per-connection against the listener's tree at N=1,000 B=20,000: the walk ${fmt(perConnection.walk.medianMs)} against ${fmt(daemon.walk.medianMs)} (${ratio(perConnection.walk.medianMs, daemon.walk.medianMs)}), its floor ${fmt(perConnection.floorWalk.medianMs)} against ${fmt(daemon.floorWalk.medianMs)}; a walk reads ${perConnection.floorWalk.processes} stat files instead of ${daemon.floorWalk.processes}, pid 1's children among them.`,
    )
    say()
  }
  const withPeers = results.filter((r) => r.peers.length > 0)
  if (withPeers.length > 0) {
    say('## Against the Go peers on the same trees')
    say()
    say(
      '| tree | exporter (walk) | process-exporter | node_exporter (processes) | process-exporter / exporter | node_exporter / exporter | peers’ peak RSS |',
    )
    say('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const r of withPeers) {
      const pe = r.peers.find((p) => p.kind === 'process-exporter')
      const ne = r.peers.find((p) => p.kind === 'node-exporter')
      say(
        `| ${r.scenario.name} | ${fmt(r.walk.medianMs)} | ${fmt(pe?.medianMs ?? NaN)}${pe?.ok === false ? ' (check failed)' : ''} | ${fmt(ne?.medianMs ?? NaN)}${ne?.ok === false ? ' (check failed)' : ''} | ${ratio(pe?.medianMs ?? NaN, r.walk.medianMs)} | ${ratio(ne?.medianMs ?? NaN, r.walk.medianMs)} | ${pe?.peakRssMb.toFixed(0) ?? 'n/a'} / ${ne?.peakRssMb.toFixed(0) ?? 'n/a'} MB |`,
      )
    }
    say()
  }
}

function printSessionsCommand(
  results: readonly ScenarioFigures[],
  starts: ReturnType<typeof measureStarts>,
): void {
  const binary = starts.binary !== null
  say('## `sshd-exporter sessions --json`, end to end')
  say()
  say('`node dist/cli.js sessions --json` against each N=1,000 tree, from spawn to exit, process')
  say('start included (medians, p99 in brackets; one warm-up run first), and the single')
  say(
    "executable's `sshd-exporter sessions --json` (what the packages install) where it was built.",
  )
  say("It reads the host once, so its scan is a full one: every process's stat, as the full-scan")
  say("floor reads them. `--sessions` reads each session's process too. The Node floor is")
  say('bench/floors/full-scan.mjs timed the same way: Node started, every stat file and the sshd')
  say('titles read as the C full-scan floor reads them, nothing else; the C floor is that scan')
  say("alone, in the process (no start). Each run's JSON, the Node floor's counts too, was")
  say(
    `checked against the tree. In the same run, bare \`node -e 0\` took ${fmt(starts.node.medianMs)}, \`node dist/cli.js --version\` ${fmt(starts.cli.medianMs)}${binary ? ` and the binary's \`--version\` ${fmt(starts.binary!.medianMs)}` : ''}.`,
  )
  say()
  say(
    `| tree | processes | sessions --json | with --sessions |${binary ? ' binary: sessions --json |' : ''} Node floor | --json / Node floor | C floor: full scan |`,
  )
  say(`| --- | ---: | ---: | ---: |${binary ? ' ---: |' : ''} ---: | ---: | ---: |`)
  for (const r of results) {
    const c = r.sessionsCommand
    if (c === null) continue
    const bin =
      c.binaryJson === null ? '' : ` ${fmt(c.binaryJson.medianMs)} (${fmt(c.binaryJson.p99Ms)}) |`
    say(
      `| ${r.scenario.name} | ${r.tree.processes} | ${fmt(c.json.medianMs)} (${fmt(c.json.p99Ms)}) | ${fmt(c.withSessions.medianMs)} (${fmt(c.withSessions.p99Ms)}) |${binary ? bin : ''} ${fmt(c.nodeFloor.medianMs)} (${fmt(c.nodeFloor.p99Ms)}) | ${ratio(c.json.medianMs, c.nodeFloor.medianMs)} | ${fmt(r.floorFull.medianMs)} |`,
    )
  }
  say()
}

function printFootprint(results: readonly ScenarioFigures[]): void {
  say('## Footprint beside node_exporter')
  say()
  say('One after another on the same tree (bench/footprint.ts): the single executable')
  say('(scripts/release.ts, amd64, run with MALLOC_ARENA_MAX=2 as its unit runs it), `node')
  say('--optimize-for-size dist/cli.js` (likewise), the container image (built from the Dockerfile')
  say('by podman, run from its own root with its ENTRYPOINT, CMD, Env and USER, the tree bound at')
  say(
    '/host/proc and /host/root), the stack floor (bench/stack-floor.ts: an exporter of nothing on',
  )
  say('fastify, pino and prom-client, bundled as the binary is and run with its flags) and')
  say("Debian's node_exporter (processes collector only, as in the scrape table). Start-up: from")
  say(
    'the spawn to the first answered /metrics scrape. RSS idle: VmRSS 1 s after the process first',
  )
  say(
    'answered /-/healthy (node_exporter: /), before any scrape. RSS after 100 scrapes: VmRSS 0.5 s',
  )
  say('after the 100th scrape. CPU: utime + stime of /proc/<pid>/stat over scrapes 2 to 100, per')
  say("1,000 scrapes. Each exporter's last scrape was checked against the tree, node_exporter's")
  say('process count likewise.')
  if (footprintBinary.note !== undefined) say(`The binary is left out: ${footprintBinary.note}.`)
  if (footprintContainer.note !== undefined) say(`${footprintContainer.note}.`)
  say()
  for (const line of FOOTPRINT_HEADER) say(line)
  for (const r of results) {
    if (r.footprint !== null)
      for (const line of footprintRows(r.scenario.name, r.footprint)) say(line)
  }
  say()
}

let authFigures: AuthLoadFigures | null = null

function printWeb(auth: AuthLoadFigures, tls: TlsFigures): void {
  authFigures = auth
  say('## The web layer under attack')
  say()
  say(
    `One user whose bcrypt hash has cost ${auth.cost}; the authenticated scrape (credentials cached after the first, ${fmt(auth.firstScrapeMs)}) against a small tree, ${auth.scrapes} scrapes alone, then ${auth.scrapes} while ${auth.load} requests with unknown users are kept in flight (bench/web-auth.ts). Then full TLS handshakes per second under RequireAndVerifyClientCert, a new connection and one request each, 8 clients (bench/web-tls.ts): a client CA with clientAuth in its extended key usage (OpenSSL verifies) and one with anyExtendedKeyUsage alone (verified again with Go's rules).`,
  )
  say()
  say('| authenticated scrape | median | p99 |')
  say('| --- | ---: | ---: |')
  say(`| alone | ${fmt(auth.aloneMedianMs)} | ${fmt(auth.aloneP99Ms)} |`)
  say(
    `| with ${auth.load} unknown users in flight | ${fmt(auth.loadedMedianMs)} (${auth.ratio.toFixed(2)}x) | ${fmt(auth.loadedP99Ms)} |`,
  )
  say()
  say('| client CA | handshakes/s (median) |')
  say('| --- | ---: |')
  say(`| clientAuth | ${tls.clientAuthCa.toFixed(0)} |`)
  say(`| anyExtendedKeyUsage | ${tls.anyEkuCa.toFixed(0)} |`)
  say()
}

function printCrowd(c: Awaited<ReturnType<typeof concurrentScrapers>>): void {
  say('## 50 concurrent scrapers (autocannon, 10 s, N=1000 B=20000)')
  say()
  say(
    `${c.requests} requests (${c.errors} errors), ${c.rps.toFixed(0)} requests/s, latency median ${c.latencyMedianMs} ms, p99 ${c.latencyP99Ms} ms; ${c.scans} process scans served them (${(c.requests / Math.max(1, c.scans)).toFixed(1)} requests a scan), peak RSS ${c.rssMb.toFixed(0)} MB.`,
  )
  say()
}

function printReal(r: Awaited<ReturnType<typeof realProc>>): void {
  say('## Real /proc: the sshd 9.2 test bed with 200 connections')
  say()
  say(
    `A real procfs: the test bed's PID namespace (its /proc, seen from the host as /proc/<pid>/root/proc), ${r.processes} processes; medians of 50 scrapes (p99 in brackets).`,
  )
  say()
  say('| reader | median | ratio to the exporter (walk) |')
  say('| --- | ---: | ---: |')
  say(`| exporter (walk) | ${fmt(r.walk.medianMs)} (${fmt(r.walk.p99Ms)}) | 1.00x |`)
  say(
    `| exporter (every process) | ${fmt(r.full.medianMs)} (${fmt(r.full.p99Ms)}) | ${ratio(r.full.medianMs, r.walk.medianMs)} |`,
  )
  say(
    `| floor: tree walk | ${fmt(r.floorWalk.medianMs)} | ${ratio(r.floorWalk.medianMs, r.walk.medianMs)} |`,
  )
  say(
    `| floor: full scan | ${fmt(r.floorFull.medianMs)} | ${ratio(r.floorFull.medianMs, r.walk.medianMs)} |`,
  )
  for (const p of r.peers) {
    say(
      `| ${p.kind}${p.ok ? '' : ' (check failed)'} | ${fmt(p.medianMs)} (${fmt(p.p99Ms)}) | ${ratio(p.medianMs, r.walk.medianMs)} |`,
    )
  }
  say()
}

async function printLogs(dir: string): Promise<void> {
  const path = join(dir, 'auth.log')
  const written = writeAuthLog(path, 1_000_000)
  const ours = await measureLogParsing(path, args.quick ? 3 : 5)
  const mtail = await measureMtail(path, args.quick ? 1 : 3, { lines: written.lines })
  const differing = Object.keys(written.expected).filter(
    (k) => ours.counts[k] !== written.expected[k] || mtail.counts[k] !== written.expected[k],
  )
  say('## Log parsing: 1,000,000 lines of auth.log')
  say()
  say(
    `${(written.bytes / 1e6).toFixed(0)} MB of mixed sshd, CRON and systemd lines (bench/auth-log.ts).`,
  )
  say()
  say('| reader | lines/s (median) | runs |')
  say('| --- | ---: | ---: |')
  say(`| exporter (one thread) | ${ours.median.toFixed(0)} | ${ours.linesPerSecond.length} |`)
  say(
    `| mtail --one_shot${mtail.oneCore ? ' (one core)' : ''} | ${mtail.median.toFixed(0)} | ${mtail.linesPerSecond.length} |`,
  )
  say()
  say(
    `Exporter / mtail: ${ratio(ours.median, mtail.median)}. Counts: ${differing.length === 0 ? 'both equal the generator’s for every event' : `differ for ${differing.join(', ')}`}.`,
  )
  say()
  logFigures = { ours: ours.median, mtail: mtail.median }
}

let logFigures: { ours: number; mtail: number } | null = null

function printTargets(results: readonly ScenarioFigures[]): void {
  const at = (name: string) => results.find((r) => r.scenario.name === name)
  const n1k = at('N=1000 B=20000')
  const n10k = at('N=10000 B=20000')
  const b2k = at('N=1000 B=2000')
  const b50k = at('N=1000 B=50000')
  const lines: [string, string, boolean | null][] = []
  if (n1k) {
    lines.push(['N=1,000: median under 25 ms', fmt(n1k.walk.medianMs), n1k.walk.medianMs < 25])
    lines.push([
      'N=1,000: within 2x of the tree-walk floor',
      ratio(n1k.walk.medianMs, n1k.floorWalk.medianMs),
      n1k.walk.medianMs <= 2 * n1k.floorWalk.medianMs,
    ])
    lines.push([
      'N=1,000: below the full-scan floor',
      ratio(n1k.walk.medianMs, n1k.floorFull.medianMs),
      n1k.walk.medianMs < n1k.floorFull.medianMs,
    ])
  }
  if (n10k) {
    lines.push([
      'N=10,000: within 2x of the tree-walk floor',
      ratio(n10k.walk.medianMs, n10k.floorWalk.medianMs),
      n10k.walk.medianMs <= 2 * n10k.floorWalk.medianMs,
    ])
    for (const p of n10k.peers) {
      lines.push([
        `N=10,000: at least 10x faster than ${p.kind}`,
        ratio(p.medianMs, n10k.walk.medianMs),
        p.medianMs >= 10 * n10k.walk.medianMs,
      ])
    }
    lines.push([
      'N=10,000: peak RSS under 120 MB',
      `${n10k.walk.rssMb.toFixed(0)} MB`,
      n10k.walk.rssMb < 120,
    ])
  }
  if (b2k && b50k) {
    const change = Math.abs(b50k.walk.medianMs - b2k.walk.medianMs) / b2k.walk.medianMs
    lines.push([
      'B=2,000 → 50,000 at N=1,000: median changes less than 20%',
      `${(change * 100).toFixed(0)}% (${fmt(b2k.walk.medianMs)} → ${fmt(b50k.walk.medianMs)})`,
      change < 0.2,
    ])
  }
  for (const r of [b2k, n1k, b50k]) {
    const c = r?.sessionsCommand
    if (!r || !c) continue
    lines.push([
      `sessions --json at ${r.scenario.name.replace('N=1000', 'N=1,000')}: under 300 ms`,
      fmt(c.json.medianMs),
      c.json.medianMs < 300,
    ])
    if (c.binaryJson !== null) {
      lines.push([
        `sessions --json at ${r.scenario.name.replace('N=1000', 'N=1,000')}, the binary: under 300 ms`,
        fmt(c.binaryJson.medianMs),
        c.binaryJson.medianMs < 300,
      ])
    }
    // Whether the target can be met on Node at all on this machine: its floor alone, measured beside.
    lines.push([
      `sessions --json at ${r.scenario.name.replace('N=1000', 'N=1,000')}, Node's floor alone (bench/floors/full-scan.mjs): under 300 ms`,
      fmt(c.nodeFloor.medianMs),
      c.nodeFloor.medianMs < 300,
    ])
  }
  if (authFigures !== null) {
    lines.push([
      `Authenticated scrape with ${authFigures.load} unknown users in flight: within 2x of alone`,
      `${authFigures.ratio.toFixed(2)}x`,
      authFigures.ratio <= 2,
    ])
  }
  if (logFigures !== null) {
    lines.push([
      'Log parsing over 500,000 lines/s',
      logFigures.ours.toFixed(0),
      logFigures.ours > 500_000,
    ])
    lines.push([
      'Log parsing faster than mtail',
      ratio(logFigures.ours, logFigures.mtail),
      logFigures.ours > logFigures.mtail,
    ])
  }
  say('## Targets (issue 8)')
  say()
  say('| target | measured | met |')
  say('| --- | ---: | :---: |')
  for (const [target, measured, met] of lines) {
    say(`| ${target} | ${measured} | ${met === null ? '' : met ? 'yes' : '**no**'} |`)
  }
  say()
}

await main()
