/**
 * "sshd fleet": every SSH server at once. Hosts ranked by sessions, pre-auth connections against
 * MaxStartups, refusals, stale sessions, and whether the exporters themselves are healthy. The
 * heavy per-host aggregations come from the recording rules (./recording-rules.ts).
 */
import type { Dashboard, DataTransformerConfig } from '@grafana/grafana-foundation-sdk/dashboard'
import {
  AUTH_FAILURE_EVENTS,
  bargauge,
  dashboard,
  events,
  fixedColor,
  FLEET_UID,
  HOST_UID,
  levels,
  NOISE_EVENTS,
  PENALTY_EVENTS,
  POLICY_REFUSAL_EVENTS,
  REFUSAL_EVENTS,
  sel,
  sessionDurationQueries,
  stat,
  table,
  TIMEOUT_EVENTS,
  timeseries,
  valueText,
} from './common.ts'
import { RECORDING_RULES as R } from './recording-rules.ts'

/** A data link from a table's `instance` column to the host view of that instance. */
const HOST_LINK = [
  {
    id: 'links',
    value: [
      {
        title: 'Open the sshd host view of ${__data.fields.instance}',
        url: `/d/${HOST_UID}/sshd-host?var-datasource=\${datasource}&var-job=\${__data.fields.job}&var-instance=\${__data.fields.instance}&\${__url_time_range}`,
      },
    ],
  },
]

/** Instant table queries merged into one row per (job, instance). */
function hostTable(
  columns: Array<{ name: string; expr: string }>,
  exclude: string[] = [],
): {
  queries: Array<{ expr: string; instant: true; format: 'table' }>
  t: DataTransformerConfig[]
} {
  const renameByName: Record<string, string> = {}
  const indexByName: Record<string, number> = { job: 0, instance: 1 }
  columns.forEach((c, i) => {
    renameByName[`Value #${String.fromCharCode(65 + i)}`] = c.name
    indexByName[c.name] = i + 2
  })
  const excludeByName: Record<string, boolean> = { Time: true }
  for (const e of exclude) excludeByName[e] = true
  return {
    queries: columns.map((c) => ({ expr: c.expr, instant: true, format: 'table' })),
    t: [
      { id: 'merge', options: {} },
      { id: 'organize', options: { excludeByName, renameByName, indexByName } },
    ],
  }
}

export function fleetDashboard(): Dashboard {
  const refusals = events(REFUSAL_EVENTS)

  const hosts = hostTable([
    { name: 'Sessions', expr: `sum by (job, instance) (${sel(R.sessions)})` },
    {
      name: 'Authenticated',
      expr: `sum by (job, instance) (${sel('sshd_connections', 'state="authenticated"')})`,
    },
    {
      name: 'Most sessions on a connection',
      expr: `max by (job, instance) (${sel('sshd_connection_sessions_max')})`,
    },
    { name: 'MaxSessions', expr: `min by (job, instance) (${sel('sshd_config_max_sessions')})` },
    { name: 'Startups', expr: `sum by (job, instance) (${sel('sshd_startups')})` },
    {
      name: 'MaxStartups full used',
      expr: `max by (job, instance) (${sel(R.startupsRatioFull)})`,
    },
    { name: 'Stale', expr: `sum by (job, instance) (${sel(R.staleSessions)})` },
    { name: 'sshd', expr: `max by (job, instance) (${sel('sshd_up')})` },
  ])

  const health = hostTable([
    { name: 'Exporter', expr: `max by (job, instance) (${sel('up')})` },
    { name: 'sshd', expr: `max by (job, instance) (${sel('sshd_up')})` },
    {
      name: 'Collectors failing',
      expr: `count by (job, instance) (${sel('sshd_scrape_collector_success')} == 0) or on (job, instance) (0 * max by (job, instance) (${sel('sshd_scrape_collector_success')}))`,
    },
    {
      name: 'Slowest collector',
      expr: `max by (job, instance) (${sel('sshd_scrape_collector_duration_seconds')})`,
    },
    { name: 'Events source', expr: `max by (job, instance) (${sel('sshd_events_source_up')})` },
    {
      name: 'Malformed /proc entries',
      expr: `sum by (job, instance) (increase(${sel('sshd_exporter_malformed_input_total')}[$__rate_interval]))`,
    },
  ])

  return dashboard({
    uid: FLEET_UID,
    title: 'sshd fleet',
    description:
      'Every SSH server that runs sshd-exporter: hosts ranked by sessions, pre-auth connections against MaxStartups, refusals, logins, policy refusals and penalties, stale sessions and exporter health. See dashboards/README.md for each panel.',
    instanceIncludeAll: true,
    rows: [
      {
        title: 'Fleet at a glance',
        panels: [
          stat({
            title: 'Hosts with sshd',
            description:
              'SSH servers where sshd accepts connections (sshd_up == 1): a listener process, or a socket held for sshd by systemd or inetd. Red at 0: no selected host accepts SSH logins.',
            unit: 'short',
            thresholds: levels('red', [1, 'green']),
            queries: [{ expr: `count(${sel('sshd_up')} == 1) or vector(0)` }],
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Hosts with sshd down',
            description:
              'SSH servers whose exporter runs but finds neither an sshd listener nor a socket held for sshd (sshd_up == 0): new SSH logins to them fail. Red from 1.',
            unit: 'short',
            thresholds: levels('green', [1, 'red']),
            queries: [{ expr: `count(${sel('sshd_up')} == 0) or vector(0)` }],
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Exporters down',
            description:
              'sshd-exporter targets that Prometheus fails to scrape (up == 0). Their hosts are unmonitored: nothing else on this dashboard covers them. Red from 1.',
            unit: 'short',
            thresholds: levels('green', [1, 'red']),
            queries: [{ expr: `count(${sel('up')} == 0) or vector(0)` }],
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Open sessions',
            description:
              'Open SSH sessions (shell, command, subsystem such as sftp) on the selected hosts: session channels, not processes or TCP connections. One multiplexed connection can carry several. Orange from 1000: a starting point, tune it to your fleet.',
            unit: 'short',
            thresholds: levels('green', [1000, 'orange']),
            queries: [{ expr: `sum(${sel(R.sessions)})` }],
            sparkline: true,
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Fullest MaxStartups',
            description:
              'The highest ratio of unauthenticated connections to MaxStartups full on any selected host (the recording rule instance:sshd_startups:ratio_full). At 100% that sshd refuses every new connection. Orange from 50%, red from 90% (the SshdMaxStartupsFull alert).',
            unit: 'percentunit',
            thresholds: levels('green', [0.5, 'orange'], [0.9, 'red']),
            queries: [{ expr: `max(${sel(R.startupsRatioFull)})` }],
            sparkline: true,
            decimals: 0,
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Refusals',
            description: `Refusals per minute across the selected hosts, from sshd's log over the last 5 minutes: ${REFUSAL_EVENTS.join(', ')}. Orange from 0.1/min (one refusal in 5 minutes shows 0.2), red from 5/min.`,
            unit: 'cpm',
            thresholds: levels('green', [0.1, 'orange'], [5, 'red']),
            queries: [{ expr: `sum(${sel(R.eventsRate5m, refusals)}) * 60 or vector(0)` }],
            sparkline: true,
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Stale sessions',
            description:
              'Stale sessions and connections on the selected hosts, all reasons (utmp ghosts, idle ttys, pre-auth past LoginGraceTime, dead peers). Orange from 1, red from 10.',
            unit: 'short',
            thresholds: levels('green', [1, 'orange'], [10, 'red']),
            queries: [{ expr: `sum(${sel(R.staleSessions)}) or vector(0)` }],
            sparkline: true,
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Failing collectors',
            description:
              'Collectors (processes, config, stale, sockets, events) whose last scrape failed, counted over all selected hosts (sshd_scrape_collector_success == 0). Their metrics are missing there. Red from 1.',
            unit: 'short',
            thresholds: levels('green', [1, 'red']),
            queries: [{ expr: `count(${sel('sshd_scrape_collector_success')} == 0) or vector(0)` }],
            w: 3,
            h: 4,
          }),
        ],
      },
      {
        title: 'Sessions',
        panels: [
          bargauge({
            title: 'Hosts ranked by sessions',
            description:
              'The 15 selected hosts with the most open sessions now. Bars are coloured from orange at 100 sessions and red at 500: starting points, tune them to your hosts.',
            unit: 'short',
            thresholds: levels('green', [100, 'orange'], [500, 'red']),
            queries: [
              {
                expr: `sort_desc(topk(15, ${sel(R.sessions)}))`,
                legend: '{{instance}}',
                instant: true,
              },
            ],
            min: 0,
            w: 8,
            h: 10,
          }),
          table({
            title: 'Hosts',
            description:
              'One row per host, ranked by sessions: sessions, authenticated connections, the most sessions on one connection against MaxSessions, unauthenticated connections (startups) and how full MaxStartups is, stale sessions, and sshd_up. Click a host to open its host view. Colours: MaxStartups used from 50% orange and 90% red; stale from 1 orange and 10 red; sshd down red.',
            unit: 'short',
            thresholds: levels('green', [100, 'orange'], [500, 'red']),
            queries: hosts.queries,
            transformations: hosts.t,
            sortBy: { column: 'Sessions', desc: true },
            overrides: [
              { name: 'instance', set: HOST_LINK },
              {
                name: 'MaxStartups full used',
                set: [
                  { id: 'unit', value: 'percentunit' },
                  { id: 'decimals', value: 0 },
                  {
                    id: 'thresholds',
                    value: {
                      mode: 'absolute',
                      steps: levels('green', [0.5, 'orange'], [0.9, 'red']),
                    },
                  },
                  { id: 'custom.cellOptions', value: { type: 'color-text' } },
                ],
              },
              {
                name: 'Stale',
                set: [
                  {
                    id: 'thresholds',
                    value: { mode: 'absolute', steps: levels('green', [1, 'orange'], [10, 'red']) },
                  },
                  { id: 'custom.cellOptions', value: { type: 'color-text' } },
                ],
              },
              {
                name: 'sshd',
                set: [
                  {
                    id: 'mappings',
                    value: valueText({ '0': ['down', 'red'], '1': ['up', 'green'] }),
                  },
                  { id: 'custom.cellOptions', value: { type: 'color-text' } },
                ],
              },
            ],
            w: 16,
            h: 10,
          }),
          timeseries({
            title: 'Sessions by host',
            description:
              'Open sessions per host over time (instance:sshd_sessions:sum). A host that drops to 0 while others keep theirs lost its sessions (sshd restart, network, reboot); a steady climb is sessions nobody closes (see Stale sessions). Dashed line at 500: a starting point.',
            unit: 'short',
            thresholds: levels('green', [500, 'orange']),
            queries: [{ expr: sel(R.sessions), legend: '{{instance}}' }],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Connections by state',
            description:
              'Connections to sshd across the selected hosts: authenticated, and pre-authentication (preauth: TCP accepted, login not finished). Many preauth connections are scanners or a slow authentication backend; they count against MaxStartups. Orange from 10 (MaxStartups begin by default, per host).',
            unit: 'short',
            thresholds: levels('green', [10, 'orange']),
            queries: [{ expr: `sum by (state) (${sel('sshd_connections')})`, legend: '{{state}}' }],
            min: 0,
            w: 12,
            h: 8,
          }),
        ],
      },
      {
        title: 'MaxStartups and refusals',
        panels: [
          timeseries({
            title: 'Startups against MaxStartups full',
            description:
              "Unauthenticated connections per host as a fraction of the listener's MaxStartups full (instance:sshd_startups:ratio_full). From begin (10 of 100 by default) sshd drops new connections at random, more the closer it gets to full; at 100% it drops every new connection. Dashed lines at 50% and 90%.",
            unit: 'percentunit',
            thresholds: levels('green', [0.5, 'orange'], [0.9, 'red']),
            showThresholds: true,
            queries: [{ expr: sel(R.startupsRatioFull), legend: '{{instance}}' }],
            min: 0,
            max: 1,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Refusals by event',
            description:
              'What sshd refused, per minute over 5 minutes, summed over the selected hosts: no_more_sessions (MaxSessions), startups_dropped (MaxStartups), penalty_dropped (PerSourcePenalties), max_auth_tries_exceeded (MaxAuthTries). Dashed lines at 0.1/min (orange) and 5/min (red).',
            unit: 'cpm',
            thresholds: levels('green', [0.1, 'orange'], [5, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: `sum by (event) (${sel(R.eventsRate5m, refusals)}) * 60`,
                legend: '{{event}}',
              },
            ],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Refusals by host',
            description:
              'The same refusals per host: which servers turn users away. Dashed lines at 0.1/min (orange) and 5/min (red).',
            unit: 'cpm',
            thresholds: levels('green', [0.1, 'orange'], [5, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: `sum by (instance) (${sel(R.eventsRate5m, refusals)}) * 60`,
                legend: '{{instance}}',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Authentication failures by host',
            description:
              'Failed authentications, invalid users and MaxAuthTries refusals per minute and host. A steady trickle is the internet; a jump is a brute-force run or a broken key rollout. Orange from 10/min, red from 60/min (the SshdAuthFailureSurge alert).',
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange'], [60, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: `sum by (instance) (${sel(R.eventsRate5m, events(AUTH_FAILURE_EVENTS))}) * 60`,
                legend: '{{instance}}',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Timeouts by event',
            description:
              'Connections sshd closed on a timer, per minute over the selected hosts: login_grace_timeout (LoginGraceTime), client_alive_timeout (ClientAliveCountMax), unused_connection_timeout (UnusedConnectionTimeout), channel_timeout (ChannelTimeout). Expected when those are set; orange from 10/min.',
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: `sum by (event) (${sel(R.eventsRate5m, events(TIMEOUT_EVENTS))}) * 60`,
                legend: '{{event}}',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
        ],
      },
      {
        title: 'Logins, policy refusals and penalties',
        panels: [
          timeseries({
            title: 'Refused by policy by event',
            description:
              "Logins sshd's configuration refused, per minute over 5 minutes, summed over the selected hosts: login_not_allowed (AllowUsers, DenyUsers, AllowGroups, DenyGroups, a locked account; every OpenSSH version), root_login_refused (PermitRootLogin; every version, once per refused attempt), connection_refused (RefuseConnection, OpenSSH 9.9+). Mostly scanners trying root on hosts open to the internet; login_not_allowed for your own users is someone the policy locks out. Orange from 10/min: a starting point.",
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: `sum by (event) (${sel(R.eventsRate5m, events(POLICY_REFUSAL_EVENTS))}) * 60`,
                legend: '{{event}}',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Penalties imposed by reason',
            description:
              'Penalties PerSourcePenalties (OpenSSH 9.8+, on by default) imposed on client addresses, per minute over the selected hosts, by reason: authfail, noauth, grace_exceeded, refuseconnection (9.9+), invaliduser (10.3+), crash (red: a client made sshd crash). sshd logs them at INFO from 10.1 and at VERBOSE only on 9.8 to 10.0. Orange from 10/min: a starting point.',
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: `sum by (event) (${sel(R.eventsRate5m, events(PENALTY_EVENTS))}) * 60`,
                legend: '{{event}}',
              },
            ],
            overrides: [{ name: 'penalty_imposed_crash', set: [fixedColor('red')] }],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Scanners and broken clients by host',
            description:
              'Connections that ended before authentication without getting anywhere, per minute and host: preauth_closed (closed or reset by the client), negotiation_failed (no common algorithms: an old client or a scanner), banner_invalid (not an SSH client at all). Every OpenSSH version logs them. Shows which hosts the internet reaches. Orange from 60/min: a starting point.',
            unit: 'cpm',
            thresholds: levels('green', [60, 'orange']),
            queries: [
              {
                expr: `sum by (instance) (${sel(R.eventsRate5m, events(NOISE_EVENTS))}) * 60`,
                legend: '{{instance}}',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Logins by user',
            description:
              'Accepted logins per minute by local account, summed over the selected hosts, the 10 busiest users at each time (sshd_logins_total; each host keeps its first --collector.events.max-users users and counts later ones as other). root is red: a root login fires the SshdRootLogin alert. Orange from 60/min for one user: a starting point, usually automation that does not reuse its connections.',
            unit: 'cpm',
            thresholds: levels('green', [60, 'orange']),
            queries: [
              {
                expr: `topk(10, sum by (user) (rate(${sel('sshd_logins_total')}[$__rate_interval]))) * 60`,
                legend: '{{user}}',
              },
            ],
            overrides: [{ name: 'root', set: [fixedColor('red')] }],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Session duration',
            description:
              'How long the authenticated connections that ended on the selected hosts lasted (sshd_session_duration_seconds, from the process tree: any OpenSSH version, resolution the scrape interval): median, 90th and 99th percentile, and mean. The buckets are coarse (1 s to 7 days): percentiles are interpolated inside a bucket. Gaps: no connection ended then. Informational (blue).',
            unit: 's',
            thresholds: levels('blue'),
            queries: sessionDurationQueries(),
            min: 0,
            w: 12,
            h: 8,
          }),
        ],
      },
      {
        title: 'Stale sessions',
        panels: [
          timeseries({
            title: 'Stale sessions by host',
            description:
              'Stale sessions and connections per host, all reasons (instance:sshd_stale_sessions:sum). Dashed lines at 1 (orange) and 10 (red, the SshdStaleSessionsPilingUp alert).',
            unit: 'short',
            thresholds: levels('green', [1, 'orange'], [10, 'red']),
            showThresholds: true,
            queries: [{ expr: sel(R.staleSessions), legend: '{{instance}}' }],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Stale sessions by reason',
            description:
              'Stale sessions over the selected hosts by reason: utmp_orphan (a login record whose process is gone: what `who` shows wrongly), idle (a pty idle past the threshold), preauth_overdue (not authenticated after LoginGraceTime), dead_peer (the client is gone but sshd holds the connection). Dashed lines at 1 and 10.',
            unit: 'short',
            thresholds: levels('green', [1, 'orange'], [10, 'red']),
            showThresholds: true,
            queries: [
              { expr: `sum by (reason) (${sel('sshd_stale_sessions')})`, legend: '{{reason}}' },
            ],
            min: 0,
            w: 12,
            h: 8,
          }),
        ],
      },
      {
        title: 'Exporter and collector health',
        panels: [
          table({
            title: 'Exporter health by host',
            description:
              'One row per target: whether Prometheus scrapes the exporter (up), whether it finds sshd (sshd_up), how many of its collectors failed their last scrape, its slowest collector, whether its log source (journal or file) delivers, and /proc entries it skipped as malformed. A host with Exporter down has no other data. Red: down, failing collectors, a slowest collector from 4 s (the time limit is 5 s), malformed input.',
            unit: 'short',
            thresholds: levels('green', [1, 'red']),
            queries: health.queries,
            transformations: health.t,
            sortBy: { column: 'Exporter', desc: false },
            overrides: [
              { name: 'instance', set: HOST_LINK },
              ...['Exporter', 'sshd', 'Events source'].map((name) => ({
                name,
                set: [
                  {
                    id: 'mappings',
                    value: valueText({ '0': ['down', 'red'], '1': ['up', 'green'] }),
                  },
                  { id: 'custom.cellOptions', value: { type: 'color-text' } },
                ],
              })),
              ...['Collectors failing', 'Malformed /proc entries'].map((name) => ({
                name,
                set: [{ id: 'custom.cellOptions', value: { type: 'color-text' } }],
              })),
              {
                name: 'Slowest collector',
                set: [
                  { id: 'unit', value: 's' },
                  {
                    id: 'thresholds',
                    value: { mode: 'absolute', steps: levels('green', [1, 'orange'], [4, 'red']) },
                  },
                  { id: 'custom.cellOptions', value: { type: 'color-text' } },
                ],
              },
            ],
            w: 24,
            h: 8,
          }),
          timeseries({
            title: 'Hosts failing each collector',
            description:
              'How many hosts have each collector failing (sshd_scrape_collector_success == 0). Empty is healthy. A failing collector loses only its own metrics; the exporter logs why once. Red from 1 (the SshdCollectorFailing alert fires after 15 minutes).',
            unit: 'short',
            thresholds: levels('green', [1, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: `count by (collector) (${sel('sshd_scrape_collector_success')} == 0)`,
                legend: '{{collector}}',
              },
            ],
            noValue: 'none failing',
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Collector duration (slowest host)',
            description:
              'For each collector, its duration on the slowest selected host (sshd_scrape_collector_duration_seconds). A scrape reads only sshd processes, so this stays in milliseconds; a collector past --scrape.collector-timeout (5 s) fails. Dashed lines at 1 s and 4 s.',
            unit: 's',
            thresholds: levels('green', [1, 'orange'], [4, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: `max by (collector) (${sel('sshd_scrape_collector_duration_seconds')})`,
                legend: '{{collector}}',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Malformed input and unparsed log lines',
            description:
              "Per minute and host: /proc entries the exporter skipped as malformed (should stay 0), and sshd log lines it did not understand (a baseline of sshd's other messages; a sudden change means the log format changed). Orange from 1/min, red from 60/min.",
            unit: 'cpm',
            thresholds: levels('green', [1, 'orange'], [60, 'red']),
            queries: [
              {
                expr: `sum by (instance) (rate(${sel('sshd_exporter_malformed_input_total')}[$__rate_interval])) * 60`,
                legend: '{{instance}} malformed /proc',
              },
              {
                expr: `sum by (instance) (rate(${sel('sshd_events_lines_unparsed_total')}[$__rate_interval])) * 60`,
                legend: '{{instance}} unparsed log lines',
              },
            ],
            min: 0,
            w: 8,
            h: 8,
          }),
        ],
      },
    ],
  })
}
