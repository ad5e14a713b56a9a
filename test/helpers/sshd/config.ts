// The test sshds' sshd_config: the base config every server starts from, and a test's keyword
// overrides rendered over it.

import path from 'node:path'
import { type SshdBuild, sshdBinaries } from './builds.ts'

/** Where every test sshd listens, and its clients connect. */
export const HOST = '127.0.0.1'
const SFTP_SERVER = '/usr/lib/openssh/sftp-server'

export type SshdConfigValue = string | number | boolean | readonly (string | number)[] | null

/**
 * sshd_config keywords. A value replaces the base config's value for that keyword (keywords are
 * case-insensitive); `null` removes the keyword; an array writes the keyword once per element;
 * booleans become yes/no.
 */
export type SshdConfig = Readonly<Record<string, SshdConfigValue>>

export function renderConfig(
  entries: Array<[string, SshdConfigValue]>,
  extra: string | undefined,
): string {
  const merged = new Map<string, [string, SshdConfigValue]>()
  for (const [key, value] of entries) merged.set(key.toLowerCase(), [key, value])
  const lines: string[] = []
  for (const [key, value] of merged.values()) {
    if (value === null) continue
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) {
      lines.push(`${key} ${typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)}`)
    }
  }
  return `${lines.join('\n')}\n${extra ? `\n${extra.trimEnd()}\n` : ''}`
}

/** The base config; `config` overrides replace these keyword by keyword. */
export function baseConfig(args: {
  port: number
  dir: string
  version: SshdBuild
}): Array<[string, SshdConfigValue]> {
  const bins = sshdBinaries(args.version)
  return [
    ['ListenAddress', HOST],
    ['Port', args.port],
    ['AddressFamily', 'inet'],
    ['HostKey', path.join(args.dir, 'ssh_host_ed25519_key')],
    ['PidFile', 'none'],
    // UsePAM yes, as Debian (and most distributions) ship it: PAM's session and account modules
    // ran without trouble here, as root, in the PID namespace (pam_loginuid, pam_systemd without
    // systemd, pam_motd), and it keeps keyboard-interactive auth real. `UsePAM: false` also works:
    // the test user's password field is `*`, not a locked `!`.
    ['UsePAM', true],
    // The keys live in a directory under /tmp, which StrictModes rejects (world-writable parent).
    ['StrictModes', false],
    ['AuthorizedKeysFile', path.join(args.dir, 'authorized_keys')],
    ['PubkeyAuthentication', true],
    // No account here has a usable password; these let authPending() wait at a prompt.
    ['PasswordAuthentication', true],
    ['KbdInteractiveAuthentication', true],
    ['PermitRootLogin', 'prohibit-password'],
    ['UseDNS', false],
    ['PrintMotd', false],
    ['PrintLastLog', false],
    ['X11Forwarding', false],
    ['Subsystem', 'sftp internal-sftp'],
    // A build in a root of its own finds its sshd-session and sshd-auth where it was built to.
    ...(bins.session && !bins.root
      ? ([
          ['SshdSessionPath', bins.session],
          ['SshdAuthPath', bins.auth ?? null],
        ] as Array<[string, SshdConfigValue]>)
      : []),
  ]
}

/** `Subsystem` value for the external sftp-server (the base config uses internal-sftp). */
export const SFTP_SERVER_SUBSYSTEM = `sftp ${SFTP_SERVER}`
