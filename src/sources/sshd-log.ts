/**
 * sshd's log: one line of a log file to a LogRecord (`parseSyslogLine`), one message to one typed
 * event or none (`parseSshdMessage`). Pure, no I/O. Every form below was read in OpenSSH's
 * source (openssh-portable, tags V_8_2_P1 to V_10_5_P1; file and function named where it
 * matters) and, for 9.2 and 10.0, seen on real servers (test/fixtures/sshd-log/).
 *
 * ## Lines
 *
 * - syslog, RFC 3164 (`Nov 21 10:00:00 host sshd[123]: msg`, rsyslog's traditional format and
 *   journalctl's `short`) and RFC 3339 (`2026-11-21T10:00:00.123456+00:00 host sshd-session[123]:
 *   msg`, rsyslog's default file format since Debian 12). What sshd hands to syslog(3) is
 *   `log.c do_log`: `openlog(progname, LOG_PID, facility); syslog(pri, "%.500s", msg)`, so the
 *   tag is the program's name (`sshd`; 9.8+ `sshd-session` for per-connection lines, which 10.0's
 *   `sshd-auth` also sends through its monitor; `sshd` for the listener's) and the pid is always
 *   there; messages are cut at 500 bytes.
 * - Other syslog daemons' forms (test/fixtures/sshd-log/syslog-forms.tsv names each one's source):
 *   RFC 5424 (`<pri>1 <stamp> <host> <app> <procid> <msgid> <sd> [BOM]<msg>`), RFC 3164 with an
 *   unpadded day, without a host (busybox syslogd -S, a datagram's `<pri>`), with busybox's
 *   `facility.level` before the tag or Solaris's `[ID <n> <facility.level>]` after it, and ISO
 *   stamps (`+0000`, a space for the `T`). rsyslog's `message repeated N times: [ <msg>]`
 *   (RepeatedMsgReduction) gives `<msg>` with `count` N: N more of the line before it.
 * - `sshd -E file`: `do_log` writes `"%s\r\n"` of the bare message (`log_on_stderr` is 1, so no
 *   progname prefix): no timestamp, no tag, no pid, and a trailing `\r` before the `\n`. Checked on
 *   real 9.2 and 10.0, whose sshd-session and sshd-auth write into the same file.
 *   parseSyslogLine returns such a line with `identifier` and `pid` undefined.
 *
 * Lines of other programs are returned too (identifier `sudo`, `pam_unix` …): the caller keeps
 * sshd's with isSshdIdentifier (log-record.ts). A line longer than MAX_LINE_LENGTH is not one
 * sshd can have written and gives undefined, as does an empty line.
 *
 * ## Messages as sshd writes them
 *
 * `do_log` prefixes ERROR lines with `error: ` and FATAL lines with `fatal: ` only when it logs to
 * syslog (the journal included); with `-E` (`log_on_stderr`) it writes neither. Both prefixes are
 * accepted and dropped here. A pre-authentication child (the `[net]` child up to 9.7,
 * sshd-session's child 9.8, sshd-auth 10.0+) sends its lines to the monitor, which logs them with
 * ` [preauth]` appended (monitor.c `monitor_read_log`; 10.0+ `[postauth]` once the monitor is
 * post-auth). Client-chosen text is escaped first (`strnvis`): for syslog with
 * `VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL`, so `\n`, `\r` and tabs become `\n`, `\r`, `\t` and every
 * byte above 0x7f a `\ooo`; for `-E` with `VIS_SAFE|VIS_OCTAL`, which leaves `\n` and `\r` raw.
 *
 * **An `-E` file is forgeable by any client**: a user name `x\r\nAccepted publickey for root` in
 * `Failed password for invalid user <name> from A port P ssh2` puts a whole line
 * `Accepted publickey for root from A port P ssh2` into the file, indistinguishable from sshd's own
 * (see the capture in test/fixtures/sshd-log/). No per-line parser can tell; count events from
 * the journal or a syslog file, where sshd's escaping keeps every message on one line.
 *
 * The message start is always sshd's own text, so each form is recognised by its start; the user
 * name (client-chosen before authentication) sits in the middle, so an address and port are read
 * from the end, where sshd writes ` from <addr> port <n>` or `<addr> port <n>` itself. A message
 * longer than MAX_MESSAGE_LENGTH (sshd's own buffer, `log.c` MSGBUFSIZ) is not sshd's.
 *
 * | event | message (after `error: `/`fatal: ` and ` [preauth]`) | level | source |
 * | --- | --- | --- | --- |
 * | auth_accepted | `Accepted <method> for <user> from <addr> port <n> ssh2[: <key>]` | INFO | auth.c auth_log |
 * | auth_failed | `Failed <method> for [invalid user ]<user> from <addr> port <n> ssh2[: <key>]` | VERBOSE; INFO for password, an invalid user, or from MaxAuthTries/2 failures on | auth.c auth_log; 10.5+ auth2-gss.c also logs `Failed gssapi-with-mic …` itself (a GSSAPI failure counts twice at VERBOSE) |
 * | invalid_user | `Invalid user <user> from <addr> port <n>` | INFO | auth.c getpwnamallow |
 * | max_auth_tries_exceeded | `maximum authentication attempts exceeded for [invalid user ]<user> from <addr> port <n> ssh2` | ERROR | auth.c auth_maxtries_exceeded |
 * | login_grace_timeout | `Timeout before authentication for <addr> port <n>` (≤ 9.7, FATAL, the connection's process; not logged by builds patched for CVE-2024-6387, see below); `Timeout before authentication for connection from <a> to <b>, pid = <n>` (9.8+, INFO, the listener; 9.8 and 9.9 print the local address first) | | sshd.c grace_alarm_handler; 9.8+ sshd.c child_reap |
 * | client_alive_timeout | `Timeout, client not responding from user <user> <addr> port <n>` | INFO | serverloop.c client_alive_check |
 * | unused_connection_timeout | `terminating inactive connection from user <user> <addr> port <n>` | INFO (9.2+) | serverloop.c |
 * | channel_timeout | `channel <n>: closing after <s> seconds of inactivity` | VERBOSE (9.2+) | channels.c channel_handler |
 * | no_more_sessions | `no more sessions` | ERROR | session.c session_open |
 * | session_opened | `Starting session: <type>[ on <tty>] for <user> from <addr> port <n> id <id>` | VERBOSE | session.c do_exec |
 * | session_closed | `Close session: user <user> from <addr> port <n> id <id>` | VERBOSE | session.c session_close |
 * | startups_throttling_started | `beginning MaxStartups throttling` | ERROR (8.4–9.9) | sshd.c drop_connection |
 * | startups_dropped | `drop connection #<n> from [<addr>]:<p> on [<addr>]:<p> past MaxStartups` (≤ 9.7), `… past Maxstartups` (9.8, 9.9), `… Maxstartups` (10.0+) | see below | sshd.c drop_connection |
 * | penalty_dropped | `drop connection #<n> from … on … penalty: <reason>`, `… too many penalised addresses` | INFO (9.8+) | sshd.c drop_connection, srclimit.c |
 * | negotiation_failed | `Unable to negotiate with <addr> port <n>: no matching …` (before authentication) | INFO | packet.c sshpkt_vfatal |
 * | banner_invalid | `banner exchange: Connection from <addr> port <n>: invalid format` | INFO | sshd.c (10.0 sshd-session.c), packet.c |
 * | connection_refused | `administratively prohibited connection for [invalid user ]<user> from <addr> port <n>` | INFO (9.9+) | monitor.c mm_answer_pwnamallow |
 * | login_not_allowed | `User <user> [from <host> ]not allowed because <reason>` | INFO | auth.c allowed_user |
 * | root_login_refused | `ROOT LOGIN REFUSED FROM <addr> port <n>` | INFO | auth.c auth_root_allowed |
 * | penalty_imposed_<kind> | `srclimit_penalise: …: new … active penalty …`, `…: activating … penalty …` | INFO 10.1+, VERBOSE 9.8–10.0 | srclimit.c srclimit_penalise |
 *
 * `<id>` in `Starting session`/`Close session` is the session's number (`s->self`, reused once
 * the session is gone), not the SSH channel's.
 *
 * ## MaxStartups and PerSourcePenalties drops (sshd.c drop_connection)
 *
 * - 8.2, 8.3: every drop is one VERBOSE `drop connection` line; no summaries.
 * - 8.4 to 9.9: the first drop of a throttling episode logs `beginning MaxStartups throttling`
 *   (ERROR) and its drop line at INFO; later drops are VERBOSE only, except that a drop more than
 *   5 minutes after the previous one logs `in MaxStartups throttling for <time>, N connections
 *   dropped` (ERROR; N counts every drop of the episode including this one, whose INFO line
 *   follows). The first connection accepted while fewer than begin−1 connections are unauthenticated
 *   ends the episode: `exited MaxStartups throttling after <time>, N connections dropped` (INFO; N
 *   is every drop since `beginning`, those logged singly included). 9.8 and 9.9 check
 *   PerSourcePenalties first: those drops log `… penalty: <reason>` at INFO and are not in N.
 * - 10.0+: no episodes. Each drop is logged at INFO until a rate limiter (log.c log_ratelimit;
 *   4 events, decaying by one a second) trips; suppressed drops are logged at DEBUG3 only (as
 *   `debug3: drop connection …`, which is not counted here). When the limiter lets a drop through
 *   again (after 5 minutes, or once the rate fell for 20 s), that drop's INFO line is followed by
 *   `Maxstartups logging rate-limited: additional N connections dropped` (INFO; N = the drops
 *   suppressed, none of them logged at INFO). PerSourcePenalties drops have their own limiter
 *   and `PerSourcePenalties logging rate-limited: additional N connections dropped`. Drops
 *   suppressed after the last logged one are never reported.
 *
 * The event carries `count` and `kind` (`line`, `periodic`, `exited`, `additional`); adding the
 * counts up without double counting is the accumulator's job (model/events.ts).
 *
 * ## The end of a connection
 *
 * Each connection end is exactly one of: preauth_closed, disconnected, login_grace_timeout,
 * client_alive_timeout, unused_connection_timeout, max_auth_tries_exceeded, negotiation_failed,
 * banner_invalid, connection_refused (the last three are preauth_closed's lines that say why).
 * The lines:
 *
 * - packet.c sshpkt_fatal (logdie, INFO): `Connection closed by <id>`, `Connection reset by <id>`,
 *   `Disconnected from <id>`, `Unable to negotiate with <id>: …`, `<tag>: Connection from <id>:
 *   <error>` (`ssh_dispatch_run_fatal`, `banner exchange`, `<function>: parse packet` …). `<id>`
 *   is `[<preamble> ]<addr> port <n>`, the preamble being `authenticating user <u>` or `invalid
 *   user <u>` during authentication and `user <u>` after it (auth2.c, monitor.c).
 * - `Received disconnect from <addr> port <n>:<code>: <text>` is always followed by
 *   `Disconnected from <id>` from the same process (packet.c returns SSH_ERR_DISCONNECTED, which
 *   its caller hands to sshpkt_fatal): it gives no event, the `Disconnected` line counts.
 * - packet.c ssh_packet_disconnect: `Disconnecting <id>: <reason>` (INFO), then exit. After
 *   `maximum authentication attempts exceeded` it says `Too many authentication failures`: that
 *   line gives no event, the max_auth_tries_exceeded line was the end.
 * - serverloop.c process_input (after authentication only): `Connection closed by <addr> port <n>`
 *   and `Read error from remote host <addr> port <n>: <error>` (VERBOSE up to 9.7, INFO from 9.8).
 * - The timeouts above; none of them is followed by another end line.
 *
 * Ends without a line: LoginGraceTime on 8.5–9.7 builds patched for CVE-2024-6387 (the fix
 * that vendors backported empties log.c sshsigdie, so grace_alarm_handler exits silently; seen
 * on Debian 12's 9.2p1-2+deb12u*), a post-authentication close on ≤ 9.7 at LogLevel INFO
 * (serverloop's line is VERBOSE there), and connections whose process is killed.
 *
 * The phase comes from the ` [preauth]`/` [postauth]` suffix, else from the preamble (`user …`
 * after authentication), else from the line's kind. One form is ambiguous:
 * `Connection closed by <addr> port <n>` with neither suffix nor preamble is what the banner
 * exchange writes when a client closes before sending its identification (sshd.c, 10.0
 * sshd-session.c, before any child exists) and also what serverloop.c writes after
 * authentication. It parses as preauth_closed with `phase: 'unknown'`; the accumulator, which saw
 * the connection's `Accepted` line, turns it into disconnected.
 *
 * Not ends: `Closing connection to <addr> port <n>` (VERBOSE, after a serverloop end: the
 * serverloop line counted), and fatal errors of sshd's own.
 *
 * ## Cut messages
 *
 * syslog gets at most 500 bytes of a message, and a client's string may quadruple when escaped
 * (`\ooo`), so the end of a long message can be missing: its suffix, address or reason. The
 * events above are decided by the message's start wherever they can be; a `Disconnecting` line
 * of 500 bytes or more gives no event (its reason, which tells whether max_auth_tries_exceeded
 * was the end already, may be gone), and `Starting session`/`Close session` lines whose end is
 * cut give none either.
 */
import type { LogRecord } from './log-record.ts'

/** Every event this module gives, the `event` label's fixed set. */
export const EVENTS = [
  'auth_accepted',
  'auth_failed',
  'invalid_user',
  'max_auth_tries_exceeded',
  'preauth_closed',
  'login_grace_timeout',
  'client_alive_timeout',
  'unused_connection_timeout',
  'channel_timeout',
  'no_more_sessions',
  'startups_dropped',
  'startups_throttling_started',
  'penalty_dropped',
  'session_opened',
  'session_closed',
  'disconnected',
  'negotiation_failed',
  'banner_invalid',
  'connection_refused',
  'login_not_allowed',
  'root_login_refused',
  'penalty_imposed_authfail',
  'penalty_imposed_noauth',
  'penalty_imposed_grace_exceeded',
  'penalty_imposed_refuseconnection',
  'penalty_imposed_invaliduser',
  'penalty_imposed_crash',
] as const
export type SshdEventName = (typeof EVENTS)[number]

/**
 * Authentication methods, the `method` label's fixed set. auth_log runs in the monitor
 * (monitor.c monitor_child_preauth), which logs only the methods it decides, under its own names:
 * `publickey`, `hostbased`, `password`, `none` (monitor.c mm_answer_authpassword: a first, empty
 * password with PermitEmptyPasswords), `keyboard-interactive/<device>`, `gssapi-with-mic`. A
 * client's own method names are never logged (the captures try one). `none` and any other name
 * give `other`.
 */
export const AUTH_METHODS = [
  'publickey',
  'password',
  'keyboard-interactive',
  'hostbased',
  'gssapi-with-mic',
  'other',
] as const
export type AuthMethod = (typeof AUTH_METHODS)[number]

/**
 * How a drop count was written: `line` one `drop connection` line (count 1); `periodic` 8.4–9.9's
 * `in MaxStartups throttling …, N connections dropped` (N includes the drop whose line follows);
 * `exited` 8.4–9.9's `exited MaxStartups throttling …, N connections dropped` (N since
 * `beginning`, lines included); `additional` 10.0+'s `… logging rate-limited: additional N
 * connections dropped` (N not logged singly).
 */
export const DROP_KINDS = ['line', 'periodic', 'exited', 'additional'] as const
export type DropKind = (typeof DROP_KINDS)[number]

/** When in a connection's life a line was written; `unknown` only for the ambiguous close. */
export type Phase = 'preauth' | 'postauth' | 'unknown'

/** Events that end a connection: each connection end gives exactly one. */
export type ConnectionEndEvent =
  | 'preauth_closed'
  | 'disconnected'
  | 'login_grace_timeout'
  | 'client_alive_timeout'
  | 'unused_connection_timeout'
  | 'max_auth_tries_exceeded'
  | 'negotiation_failed'
  | 'banner_invalid'
  | 'connection_refused'

/** A penalty PerSourcePenalties imposed, by its sshd_config keyword (srclimit.c srclimit_penalise). */
export type PenaltyImposedEvent = Extract<SshdEventName, `penalty_imposed_${string}`>

export type SshdEvent =
  | {
      readonly event: 'auth_accepted'
      readonly method: AuthMethod
      /**
       * The account sshd authenticated (auth.c auth_log's `authctxt->user`: a login is accepted
       * only for a valid user, getpwnamallow), never a client's guess. As sshd logged it (escaped).
       */
      readonly user: string
      readonly address: string
      readonly port: number
    }
  | { readonly event: 'auth_failed'; readonly method: AuthMethod }
  | {
      /** `LogLevel VERBOSE` lines: one session (shell, command, subsystem) started or closed. */
      readonly event: 'session_opened' | 'session_closed'
      readonly address: string
      readonly port: number
      /** The session's number on its connection (session.c `s->self`). */
      readonly id: number
    }
  | {
      readonly event: 'startups_dropped' | 'penalty_dropped'
      readonly count: number
      readonly kind: DropKind
    }
  | {
      readonly event: ConnectionEndEvent
      /** The client's address and port, when the line names them. */
      readonly address: string | undefined
      readonly port: number | undefined
      readonly phase: Phase
    }
  | {
      readonly event:
        | 'invalid_user'
        | 'no_more_sessions'
        | 'channel_timeout'
        | 'startups_throttling_started'
        | 'login_not_allowed'
        | 'root_login_refused'
        | PenaltyImposedEvent
    }

/** sshd's message buffer (log.c MSGBUFSIZ): no message of sshd's is longer. */
export const MAX_MESSAGE_LENGTH = 1024
/** syslog(3) gets `%.500s` of sshd's message (log.c do_log): a longer one was cut. */
const SYSLOG_MESSAGE_MAX = 500
/** A syslog header (timestamp, host, tag) and the longest message. */
export const MAX_LINE_LENGTH = 1024 + 512

// --- Lines ---------------------------------------------------------------------------------

/** `<pri>` before the header: RFC 5424 always, a datagram or raw remote log in RFC 3164. */
const PRI_RE = /^<\d{1,3}>/
/**
 * RFC 5424 after `<pri>`: version (`0` is rsyslog's %PROTOCOL-VERSION% for a legacy message),
 * timestamp or `-`, host, APP-NAME, PROCID, MSGID (each `-` when nil), then the structured data.
 */
const RFC5424_RE =
  /^[01] (?:-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) [!-~]{1,255} ([!-~]{1,48}) ([!-~]{1,128}) [!-~]{1,32} /
const PROCID_PID_RE = /^\d{1,10}$/
/** `Nov 21 10:00:00 `, `Nov  1 …`, `Nov 01 …`, `Feb 8 …` (RFC 3164), `.123456` (short-precise). */
const RFC3164_RE = /^[A-Z][a-z]{2} (?: ?\d|\d\d) \d\d:\d\d:\d\d(?:\.\d{1,9})? /
/**
 * ISO 8601: `2026-11-21T10:00:00[.123456](Z|+00:00) ` (RFC 3339, rsyslog's RSYSLOG_FileFormat),
 * `+0000` (journalctl's short-iso before systemd 256), a space for the `T`, no zone.
 */
const ISO_RE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? /
/**
 * After the timestamp: `[host ][facility.level ]tag[[pid]]: ` (no host: busybox syslogd -S, a
 * datagram; facility.level: busybox syslogd). A host never ends in `:`, so `tag: error: …` is
 * not taken for host `tag:` and tag `error`.
 */
const HOST_TAG_RE =
  /^(?:\S{0,254}[^\s:] )?(?:[a-z0-9]{1,12}\.[a-z]{1,8} )?([^\s[\]:]{1,64})(?:\[(\d{1,10})\])?: /
/**
 * The usual `host tag[[pid]]: `, tried before HOST_TAG_RE (which costs more per line): where it
 * matches, HOST_TAG_RE gives the same match, since a `facility.level ` cannot start where a tag
 * followed by `[` or `:` does.
 */
const USUAL_HOST_TAG_RE = /^\S{0,254}[^\s:] ([^\s[\]:]{1,64})(?:\[(\d{1,10})\])?: /
/** Solaris and illumos syslogd's message ID after the tag: `[ID 800047 auth.info] `. */
const SOLARIS_ID_RE = /^\[ID \d{1,10} [a-z0-9]{1,12}\.[a-z]{1,8}\] /
/** rsyslog runtime/ratelimit.c ratelimitGenRepMsg: `message repeated %d times: [%.800s]`. */
const REPEATED_RE = /^message repeated (\d{1,9}) times: \[ ?/

/**
 * One line of a log file (without its `\n`; a trailing `\r` is dropped) to a LogRecord. Returns
 * undefined for an empty line, a line longer than MAX_LINE_LENGTH, and a syslog line whose
 * header is not understood or has no tag. A line with no `<pri>` and no syslog timestamp is taken
 * as an `sshd -E` line: the whole line is the message, identifier and pid undefined. Never throws.
 */
export function parseSyslogLine(line: string): LogRecord | undefined {
  if (line.length > MAX_LINE_LENGTH) return undefined
  const end = line.endsWith('\r') ? line.length - 1 : line.length
  if (end === 0) return undefined
  let body = end === line.length ? line : line.slice(0, end)
  let pri = false
  if (body.charCodeAt(0) === 0x3c) {
    const p = PRI_RE.exec(body)
    if (p !== null) {
      pri = true
      body = body.slice(p[0].length)
      if (body.charCodeAt(1) === 0x20) return parseRfc5424(body)
    }
  }
  const stamp = RFC3164_RE.exec(body) ?? ISO_RE.exec(body)
  if (stamp === null) {
    return pri ? undefined : { identifier: undefined, pid: undefined, message: body }
  }
  const rest = body.slice(stamp[0].length)
  const tag = USUAL_HOST_TAG_RE.exec(rest) ?? HOST_TAG_RE.exec(rest)
  if (tag === null) return undefined
  let message = rest.slice(tag[0].length)
  // The first character before startsWith, which costs more on every line.
  if (message.charCodeAt(0) === 0x5b && message.startsWith('[ID ')) {
    const id = SOLARIS_ID_RE.exec(message)
    if (id !== null) message = message.slice(id[0].length)
  }
  return tagged(tag[1]!, tag[2] === undefined ? undefined : Number(tag[2]), message)
}

/** `1 <stamp> <host> <app> <procid> <msgid> <sd>[ [BOM]<msg>]` (RFC 5424 section 6). */
function parseRfc5424(body: string): LogRecord | undefined {
  const m = RFC5424_RE.exec(body)
  if (m === null) return undefined
  const app = m[1]!
  if (app === '-') return undefined
  let i = m[0].length
  if (body.charCodeAt(i) === 0x2d) {
    i++ // `-`: no structured data
  } else {
    if (body.charCodeAt(i) !== 0x5b) return undefined
    while (body.charCodeAt(i) === 0x5b) {
      i = sdElementEnd(body, i)
      if (i === -1) return undefined
    }
  }
  let message = ''
  if (i < body.length) {
    if (body.charCodeAt(i) !== 0x20) return undefined
    i++
    if (body.charCodeAt(i) === 0xfeff) i++ // the BOM of a UTF-8 MSG
    // rsyslog's %msg% of a message it received as RFC 3164 keeps that message's leading space.
    if (body.charCodeAt(i) === 0x20) i++
    message = body.slice(i)
  }
  const procid = m[2]!
  return tagged(app, PROCID_PID_RE.test(procid) ? Number(procid) : undefined, message)
}

/**
 * The index after the SD-ELEMENT starting at `start` (`[id param="value" …]`, where a value may
 * hold `\"`, `\\` and `\]`), or -1 when it does not end.
 */
function sdElementEnd(body: string, start: number): number {
  let quoted = false
  for (let i = start + 1; i < body.length; i++) {
    const c = body.charCodeAt(i)
    if (quoted) {
      // A backslash escapes the next character.
      if (c === 0x5c) i++
      else if (c === 0x22) quoted = false
    } else if (c === 0x22) {
      quoted = true
    } else if (c === 0x5d) {
      return i + 1
    }
  }
  return -1
}

/**
 * A tagged record. rsyslog's `message repeated N times: [ <message>]` (RepeatedMsgReduction;
 * N counts the repeats after the message's own line, the leading space is rsyslog's MSG's own)
 * gives the inner message with `count` N; a cut or odd one stays as it is, not understood.
 */
function tagged(identifier: string, pid: number | undefined, message: string): LogRecord {
  if (
    message.charCodeAt(0) === 0x6d && // m
    message.startsWith('message repeated ') &&
    message.endsWith(']')
  ) {
    const m = REPEATED_RE.exec(message)
    const count = m === null ? 0 : Number(m[1])
    if (count > 0) {
      return { identifier, pid, message: message.slice(m![0].length, -1), count }
    }
  }
  return { identifier, pid, message }
}

// --- Messages ------------------------------------------------------------------------------

/**
 * The user is the shortest text up to the first ` from <addr> port <n> ssh2`: a local account
 * name holds no space (and none holds that text), while the key part after `ssh2: ` may.
 */
const ACCEPTED_RE = /^Accepted (\S+) for (.+?) from (\S+) port (\d{1,5}) ssh2(?:: |$)/
const FAILED_RE = /^Failed (\S+) for /
/** `… <addr> port <n>` at the end (the connection id, `Timeout, client not responding …`). */
const ID_TAIL_RE = /^(?:(.*) )?(\S+) port (\d{1,5})$/
/** `… from <addr> port <n> ssh2` at the end (max auth tries). */
const FROM_SSH2_TAIL_RE = / from (\S+) port (\d{1,5}) ssh2$/
/** `… from <addr> port <n> id <id>` at the end (sessions). */
const SESSION_TAIL_RE = / from (\S+) port (\d{1,5}) id (\d{1,9})$/
/**
 * `<id>: <error>` after `<tag>: Connection from ` (sshpkt_fatal's default form): the last
 * `<addr> port <n>: ` (a user name before it may hold one; ssh_err's texts after it do not).
 */
const FATAL_ID_RE = /^(?:.* )?(\S+) port (\d{1,5}): /
/** `<id>: <reason>` after `Disconnecting `: the first `<addr> port <n>: ` (see below). */
const DISCONNECTING_ID_RE = /^(?:.*? )??(\S+) port (\d{1,5}): /
/** sshpkt_fatal's tags: `banner exchange`, or a function name and lower-case words. */
const FATAL_TAG_RE = /^(?:banner exchange|[a-z_][a-z0-9_]{0,63}(?:: [a-z][a-z0-9_ .@-]{0,80})?)$/
const GRACE_OLD_RE = /^Timeout before authentication for (\S+) port (\d{1,5})$/
const CHANNEL_TIMEOUT_RE = /^channel \d{1,10}: closing after \d{1,10} seconds of inactivity$/
const DROP_RE =
  /^drop connection #-?\d{1,10} from \[[^\]]{1,100}\]:\d{1,5} on \[[^\]]{1,100}\]:\d{1,5} (.+)$/
const SUMMARY_RE =
  /^(?:in|exited) MaxStartups throttling (?:for|after) .{1,40}, (\d{1,10}) connections dropped$/
const RATE_LIMITED_RE =
  /^(Maxstartups|PerSourcePenalties) logging rate-limited: additional (\d{1,10}) connections dropped$/

/**
 * auth.c allowed_user (V_9_2_P1, V_10_0_P1, V_10_5_P1), INFO: AllowUsers, DenyUsers, AllowGroups,
 * DenyGroups, a locked account, a missing or non-executable shell. `<user>` is a local account
 * (getpwnam found it), `<host>` the client's name or address; the reason at the end is sshd's.
 */
const NOT_ALLOWED_RE =
  /^User .+ not allowed because (?:listed in DenyUsers|not listed in AllowUsers|not in any group|a group is listed in DenyGroups|not listed in AllowGroups|account is locked|shell .+ (?:does not exist|is not executable))$/
/** auth.c auth_root_allowed (V_8_2_P1 to V_10_5_P1, upstream), INFO. */
const ROOT_REFUSED_RE = /^ROOT LOGIN REFUSED FROM \S+ port \d{1,5}$/
/**
 * srclimit.c srclimit_penalise (V_9_8_P1 to V_10_5_P1): a penalty becoming active, new or
 * accumulated: `<fn>: ipv4: new <net> active penalty of <s> seconds for <reason>` and
 * `<fn>: <net>: activating ipv4 penalty of <s> seconds for <reason>` (VERBOSE up to 10.0, INFO
 * from 10.1; `%d`/`%lld` seconds up to 10.2, `%.3f` from 10.3). `deferred` penalties are not yet
 * in force and give no event.
 */
const PENALISE_RE =
  /^srclimit_penalise: (?:ipv[46]: new \S+ active|\S+: activating ipv[46]) penalty of \d{1,10}(?:\.\d{1,3})? seconds for penalty: (.+)$/
/** `… from <addr> port <n>` at the end (RefuseConnection). */
const FROM_TAIL_RE = / from (\S+) port (\d{1,5})$/

const PREAUTH_SUFFIX = ' [preauth]'
const POSTAUTH_SUFFIX = ' [postauth]'
const CONNECTION_FROM = ': Connection from '
const TOO_MANY_FAILURES = ': Too many authentication failures'

const NO_MORE_SESSIONS: SshdEvent = Object.freeze({ event: 'no_more_sessions' })
const INVALID_USER: SshdEvent = Object.freeze({ event: 'invalid_user' })
const CHANNEL_TIMEOUT: SshdEvent = Object.freeze({ event: 'channel_timeout' })
const THROTTLING_STARTED: SshdEvent = Object.freeze({ event: 'startups_throttling_started' })
const ONE_STARTUP_DROP: SshdEvent = Object.freeze({
  event: 'startups_dropped',
  count: 1,
  kind: 'line',
})
const ONE_PENALTY_DROP: SshdEvent = Object.freeze({
  event: 'penalty_dropped',
  count: 1,
  kind: 'line',
})
const LOGIN_NOT_ALLOWED: SshdEvent = Object.freeze({ event: 'login_not_allowed' })
const ROOT_LOGIN_REFUSED: SshdEvent = Object.freeze({ event: 'root_login_refused' })

/**
 * srclimit.c srclimit_penalise's reasons (V_9_8_P1 to V_10_5_P1) to their events, named after
 * the PerSourcePenalties keywords. `invalid user` is 10.3+, `RefuseConnection` 9.9+.
 */
const PENALTY_REASONS: ReadonlyMap<string, SshdEvent> = new Map(
  (
    [
      ['failed authentication', 'penalty_imposed_authfail'],
      ['connections without attempting authentication', 'penalty_imposed_noauth'],
      ['exceeded LoginGraceTime', 'penalty_imposed_grace_exceeded'],
      ['connection prohibited by RefuseConnection', 'penalty_imposed_refuseconnection'],
      ['attempted authentication by invalid user', 'penalty_imposed_invaliduser'],
      ['caused crash', 'penalty_imposed_crash'],
    ] as const
  ).map(([reason, event]) => [reason, Object.freeze({ event })]),
)

/** A method name as auth_log prints it (`keyboard-interactive/pam`) to the label's set. */
export function authMethod(name: string): AuthMethod {
  switch (name) {
    case 'publickey':
    case 'password':
    case 'keyboard-interactive':
    case 'hostbased':
    case 'gssapi-with-mic':
      return name
    default:
      // auth_log appends a submethod only for keyboard-interactive's devices (pam, bsdauth).
      return name.startsWith('keyboard-interactive/') ? 'keyboard-interactive' : 'other'
  }
}

function port(text: string): number | undefined {
  const n = Number(text)
  return n <= 65535 ? n : undefined
}

/** A connection end; the phase from the suffix, else the preamble, else `fallback`. */
function end(
  event: ConnectionEndEvent,
  address: string | undefined,
  portText: string | undefined,
  phase: Phase,
): SshdEvent {
  return {
    event,
    address,
    port: portText === undefined ? undefined : port(portText),
    phase,
  }
}

/**
 * The phase a connection id's preamble says: `user <u>` after authentication; `authenticating
 * user <u>`, `invalid user <u>` (and monitor.c's `authenticatinguser <u>`, 9.2 to 10.x) before.
 * A client's user name comes after these words, so it cannot change the answer.
 */
function idPhase(id: string): Phase {
  if (id.startsWith('user ')) return 'postauth'
  if (id.startsWith('authenticating') || id.startsWith('invalid user ')) return 'preauth'
  return 'unknown'
}

/** preauth_closed or disconnected, for a phase. */
function closed(
  phase: Phase,
  address: string | undefined,
  portText: string | undefined,
): SshdEvent {
  return end(phase === 'postauth' ? 'disconnected' : 'preauth_closed', address, portText, phase)
}

/** `[<preamble> ]<addr> port <n>` (sshpkt_fmt_connection_id), all sshd's at its end, to a close. */
function closedById(id: string, suffix: Phase | undefined): SshdEvent {
  const m = ID_TAIL_RE.exec(id)
  return closed(suffix ?? idPhase(id), m?.[2], m?.[3])
}

/**
 * One message (as in LogRecord.message) to its event, or undefined for every other line. Never
 * throws; the cost is bounded by MAX_MESSAGE_LENGTH.
 */
export function parseSshdMessage(message: string): SshdEvent | undefined {
  if (message.length > MAX_MESSAGE_LENGTH) return undefined
  let msg = message.endsWith('\r') ? message.slice(0, -1) : message
  if (msg.startsWith('error: ') || msg.startsWith('fatal: ')) msg = msg.slice(7)
  let suffix: Phase | undefined
  if (msg.endsWith(PREAUTH_SUFFIX)) {
    suffix = 'preauth'
    msg = msg.slice(0, -PREAUTH_SUFFIX.length)
  } else if (msg.endsWith(POSTAUTH_SUFFIX)) {
    suffix = 'postauth'
    msg = msg.slice(0, -POSTAUTH_SUFFIX.length)
  }

  switch (msg.charCodeAt(0)) {
    case 0x41: // A
      if (msg.startsWith('Accepted ')) {
        const m = ACCEPTED_RE.exec(msg)
        if (m === null) return undefined // `Accepted key …`, `Accepted certificate ID …`
        const p = port(m[4]!)
        if (p === undefined) return undefined
        return {
          event: 'auth_accepted',
          method: authMethod(m[1]!),
          user: m[2]!,
          address: m[3]!,
          port: p,
        }
      }
      return undefined
    case 0x43: // C
      if (msg.startsWith('Connection closed by ')) {
        return closedById(msg.slice(21), suffix)
      }
      if (msg.startsWith('Connection reset by ')) return closedById(msg.slice(20), suffix)
      if (msg.startsWith('Close session: user ')) {
        const m = SESSION_TAIL_RE.exec(msg)
        const p = m === null ? undefined : port(m[2]!)
        if (p === undefined) return undefined
        return { event: 'session_closed', address: m![1]!, port: p, id: Number(m![3]) }
      }
      return undefined
    case 0x44: // D
      if (msg.startsWith('Disconnected from ')) return closedById(msg.slice(18), suffix)
      if (msg.startsWith('Disconnecting ')) {
        // After `maximum authentication attempts exceeded`, which was the end. A message that
        // syslog may have cut (500 bytes) cannot show its reason: no event rather than two.
        if (msg.endsWith(TOO_MANY_FAILURES) || message.length >= SYSLOG_MESSAGE_MAX) {
          return undefined
        }
        // Before authentication the user name (in the id) and the reason (`Change of username
        // …: (<user>,…)`) may both hold a client's `<addr> port <n>: `; the address is wanted
        // only after it, when the id's user and the reason are sshd's: read the first one.
        const id = msg.slice(14)
        const m = DISCONNECTING_ID_RE.exec(id)
        return closed(suffix ?? idPhase(id), m?.[1], m?.[2])
      }
      return undefined
    case 0x46: // F
      if (msg.startsWith('Failed ')) {
        const m = FAILED_RE.exec(msg)
        return m === null ? undefined : { event: 'auth_failed', method: authMethod(m[1]!) }
      }
      return undefined
    case 0x49: // I
      return msg.startsWith('Invalid user ') ? INVALID_USER : undefined
    case 0x4d: // M
    case 0x50: // P
      return rateLimited(msg)
    case 0x52: // R
      if (msg.startsWith('ROOT LOGIN REFUSED FROM ')) {
        return ROOT_REFUSED_RE.test(msg) ? ROOT_LOGIN_REFUSED : undefined
      }
      if (msg.startsWith('Read error from remote host ')) {
        const colon = msg.indexOf(': ', 28)
        const m = colon === -1 ? null : ID_TAIL_RE.exec(msg.slice(28, colon))
        return end('disconnected', m?.[2], m?.[3], 'postauth')
      }
      return undefined
    case 0x53: // S
      if (msg.startsWith('Starting session: ')) {
        const m = SESSION_TAIL_RE.exec(msg)
        const p = m === null ? undefined : port(m[2]!)
        if (p === undefined) return undefined
        return { event: 'session_opened', address: m![1]!, port: p, id: Number(m![3]) }
      }
      return undefined
    case 0x54: // T
      if (msg.startsWith('Timeout before authentication for ')) {
        const m = GRACE_OLD_RE.exec(msg)
        return end('login_grace_timeout', m?.[1], m?.[2], 'preauth')
      }
      if (msg.startsWith('Timeout, client not responding from ')) {
        const m = ID_TAIL_RE.exec(msg.slice(36))
        return end('client_alive_timeout', m?.[2], m?.[3], 'postauth')
      }
      return undefined
    case 0x55: // U
      if (msg.startsWith('Unable to negotiate with ')) {
        // Key exchange fails before authentication, in the child ([preauth]); a rekey after it
        // names `user …`. The end of this line is the client's offer: only its start is read.
        if (msg.startsWith('user ', 25)) return closed('postauth', undefined, undefined)
        return end('negotiation_failed', undefined, undefined, 'preauth')
      }
      if (msg.startsWith('User ')) return NOT_ALLOWED_RE.test(msg) ? LOGIN_NOT_ALLOWED : undefined
      return undefined
    case 0x61: // a
      if (msg.startsWith('administratively prohibited connection for ')) {
        // monitor.c mm_answer_pwnamallow (V_9_9_P1 to V_10_5_P1), INFO, then cleanup_exit: the
        // connection's end, with no other end line. The user name is the client's.
        const m = FROM_TAIL_RE.exec(msg)
        return end('connection_refused', m?.[1], m?.[2], 'preauth')
      }
      break
    case 0x62: // b
      if (msg === 'beginning MaxStartups throttling') return THROTTLING_STARTED
      break
    case 0x63: // c
      if (msg.startsWith('channel ')) {
        return CHANNEL_TIMEOUT_RE.test(msg) ? CHANNEL_TIMEOUT : undefined
      }
      break
    case 0x64: // d
      if (msg.startsWith('drop connection #')) return dropped(msg)
      break
    case 0x65: // e
    case 0x69: // i
      if (msg.startsWith('exited MaxStartups') || msg.startsWith('in MaxStartups')) {
        const m = SUMMARY_RE.exec(msg)
        if (m === null) return undefined
        return {
          event: 'startups_dropped',
          count: Number(m[1]),
          kind: msg.charCodeAt(0) === 0x65 ? 'exited' : 'periodic',
        }
      }
      break
    case 0x6d: // m
      if (msg.startsWith('maximum authentication attempts exceeded for ')) {
        const m = FROM_SSH2_TAIL_RE.exec(msg)
        return end('max_auth_tries_exceeded', m?.[1], m?.[2], 'preauth')
      }
      break
    case 0x6e: // n
      if (msg === 'no more sessions') return NO_MORE_SESSIONS
      break
    case 0x73: // s
      if (msg.startsWith('srclimit_penalise: ')) {
        const m = PENALISE_RE.exec(msg)
        return m === null ? undefined : PENALTY_REASONS.get(m[1]!)
      }
      break
    case 0x74: // t
      if (msg.startsWith('terminating inactive connection from ')) {
        const m = ID_TAIL_RE.exec(msg.slice(37))
        return end('unused_connection_timeout', m?.[2], m?.[3], 'postauth')
      }
      break
    default:
      break
  }
  return fatalConnection(msg, suffix)
}

/** 10.0+: `<Maxstartups|PerSourcePenalties> logging rate-limited: additional N connections dropped`. */
function rateLimited(msg: string): SshdEvent | undefined {
  const m = RATE_LIMITED_RE.exec(msg)
  if (m === null) return undefined
  return {
    event: m[1] === 'Maxstartups' ? 'startups_dropped' : 'penalty_dropped',
    count: Number(m[2]),
    kind: 'additional',
  }
}

/** `drop connection #N from [A]:P on [L]:Q <reason>`. */
function dropped(msg: string): SshdEvent | undefined {
  const m = DROP_RE.exec(msg)
  if (m === null) return undefined
  const reason = m[1]!
  if (reason === 'past MaxStartups' || reason === 'past Maxstartups' || reason === 'Maxstartups') {
    return ONE_STARTUP_DROP
  }
  // 9.8+: the penalty's reason (srclimit.c), or 10.0's `PerSourcePenalties` without one; and
  // srclimit.c srclimit_penalty_check_allow's `too many penalised addresses` (9.8+, the table
  // full and PerSourcePenalties `overflow=deny-all`): a PerSourcePenalties drop too,
  // whose 10.0+ rate limiter and `PerSourcePenalties … additional N` summary it shares.
  if (
    reason.startsWith('penalty: ') ||
    reason === 'PerSourcePenalties' ||
    reason === 'too many penalised addresses'
  ) {
    return ONE_PENALTY_DROP
  }
  return undefined
}

/** sshpkt_fatal's default form, `<tag>: Connection from <id>: <error>`. */
function fatalConnection(msg: string, suffix: Phase | undefined): SshdEvent | undefined {
  const at = msg.indexOf(CONNECTION_FROM)
  if (at <= 0 || !FATAL_TAG_RE.test(msg.slice(0, at))) return undefined
  const id = msg.slice(at + CONNECTION_FROM.length)
  // The id is cut to 200 bytes before escaping, so syslog may cut the message inside it: the
  // tag alone says it is an end; the address is there when the message was not cut.
  const m = FATAL_ID_RE.exec(id)
  let phase = suffix ?? idPhase(id)
  if (msg.startsWith('banner exchange')) {
    // Before any child exists, so no suffix and no user in the id: the error is sshd's
    // (ssh_err). `invalid format` is a banner that is not SSH's (kex.c
    // kex_exchange_identification logged why just before: that line gives no event).
    if (phase === 'unknown') phase = 'preauth'
    if (phase === 'preauth' && m !== null && msg.endsWith(': invalid format')) {
      return end('banner_invalid', m[1], m[2], phase)
    }
  }
  return closed(phase, m?.[1], m?.[2])
}
