/**
 * The processes collector: listeners, connections and sessions from sshd's
 * process tree.
 */
import { Gauge, Registry } from 'prom-client'
import { capToTop } from '../model/cap.ts'
import { connectionKey } from '../model/events.ts'
import type { EventsSource } from '../model/events-source.ts'
import type { SshdSnapshot } from '../model/snapshot.ts'
import type { TcpSocket } from '../sources/net-tcp.ts'
import { logsSessions, type SshdLogLevel } from '../sources/sshd-config.ts'
import {
  type Collector,
  type CollectorDefinition,
  isNotApplicable,
  type Scrape,
} from './collector.ts'

/**
 * The snapshot with each authenticated connection's sessions taken from sshd's log where it
 * knows them exactly: LogLevel VERBOSE (every `Starting session` and `Close session` logged), the
 * connection's `Accepted` line read since the log was followed, and the connection matched to
 * its client address and port through its socket (root only). The rest keep their process count.
 */
export function withLogSessions(
  snapshot: SshdSnapshot,
  events: EventsSource,
  byConnection: ReadonlyMap<number, TcpSocket | undefined>,
): { snapshot: SshdSnapshot; fromLog: number } {
  let fromLog = 0
  const live = new Set<string>()
  const connections = snapshot.connections.map((c) => {
    const socket = byConnection.get(c.pid)
    if (socket === undefined) return c
    live.add(connectionKey(socket.remoteAddress, socket.remotePort))
    if (c.state !== 'authenticated') return c
    const n = events.accumulator.sessionsOf(socket.remoteAddress, socket.remotePort)
    if (n === undefined) return c
    fromLog++
    return { ...c, sessions: n }
  })
  // Connections gone from the host go from the table too.
  events.accumulator.retain(live)
  return { snapshot: { ...snapshot, connections }, fromLog }
}

/** Each connection's socket, when the log can count sessions (else null); the log read up to now. */
async function logSessions(
  scrape: Scrape,
  events: EventsSource | null,
  logLevel: SshdLogLevel | undefined,
): Promise<ReadonlyMap<number, TcpSocket | undefined> | null> {
  if (events === null || !events.up || logLevel === undefined || !logsSessions(logLevel)) {
    return null
  }
  const [byConnection] = await Promise.all([scrape.connectionSockets(), events.refresh()])
  return byConnection
}

/**
 * Sessions per user, the `max` users with the most sessions by name, the rest
 * summed under `other`. Users come from post-auth titles: authenticated local
 * accounts, never a name an unauthenticated client chose.
 */
export function sessionsByUser(snapshot: SshdSnapshot, max: number): Map<string, number> {
  const all = new Map<string, number>()
  for (const c of snapshot.connections) {
    if (c.state !== 'authenticated' || c.user === null) continue
    all.set(c.user, (all.get(c.user) ?? 0) + c.sessions)
  }
  return capToTop(all, max)
}

/** Authenticated connections whose sessions have reached MaxSessions. */
export function connectionsAtMaxSessions(snapshot: SshdSnapshot, maxSessions: number): number {
  let n = 0
  for (const c of snapshot.connections) {
    if (c.state === 'authenticated' && c.sessions >= maxSessions) n++
  }
  return n
}

export interface ProcessValues {
  up: number
  startups: number
  maxStartups: { begin: number; full: number } | null
  preauth: number
  authenticated: number
  multiplexed: number
  sessionsMax: number
}

/** The unlabelled values of one snapshot. */
export function processValues(snapshot: SshdSnapshot): ProcessValues {
  let preauth = 0
  let authenticated = 0
  let multiplexed = 0
  let sessionsMax = 0
  for (const c of snapshot.connections) {
    if (c.state === 'preauth') {
      preauth++
      continue
    }
    authenticated++
    if (c.sessions >= 2) multiplexed++
    if (c.sessions > sessionsMax) sessionsMax = c.sessions
  }
  // Every listener's own count and limits, summed: two sshd instances on one
  // host (say, port 22 and a bastion port) each admit their own startups.
  let startups = 0
  let begin = 0
  let full = 0
  for (const l of snapshot.listeners) {
    startups += l.startups
    begin += l.maxStartupsBegin
    full += l.maxStartupsFull
  }
  const titled = snapshot.listeners.length > 0
  return {
    up: titled ? 1 : 0,
    startups: titled ? startups : preauth,
    maxStartups: titled ? { begin, full } : null,
    preauth,
    authenticated,
    multiplexed,
    sessionsMax,
  }
}

export const processesCollector: CollectorDefinition = {
  name: 'processes',
  defaultEnabled: true,
  help: 'Listeners, connections and sessions from the sshd process tree.',
  create(ctx): Collector {
    const registry = new Registry()
    const registers = [registry]
    const up = new Gauge({
      name: 'sshd_up',
      help: 'Whether at least one sshd listener process is found (1) or not (0).',
      registers,
    })
    const startups = new Gauge({
      name: 'sshd_startups',
      help: 'Unauthenticated connections as sshd counts them against MaxStartups (the listener title; else pre-auth connections).',
      registers,
    })
    const maxStartups = new Gauge({
      name: 'sshd_max_startups',
      help: 'MaxStartups begin and full as the running listener reports them in its title.',
      labelNames: ['bound'],
      registers,
    })
    const connections = new Gauge({
      name: 'sshd_connections',
      help: 'Connections to sshd by state: preauth (not yet authenticated) or authenticated.',
      labelNames: ['state'],
      registers,
    })
    const sessions = new Gauge({
      name: 'sshd_sessions',
      help: 'Open session channels (shell, command, subsystem) by authenticated user; users past --collector.processes.max-users are summed under "other".',
      labelNames: ['user'],
      registers,
    })
    const multiplexed = new Gauge({
      name: 'sshd_multiplexed_connections',
      help: 'Authenticated connections carrying two or more sessions.',
      registers,
    })
    const sessionsMax = new Gauge({
      name: 'sshd_connection_sessions_max',
      help: 'Most sessions on any one connection.',
      registers,
    })
    const atMax = new Gauge({
      name: 'sshd_connections_at_max_sessions',
      help: 'Authenticated connections whose sessions have reached the effective MaxSessions (from the config collector); another session on them is refused.',
      registers,
    })
    const sessionSource = new Gauge({
      name: 'sshd_sessions_source_connections',
      help: 'Authenticated connections by where their session count came from: log (LogLevel VERBOSE Starting/Close session lines, exact) or processes (the session processes under the connection).',
      labelNames: ['source'],
      registers,
    })
    const maxUsers = ctx.config.processes.maxUsers
    const reader = ctx.sshdConfig
    const events = ctx.events === null || isNotApplicable(ctx.events) ? null : ctx.events

    return {
      registry,
      async collect(scrape) {
        const scanned = (await scrape.snapshot()).snapshot
        // Unknown (config collector off, or failing: it says why) when undefined.
        const sshdConfig =
          reader === null ? undefined : (await reader.current().catch(() => null))?.values
        const byConnection = await logSessions(scrape, events, sshdConfig?.logLevel)
        const { snapshot, fromLog } =
          byConnection === null || events === null
            ? { snapshot: scanned, fromLog: 0 }
            : withLogSessions(scanned, events, byConnection)
        const v = processValues(snapshot)
        const byUser = sessionsByUser(snapshot, maxUsers)
        // MaxSessions unknown: no series rather than a guess.
        const atMaxValue =
          sshdConfig === undefined
            ? null
            : connectionsAtMaxSessions(snapshot, sshdConfig.maxSessions)
        return () => {
          up.set(v.up)
          startups.set(v.startups)
          maxStartups.reset()
          if (v.maxStartups !== null) {
            maxStartups.set({ bound: 'begin' }, v.maxStartups.begin)
            maxStartups.set({ bound: 'full' }, v.maxStartups.full)
          }
          connections.set({ state: 'preauth' }, v.preauth)
          connections.set({ state: 'authenticated' }, v.authenticated)
          sessions.reset()
          for (const [user, n] of byUser) sessions.set({ user }, n)
          multiplexed.set(v.multiplexed)
          sessionsMax.set(v.sessionsMax)
          if (atMaxValue === null) atMax.remove()
          else atMax.set(atMaxValue)
          sessionSource.set({ source: 'log' }, fromLog)
          sessionSource.set({ source: 'processes' }, v.authenticated - fromLog)
        }
      },
    }
  },
}
