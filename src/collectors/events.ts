/**
 * The events collector: what sshd refused and why, counted from its log (the journal or a log
 * file, followed for the exporter's life by state/events-source.ts). Every event of the fixed set
 * is exported from the start, at 0; auth events carry `method` from a fixed set. Nothing a client
 * chose (a user name, an address) ever becomes a label: `sshd_logins_total`'s `user` is the
 * account sshd authenticated, bounded by --collector.events.max-users first seen (root aside; see
 * model/events.ts), so each of its series only grows.
 */
import { LOG_SOURCE_KINDS } from '../sources/log-record.ts'
import { flag } from '../flags/spec.ts'
import { type Collector, defineCollector } from './collector.ts'

export const EVENTS_SOURCES = ['auto', 'journal', 'file', 'none'] as const

export const eventsCollector = defineCollector({
  name: 'events',
  defaultEnabled: true,
  help: "Events read from sshd's log (journal or file): refusals, timeouts, authentications.",
  // Read where sshd's log is followed between scrapes (src/exporter.ts).
  flags: {
    source: flag.choice(
      'collector.events.source',
      EVENTS_SOURCES,
      'auto',
      "Where sshd's log is read: journal, file, none, or auto (the journal when one is readable, else the first log file found).",
    ),
    /** undefined: the first of <rootfs>/var/log/auth.log, secure and messages that exists. */
    file: flag.string(
      'collector.events.file',
      undefined,
      'Log file to follow like `tail -F` (rotation by rename and copytruncate). Default: the first of <rootfs>/var/log/auth.log, <rootfs>/var/log/secure and <rootfs>/var/log/messages that exists.',
    ),
    /** undefined: the system journal. */
    journalDirectory: flag.string(
      'collector.events.journal-directory',
      undefined,
      "Journal directory to read (journalctl --directory), e.g. a host's /var/log/journal mounted in a container. Default: the system journal.",
    ),
    /** Users, root aside, given their own sshd_logins_total series, first seen first. */
    maxUsers: flag.int(
      'collector.events.max-users',
      '100',
      'Most users given their own sshd_logins_total series: the first to log in keep theirs for the exporter\u2019s life, later ones are counted under user="other"; root always has its own.',
    ),
  },
  async create(ctx) {
    // Not at the top: see CollectorDefinition.create.
    const { Counter, Gauge, Registry } = await import('prom-client')
    const source = ctx.events
    if (source === null) return { notApplicable: 'disabled' }
    if ('notApplicable' in source) return source
    const registry = new Registry()
    const registers = [registry]
    const events = new Counter({
      name: 'sshd_events_total',
      help: "Events read from sshd's log since the exporter started, by event (a fixed set, see docs/metrics.md); auth_accepted and auth_failed also by method.",
      labelNames: ['event', 'method'],
      registers,
    })
    const logins = new Counter({
      name: 'sshd_logins_total',
      help: 'Accepted logins (`Accepted …` lines) since the exporter started, by the local account sshd authenticated; root, and the first --collector.events.max-users other users to log in, keep their own series; later users are counted under user="other". root and other are exported from the start, at 0.',
      labelNames: ['user'],
      registers,
    })
    const linesRead = new Counter({
      name: 'sshd_events_lines_read_total',
      help: 'Log lines (or journal entries) read from the events source.',
      registers,
    })
    const linesUnparsed = new Counter({
      name: 'sshd_events_lines_unparsed_total',
      help: "Lines not understood: malformed input, and sshd's own lines that are none of the counted events (a baseline; a sudden change means the log's format changed).",
      registers,
    })
    const up = new Gauge({
      name: 'sshd_events_source_up',
      help: 'Whether the events source is delivering (1): journalctl running, or the log file open.',
      labelNames: ['source'],
      registers,
    })
    const restarts = new Counter({
      name: 'sshd_events_source_restarts_total',
      help: 'Restarts of journalctl, or rotations and truncations of the log file, since start.',
      labelNames: ['source'],
      registers,
    })
    const kind = source.kind

    const collector: Collector = {
      registry,
      async collect() {
        await source.refresh()
        const snap = source.accumulator.snapshot()
        const malformed = source.malformed
        const isUp = source.up ? 1 : 0
        const restarted = source.restarts
        return () => {
          events.reset()
          for (const c of snap.counts) {
            if (c.method === undefined) events.inc({ event: c.event }, c.value)
            else events.inc({ event: c.event, method: c.method }, c.value)
          }
          logins.reset()
          for (const l of snap.logins) logins.inc({ user: l.user }, l.value)
          linesRead.reset()
          linesRead.inc(snap.linesRead + malformed)
          linesUnparsed.reset()
          linesUnparsed.inc(snap.linesUnparsed + malformed)
          up.reset()
          for (const k of LOG_SOURCE_KINDS) up.set({ source: k }, k === kind ? isUp : 0)
          restarts.reset()
          restarts.inc({ source: kind }, restarted)
        }
      },
    }
    return collector
  },
})
