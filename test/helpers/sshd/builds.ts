// The real OpenSSH builds the test bed runs: where each one's binaries are, the command that runs
// its sshd, and the check that they are there and are that version (as root: the real-sshd tests
// fail, never skip, without them).

import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** The builds on Debian 12 that most integration tests loop over (SSHD_VERSIONS). */
export type SshdVersion = '9.2' | '10.0'
export const SSHD_VERSIONS: readonly SshdVersion[] = ['9.2', '10.0']
/**
 * Every real OpenSSH build: `9.2` (Debian 12's), `10.0` (bookworm-backports', beside it) and
 * `10.0-trixie`, Debian 13's own 10.0p2 in a trixie root of its own.
 */
export type SshdBuild = SshdVersion | '10.0-trixie'
export const SSHD_BUILDS: readonly SshdBuild[] = [...SSHD_VERSIONS, '10.0-trixie']

/** The upstream OpenSSH version of a build: what its titles, log lines and config rules follow. */
export function openSshVersion(version: SshdBuild): SshdVersion {
  return version === '9.2' ? '9.2' : '10.0'
}

/** The unprivileged test user, created once (useradd) when missing. */
const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
export const INSTALL_HINT =
  'run scripts/install-test-deps.sh (as root) to install OpenSSH 9.2, 10.0 and the Debian 13 root'
const OPENSSH_10_ROOT = path.join(REPO_ROOT, '.tools', 'openssh-10.0')
/** Debian 13 (trixie) with its openssh-server, made by scripts/make-trixie-root.sh. */
export const TRIXIE_ROOT = path.join(REPO_ROOT, '.tools', 'trixie')

export interface SshdBinaries {
  /** sshd, as the host sees it. */
  sshd: string
  session?: string
  auth?: string
  /**
   * For a build in a root of its own (Debian 13's): that root. Its binaries run only chrooted
   * there (trixie's glibc and OpenSSL), where they are /usr/sbin/sshd and /usr/lib/openssh/….
   */
  root?: string
}

/**
 * Where each build's binaries are, as the host sees them; sshd-session and sshd-auth only exist
 * from 9.8 and 10.0 on.
 */
export function sshdBinaries(version: SshdBuild): SshdBinaries {
  if (version === '9.2') return { sshd: '/usr/sbin/sshd' }
  const root = version === '10.0-trixie' ? TRIXIE_ROOT : OPENSSH_10_ROOT
  return {
    sshd: path.join(root, 'usr/sbin/sshd'),
    session: path.join(root, 'usr/lib/openssh/sshd-session'),
    auth: path.join(root, 'usr/lib/openssh/sshd-auth'),
    ...(version === '10.0-trixie' ? { root } : {}),
  }
}

/** The command that runs a build's sshd (inside the namespace); chroot execs it in place. */
export function sshdCommand(version: SshdBuild): string[] {
  const bins = sshdBinaries(version)
  return bins.root ? ['/usr/sbin/chroot', bins.root, '/usr/sbin/sshd'] : [bins.sshd]
}

const versionCache = new Map<SshdBuild, Promise<string>>()

/**
 * Checks that the binaries for `version` are there and really are that version; returns the first
 * line of `sshd -V`. Throws an error naming scripts/install-test-deps.sh otherwise (tests must
 * fail, never skip, without a real sshd).
 */
export function checkSshd(version: SshdBuild): Promise<string> {
  let cached = versionCache.get(version)
  if (!cached) {
    cached = probeSshd(version)
    versionCache.set(version, cached)
  }
  return cached
}

async function probeSshd(version: SshdBuild): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the real-sshd tests must run as root (sshd ${version}, PID namespaces, useradd); ${INSTALL_HINT}`,
    )
  }
  const bins = sshdBinaries(version)
  const required = [
    bins.sshd,
    ...(bins.session ? [bins.session] : []),
    ...(bins.auth ? [bins.auth] : []),
    '/usr/bin/ssh',
    '/usr/bin/ssh-keygen',
    '/usr/bin/unshare',
    '/usr/bin/setpriv',
  ]
  for (const file of required) {
    try {
      await access(file, constants.X_OK)
    } catch {
      throw new Error(
        `OpenSSH ${version} test dependency missing: ${file} is not there; ${INSTALL_HINT}`,
      )
    }
  }
  // sshd -V prints the version on stderr and exits non-zero (9.2) or zero (10.0).
  const [command, ...args] = sshdCommand(version)
  let output: string
  try {
    const r = await execFileAsync(command!, [...args, '-V'])
    output = `${r.stderr}${r.stdout}`
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string }
    output = `${e.stderr ?? ''}${e.stdout ?? ''}`
  }
  const line = output.split('\n')[0]?.trim() ?? ''
  const expected = new RegExp(
    `^OpenSSH_${openSshVersion(version).replace('.', '\\.')}(?![0-9])${bins.root ? '.* Debian-\\S+deb13' : ''}`,
  )
  if (!expected.test(line)) {
    throw new Error(
      `${bins.sshd} is not OpenSSH ${version} (sshd -V said ${JSON.stringify(line)}); ${INSTALL_HINT}`,
    )
  }
  return line
}
