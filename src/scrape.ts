/**
 * Scrape orchestration: runs every enabled collector with a time limit each,
 * records sshd_scrape_collector_success and _duration_seconds, commits and
 * renders only the collectors that succeeded, and shares one in-flight scrape
 * between concurrent requests.
 */
import { performance } from 'node:perf_hooks'
import { Counter, Gauge, Registry } from 'prom-client'
import type { Collector, Commit, Scrape } from './collectors/collector.ts'
import { ErrorCode, ExporterError } from './errors.ts'
import type { Logger } from './logger.ts'
import type { EffectiveConfigRead, SshdConfigs } from './model/effective-config.ts'
import { type SshdInstance, sshdInstances } from './model/instances.ts'
import type { ScanResult } from './model/scan.ts'
import {
  ConnectionSocketCache,
  connectionSockets,
  readSshdSockets,
  type SshdSockets,
} from './model/sockets.ts'
import { ProcessScanner } from './model/walk.ts'
import type { TcpSocket } from './sources/net-tcp/table.ts'
import type { ProcFS } from './sources/procfs.ts'

export interface ScraperOptions {
  collectors: ReadonlyMap<string, Collector>
  procfs: ProcFS
  logger: Logger
  timeoutSeconds: number
  /** Registries rendered before the collectors' (build info, process metrics). */
  registries: readonly Registry[]
  /** sshd's configurations, one per instance; null when the config collector is off. */
  configs?: SshdConfigs | null
  /** Full process scan at least this often (ms) while sshd's tree is walked; 0: every scrape. */
  rescanIntervalMs?: number
}

/** --collector.processes.rescan-interval's default: 5 minutes. */
export const DEFAULT_RESCAN_INTERVAL_MS = 300_000

const SCAN_MODES = ['walk', 'full'] as const satisfies readonly ScanResult['mode'][]

/** Sources whose malformed entries are skipped and counted. */
export const INPUT_SOURCES = ['procfs'] as const
export type InputSource = (typeof INPUT_SOURCES)[number]

/** Each listener's configuration by pid, and the default one (a socket holder's). */
interface InstanceConfigs {
  byListener: Map<number, EffectiveConfigRead | null>
  default: EffectiveConfigRead | null
}

class ScrapeContext implements Scrape {
  readonly signal: AbortSignal
  #procfs: ProcFS
  #scanner: ProcessScanner
  #socketCache: ConnectionSocketCache
  #onScan: (result: ScanResult) => void
  #configs: SshdConfigs | null
  #snapshot: Promise<ScanResult> | null = null
  #instanceConfigs: Promise<InstanceConfigs> | null = null
  #sockets: Promise<SshdSockets | null> | null = null
  #connectionSockets: Promise<ReadonlyMap<number, TcpSocket | undefined> | null> | null = null
  #instances: Promise<{ instances: SshdInstance[]; up: boolean }> | null = null

  constructor(
    procfs: ProcFS,
    scanner: ProcessScanner,
    socketCache: ConnectionSocketCache,
    signal: AbortSignal,
    onScan: (result: ScanResult) => void,
    configs: SshdConfigs | null,
  ) {
    this.#procfs = procfs
    this.#scanner = scanner
    this.#socketCache = socketCache
    this.signal = signal
    this.#onScan = onScan
    this.#configs = configs
  }

  snapshot(): Promise<ScanResult> {
    if (this.#snapshot === null) {
      try {
        const result = this.#scanner.scan()
        this.#onScan(result)
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
      const configs = this.#configs
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
          this.#socketCache,
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
          : connectionSockets(this.#procfs, scan.snapshot, sockets, this.#socketCache),
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
}

function timeout(ms: number, signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => {
      reject(
        new ExporterError(
          ErrorCode.COLLECTOR_TIMEOUT,
          `did not finish within ${ms / 1000}s (--scrape.collector-timeout)`,
        ),
      )
    }, ms)
    timer.unref()
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
  })
}

export class Scraper {
  readonly registry = new Registry()
  #collectors: ReadonlyMap<string, Collector>
  #procfs: ProcFS
  #scanner: ProcessScanner
  #socketCache = new ConnectionSocketCache()
  #configs: SshdConfigs | null
  #logger: Logger
  #timeoutMs: number
  #registries: readonly Registry[]
  #inflight: Promise<string> | null = null
  /** Last error message per failing collector, so each failure is logged once. */
  #failing = new Map<string, string>()
  #success: Gauge<'collector'>
  #duration: Gauge<'collector'>
  #malformed: Counter<'source'>
  #scans: Counter<'mode'>

  constructor(options: ScraperOptions) {
    this.#collectors = options.collectors
    this.#procfs = options.procfs
    this.#logger = options.logger
    this.#timeoutMs = options.timeoutSeconds * 1000
    this.#registries = options.registries
    this.#configs = options.configs ?? null
    this.#scanner = new ProcessScanner(options.procfs, {
      rescanIntervalMs: options.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS,
      logger: options.logger,
    })
    this.#success = new Gauge({
      name: 'sshd_scrape_collector_success',
      help: 'sshd_exporter: whether a collector succeeded.',
      labelNames: ['collector'],
      registers: [this.registry],
    })
    this.#duration = new Gauge({
      name: 'sshd_scrape_collector_duration_seconds',
      help: 'sshd_exporter: duration of a collector scrape.',
      labelNames: ['collector'],
      registers: [this.registry],
    })
    this.#malformed = new Counter({
      name: 'sshd_exporter_malformed_input_total',
      help: 'Entries skipped because their content was malformed (a /proc file, a utmp record, a log line), by source.',
      labelNames: ['source'],
      registers: [this.registry],
    })
    for (const source of INPUT_SOURCES) this.#malformed.inc({ source }, 0)
    this.#scans = new Counter({
      name: 'sshd_exporter_process_scans_total',
      help: "Process scans, by mode: walk (sshd's tree only) or full (every process); concurrent scrapes share one.",
      labelNames: ['mode'],
      registers: [this.registry],
    })
    for (const mode of SCAN_MODES) this.#scans.inc({ mode }, 0)
  }

  /** Renders one scrape in the Prometheus text format; concurrent callers share one. */
  scrape(): Promise<string> {
    if (this.#inflight === null) {
      this.#inflight = this.#run().finally(() => {
        this.#inflight = null
      })
    }
    return this.#inflight
  }

  async #run(): Promise<string> {
    // The scan reads /proc synchronously: without a turn of the event loop first, every request
    // already waiting on its socket would be handled only after this scrape ended, and start a
    // scan of its own. Yielding once lets them join this one.
    await new Promise<void>((resolve) => setImmediate(resolve))
    const controller = new AbortController()
    const context = new ScrapeContext(
      this.#procfs,
      this.#scanner,
      this.#socketCache,
      controller.signal,
      (result) => {
        this.#scans.inc({ mode: result.mode })
        if (result.malformed > 0) {
          this.#malformed.inc({ source: 'procfs' }, result.malformed)
          this.#logger.debug(
            { skipped: result.malformed, first: result.firstProblem },
            'skipped malformed procfs entries',
          )
        }
      },
      this.#configs,
    )
    const names = [...this.#collectors.keys()]
    const outcomes = await Promise.all(
      names.map((name) => this.#runOne(name, this.#collectors.get(name)!, context)),
    )
    controller.abort()

    this.#success.reset()
    this.#duration.reset()
    const rendered: Registry[] = []
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!
      const outcome = outcomes[i]!
      let ok = outcome.commit !== null
      if (outcome.commit !== null) {
        try {
          outcome.commit()
          rendered.push(this.#collectors.get(name)!.registry)
        } catch (err) {
          ok = false
          this.#noteFailure(name, err)
        }
      }
      this.#success.set({ collector: name }, ok ? 1 : 0)
      this.#duration.set({ collector: name }, outcome.seconds)
    }
    const parts = await Promise.all(
      [...this.#registries, this.registry, ...rendered].map((r) => r.metrics()),
    )
    return parts.join('\n')
  }

  async #runOne(
    name: string,
    collector: Collector,
    context: Scrape,
  ): Promise<{ commit: Commit | null; seconds: number }> {
    const start = performance.now()
    try {
      const commit = await Promise.race([
        collector.collect(context),
        timeout(this.#timeoutMs, context.signal),
      ])
      if (this.#failing.delete(name)) this.#logger.info({ collector: name }, 'collector recovered')
      return { commit, seconds: (performance.now() - start) / 1000 }
    } catch (err) {
      this.#noteFailure(name, err)
      return { commit: null, seconds: (performance.now() - start) / 1000 }
    }
  }

  #noteFailure(name: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err)
    if (this.#failing.get(name) === message) return
    this.#failing.set(name, message)
    this.#logger.warn({ collector: name, err }, 'collector failed')
  }
}
