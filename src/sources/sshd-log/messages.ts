/**
 * One message of sshd's to one typed event or none (`parseSshdMessage`). A message is recognised
 * by its start, which is sshd's own text; an address and port are read from its end, never from
 * the client-chosen middle (a user name). Pure. Each form, its log level and its source in
 * OpenSSH: docs/openssh.md, "What sshd logs"; an `sshd -E` file is forgeable by any client.
 */
import {
  type AuthMethod,
  type ConnectionEndEvent,
  MAX_MESSAGE_LENGTH,
  type Phase,
  type SshdEvent,
  SYSLOG_MESSAGE_MAX,
} from './events.ts'

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
