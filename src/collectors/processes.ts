/**
 * The processes collector: listeners, connections and sessions from sshd's
 * process tree.
 */
import { Gauge, Registry } from 'prom-client'
import { capToTop } from '../model/cap.ts'
import type { SshdSnapshot } from '../model/snapshot.ts'
import type { Collector, CollectorDefinition } from './collector.ts'

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
    const maxUsers = ctx.config.processes.maxUsers
    const reader = ctx.sshdConfig

    return {
      registry,
      async collect(scrape) {
        const { snapshot } = await scrape.snapshot()
        const v = processValues(snapshot)
        const byUser = sessionsByUser(snapshot, maxUsers)
        // MaxSessions unknown (config collector off, or failing: it says why): no series
        // rather than a guess.
        const limit =
          reader === null
            ? null
            : await reader.current().then(
                (read) => read.values.maxSessions,
                () => null,
              )
        const atMaxValue = limit === null ? null : connectionsAtMaxSessions(snapshot, limit)
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
        }
      },
    }
  },
}
