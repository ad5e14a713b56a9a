/**
 * Wires a Config into a running exporter's parts: the collectors (created
 * once), the scraper, the exporter's own metrics and the HTTP app.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import {
  type Collector,
  type CollectorDefinition,
  isNotApplicable,
} from './collectors/collector.ts'
import { COLLECTORS } from './collectors/index.ts'
import type { Config } from './flags.ts'
import type { Logger } from './logger.ts'
import { Scraper } from './scrape.ts'
import { type App, buildApp } from './server/app.ts'
import type { CollectorStatus } from './server/landing.ts'
import { ProcFS } from './sources/procfs.ts'
import { VERSION } from './version.ts'

export interface Exporter {
  app: App
  scraper: Scraper
  collectors: readonly CollectorStatus[]
}

function exporterRegistry(config: Config): Registry {
  const registry = new Registry()
  const info = new Gauge({
    name: 'sshd_exporter_build_info',
    help: 'A metric with a constant 1 value labelled by the version of sshd_exporter and of Node.js it runs on.',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  })
  info.set({ version: VERSION, nodejs: process.versions.node }, 1)
  if (!config.web.disableExporterMetrics) collectDefaultMetrics({ register: registry })
  return registry
}

export async function createExporter(
  config: Config,
  logger: Logger,
  definitions: readonly CollectorDefinition[] = COLLECTORS,
): Promise<Exporter> {
  const procfs = new ProcFS(config.path.procfs)
  const collectors = new Map<string, Collector>()
  const statuses: CollectorStatus[] = []
  for (const def of definitions) {
    if (!config.collectors[def.name]) {
      statuses.push({ name: def.name, state: 'disabled' })
      continue
    }
    const created = await def.create({
      config,
      procfs,
      logger: logger.child({ collector: def.name }),
    })
    if (isNotApplicable(created)) {
      logger.info(
        { collector: def.name, reason: created.notApplicable },
        'collector not applicable on this host',
      )
      statuses.push({ name: def.name, state: 'not applicable', reason: created.notApplicable })
      continue
    }
    collectors.set(def.name, created)
    statuses.push({ name: def.name, state: 'enabled' })
  }

  const scraper = new Scraper({
    collectors,
    procfs,
    logger,
    timeoutSeconds: config.scrape.collectorTimeoutSeconds,
    registries: [exporterRegistry(config)],
  })
  const app = buildApp({
    telemetryPath: config.web.telemetryPath,
    scrape: () => scraper.scrape(),
    logger,
    version: VERSION,
    collectors: statuses,
  })
  return { app, scraper, collectors: statuses }
}
