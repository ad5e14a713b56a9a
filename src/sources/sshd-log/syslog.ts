/**
 * One line of a log file to a LogRecord (`parseSyslogLine`): RFC 3164 and 3339 syslog, RFC 5424,
 * the variants of busybox, Solaris and rsyslog's repeated-message reduction, and `sshd -E`'s
 * bare messages. Lines of other programs are returned too; the caller keeps sshd's by their
 * identifier. Pure. The forms and their sources: docs/openssh.md, "What sshd logs".
 */
import type { LogRecord } from '../log-record.ts'
import { MAX_LINE_LENGTH } from './events.ts'

/** `<pri>` before the header: RFC 5424 always, a datagram or raw remote log in RFC 3164. */
const PRI_RE = /^<\d{1,3}>/
/**
 * RFC 5424 after `<pri>`: version (`0` is rsyslog's %PROTOCOL-VERSION% for a legacy message),
 * timestamp or `-`, host, APP-NAME, PROCID, MSGID (each `-` when nil), then the structured data.
 */
const RFC5424_RE =
  /^[01] (?:-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) [!-~]{1,255} ([!-~]{1,48}) ([!-~]{1,128}) [!-~]{1,32} /
const PROCID_PID_RE = /^\d{1,10}$/
/** `Nov 21 10:00:00 `, `Nov  1 …`, `Nov 01 …`, `Feb 8 …` (RFC 3164), `.123456` (short-precise). */
const RFC3164_RE = /^[A-Z][a-z]{2} (?: ?\d|\d\d) \d\d:\d\d:\d\d(?:\.\d{1,9})? /
/**
 * ISO 8601: `2026-11-21T10:00:00[.123456](Z|+00:00) ` (RFC 3339, rsyslog's RSYSLOG_FileFormat),
 * `+0000` (journalctl's short-iso before systemd 256), a space for the `T`, no zone.
 */
const ISO_RE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? /
/**
 * After the timestamp: `[host ][facility.level ]tag[[pid]]: ` (no host: busybox syslogd -S, a
 * datagram; facility.level: busybox syslogd). A host never ends in `:`, so `tag: error: …` is
 * not taken for host `tag:` and tag `error`.
 */
const HOST_TAG_RE =
  /^(?:\S{0,254}[^\s:] )?(?:[a-z0-9]{1,12}\.[a-z]{1,8} )?([^\s[\]:]{1,64})(?:\[(\d{1,10})\])?: /
/**
 * The usual `host tag[[pid]]: `, tried before HOST_TAG_RE (which costs more per line): where it
 * matches, HOST_TAG_RE gives the same match, since a `facility.level ` cannot start where a tag
 * followed by `[` or `:` does.
 */
const USUAL_HOST_TAG_RE = /^\S{0,254}[^\s:] ([^\s[\]:]{1,64})(?:\[(\d{1,10})\])?: /
/**
 * The usual line from its stamp (RFC 3164 or ISO) to `tag[pid]: ` in one match, tried first.
 * Where it matches, the stamp and then USUAL_HOST_TAG_RE match the same text: each stamp form
 * can end in one place only (a space follows it, which no part of it may hold).
 */
const USUAL_LINE_RE = new RegExp(
  `^(?:${RFC3164_RE.source.slice(1)}|${ISO_RE.source.slice(1)})${USUAL_HOST_TAG_RE.source.slice(1)}`,
)
/** Solaris and illumos syslogd's message ID after the tag: `[ID 800047 auth.info] `. */
const SOLARIS_ID_RE = /^\[ID \d{1,10} [a-z0-9]{1,12}\.[a-z]{1,8}\] /
/** rsyslog runtime/ratelimit.c ratelimitGenRepMsg: `message repeated %d times: [%.800s]`. */
const REPEATED_RE = /^message repeated (\d{1,9}) times: \[ ?/

/**
 * One line of a log file (without its `\n`; a trailing `\r` is dropped) to a LogRecord. Returns
 * undefined for an empty line, a line longer than MAX_LINE_LENGTH, and a syslog line whose
 * header is not understood or has no tag. A line with no `<pri>` and no syslog timestamp is taken
 * as an `sshd -E` line: the whole line is the message, identifier and pid undefined. Never throws.
 */
export function parseSyslogLine(line: string): LogRecord | undefined {
  if (line.length > MAX_LINE_LENGTH) return undefined
  const end = line.endsWith('\r') ? line.length - 1 : line.length
  if (end === 0) return undefined
  let body = end === line.length ? line : line.slice(0, end)
  let pri = false
  if (body.charCodeAt(0) === 0x3c) {
    const p = PRI_RE.exec(body)
    if (p !== null) {
      pri = true
      body = body.slice(p[0].length)
      if (body.charCodeAt(1) === 0x20) return parseRfc5424(body)
    }
  }
  let tag = USUAL_LINE_RE.exec(body)
  let message: string
  if (tag !== null) {
    message = body.slice(tag[0].length)
  } else {
    const stamp = RFC3164_RE.exec(body) ?? ISO_RE.exec(body)
    if (stamp === null) {
      return pri ? undefined : { identifier: undefined, pid: undefined, message: body }
    }
    const rest = body.slice(stamp[0].length)
    tag = HOST_TAG_RE.exec(rest)
    if (tag === null) return undefined
    message = rest.slice(tag[0].length)
  }
  // The first character before startsWith, which costs more on every line.
  if (message.charCodeAt(0) === 0x5b && message.startsWith('[ID ')) {
    const id = SOLARIS_ID_RE.exec(message)
    if (id !== null) message = message.slice(id[0].length)
  }
  return tagged(tag[1]!, tag[2] === undefined ? undefined : Number(tag[2]), message)
}

/** `1 <stamp> <host> <app> <procid> <msgid> <sd>[ [BOM]<msg>]` (RFC 5424 section 6). */
function parseRfc5424(body: string): LogRecord | undefined {
  const m = RFC5424_RE.exec(body)
  if (m === null) return undefined
  const app = m[1]!
  if (app === '-') return undefined
  let i = m[0].length
  if (body.charCodeAt(i) === 0x2d) {
    i++ // `-`: no structured data
  } else {
    if (body.charCodeAt(i) !== 0x5b) return undefined
    while (body.charCodeAt(i) === 0x5b) {
      i = sdElementEnd(body, i)
      if (i === -1) return undefined
    }
  }
  let message = ''
  if (i < body.length) {
    if (body.charCodeAt(i) !== 0x20) return undefined
    i++
    if (body.charCodeAt(i) === 0xfeff) i++ // the BOM of a UTF-8 MSG
    // rsyslog's %msg% of a message it received as RFC 3164 keeps that message's leading space.
    if (body.charCodeAt(i) === 0x20) i++
    message = body.slice(i)
  }
  const procid = m[2]!
  return tagged(app, PROCID_PID_RE.test(procid) ? Number(procid) : undefined, message)
}

/**
 * The index after the SD-ELEMENT starting at `start` (`[id param="value" …]`, where a value may
 * hold `\"`, `\\` and `\]`), or -1 when it does not end.
 */
function sdElementEnd(body: string, start: number): number {
  let quoted = false
  for (let i = start + 1; i < body.length; i++) {
    const c = body.charCodeAt(i)
    if (quoted) {
      // A backslash escapes the next character.
      if (c === 0x5c) i++
      else if (c === 0x22) quoted = false
    } else if (c === 0x22) {
      quoted = true
    } else if (c === 0x5d) {
      return i + 1
    }
  }
  return -1
}

/**
 * A tagged record. rsyslog's `message repeated N times: [ <message>]` (RepeatedMsgReduction;
 * N counts the repeats after the message's own line, the leading space is rsyslog's MSG's own)
 * gives the inner message with `count` N; a cut or odd one stays as it is, not understood.
 */
function tagged(identifier: string, pid: number | undefined, message: string): LogRecord {
  if (
    message.charCodeAt(0) === 0x6d && // m
    message.startsWith('message repeated ') &&
    message.endsWith(']')
  ) {
    const m = REPEATED_RE.exec(message)
    const count = m === null ? 0 : Number(m[1])
    if (count > 0) {
      return { identifier, pid, message: message.slice(m![0].length, -1), count }
    }
  }
  return { identifier, pid, message }
}
