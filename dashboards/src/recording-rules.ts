/**
 * The recording rules the dashboards read (dashboards/rules/sshd-exporter.rules.yml). Each keeps
 * the `job` and `instance` labels, so the dashboards' matchers apply to them as to raw series.
 */
export const RECORDING_RULES = {
  /** sum by (job, instance) (sshd_sessions) */
  sessions: 'instance:sshd_sessions:sum',
  /** sum by (job, instance, event) (rate(sshd_events_total[5m])) */
  eventsRate5m: 'instance:sshd_events:rate5m',
  /** sum by (job, instance) (sshd_stale_sessions) */
  staleSessions: 'instance:sshd_stale_sessions:sum',
  /** sshd_startups over MaxStartups full, 0 to 1 */
  startupsRatioFull: 'instance:sshd_startups:ratio_full',
} as const
