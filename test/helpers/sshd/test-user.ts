// The unprivileged user the test bed's clients log in as, made on the host and in a build's own
// root (useradd; root only).

import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** The unprivileged test user, created once (useradd) when missing. */
export const TEST_USER = 'sshdexp'

let userReady: Promise<void> | undefined

/**
 * Creates the test user once (home /home/sshdexp, shell /bin/bash). Its password field is set to
 * `*` (no password can match, but the account is not "locked" with `!`, which sshd refuses for
 * public keys when UsePAM is no).
 */
export function ensureTestUser(): Promise<void> {
  userReady ??= (async () => {
    try {
      await execFileAsync('id', ['-u', TEST_USER])
      return
    } catch {
      // missing: create it
    }
    try {
      await execFileAsync('useradd', [
        '--create-home',
        '--home-dir',
        `/home/${TEST_USER}`,
        '--shell',
        '/bin/bash',
        '--user-group',
        TEST_USER,
      ])
    } catch (error) {
      // 9: the user appeared meanwhile (another test process made it)
      if ((error as { code?: number }).code !== 9) throw error
    }
    await execFileAsync('usermod', ['-p', '*', TEST_USER])
  })()
  return userReady
}

const rootUserReady = new Map<string, Promise<void>>()

/**
 * The test user in a build's own root too (its sshd reads that root's /etc/passwd), made there
 * with the root's own groupadd and useradd, with the host's uid and gid, so that both sides name
 * the same user for every uid.
 */
export function ensureTestUserIn(root: string): Promise<void> {
  let ready = rootUserReady.get(root)
  if (!ready) {
    ready = (async () => {
      await ensureTestUser()
      const passwd = await readFile(path.join(root, 'etc', 'passwd'), 'utf8')
      if (passwd.split('\n').some((line) => line.startsWith(`${TEST_USER}:`))) return
      const id = async (flag: string): Promise<string> =>
        (await execFileAsync('id', [flag, TEST_USER])).stdout.trim()
      const [uid, gid] = [await id('-u'), await id('-g')]
      const inRoot = async (args: string[]): Promise<void> => {
        try {
          await execFileAsync('chroot', [root, ...args])
        } catch (error) {
          // 9: the name is taken already (a run that stopped half-way)
          if ((error as { code?: number }).code !== 9) throw error
        }
      }
      await inRoot(['groupadd', '--gid', gid, TEST_USER])
      await inRoot([
        ...['useradd', '--create-home', '--home-dir', `/home/${TEST_USER}`],
        ...['--shell', '/bin/bash', '--uid', uid, '--gid', gid, '--password', '*', TEST_USER],
      ])
    })()
    rootUserReady.set(root, ready)
  }
  return ready
}
