/**
 * One scrape's view of the host: each source is read at most once, when a collector first asks
 * for it, and shared by the rest (the Scrape contract, src/collectors/collector.ts). What is kept
 * between scrapes is in the ExporterState it reads through.
 */
import type { Scrape } from '../collectors/collector.ts'
import { type SshdInstance, sshdInstances } from '../model/instances.ts'
import type { SshdSockets } from '../model/sockets.ts'
import type { TcpSocket } from '../sources/net-tcp/table.ts'
import type { ProcFS } from '../sources/procfs.ts'
import type { UtmpFile } from '../sources/utmp/read.ts'
import type { ScanResult } from '../state/full-scan.ts'
import { connectionSockets, readSshdSockets } from '../state/sockets.ts'
import type { EffectiveConfigRead } from '../state/sshd-configs.ts'
import type { ExporterState } from '../state/state.ts'

/** What the scraper counts as a scrape reads: scans, and utmp when it was parsed anew. */
export interface ScrapeHooks {
  onScan(result: ScanResult): void
  onUtmp(file: UtmpFile | null): void
}

/** Each listener's configuration by pid, and the default one (a socket holder's). */
interface InstanceConfigs {
  byListener: Map<number, EffectiveConfigRead | null>
  default: EffectiveConfigRead | null
}

export class ScrapeContext implements Scrape {
  readonly signal: AbortSignal
  #state: ExporterState
  #procfs: ProcFS
  #hooks: ScrapeHooks
  #snapshot: Promise<ScanResult> | null = null
  #instanceConfigs: Promise<InstanceConfigs> | null = null
  #sockets: Promise<SshdSockets | null> | null = null
  #connectionSockets: Promise<ReadonlyMap<number, TcpSocket | undefined> | null> | null = null
  #instances: Promise<{ instances: SshdInstance[]; up: boolean }> | null = null
  #uptime: { seconds: number } | { error: unknown } | null = null
  #utmp: { file: UtmpFile | null } | null = null
  #ttyIdle: ((line: string) => number | null) | null = null

  constructor(state: ExporterState, signal: AbortSignal, hooks: ScrapeHooks) {
    this.#state = state
    this.#procfs = state.procfs
    this.signal = signal
    this.#hooks = hooks
  }

  snapshot(): Promise<ScanResult> {
    if (this.#snapshot === null) {
      try {
        const result = this.#state.scanner.scan()
        this.#hooks.onScan(result)
        this.#snapshot = Promise.resolve(result)
      } catch (err) {
        this.#snapshot = Promise.reject(err instanceof Error ? err : new Error(String(err)))
      }
    }
    return this.#snapshot
  }

  /** Each listener's configuration, read with its own command line; a read that fails is null. */
  #readConfigs(): Promise<InstanceConfigs> {
    this.#instanceConfigs ??= this.snapshot().then(async (scan) => {
      const configs = this.#state.configs
      const byListener = new Map<number, EffectiveConfigRead | null>()
      if (configs === null) return { byListener, default: null }
      // A config that cannot be read leaves the value unknown; the config collector says why.
      const [fallback, ...reads] = await Promise.all([
        configs.default.current().catch(() => null),
        ...scan.snapshot.listeners.map((l) =>
          configs
            .readerFor(l.argv, this.#procfs.exePath(l.pid))
            .current()
            .catch(() => null),
        ),
      ])
      scan.snapshot.listeners.forEach((l, i) => byListener.set(l.pid, reads[i] ?? null))
      return { byListener, default: fallback ?? null }
    })
    return this.#instanceConfigs
  }

  sockets(): Promise<SshdSockets | null> {
    this.#sockets ??= Promise.all([this.snapshot(), this.#readConfigs()]).then(
      ([scan, configs]) => {
        const ports = new Set<number>(configs.default?.values.listenPorts ?? [])
        configs.byListener.forEach((read) => read?.values.listenPorts.forEach((p) => ports.add(p)))
        return readSshdSockets(
          this.#procfs,
          scan.snapshot,
          ports.size === 0 ? undefined : [...ports],
          this.#state.sockets,
        )
      },
    )
    return this.#sockets
  }

  connectionSockets(): Promise<ReadonlyMap<number, TcpSocket | undefined> | null> {
    this.#connectionSockets ??= Promise.all([this.snapshot(), this.sockets()]).then(
      ([scan, sockets]) =>
        sockets === null
          ? null
          : connectionSockets(this.#procfs, scan.snapshot, sockets, this.#state.sockets),
    )
    return this.#connectionSockets
  }

  instances(): Promise<{ instances: SshdInstance[]; up: boolean }> {
    this.#instances ??= (async () => {
      const [scan, configs] = await Promise.all([this.snapshot(), this.#readConfigs()])
      const { snapshot } = scan
      // A listener is up by itself; without one, a socket held on sshd's port tells.
      const sockets = snapshot.listeners.length === 0 ? await this.sockets() : null
      // Only a connection no listener owns, on a host with two listeners, needs its socket's port.
      const ambiguous =
        snapshot.listeners.length > 1 && snapshot.connections.some((c) => c.listener === null)
      let localPorts: Map<number, number> | null = null
      if (ambiguous) {
        const byConnection = await this.connectionSockets()
        if (byConnection !== null) {
          localPorts = new Map()
          byConnection.forEach((s, pid) => s !== undefined && localPorts!.set(pid, s.localPort))
        }
      }
      return sshdInstances({
        snapshot,
        configs: configs.byListener,
        defaultConfig: configs.default,
        listening: sockets?.listening ?? null,
        localPorts,
      })
    })()
    return this.#instances
  }

  uptime(): number {
    if (this.#uptime === null) {
      try {
        this.#uptime = { seconds: this.#procfs.readUptime() }
      } catch (error) {
        this.#uptime = { error }
      }
    }
    if ('error' in this.#uptime) throw this.#uptime.error
    return this.#uptime.seconds
  }

  processStartTime(pid: number): number | null {
    const stat = this.#procfs.readStat(pid)
    return stat === null || stat.state === 'Z' ? null : stat.starttime
  }

  utmp(): UtmpFile | null {
    if (this.#utmp === null) {
      this.#utmp = { file: this.#state.utmp.read() }
      this.#hooks.onUtmp(this.#utmp.file)
    }
    return this.#utmp.file
  }

  ttyIdle(): (line: string) => number | null {
    this.#ttyIdle ??= this.#state.ttyIdle.reader(Date.now())
    return this.#ttyIdle
  }
}
