/**
 * Wires a Config into a running exporter's parts: the collectors (created
 * once), the scraper, the exporter's own metrics and the HTTP app.
 */
import { join } from 'node:path'
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import {
  type Collector,
  type CollectorDefinition,
  isNotApplicable,
} from './collectors/collector.ts'
import { COLLECTORS } from './collectors/index.ts'
import type { Config } from './flags.ts'
import type { Logger } from './logger.ts'
import { SshdConfigs } from './model/effective-config.ts'
import { openEventsSource } from './model/events-source.ts'
import { Scraper } from './scrape.ts'
import { ProcFS } from './sources/procfs.ts'
import { findSshdBinary } from './sources/sshd-binary.ts'
import { VERSION } from './version.ts'
import { type App, buildApp } from './web/app.ts'
import { WebConfigSource } from './web/web.ts'

export interface CollectorStatus {
  name: string
  /** enabled, disabled by flag, or not applicable on this host (with the reason). */
  state: 'enabled' | 'disabled' | 'not applicable'
  reason?: string
}

/** This exporter's name in the web layer's log lines ("restart sshd-exporter to apply it"). */
const PROGRAM = 'sshd-exporter'
/** What the landing page says of this exporter. */
const LANDING = {
  name: 'sshd exporter',
  description: `Prometheus exporter for OpenSSH servers: sessions per connection and user,
MaxSessions, MaxStartups, stale sessions and what sshd refused.`,
}

function collectorRow(c: CollectorStatus): string[] {
  return [c.name, c.reason === undefined ? c.state : `${c.state} (${c.reason})`]
}

export interface Exporter {
  app: App
  scraper: Scraper
  collectors: readonly CollectorStatus[]
  /** The --web.config.file in force; undefined without one. */
  web: WebConfigSource | undefined
  /** Re-reads what is cached between scrapes (sshd's configuration, the web config); on SIGHUP. */
  reload(): Promise<void>
  /** Stops what runs between scrapes (the log source's journalctl or file); at shutdown. */
  close(): Promise<void>
}

const LINT_FAILING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]

function exporterRegistry(config: Config): Registry {
  const registry = new Registry()
  const info = new Gauge({
    name: 'sshd_exporter_build_info',
    help: 'A metric with a constant 1 value labelled by the version of sshd_exporter and of Node.js it runs on.',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  })
  info.set({ version: VERSION, nodejs: process.versions.node }, 1)
  if (!config.web.disableExporterMetrics) {
    collectDefaultMetrics({ register: registry })
    // prom-client names these gauges *_total, which promtool rejects (a _total suffix
    // promises a counter); the same numbers remain by type in nodejs_active_handles etc.
    for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name)
  }
  return registry
}

/** sshd's configurations; the default one read once before the first scrape. */
async function configReader(config: Config, logger: Logger): Promise<SshdConfigs> {
  const sshdBinary =
    config.config.sshdBinary === undefined ? findSshdBinary() : config.config.sshdBinary
  const reader = new SshdConfigs({
    sshdBinary,
    sshdBinaryGiven: config.config.sshdBinary !== undefined,
    rootfs: config.path.rootfs,
    file: config.config.file ?? join(config.path.rootfs, 'etc', 'ssh', 'sshd_config'),
    fileExplicit: config.config.file !== undefined,
    logger: logger.child({ collector: 'config' }),
  })
  try {
    const read = await reader.default.refresh()
    logger.info(
      { collector: 'config', source: read.source, max_sessions: read.values.maxSessions },
      'read sshd configuration',
    )
  } catch (err) {
    logger.warn({ collector: 'config', err }, 'cannot read sshd configuration yet')
  }
  return reader
}

export async function createExporter(
  config: Config,
  logger: Logger,
  definitions: readonly CollectorDefinition[] = COLLECTORS,
): Promise<Exporter> {
  // First: a bad web config stops start-up before anything else is started.
  const web =
    config.web.configFile === undefined
      ? undefined
      : await WebConfigSource.open(config.web.configFile, logger, PROGRAM)
  const procfs = new ProcFS(config.path.procfs)
  const sshdConfig = config.collectors.config ? await configReader(config, logger) : null
  const events = config.collectors.events
    ? await openEventsSource(config, logger.child({ collector: 'events' }))
    : null
  if (events !== null && !isNotApplicable(events)) {
    logger.info(
      { collector: 'events', source: events.kind, location: events.location ?? 'system journal' },
      "following sshd's log",
    )
  }
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
      sshdConfig,
      events,
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
    rescanIntervalMs: config.processes.rescanIntervalSeconds * 1000,
    registries: [exporterRegistry(config)],
    configs: sshdConfig,
  })
  const app = buildApp({
    telemetryPath: config.web.telemetryPath,
    scrape: () => scraper.scrape(),
    logger,
    version: VERSION,
    landing: {
      ...LANDING,
      tables: [{ heading: 'Collectors', rows: statuses.map(collectorRow) }],
    },
    web,
  })
  const reload = async () => {
    await web?.refresh()
    if (sshdConfig === null) return
    const read = await sshdConfig.refresh()
    logger.info(
      { collector: 'config', source: read.source, max_sessions: read.values.maxSessions },
      'read sshd configuration',
    )
  }
  const close = async () => {
    if (events !== null && !isNotApplicable(events)) await events.stop()
  }
  return { app, scraper, collectors: statuses, web, reload, close }
}
