/**
 * The .deb and the .rpm that packaging/build.sh makes from the release's single executable (of
 * this machine's architecture): built twice, they are the same bytes; the .rpm holds the same
 * files as the .deb (paths, modes, owners, contents) with the same configuration file; the
 * packaged unit is deploy/systemd/sshd-exporter.service with only ExecStart and comments changed.
 * Then the .deb in a Debian 12 root (a writable overlay of the debootstrap root
 * scripts/make-bookworm-root.sh caches in .tools/bookworm, which stays as it is): `dpkg -i`, the
 * system user, the files, nothing enabled; `systemd-analyze verify` with no warning and its
 * offline security review of the installed unit; and the installed binary, chrooted there with no
 * Node.js in the root, serves a scrape of a synthetic procfs tree (bench/procfs-builder.ts) whose
 * counts are exact (bench/check.ts).
 *
 * The binary: from sshd-exporter-<version>.linux-<arch>.tar.gz of a release built by the test
 * (scripts/release.ts, as `npm run release` builds it), or of the release directory
 * SSHD_EXPORTER_RELEASE_DIR names. The other architecture's packages are made once too. Needs
 * root (chroot, mounts), dpkg-deb, rpmbuild and the root (scripts/install-test-deps.sh): without
 * them it is skipped, but it fails where SSHD_EXPORTER_REQUIRE_REAL=1 (CI).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { assertScrape } from '../../bench/check.ts'
import { buildProcfs } from '../../bench/procfs-builder.ts'
import { release } from '../../scripts/release.ts'
import { freePort } from '../helpers/free-port.ts'

const execFileAsync = promisify(execFile)

const REPO = join(import.meta.dirname, '..', '..')
const VERSION = (
  JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
).version
const ARCH = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : null
const RPM_ARCH = ARCH === 'amd64' ? 'x86_64' : 'aarch64'
/** Where the release is read from: SSHD_EXPORTER_RELEASE_DIR, else a fresh `release()` (before). */
let RELEASE = process.env.SSHD_EXPORTER_RELEASE_DIR ?? ''
const BOOKWORM = join(REPO, '.tools', 'bookworm')
const REQUIRED = process.env.SSHD_EXPORTER_REQUIRE_REAL === '1'
const INSTALL_HINT =
  'run scripts/install-test-deps.sh (as root): it installs rpm and makes .tools/bookworm'

/** The files both packages install, as `<mode> <owner> <path>`. */
const FILES = [
  '-rw-r--r-- root/root /etc/default/sshd-exporter',
  '-rwxr-xr-x root/root /usr/bin/sshd-exporter',
  '-rw-r--r-- root/root /usr/lib/systemd/system/sshd-exporter.service',
  '-rw-r--r-- root/root /usr/lib/sysusers.d/sshd-exporter.conf',
  '-rw-r--r-- root/root /usr/share/doc/sshd-exporter/copyright',
]
const NOTICES = '-rw-r--r-- root/root /usr/share/doc/sshd-exporter/THIRD-PARTY-NOTICES.txt'
const UNIT = '/usr/lib/systemd/system/sshd-exporter.service'

async function which(command: string): Promise<boolean> {
  return execFileAsync('sh', ['-c', `command -v ${command}`]).then(
    () => true,
    () => false,
  )
}

/** Why the test cannot run here, or null. */
async function missing(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (chroot, mounts)'
  if (ARCH === null) return `no release for ${process.arch}`
  for (const command of ['dpkg-deb', 'rpmbuild', 'unshare']) {
    if (!(await which(command))) return `${command} not found: ${INSTALL_HINT}`
  }
  if (!existsSync(join(BOOKWORM, '.complete'))) return `no ${BOOKWORM}: ${INSTALL_HINT}`
  return null
}
const why = await missing()
if (why !== null && REQUIRED) throw new Error(why)

async function run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv) {
  try {
    return await execFileAsync(command, args, {
      cwd: REPO,
      timeout: 180_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...env },
    })
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string }
    throw new Error(
      `${command} ${args.join(' ')} failed: ${e.message}\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`,
    )
  }
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/**
 * The release's binary of an architecture: the unpacked directory `npm run release` leaves, else
 * its tarball unpacked into `scratch`; null when the release has neither.
 */
async function releaseBinary(scratch: string, arch: string): Promise<string | null> {
  const name = `sshd-exporter-${VERSION}.linux-${arch}`
  const binary = join(RELEASE, name, 'sshd-exporter')
  if (existsSync(binary)) return binary
  const unpacked = join(scratch, name, 'sshd-exporter')
  if (existsSync(unpacked)) return unpacked
  const tarball = join(RELEASE, `${name}.tar.gz`)
  if (!existsSync(tarball)) return null
  await run('tar', ['-xzf', tarball, '-C', scratch])
  return unpacked
}

/** A unit's settings, in order, as `[Section] Key=value`: what systemd reads of it. */
function settings(text: string): string[] {
  let section = ''
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    if (line.startsWith('[')) section = line
    else out.push(`${section} ${line}`)
  }
  return out
}

/** `<mode> <owner> <path>` of every file but directories, from `dpkg-deb -c`. */
function debFiles(listing: string): string[] {
  return listing
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/))
    .filter((f) => !f[0]!.startsWith('d'))
    .map((f) => `${f[0]} ${f[1]} ${f[5]!.replace(/^\./, '')}`)
    .sort()
}

/**
 * Runs a command chrooted into a writable overlay of the bookworm root, in a mount namespace of
 * its own with its own /proc; the overlay's changes stay in $2/upper for the next command. $1 the
 * root, $2 the scratch directory, then the command.
 */
const IN_ROOT_SH = `
set -eu
lower=$1 top=$2
shift 2
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$top/upper,workdir=$top/work" "$top/root"
mount -t proc proc "$top/root/proc"
exec chroot "$top/root" "$@"
`

describe('.deb and .rpm packages', { skip: why ?? false, timeout: 5 * 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sshd-exporter-packages-'))
  after(() => rmSync(scratch, { recursive: true, force: true }))
  const deb = `sshd-exporter_${VERSION}_${ARCH}.deb`
  const rpm = `sshd-exporter-${VERSION}-1.${RPM_ARCH}.rpm`
  const builds = [join(scratch, 'first'), join(scratch, 'second')]
  const top = join(scratch, 'overlay')
  const timings: string[] = []
  let notices = false
  const started = performance.now()
  const step = (what: string, since: number) =>
    timings.push(`${what}: ${((performance.now() - since) / 1000).toFixed(1)} s`)

  /** A command in the overlay root (see IN_ROOT_SH). */
  const inRoot = (args: readonly string[]) =>
    run('unshare', [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      IN_ROOT_SH,
      'sh',
      BOOKWORM,
      top,
      ...args,
    ])

  let binary = ''
  /** The other architecture's binary, when the release has it: packaged once. */
  let other: string | null = null
  const OTHER = ARCH === 'amd64' ? 'arm64' : 'amd64'
  const otherBuild = join(scratch, 'other')

  before(async () => {
    if (RELEASE === '') {
      // What `npm run release` writes, built now: a release/ left from another commit would test
      // another binary.
      const since = performance.now()
      RELEASE = (await release({ out: join(scratch, 'release'), log: () => {} })).out
      step('release', since)
    }
    const found = await releaseBinary(scratch, ARCH!)
    if (found === null) {
      throw new Error(
        `no release binary in ${RELEASE}: neither sshd-exporter-${VERSION}.linux-${ARCH}/sshd-exporter ` +
          `nor its .tar.gz. Run \`npm run release\` first (or set SSHD_EXPORTER_RELEASE_DIR).`,
      )
    }
    binary = found
    other = await releaseBinary(scratch, OTHER)
    notices = existsSync(join(binary, '..', 'THIRD-PARTY-NOTICES.txt'))
    // Twice, at once, into two directories, with the same SOURCE_DATE_EPOCH (the last commit's).
    const since = performance.now()
    await Promise.all(
      builds.map((out) => run('bash', ['packaging/build.sh', binary, ARCH!, VERSION, out])),
    )
    step('two builds', since)
    if (other !== null) {
      const since = performance.now()
      await run('bash', ['packaging/build.sh', other, OTHER, VERSION, otherBuild])
      step(`${OTHER} build`, since)
    }
    for (const dir of ['upper/srv', 'work', 'root']) mkdirSync(join(top, dir), { recursive: true })
  })
  after(() => {
    timings.push(`total: ${((performance.now() - started) / 1000).toFixed(1)} s`)
    process.stderr.write(`packages test: ${timings.join(', ')}\n`)
  })

  it('are the same bytes when built twice', () => {
    for (const file of [deb, rpm]) {
      assert.equal(sha256(join(builds[0]!, file)), sha256(join(builds[1]!, file)), file)
    }
  })

  it('hold the same files, with the same modes, owners and contents', async () => {
    const debPath = join(builds[0]!, deb)
    const rpmPath = join(builds[0]!, rpm)
    const expected = [...FILES, ...(notices ? [NOTICES] : [])].sort()
    assert.deepEqual(debFiles((await run('dpkg-deb', ['-c', debPath])).stdout), expected)
    const rpmList = await run('rpm', [
      '-qp',
      '--qf',
      '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES} %{FILEDIGESTS}\n]',
      rpmPath,
    ])
    const rpmEntries = rpmList.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
    const rpmFiles = rpmEntries.filter((f) => !f[0]!.startsWith('d'))
    assert.deepEqual(rpmFiles.map((f) => f.slice(0, 3).join(' ')).sort(), expected)
    // `rpm -qlp` says the same, plus the one directory the .rpm owns.
    const listed = (await run('rpm', ['-qlp', rpmPath])).stdout.trim().split('\n').sort()
    const paths = expected.map((f) => f.split(' ')[2]!)
    assert.deepEqual(listed, [...paths, '/usr/share/doc/sshd-exporter'].sort())

    // The contents: the .rpm's digests (sha256) against the .deb's files.
    const unpacked = join(scratch, 'deb-files')
    await run('dpkg-deb', ['-x', debPath, unpacked])
    for (const [, , path, digest] of rpmFiles) {
      assert.equal(digest, sha256(join(unpacked, path!)), path)
    }
    assert.equal(
      sha256(join(unpacked, 'usr/bin/sshd-exporter')),
      sha256(binary),
      'the binary as released',
    )
    // One configuration file, the environment file. One dependency: /bin/kill, the unit's
    // ExecReload (procps on Debian, util-linux on RHEL-like systems), besides the scripts' shell.
    const conffiles = (await run('dpkg-deb', ['-I', debPath, 'conffiles'])).stdout
    assert.equal(conffiles, '/etc/default/sshd-exporter\n')
    assert.equal((await run('rpm', ['-qpc', rpmPath])).stdout, '/etc/default/sshd-exporter\n')
    assert.match((await run('rpm', ['-K', '--nosignature', rpmPath])).stdout, /: digests OK\n$/)
    assert.equal((await run('dpkg-deb', ['-f', debPath, 'Depends'])).stdout, 'procps\n')
    const requires = (await run('rpm', ['-qpR', rpmPath])).stdout.split('\n')
    assert.deepEqual(requires.filter((r) => r !== '' && !r.startsWith('rpmlib(')).sort(), [
      '/bin/sh',
      '/bin/sh',
      '/bin/sh',
      'util-linux',
    ])

    // The unit: the deploy unit's settings, ExecStart on the binary, no Node.js.
    const unit = readFileSync(join(unpacked, UNIT), 'utf8')
    const deploy = readFileSync(join(REPO, 'deploy/systemd/sshd-exporter.service'), 'utf8')
    assert.deepEqual(
      settings(unit),
      settings(deploy).map((s) =>
        s.startsWith('[Service] ExecStart=')
          ? '[Service] ExecStart=/usr/bin/sshd-exporter $ARGS'
          : s,
      ),
    )
    assert.doesNotMatch(unit, /\/opt\/|\/usr\/bin\/node/)
    assert.equal(
      readFileSync(join(unpacked, 'etc/default/sshd-exporter'), 'utf8'),
      readFileSync(join(REPO, 'deploy/systemd/sshd-exporter.default'), 'utf8'),
    )
  })

  it('are made for the other architecture too, and not from a binary of the wrong one', async (t) => {
    const wrong = await run('bash', [
      'packaging/build.sh',
      binary,
      OTHER,
      VERSION,
      otherBuild,
    ]).catch((e: Error) => e)
    assert.ok(wrong instanceof Error && /is not an? (amd64|arm64) executable/.test(wrong.message))
    if (other === null) {
      t.skip(`the release has no ${OTHER} binary`)
      return
    }
    const otherRpmArch = OTHER === 'amd64' ? 'x86_64' : 'aarch64'
    const otherDeb = join(otherBuild, `sshd-exporter_${VERSION}_${OTHER}.deb`)
    const otherRpm = join(otherBuild, `sshd-exporter-${VERSION}-1.${otherRpmArch}.rpm`)
    assert.equal((await run('dpkg-deb', ['-f', otherDeb, 'Architecture'])).stdout, `${OTHER}\n`)
    assert.equal((await run('rpm', ['-qp', '--qf', '%{ARCH}', otherRpm])).stdout, otherRpmArch)
    const expected = [
      ...FILES,
      ...(existsSync(join(other, '..', 'THIRD-PARTY-NOTICES.txt')) ? [NOTICES] : []),
    ]
    assert.deepEqual(debFiles((await run('dpkg-deb', ['-c', otherDeb])).stdout), expected.sort())
    const listed = (await run('rpm', ['-qlp', otherRpm])).stdout.trim().split('\n').sort()
    assert.deepEqual(
      listed,
      [...expected.map((f) => f.split(' ')[2]!), '/usr/share/doc/sshd-exporter'].sort(),
    )
  })

  it('installs into a Debian 12 root with dpkg -i: the user, the files, nothing enabled', async () => {
    const since = performance.now()
    await copyFile(join(builds[0]!, deb), join(top, 'upper/srv', deb))
    await inRoot(['dpkg', '-i', `/srv/${deb}`])
    step('dpkg -i', since)
    const status = await inRoot(['dpkg-query', '-W', '-f=${Status} ${Version}', 'sshd-exporter'])
    assert.equal(status.stdout, `install ok installed ${VERSION}`)

    const user = (await inRoot(['getent', 'passwd', 'sshd-exporter'])).stdout.trim().split(':')
    const group = (await inRoot(['getent', 'group', 'sshd-exporter'])).stdout.trim().split(':')
    assert.equal(user[0], 'sshd-exporter')
    assert.ok(Number(user[2]) > 0 && Number(user[2]) < 1000, `a system uid: ${user[2]}`)
    assert.equal(user[3], group[2], 'its own group')
    assert.deepEqual(user.slice(5), ['/nonexistent', '/usr/sbin/nologin'])
    assert.ok(!existsSync(join(top, 'upper/nonexistent')), 'no home made')

    // The files, in the overlay's upper layer: what dpkg wrote.
    for (const entry of [...FILES, ...(notices ? [NOTICES] : [])]) {
      const path = entry.split(' ')[2]!
      const st = statSync(join(top, 'upper', path))
      assert.ok(st.isFile(), path)
      assert.equal(st.uid, 0, path)
      assert.equal(st.mode & 0o777, entry.startsWith('-rwx') ? 0o755 : 0o644, path)
    }
    assert.ok(
      !existsSync(join(top, 'upper/etc/systemd/system/multi-user.target.wants')),
      'not enabled',
    )
    const version = await inRoot(['/usr/bin/sshd-exporter', '--version'])
    assert.match(
      version.stdout,
      new RegExp(`^sshd_exporter, version ${VERSION.replace(/\./g, '\\.')} `),
    )
  })

  it('has a unit that systemd-analyze verifies in that root with no warning', async () => {
    const since = performance.now()
    const verify = await inRoot(['systemd-analyze', 'verify', UNIT]).catch((e: Error) => ({
      stdout: '',
      stderr: e.message,
    }))
    assert.equal(`${verify.stdout}${verify.stderr}`, '', 'no warning at all')
    const security = await inRoot([
      'systemd-analyze',
      'security',
      '--offline=true',
      '--no-pager',
      UNIT,
    ])
    const level = /Overall exposure level for sshd-exporter\.service: (\d+\.\d+)/.exec(
      security.stdout,
    )
    assert.ok(level, security.stdout)
    assert.ok(Number(level[1]) <= 2.5, security.stdout)
    step('systemd-analyze', since)
  })

  it('serves a scrape from the installed binary, chrooted in that root', async (t) => {
    const since = performance.now()
    assert.ok(!existsSync(join(BOOKWORM, 'usr/bin/node')), 'no Node.js in the root')
    // A small synthetic tree, in the root at /srv/proc and /srv/rootfs.
    const tree = buildProcfs(join(top, 'upper/srv/proc'), {
      connections: 12,
      sessions: 3,
      preauth: 4,
      unrelated: 40,
      version: '9.2',
      rootfs: join(top, 'upper/srv/rootfs'),
    })
    const port = await freePort()
    const child: ChildProcess = spawn(
      'unshare',
      [
        ...['--mount', '--propagation', 'private', 'sh', '-c', IN_ROOT_SH, 'sh', BOOKWORM, top],
        '/usr/bin/sshd-exporter',
        `--web.listen-address=127.0.0.1:${port}`,
        '--path.procfs=/srv/proc',
        '--path.rootfs=/srv/rootfs',
        '--collector.config.sshd-binary=',
        '--collector.events.source=none',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    child
      .stderr!.setEncoding('utf8')
      .on('data', (s: string) => (stderr = (stderr + s).slice(-4000)))
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    t.after(async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    })
    const url = `http://127.0.0.1:${port}/metrics`
    let body = ''
    const deadline = Date.now() + 30_000
    for (;;) {
      assert.equal(child.exitCode, null, `the exporter exited: ${stderr}`)
      const response = await fetch(url).catch(() => null)
      if (response?.ok) {
        body = await response.text()
        break
      }
      assert.ok(Date.now() < deadline, `the exporter did not answer: ${stderr}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    assertScrape(body, tree, { instances: true }, `the packaged binary (${basename(RELEASE)})`)
    assert.match(body, new RegExp(`^sshd_exporter_build_info\\{[^}]*version="${VERSION}"`, 'm'))
    step('scrape', since)
  })
})
