/**
 * One line of sshd's log, as every events source hands it on: the journal gives the fields
 * directly, a log file's line is split by `parseSyslogLine` (sources/sshd-log/syslog.ts).
 */
export interface LogRecord {
  /**
   * The syslog tag (`sshd`, `sshd-session`, `sshd-auth`, Alpine's `sshd-session.pam`: one of
   * SSHD_PROGNAMES for sshd's lines, as isSshdProgname tells); undefined when the line has none
   * (`sshd -E`).
   */
  readonly identifier: string | undefined
  /** The pid in the tag (`sshd-session[1234]`), when there is one. */
  readonly pid: number | undefined
  /** The message after the tag, as sshd wrote it (`error: ` prefix and `[preauth]` suffix kept). */
  readonly message: string
  /**
   * How many times the message was logged, when more than this line's one: rsyslog's
   * `message repeated N times: [ <message>]` stands for N (parseSyslogLine). Absent: once.
   */
  readonly count?: number
}

/** Where a record came from, for `sshd_events_source_up{source}` and the logs. */
export const LOG_SOURCE_KINDS = ['journal', 'file'] as const
export type LogSourceKind = (typeof LOG_SOURCE_KINDS)[number]

/** A long-lived follower of one log source: started once, stopped at shutdown. */
export interface LogSource {
  readonly kind: LogSourceKind
  /** True while the source is delivering (journalctl running, the file open). */
  readonly up: boolean
  start(): void
  stop(): Promise<void>
}
