// The real sshds (OpenSSH 9.2 and 10.0, where ./sshd.ts finds them) as oracles for the parser
// tests in test/sources: the list of them, a check that fails (never skips) when a binary is
// missing, a host key, a suite's scratch directory with both, and the command line that runs a
// real sshd in a private mount namespace over a directory's etc/ssh.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { access, constants, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'
import { promisify } from 'node:util'
import { SSHD_VERSIONS, sshdBinaries, type SshdVersion } from './sshd/builds.ts'

const run = promisify(execFile)
const INSTALL = 'scripts/install-test-deps.sh'

export interface RealSshd {
  /** `OpenSSH 9.2`: for test names. */
  label: string
  version: SshdVersion
  /** The sshd binary. */
  path: string
}

export const REAL_SSHDS: readonly RealSshd[] = SSHD_VERSIONS.map((version) => ({
  label: `OpenSSH ${version}`,
  version,
  path: sshdBinaries(version).sshd,
}))

/** Throws, naming scripts/install-test-deps.sh, unless `path` is executable. */
export async function requireExecutable(path: string): Promise<void> {
  try {
    await access(path, constants.X_OK)
  } catch {
    throw new Error(`${path} is missing: run ${INSTALL} (as root) to install the test sshds`)
  }
}

/** The version `sshd -V` prints (9.2, 10.0); it prints it on stderr and 9.2 exits non-zero. */
async function realSshdVersion(sshd: string): Promise<string> {
  const result = await run(sshd, ['-V'], { timeout: 10_000 }).catch(
    (error: { stderr?: string }) => error,
  )
  const match = /OpenSSH_(\d+\.\d+)/.exec(result.stderr ?? '')
  assert.ok(match, `cannot read the version of ${sshd}: run ${INSTALL}`)
  return match[1]!
}

/** Makes an ed25519 host key without a passphrase, dir/host_ed25519, and returns its path. */
export async function makeHostKey(dir: string): Promise<string> {
  const hostKey = join(dir, 'host_ed25519')
  await run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey])
  return hostKey
}

export interface OracleScratch {
  /** A fresh directory, removed after the suite. */
  scratch: string
  /** An ed25519 host key in it. */
  hostKey: string
  /** Each real sshd's path -> the version `sshd -V` prints (9.2, 10.0). */
  versions: Map<string, string>
}

/**
 * Call inside a describe: before its tests, checks that the real sshds, ssh-keygen and unshare
 * are there, reads the sshds' versions and fills in a scratch directory (prefix: `prefix`) with
 * a host key; after them, removes the directory.
 */
export function oracleScratch(prefix: string): OracleScratch {
  const state: OracleScratch = { scratch: '', hostKey: '', versions: new Map() }
  before(async () => {
    for (const sshd of REAL_SSHDS) await requireExecutable(sshd.path)
    await requireExecutable('/usr/bin/ssh-keygen')
    await requireExecutable('/usr/bin/unshare')
    for (const sshd of REAL_SSHDS) state.versions.set(sshd.path, await realSshdVersion(sshd.path))
    state.scratch = await mkdtemp(join(tmpdir(), prefix))
    state.hostKey = await makeHostKey(state.scratch)
  })
  after(async () => {
    if (state.scratch) await rm(state.scratch, { recursive: true, force: true })
  })
  return state
}

// $1 is the root, the rest the command. A fresh tmpfs on /run holds the /run/sshd that sshd -T
// insists on.
const MOUNT_AND_EXEC = [
  'mount --bind "$1/etc/ssh" /etc/ssh',
  'mount -t tmpfs -o mode=0755 tmpfs /run',
  'mkdir -m 0755 /run/sshd',
  'shift',
  'exec "$@"',
].join(' && ')

/**
 * The command line (program first) that runs `sshd -h hostKey ...args` in a private mount
 * namespace (`unshare --mount`: nothing leaks to the host; needs root) where `root`/etc/ssh is
 * bind-mounted over /etc/ssh. Run it, or write it into a wrapper script that appends "$@".
 */
export function sshdOverEtcSsh(
  root: string,
  sshd: string,
  hostKey: string,
  ...args: string[]
): [string, ...string[]] {
  return [
    '/usr/bin/unshare',
    ...['--mount', '--', '/bin/sh', '-c', MOUNT_AND_EXEC, 'sh', root],
    ...[sshd, '-h', hostKey, ...args],
  ]
}
