/**
 * The config collector: the limits sshd really enforces (`sshd -T`, else the
 * sshd_config files), and whether the running listener still uses older ones.
 */
import { DEFAULT_SSH_PORT } from '../model/sockets.ts'
import { flag } from '../flags/spec.ts'
import { type Collector, defineCollector } from './collector.ts'

export const configCollector = defineCollector({
  name: 'config',
  defaultEnabled: true,
  help: 'Effective sshd limits (MaxSessions, MaxStartups, LoginGraceTime, ClientAlive*) from sshd -T or sshd_config.',
  // Read where sshd's configurations are kept between scrapes (src/exporter.ts).
  flags: {
    /** undefined: sshd on PATH or in /usr/sbin; null: never run sshd. */
    sshdBinary: {
      ...flag.optional(
        'collector.config.sshd-binary',
        undefined,
        'sshd binary to run `sshd -T` with (as root, at start-up and at most once a minute); empty: never run it, read the files. Default: sshd on PATH or in /usr/sbin.',
      ),
      parse: (text: string): string | null => (text === '' ? null : text),
    },
    /** undefined: <rootfs>/etc/ssh/sshd_config, and sshd -T without -f. */
    file: flag.string(
      'collector.config.file',
      undefined,
      'sshd_config to read (Include files are resolved under --path.rootfs), and to pass to `sshd -T -f`, for sshd instances whose command line names no -f. Default: <rootfs>/etc/ssh/sshd_config, else <rootfs>/usr/etc/ssh/sshd_config (SUSE).',
    ),
  },
  async create(ctx): Promise<Collector> {
    // Not at the top: see CollectorDefinition.create.
    const { Gauge, Registry } = await import('prom-client')
    const reader = ctx.sshdConfig
    if (reader === null) throw new Error('config collector created without a config reader')
    const registry = new Registry()
    const registers = [registry]
    const gauge = (name: string, help: string) =>
      new Gauge({ name: `sshd_config_${name}`, help, labelNames: ['port'], registers })
    const maxSessions = gauge(
      'max_sessions',
      'Effective MaxSessions: session channels one connection may open.',
    )
    const maxStartups = new Gauge({
      name: 'sshd_config_max_startups',
      help: 'Effective MaxStartups begin (random early drop starts) and full (every new connection refused); absent for per-connection sshd, where it does not apply.',
      labelNames: ['port', 'bound'],
      registers,
    })
    const rate = gauge(
      'max_startups_rate',
      'Effective MaxStartups rate as a ratio (0.3 for 30): the drop probability at begin; absent for per-connection sshd.',
    )
    const grace = gauge('login_grace_time_seconds', 'Effective LoginGraceTime; 0 means unlimited.')
    const aliveInterval = gauge(
      'client_alive_interval_seconds',
      'Effective ClientAliveInterval; 0 means disabled.',
    )
    const aliveCount = gauge('client_alive_count_max', 'Effective ClientAliveCountMax.')
    const perSource = gauge(
      'per_source_max_startups',
      'Effective PerSourceMaxStartups; absent when none, and for per-connection sshd.',
    )
    const unused = gauge(
      'unused_connection_timeout_seconds',
      'Effective UnusedConnectionTimeout; absent when none.',
    )
    const info = new Gauge({
      name: 'sshd_config_info',
      help: 'Always 1 per sshd instance; source says where its sshd_config_* values came from: sshd_t (sshd -T) or file.',
      labelNames: ['port', 'source'],
      registers,
    })
    const problems = gauge(
      'problems',
      'Problems met reading the configuration (an unreadable Include, a malformed value); each is logged once.',
    )
    const mismatch = gauge(
      'listener_mismatch',
      "1 when the running listener's MaxStartups (from its title) differs from its configuration: sshd has not been reloaded since sshd_config changed.",
    )
    let lastMismatch = ''

    return {
      registry,
      async collect(scrape) {
        const { instances } = await scrape.instances()
        const configured = instances.filter((i) => i.config !== null)
        // No instance's configuration (sshd down, or none readable): the default one, under its
        // own first port; its error, if it has one, fails this collector.
        const rows =
          configured.length > 0
            ? configured.map((i) => ({ instance: i, read: i.config! }))
            : [{ instance: null, read: await reader.default.current() }]
        const differing = configured.filter((i) => {
          const l = i.listener
          const v = i.config!.values
          return (
            l !== null &&
            l.maxStartupsBegin !== null &&
            (l.maxStartupsBegin !== v.maxStartups.begin || l.maxStartupsFull !== v.maxStartups.full)
          )
        })
        const key = differing
          .map(
            (i) =>
              `${i.listener!.pid}:${i.listener!.maxStartupsBegin}-${i.listener!.maxStartupsFull}`,
          )
          .join(',')
        if (key !== lastMismatch && key !== '') {
          ctx.logger.warn(
            {
              listeners: differing.map((i) => ({
                pid: i.listener!.pid,
                port: i.port,
                begin: i.listener!.maxStartupsBegin,
                full: i.listener!.maxStartupsFull,
                config: { ...i.config!.values.maxStartups, source: i.config!.source },
              })),
            },
            'running sshd uses other MaxStartups than its configuration: reload sshd to apply it',
          )
        }
        lastMismatch = key
        return () => {
          for (const g of [maxSessions, maxStartups, rate, grace, aliveInterval, aliveCount]) {
            g.reset()
          }
          for (const g of [perSource, unused, info, problems, mismatch]) g.reset()
          for (const { instance, read } of rows) {
            const port = instance?.port ?? String(read.values.listenPorts[0] ?? DEFAULT_SSH_PORT)
            const v = read.values
            const labels = { port }
            maxSessions.set(labels, v.maxSessions)
            if (instance?.mode !== 'per_connection') {
              maxStartups.set({ port, bound: 'begin' }, v.maxStartups.begin)
              maxStartups.set({ port, bound: 'full' }, v.maxStartups.full)
              rate.set(labels, v.maxStartups.rate)
              if (v.perSourceMaxStartups !== null) perSource.set(labels, v.perSourceMaxStartups)
            }
            grace.set(labels, v.loginGraceTimeSeconds)
            aliveInterval.set(labels, v.clientAliveIntervalSeconds)
            aliveCount.set(labels, v.clientAliveCountMax)
            if (v.unusedConnectionTimeoutSeconds !== null) {
              unused.set(labels, v.unusedConnectionTimeoutSeconds)
            }
            info.set({ port, source: read.source }, 1)
            problems.set(labels, read.problems.length)
            mismatch.set(labels, instance !== null && differing.includes(instance) ? 1 : 0)
          }
        }
      },
    }
  },
})
