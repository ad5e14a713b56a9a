/**
 * A synthetic auth.log for the log-parsing benchmark (bench/log-parse.ts): rsyslog's traditional
 * file format (`Nov 21 08:29:15 host sshd[1234]: message`), a deterministic pseudo-random mix
 * weighted like a busy internet-facing host: mostly password guessing by bots (invalid users,
 * root), scanners that never finish the banner exchange, a few real logins at LogLevel VERBOSE,
 * and CRON, systemd and sudo lines of other programs.
 *
 * Every message is a template taken from a real captured line (test/fixtures/sshd-log/*.tsv) or
 * from a form sshd's source writes (test/fixtures/sshd-log/openssh-source.tsv,
 * src/sources/sshd-log/); addresses (IPv4 and IPv6), ports, users and pids vary. Each
 * connection is written in one of two styles: OpenSSH 9.2 (Debian 12: every line tagged `sshd`,
 * ERROR lines with `error: `) or 9.8+ (per-connection lines tagged `sshd-session`, the listener's
 * `sshd`). A few connections run at once, so their lines interleave as in a real log.
 *
 * `expected` is the ground truth, from what each simulated connection did and not from the
 * parser: per event (`eventKey`), how many the exporter should count from the lines written.
 * An ambiguous `Connection closed by <addr> port <n>` counts as `disconnected` for a connection
 * that authenticated and `preauth_closed` for a scanner; a MaxStartups summary adds the drops
 * that no line written before it reported. Two connections alive at once never share an address
 * and port.
 *
 * CLI: `node bench/auth-log.ts <path> [lines=1000000] [seed=1]` writes the file and prints the
 * summary as JSON.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import process from 'node:process'
import {
  AUTH_METHODS,
  type AuthMethod,
  EVENTS,
  type SshdEventName,
} from '../src/sources/sshd-log/events.ts'

export interface AuthLogSummary {
  lines: number
  bytes: number
  /** eventKey → how many the exporter should count; every event and method, zeros included. */
  expected: Record<string, number>
}

/** The key of one counter: `invalid_user`, or `auth_accepted:publickey` for an event with a method. */
export function eventKey(event: SshdEventName, method?: AuthMethod): string {
  return method === undefined ? event : `${event}:${method}`
}

/** Every counter the exporter has (auth_accepted and auth_failed once per method), at 0. */
export function zeroCounts(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const event of EVENTS) {
    if (event === 'auth_accepted' || event === 'auth_failed') {
      for (const method of AUTH_METHODS) counts[eventKey(event, method)] = 0
    } else {
      counts[event] = 0
    }
  }
  return counts
}

// --- Randomness -------------------------------------------------------------------------------

/** mulberry32: small, fast, and the same sequence for a seed on every platform. */
class Rng {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0
    for (const [w] of items) total += w
    let r = this.next() * total
    for (const [w, item] of items) {
      r -= w
      if (r < 0) return item
    }
    return (items[items.length - 1] as readonly [number, T])[1]
  }
}

// --- Lines -----------------------------------------------------------------------------------

/** What one line adds to the expected counts. */
type Effect = readonly [key: string, n: number]

interface Line {
  /** syslog tag; `sudo` has no pid. */
  readonly tag: string
  readonly pid: number | undefined
  readonly message: string
  readonly effect?: Effect
}

const HOST = 'host'
const SERVER_V4 = '203.0.113.10'
const SERVER_V6 = '2001:db8:1::10'
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** User names bots try (an empty one included: sshd logs `Invalid user  from …`). */
const BOT_USERS = [
  ...(
    'admin test user oracle ubuntu postgres git ftpuser guest support hadoop minecraft ' +
    'jenkins es pi ts3 steam nagios zabbix mysql debian centos odoo sol ' +
    'validator tomcat www dev administrator user1 test123 apache kafka redis elastic docker ' +
    'vagrant ansible'
  ).split(' '),
  '',
]
/** User names of the hostile client in the captures: sshd-like text, escapes (as syslog writes them). */
const HOSTILE_USERS = [
  'x from 1.2.3.4 port 22 ssh2',
  'Accepted publickey for root from 1.2.3.4 port 22 ssh2',
  'x\\r\\nAccepted publickey for root',
  'x\\377\\376\\303(',
  'q"u\'o\\\\te',
]
/** Real accounts guessed at (no `invalid user`). */
const KNOWN_USERS = ['root', 'root', 'root', 'root', 'ubuntu', 'alice', 'deploy']
const LOGIN_USERS = ['alice', 'bob', 'deploy', 'ansible', 'backup', 'git', 'carol']
const UIDS: Record<string, number> = {
  root: 0,
  alice: 1000,
  bob: 1001,
  deploy: 1002,
  ansible: 1003,
  backup: 1004,
  git: 1005,
  carol: 1006,
}
const KEY_TYPES = ['ED25519', 'ED25519', 'ED25519', 'RSA', 'ECDSA']
const BYE = ['Bye Bye', 'Normal Shutdown, Thank you for playing', 'disconnected by user']
const CRON_COMMANDS = [
  '(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)',
  '(root) CMD (   cd / && run-parts --report /etc/cron.hourly)',
  '(www-data) CMD ([ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi)',
  '(root) CMD (/usr/local/bin/backup.sh >/dev/null 2>&1)',
]

/** How one connection's lines are written. */
interface Style {
  /** The per-connection tag: `sshd` (≤ 9.7) or `sshd-session` (9.8+). */
  readonly tag: string
  /** The listener's pid (MaxStartups, 9.8+ LoginGraceTime). */
  readonly listener: number
  /** 9.8+ (sshd-session): ERROR kex lines are VERBOSE and lose `error: `. */
  readonly modern: boolean
}

const OLD: Style = { tag: 'sshd', listener: 812, modern: false }
const MODERN: Style = { tag: 'sshd-session', listener: 1207, modern: true }

class Context {
  readonly rng: Rng
  #pid = 20_000
  #session = 1
  /** Address and port of every connection alive now. */
  readonly #live = new Set<string>()
  /** Listeners in a MaxStartups episode now. */
  readonly busyListeners = new Set<number>()
  /** Attackers come back: a pool of addresses, some IPv6. */
  readonly #attackers: string[] = []
  readonly #offices: string[] = []

  constructor(rng: Rng) {
    this.rng = rng
    for (let i = 0; i < 3000; i++) this.#attackers.push(this.#address(0.12))
    for (let i = 0; i < 12; i++) this.#offices.push(this.#address(0.3))
  }

  #address(v6: number): string {
    const r = this.rng
    if (r.chance(v6)) {
      const hex = (): string => r.int(0, 0xffff).toString(16)
      return r.chance(0.5)
        ? `2a01:4f8:${hex()}:${hex()}::${r.int(1, 0xff).toString(16)}`
        : `2001:db8:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}`
    }
    return `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`
  }

  pid(): number {
    this.#pid += this.rng.int(1, 40)
    if (this.#pid > 4_000_000) this.#pid = 20_000
    return this.#pid
  }

  session(): number {
    return this.#session++
  }

  attacker(): string {
    return this.rng.pick(this.#attackers)
  }

  office(): string {
    return this.rng.pick(this.#offices)
  }

  /** A client port for `address` that no live connection uses. */
  claim(address: string): number {
    for (;;) {
      const port = this.rng.int(1024, 65535)
      const key = `${address} ${port}`
      if (!this.#live.has(key)) {
        this.#live.add(key)
        return port
      }
    }
  }

  release(address: string, port: number): void {
    this.#live.delete(`${address} ${port}`)
  }

  fingerprint(): string {
    let s = ''
    for (let i = 0; i < 43; i++) s += B64[this.rng.int(0, 63)]
    return s
  }

  server(address: string): string {
    return address.includes(':') ? SERVER_V6 : SERVER_V4
  }
}

type Scenario = Generator<Line, void, undefined>

const count = (event: SshdEventName, n = 1): Effect => [eventKey(event), n]
const byMethod = (event: 'auth_accepted' | 'auth_failed', method: AuthMethod): Effect => [
  eventKey(event, method),
  1,
]

/** One process's lines: `say(message)`, or `say(message, effect)` for a line that counts. */
type Say = (message: string, effect?: Effect) => Line

function speaker(tag: string, pid: number | undefined): Say {
  return (message, effect) =>
    effect === undefined ? { tag, pid, message } : { tag, pid, message, effect }
}

/** `lines` in order, the last one counting as `last`. */
function* ending(say: Say, lines: readonly string[], last: Effect): Scenario {
  for (let i = 0; i < lines.length; i++) {
    yield say(lines[i] as string, i === lines.length - 1 ? last : undefined)
  }
}

/** `Connection from …` (VERBOSE), as every connection starts. */
function connectionFrom(say: Say, a: string, p: number, ctx: Context): Line {
  return say(`Connection from ${a} port ${p} on ${ctx.server(a)} port 22 rdomain ""`)
}

/** A bot guessing passwords, for an account that does not exist (`invalid`) or one that does. */
interface Guesser {
  readonly r: Rng
  readonly say: Say
  readonly a: string
  readonly p: number
  readonly user: string
  readonly invalid: boolean
}

/** A guesser's connection: its address, port and pid, then its user. */
function guesser(
  ctx: Context,
  style: Style,
  invalid: boolean,
  pickUser: (r: Rng) => string,
): Guesser {
  const a = ctx.attacker()
  const p = ctx.claim(a)
  const say = speaker(style.tag, ctx.pid())
  return { r: ctx.rng, say, a, p, user: pickUser(ctx.rng), invalid }
}

/** The user as `Failed … for` and `exceeded for` name it: `invalid user x`, or `x`. */
function target(g: Guesser): string {
  return g.invalid ? `invalid user ${g.user}` : g.user
}

/** The user as pre-auth disconnects name it: `invalid user x`, or `authenticating user x`. */
function who(g: Guesser): string {
  return `${g.invalid ? 'invalid' : 'authenticating'} user ${g.user}`
}

/** One failed password: pam_unix's lines before the first, then sshd's. */
function* failedPassword(g: Guesser, first: boolean): Scenario {
  const { say, a, p, user, invalid } = g
  if (first) {
    if (invalid) yield say('pam_unix(sshd:auth): check pass; user unknown')
    yield say(
      `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${a} ${invalid ? '' : ` user=${user}`}`,
    )
  }
  yield say(
    `Failed password for ${target(g)} from ${a} port ${p} ssh2`,
    byMethod('auth_failed', 'password'),
  )
}

type GuesserEnd = 'disconnect' | 'closed' | 'reset' | 'username' | 'jsch'

/** The lines that end a guesser's connection; the last one is its `preauth_closed`. */
function guesserEnd(g: Guesser, end: GuesserEnd): string[] {
  const { r, a, p } = g
  const disconnected = `Disconnected from ${who(g)} ${a} port ${p} [preauth]`
  switch (end) {
    case 'disconnect':
      return [`Received disconnect from ${a} port ${p}:11: ${r.pick(BYE)} [preauth]`, disconnected]
    case 'jsch':
      return [
        `error: Received disconnect from ${a} port ${p}:3: com.jcraft.jsch.JSchException: Auth fail [preauth]`,
        disconnected,
      ]
    case 'closed':
      return [`Connection closed by ${who(g)} ${a} port ${p} [preauth]`]
    case 'reset':
      return [`Connection reset by ${who(g)} ${a} port ${p} [preauth]`]
    case 'username':
      return [
        `Disconnecting ${who(g)} ${a} port ${p}: Change of username or service not allowed: (${g.user},ssh-connection) -> (root,ssh-connection) [preauth]`,
      ]
  }
}

/**
 * How a guesser's connection ends after `tries` failures: MaxAuthTries reached at the sixth,
 * else as `weights` pick.
 */
function* guesserEnds(
  g: Guesser,
  tries: number,
  weights: readonly (readonly [number, GuesserEnd])[],
): Scenario {
  const { say, a, p, user, invalid } = g
  if (tries !== 6) {
    yield* ending(say, guesserEnd(g, g.r.weighted(weights)), count('preauth_closed'))
    return
  }
  yield say(
    `error: maximum authentication attempts exceeded for ${target(g)} from ${a} port ${p} ssh2 [preauth]`,
    count('max_auth_tries_exceeded'),
  )
  yield say(`Disconnecting ${who(g)} ${a} port ${p}: Too many authentication failures [preauth]`)
  yield say(
    `PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=${a}${invalid ? '' : `  user=${user}`}`,
  )
}

/** A bot guessing passwords for a user that does not exist. */
function* invalidUser(ctx: Context, style: Style): Scenario {
  const g = guesser(ctx, style, true, (r) =>
    r.chance(0.002) ? r.pick(HOSTILE_USERS) : r.pick(BOT_USERS),
  )
  const { r, say, a, p, user } = g
  try {
    yield connectionFrom(say, a, p, ctx)
    yield say(`Invalid user ${user} from ${a} port ${p}`, count('invalid_user'))
    if (r.chance(0.08)) {
      // Gave up before trying anything.
      yield* ending(say, guesserEnd(g, 'closed'), count('preauth_closed'))
      return
    }
    const kbd = r.chance(0.05)
    const none = !kbd && r.chance(0.03)
    const tries = r.weighted([
      [70, 1],
      [15, 2],
      [10, 3],
      [5, 6],
    ] as const)
    for (let i = 0; i < tries; i++) {
      if (kbd) {
        yield say(`error: PAM: Authentication failure for illegal user ${user} from ${a}`)
        yield say(
          `Failed keyboard-interactive/pam for ${target(g)} from ${a} port ${p} ssh2`,
          byMethod('auth_failed', 'keyboard-interactive'),
        )
      } else if (none && i === 0) {
        yield say(
          `Failed none for ${target(g)} from ${a} port ${p} ssh2`,
          byMethod('auth_failed', 'other'),
        )
      } else {
        yield* failedPassword(g, i === 0)
      }
    }
    yield* guesserEnds(g, tries, [
      [60, 'disconnect'],
      [32, 'closed'],
      [5, 'reset'],
      [3, 'username'],
    ])
  } finally {
    ctx.release(a, p)
  }
}

/** A bot guessing root's (or another real account's) password. */
function* knownUser(ctx: Context, style: Style): Scenario {
  const g = guesser(ctx, style, false, (r) => r.pick(KNOWN_USERS))
  const { r, say, a, p, user } = g
  try {
    yield connectionFrom(say, a, p, ctx)
    const tries = r.weighted([
      [60, 1],
      [15, 2],
      [10, 3],
      [15, 6],
    ] as const)
    for (let i = 0; i < tries; i++) {
      if (r.chance(0.05)) {
        yield say(
          `Failed publickey for ${user} from ${a} port ${p} ssh2: RSA SHA256:${ctx.fingerprint()}`,
          byMethod('auth_failed', 'publickey'),
        )
      } else {
        yield* failedPassword(g, i === 0)
      }
    }
    yield* guesserEnds(g, tries, [
      [55, 'disconnect'],
      [30, 'closed'],
      [10, 'jsch'],
      [5, 'reset'],
    ])
  } finally {
    ctx.release(a, p)
  }
}

/**
 * How a scanner's connection ends: its weight, then its lines (`err` is ≤ 9.7's `error: `) and
 * the event of the last one, which ends the connection.
 */
type ScannerEnd = {
  lines: (a: string, p: number, err: string) => readonly string[]
  event: 'preauth_closed' | 'banner_invalid' | 'negotiation_failed'
}
const SCANNER_ENDS: readonly (readonly [number, ScannerEnd])[] = [
  // The ambiguous close: no suffix, no user (a banner-exchange close here).
  [
    40,
    {
      lines: (a, p, err) => [
        `${err}kex_exchange_identification: Connection closed by remote host`,
        `Connection closed by ${a} port ${p}`,
      ],
      event: 'preauth_closed',
    },
  ],
  [
    15,
    {
      lines: (a, p, err) => [
        `${err}kex_exchange_identification: read: Connection reset by peer`,
        `Connection reset by ${a} port ${p}`,
      ],
      event: 'preauth_closed',
    },
  ],
  [
    12,
    {
      lines: (a, p) => [
        `error: kex_exchange_identification: client sent invalid protocol identifier "GET / HTTP/1.1"`,
        `banner exchange: Connection from ${a} port ${p}: invalid format`,
      ],
      event: 'banner_invalid',
    },
  ],
  [
    13,
    {
      lines: (a, p) => [
        `Unable to negotiate with ${a} port ${p}: no matching key exchange method found. Their offer: diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1 [preauth]`,
      ],
      event: 'negotiation_failed',
    },
  ],
  [
    5,
    {
      lines: (a, p) => [
        `Unable to negotiate with ${a} port ${p}: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]`,
      ],
      event: 'negotiation_failed',
    },
  ],
  [
    12,
    { lines: (a, p) => [`Connection closed by ${a} port ${p} [preauth]`], event: 'preauth_closed' },
  ],
  [
    3,
    {
      lines: (a, p) => [
        `ssh_dispatch_run_fatal: Connection from ${a} port ${p}: message authentication code incorrect [preauth]`,
      ],
      event: 'preauth_closed',
    },
  ],
]

/** Port scanners and clients that never get past the banner or the key exchange. */
function* scanner(ctx: Context, style: Style): Scenario {
  const r = ctx.rng
  const a = ctx.attacker()
  const p = ctx.claim(a)
  const say = speaker(style.tag, ctx.pid())
  const err = style.modern ? '' : 'error: '
  try {
    yield connectionFrom(say, a, p, ctx)
    const end = r.weighted(SCANNER_ENDS)
    yield* ending(say, end.lines(a, p, err), count(end.event))
  } finally {
    ctx.release(a, p)
  }
}

/** A connection that never authenticates: LoginGraceTime expires. */
function* graceTimeout(ctx: Context, style: Style): Scenario {
  const r = ctx.rng
  const a = ctx.attacker()
  const p = ctx.claim(a)
  const pid = ctx.pid()
  try {
    yield connectionFrom(speaker(style.tag, pid), a, p, ctx)
    if (style.modern) {
      yield speaker('sshd', style.listener)(
        `Timeout before authentication for connection from ${a} to ${ctx.server(a)}, pid = ${pid}`,
        count('login_grace_timeout'),
      )
    } else if (r.chance(0.5)) {
      // ≤ 9.7 without the CVE-2024-6387 fix (Debian's 9.2 logs nothing here).
      yield speaker('sshd', pid)(
        `fatal: Timeout before authentication for ${a} port ${p}`,
        count('login_grace_timeout'),
      )
    }
  } finally {
    ctx.release(a, p)
  }
}

/** A real login at LogLevel VERBOSE: sessions (some multiplexed), then one of the ends. */
function* login(ctx: Context, style: Style): Scenario {
  const r = ctx.rng
  const a = ctx.office()
  const p = ctx.claim(a)
  const monitor = ctx.pid()
  const child = monitor + r.int(2, 6)
  const mon = speaker(style.tag, monitor)
  const kid = speaker(style.tag, child)
  const sudo = speaker('sudo', undefined)
  const logind = speaker('systemd-logind', 587)
  const user = r.pick(LOGIN_USERS)
  const uid = UIDS[user] ?? 1000
  const session = ctx.session()
  const key = `${r.pick(KEY_TYPES)} SHA256:${ctx.fingerprint()}`
  function* closeSessions(sessions: number): Scenario {
    for (let id = 0; id < sessions; id++) {
      yield kid(`Close session: user ${user} from ${a} port ${p} id ${id}`, count('session_closed'))
    }
  }
  try {
    yield connectionFrom(mon, a, p, ctx)
    const method = r.weighted([
      [80, 'publickey'],
      [12, 'password'],
      [5, 'keyboard-interactive/pam'],
      [1.5, 'hostbased'],
      [1.5, 'gssapi-with-mic'],
    ] as const)
    if (method === 'publickey') {
      yield mon(`Accepted key ${key} found at /home/${user}/.ssh/authorized_keys:1`)
      yield mon(`Postponed publickey for ${user} from ${a} port ${p} ssh2 [preauth]`)
      yield mon(`Accepted key ${key} found at /home/${user}/.ssh/authorized_keys:1`)
    }
    const tail = method === 'publickey' || method === 'hostbased' ? `: ${key}` : ''
    const label: AuthMethod =
      method === 'keyboard-interactive/pam' ? 'keyboard-interactive' : method
    yield mon(
      `Accepted ${method} for ${user} from ${a} port ${p} ssh2${tail}`,
      byMethod('auth_accepted', label),
    )
    yield mon(`pam_unix(sshd:session): session opened for user ${user}(uid=${uid}) by (uid=0)`)
    yield logind(`New session ${session} of user ${user}.`)
    yield speaker(
      'systemd',
      1,
    )(`Started session-${session}.scope - Session ${session} of User ${user}.`)
    yield mon(`User child is on pid ${child}`)
    const sessions = r.weighted([
      [75, 1],
      [15, 2],
      [10, 3],
    ] as const)
    for (let id = 0; id < sessions; id++) {
      const kind =
        id === 0
          ? r.weighted([
              [70, 'shell on pts/0'],
              [20, 'command'],
              [10, "subsystem 'sftp'"],
            ] as const)
          : r.pick(['command', "subsystem 'sftp'", 'command on pts/1'])
      yield kid(
        `Starting session: ${kind} for ${user} from ${a} port ${p} id ${id}`,
        count('session_opened'),
      )
      if (kind === 'shell on pts/0' && r.chance(0.3)) {
        yield sudo(
          `  ${user} : TTY=pts/0 ; PWD=/home/${user} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx`,
        )
        yield sudo(
          `pam_unix(sudo:session): session opened for user root(uid=0) by ${user}(uid=${uid})`,
        )
        yield sudo('pam_unix(sudo:session): session closed for user root')
      }
    }
    if (sessions === 3 && r.chance(0.5)) {
      yield kid('error: no more sessions', count('no_more_sessions'))
    }
    if (r.chance(0.04)) {
      yield kid(
        `channel ${r.int(0, 3)}: closing after 300 seconds of inactivity`,
        count('channel_timeout'),
      )
    }
    const end = r.weighted([
      [70, 'disconnect'],
      [10, 'closed'],
      [7, 'alive'],
      [4, 'unused'],
      [5, 'readerror'],
      [4, 'reset'],
    ] as const)
    if (end === 'disconnect') {
      yield* closeSessions(sessions)
      yield kid(`Received disconnect from ${a} port ${p}:11: disconnected by user`)
      yield kid(`Disconnected from user ${user} ${a} port ${p}`, count('disconnected'))
    } else if (end === 'closed') {
      // serverloop's close: the ambiguous form, a `disconnected` since this connection authenticated.
      yield kid(`Connection closed by ${a} port ${p}`, count('disconnected'))
      yield* closeSessions(sessions)
      yield kid(`Transferred: sent ${r.int(2000, 900000)}, received ${r.int(2000, 90000)} bytes`)
      yield kid(`Closing connection to ${a} port ${p}`)
    } else if (end === 'alive') {
      yield kid(
        `Timeout, client not responding from user ${user} ${a} port ${p}`,
        count('client_alive_timeout'),
      )
    } else if (end === 'unused') {
      yield kid(
        `terminating inactive connection from user ${user} ${a} port ${p}`,
        count('unused_connection_timeout'),
      )
    } else if (end === 'readerror') {
      yield kid(
        `Read error from remote host ${a} port ${p}: Connection reset by peer`,
        count('disconnected'),
      )
      yield* closeSessions(sessions)
    } else {
      yield kid(`Connection reset by user ${user} ${a} port ${p}`, count('disconnected'))
    }
    yield mon(`pam_unix(sshd:session): session closed for user ${user}`)
    yield logind(`Session ${session} logged out. Waiting for processes to exit.`)
    yield logind(`Removed session ${session}.`)
  } finally {
    ctx.release(a, p)
  }
}

/** 9.8+ PerSourcePenalties: a penalised source's connections dropped, maybe rate-limited. */
function* penalty(ctx: Context): Scenario {
  const r = ctx.rng
  const a = ctx.attacker()
  const say = speaker('sshd', MODERN.listener)
  const [reason, imposed] = r.weighted([
    [60, ['failed authentication', 'penalty_imposed_authfail']],
    [25, ['connections without attempting authentication', 'penalty_imposed_noauth']],
    [10, ['exceeded LoginGraceTime', 'penalty_imposed_grace_exceeded']],
    [5, ['attempted authentication by invalid user', 'penalty_imposed_invaliduser']],
  ] as const)
  const net = a.includes(':') ? `ipv6: new ${a}/64` : `ipv4: new ${a}/32`
  yield say(
    `srclimit_penalise: ${net} active penalty of ${r.pick([30, 60, 120])} seconds for penalty: ${reason}`,
    count(imposed),
  )
  const n = r.int(1, 6)
  for (let i = 0; i < n; i++) {
    yield say(
      `drop connection #0 from [${a}]:${r.int(1024, 65535)} on [${ctx.server(a)}]:22 penalty: ${reason}`,
      count('penalty_dropped'),
    )
  }
  if (n >= 4 && r.chance(0.5)) {
    const more = r.int(1, 40)
    yield say(
      `PerSourcePenalties logging rate-limited: additional ${more} connections dropped`,
      count('penalty_dropped', more),
    )
  }
}

/**
 * A MaxStartups episode on one listener. ≤ 9.9: `beginning`, drop lines (each drop at VERBOSE,
 * or only the first at INFO), maybe a periodic summary, `exited … N connections dropped`; the
 * summaries add what no line reported. 10.0+: drop lines, then the rate limiter's `additional N`.
 */
function* maxStartups(ctx: Context, style: Style): Scenario {
  const r = ctx.rng
  const l = style.listener
  const say = speaker('sshd', l)
  ctx.busyListeners.add(l)
  const drop = (): Line => {
    const a = ctx.attacker()
    const spelling = style.modern
      ? 'Maxstartups'
      : r.chance(0.8)
        ? 'past MaxStartups'
        : 'past Maxstartups'
    return say(
      `drop connection #${r.int(10, 100)} from [${a}]:${r.int(1024, 65535)} on [${ctx.server(a)}]:22 ${spelling}`,
      count('startups_dropped'),
    )
  }
  try {
    if (style.modern) {
      const logged = r.int(1, 4)
      for (let i = 0; i < logged; i++) yield drop()
      if (r.chance(0.7)) {
        const suppressed = r.int(1, 200)
        yield drop()
        yield say(
          `Maxstartups logging rate-limited: additional ${suppressed} connections dropped`,
          count('startups_dropped', suppressed),
        )
      }
      return
    }
    const verbose = r.chance(0.5)
    const total = r.int(2, 120)
    let happened = 0
    let reported = 0
    yield say('error: beginning MaxStartups throttling', count('startups_throttling_started'))
    for (let i = 0; i < total; i++) {
      happened++
      if (i > 0 && i % 40 === 0) {
        // The periodic summary (more than 5 minutes since the last drop): N includes this drop,
        // whose own line follows.
        yield say(
          `error: in MaxStartups throttling for 00:05:${String(r.int(1, 59)).padStart(2, '0')}, ${happened} connections dropped`,
          count('startups_dropped', happened - 1 - reported),
        )
        reported = happened
        yield drop()
        continue
      }
      if (i === 0 || verbose) {
        reported++
        yield drop()
      }
    }
    const time = `00:${String(r.int(0, 59)).padStart(2, '0')}:${String(r.int(0, 59)).padStart(2, '0')}`
    yield say(
      `exited MaxStartups throttling after ${time}, ${total} connections dropped`,
      count('startups_dropped', total - reported),
    )
  } finally {
    ctx.busyListeners.delete(l)
  }
}

/** CRON's lines for one job. */
function* cron(ctx: Context): Scenario {
  const say = speaker('CRON', ctx.pid())
  const command = ctx.rng.pick(CRON_COMMANDS)
  const user = command.slice(1, command.indexOf(')'))
  const uid = user === 'root' ? 0 : 33
  yield say(`pam_unix(cron:session): session opened for user ${user}(uid=${uid}) by (uid=0)`)
  yield say(command)
  yield say(`pam_unix(cron:session): session closed for user ${user}`)
}

/** sshd's own lines that are no event. */
function* sshdMisc(ctx: Context): Scenario {
  const l = ctx.rng.chance(0.5) ? OLD.listener : MODERN.listener
  yield speaker(
    'sshd',
    l,
  )(
    ctx.rng.pick([
      'Received SIGHUP; restarting.',
      'Server listening on 0.0.0.0 port 22.',
      'Server listening on :: port 22.',
    ]),
  )
}

/** What starts next; weights by scenario, tuned so bots' lines dominate as on a public host. */
function nextScenario(ctx: Context): Scenario {
  const r = ctx.rng
  const style = r.chance(0.6) ? OLD : MODERN
  const kind = r.weighted([
    [34, 'invalid'],
    [16, 'known'],
    [16, 'scanner'],
    [6, 'login'],
    [2, 'grace'],
    [1.5, 'penalty'],
    [0.15, 'maxstartups'],
    [8, 'cron'],
    [0.05, 'misc'],
  ] as const)
  switch (kind) {
    case 'invalid':
      return invalidUser(ctx, style)
    case 'known':
      return knownUser(ctx, style)
    case 'scanner':
      return scanner(ctx, style)
    case 'login':
      return login(ctx, style)
    case 'grace':
      return graceTimeout(ctx, style)
    case 'penalty':
      return penalty(ctx)
    case 'maxstartups':
      // One episode per listener at a time.
      return ctx.busyListeners.has(style.listener) ? scanner(ctx, style) : maxStartups(ctx, style)
    case 'cron':
      return cron(ctx)
    case 'misc':
      return sshdMisc(ctx)
  }
}

/** Connections (and jobs) whose lines interleave. */
const CONCURRENT = 6
/** Lines buffered before each write. */
const FLUSH_LINES = 8192

/**
 * Writes `lines` lines to `path` (replacing it) and returns how many lines and bytes were written
 * and the counts the exporter should reach. The same seed gives the same file.
 */
export function writeAuthLog(path: string, lines: number, seed = 1): AuthLogSummary {
  if (!Number.isInteger(lines) || lines < 0)
    throw new RangeError(`lines must be >= 0, not ${lines}`)
  const rng = new Rng(seed)
  const ctx = new Context(rng)
  const expected = zeroCounts()
  const active: Scenario[] = []
  for (let i = 0; i < CONCURRENT; i++) active.push(nextScenario(ctx))

  // 2026-11-21 06:25:00 UTC; about 0.25 s between lines on average.
  let time = Date.UTC(2026, 10, 21, 6, 25, 0)
  let stampSecond = -1
  let stamp = ''
  const fd = openSync(path, 'w')
  let bytes = 0
  let written = 0
  let chunk: string[] = []
  const flush = (): void => {
    const buffer = Buffer.from(chunk.join(''), 'utf8')
    chunk = []
    for (let off = 0; off < buffer.length;) off += writeSync(fd, buffer, off)
    bytes += buffer.length
  }
  try {
    while (written < lines) {
      const slot = rng.int(0, CONCURRENT - 1)
      const next = (active[slot] as Scenario).next()
      if (next.done === true) {
        active[slot] = nextScenario(ctx)
        continue
      }
      const line = next.value
      time += Math.floor(-Math.log(1 - rng.next()) * 250)
      const second = Math.floor(time / 1000)
      if (second !== stampSecond) {
        stampSecond = second
        const d = new Date(second * 1000)
        const day = String(d.getUTCDate()).padStart(2, ' ')
        const hh = String(d.getUTCHours()).padStart(2, '0')
        const mm = String(d.getUTCMinutes()).padStart(2, '0')
        const ss = String(d.getUTCSeconds()).padStart(2, '0')
        stamp = `${MONTHS[d.getUTCMonth()]} ${day} ${hh}:${mm}:${ss} ${HOST} `
      }
      const tag = line.pid === undefined ? `${line.tag}:` : `${line.tag}[${line.pid}]:`
      chunk.push(`${stamp}${tag} ${line.message}\n`)
      written++
      if (line.effect !== undefined) {
        const [key, n] = line.effect
        expected[key] = (expected[key] ?? 0) + n
      }
      if (chunk.length >= FLUSH_LINES) flush()
    }
    flush()
  } finally {
    closeSync(fd)
  }
  return { lines: written, bytes, expected }
}

if (import.meta.main) {
  const [path, linesArg, seedArg] = process.argv.slice(2)
  if (path === undefined) {
    process.stderr.write('usage: node bench/auth-log.ts <path> [lines=1000000] [seed=1]\n')
    process.exit(2)
  }
  const summary = writeAuthLog(path, Number(linesArg ?? 1_000_000), Number(seedArg ?? 1))
  process.stdout.write(`${JSON.stringify({ path, ...summary }, null, 2)}\n`)
}
