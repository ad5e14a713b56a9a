import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createLogger } from '../../src/logger.ts'
import {
  EffectiveConfigReader,
  type EffectiveConfigOptions,
  splitRoot,
} from '../../src/state/sshd-configs.ts'
import { parseSshdArgv } from '../../src/sources/sshd-argv.ts'
import { readSshdConfig } from '../../src/sources/sshd-config/read.ts'
import { type EffectiveConfig, SshdConfigError } from '../../src/sources/sshd-config/values.ts'
import { sshdBinaries } from '../helpers/sshd/builds.ts'

function capture() {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    destination: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  })
  return { logger, lines }
}

const root = mkdtempSync(join(tmpdir(), 'effective-config-'))
after(() => rmSync(root, { recursive: true, force: true }))
mkdirSync(join(root, 'etc', 'ssh'), { recursive: true })
const hostKey = join(root, 'hostkey')
// sshd -T needs a host key of its own; the file source never reads it.
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey])
writeFileSync(
  join(root, 'etc', 'ssh', 'sshd_config'),
  'MaxSessions 5\nInclude /etc/ssh/missing.d/*\n',
)

describe('splitRoot', () => {
  it('finds the path inside the root', () => {
    assert.deepEqual(splitRoot('/host', '/host/etc/ssh/sshd_config'), {
      root: '/host',
      inRoot: '/etc/ssh/sshd_config',
    })
    assert.deepEqual(splitRoot('/', '/etc/ssh/sshd_config'), {
      root: '/',
      inRoot: '/etc/ssh/sshd_config',
    })
  })
  it('reads a file outside the root from the exporter’s own root', () => {
    assert.deepEqual(splitRoot('/host', '/elsewhere/sshd_config'), {
      root: '/',
      inRoot: '/elsewhere/sshd_config',
    })
    assert.deepEqual(splitRoot('/host', '/hostile/../etc/x'), { root: '/', inRoot: '/etc/x' })
  })
})

describe('EffectiveConfigReader', () => {
  it('unprivileged: reads the files and says why once, however often it reads', async () => {
    const { logger, lines } = capture()
    const reader = new EffectiveConfigReader({
      sshdBinary: sshdBinaries('9.2').sshd,
      rootfs: root,
      file: join(root, 'etc', 'ssh', 'sshd_config'),
      fileExplicit: false,
      logger,
      privileged: false,
      ttlMs: 0,
    })
    const first = await reader.refresh()
    await reader.refresh()
    await reader.refresh()
    assert.equal(first.source, 'file')
    assert.equal(first.values.maxSessions, 5)
    const said = lines.filter(
      (l) => l.msg === 'not running sshd -T; reading the sshd_config files instead',
    )
    assert.equal(said.length, 1)
    assert.equal(said[0]?.reason, 'not running as root')
  })

  it('serves the last read at once and refreshes in the background after the time to live', async () => {
    const { logger } = capture()
    const reader = new EffectiveConfigReader({
      sshdBinary: null,
      rootfs: root,
      file: join(root, 'etc', 'ssh', 'sshd_config'),
      fileExplicit: false,
      logger,
      ttlMs: 50,
    })
    const first = await reader.current()
    const again = await reader.current()
    assert.equal(again, first, 'within the time to live: the same read, no new one')
    await new Promise((r) => setTimeout(r, 60))
    const stale = await reader.current()
    assert.equal(stale, first, 'past it: the old read answers at once…')
    await new Promise((r) => setTimeout(r, 50))
    const fresh = await reader.current()
    assert.notEqual(fresh, first, '…and a new one follows')
    assert.ok(fresh.readAt > first.readAt)
  })

  it('falls back to the files when the real sshd -T fails, and logs it once', async () => {
    // sshd -T without -C cannot evaluate Match LocalPort and exits 255 (OpenSSH 9.2 and 10.0).
    const dir = mkdtempSync(join(tmpdir(), 'sshd-t-fails-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'sshd_config')
    writeFileSync(file, `HostKey ${hostKey}\nMaxSessions 6\nMatch LocalPort 22\n  MaxSessions 1\n`)
    mkdirSync('/run/sshd', { recursive: true })
    const { logger, lines } = capture()
    const reader = new EffectiveConfigReader({
      sshdBinary: sshdBinaries('9.2').sshd,
      rootfs: '/',
      file,
      fileExplicit: true,
      logger,
      privileged: true,
    })
    const first = await reader.refresh()
    await reader.refresh()
    assert.equal(first.source, 'file')
    assert.equal(first.values.maxSessions, 6)
    const warned = lines.filter(
      (l) => l.msg === 'sshd -T failed; reading the sshd_config files instead',
    )
    assert.equal(warned.length, 1)
    assert.match(
      JSON.stringify(warned[0]?.err),
      /sshd -T failed: 'Match LocalPort' in configuration but 'lport' not in connection test/,
    )
  })

  it('logs each configuration problem once', async () => {
    const { logger, lines } = capture()
    const dir = mkdtempSync(join(tmpdir(), 'sshd-config-problems-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    mkdirSync(join(dir, 'etc', 'ssh'), { recursive: true })
    writeFileSync(join(dir, 'etc', 'ssh', 'sshd_config'), 'MaxSessions lots\nLoginGraceTime 1m\n')
    const reader = new EffectiveConfigReader({
      sshdBinary: null,
      rootfs: dir,
      file: join(dir, 'etc', 'ssh', 'sshd_config'),
      fileExplicit: false,
      logger,
    })
    const read = await reader.refresh()
    await reader.refresh()
    assert.equal(read.values.loginGraceTimeSeconds, 60, 'the good values are kept')
    assert.equal(read.values.maxSessions, 10, 'the bad one takes the default')
    assert.ok(read.problems.length >= 1)
    const warned = lines.filter((l) => l.msg === 'sshd_config problem; value skipped')
    assert.equal(warned.length, read.problems.length)
  })

  it('a missing sshd_config is an error the collector reports as failure', async () => {
    const { logger } = capture()
    const reader = new EffectiveConfigReader({
      sshdBinary: null,
      rootfs: root,
      file: join(root, 'etc', 'ssh', 'nope'),
      fileExplicit: false,
      logger,
    })
    await assert.rejects(
      reader.refresh(),
      (err) => err instanceof SshdConfigError && err.code === 'NOT_FOUND',
    )
  })
})

describe('EffectiveConfigReader on SUSE’s layout (test/fixtures/sshd-config/suse-vendor)', () => {
  const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'sshd-config', 'suse-vendor')
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
    files: string[]
    values: EffectiveConfig
  }

  /** A copy of the fixture to change. */
  function copy(): string {
    const dir = mkdtempSync(join(tmpdir(), 'suse-vendor-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    cpSync(FIXTURE, dir, { recursive: true })
    return dir
  }

  function reader(rootfs: string, options: Partial<EffectiveConfigOptions> = {}) {
    return new EffectiveConfigReader({
      sshdBinary: null,
      rootfs,
      file: join(rootfs, 'etc', 'ssh', 'sshd_config'),
      fileExplicit: false,
      logger: capture().logger,
      ...options,
    })
  }

  it('reads the vendor file when /etc/ssh/sshd_config does not exist, /etc drop-ins first', async () => {
    const read = await reader(FIXTURE).refresh()
    assert.equal(read.source, 'file')
    assert.equal(read.file, join(FIXTURE, 'usr', 'etc', 'ssh', 'sshd_config'))
    assert.deepEqual(read.problems, [])
    assert.deepEqual(read.values, expected.values)
    const files = await readSshdConfig(FIXTURE, '/usr/etc/ssh/sshd_config')
    assert.deepEqual(files.files, expected.files)
  })

  it('the vendor drop-ins fill what /etc’s leave unset; /etc’s win where both set a keyword', async () => {
    const dir = copy()
    writeFileSync(
      join(dir, 'usr', 'etc', 'ssh', 'sshd_config.d', '60-vendor.conf'),
      'MaxSessions 9\nClientAliveCountMax 7\n',
    )
    const read = await reader(dir).refresh()
    assert.equal(read.values.maxSessions, 4)
    assert.equal(read.values.clientAliveCountMax, 7)
  })

  it('a relative Include in the vendor layout resolves against /etc/ssh, not /usr/etc/ssh', async () => {
    const dir = copy()
    writeFileSync(
      join(dir, 'etc', 'ssh', 'sshd_config.d', '60-relative.conf'),
      'Include extra.conf\n',
    )
    writeFileSync(join(dir, 'etc', 'ssh', 'extra.conf'), 'LoginGraceTime 30\n')
    writeFileSync(join(dir, 'usr', 'etc', 'ssh', 'extra.conf'), 'LoginGraceTime 99\n')
    const read = await reader(dir).refresh()
    assert.equal(read.values.loginGraceTimeSeconds, 30)
  })

  it('an /etc/ssh/sshd_config, even an empty one, is read instead of the vendor file', async () => {
    const dir = copy()
    writeFileSync(join(dir, 'etc', 'ssh', 'sshd_config'), 'MaxSessions 2\n')
    const read = await reader(dir).refresh()
    assert.equal(read.file, join(dir, 'etc', 'ssh', 'sshd_config'))
    assert.equal(read.values.maxSessions, 2)
    writeFileSync(join(dir, 'etc', 'ssh', 'sshd_config'), '')
    assert.equal((await reader(dir).refresh()).values.maxSessions, 10)
  })

  it('--collector.config.file and a listener’s -f name the file: no vendor fallback', async () => {
    await assert.rejects(
      reader(FIXTURE, { fileExplicit: true }).refresh(),
      (err) => err instanceof SshdConfigError && err.code === 'NOT_FOUND',
    )
    await assert.rejects(
      reader(FIXTURE, {
        argv: parseSshdArgv(['/usr/sbin/sshd', '-D', '-f', '/etc/ssh/sshd_config']),
      }).refresh(),
      (err) => err instanceof SshdConfigError && err.code === 'NOT_FOUND',
    )
    const other = await reader(FIXTURE, {
      argv: parseSshdArgv([
        '/usr/sbin/sshd',
        '-D',
        '-f',
        '/usr/etc/ssh/sshd_config.d/40-suse-crypto-policies.conf',
      ]),
    }).refresh()
    assert.equal(other.file, '/usr/etc/ssh/sshd_config.d/40-suse-crypto-policies.conf')
  })
})
