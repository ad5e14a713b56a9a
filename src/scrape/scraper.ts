/**
 * Scrape orchestration: runs every enabled collector with a time limit each,
 * records sshd_scrape_collector_success and _duration_seconds, commits and
 * renders only the collectors that succeeded, and shares one in-flight scrape
 * between concurrent requests.
 */
import { performance } from 'node:perf_hooks'
import { Counter, Gauge, Registry } from 'prom-client'
import type { Collector, Commit, Scrape } from '../collectors/collector.ts'
import { ErrorCode, ExporterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { UtmpFile } from '../sources/utmp/read.ts'
import type { ScanResult } from '../state/full-scan.ts'
import type { ExporterState } from '../state/state.ts'
import { ScrapeContext } from './context.ts'

export interface ScraperOptions {
  collectors: ReadonlyMap<string, Collector>
  /** What is kept between scrapes; each scrape reads the host through it. */
  state: ExporterState
  logger: Logger
  timeoutSeconds: number
  /** Registries rendered before the collectors' (build info, process metrics). */
  registries: readonly Registry[]
}

const SCAN_MODES = ['walk', 'full'] as const satisfies readonly ScanResult['mode'][]

/** Sources whose malformed entries are skipped and counted. */
export const INPUT_SOURCES = ['procfs', 'utmp'] as const
export type InputSource = (typeof INPUT_SOURCES)[number]

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

interface SharedContext {
  context: ScrapeContext
  controller: AbortController
  /** Scrapes and views using it. */
  users: number
}

function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

export class Scraper {
  readonly registry = new Registry()
  #collectors: ReadonlyMap<string, Collector>
  #state: ExporterState
  #logger: Logger
  #timeoutMs: number
  #registries: readonly Registry[]
  #inflight: Promise<string> | null = null
  /** The view of the host a scrape or a sessions read has open: others join it, not read anew. */
  #shared: SharedContext | null = null
  /** Last error message per failing collector, so each failure is logged once. */
  #failing = new Map<string, string>()
  #success: Gauge<'collector'>
  #duration: Gauge<'collector'>
  #malformed: Counter<'source'>
  #scans: Counter<'mode'>
  /** The utmp parse whose malformed records were counted, so each is counted once. */
  #utmpCounted: UtmpFile | null = null

  constructor(options: ScraperOptions) {
    this.#collectors = options.collectors
    this.#state = options.state
    this.#logger = options.logger
    this.#timeoutMs = options.timeoutSeconds * 1000
    this.#registries = options.registries
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
      help: "Entries skipped because their content was malformed (a /proc file, a utmp record), by source; sshd's log lines not understood are sshd_events_lines_unparsed_total.",
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

  /**
   * Runs `read` on the view of the host that a scrape in flight has open (its scan, sockets and
   * configurations, read once), or on a new one that a scrape starting meanwhile joins: a page
   * load during a scrape reads /proc once. Nothing is kept once both are done.
   */
  async view<T>(read: (scrape: ScrapeContext) => Promise<T>): Promise<T> {
    await nextTurn()
    const shared = this.#join()
    try {
      return await read(shared.context)
    } finally {
      this.#leave(shared)
    }
  }

  #join(): SharedContext {
    if (this.#shared === null) {
      const controller = new AbortController()
      const context = new ScrapeContext(this.#state, controller.signal, {
        onScan: (result) => this.#countScan(result),
        onUtmp: (file) => this.#countUtmp(file),
      })
      this.#shared = { context, controller, users: 0 }
    }
    this.#shared.users++
    return this.#shared
  }

  #leave(shared: SharedContext): void {
    if (--shared.users > 0) return
    shared.controller.abort()
    if (this.#shared === shared) this.#shared = null
  }

  async #run(): Promise<string> {
    // The scan reads /proc synchronously: without a turn of the event loop first, every request
    // already waiting on its socket would be handled only after this scrape ended, and start a
    // scan of its own. Yielding once lets them join this one.
    await nextTurn()
    const shared = this.#join()
    const names = [...this.#collectors.keys()]
    let outcomes: { commit: Commit | null; seconds: number }[]
    try {
      outcomes = await Promise.all(
        names.map((name) => this.#runOne(name, this.#collectors.get(name)!, shared.context)),
      )
    } finally {
      this.#leave(shared)
    }

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

  #countScan(result: ScanResult): void {
    this.#scans.inc({ mode: result.mode })
    if (result.malformed > 0) {
      this.#malformed.inc({ source: 'procfs' }, result.malformed)
      this.#logger.debug(
        { skipped: result.malformed, first: result.firstProblem },
        'skipped malformed procfs entries',
      )
    }
  }

  /** A utmp's bad records, once per parse: an unchanged file gives the same result back. */
  #countUtmp(file: UtmpFile | null): void {
    if (file === null || file === this.#utmpCounted) return
    this.#utmpCounted = file
    if (file.malformed > 0) {
      this.#malformed.inc({ source: 'utmp' }, file.malformed)
      this.#logger.debug({ skipped: file.malformed }, 'skipped malformed utmp records')
    }
  }

  #noteFailure(name: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err)
    if (this.#failing.get(name) === message) return
    this.#failing.set(name, message)
    this.#logger.warn({ collector: name, err }, 'collector failed')
  }
}
