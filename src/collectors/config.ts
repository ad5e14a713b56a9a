/**
 * The config collector: the limits sshd really enforces (`sshd -T`, else the
 * sshd_config files), and whether the running listener still uses older ones.
 */
import { Gauge, Registry } from 'prom-client'
import type { Collector, CollectorDefinition } from './collector.ts'

/** An unlabelled gauge with no sample at all for null (reset() would leave a 0). */
function setOrRemove(gauge: Gauge, value: number | null): void {
  if (value === null) gauge.remove()
  else gauge.set(value)
}

export const configCollector: CollectorDefinition = {
  name: 'config',
  defaultEnabled: true,
  help: 'Effective sshd limits (MaxSessions, MaxStartups, LoginGraceTime, ClientAlive*) from sshd -T or sshd_config.',
  create(ctx): Collector {
    const reader = ctx.sshdConfig
    if (reader === null) throw new Error('config collector created without a config reader')
    const registry = new Registry()
    const registers = [registry]
    const gauge = (name: string, help: string) =>
      new Gauge({ name: `sshd_config_${name}`, help, registers })
    const maxSessions = gauge(
      'max_sessions',
      'Effective MaxSessions: session channels one connection may open.',
    )
    const maxStartups = new Gauge({
      name: 'sshd_config_max_startups',
      help: 'Effective MaxStartups begin (random early drop starts) and full (every new connection refused).',
      labelNames: ['bound'],
      registers,
    })
    const rate = gauge(
      'max_startups_rate',
      'Effective MaxStartups rate as a ratio (0.3 for 30): the drop probability at begin.',
    )
    const grace = gauge('login_grace_time_seconds', 'Effective LoginGraceTime; 0 means unlimited.')
    const aliveInterval = gauge(
      'client_alive_interval_seconds',
      'Effective ClientAliveInterval; 0 means disabled.',
    )
    const aliveCount = gauge('client_alive_count_max', 'Effective ClientAliveCountMax.')
    const perSource = gauge(
      'per_source_max_startups',
      'Effective PerSourceMaxStartups; absent when none.',
    )
    const unused = gauge(
      'unused_connection_timeout_seconds',
      'Effective UnusedConnectionTimeout; absent when none.',
    )
    const info = new Gauge({
      name: 'sshd_config_info',
      help: 'Always 1; source says where the sshd_config_* values came from: sshd_t (sshd -T) or file.',
      labelNames: ['source'],
      registers,
    })
    const problems = gauge(
      'problems',
      'Problems met reading the configuration (an unreadable Include, a malformed value); each is logged once.',
    )
    const mismatch = gauge(
      'listener_mismatch',
      "1 when a running listener's MaxStartups (from its title) differs from the configuration: sshd has not been reloaded since sshd_config changed.",
    )
    let lastMismatch = ''

    return {
      registry,
      async collect(scrape) {
        const [read, scan] = await Promise.all([reader.current(), scrape.snapshot()])
        const v = read.values
        const differing = scan.snapshot.listeners.filter(
          (l) =>
            l.maxStartupsBegin !== v.maxStartups.begin || l.maxStartupsFull !== v.maxStartups.full,
        )
        const key = differing
          .map((l) => `${l.pid}:${l.maxStartupsBegin}-${l.maxStartupsFull}`)
          .join(',')
        if (key !== lastMismatch && key !== '') {
          ctx.logger.warn(
            {
              listeners: differing.map((l) => ({
                pid: l.pid,
                begin: l.maxStartupsBegin,
                full: l.maxStartupsFull,
              })),
              config: { begin: v.maxStartups.begin, full: v.maxStartups.full, source: read.source },
            },
            'running sshd uses other MaxStartups than its configuration: reload sshd to apply it',
          )
        }
        lastMismatch = key
        return () => {
          maxSessions.set(v.maxSessions)
          maxStartups.set({ bound: 'begin' }, v.maxStartups.begin)
          maxStartups.set({ bound: 'full' }, v.maxStartups.full)
          rate.set(v.maxStartups.rate)
          grace.set(v.loginGraceTimeSeconds)
          aliveInterval.set(v.clientAliveIntervalSeconds)
          aliveCount.set(v.clientAliveCountMax)
          setOrRemove(perSource, v.perSourceMaxStartups)
          setOrRemove(unused, v.unusedConnectionTimeoutSeconds)
          info.reset()
          info.set({ source: read.source }, 1)
          problems.set(read.problems.length)
          mismatch.set(differing.length > 0 ? 1 : 0)
        }
      },
    }
  },
}
