import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { readSshdConfig } from '../../src/sources/sshd-config/read.ts'
import { findOpensshVersion, readSshdVersion } from '../../src/sources/sshd-version.ts'
import { REAL_SSHDS, requireExecutable } from '../helpers/sshd-oracle.ts'

const run = promisify(execFile)
const MAIN = '/etc/ssh/sshd_config'
/** The real sshds with the release each binary carries. */
const RELEASES = { '9.2': '9.2p1', '10.0': '10.0p2' } as const
const SSHDS = REAL_SSHDS.map((sshd) => ({ ...sshd, release: RELEASES[sshd.version] }))
/** readSshdVersion reads the file in chunks of this size. */
const CHUNK = 1024 * 1024

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

let scratch = ''
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sshd-version-test-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

describe('findOpensshVersion', () => {
  for (const sshd of SSHDS) {
    test(`${sshd.label}: ${sshd.release}, the version sshd -V prints`, async () => {
      await requireExecutable(sshd.path)
      // -V prints SSH_RELEASE (10.0p2 Debian) or SSH_VERSION (9.2 Debian), then OpenSSL's.
      const result = await run(sshd.path, ['-V']).catch((error: { stderr?: string }) => error)
      const printed = /OpenSSH_(\d+\.\d+)/.exec(result.stderr ?? '')?.[1]
      assert.equal(printed, sshd.release.split('p')[0])
      assert.equal(findOpensshVersion(readFileSync(sshd.path)), sshd.release)
      assert.equal(await readSshdVersion(sshd.path), sshd.release)
    })
  }

  const DECOYS = '\0OpenSSH_2.*,OpenSSH_3.0*,OpenSSH_3.1*\0OpenSSH_7.4*\0OpenSSH_6.6.1*\0'
  const table: [string, string, string | null][] = [
    ['compat patterns are not versions', `${DECOYS}OpenSSH_10.3\0OpenSSH_10.3p1\0`, '10.3p1'],
    [
      'the release (pN) wins over an earlier SSH_VERSION',
      '\0OpenSSH_9.9\0\0OpenSSH_10.3p1\0',
      '10.3p1',
    ],
    ['the banner with a distribution suffix', 'x\0OpenSSH_10.2p1 Ubuntu-3\0', '10.2p1'],
    ['SSH_VERSION alone (OpenBSD)', `${DECOYS}OpenSSH_7.5\0`, '7.5'],
    ['at the start of the buffer', 'OpenSSH_8.2p1\0', '8.2p1'],
    ['after a dash (a banner)', 'SSH-2.0-OpenSSH_9.6p1\0', '9.6p1'],
    ['after a space', 'Server: OpenSSH_9.6p1 \0', '9.6p1'],
    ['after a comma', '\0OpenSSH_9.9*,OpenSSH_9.8\0', null],
    ['glued to a word', 'xOpenSSH_9.9p1\0', null],
    ['followed by a letter', '\0OpenSSH_9.9p1x\0', null],
    ['in a list', '\0OpenSSH_9.9,OpenSSH_9.8\0', null],
    ['three numbers', '\0OpenSSH_6.6.1\0', null],
    ['no minor', '\0OpenSSH_9.\0OpenSSH_9p1\0', null],
    ['no major', '\0OpenSSH_.9\0', null],
    ['too many digits', '\0OpenSSH_12345.1\0', null],
    ['pN without digits', '\0OpenSSH_9.9p\0', null],
    ['unterminated at the end', '\0OpenSSH_9.9p1', null],
    ['nothing', 'ELF\0\0\0', null],
    ['empty', '', null],
  ]
  for (const [name, text, expected] of table) {
    test(name, () => assert.equal(findOpensshVersion(bytes(text)), expected))
  }

  test('reads a Uint8Array view at an offset', () => {
    const buffer = bytes('xxxxOpenSSH_9.2p1\0')
    assert.equal(findOpensshVersion(new Uint8Array(buffer.buffer, buffer.byteOffset + 4)), '9.2p1')
  })
})

describe('readSshdVersion', () => {
  /** A file of `size` bytes (0xff) with `text` written at `at`. */
  async function file(name: string, size: number, parts: [number, string][]): Promise<string> {
    const content = Buffer.alloc(size, 0xff)
    for (const [at, text] of parts) content.write(text, at, 'latin1')
    const path = join(scratch, name)
    await writeFile(path, content)
    return path
  }

  const release = '\0OpenSSH_10.3p1\0'
  // Every start from well before a chunk boundary to past it: the candidate, its terminator or
  // the byte before it straddles the boundary.
  for (const shift of [-40, -33, -32, -31, -17, -16, -15, -2, -1, 0, 1]) {
    test(`a version ${shift} bytes from the chunk boundary`, async () => {
      const path = await file(`straddle${shift}`, CHUNK + 4096, [[CHUNK + shift, release]])
      assert.equal(await readSshdVersion(path), '10.3p1')
    })
  }

  test('a byte before the candidate in the previous chunk still counts', async () => {
    // 'x' is the last byte of the first chunk, the candidate starts the second.
    const path = await file('glued', CHUNK + 4096, [[CHUNK - 1, 'xOpenSSH_9.9p1\0']])
    assert.equal(await readSshdVersion(path), null)
    const dash = await file('dash', CHUNK + 4096, [[CHUNK - 1, '-OpenSSH_9.9p1\0']])
    assert.equal(await readSshdVersion(dash), '9.9p1')
  })

  test('a release in a later chunk wins over SSH_VERSION in the first', async () => {
    const path = await file('later', 2 * CHUNK + 100, [
      [100, '\0OpenSSH_10.2\0'],
      [2 * CHUNK + 10, '\0OpenSSH_10.2p1\0'],
    ])
    assert.equal(await readSshdVersion(path), '10.2p1')
    assert.equal(await readSshdVersion(path, { maxBytes: CHUNK }), '10.2')
  })

  test('nothing past maxBytes is read', async () => {
    const path = await file('capped', CHUNK + 100, [[CHUNK + 10, release]])
    assert.equal(await readSshdVersion(path, { maxBytes: CHUNK }), null)
    assert.equal(await readSshdVersion(path, { maxBytes: CHUNK + 100 }), '10.3p1')
    assert.equal(await readSshdVersion(path, { maxBytes: 0 }), null)
  })

  test('a small file, read whole', async () => {
    const path = await file('small', 40, [[3, release]])
    assert.equal(await readSshdVersion(path), '10.3p1')
  })

  test('missing, a directory, a FIFO, an empty file: null, never a throw', async () => {
    assert.equal(await readSshdVersion(join(scratch, 'missing')), null)
    assert.equal(await readSshdVersion(scratch), null)
    const fifo = join(scratch, 'fifo')
    await run('mkfifo', [fifo])
    assert.equal(await readSshdVersion(fifo), null)
    const empty = await file('empty', 0, [])
    assert.equal(await readSshdVersion(empty), null)
  })
})

// -------------------------------------------------------------------------------------------
// Each version's rules, on a rootfs whose usr/sbin/sshd holds only its version strings.

describe('readSshdVersion + readSshdConfig on a rootfs per version', () => {
  async function rootfs(name: string, version: string | null, config: string): Promise<string> {
    const root = join(scratch, name)
    await mkdir(join(root, 'etc/ssh'), { recursive: true })
    await writeFile(join(root, MAIN), config)
    if (version !== null) {
      const [plain] = version.split('p')
      await mkdir(join(root, 'usr/sbin'), { recursive: true })
      await writeFile(
        join(root, 'usr/sbin/sshd'),
        bytes(`\x7fELF\0OpenSSH_7.4*\0OpenSSH_${plain}\0OpenSSH_${version} Debian-1\0`),
      )
    }
    return root
  }

  async function maxStartups(root: string) {
    const version = await readSshdVersion(join(root, 'usr/sbin/sshd'))
    const { values, problems } = await readSshdConfig(
      root,
      MAIN,
      version === null ? {} : { opensshVersion: version },
    )
    assert.deepEqual(problems, [])
    return { version, maxStartups: values.maxStartups }
  }

  const TWICE = 'MaxStartups 50\nMaxStartups 70\n'
  // name, the version in usr/sbin/sshd, sshd_config, MaxStartups begin:rate:full
  const table: [string, string | null, string, [number, number, number]][] = [
    ['10.0: the last wins, N is N:30:N', '10.0p2', TWICE, [70, 0.3, 70]],
    [
      '10.0: N keeps the earlier rate',
      '10.0p2',
      'MaxStartups 5:50:80\nMaxStartups 70\n',
      [70, 0.5, 70],
    ],
    ['10.2: the first wins, N is begin 10, full N', '10.2p1', TWICE, [10, 0.3, 50]],
    ['10.3: the first wins, N is N:30:N', '10.3p1', TWICE, [50, 0.3, 50]],
    ['no sshd: the newest rules', null, TWICE, [50, 0.3, 50]],
  ]
  for (const [name, version, config, [begin, rate, full]] of table) {
    test(name, async () => {
      const root = await rootfs(name.replace(/\W+/g, '-'), version, config)
      assert.deepEqual(await maxStartups(root), { version, maxStartups: { begin, rate, full } })
    })
  }
})
