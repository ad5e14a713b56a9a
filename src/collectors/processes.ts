/**
 * The processes collector: listeners, connections and sessions from sshd's
 * process tree.
 */
import { capToTop, OTHER } from '../model/cap.ts'
import { ConnectionDurations } from '../model/durations.ts'
import { connectionKey } from '../model/events.ts'
import type { EventsSource } from '../state/events-source.ts'
import type { SshdInstance } from '../model/instances.ts'
import type { SshdSnapshot } from '../model/snapshot.ts'
import type { TcpSocket } from '../sources/net-tcp/table.ts'
import { logsSessions, type SshdLogLevel } from '../sources/sshd-config/values.ts'
import { flag } from '../flags/spec.ts'
import { type Collector, defineCollector, isNotApplicable, type Scrape } from './collector.ts'

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
 * accounts, never a name an unauthenticated client chose. `other` is always
 * there, 0 when nobody is past the cap, so that an idle host's sum is 0, not
 * absent.
 */
export function sessionsByUser(snapshot: SshdSnapshot, max: number): Map<string, number> {
  const all = new Map<string, number>()
  for (const c of snapshot.connections) {
    if (c.state !== 'authenticated' || c.user === null) continue
    all.set(c.user, (all.get(c.user) ?? 0) + c.sessions)
  }
  const byUser = capToTop(all, max)
  if (!byUser.has(OTHER)) byUser.set(OTHER, 0)
  return byUser
}

/**
 * Authenticated connections whose sessions have reached MaxSessions: each against its own
 * instance's (`maxSessionsOf`, by connection pid; undefined when unknown: not counted).
 */
export function connectionsAtMaxSessions(
  snapshot: SshdSnapshot,
  maxSessionsOf: (pid: number) => number | undefined,
): number {
  let n = 0
  for (const c of snapshot.connections) {
    const max = maxSessionsOf(c.pid)
    if (c.state === 'authenticated' && max !== undefined && c.sessions >= max) n++
  }
  return n
}

export interface ProcessValues {
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
  return { preauth, authenticated, multiplexed, sessionsMax }
}

/**
 * An instance's startups and MaxStartups as sshd enforces them: its listener's title; for a
 * listener whose title is still its argv, its pre-auth connections and its configuration's
 * MaxStartups; 0 and no limits while only a socket is held. Null for per-connection sshd,
 * where no listener counts startups and MaxStartups does not apply.
 */
export function instanceStartups(
  instance: SshdInstance,
): { startups: number; limits: { begin: number; full: number } | null } | null {
  const { listener } = instance
  if (listener === null) {
    return instance.mode === 'socket_activated' ? { startups: 0, limits: null } : null
  }
  if (
    listener.startups !== null &&
    listener.maxStartupsBegin !== null &&
    listener.maxStartupsFull !== null
  ) {
    return {
      startups: listener.startups,
      limits: { begin: listener.maxStartupsBegin, full: listener.maxStartupsFull },
    }
  }
  const preauth = instance.connections.filter((c) => c.state === 'preauth').length
  const config = instance.config?.values.maxStartups
  return {
    startups: preauth,
    limits: config === undefined ? null : { begin: config.begin, full: config.full },
  }
}

/** From seconds to a week. */
export const SESSION_DURATION_BUCKETS: readonly number[] = Object.freeze([
  1, 10, 60, 300, 900, 3600, 14_400, 28_800, 86_400, 259_200, 604_800,
])

export const processesCollector = defineCollector({
  name: 'processes',
  defaultEnabled: true,
  help: 'Listeners, connections and sessions from the sshd process tree.',
  flags: {
    maxUsers: flag.int(
      'collector.processes.max-users',
      '100',
      'Most users given their own sshd_sessions series; the rest are summed under user="other".',
    ),
    /** Read by the scraper, which keeps the walk between scrapes. */
    rescanIntervalSeconds: flag.duration(
      'collector.processes.rescan-interval',
      '5m',
      "sshd's processes are found by walking down from its listeners (/proc/<pid>/task/<pid>/children); every process is read at start, when a listener goes, and this often, to find new listeners. 0: read every process on every scrape.",
    ),
  },
  async create(ctx): Promise<Collector> {
    // Not at the top: see CollectorDefinition.create.
    const { Gauge, Histogram, Registry } = await import('prom-client')
    const registry = new Registry()
    const registers = [registry]
    const up = new Gauge({
      name: 'sshd_up',
      help: 'Whether sshd accepts connections here (1): a listener process, or a socket held for sshd (systemd socket activation, inetd); 0 when neither.',
      registers,
    })
    const instanceInfo = new Gauge({
      name: 'sshd_instance_info',
      help: 'Always 1, per sshd instance: port is its lowest listening port, mode how it accepts connections (process, socket_activated, per_connection).',
      labelNames: ['port', 'mode'],
      registers,
    })
    const startups = new Gauge({
      name: 'sshd_startups',
      help: 'Unauthenticated connections as the listener counts them against MaxStartups (its title), per instance; absent for per-connection sshd, which has no MaxStartups.',
      labelNames: ['port'],
      registers,
    })
    const maxStartups = new Gauge({
      name: 'sshd_max_startups',
      help: 'MaxStartups begin and full as the running listener reports them in its title, per instance.',
      labelNames: ['port', 'bound'],
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
      help: 'Open session channels (shell, command, subsystem) by authenticated user; users past --collector.processes.max-users are summed under "other", which is always exported (0 when none) so that the sum is 0 on an idle host.',
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
      help: 'Authenticated connections whose sessions have reached the effective MaxSessions of their own sshd instance (from the config collector); another session on them is refused.',
      registers,
    })
    const sessionSource = new Gauge({
      name: 'sshd_sessions_source_connections',
      help: 'Authenticated connections by where their session count came from: log (LogLevel VERBOSE Starting/Close session lines, exact) or processes (the session processes under the connection).',
      labelNames: ['source'],
      registers,
    })
    const sessionDuration = new Histogram({
      name: 'sshd_session_duration_seconds',
      help: 'How long authenticated connections lasted, from their sshd process start to the first scrape that finds them gone, observed once when they end; to the scrape interval: a connection no scrape saw authenticated is not counted.',
      buckets: [...SESSION_DURATION_BUCKETS],
      registers,
    })
    const durations = new ConnectionDurations()
    const maxUsers = ctx.flags.maxUsers
    const configs = ctx.sshdConfig
    const events = ctx.events === null || isNotApplicable(ctx.events) ? null : ctx.events
    /** Null when /proc/uptime cannot be read: the ends wait for the next scrape that can. */
    function uptimeOrNull(scrape: Scrape): number | null {
      try {
        return scrape.uptime()
      } catch {
        return null
      }
    }

    return {
      registry,
      async collect(scrape) {
        const [scan, found] = await Promise.all([scrape.snapshot(), scrape.instances()])
        const scanned = scan.snapshot
        // LogLevel from the default configuration: the log is one for every instance.
        const defaultConfig =
          configs === null ? null : await configs.default.current().catch(() => null)
        const byConnection = await logSessions(scrape, events, defaultConfig?.values.logLevel)
        const { snapshot, fromLog } =
          byConnection === null || events === null
            ? { snapshot: scanned, fromLog: 0 }
            : withLogSessions(scanned, events, byConnection)
        const v = processValues(snapshot)
        const byUser = sessionsByUser(snapshot, maxUsers)
        const maxSessions = new Map<number, number>()
        for (const instance of found.instances) {
          const max = instance.config?.values.maxSessions
          if (max !== undefined) for (const c of instance.connections) maxSessions.set(c.pid, max)
        }
        // MaxSessions unknown everywhere: no series rather than a guess.
        const atMaxValue =
          defaultConfig === null && maxSessions.size === 0
            ? null
            : connectionsAtMaxSessions(snapshot, (pid) => maxSessions.get(pid))
        const perInstance = found.instances.map((i) => ({ instance: i, s: instanceStartups(i) }))
        const uptime = uptimeOrNull(scrape)
        return () => {
          // Here, not in collect: a scrape past its time limit must not lose the ends it saw.
          if (uptime !== null) {
            for (const seconds of durations.update(scanned.connections, uptime)) {
              sessionDuration.observe(seconds)
            }
          }
          up.set(found.up ? 1 : 0)
          instanceInfo.reset()
          startups.reset()
          maxStartups.reset()
          for (const { instance, s } of perInstance) {
            const { port } = instance
            instanceInfo.set({ port, mode: instance.mode }, 1)
            if (s === null) continue
            startups.set({ port }, s.startups)
            if (s.limits === null) continue
            maxStartups.set({ port, bound: 'begin' }, s.limits.begin)
            maxStartups.set({ port, bound: 'full' }, s.limits.full)
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
})
