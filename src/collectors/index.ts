/** Every collector the exporter knows, in the order their flags are listed. */
import type { Flags } from '../flags/parse.ts'
import type { FlagValues } from '../flags/spec.ts'
import { configCollector } from './config.ts'
import { eventsCollector } from './events.ts'
import { processesCollector } from './processes.ts'
import { socketsCollector } from './sockets.ts'
import { staleCollector } from './stale.ts'

export const COLLECTORS = [
  processesCollector,
  configCollector,
  staleCollector,
  socketsCollector,
  eventsCollector,
] as const

/** Each collector's own flags, by its name. */
export type CollectorFlags = {
  [D in (typeof COLLECTORS)[number] as D['name']]: FlagValues<D['flags']>
}

/** The exporter's parsed flags. */
export type ExporterFlags = Flags<CollectorFlags>
