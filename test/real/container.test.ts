/**
 * The container image: the real Dockerfile, built by podman (`--isolation=chroot`, as it builds
 * without a container engine) on a local stand-in for node:24-bookworm-slim made from Debian's
 * archive and the npm registry (scripts/make-base-image.sh); then the built image's own
 * ENTRYPOINT and CMD, run with the image's root as its root (nsenter --root), as its USER, in its
 * WorkingDir, with its Env, against a real sshd, the way docs/install.md runs it: the host's /proc at
 * /host/proc and its / at /host/root, every mount and the image's root read-only, its own /proc
 * and a few devices.
 *
 * "The host" is the sshd test bed: its PID namespace's /proc and its root (its own /run with the
 * utmp, its own /var/log). They are mounted from inside its mount namespace (a procfs cannot be
 * bind-mounted from another mount namespace; given a /proc/<pid>/root path, mount(8) resolves it
 * to the caller's own /proc and binds that instead), in a private mount namespace that ends with
 * the exporter. The image is mounted (podman image mount) before the test bed starts, so that the
 * test bed's mount namespace, a copy of the host's, has it.
 *
 * Needs root, podman and debootstrap (scripts/install-test-deps.sh). Without podman the test is
 * skipped, but it fails where SSHD_EXPORTER_REQUIRE_REAL=1 (CI).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { exporterFlags } from '../helpers/flags.ts'
import {
  attachExporter,
  type RunningExporter,
  sample,
  scrapeUntil,
  series,
} from '../helpers/exporter.ts'
import { freePort } from '../helpers/free-port.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'

const execFileAsync = promisify(execFile)

const REPO = join(import.meta.dirname, '..', '..')
const TAG = 'localhost/sshd-exporter:test'
const BASE = 'docker.io/library/node:24-bookworm-slim'
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string
  license: string
  dependencies: Record<string, string>
}
const REQUIRED = process.env.SSHD_EXPORTER_REQUIRE_REAL === '1'
const INSTALL_HINT = 'run scripts/install-test-deps.sh (as root) to install podman and debootstrap'

/** Why the test cannot run here, or null. */
async function missing(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (podman build, mounts, the sshd test bed)'
  try {
    await execFileAsync('podman', ['--version'])
  } catch {
    return `podman not found: ${INSTALL_HINT}`
  }
  return null
}
const why = await missing()
if (why !== null && REQUIRED) throw new Error(why)

async function run(command: string, args: readonly string[], timeoutMs = 600_000) {
  try {
    return await execFileAsync(command, args, {
      cwd: REPO,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    })
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string }
    throw new Error(
      `${command} ${args.join(' ')} failed: ${e.message}\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`,
    )
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now()
  const value = await fn()
  return [value, (performance.now() - start) / 1000]
}

interface ImageConfig {
  User?: string
  Env?: string[]
  Entrypoint?: string[] | null
  Cmd?: string[] | null
  WorkingDir?: string
  ExposedPorts?: Record<string, unknown>
  Labels?: Record<string, string>
}

async function inspect(ref: string): Promise<{ Size: number; Config: ImageConfig }> {
  const { stdout } = await run('podman', ['image', 'inspect', ref])
  return (JSON.parse(stdout) as Array<{ Size: number; Config: ImageConfig }>)[0]!
}

/** The certificates npm on this machine trusts beyond Node's own, for the build's npm ci. */
async function npmCaFile(): Promise<string | null> {
  const extra = process.env.NODE_EXTRA_CA_CERTS
  if (extra && existsSync(extra)) return extra
  const { stdout } = await execFileAsync('npm', ['config', 'get', 'cafile']).catch(() => ({
    stdout: '',
  }))
  const file = stdout.trim()
  return file !== '' && file !== 'null' && file !== 'undefined' && existsSync(file) ? file : null
}

/** Every file under `dir` (not following symlinks), relative to it. */
function walk(dir: string, prefix = ''): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, entry.name)
    if (entry.isDirectory()) out.push(`${rel}/`, ...walk(dir, rel))
    else out.push(rel)
  }
  return out
}

/** The uid, gid and home that Docker gives the image's USER (numeric, or a name in its passwd). */
function resolveUser(root: string, user: string): { uid: number; gid: number; home: string } {
  const [u = '', g] = user.split(':')
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
  const entry = passwd.find((f) => f[0] === u || f[2] === u)
  const uid = /^\d+$/.test(u) ? Number(u) : Number(entry?.[2])
  let gid = entry === undefined ? 0 : Number(entry[3])
  if (g !== undefined) {
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((f) => f[0] === g)
    gid = /^\d+$/.test(g) ? Number(g) : Number(group?.[2])
  }
  assert.ok(Number.isInteger(uid) && Number.isInteger(gid), `USER ${user} not found in the image`)
  return { uid, gid, home: entry?.[5] || '/' }
}

/**
 * Run inside the test bed's mount namespace, in a private one of its own: lays out the container's
 * root on a writable overlay of the (read-only) image mount, then makes every mount in it
 * read-only, and runs the command in it as the user. $1 image, $2 scratch dir, $3 uid, $4 gid,
 * $5 working directory, then the command.
 */
const CONTAINER_SH = `
set -eu
image=$1 top=$2 uid=$3 gid=$4 wd=$5
shift 5
mount -t tmpfs -o mode=755 container "$top"
mkdir "$top/upper" "$top/work" "$top/root"
mount -t overlay overlay -o "lowerdir=$image,upperdir=$top/upper,workdir=$top/work" "$top/root"
r=$top/root
mkdir -p "$r/host/proc" "$r/host/root" "$r/proc" "$r/dev"
# -v /:/host/root:ro (docker binds recursively) and -v /proc:/host/proc:ro
mount --rbind / "$r/host/root"
mount --rbind /proc "$r/host/proc"
# The container's own /proc (--pid=host: the host's PID namespace, which this shell is in) and /dev.
mount -t proc proc "$r/proc"
mount -t tmpfs -o mode=755,size=64k dev "$r/dev"
for d in null zero full random urandom tty; do
  touch "$r/dev/$d"
  mount --bind "/dev/$d" "$r/dev/$d"
done
# --read-only and :ro: every mount under the root, submounts too.
awk -v r="$r" '$5 == r || index($5, r "/") == 1 { print $5 }' "$r/proc/self/mountinfo" >"$top/mounts"
while read -r m; do mount -o remount,bind,ro "$m"; done <"$top/mounts"
exec nsenter --root="$r" --wdns="$wd" --setuid="$uid" --setgid="$gid" -- "$@"
`

describe('the container image', { skip: why ?? false, timeout: 15 * 60_000 }, () => {
  let config: ImageConfig
  let size = 0
  let baseSize = 0
  let mountPoint = ''
  const timings: string[] = []

  before(async () => {
    const [, baseSeconds] = await timed(() => run('bash', ['scripts/make-base-image.sh']))
    timings.push(`base image (scripts/make-base-image.sh): ${baseSeconds.toFixed(1)} s`)
    await run('podman', ['rmi', '--force', '--ignore', TAG])
    const ca = await npmCaFile()
    const revision = await execFileAsync('git', ['rev-parse', 'HEAD'], { cwd: REPO })
      .then((r) => r.stdout.trim())
      .catch(() => 'unknown')
    const [, buildSeconds] = await timed(() =>
      run('podman', [
        ...['build', '--isolation=chroot', '--pull=never', '--layers=false'],
        ...(ca === null ? [] : ['--secret', `id=ca,src=${ca}`]),
        ...['--build-arg', `VERSION=${PKG.version}`, '--build-arg', `REVISION=${revision}`],
        ...['-t', TAG, '.'],
      ]),
    )
    timings.push(`podman build: ${buildSeconds.toFixed(1)} s`)
    const image = await inspect(TAG)
    config = image.Config
    size = image.Size
    baseSize = (await inspect(BASE)).Size
    // Before any sshd test bed starts: its mount namespace is a copy of this one.
    mountPoint = (await run('podman', ['image', 'mount', TAG])).stdout.trim()
  })

  after(async () => {
    if (mountPoint !== '') await run('podman', ['image', 'unmount', TAG]).catch(() => {})
    await run('podman', ['rmi', '--force', '--ignore', TAG])
  })

  it('is configured as a DaemonSet needs it', (t) => {
    for (const line of timings) t.diagnostic(line)
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`
    t.diagnostic(
      `image size: ${mb(size)} (the base ${mb(baseSize)}, the exporter ${mb(size - baseSize)})`,
    )

    assert.match(config.User ?? '', /^\d+(:\d+)?$/, 'a numeric USER (runAsNonRoot checks it)')
    assert.notEqual(Number(config.User!.split(':')[0]), 0, 'not root')
    assert.deepEqual(config.Entrypoint?.slice(0, 1), ['node'], 'node itself, no npm, no shell')
    assert.deepEqual(config.Cmd, ['--path.procfs=/host/proc', '--path.rootfs=/host/root'])
    const port = exporterFlags([]).web.listenAddress.port
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), [`${port}/tcp`], 'the default port')
    const labels = config.Labels ?? {}
    assert.equal(labels['org.opencontainers.image.title'], 'sshd-exporter')
    assert.equal(labels['org.opencontainers.image.version'], PKG.version)
    assert.equal(labels['org.opencontainers.image.licenses'], PKG.license)
    assert.match(labels['org.opencontainers.image.source'] ?? '', /^https:\/\//)
    assert.ok((config.Env ?? []).some((e) => e.startsWith('PATH=')))
  })

  it('holds the built exporter and its production dependencies, nothing else of the repo', () => {
    const workdir = config.WorkingDir || '/'
    const app = join(mountPoint, workdir)
    const entry = config.Entrypoint!.at(-1)!
    assert.ok(statSync(join(mountPoint, resolve(workdir, entry))).isFile(), `${entry} is there`)
    const modules = join(app, 'node_modules')
    for (const name of Object.keys(PKG.dependencies)) {
      assert.ok(existsSync(join(modules, name, 'package.json')), `dependency ${name} is there`)
    }
    // No package that only the devDependencies need (ajv is one and fastify's too: it stays).
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>
    }
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev)
    assert.ok(devOnly.some(([path]) => path === 'node_modules/typescript'))
    assert.deepEqual(
      devOnly.map(([path]) => path).filter((path) => existsSync(join(app, path))),
      [],
      'development packages in the image',
    )
    // The repo's own files: compiled JavaScript and package.json, no sources, tests or tools.
    const own = walk(app).filter((f) => !f.startsWith('node_modules/'))
    assert.deepEqual(
      own.filter((f) => /\.[cm]?ts$/.test(f) && !f.endsWith('.d.ts')),
      [],
      'no TypeScript sources',
    )
    assert.deepEqual(
      own.filter((f) => /^(src|test|bench|scripts|dashboards|helm|deploy|\.tools|\.git)\//.test(f)),
      [],
    )
    assert.deepEqual(
      own.filter((f) => !f.endsWith('/')).filter((f) => !/^dist\/.*\.js(\.map)?$/.test(f)),
      ['package.json'],
    )
    assert.ok(!existsSync(join(mountPoint, 'usr/local/bin/npm')), 'no npm at run time')
  })

  it('runs as its user on a read-only root and counts a real sshd session', async (t) => {
    const { uid, gid, home } = resolveUser(mountPoint, config.User!)
    const sshd: SshdServer = await startSshd({ version: '9.2', t, config: { MaxSessions: 7 } })
    const conn = await sshd.connect({ pty: true })
    t.after(() => conn.close())

    const scratch = await mkdtemp(join(tmpdir(), 'sshd-exporter-container-'))
    t.after(() => rmSync(scratch, { recursive: true, force: true }))
    const listen = `127.0.0.1:${await freePort()}`
    const argv = [
      ...(config.Entrypoint ?? []),
      ...(config.Cmd ?? []),
      `--web.listen-address=${listen}`,
      // The test bed's config file, as the container sees the host's files.
      `--collector.config.file=/host/root${sshd.configFile}`,
    ]
    const env: NodeJS.ProcessEnv = { HOME: home }
    for (const e of config.Env ?? []) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1)
    const child = spawn(
      'nsenter',
      [
        ...['-t', String(sshd.initHostPid), '-m', '--'],
        ...['unshare', '-m', '--propagation', 'private', '--'],
        ...['sh', '-c', CONTAINER_SH, 'container', mountPoint, scratch],
        ...[String(uid), String(gid), config.WorkingDir || '/', ...argv],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env },
    )
    const exporter = await exporterProcess(child, listen)
    t.after(() => exporter.stop())

    const text = await scrapeUntil(
      exporter,
      `one session of ${TEST_USER}`,
      (s) => series(s, 'sshd_sessions').get(`{user="${TEST_USER}"}`) === 1,
    )
    assert.equal(sample(text, 'sshd_up'), 1)
    assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 1)
    for (const c of ['processes', 'config', 'stale', 'sockets']) {
      assert.equal(sample(text, `sshd_scrape_collector_success{collector="${c}"}`), 1, c)
    }
    // Read from /host/root: the test bed's sshd_config, and its utmp (without one, no utmp_orphan).
    assert.equal(sample(text, `sshd_config_max_sessions{port="${sshd.port}"}`), 7)
    assert.equal(
      sample(text, `sshd_config_info{port="${sshd.port}",source="file"}`),
      1,
      'no sshd -T in the image',
    )
    assert.equal(sample(text, 'sshd_stale_sessions{reason="idle"}'), 0)
    assert.equal(sample(text, 'sshd_stale_sessions{reason="utmp_orphan"}'), 0)
    const node = (config.Env ?? []).find((e) => e.startsWith('NODE_VERSION='))?.slice(13)
    assert.ok(
      text.includes(`sshd_exporter_build_info{version="${PKG.version}",nodejs="${node}"} 1`),
      `the image's own node ${node}`,
    )

    // The exporter process, from the host: the image's user, no capabilities, a read-only root.
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'))
    assert.match(status, new RegExp(`^Gid:\\s+${gid}\\s+${gid}\\s+${gid}\\s+${gid}$`, 'm'))
    assert.match(status, /^CapEff:\s+0+$/m)
    const mountinfo = await readFile(`/proc/${child.pid}/mountinfo`, 'utf8')
    const rootMount = mountinfo.split('\n').find((l) => l.split(' ')[4] === '/')
    assert.match(rootMount ?? '', /^\S+ \S+ \S+ \S+ \/ ro[, ]/, 'read-only root')
    t.diagnostic(`exporter: uid ${uid}, gid ${gid}, ${listen}`)
    for (const l of exporter.logs.filter((l) => l.level !== 'info')) {
      t.diagnostic(`exporter log: ${JSON.stringify(l)}`)
    }

    await conn.close()
    const afterClose = await scrapeUntil(exporter, 'no session left', (s) => {
      return sample(s, 'sshd_connections{state="authenticated"}') === 0
    })
    assert.deepEqual(Object.fromEntries(series(afterClose, 'sshd_sessions')), {
      '{user="other"}': 0,
    })
    assert.equal(await exporter.stop(), 0, 'exits 0 on SIGTERM')
    assert.equal(exporter.logs.at(-1)?.msg, 'shut down')
  })
})

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** The exporter started by `child` (killed if the test process exits first), once it listens on `listen`. */
async function exporterProcess(child: ChildProcess, listen: string): Promise<RunningExporter> {
  running.add(child)
  child.once('exit', () => running.delete(child))
  const exporter = await attachExporter(child, { timeoutMs: 20_000 })
  assert.equal(exporter.url, `http://${listen}`, 'the start-up line names the address asked for')
  return exporter
}
