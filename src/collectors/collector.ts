/**
 * The collector contract. A collector is defined once (name, default state, help, its own
 * flags) and created once at start-up, its metrics in a registry of its own; each scrape calls
 * collect(), which reads what it needs through the Scrape and returns a commit that sets the
 * metrics. The scraper commits and renders only collectors that finished in time, so a failing
 * or late one loses its own series and nothing else, and never writes into a later scrape.
 */
import type { Registry } from 'prom-client'
import type { FlagGroup, FlagValues } from '../flags/spec.ts'
import type { Logger } from '../logger.ts'
import type { SshdConfigs } from '../state/sshd-configs.ts'
import type { SshdInstance } from '../model/instances.ts'
import type { EventsSource } from '../state/events-source.ts'
import type { ScanResult } from '../state/full-scan.ts'
import type { SshdSockets } from '../model/sockets.ts'
import type { TcpSocket } from '../sources/net-tcp/table.ts'
import type { UtmpFile } from '../sources/utmp/read.ts'

/** What one scrape shares between its collectors: each source is read at most once. */
export interface Scrape {
  /** Aborted when the scrape's time limit for this collector has passed. */
  readonly signal: AbortSignal
  /** The sshd process snapshot; scanned on the first call, shared by the rest. */
  snapshot(): Promise<ScanResult>
  /** sshd's TCP sockets (null with no listener); read once per scrape, after the snapshot. */
  sockets(): Promise<SshdSockets | null>
  /**
   * Each connection's socket by its root pid (undefined: gone from the table); null without the
   * right to read fd links, or with no listener.
   */
  connectionSockets(): Promise<ReadonlyMap<number, TcpSocket | undefined> | null>
  /**
   * sshd's instances, each with its configuration and connections, and whether sshd accepts
   * connections here (a listener, or a socket held for it).
   */
  instances(): Promise<{ instances: SshdInstance[]; up: boolean }>
  /** Seconds since boot (/proc/uptime), read once per scrape; throws when it cannot be read. */
  uptime(): number
  /** A process's start time in clock ticks since boot; null when it is gone or a zombie. */
  processStartTime(pid: number): number | null
  /** utmp's records (parsed again only when the file changed); null without a utmp. */
  utmp(): UtmpFile | null
  /** Each tty's seconds since its last input (`pts/0`), as of this scrape; null when unknown. */
  ttyIdle(): (line: string) => number | null
}

/** Sets the collector's metrics; called synchronously, only for a collect that finished in time. */
export type Commit = () => void

export interface Collector {
  /** Registry holding this collector's metrics only. */
  readonly registry: Registry
  collect(scrape: Scrape): Promise<Commit>
}

export interface CollectorContext<V = unknown> {
  /** The collector's own flags (its definition's `flags`), parsed. */
  flags: V
  /** --path.rootfs: the host's root, for files such as utmp. */
  rootfs: string
  /** A child logger with `collector: <name>`. */
  logger: Logger
  /** sshd's effective configurations; null when the config collector is disabled. */
  sshdConfig: SshdConfigs | null
  /**
   * sshd's log, followed since start-up; null when the events collector is disabled, or why it
   * does not apply on this host.
   */
  events: EventsSource | NotApplicable | null
}

/** A collector that cannot work on this host: said once at start-up, then no series at all. */
export interface NotApplicable {
  notApplicable: string
}

export interface CollectorDefinition<N extends string = string, F extends FlagGroup = FlagGroup> {
  name: N
  defaultEnabled: boolean
  help: string
  /** Its `--collector.<name>.*` flags; their values come to `create` as `ctx.flags`. */
  flags: F
  /**
   * Makes the collector once at start-up. Modules only a running collector needs (prom-client)
   * are imported here, not at the top: `sshd-exporter sessions` loads every definition for its
   * flags and should start as fast as a terminal tool. A method, so that a definition with its
   * own flags is also a CollectorDefinition.
   */
  create(
    ctx: CollectorContext<FlagValues<F>>,
  ): Collector | NotApplicable | Promise<Collector | NotApplicable>
}

/** A collector's definition, its name and flags' types inferred. */
export function defineCollector<const N extends string, const F extends FlagGroup>(
  definition: CollectorDefinition<N, F>,
): CollectorDefinition<N, F> {
  return definition
}

export function isNotApplicable<T extends object>(c: T | NotApplicable): c is NotApplicable {
  return 'notApplicable' in c
}
