/**
 * Wires the parsed flags into a running exporter's parts: the collectors (created
 * once), the scraper, the exporter's own metrics and the HTTP app.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import {
  type Collector,
  type CollectorDefinition,
  isNotApplicable,
} from './collectors/collector.ts'
import { COLLECTORS, type ExporterFlags } from './collectors/index.ts'
import type { FlagGroup, FlagValues } from './flags/spec.ts'
import type { Logger } from './logger.ts'
import { SshdConfigs } from './state/sshd-configs.ts'
import { openEventsSource } from './state/events-source.ts'
import { Scraper } from './scrape/scraper.ts'
import { ExporterState } from './state/state.ts'
import { ProcFS } from './sources/procfs.ts'
import { VERSION } from './version.ts'
import { readSessions } from './scrape/sessions.ts'
import { SESSIONS_API, SESSIONS_PAGE, sessionsRoutes } from './sessions/routes.ts'
import { type App, type AppRoute, buildApp } from './web/app.ts'
import type { WebConfigSource } from './web/web.ts'

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

function exporterRegistry(flags: ExporterFlags): Registry {
  const registry = new Registry()
  const info = new Gauge({
    name: 'sshd_exporter_build_info',
    help: 'A metric with a constant 1 value labelled by the version of sshd_exporter and of Node.js it runs on.',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  })
  info.set({ version: VERSION, nodejs: process.versions.node }, 1)
  if (!flags.web.disableExporterMetrics) {
    collectDefaultMetrics({ register: registry })
    // prom-client names these gauges *_total, which promtool rejects (a _total suffix
    // promises a counter); the same numbers remain by type in nodejs_active_handles etc.
    for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name)
  }
  return registry
}

/** sshd's configurations; the default one read once before the first scrape. */
async function configReader(flags: ExporterFlags, logger: Logger): Promise<SshdConfigs> {
  const reader = SshdConfigs.fromFlags(
    flags.collector.config,
    flags.path.rootfs,
    logger.child({ collector: 'config' }),
  )
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

/** Whether the web config asks every request for credentials: basic auth or a client certificate. */
function requiresAuthentication(web: WebConfigSource | undefined): boolean {
  if (web === undefined) return false
  const { config } = web.initial
  return config.users.size > 0 || config.tls?.clientAuthType === 'RequireAndVerifyClientCert'
}

export async function createExporter(
  flags: ExporterFlags,
  logger: Logger,
  definitions: readonly CollectorDefinition[] = COLLECTORS,
): Promise<Exporter> {
  // First: a bad web config stops start-up before anything else is started.
  // The web layer (yaml, the TLS and basic auth modules) loaded only where a file asks for it:
  // about 2 MB less RSS without one (bench/notes.md, "Resident memory at N = 1,000").
  const web =
    flags.web.configFile === undefined
      ? undefined
      : await (
          await import('./web/web.ts')
        ).WebConfigSource.open(flags.web.configFile, logger, PROGRAM)
  const procfs = new ProcFS(flags.path.procfs)
  const sshdConfig = flags.collectors.config ? await configReader(flags, logger) : null
  const events = flags.collectors.events
    ? await openEventsSource(
        { ...flags.collector.events, rootfs: flags.path.rootfs },
        logger.child({ collector: 'events' }),
      )
    : null
  if (events !== null && !isNotApplicable(events)) {
    logger.info(
      { collector: 'events', source: events.kind, location: events.location ?? 'system journal' },
      "following sshd's log",
    )
  }
  const state = new ExporterState({
    procfs,
    rootfs: flags.path.rootfs,
    logger,
    rescanIntervalMs: flags.collector.processes.rescanIntervalSeconds * 1000,
    configs: sshdConfig,
    events,
  })
  const collectors = new Map<string, Collector>()
  const statuses: CollectorStatus[] = []
  for (const def of definitions) {
    if (!flags.collectors[def.name]) {
      statuses.push({ name: def.name, state: 'disabled' })
      continue
    }
    const created = await def.create({
      // parseFlags gave every collector its object, of the type its definition declares.
      flags: (flags.collector as Record<string, FlagValues<FlagGroup>>)[def.name]!,
      rootfs: flags.path.rootfs,
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
    state,
    logger,
    timeoutSeconds: flags.scrape.collectorTimeoutSeconds,
    registries: [exporterRegistry(flags)],
  })
  const notes: string[] = []
  let routes: AppRoute[] = []
  if (flags.web.enableSessions) {
    routes = sessionsRoutes(() =>
      scraper.view((scrape) =>
        readSessions(
          scrape,
          { procfs, configs: sshdConfig },
          {
            idleThresholdSeconds: flags.collector.stale.idleThresholdSeconds,
            preauthThresholdSeconds: flags.collector.stale.preauthThresholdSeconds,
            withSessions: true,
          },
        ),
      ),
    )
    if (!requiresAuthentication(web)) {
      const warning = `The live sessions page is on without authentication: anyone who reaches this address sees user names, client addresses and command lines. Configure basic_auth_users or RequireAndVerifyClientCert in --web.config.file.`
      logger.warn({ pages: [SESSIONS_PAGE, SESSIONS_API] }, warning)
      notes.push(warning)
    }
  }
  const app = buildApp({
    telemetryPath: flags.web.telemetryPath,
    scrape: () => scraper.scrape(),
    logger,
    version: VERSION,
    landing: {
      ...LANDING,
      notes,
      tables: [{ heading: 'Collectors', rows: statuses.map(collectorRow) }],
    },
    web,
    routes,
    limits: { maxConnections: flags.web.maxConnections },
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
