/**
 * sshd's process titles, as setproctitle(3) writes them into
 * /proc/<pid>/cmdline: `<progname>: <title>`, progname being sshd,
 * sshd-session (9.8+) or sshd-auth (10.0+). Every form of DESIGN.md's table,
 * OpenSSH 8.2 to 10.x, parses to one role; anything else is `other` (a raw
 * argv such as `/usr/sbin/sshd -T`, or a process caught between fork and
 * setproctitle).
 */
import { parseSshdArgv, titleArgv } from './sshd-argv.ts'

/** comm values of sshd's processes (the kernel keeps 15 bytes of the binary's name). */
export const SSHD_COMMS: ReadonlySet<string> = new Set(['sshd', 'sshd-session', 'sshd-auth'])

export type SshdTitle =
  /**
   * `<argv> [listener] N of B-F startups`: the daemon accepting connections. A listener whose
   * title is still its argv (see sshdArgvTitle) has no count or limits: null.
   */
  | {
      role: 'listener'
      startups: number | null
      begin: number | null
      full: number | null
      /** Its command line: the title's words before `[listener]`, or the argv itself. */
      argv: readonly string[]
    }
  /** `[accepted]`, `[rexeced]` (8.4+, just after the re-exec): a connection's process before it knows anything. */
  | { role: 'accepted' }
  /**
   * The unprivileged pre-auth process: `[net]`, `alice [net]`, `unknown [net]`,
   * and 10.0's sshd-auth `[session-auth early]`, `[session-auth]`.
   */
  | { role: 'net'; user: string | null }
  /** PAM's conversation child of the monitor (UsePAM, keyboard-interactive): `alice [pam]`. */
  | { role: 'pam'; user: string }
  /** The root monitor: `alice [priv]` (pre- or post-auth), `alice [postauth]` (10.5+, post-auth). */
  | { role: 'monitor'; user: string; postauth: boolean }
  /**
   * The post-auth process: `alice@pts/0,pts/3`, `alice@notty`, or plain
   * `alice` before any session. `ttys` lists only sessions with a pty.
   */
  | { role: 'postauth'; user: string; ttys: readonly string[] }
  /** A session served inside sshd itself: `alice@internal-sftp`. */
  | { role: 'sftp'; user: string }
  | { role: 'other' }

const OTHER: SshdTitle = Object.freeze({ role: 'other' })
const ACCEPTED: SshdTitle = Object.freeze({ role: 'accepted' })
const NO_TTYS: readonly string[] = Object.freeze([])

const LISTENER_RE = /\[listener\] (\d+) of (\d+)-(\d+) startups$/
/** progname: sshd's own names, or any path-free word (a renamed binary). */
const PREFIX_RE = /^([A-Za-z0-9._-]{1,64}): /
/** User names as sshd shows them: no spaces, no brackets; the tty list no `@`. */
const USER_SUFFIX_RE = /^(\S+) \[(net|priv|postauth|pam)\]$/
const POSTAUTH_RE = /^([^\s[\]]+?)(?:@([^\s@[\]]*))?$/

function bracketOnly(title: string): SshdTitle | null {
  switch (title) {
    case '[accepted]':
    case '[rexeced]':
      return ACCEPTED
    case '[net]':
    case '[session-auth early]':
    case '[session-auth]':
      return { role: 'net', user: null }
    default:
      return null
  }
}

/**
 * An sshd process whose cmdline is still its argv (the title parsed as `other`): setproctitle
 * writes no title that would reach 1024 bytes (a long command line), and none is set yet at the
 * moment of a SIGHUP re-exec or in a per-connection `sshd -i` before privilege separation. Its
 * options say what it is: `-i` or a re-exec'd connection (`-R`) is a connection; `-t`, `-T`,
 * `-V`, `-G` are one-shot tools; any other sshd is a listener, without a count or limits.
 */
export function sshdArgvTitle(argv: readonly string[]): SshdTitle {
  const parsed = parseSshdArgv(argv)
  if (parsed.test) return OTHER
  if (parsed.inetd) return ACCEPTED
  return { role: 'listener', startups: null, begin: null, full: null, argv }
}

/** Parses one title (cmdline cut at its first NUL). Never throws. */
export function parseSshdTitle(cmdline: string): SshdTitle {
  const prefix = PREFIX_RE.exec(cmdline)
  if (prefix === null) return OTHER
  const title = cmdline.slice(prefix[0].length).trimEnd()

  const listener = LISTENER_RE.exec(title)
  if (listener !== null) {
    return {
      role: 'listener',
      startups: Number(listener[1]),
      begin: Number(listener[2]),
      full: Number(listener[3]),
      argv: titleArgv(cmdline) ?? NO_TTYS,
    }
  }
  if (title.startsWith('[')) return bracketOnly(title) ?? OTHER

  const withRole = USER_SUFFIX_RE.exec(title)
  if (withRole !== null) {
    const user = withRole[1]!
    switch (withRole[2]) {
      case 'net':
        return { role: 'net', user }
      case 'priv':
        return { role: 'monitor', user, postauth: false }
      case 'pam':
        return { role: 'pam', user }
      default:
        return { role: 'monitor', user, postauth: true }
    }
  }

  const post = POSTAUTH_RE.exec(title)
  if (post === null) return OTHER
  const user = post[1]!
  const where = post[2]
  if (where === undefined || where === 'notty' || where === '') {
    return { role: 'postauth', user, ttys: NO_TTYS }
  }
  if (where === 'internal-sftp') return { role: 'sftp', user }
  return { role: 'postauth', user, ttys: where.split(',') }
}
