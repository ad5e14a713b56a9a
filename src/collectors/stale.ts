/**
 * The stale collector: sessions and connections that should be gone, by
 * reason, how long pty sessions have been idle (their ttys from the post-auth
 * titles, their idle times from the devices: no utmp needed), and the oldest
 * session.
 */
import { deadPeers } from '../model/sockets.ts'
import { IDLE_THRESHOLDS, type PidState, staleValues } from '../model/stale.ts'
import { CLOCK_TICKS_PER_SECOND, processAgeSeconds } from '../sources/procfs.ts'
import { flag } from '../flags/spec.ts'
import { preauthThresholdSeconds } from '../state/sshd-configs.ts'
import { type Collector, defineCollector } from './collector.ts'

const STALE_FLAGS = {
  idleThresholdSeconds: flag.duration(
    'collector.stale.idle-threshold',
    '1h',
    'A pty session whose tty has seen no input for this long is stale (reason="idle").',
  ),
  preauthThresholdSeconds: flag.duration(
    'collector.stale.preauth-threshold',
    undefined,
    'A connection still not authenticated after this long is stale (reason="preauth_overdue"). Default: the effective LoginGraceTime, or 120s when it is unknown or 0.',
  ),
}

export const staleCollector = defineCollector({
  name: 'stale',
  defaultEnabled: true,
  help: 'Stale sessions: utmp records of gone processes, idle ttys, pre-auth connections past LoginGraceTime, dead peers.',
  flags: STALE_FLAGS,
  async create(ctx): Promise<Collector> {
    // Not at the top: see CollectorDefinition.create.
    const { Gauge, Registry } = await import('prom-client')
    const { flags, logger, rootfs } = ctx
    const registry = new Registry()
    const registers = [registry]
    const stale = new Gauge({
      name: 'sshd_stale_sessions',
      help: 'Stale sessions and connections by reason: utmp_orphan (a utmp login whose process is gone), idle (a pty idle past --collector.stale.idle-threshold), preauth_overdue (not authenticated after --collector.stale.preauth-threshold), dead_peer (a connection whose peer no longer answers).',
      labelNames: ['reason'],
      registers,
    })
    const ptySessions = new Gauge({
      name: 'sshd_pty_sessions',
      help: 'Live sshd pty sessions: the ttys named by the post-auth process titles (alice@pts/0,pts/3).',
      registers,
    })
    const idleOver = new Gauge({
      name: 'sshd_pty_sessions_idle_over',
      help: "Live sshd pty sessions whose tty has had no input for longer than threshold (1m, 5m, 15m, 1h, 4h, 1d; the tty's access time, as who -u shows it).",
      labelNames: ['threshold'],
      registers,
    })
    const idleMax = new Gauge({
      name: 'sshd_pty_session_idle_seconds_max',
      help: 'Longest time a live sshd pty session has had no input on its tty; 0 when there is no pty session.',
      registers,
    })
    const oldest = new Gauge({
      name: 'sshd_oldest_session_age_seconds',
      help: 'Age of the oldest authenticated connection; absent when there is none.',
      registers,
    })
    let utmpMissingSaid = false

    return {
      registry,
      async collect(scrape) {
        const [{ snapshot }, sockets, byConnection, preauthThreshold] = await Promise.all([
          scrape.snapshot(),
          scrape.sockets(),
          scrape.connectionSockets(),
          preauthThresholdSeconds(flags.preauthThresholdSeconds, ctx.sshdConfig),
        ])
        const dead = sockets === null ? 0 : deadPeers(sockets, byConnection)
        const uptime = scrape.uptime()
        const bootSeconds = Date.now() / 1000 - uptime
        const utmp = scrape.utmp()
        if (utmp === null && !utmpMissingSaid) {
          utmpMissingSaid = true
          logger.info(
            { rootfs },
            'no utmp under the rootfs (run/utmp): utmp_orphan is not reported',
          )
        }
        // utmp names a connection's monitor (9.2 and later): its start is known from the scan.
        const started = new Map<number, number>()
        const { connections } = snapshot
        for (let i = 0; i < connections.length; i++) {
          started.set(connections[i]!.pid, connections[i]!.starttime)
        }
        const values = staleValues({
          snapshot,
          connectionAge: (c) => processAgeSeconds(c.starttime, uptime),
          preauthThresholdSeconds: preauthThreshold,
          utmp: utmp?.records ?? null,
          pidState: (pid): PidState | null => {
            const starttime = started.get(pid) ?? scrape.processStartTime(pid)
            if (starttime === null) return null
            return { startedAt: bootSeconds + starttime / CLOCK_TICKS_PER_SECOND }
          },
          ttyIdle: scrape.ttyIdle(),
          idleThresholdSeconds: flags.idleThresholdSeconds,
        })
        return () => {
          stale.reset()
          stale.set({ reason: 'preauth_overdue' }, values.preauthOverdue)
          stale.set({ reason: 'dead_peer' }, dead)
          if (values.utmpOrphan !== null) stale.set({ reason: 'utmp_orphan' }, values.utmpOrphan)
          stale.set({ reason: 'idle' }, values.idle)
          ptySessions.set(values.ptySessions)
          for (let i = 0; i < IDLE_THRESHOLDS.length; i++) {
            idleOver.set({ threshold: IDLE_THRESHOLDS[i]!.threshold }, values.idleOver[i]!)
          }
          idleMax.set(values.idleMaxSeconds)
          if (values.oldestSessionAge === null) oldest.remove()
          else oldest.set(values.oldestSessionAge)
        }
      },
    }
  },
})
