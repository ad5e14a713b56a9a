/**
 * The events sshd's log gives, a fixed set (the `event` label's values), their types, and the
 * limits of what sshd can have written. What each event's lines are, version by version:
 * docs/openssh.md, "What sshd logs".
 */
/** Every event this module gives, the `event` label's fixed set. */
export const EVENTS = [
  'auth_accepted',
  'auth_failed',
  'invalid_user',
  'max_auth_tries_exceeded',
  'preauth_closed',
  'login_grace_timeout',
  'client_alive_timeout',
  'unused_connection_timeout',
  'channel_timeout',
  'no_more_sessions',
  'startups_dropped',
  'startups_throttling_started',
  'penalty_dropped',
  'session_opened',
  'session_closed',
  'disconnected',
  'negotiation_failed',
  'banner_invalid',
  'connection_refused',
  'login_not_allowed',
  'root_login_refused',
  'penalty_imposed_authfail',
  'penalty_imposed_noauth',
  'penalty_imposed_grace_exceeded',
  'penalty_imposed_refuseconnection',
  'penalty_imposed_invaliduser',
  'penalty_imposed_crash',
] as const
export type SshdEventName = (typeof EVENTS)[number]

/**
 * Authentication methods, the `method` label's fixed set. auth_log runs in the monitor
 * (monitor.c monitor_child_preauth), which logs only the methods it decides, under its own names:
 * `publickey`, `hostbased`, `password`, `none` (monitor.c mm_answer_authpassword: a first, empty
 * password with PermitEmptyPasswords), `keyboard-interactive/<device>`, `gssapi-with-mic`. A
 * client's own method names are never logged (the captures try one). `none` and any other name
 * give `other`.
 */
export const AUTH_METHODS = [
  'publickey',
  'password',
  'keyboard-interactive',
  'hostbased',
  'gssapi-with-mic',
  'other',
] as const
export type AuthMethod = (typeof AUTH_METHODS)[number]

/**
 * How a drop count was written: `line` one `drop connection` line (count 1); `periodic` 8.4–9.9's
 * `in MaxStartups throttling …, N connections dropped` (N includes the drop whose line follows);
 * `exited` 8.4–9.9's `exited MaxStartups throttling …, N connections dropped` (N since
 * `beginning`, lines included); `additional` 10.0+'s `… logging rate-limited: additional N
 * connections dropped` (N not logged singly).
 */
export const DROP_KINDS = ['line', 'periodic', 'exited', 'additional'] as const
export type DropKind = (typeof DROP_KINDS)[number]

/** When in a connection's life a line was written; `unknown` only for the ambiguous close. */
export type Phase = 'preauth' | 'postauth' | 'unknown'

/** Events that end a connection: each connection end gives exactly one. */
export type ConnectionEndEvent =
  | 'preauth_closed'
  | 'disconnected'
  | 'login_grace_timeout'
  | 'client_alive_timeout'
  | 'unused_connection_timeout'
  | 'max_auth_tries_exceeded'
  | 'negotiation_failed'
  | 'banner_invalid'
  | 'connection_refused'

/** A penalty PerSourcePenalties imposed, by its sshd_config keyword (srclimit.c srclimit_penalise). */
export type PenaltyImposedEvent = Extract<SshdEventName, `penalty_imposed_${string}`>

export type SshdEvent =
  | {
      readonly event: 'auth_accepted'
      readonly method: AuthMethod
      /**
       * The account sshd authenticated (auth.c auth_log's `authctxt->user`: a login is accepted
       * only for a valid user, getpwnamallow), never a client's guess. As sshd logged it (escaped).
       */
      readonly user: string
      readonly address: string
      readonly port: number
    }
  | { readonly event: 'auth_failed'; readonly method: AuthMethod }
  | {
      /** `LogLevel VERBOSE` lines: one session (shell, command, subsystem) started or closed. */
      readonly event: 'session_opened' | 'session_closed'
      readonly address: string
      readonly port: number
      /** The session's number on its connection (session.c `s->self`). */
      readonly id: number
    }
  | {
      readonly event: 'startups_dropped' | 'penalty_dropped'
      readonly count: number
      readonly kind: DropKind
    }
  | {
      readonly event: ConnectionEndEvent
      /** The client's address and port, when the line names them. */
      readonly address: string | undefined
      readonly port: number | undefined
      readonly phase: Phase
    }
  | {
      readonly event:
        | 'invalid_user'
        | 'no_more_sessions'
        | 'channel_timeout'
        | 'startups_throttling_started'
        | 'login_not_allowed'
        | 'root_login_refused'
        | PenaltyImposedEvent
    }

/** sshd's message buffer (log.c MSGBUFSIZ): no message of sshd's is longer. */
export const MAX_MESSAGE_LENGTH = 1024
/** syslog(3) gets `%.500s` of sshd's message (log.c do_log): a longer one was cut. */
export const SYSLOG_MESSAGE_MAX = 500
/** A syslog header (timestamp, host, tag) and the longest message. */
export const MAX_LINE_LENGTH = 1024 + 512
