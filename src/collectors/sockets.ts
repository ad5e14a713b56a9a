/**
 * The sockets collector: established connections to sshd by client address,
 * from the listener's own network namespace (so it works from a container
 * with hostPID). Addresses past --collector.sockets.max-sources are summed
 * under source="other".
 */
import { connectionsBySource } from '../model/sockets.ts'
import { flag } from '../flags/spec.ts'
import { type Collector, defineCollector } from './collector.ts'

export const socketsCollector = defineCollector({
  name: 'sockets',
  defaultEnabled: true,
  help: "Established connections to sshd by client address, from sshd's own /proc/<pid>/net/tcp{,6}.",
  flags: {
    maxSources: flag.int(
      'collector.sockets.max-sources',
      '20',
      'Most client addresses given their own sshd_source_connections series; the rest are summed under source="other".',
    ),
  },
  async create(ctx): Promise<Collector> {
    // Not at the top: see CollectorDefinition.create.
    const { Gauge, Registry } = await import('prom-client')
    const registry = new Registry()
    const bySource = new Gauge({
      name: 'sshd_source_connections',
      help: 'Established TCP connections to sshd by client address (IPv4-mapped IPv6 shown as IPv4); addresses past --collector.sockets.max-sources are summed under "other".',
      labelNames: ['source'],
      registers: [registry],
    })
    const max = ctx.flags.maxSources
    let unpermittedSaid = false

    return {
      registry,
      async collect(scrape) {
        const sockets = await scrape.sockets()
        if (sockets !== null && !sockets.permitted && !unpermittedSaid) {
          unpermittedSaid = true
          ctx.logger.info(
            { ports: sockets.ports },
            "cannot read the sshd listener's fd links (not root): its ports are taken from sshd_config (else 22), and connections are not matched to processes",
          )
        }
        const counts =
          sockets === null ? new Map<string, number>() : connectionsBySource(sockets, max)
        return () => {
          bySource.reset()
          for (const [source, n] of counts) bySource.set({ source }, n)
        }
      },
    }
  },
})
