/**
 * Everything the exporter keeps between scrapes, in one place: the process scanner (its walk
 * and the connections it has already placed), what is known of sshd's sockets, sshd's
 * configurations, the followed log, and the utmp and tty readers. Made once at start-up
 * (src/exporter.ts); each scrape reads the host through it (src/scrape/context.ts).
 */
import type { LoggerLike } from '../logger.ts'
import type { ProcFS } from '../sources/procfs.ts'
import { UtmpReader } from '../sources/utmp/read.ts'
import { TtyIdle } from '../sources/utmp/tty-idle.ts'
import type { EventsSource } from './events-source.ts'
import { ProcessScanner } from './scanner.ts'
import { ConnectionSocketCache } from './sockets.ts'
import type { SshdConfigs } from './sshd-configs.ts'

/** --collector.processes.rescan-interval's default: 5 minutes. */
export const DEFAULT_RESCAN_INTERVAL_MS = 300_000

export interface ExporterStateOptions {
  procfs: ProcFS
  /** --path.rootfs: where utmp and the ttys are read. */
  rootfs: string
  logger: LoggerLike
  /** Full process scan at least this often (ms) while sshd's tree is walked; 0: every scrape. */
  rescanIntervalMs?: number
  /** sshd's configurations; null when the config collector is off. */
  configs?: SshdConfigs | null
  /** sshd's log; null when the events collector is off, or why it does not apply here. */
  events?: EventsSource | { notApplicable: string } | null
}

export class ExporterState {
  readonly procfs: ProcFS
  readonly rootfs: string
  readonly scanner: ProcessScanner
  readonly sockets = new ConnectionSocketCache()
  readonly configs: SshdConfigs | null
  readonly events: EventsSource | { notApplicable: string } | null
  /** utmp, parsed again only when it changed. */
  readonly utmp: UtmpReader
  /** The ttys' idle times, their paths built once. */
  readonly ttyIdle: TtyIdle

  constructor(options: ExporterStateOptions) {
    this.procfs = options.procfs
    this.rootfs = options.rootfs
    this.scanner = new ProcessScanner(options.procfs, {
      rescanIntervalMs: options.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS,
      logger: options.logger,
    })
    this.configs = options.configs ?? null
    this.events = options.events ?? null
    this.utmp = new UtmpReader(options.rootfs)
    this.ttyIdle = new TtyIdle(options.rootfs)
  }
}
