// The real sshds (OpenSSH 9.2 and 10.0, scripts/install-test-deps.sh) as oracles for
// src/sources/sshd-config/: `sshd -T` on the same files must give what the parser gives. They run
// sshd in a private mount namespace, so they need root; a missing sshd fails, never skips.
// test/sources/sshd-config/ holds the tests that need neither.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseSshdConfigFiles } from '../../src/sources/sshd-config/parse.ts'
import { readSshdConfig } from '../../src/sources/sshd-config/read.ts'
import { parseSshdT } from '../../src/sources/sshd-config/sshd-t.ts'
import type { EffectiveConfig } from '../../src/sources/sshd-config/values.ts'
import {
  makeHostKey,
  oracleScratch,
  REAL_SSHDS,
  requireExecutable,
  sshdOverEtcSsh,
} from '../helpers/sshd-oracle.ts'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURES = join(REPO, 'test/fixtures/sshd-config')
const MAIN = '/etc/ssh/sshd_config'
/** The real sshds with the release each binary carries. */
const RELEASES = { '9.2': '9.2p1', '10.0': '10.0p2' } as const
const SSHDS = REAL_SSHDS.map((sshd) => ({ ...sshd, release: RELEASES[sshd.version] }))

let scratch = ''
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sshd-config-real-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

// -------------------------------------------------------------------------------------------
// Real sshd: `sshd -T` on each fixture must equal the file parser on the same files.
//
// Each case is a root tree: <case>/etc/ssh/sshd_config and whatever it includes, written as on
// a real host (relative Includes, absolute /etc/ssh/... paths, absolute symlinks). To let the
// real sshd see exactly those files at exactly those paths, it runs in a private mount
// namespace (`unshare --mount`, private propagation: nothing leaks to the host) where the
// case's etc/ssh is bind-mounted over /etc/ssh and a fresh tmpfs on /run holds the
// /run/sshd that `sshd -T` insists on (sshdOverEtcSsh, test/helpers/sshd-oracle.ts). The file
// parser reads the same tree with rootfs = <case>. Nothing is rewritten for either side, so
// relative-path resolution, glob order, dot-files, symlinks and Match handling are all compared
// for real.
// sshd 10.0 needs no SshdSessionPath/SshdAuthPath for -T: it only prints them.

type Expected = {
  files: string[]
  values: EffectiveConfig
  'values9.2'?: Partial<EffectiveConfig>
}

// Cases with an /etc/ssh/sshd_config: suse-vendor has none (SUSE's sshd reads /usr/etc/ssh), and is
// read in test/state/sshd-configs.test.ts.
const CASES = readdirSync(FIXTURES)
  .filter((name) => existsSync(join(FIXTURES, name, 'etc/ssh/sshd_config')))
  .sort()

describe('sshd -T of real sshd equals the sshd_config parser', () => {
  const oracle = oracleScratch('sshd-config-test-')

  test('there are at least ten cases, each saying what it tests', () => {
    assert.ok(CASES.length >= 10, `only ${CASES.length} cases`)
    for (const name of CASES) {
      const first = readFileSync(join(FIXTURES, name, 'etc/ssh/sshd_config'), 'utf8').split('\n')[0]
      assert.match(first ?? '', /^# Tests: \S/, name)
    }
  })

  for (const name of CASES) {
    for (const sshd of REAL_SSHDS) {
      test(`${name}: ${sshd.label}`, async () => {
        const root = join(FIXTURES, name)
        const version = oracle.versions.get(sshd.path)!
        const [unshare, ...args] = sshdOverEtcSsh(root, sshd.path, oracle.hostKey, '-T', '-f', MAIN)
        const { stdout } = await run(unshare, args, { timeout: 20_000 }).catch(
          (error: { stderr?: string; message: string }) => {
            throw new Error(
              `sshd -T in a mount namespace (needs root) failed: ${error.stderr || error.message}`,
            )
          },
        )
        const fromSshd = parseSshdT(stdout)
        const fromFiles = await readSshdConfig(root, MAIN, { opensshVersion: version })
        assert.deepEqual(fromSshd.problems, [])
        assert.deepEqual(fromFiles.problems, [])
        assert.deepEqual(fromFiles.values, fromSshd.values)

        // The fixture tests what it says: values and files as recorded when it was written.
        const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8')) as Expected
        const values = version.startsWith('9.')
          ? { ...expected.values, ...expected['values9.2'] }
          : expected.values
        assert.deepEqual(fromSshd.values, values)
        assert.deepEqual(fromFiles.files, expected.files)
      })
    }
  }
})

// -------------------------------------------------------------------------------------------
// The real sshds read the lines whose meaning differs between 9.2 and 10.0 as we do.

describe('real sshd -T agrees on what differs between 9.2 and 10.0', () => {
  let hostKey = ''
  before(async () => {
    for (const sshd of SSHDS) await requireExecutable(sshd.path)
    hostKey = await makeHostKey(scratch)
  })

  const LINES = [
    'LoginGraceTime +5',
    'LoginGraceTime " 5"',
    'ClientAliveInterval "1m 30"',
    'LoginGraceTime -0',
    'LoginGraceTime 1.5',
    'ChannelTimeout # none given\nChannelTimeout session=1m',
    'MaxStartups 50\nMaxStartups 70',
    'MaxStartups 5:50:80\nMaxStartups 70',
    'Match User=bob\nMaxSessions 3',
  ]
  LINES.forEach((text, index) => {
    for (const sshd of SSHDS) {
      test(`${JSON.stringify(text)}: ${sshd.label}`, async () => {
        const config = join(scratch, `real-${index}.conf`)
        await writeFile(config, `${text}\n`)
        // A private /run holds the /run/sshd that sshd -T insists on.
        const script =
          'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec "$1" -T -f "$2" -h "$3"'
        const result = await run(
          '/usr/bin/unshare',
          ['--mount', '--', 'sh', '-c', script, 'sh', sshd.path, config, hostKey],
          { timeout: 20_000 },
        ).then(
          ({ stdout }) => ({ ok: true as const, stdout }),
          (error: { stderr?: string }) => ({ ok: false as const, stderr: error.stderr ?? '' }),
        )
        const ours = parseSshdConfigFiles(MAIN, new Map([[MAIN, text]]), {
          opensshVersion: sshd.release,
        })
        if (result.ok) {
          assert.deepEqual(ours.problems, [])
          assert.deepEqual(ours.values, parseSshdT(result.stdout).values)
        } else {
          assert.match(result.stderr, /real-\d+\.conf line \d+/)
          assert.ok(
            ours.problems.some((p) => /refuses/.test(p.message)),
            JSON.stringify(ours),
          )
        }
      })
    }
  })
})
