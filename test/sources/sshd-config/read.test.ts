import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { readSshdConfig } from '../../../src/sources/sshd-config/read.ts'
import {
  type EffectiveConfig,
  SSHD_DEFAULTS,
  SshdConfigError,
} from '../../../src/sources/sshd-config/values.ts'

const run = promisify(execFile)
const MAIN = '/etc/ssh/sshd_config'

function defaults(): EffectiveConfig {
  return structuredClone({ ...SSHD_DEFAULTS, channelTimeouts: [], listenPorts: [22] })
}

function withDefaults(values: Partial<EffectiveConfig>): EffectiveConfig {
  return { ...defaults(), ...values }
}

/** The pure parser on an in-memory tree: paths inside the root -> text. */
// -------------------------------------------------------------------------------------------
// Reading under a root

describe('readSshdConfig', () => {
  let scratch = ''
  let root = ''
  let outside = ''

  /** Files and symlinks under a fresh root; `outside.conf` beside it must never be read. */
  async function tree(files: Record<string, string | { symlink: string }>): Promise<string> {
    await rm(root, { recursive: true, force: true })
    for (const [path, content] of Object.entries(files)) {
      const host = join(root, path)
      await mkdir(dirname(host), { recursive: true })
      if (typeof content === 'string') await writeFile(host, content)
      else await symlink(content.symlink, host)
    }
    return root
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'sshd-config-root-'))
    root = join(scratch, 'root')
    outside = join(scratch, 'outside.conf')
    await writeFile(outside, 'MaxSessions 99\nClientAliveCountMax 99\n')
  })
  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  test('the main file missing is a NOT_FOUND error', async () => {
    await tree({ 'etc/ssh/other': '' })
    await assert.rejects(readSshdConfig(root), (error: unknown) => {
      assert.ok(error instanceof SshdConfigError)
      assert.equal(error.code, 'NOT_FOUND')
      assert.equal(error.file, MAIN)
      return true
    })
  })

  test('.. in the main path stays in the root', async () => {
    await tree({ 'etc/ssh/sshd_config': '' })
    await assert.rejects(readSshdConfig(root, '/../../outside.conf'), { code: 'NOT_FOUND' })
    await assert.rejects(readSshdConfig(root, '/etc/ssh/../../../outside.conf'), {
      code: 'NOT_FOUND',
    })
  })

  test('Include with .. stays in the root', async () => {
    await tree({
      'etc/ssh/sshd_config': [
        'Include ../../../../outside.conf',
        'Include /../../outside.conf',
        'Include /etc/ssh/../../../*.conf',
      ].join('\n'),
    })
    const { values, problems } = await readSshdConfig(root)
    assert.deepEqual(problems, [])
    assert.deepEqual(values, defaults())
  })

  test('absolute and relative symlinks out of the root are re-rooted', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include sshd_config.d/*\nInclude /etc/ssh/up/*.conf',
      'etc/ssh/sshd_config.d/1-host-path.conf': { symlink: outside },
      'etc/ssh/sshd_config.d/2-dotdot.conf': { symlink: '../../../../../../outside.conf' },
      'etc/ssh/sshd_config.d/3-dir': { symlink: scratch },
      'etc/ssh/up': { symlink: '/..' },
      'etc/ssh/sshd_config.d/4-in-root.conf': { symlink: '/etc/ssh/real.conf' },
      'etc/ssh/real.conf': 'LoginGraceTime 9',
    })
    const { values, problems, files } = await readSshdConfig(root)
    assert.deepEqual(values, withDefaults({ loginGraceTimeSeconds: 9 }))
    assert.deepEqual(files, [MAIN, '/etc/ssh/sshd_config.d/4-in-root.conf'])
    assert.deepEqual(
      problems.map((p) => p.file),
      [
        '/etc/ssh/sshd_config.d/1-host-path.conf',
        '/etc/ssh/sshd_config.d/2-dotdot.conf',
        '/etc/ssh/sshd_config.d/3-dir',
      ],
    )
  })

  test('a symlink loop is a problem, not a hang', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include /etc/ssh/loop.conf\nMaxSessions 4',
      'etc/ssh/loop.conf': { symlink: 'loop.conf' },
    })
    const { values, problems } = await readSshdConfig(root)
    assert.equal(values.maxSessions, 4)
    assert.deepEqual(problems, [{ file: '/etc/ssh/loop.conf', message: 'cannot open: ELOOP' }])
  })

  test('a 10 MB included file is skipped with a problem; the rest is read', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include sshd_config.d/*.conf',
      'etc/ssh/sshd_config.d/1-big.conf': `MaxSessions 1\n${'# filler\n'.repeat(1_200_000)}`,
      'etc/ssh/sshd_config.d/2-small.conf': 'MaxSessions 2',
    })
    const { values, problems, files } = await readSshdConfig(root)
    assert.equal(values.maxSessions, 2)
    assert.deepEqual(files, [MAIN, '/etc/ssh/sshd_config.d/2-small.conf'])
    assert.equal(problems.length, 1)
    assert.equal(problems[0]!.file, '/etc/ssh/sshd_config.d/1-big.conf')
    assert.match(problems[0]!.message, /larger than 1048576 bytes/)
  })

  test('the size cap applies to the main file too, and is an option', async () => {
    await tree({ 'etc/ssh/sshd_config': 'MaxSessions 4\n' })
    assert.equal((await readSshdConfig(root, MAIN, { maxFileBytes: 14 })).values.maxSessions, 4)
    await assert.rejects(readSshdConfig(root, MAIN, { maxFileBytes: 13 }), { code: 'TOO_BIG' })
  })

  test('binary files are skipped; a binary main file is an error', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include bin.conf\nClientAliveCountMax 6',
      'etc/ssh/bin.conf': 'MaxSessions 1\0\nMaxSessions 2',
    })
    const { values, problems } = await readSshdConfig(root)
    assert.deepEqual(values, withDefaults({ clientAliveCountMax: 6 }))
    assert.deepEqual(problems, [
      { file: '/etc/ssh/bin.conf', message: 'contains NUL bytes; skipped' },
    ])
    await tree({ 'etc/ssh/sshd_config': '\0' })
    await assert.rejects(readSshdConfig(root), { code: 'BINARY' })
  })

  test('directories read as empty, a FIFO does not hang', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include d/*\nMaxSessions 3',
      'etc/ssh/d/sub/x.conf': 'MaxSessions 1',
    })
    await run('mkfifo', [join(root, 'etc/ssh/d/fifo')])
    const { values, problems, files } = await readSshdConfig(root)
    assert.equal(values.maxSessions, 3)
    assert.deepEqual(problems, [])
    assert.deepEqual(files, [MAIN, '/etc/ssh/d/fifo', '/etc/ssh/d/sub'])
  })

  test('files are capped in number', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include d/*.conf',
      'etc/ssh/d/1.conf': 'MaxSessions 1',
      'etc/ssh/d/2.conf': '',
      'etc/ssh/d/3.conf': '',
    })
    const { values, problems, files } = await readSshdConfig(root, MAIN, { maxFiles: 2 })
    assert.equal(values.maxSessions, 1)
    assert.deepEqual(files, [MAIN, '/etc/ssh/d/1.conf'])
    assert.equal(problems.length, 1)
    assert.match(problems[0]!.message, /more than 2 files/)
  })

  test('problems of included files are listed once, with the parser problems', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include a.conf\nInclude a.conf\nMaxSessions x',
      'etc/ssh/a.conf': { symlink: 'missing.conf' },
    })
    const { problems } = await readSshdConfig(root)
    assert.deepEqual(
      problems.map((p) => [p.file, p.line]),
      [
        ['/etc/ssh/a.conf', undefined],
        [MAIN, 3],
      ],
    )
  })
})
