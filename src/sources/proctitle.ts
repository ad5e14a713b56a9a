/**
 * sshd's process titles, as setproctitle(3) writes them into /proc/<pid>/cmdline:
 * `<progname>: <title>`, progname being one of SSHD_PROGNAMES. Every form of DESIGN.md's table,
 * OpenSSH 8.2 to 10.x, parses to one role; anything else is `other` (a raw argv such as
 * `/usr/sbin/sshd -T`, or a process caught between fork and setproctitle). sshd's program
 * names are defined here once: comm, titles, syslog tags, journal identifiers and the binary
 * finder all derive from SSHD_PROGNAMES.
 */
import { parseSshdArgv, titleArgv } from './sshd-argv.ts'

/** OpenSSH's server programs: the listener, and from 9.8 sshd-session, from 10.0 sshd-auth. */
export const SSHD_PROGRAMS = ['sshd', 'sshd-session', 'sshd-auth'] as const

/**
 * Suffixes a distribution gives the programs of one of several builds: Alpine's
 * openssh-server-pam runs sshd.pam, sshd-session.pam, sshd-auth.pam, and openssh-server-krb5
 * the `.krb5` ones (aports main/openssh APKBUILD: `SSHD_FLAVOR=.pam make`, then `mv sshd
 * sshd.pam`; sshd-flavor.patch compiles the flavoured sshd-session/sshd-auth paths in).
 */
export const SSHD_FLAVORS = ['', '.pam', '.krb5'] as const

/**
 * Every name sshd's programs run under, as `__progname` (the basename of argv[0]) carries it:
 * the title's prefix (openbsd-compat/setproctitle.c), the syslog tag and the journal's
 * SYSLOG_IDENTIFIER (log.c log_init), and the binaries' file names.
 */
export const SSHD_PROGNAMES: readonly string[] = Object.freeze(
  SSHD_PROGRAMS.flatMap((program) => SSHD_FLAVORS.map((flavor) => program + flavor)),
)

/** The kernel keeps 15 bytes of the executed file's name as comm (TASK_COMM_LEN 16 with its NUL). */
export const COMM_MAX_BYTES = 15

/** comm values of sshd's processes: SSHD_PROGNAMES cut to 15 bytes (`sshd-session.pa`). */
export const SSHD_COMMS: ReadonlySet<string> = new Set(
  SSHD_PROGNAMES.map((name) => name.slice(0, COMM_MAX_BYTES)),
)

const PROGNAME_SET: ReadonlySet<string> = new Set(SSHD_PROGNAMES)

/** Whether a progname, syslog tag or journal identifier is one of sshd's (SSHD_PROGNAMES). */
export function isSshdProgname(name: string | undefined): boolean {
  return name !== undefined && PROGNAME_SET.has(name)
}

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
   * The post-auth process: `alice@pts/0,pts/3`, `alice@notty`, or plain `alice` before any
   * session; `alice@example.com@pts/0` for a user name with `@`. `ttys` lists only sessions
   * with a pty.
   */
  | { role: 'postauth'; user: string; ttys: readonly string[] }
  /** A session served inside sshd itself: `alice@internal-sftp`. */
  | { role: 'sftp'; user: string }
  | { role: 'other' }

const OTHER: SshdTitle = Object.freeze({ role: 'other' })
const ACCEPTED: SshdTitle = Object.freeze({ role: 'accepted' })
const NO_TTYS: readonly string[] = Object.freeze([])

const LISTENER_RE = /\[listener\] (\d+) of (\d+)-(\d+) startups$/
/** `<progname>: `, progname one of SSHD_PROGNAMES (checked after the match). */
const PREFIX_RE = /^([A-Za-z0-9._-]{1,64}): /
/** User names as sshd shows them: no spaces. */
const USER_SUFFIX_RE = /^(\S+) \[(net|priv|postauth|pam)\]$/
/** A post-auth title: the user (which may hold `@`, SSSD's `alice@example.com`), no brackets. */
const POSTAUTH_RE = /^[^\s[\]]+$/
/**
 * The tty names session.c session_tty_list writes: ttyname(3) of the pty without `/dev/`, which
 * is `pts/N` (Unix98 ptys, /dev/ptmx) or, on a system without /dev/pts, a BSD pty's `ttyXY`
 * (openbsd-compat/bsd-openpty.c: `/dev/tty%c%c`, p-z a-o then 0-9 a-f, or `/dev/ttyp%d`).
 */
const TTY_RE = /^(?:pts\/\d{1,10}|tty[a-z][0-9a-f]{1,10})$/
/** What is left of a tty name that setproctitle cut at the end of the title. */
const TTY_PREFIX_RE = /^(?:|p(?:t(?:s(?:\/\d*)?)?)?|t(?:t(?:y(?:[a-z][0-9a-f]*)?)?)?)$/

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
  if (prefix === null || !isSshdProgname(prefix[1])) return OTHER
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

  return POSTAUTH_RE.test(title) ? parsePostauth(title) : OTHER
}

/**
 * `<user>`, `<user>@notty`, `<user>@<tty>,<tty>…` (session.c session_proctitle) or
 * `<user>@internal-sftp` (session.c do_child). A user name may itself hold `@` (SSSD, realmd:
 * `alice@example.com`), so what follows the last `@` is the tty list only when it is one: else
 * the whole title is the user, as in `alice@example.com` before any session.
 */
function parsePostauth(title: string): SshdTitle {
  const at = title.lastIndexOf('@')
  if (at > 0) {
    const user = title.slice(0, at)
    const where = title.slice(at + 1)
    if (where === 'notty') return { role: 'postauth', user, ttys: NO_TTYS }
    if (where === 'internal-sftp') return { role: 'sftp', user }
    const ttys = ttyList(where)
    if (ttys !== null) return { role: 'postauth', user, ttys }
  }
  return { role: 'postauth', user: title, ttys: NO_TTYS }
}

/**
 * The tty names of a title's tty list, or null when it is not one. setproctitle cuts a title
 * to the length of sshd's original argv and environment: a list of two or more whose last
 * name was cut (`pts/0,pt`), or a title that ends at the `@`, gives the names it still holds.
 */
function ttyList(text: string): readonly string[] | null {
  if (text === '') return NO_TTYS
  const names = text.split(',')
  const last = names.length - 1
  for (let i = 0; i < last; i++) if (!TTY_RE.test(names[i]!)) return null
  if (TTY_RE.test(names[last]!)) return names
  if (last > 0 && TTY_PREFIX_RE.test(names[last]!)) return names.slice(0, last)
  return null
}
