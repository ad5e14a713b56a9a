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
import {
  BASE_IMAGE,
  buildMountedImage,
  containerProcess,
  type ImageConfig,
  inspectImage,
  type MountedImage,
  run,
} from '../helpers/container.ts'
import { freePort } from '../helpers/free-port.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'

const execFileAsync = promisify(execFile)

const REPO = join(import.meta.dirname, '..', '..')
const TAG = 'localhost/sshd-exporter:test'
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

describe('the container image', { skip: why ?? false, timeout: 15 * 60_000 }, () => {
  let image: MountedImage | undefined
  let config: ImageConfig
  let size = 0
  let baseSize = 0
  let mountPoint = ''
  const timings: string[] = []

  before(async () => {
    // Mounted before any sshd test bed starts: its mount namespace is a copy of this one.
    image = await buildMountedImage(TAG, PKG.version)
    timings.push(`base image (scripts/make-base-image.sh): ${image.baseSeconds.toFixed(1)} s`)
    timings.push(`podman build: ${image.buildSeconds.toFixed(1)} s`)
    ;({ config, size, root: mountPoint } = image)
    baseSize = (await inspectImage(BASE_IMAGE)).Size
  })

  after(async () => {
    if (image !== undefined) await image.remove()
    else await run('podman', ['rmi', '--force', '--ignore', TAG])
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
    const sshd: SshdServer = await startSshd({ version: '9.2', t, config: { MaxSessions: 7 } })
    const conn = await sshd.connect({ pty: true })
    t.after(() => conn.close())

    const scratch = await mkdtemp(join(tmpdir(), 'sshd-exporter-container-'))
    t.after(() => rmSync(scratch, { recursive: true, force: true }))
    const listen = `127.0.0.1:${await freePort()}`
    const { command, env, uid, gid } = containerProcess(image!, {
      scratch,
      hostRoot: '/',
      hostProc: '/proc',
      args: [
        `--web.listen-address=${listen}`,
        // The test bed's config file, as the container sees the host's files.
        `--collector.config.file=/host/root${sshd.configFile}`,
      ],
    })
    // Inside the test bed's mount namespace: "the host" is the test bed.
    const child = spawn('nsenter', ['-t', String(sshd.initHostPid), '-m', '--', ...command], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    })
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
