/**
 * "sshd host": one SSH server (or a few, summed) in detail. Sessions by user, multiplexing against
 * MaxSessions, pre-auth connections against MaxStartups, stale sessions, log events, client
 * addresses, the effective configuration and the exporter's own health. Raw metrics throughout:
 * a host's series are few.
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import {
  AUTH_FAILURE_EVENTS,
  bargauge,
  dashboard,
  events,
  fixedColor,
  gauge,
  HOST_UID,
  levels,
  limitLine,
  NOISE_EVENTS,
  PENALTY_EVENTS,
  POLICY_REFUSAL_EVENTS,
  sel,
  sessionDurationQueries,
  sessionsDashboardLink,
  sessionsSchemeVariable,
  stat,
  STARTUP_DROP_EVENTS,
  table,
  TIMEOUT_EVENTS,
  timeseries,
  valueText,
} from './common.ts'

const DAY = 86_400

/** The threshold label values of sshd_pty_sessions_idle_over, shortest first. */
const IDLE_THRESHOLDS = ['1m', '5m', '15m', '1h', '4h', '1d'] as const

/** `sum(rate(<metric>{…}[$__rate_interval])) * 60`, by `by` when given: per minute. */
function perMinute(metric: string, by: string | undefined, ...more: string[]): string {
  const rate = `rate(${sel(metric, ...more)}[$__rate_interval])`
  return `sum${by ? ` by (${by})` : ''} (${rate}) * 60`
}

export function hostDashboard(): Dashboard {
  const upDown = valueText({ '0': ['down', 'red'], '1': ['up', 'green'] })
  return dashboard({
    uid: HOST_UID,
    title: 'sshd host',
    description:
      'One SSH server in detail (several selected are summed): sessions by user, logins and session length, multiplexing against MaxSessions, pre-auth connections against MaxStartups, stale sessions, log events, policy refusals, penalties and scanners, client addresses, effective configuration and exporter health. See dashboards/README.md for each panel.',
    instanceIncludeAll: false,
    moreVariables: [sessionsSchemeVariable()],
    moreLinks: [sessionsDashboardLink()],
    rows: [
      {
        title: 'Now',
        panels: [
          stat({
            title: 'sshd',
            description:
              'Whether sshd accepts connections here (sshd_up): a listener process, or a socket held for sshd by systemd or inetd (socket activation, per-connection sshd). Down means new SSH logins fail; open sessions live on.',
            unit: 'none',
            thresholds: levels('red', [1, 'green']),
            mappings: upDown,
            queries: [{ expr: `min(${sel('sshd_up')})` }],
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Exporter',
            description:
              'Whether Prometheus scrapes sshd-exporter on this host (up). When down, every other panel here is empty or stale.',
            unit: 'none',
            thresholds: levels('red', [1, 'green']),
            mappings: upDown,
            queries: [{ expr: `min(${sel('up')})` }],
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Sessions',
            description:
              "Open sessions: shell, command and subsystem (sftp) channels, counted from sshd's process tree, not `ps | grep sshd` processes nor TCP connections. Orange from 100: a starting point, tune it to the host.",
            unit: 'short',
            thresholds: levels('green', [100, 'orange']),
            queries: [{ expr: `sum(${sel('sshd_sessions')})` }],
            sparkline: true,
            sessions: 'all',
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Authenticated connections',
            description:
              'Logged-in SSH connections. A connection can carry many sessions (ControlMaster, VS Code, Ansible); compare with Sessions. Orange from 100: a starting point.',
            unit: 'short',
            thresholds: levels('green', [100, 'orange']),
            queries: [{ expr: `sum(${sel('sshd_connections', 'state="authenticated"')})` }],
            sparkline: true,
            sessions: 'all',
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Startups (pre-auth)',
            description:
              "Unauthenticated connections as sshd counts them against MaxStartups (the listener's own count; every sshd instance summed). Orange from 10: MaxStartups begin by default, where sshd starts dropping connections at random; see the gauge beside it for this host's limits.",
            unit: 'short',
            thresholds: levels('green', [10, 'orange']),
            queries: [{ expr: `sum(${sel('sshd_startups')})` }],
            sparkline: true,
            sessions: 'all',
            w: 3,
            h: 4,
          }),
          gauge({
            title: 'MaxStartups used',
            description:
              'Startups as a fraction of MaxStartups full, as the running listener reports it (the fullest sshd instance). At 100% sshd refuses every new connection; from begin (10% of full by default) it refuses some at random. Orange from 50%, red from 90%.',
            unit: 'percentunit',
            thresholds: levels('green', [0.5, 'orange'], [0.9, 'red']),
            queries: [
              {
                expr: `max(${sel('sshd_startups')} / ignoring (bound) ${sel('sshd_max_startups', 'bound="full"')})`,
              },
            ],
            min: 0,
            max: 1,
            decimals: 0,
            sessions: 'all',
            w: 3,
            h: 4,
          }),
          gauge({
            title: 'MaxSessions used',
            description:
              'The most sessions on any one connection as a fraction of the effective MaxSessions. At 100% that connection refuses its next session ("no more sessions"). Orange from 80%, red at 100%.',
            unit: 'percentunit',
            thresholds: levels('green', [0.8, 'orange'], [1, 'red']),
            queries: [
              {
                expr: `max(${sel('sshd_connection_sessions_max')} / on (job, instance) min by (job, instance) (${sel('sshd_config_max_sessions')}))`,
              },
            ],
            min: 0,
            max: 1,
            decimals: 0,
            sessions: 'at_max',
            w: 3,
            h: 4,
          }),
          stat({
            title: 'Oldest session',
            description:
              'Age of the oldest authenticated connection. Orange from 1 day, red from 7 days: usually a forgotten shell or a client that never hung up. Empty when nobody is connected.',
            unit: 's',
            thresholds: levels('green', [DAY, 'orange'], [7 * DAY, 'red']),
            queries: [{ expr: `max(${sel('sshd_oldest_session_age_seconds')})` }],
            noValue: 'no sessions',
            sessions: 'all',
            w: 3,
            h: 4,
          }),
        ],
      },
      {
        title: 'Sessions',
        panels: [
          timeseries({
            title: 'Sessions by user',
            description:
              'Open sessions per authenticated user. Users past --collector.processes.max-users (100) are summed under "other". A user with connections but no session shows 0; the series ends when their last connection closes. Orange from 50 sessions for one user: a starting point, usually automation that does not close its sessions.',
            unit: 'short',
            thresholds: levels('green', [50, 'orange']),
            queries: [{ expr: `sum by (user) (${sel('sshd_sessions')})`, legend: '{{user}}' }],
            min: 0,
            sessions: 'all',
            w: 12,
            h: 8,
          }),
          bargauge({
            title: 'Sessions by user now',
            description:
              'The same, now, largest first: who holds the sessions. Orange from 50 sessions for one user.',
            unit: 'short',
            thresholds: levels('green', [50, 'orange']),
            queries: [
              {
                expr: `sort_desc(sum by (user) (${sel('sshd_sessions')}))`,
                legend: '{{user}}',
                instant: true,
              },
            ],
            min: 0,
            sessions: 'all',
            w: 6,
            h: 8,
          }),
          timeseries({
            title: 'Connections by state',
            description:
              'Connections by state: authenticated, and preauth (accepted, login not finished). A preauth count that climbs and stays up is scanners, clients stuck at a password prompt, or a slow authentication backend. Orange from 10 (MaxStartups begin by default).',
            unit: 'short',
            thresholds: levels('green', [10, 'orange']),
            queries: [{ expr: `sum by (state) (${sel('sshd_connections')})`, legend: '{{state}}' }],
            min: 0,
            sessions: 'all',
            w: 6,
            h: 8,
          }),
        ],
      },
      {
        title: 'Logins',
        panels: [
          timeseries({
            title: 'Logins by user',
            description:
              'Accepted logins per minute by the local account sshd authenticated (sshd_logins_total, from the `Accepted <method> for <user>` lines every OpenSSH version logs at INFO), never a name a client only tried. root (red) and other are always there; the first --collector.events.max-users (100) users keep their own series, later ones count under other. A root login fires the SshdRootLogin alert. Orange from 60/min for one user: a starting point, usually automation that opens a connection per command instead of reusing one (ControlMaster).',
            unit: 'cpm',
            thresholds: levels('green', [60, 'orange']),
            queries: [{ expr: perMinute('sshd_logins_total', 'user'), legend: '{{user}}' }],
            overrides: [{ name: 'root', set: [fixedColor('red')] }],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Session duration',
            description:
              'How long the authenticated connections that ended lasted (sshd_session_duration_seconds): median, 90th and 99th percentile, and mean. From the process tree, so any OpenSSH version and no LogLevel: a connection counts at the first scrape that finds it gone, so the resolution is the scrape interval and one that opens and closes between two scrapes is missed. The buckets are coarse (1 s, 10 s, 1 m, 5 m, 15 m, 1 h, 4 h, 8 h, 1 d, 3 d, 7 d): percentiles are interpolated inside a bucket and stop at 7 days. Gaps: no connection ended then. Informational (blue).',
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
        title: 'MaxSessions: multiplexing',
        panels: [
          timeseries({
            title: 'Sessions per connection against MaxSessions',
            description:
              'The most sessions carried by any one connection, next to the effective MaxSessions (dashed red). When the two lines meet, that connection refuses its next session: the client sees "Session open refused by peer" and the log says "no more sessions". Orange from 10, OpenSSH\'s default MaxSessions.',
            unit: 'short',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: `max(${sel('sshd_connection_sessions_max')})`,
                legend: 'most sessions on one connection',
              },
              { expr: `min(${sel('sshd_config_max_sessions')})`, legend: 'MaxSessions' },
            ],
            overrides: [{ name: 'MaxSessions', set: limitLine() }],
            min: 0,
            sessions: 'at_max',
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Multiplexed connections',
            description:
              'Connections carrying two or more sessions (ControlMaster, VS Code Remote, Ansible pipelining), and those already at MaxSessions (red). Any connection at MaxSessions will refuse its next session; red from 1.',
            unit: 'short',
            thresholds: levels('green', [1, 'red']),
            queries: [
              {
                expr: `sum(${sel('sshd_multiplexed_connections')})`,
                legend: 'multiplexed (2+ sessions)',
              },
              {
                expr: `sum(${sel('sshd_connections_at_max_sessions')})`,
                legend: 'at MaxSessions',
              },
            ],
            overrides: [{ name: 'at MaxSessions', set: [fixedColor('red')] }],
            min: 0,
            sessions: 'at_max',
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Sessions refused (MaxSessions)',
            description:
              'Sessions sshd refused because their connection was at MaxSessions ("no more sessions" in its log), per minute. Any is a user whose scp, sftp or multiplexed ssh failed. Dashed lines at 0.1/min (orange) and 1/min (red).',
            unit: 'cpm',
            thresholds: levels('green', [0.1, 'orange'], [1, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: perMinute('sshd_events_total', undefined, 'event="no_more_sessions"'),
                legend: 'no more sessions',
              },
            ],
            min: 0,
            sessions: 'at_max',
            w: 8,
            h: 8,
          }),
        ],
      },
      {
        title: 'MaxStartups: pre-authentication',
        panels: [
          timeseries({
            title: 'Startups against MaxStartups',
            description:
              "Unauthenticated connections (startups) next to the running listener's MaxStartups begin and full (dashed), one line each per sshd instance (:port). Per-connection sshd (socket units with Accept=yes) has no MaxStartups and no line here. Past begin sshd drops new connections at random (rate%, rising with the count); at full it drops every one. If these bounds differ from Configuration, sshd was not reloaded. Orange from 10, the default begin.",
            unit: 'short',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              { expr: `sum by (port) (${sel('sshd_startups')})`, legend: 'startups :{{port}}' },
              {
                expr: `sum by (port, bound) (${sel('sshd_max_startups')})`,
                legend: 'MaxStartups {{bound}} :{{port}}',
              },
            ],
            overrides: [
              { name: 'MaxStartups full', set: limitLine() },
              {
                name: 'MaxStartups begin',
                set: [...limitLine().filter((p) => p.id !== 'color'), fixedColor('orange')],
              },
            ],
            min: 0,
            sessions: 'all',
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Connections dropped before authentication',
            description:
              'Per minute: connections sshd dropped past MaxStartups (startups_dropped), times it began throttling (startups_throttling_started), and connections refused by PerSourcePenalties (penalty_dropped, OpenSSH 9.8+). Dropped clients see "kex_exchange_identification: Connection closed by remote host". Dashed lines at 0.1/min and 5/min.',
            unit: 'cpm',
            thresholds: levels('green', [0.1, 'orange'], [5, 'red']),
            showThresholds: true,
            queries: [
              {
                expr: perMinute('sshd_events_total', 'event', events(STARTUP_DROP_EVENTS)),
                legend: '{{event}}',
              },
            ],
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
            title: 'Stale sessions by reason',
            description:
              'utmp_orphan: a login record whose process is gone (what `who` and `last | grep still` show wrongly). idle: a pty idle past --collector.stale.idle-threshold (1h). preauth_overdue: not authenticated after LoginGraceTime. dead_peer: the client is gone or unreachable but sshd still holds the connection. Dashed lines at 1 and 10.',
            unit: 'short',
            thresholds: levels('green', [1, 'orange'], [10, 'red']),
            showThresholds: true,
            queries: [
              { expr: `sum by (reason) (${sel('sshd_stale_sessions')})`, legend: '{{reason}}' },
            ],
            min: 0,
            sessions: 'stale',
            w: 9,
            h: 8,
          }),
          bargauge({
            title: 'Pty sessions idle',
            description:
              'Live pty sessions (sshd_pty_sessions), then those whose tty has had no input for longer than 1 minute, 5 minutes, 15 minutes, 1 hour, 4 hours and 1 day (sshd_pty_sessions_idle_over). Each bar counts the sessions of the bars below it too. Sessions idle past 4 hours are candidates for ClientAliveInterval or a shell TMOUT. Colour: orange from 10 sessions.',
            unit: 'short',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              { expr: `sum(${sel('sshd_pty_sessions')})`, legend: 'pty sessions', instant: true },
              ...IDLE_THRESHOLDS.map((threshold) => ({
                expr: `sum(${sel('sshd_pty_sessions_idle_over', `threshold="${threshold}"`)})`,
                legend: `idle > ${threshold}`,
                instant: true,
              })),
            ],
            min: 0,
            sessions: 'all',
            w: 7,
            h: 8,
          }),
          timeseries({
            title: 'Oldest session age and longest idle pty',
            description:
              'Age of the oldest authenticated connection over time, and the longest time a pty session has had no input (sshd_pty_session_idle_seconds_max, 0 without pty sessions). An age that only climbs is a session that never ends; one that drops is that session closing. An idle time that only climbs is a forgotten terminal. Dashed lines at 1 day (orange) and 7 days (red).',
            unit: 's',
            thresholds: levels('green', [DAY, 'orange'], [7 * DAY, 'red']),
            showThresholds: true,
            queries: [
              { expr: `max(${sel('sshd_oldest_session_age_seconds')})`, legend: 'oldest session' },
              {
                expr: `max(${sel('sshd_pty_session_idle_seconds_max')})`,
                legend: 'longest idle pty',
              },
            ],
            min: 0,
            sessions: 'all',
            w: 8,
            h: 8,
          }),
        ],
      },
      {
        title: 'Log events',
        panels: [
          timeseries({
            title: 'Events by type',
            description:
              "Every event read from sshd's log, per minute (sshd_events_total). session_opened and session_closed need LogLevel VERBOSE. Counters start at 0 when the exporter starts. Orange from 600/min (10/s): a starting point for a busy host.",
            unit: 'cpm',
            thresholds: levels('green', [600, 'orange']),
            queries: [{ expr: perMinute('sshd_events_total', 'event'), legend: '{{event}}' }],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Authentication by method',
            description:
              'Accepted and failed authentications per minute by method (publickey, password, keyboard-interactive…), with invalid users and MaxAuthTries refusals. Failures (all kinds together) orange from 10/min and red from 60/min (the SshdAuthFailureSurge alert).',
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange'], [60, 'red']),
            queries: [
              {
                expr: perMinute('sshd_events_total', 'event, method', 'event="auth_accepted"'),
                legend: 'accepted {{method}}',
              },
              {
                expr: perMinute('sshd_events_total', 'event, method', events(AUTH_FAILURE_EVENTS)),
                legend: '{{event}} {{method}}',
              },
            ],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Timed-out connections',
            description:
              'Connections sshd ended on a timer, per minute: login_grace_timeout (LoginGraceTime; Debian 9.2 does not log it), client_alive_timeout (ClientAliveInterval × CountMax without answer), unused_connection_timeout, channel_timeout (LogLevel VERBOSE). Orange from 10/min.',
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: perMinute('sshd_events_total', 'event', events(TIMEOUT_EVENTS)),
                legend: '{{event}}',
              },
            ],
            min: 0,
            w: 12,
            h: 8,
          }),
          timeseries({
            title: 'Log lines read and not understood',
            description:
              "Lines (journal entries) read from sshd's log per minute, and those that were none of the events. The unparsed line is a baseline of sshd's other messages: a sudden change means the log format changed. Orange from 60/min unparsed.",
            unit: 'cpm',
            thresholds: levels('green', [60, 'orange']),
            queries: [
              { expr: perMinute('sshd_events_lines_read_total', undefined), legend: 'read' },
              {
                expr: perMinute('sshd_events_lines_unparsed_total', undefined),
                legend: 'not understood',
              },
            ],
            min: 0,
            w: 12,
            h: 8,
          }),
        ],
      },
      {
        title: 'Refusals, penalties and scanners',
        panels: [
          timeseries({
            title: 'Refused by policy',
            description:
              "Logins sshd's configuration refused, per minute: login_not_allowed (`User <user> not allowed because …`: AllowUsers, DenyUsers, AllowGroups, DenyGroups, a locked account or an invalid shell; every OpenSSH version), root_login_refused (`ROOT LOGIN REFUSED FROM …`: PermitRootLogin forbids root, or root with that method; every version, once per refused attempt) and connection_refused (`administratively prohibited connection …`: RefuseConnection, OpenSSH 9.9+; the connection ends there). All at INFO. On a host open to the internet root_login_refused is mostly scanners trying root; login_not_allowed for one of your own users is someone the policy locks out. Orange from 10/min: a starting point.",
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: perMinute('sshd_events_total', 'event', events(POLICY_REFUSAL_EVENTS)),
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
              "Penalties PerSourcePenalties (OpenSSH 9.8+, on by default) imposed on a client address, per minute, by reason: authfail (left after failed authentication), noauth (left without trying to authenticate), grace_exceeded (LoginGraceTime ran out), refuseconnection (RefuseConnection, 9.9+), invaliduser (tried an invalid user, 10.3+), crash (made sshd crash: red, look into it). Logged at INFO from 10.1, at VERBOSE only on 9.8 to 10.0. A penalised address's next connections are dropped (penalty_dropped, in Connections dropped before authentication). Orange from 10/min: a starting point.",
            unit: 'cpm',
            thresholds: levels('green', [10, 'orange']),
            queries: [
              {
                expr: perMinute('sshd_events_total', 'event', events(PENALTY_EVENTS)),
                legend: '{{event}}',
              },
            ],
            overrides: [{ name: 'penalty_imposed_crash', set: [fixedColor('red')] }],
            min: 0,
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Scanners and broken clients',
            description:
              'Connections that ended before authentication without a login attempt that got anywhere, per minute: preauth_closed (closed or reset by the client before authenticating: port scans, an ssh that gave up at a prompt), negotiation_failed (`Unable to negotiate with …`: no common key exchange, host key or cipher; an old client or a scanner probing algorithms) and banner_invalid (`banner exchange: … invalid format`: not an SSH client at all, such as HTTP or TLS on the SSH port). Every OpenSSH version logs them at INFO. A steady background is the internet; negotiation_failed from your own clients after an upgrade is a client too old for the server. Orange from 60/min: a starting point.',
            unit: 'cpm',
            thresholds: levels('green', [60, 'orange']),
            queries: [
              {
                expr: perMinute('sshd_events_total', 'event', events(NOISE_EVENTS)),
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
        title: 'Client addresses',
        panels: [
          bargauge({
            title: 'Top client addresses',
            description:
              'Established connections per client address now, the 10 largest (sshd_source_connections; addresses past --collector.sockets.max-sources are summed under "other"). One address with many connections is a NAT, a jump host, or automation. Orange from 10 connections, red from 50.',
            unit: 'short',
            thresholds: levels('green', [10, 'orange'], [50, 'red']),
            queries: [
              {
                expr: `sort_desc(topk(10, sum by (source) (${sel('sshd_source_connections')})))`,
                legend: '{{source}}',
                instant: true,
              },
            ],
            min: 0,
            sessions: 'all',
            w: 8,
            h: 8,
          }),
          timeseries({
            title: 'Connections by client address',
            description:
              'Established connections of the 5 busiest client addresses over time. Orange from 10, red from 50 connections from one address (PerSourceMaxStartups limits only the unauthenticated ones).',
            unit: 'short',
            thresholds: levels('green', [10, 'orange'], [50, 'red']),
            queries: [
              {
                expr: `topk(5, sum by (source) (${sel('sshd_source_connections')}))`,
                legend: '{{source}}',
              },
            ],
            min: 0,
            sessions: 'all',
            w: 16,
            h: 8,
          }),
        ],
      },
      {
        title: 'Configuration',
        panels: [
          stat({
            title: 'Limits',
            description:
              "The effective MaxSessions, MaxStartups (begin, rate, full) and PerSourceMaxStartups of each sshd instance (:port), from `sshd -T` or sshd_config with its Includes and the listener's own -f, -o, -p and -g. PerSourceMaxStartups is absent when none; MaxStartups is absent for per-connection sshd. Red: MaxSessions 1 (no multiplexing at all).",
            unit: 'none',
            thresholds: levels('red', [2, 'blue']),
            names: true,
            queries: [
              {
                expr: `max by (port) (${sel('sshd_config_max_sessions')})`,
                legend: 'MaxSessions :{{port}}',
              },
              {
                expr: `max by (port, bound) (${sel('sshd_config_max_startups')})`,
                legend: 'MaxStartups {{bound}} :{{port}}',
              },
              {
                expr: `max by (port) (${sel('sshd_config_max_startups_rate')})`,
                legend: 'MaxStartups rate :{{port}}',
              },
              {
                expr: `max by (port) (${sel('sshd_config_per_source_max_startups')})`,
                legend: 'PerSourceMaxStartups :{{port}}',
              },
            ],
            overrides: [
              {
                query: 'C',
                set: [
                  { id: 'unit', value: 'percentunit' },
                  { id: 'thresholds', value: { mode: 'absolute', steps: levels('blue') } },
                ],
              },
              {
                query: 'D',
                set: [{ id: 'thresholds', value: { mode: 'absolute', steps: levels('blue') } }],
              },
            ],
            w: 8,
            h: 5,
          }),
          stat({
            title: 'Timeouts',
            description:
              'The effective LoginGraceTime, ClientAliveInterval, ClientAliveCountMax and UnusedConnectionTimeout. "off" is 0: LoginGraceTime unlimited (pre-auth connections can hold MaxStartups slots forever: red) or ClientAliveInterval disabled (dead clients are never detected: orange). UnusedConnectionTimeout is absent when none.',
            unit: 's',
            thresholds: levels('blue'),
            names: true,
            queries: [
              {
                expr: `max(${sel('sshd_config_login_grace_time_seconds')})`,
                legend: 'LoginGraceTime',
              },
              {
                expr: `max(${sel('sshd_config_client_alive_interval_seconds')})`,
                legend: 'ClientAliveInterval',
              },
              {
                expr: `max(${sel('sshd_config_client_alive_count_max')})`,
                legend: 'ClientAliveCountMax',
              },
              {
                expr: `max(${sel('sshd_config_unused_connection_timeout_seconds')})`,
                legend: 'UnusedConnectionTimeout',
              },
            ],
            overrides: [
              {
                query: 'A',
                set: [{ id: 'mappings', value: valueText({ '0': ['off (unlimited)', 'red'] }) }],
              },
              {
                query: 'B',
                set: [{ id: 'mappings', value: valueText({ '0': ['off', 'orange'] }) }],
              },
              { query: 'C', set: [{ id: 'unit', value: 'none' }] },
            ],
            w: 8,
            h: 5,
          }),
          stat({
            title: 'Configuration read from',
            description:
              'Where the values above came from: sshd_t (`sshd -T`, exact) or file (sshd_config and its Includes, read when sshd -T cannot run, e.g. without root). Informational (blue): either is fine; file may miss Match blocks that apply to everyone.',
            unit: 'none',
            thresholds: levels('blue'),
            textOnly: true,
            queries: [
              {
                expr: `max by (source) (${sel('sshd_config_info')})`,
                legend: '{{source}}',
                instant: true,
              },
            ],
            w: 3,
            h: 5,
          }),
          stat({
            title: 'Configuration problems',
            description:
              'Problems met reading the configuration: an unreadable or oversized Include, an Include loop, a malformed value. The exporter logs each once and reports the other values. Orange from 1.',
            unit: 'short',
            thresholds: levels('green', [1, 'orange']),
            queries: [{ expr: `max(${sel('sshd_config_problems')})` }],
            w: 2,
            h: 5,
          }),
          stat({
            title: 'Listener reloaded',
            description:
              'Whether the running listener\'s MaxStartups match the configuration. "reload sshd" (red) means sshd_config changed and sshd was not reloaded: the limits above are not the ones in force.',
            unit: 'none',
            thresholds: levels('green', [1, 'red']),
            mappings: valueText({ '0': ['in sync', 'green'], '1': ['reload sshd', 'red'] }),
            queries: [{ expr: `max(${sel('sshd_config_listener_mismatch')})` }],
            w: 3,
            h: 5,
          }),
        ],
      },
      {
        title: 'Exporter',
        panels: [
          stat({
            title: 'Collectors',
            description:
              "Each collector's last scrape: ok or failing (sshd_scrape_collector_success). A failing collector loses only its own metrics, and the exporter logs why once. Red: failing.",
            unit: 'none',
            thresholds: levels('red', [1, 'green']),
            mappings: valueText({ '0': ['failing', 'red'], '1': ['ok', 'green'] }),
            names: true,
            queries: [
              {
                expr: `min by (collector) (${sel('sshd_scrape_collector_success')})`,
                legend: '{{collector}}',
              },
            ],
            w: 6,
            h: 8,
          }),
          timeseries({
            title: 'Collector duration',
            description:
              "How long each collector took per scrape. The processes walk follows sshd's tree, so milliseconds even on busy hosts; past --scrape.collector-timeout (5 s) a collector fails. Dashed lines at 1 s and 4 s.",
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
            w: 6,
            h: 8,
          }),
          timeseries({
            title: 'Log source and malformed input',
            description:
              "Whether sshd's log reaches the exporter (events source up: journalctl running or the log file open; 0 means event counters are frozen), the source's restarts and rotations per minute, and /proc entries skipped as malformed per minute (should stay 0). Red below 1 for the source.",
            unit: 'short',
            thresholds: levels('red', [1, 'green']),
            queries: [
              { expr: `max(${sel('sshd_events_source_up')})`, legend: 'events source up' },
              {
                expr: perMinute('sshd_events_source_restarts_total', 'source'),
                legend: '{{source}} restarts/min',
              },
              {
                expr: perMinute('sshd_exporter_malformed_input_total', undefined),
                legend: 'malformed /proc entries/min',
              },
            ],
            min: 0,
            w: 6,
            h: 8,
          }),
          table({
            title: 'Exporter version',
            description:
              'The running sshd-exporter version and Node.js version per instance (sshd_exporter_build_info). Two versions side by side mean a rollout in progress. Informational (blue).',
            unit: 'none',
            thresholds: levels('blue'),
            queries: [{ expr: sel('sshd_exporter_build_info'), instant: true, format: 'table' }],
            transformations: [
              {
                id: 'organize',
                options: {
                  excludeByName: { Time: true, Value: true, __name__: true },
                  indexByName: { instance: 0, version: 1, nodejs: 2, job: 3 },
                  renameByName: {},
                },
              },
            ],
            w: 6,
            h: 8,
          }),
        ],
      },
    ],
  })
}
