/**
 * The events collector's state: counters of sshd's log events, MaxStartups summaries added up
 * without double counting, each authenticated connection's open sessions (with `LogLevel
 * VERBOSE`), and logins by user (the first --collector.events.max-users users, root and `other`;
 * counters never shrink). Fed one record or line at a time by a log source; read by the
 * collectors at scrape time. Memory is bounded whatever the log holds. The rules, with their
 * reasons: docs/how-it-counts.md, "Counting sshd's log".
 */
import type { LogRecord } from '../sources/log-record.ts'
import { isSshdProgname } from '../sources/proctitle.ts'
import { OTHER } from './cap.ts'
import {
  AUTH_METHODS,
  type AuthMethod,
  type DropKind,
  EVENTS,
  type SshdEvent,
  type SshdEventName,
} from '../sources/sshd-log/events.ts'
import { parseSshdMessage } from '../sources/sshd-log/messages.ts'
import { parseSyslogLine } from '../sources/sshd-log/syslog.ts'

/** One counter: an event, with its method for auth_accepted and auth_failed. */
export interface EventCount {
  readonly event: SshdEventName
  readonly method: AuthMethod | undefined
  readonly value: number
}

export interface EventsSnapshot {
  /** Every event, zeros included; auth_accepted and auth_failed once per method. */
  readonly counts: readonly EventCount[]
  readonly linesRead: number
  readonly linesUnparsed: number
  /**
   * Accepted logins by user: root (always there), the others in first-seen order, then `other`
   * (always there): the module comment's rule, so no value ever decreases and no user ever moves.
   */
  readonly logins: readonly LoginCount[]
}

export interface LoginCount {
  readonly user: string
  readonly value: number
}

export interface EventAccumulatorOptions {
  /** Most connections the table keeps (default 10,000); the least recently updated go first. */
  readonly maxConnections?: number
  /** Count untagged lines (an `sshd -E` file) as sshd's; default false (a syslog file). */
  readonly untaggedIsSshd?: boolean
  /** Most users, root aside, whose logins get their own series (default 100); module comment. */
  readonly maxUsers?: number
}

/**
 * The table's key for a client address and port, as sshd logs them (`1.2.3.4`, `2001:db8::7`).
 * sshd writes an IPv4-mapped peer (`::ffff:1.2.3.4` in /proc/net/tcp6) as plain IPv4
 * (canohost.c ipv64_normalise_mapped): a caller building keys from sockets must do the same.
 */
export function connectionKey(address: string, port: number): string {
  return `${address} ${port}`
}

interface Connection {
  authenticated: boolean
  /** Open sessions' numbers (session.c `s->self`): at most MaxSessions. */
  sessions: number[]
}

/** Listeners whose MaxStartups episode is followed at once; past this the oldest is forgotten. */
const MAX_LISTENERS = 64
const UNTAGGED = -1
/** Always its own logins series (module comment). */
const ROOT = 'root'

const EVENT_INDEX = new Map<SshdEventName, number>(EVENTS.map((e, i) => [e, i]))
const METHOD_INDEX = new Map<AuthMethod, number>(AUTH_METHODS.map((m, i) => [m, i]))

export class EventAccumulator {
  readonly #counts = new Float64Array(EVENTS.length)
  readonly #accepted = new Float64Array(AUTH_METHODS.length)
  readonly #failed = new Float64Array(AUTH_METHODS.length)
  #linesRead = 0
  #linesUnparsed = 0
  readonly #dropsSinceBeginning = new Map<number, number>()
  readonly #connections = new Map<string, Connection>()
  readonly #maxConnections: number
  readonly #untaggedIsSshd: boolean
  /** Users with their own series: root, then the others in first-seen order. */
  readonly #logins = new Map<string, number>([[ROOT, 0]])
  #otherLogins = 0
  readonly #maxUsers: number

  constructor(options: EventAccumulatorOptions = {}) {
    this.#maxConnections = Math.max(1, options.maxConnections ?? 10_000)
    this.#untaggedIsSshd = options.untaggedIsSshd ?? false
    this.#maxUsers = Math.max(0, options.maxUsers ?? 100)
  }

  /** One line of a log file (parseSyslogLine); returns the event counted, if any. */
  addLine(line: string): SshdEvent | undefined {
    const record = parseSyslogLine(line)
    if (record === undefined) {
      this.#linesRead++
      this.#linesUnparsed++
      return undefined
    }
    return this.addRecord(record)
  }

  /** One record (journal or file); returns the event counted, if any. */
  addRecord(record: LogRecord): SshdEvent | undefined {
    this.#linesRead++
    const sshd =
      record.identifier === undefined ? this.#untaggedIsSshd : isSshdProgname(record.identifier)
    if (!sshd) return undefined
    const event = parseSshdMessage(record.message)
    if (event === undefined) {
      this.#linesUnparsed++
      return undefined
    }
    return this.addEvent(event, record.pid, record.count)
  }

  /**
   * One parsed event, from the process `pid` (the listener, for MaxStartups lines), logged
   * `times` times (rsyslog's `message repeated N times`: the same message each time). Returns the
   * event as counted: the ambiguous close resolved to disconnected or preauth_closed.
   */
  addEvent(event: SshdEvent, pid?: number, times = 1): SshdEvent {
    switch (event.event) {
      case 'auth_accepted': {
        this.#accepted[METHOD_INDEX.get(event.method)!]! += times
        this.#addLogin(event.user, times)
        // A connection authenticates once: what an earlier one on this address and port left
        // (its end unlogged) is gone.
        const conn = this.#touch(event.address, event.port)
        conn.authenticated = true
        conn.sessions = []
        break
      }
      case 'auth_failed':
        this.#failed[METHOD_INDEX.get(event.method)!]! += times
        break
      case 'session_opened': {
        const conn = this.#touch(event.address, event.port)
        if (!conn.sessions.includes(event.id)) conn.sessions.push(event.id)
        this.#count('session_opened', times)
        break
      }
      case 'session_closed': {
        const key = connectionKey(event.address, event.port)
        const conn = this.#connections.get(key)
        if (conn !== undefined) {
          const at = conn.sessions.indexOf(event.id)
          if (at !== -1) conn.sessions.splice(at, 1)
        }
        this.#count('session_closed', times)
        break
      }
      case 'startups_throttling_started':
        this.#setDrops(pid, 0)
        this.#count(event.event, times)
        break
      case 'startups_dropped':
        this.#count(event.event, this.#repeatedStartupDrops(event.count, event.kind, pid, times))
        break
      case 'penalty_dropped':
        this.#count(event.event, event.count * times)
        break
      case 'preauth_closed':
      case 'disconnected':
      case 'login_grace_timeout':
      case 'client_alive_timeout':
      case 'unused_connection_timeout':
      case 'max_auth_tries_exceeded':
      case 'negotiation_failed':
      case 'banner_invalid':
      case 'connection_refused': {
        let counted: SshdEvent = event
        if (event.address !== undefined && event.port !== undefined) {
          const key = connectionKey(event.address, event.port)
          if (event.phase === 'unknown' && this.#connections.get(key)?.authenticated === true) {
            counted = { ...event, event: 'disconnected', phase: 'postauth' }
          }
          this.#connections.delete(key)
        }
        this.#count(counted.event, times)
        return counted
      }
      default:
        this.#count(event.event, times)
    }
    return event
  }

  /**
   * Open sessions of a connection whose authentication was read from the log (so its sessions
   * were too, with VERBOSE logs); undefined for one that authenticated before the log was followed.
   */
  sessionsOf(address: string, port: number): number | undefined {
    const conn = this.#connections.get(connectionKey(address, port))
    return conn?.authenticated === true ? conn.sessions.length : undefined
  }

  /** Drops every connection whose key (connectionKey) is not in `live`. */
  retain(live: ReadonlySet<string>): void {
    for (const key of this.#connections.keys()) {
      if (!live.has(key)) this.#connections.delete(key)
    }
  }

  /** Connections in the table. */
  get trackedConnections(): number {
    return this.#connections.size
  }

  snapshot(): EventsSnapshot {
    const counts: EventCount[] = []
    for (let i = 0; i < EVENTS.length; i++) {
      const event = EVENTS[i]!
      const byMethod =
        event === 'auth_accepted' ? this.#accepted : event === 'auth_failed' ? this.#failed : null
      if (byMethod === null) {
        counts.push({ event, method: undefined, value: this.#counts[i]! })
        continue
      }
      for (let j = 0; j < AUTH_METHODS.length; j++) {
        counts.push({ event, method: AUTH_METHODS[j]!, value: byMethod[j]! })
      }
    }
    const logins: LoginCount[] = []
    for (const [user, value] of this.#logins) logins.push({ user, value })
    logins.push({ user: OTHER, value: this.#otherLogins })
    return { counts, linesRead: this.#linesRead, linesUnparsed: this.#linesUnparsed, logins }
  }

  /** A user's logins: its own series if it has one or may get one (module comment), else other. */
  #addLogin(user: string, n: number): void {
    const known = this.#logins.get(user)
    if (known !== undefined) {
      this.#logins.set(user, known + n)
      return
    }
    if (user === OTHER) {
      this.#otherLogins += n
      return
    }
    // Root is in the table from the start, outside the cap.
    if (this.#logins.size - 1 < this.#maxUsers) this.#logins.set(user, n)
    else this.#otherLogins += n
  }

  #count(event: SshdEventName, n: number): void {
    this.#counts[EVENT_INDEX.get(event)!]! += n
  }

  /** The connection's entry, created or moved to the most recent end of the table. */
  #touch(address: string, port: number): Connection {
    const key = connectionKey(address, port)
    let conn = this.#connections.get(key)
    if (conn === undefined) {
      conn = { authenticated: false, sessions: [] }
    } else {
      this.#connections.delete(key)
    }
    this.#connections.set(key, conn)
    if (this.#connections.size > this.#maxConnections) {
      // Map iterates in insertion order: the first key is the least recently updated.
      const oldest = this.#connections.keys().next()
      if (oldest.done !== true) this.#connections.delete(oldest.value)
    }
    return conn
  }

  #setDrops(pid: number | undefined, n: number): void {
    const key = pid ?? UNTAGGED
    if (!this.#dropsSinceBeginning.has(key) && this.#dropsSinceBeginning.size >= MAX_LISTENERS) {
      const oldest = this.#dropsSinceBeginning.keys().next()
      if (oldest.done !== true) this.#dropsSinceBeginning.delete(oldest.value)
    }
    this.#dropsSinceBeginning.set(key, n)
  }

  /**
   * #startupDrops for the same summary logged `times` times in a row: the repeats of a `periodic`
   * one add nothing more, each repeat of an `exited` one (an episode of its own) adds N.
   */
  #repeatedStartupDrops(
    count: number,
    kind: DropKind,
    pid: number | undefined,
    times: number,
  ): number {
    if (times === 1) return this.#startupDrops(count, kind, pid)
    switch (kind) {
      case 'line':
      case 'additional':
        return this.#startupDrops(count * times, kind, pid)
      case 'periodic':
        return this.#startupDrops(count, kind, pid)
      case 'exited':
        return this.#startupDrops(count, kind, pid) + count * (times - 1)
    }
  }

  /** What a startups_dropped event adds (module comment), and the episode's state after it. */
  #startupDrops(count: number, kind: DropKind, pid: number | undefined): number {
    const counted = this.#dropsSinceBeginning.get(pid ?? UNTAGGED) ?? 0
    switch (kind) {
      case 'line':
        this.#setDrops(pid, counted + count)
        return count
      case 'periodic': {
        const add = Math.max(0, count - 1 - counted)
        this.#setDrops(pid, counted + add)
        return add
      }
      case 'exited':
        this.#dropsSinceBeginning.delete(pid ?? UNTAGGED)
        return Math.max(0, count - counted)
      case 'additional':
        return count
    }
  }
}
