/**
 * The release's single executable (`npm run release`, scripts/release.ts): built once here into
 * a scratch directory, for both architectures as it ships. The amd64 binary, out of its tarball,
 * runs with no node anywhere on PATH (an empty directory is all of PATH): `--version` prints
 * package.json's version, a scrape of a generated procfs tree has the tree's exact counts, its
 * start-up line shows the built-in node flags, and a basic-auth login goes through bcrypt's
 * worker thread, which in the executable runs from an asset of its own (src/web/bcrypt-pool.ts).
 *
 * Reproducible: a second build of amd64 only, in other directories, gives the same tarball,
 * byte for byte; that one build runs every stage (bundle, blob, injection, tarball) again, for
 * half the time of building both architectures twice. `npm run release -- --check` builds both
 * twice.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashSync } from 'bcryptjs'
import { assertScrape } from '../../bench/check.ts'
import { buildProcfs } from '../../bench/procfs-builder.ts'
import { release, type ReleaseResult } from '../../scripts/release.ts'
import { NODE_ENV, NODE_FLAGS } from '../../src/runtime.ts'
import { attachExporter, get } from '../helpers/exporter.ts'

const { version } = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'),
) as { version: string }

const scratch = mkdtempSync(join(tmpdir(), 'sshd-exporter-binary-test-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

/** An environment with no node: PATH is an empty directory, nothing else is inherited. */
const emptyBin = join(scratch, 'empty-bin')
mkdirSync(emptyBin)
const NO_NODE_ENV = { PATH: emptyBin, ...NODE_ENV }

function sums(text: string): Map<string, string> {
  return new Map(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(66), l.slice(0, 64)] as const),
  )
}

describe('the release’s single executable', () => {
  let built: ReleaseResult
  let binary: string
  const quiet = () => {}

  before(async () => {
    built = await release({ out: join(scratch, 'release'), log: quiet })
    execFileSync('tar', ['xzf', join(built.out, `sshd-exporter-${version}.linux-amd64.tar.gz`)], {
      cwd: scratch,
    })
    binary = join(scratch, `sshd-exporter-${version}.linux-amd64`, 'sshd-exporter')
  })

  it('writes both tarballs and packages and their checksums, with what each tarball holds', () => {
    const names = [`amd64`, `arm64`].map((a) => `sshd-exporter-${version}.linux-${a}.tar.gz`)
    // The packages are test/real/packages.test.ts's to check: here, that they are released.
    const packages = [
      `sshd-exporter-${version}-1.aarch64.rpm`,
      `sshd-exporter-${version}-1.x86_64.rpm`,
      `sshd-exporter_${version}_amd64.deb`,
      `sshd-exporter_${version}_arm64.deb`,
    ]
    const all = [...names, ...packages].sort()
    assert.deepEqual(readdirSync(built.out).sort(), [...all, 'sha256sums.txt'].sort())
    assert.deepEqual([...sums(built.sums).keys()].sort(), all)
    // As `sha256sum -c` reads it.
    execFileSync('sha256sum', ['--check', '--quiet', 'sha256sums.txt'], { cwd: built.out })
    const listing = execFileSync('tar', ['tzvf', join(built.out, names[1]!)], { encoding: 'utf8' })
    const top = `sshd-exporter-${version}.linux-arm64/`
    const files = listing
      .trim()
      .split('\n')
      .map((l) => l.slice(l.indexOf(top)))
    assert.deepEqual(
      files,
      [
        '',
        'LICENSE',
        'README.md',
        'THIRD-PARTY-NOTICES.txt',
        'sshd-exporter',
        'sshd-exporter.default',
        'sshd-exporter.service',
      ].map((f) => top + f),
    )
    for (const line of listing.trim().split('\n')) assert.match(line, / 0\/0 /)
    const unit = readFileSync(join(scratch, top.replace('arm64', 'amd64'), 'sshd-exporter.service'))
    assert.match(unit.toString(), /^ExecStart=\/usr\/local\/bin\/sshd-exporter \$ARGS$/m)
    assert.match(unit.toString(), /^Environment=MALLOC_ARENA_MAX=2$/m)
  })

  it('--version, with no node on PATH', () => {
    const out = execFileSync(binary, ['--version'], { env: NO_NODE_ENV, encoding: 'utf8' })
    assert.equal(out.split('\n')[0], `sshd_exporter, version ${version} (nodejs: 24.21.0)`)
  })

  it('scrapes a generated tree with its exact counts, with the built-in node flags', async (t) => {
    const tree = buildProcfs(join(scratch, 'tree', 'proc'), {
      connections: 20,
      sessions: 3,
      preauth: 2,
      unrelated: 50,
      version: '9.2',
    })
    const child = spawn(
      binary,
      [
        '--web.listen-address=127.0.0.1:0',
        `--path.procfs=${tree.root}`,
        `--path.rootfs=${tree.rootfs}`,
        '--collector.config.sshd-binary=',
        '--collector.events.source=none',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: NO_NODE_ENV },
    )
    const exporter = await attachExporter(child, { t })
    const listening = exporter.logs.find((l) => l.msg === 'sshd_exporter listening')
    assert.equal(listening?.node_flags, NODE_FLAGS.join(' '))
    assertScrape(await exporter.scrape(), tree, { instances: true }, 'the single executable')
    assert.equal(await exporter.stop(), 0)
  })

  it('logs in with basic auth: bcrypt on its worker thread, from the executable’s asset', async (t) => {
    const webConfig = join(scratch, 'web-config.yml')
    writeFileSync(webConfig, `basic_auth_users:\n  alice: ${hashSync('secret', 4)}\n`)
    const child = spawn(
      binary,
      [
        '--web.listen-address=127.0.0.1:0',
        `--web.config.file=${webConfig}`,
        '--collector.config.sshd-binary=',
        '--collector.events.source=none',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: NO_NODE_ENV },
    )
    const exporter = await attachExporter(child, { t })
    const url = `${exporter.url}/metrics`
    assert.equal((await get(url)).status, 401)
    assert.equal((await get(url, { auth: { user: 'alice', password: 'wrong' } })).status, 401)
    const ok = await get(url, { auth: { user: 'alice', password: 'secret' } })
    assert.equal(ok.status, 200)
    assert.match(ok.body, /^sshd_exporter_build_info\{/m)
    const warnings = exporter.logs.filter((l) => String(l.raw ?? l.msg).includes('bcrypt'))
    assert.deepEqual(warnings, [])
    assert.equal(await exporter.stop(), 0)
  })

  it('is reproducible: a second amd64 build elsewhere gives the same tarball and packages', async () => {
    const again = await release({ out: join(scratch, 'again'), arches: ['amd64'], log: quiet })
    const names = [
      `sshd-exporter-${version}.linux-amd64.tar.gz`,
      `sshd-exporter_${version}_amd64.deb`,
      `sshd-exporter-${version}-1.x86_64.rpm`,
    ]
    const first = sums(built.sums)
    assert.deepEqual(
      names.map((n) => sums(again.sums).get(n)),
      names.map((n) => first.get(n)),
    )
  })
})
