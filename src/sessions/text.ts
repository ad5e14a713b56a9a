/**
 * The sessions report as a terminal table, as `sshd-exporter sessions` prints it: one row per
 * connection; with `sessions`, one indented row per session under it; then what ends each stale
 * connection, and the utmp logins with no session behind them. Plain columns padded with spaces,
 * no colour, so that it reads the same in a pipe, a log and `watch`.
 */
import type { ConnectionRow, SessionRow, SessionsReport } from '../model/sessions.ts'
import { displayWidth } from './width.ts'

/** `45s`, `12m03s`, `1h02m`, `3d04h`: two units at most, as a glance needs. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-'
  const s = Math.floor(seconds)
  if (s < 60) return `${s}s`
  const pad = (n: number) => String(n).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`
}

function client(c: ConnectionRow): string {
  if (c.client === null) return '-'
  const { address, port } = c.client
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

function sessionsCell(c: ConnectionRow): string {
  if (c.state === 'preauth') return '-'
  return `${c.sessions}/${c.max_sessions ?? '?'}${c.at_max ? ' max' : ''}`
}

function ptysCell(c: ConnectionRow): string {
  if (c.ptys.length === 0) return '-'
  return c.ptys.map((p) => `${p.tty} idle ${formatAge(p.idle_seconds)}`).join(', ')
}

function sessionCells(s: SessionRow): string[] {
  const what = s.kind === 'pty' ? (s.tty ?? 'pty') : s.kind
  const idle = s.idle_seconds === null ? '' : `idle ${formatAge(s.idle_seconds)}`
  const command = s.exited ? '(exited, not yet reaped by sshd)' : (s.command ?? '')
  return [String(s.pid), what, formatAge(s.age_seconds), idle, command]
}

/**
 * Control characters (a terminal's escape sequences among them) and bidirectional overrides as
 * `\xNN` / `\uNNNN`: a command line or a DNS name is the client's text, and must not move the
 * cursor, recolour the terminal or reorder what the operator reads.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/**
 * Rows of cells as columns: each padded to its widest cell, in the columns a terminal gives it
 * (displayWidth), the last left as it is.
 */
function columns(cellsOfRows: readonly (readonly string[])[], indent = ''): string[] {
  const rows = cellsOfRows.map((row) => row.map(printable))
  const cellWidths = rows.map((row) => row.map(displayWidth))
  const widths: number[] = []
  for (const row of cellWidths) {
    row.forEach((width, i) => (widths[i] = Math.max(widths[i] ?? 0, width)))
  }
  return rows.map((row, r) =>
    (
      indent +
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - cellWidths[r]![i]!),
        )
        .join('  ')
    ).trimEnd(),
  )
}

const HEADER = ['PID', 'USER', 'CLIENT', 'STATE', 'AGE', 'SESSIONS', 'PTYS', 'STALE']

export interface TextOptions {
  /** One row per session under its connection (`--sessions`). */
  sessions: boolean
}

export function renderText(report: SessionsReport, options: TextOptions): string {
  const { connections } = report
  const sessions = connections.reduce((n, c) => n + c.sessions, 0)
  const stale = connections.filter((c) => c.stale.length > 0)
  const atMax = connections.filter((c) => c.at_max).length
  const out: string[] = [
    `${connections.length} connection${connections.length === 1 ? '' : 's'}, ${sessions} session${sessions === 1 ? '' : 's'}, ${stale.length} stale, ${atMax} at MaxSessions (${report.generated_at})`,
  ]
  if (connections.length > 0) {
    const rows = connections.map((c) => [
      String(c.pid),
      c.user ?? '-',
      client(c),
      c.state,
      formatAge(c.age_seconds),
      sessionsCell(c),
      ptysCell(c),
      c.stale.length === 0 ? '-' : c.stale.join(','),
    ])
    const lines = columns([HEADER, ...rows])
    out.push('', lines[0]!)
    connections.forEach((c, i) => {
      out.push(lines[i + 1]!)
      const sessions = options.sessions ? (c.session_processes ?? []) : []
      if (sessions.length > 0) out.push(...columns(sessions.map(sessionCells), '    '))
    })
  }
  if (stale.length > 0) {
    out.push('', 'To end a stale connection, signal its first process (the exporter never does):')
    out.push(
      ...columns(
        stale.map((c) => [
          c.end_command,
          `# ${c.user ?? 'not authenticated'}${c.client === null ? '' : ` from ${client(c)}`}: ${c.stale.join(', ')}`,
        ]),
        '  ',
      ),
    )
  }
  const orphans = report.utmp_orphans ?? []
  if (orphans.length > 0) {
    out.push(
      '',
      'utmp logins with no session behind them (who and last show them; nothing to end):',
    )
    out.push(
      ...columns(
        orphans.map((o) => [
          o.line,
          o.user,
          `from ${o.host}`,
          `pid ${o.pid} ${o.why === 'gone' ? 'gone' : 'reused by a later process'}`,
          `since ${o.login_at}`,
        ]),
        '  ',
      ),
    )
  }
  return `${out.join('\n')}\n`
}
