/** Every collector the exporter knows, in the order their flags are listed. */
import type { CollectorDefinition } from './collector.ts'
import { configCollector } from './config.ts'
import { eventsCollector } from './events.ts'
import { processesCollector } from './processes.ts'
import { socketsCollector } from './sockets.ts'
import { staleCollector } from './stale.ts'

export const COLLECTORS: readonly CollectorDefinition[] = [
  processesCollector,
  configCollector,
  staleCollector,
  socketsCollector,
  eventsCollector,
]
