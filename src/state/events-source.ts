/**
 * sshd's log for the events and processes collectors, chosen once at start-up and followed for
 * the exporter's life (never read per scrape): the journal (one long-lived journalctl) or a log
 * file (followed like `tail -F`), feeding one EventAccumulator. --collector.events.source says
 * which: journal, file (the first of auth.log, secure and messages under the root), auto (the
 * journal when readable, else a file), or none. docs/metrics.md, "Log sources", has the rules.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../logger.ts'
import { FileFollower } from '../sources/file-follow.ts'
import type { LogSource, LogSourceKind } from '../sources/log-record.ts'
import { EventAccumulator } from '../model/events.ts'

/** Where to read sshd's log (the events collector's flags) and the host's root. */
export interface EventsSourceOptions {
  source: 'auto' | 'journal' | 'file' | 'none'
  /** undefined: the first of the log files under `rootfs` that exists. */
  file: string | undefined
  /** undefined: the system journal. */
  journalDirectory: string | undefined
  /** Users, root aside, given their own sshd_logins_total series. */
  maxUsers: number
  rootfs: string
}

export interface EventsSource {
  readonly kind: LogSourceKind
  /** The file followed, or the journal directory (undefined: the system journal). */
  readonly location: string | undefined
  readonly accumulator: EventAccumulator
  /** True while the source delivers (journalctl running, the file open). */
  readonly up: boolean
  /**
   * Takes in what the source has now (a file: one poll; the journal streams by itself).
   * Concurrent callers (the collectors of one scrape) share one poll.
   */
  refresh(): Promise<void>
  /** Restarts of journalctl, or rotations and truncations of the file, since start. */
  readonly restarts: number
  /** Input the source itself could not use: journal JSON not understood, over-long lines cut. */
  readonly malformed: number
  stop(): Promise<void>
}

/** Log files looked for under the rootfs, in order. */
export const LOG_FILES = ['/var/log/auth.log', '/var/log/secure', '/var/log/messages'] as const

class Source implements EventsSource {
  readonly kind: LogSourceKind
  readonly location: string | undefined
  readonly accumulator: EventAccumulator
  readonly #source: LogSource
  readonly #restarts: () => number
  readonly #malformed: () => number
  readonly #poll: (() => Promise<void>) | undefined
  #refreshing: Promise<void> | undefined

  constructor(args: {
    kind: LogSourceKind
    location: string | undefined
    accumulator: EventAccumulator
    source: LogSource
    restarts: () => number
    malformed: () => number
    poll?: () => Promise<void>
  }) {
    this.kind = args.kind
    this.location = args.location
    this.accumulator = args.accumulator
    this.#source = args.source
    this.#restarts = args.restarts
    this.#malformed = args.malformed
    this.#poll = args.poll
  }

  get up(): boolean {
    return this.#source.up
  }

  get restarts(): number {
    return this.#restarts()
  }

  get malformed(): number {
    return this.#malformed()
  }

  refresh(): Promise<void> {
    if (this.#poll === undefined) return Promise.resolve()
    this.#refreshing ??= this.#poll().finally(() => {
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  stop(): Promise<void> {
    return this.#source.stop()
  }
}

/**
 * journal.ts, and with it execa, loaded only where the journal is looked at: about 2 MB less RSS
 * with --collector.events.source=file or none (bench/notes.md, "Resident memory at N = 1,000").
 */
const journalModule = () => import('../sources/journal.ts')

async function followJournal(
  directory: string | undefined,
  maxUsers: number,
  logger: Logger,
): Promise<EventsSource> {
  const { JournalFollower } = await journalModule()
  const accumulator = new EventAccumulator({ maxUsers })
  const journal = new JournalFollower({
    directory,
    onRecord: (record) => {
      accumulator.addRecord(record)
    },
    logger,
  })
  journal.start()
  return new Source({
    kind: 'journal',
    location: directory,
    accumulator,
    source: journal,
    restarts: () => journal.restarts,
    malformed: () => journal.unparsed,
  })
}

function followFile(path: string, maxUsers: number, logger: Logger): EventsSource {
  // An `sshd -E` file has no tags: its lines are sshd's.
  const accumulator = new EventAccumulator({ untaggedIsSshd: true, maxUsers })
  const file = new FileFollower({
    path,
    onLine: (line) => {
      accumulator.addLine(line)
    },
    logger,
  })
  file.start()
  return new Source({
    kind: 'file',
    location: path,
    accumulator,
    source: file,
    restarts: () => file.stats.rotations + file.stats.truncations,
    malformed: () => file.stats.linesCut,
    poll: () => file.poll(),
  })
}

function firstLogFile(rootfs: string): string | undefined {
  for (const f of LOG_FILES) {
    const path = join(rootfs, f)
    if (existsSync(path)) return path
  }
  return undefined
}

/** Opens the configured source, or says why there is none (the collector does not apply). */
export async function openEventsSource(
  options: EventsSourceOptions,
  logger: Logger,
): Promise<EventsSource | { notApplicable: string }> {
  const { source, file, journalDirectory, maxUsers, rootfs } = options
  switch (source) {
    case 'none':
      return { notApplicable: '--collector.events.source=none' }
    case 'journal':
      return followJournal(journalDirectory, maxUsers, logger)
    case 'file':
      return followFile(
        file ?? firstLogFile(rootfs) ?? join(rootfs, LOG_FILES[0]),
        maxUsers,
        logger,
      )
    case 'auto': {
      if (file !== undefined) return followFile(file, maxUsers, logger)
      const journal = await (
        await journalModule()
      ).journalAvailable({ directory: journalDirectory })
      if (journal === true || journalDirectory !== undefined) {
        if (journal !== true) {
          logger.warn({ reason: journal }, 'the journal directory is not readable yet')
        }
        return followJournal(journalDirectory, maxUsers, logger)
      }
      const found = firstLogFile(rootfs)
      if (found !== undefined) {
        logger.debug({ journal }, 'no readable journal; following a log file')
        return followFile(found, maxUsers, logger)
      }
      return {
        notApplicable: `no readable journal (${journal}) and no ${LOG_FILES.join(' or ')} under ${rootfs}`,
      }
    }
  }
}
