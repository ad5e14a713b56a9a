/**
 * The sessions report as the exporter's /sessions page: plain server-rendered HTML, no script,
 * no external asset, the terminal table's columns with each connection's sessions under it,
 * readable on a phone (the table scrolls sideways inside the page). It refreshes itself only
 * when asked (`?refresh=5`). Every text from the host is escaped here.
 */
import type { ConnectionRow, SessionsFilter, SessionsReport } from '../model/sessions.ts'
import { escapeHtml } from '../web/landing.ts'
import { formatAge, printable } from './text.ts'

export interface HtmlOptions {
  /** Seconds between reloads (`<meta http-equiv="refresh">`); undefined: none. */
  refreshSeconds: number | undefined
  filter: SessionsFilter
  /** The exporter's landing page and the JSON of the same view. */
  home: string
  api: string
}

const STYLE = `
      body { font-family: system-ui, sans-serif; margin: 1em; }
      .scroll { overflow-x: auto; }
      table { border-collapse: collapse; font-size: 0.9em; }
      th, td { padding: 0.25em 0.8em 0.25em 0; text-align: left; vertical-align: top; white-space: nowrap; }
      th { border-bottom: 1px solid #888; }
      tr.connection td { border-top: 1px solid #ddd; }
      tr.session td { color: #555; font-size: 0.9em; }
      tr.session td:first-child { padding-left: 1.5em; }
      tr.session code { white-space: pre-wrap; word-break: break-all; }
      .stale { color: #b00; font-weight: bold; }
      code { background: #f3f3f3; padding: 0 0.2em; }`

/** Text from the host, as the terminal shows it (control characters and bidi overrides escaped), then HTML-escaped. */
function hostText(text: string): string {
  return escapeHtml(printable(text))
}

function cell(text: string, className?: string): string {
  return className === undefined
    ? `<td>${hostText(text)}</td>`
    : `<td class="${className}">${hostText(text)}</td>`
}

function client(c: ConnectionRow): string {
  if (c.client === null) return '-'
  const { address, port } = c.client
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

function connectionRow(c: ConnectionRow): string {
  const sessions =
    c.state === 'preauth' ? '-' : `${c.sessions}/${c.max_sessions ?? '?'}${c.at_max ? ' max' : ''}`
  const ptys =
    c.ptys.length === 0
      ? '-'
      : c.ptys.map((p) => `${p.tty} idle ${formatAge(p.idle_seconds)}`).join(', ')
  const stale = c.stale.length === 0 ? '-' : `${c.stale.join(', ')}: ${c.end_command}`
  return `        <tr class="connection">${[
    cell(String(c.pid)),
    cell(c.user ?? '-'),
    cell(client(c)),
    cell(c.state),
    cell(formatAge(c.age_seconds)),
    cell(sessions),
    cell(ptys),
    cell(stale, c.stale.length === 0 ? undefined : 'stale'),
  ].join('')}</tr>\n`
}

function sessionRows(c: ConnectionRow): string {
  return (c.session_processes ?? [])
    .map((s) => {
      const what = s.kind === 'pty' ? (s.tty ?? 'pty') : s.kind
      const idle = s.idle_seconds === null ? '' : `idle ${formatAge(s.idle_seconds)}`
      const command = s.exited ? '(exited, not yet reaped by sshd)' : (s.command ?? '')
      const parts = [what, formatAge(s.age_seconds), idle].filter((x) => x !== '').join(' · ')
      return `        <tr class="session">${cell(String(s.pid))}<td colspan="7">${hostText(parts)} <code>${hostText(command)}</code></td></tr>\n`
    })
    .join('')
}

function describeFilter(filter: SessionsFilter): string {
  const parts: string[] = []
  if (filter.user !== undefined) parts.push(`user ${filter.user}`)
  if (filter.stale) parts.push('stale only')
  if (filter.atMax) parts.push('at MaxSessions only')
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

export function renderHtml(report: SessionsReport, options: HtmlOptions): string {
  const { connections } = report
  const sessions = connections.reduce((n, c) => n + c.sessions, 0)
  const stale = connections.filter((c) => c.stale.length > 0).length
  const refresh =
    options.refreshSeconds === undefined
      ? ''
      : `\n    <meta http-equiv="refresh" content="${options.refreshSeconds}">`
  const notes = report.unavailable
    .map((u) => `    <p class="note">${escapeHtml(u.why)}</p>\n`)
    .join('')
  const rows = connections.map((c) => connectionRow(c) + sessionRows(c)).join('')
  const orphans = report.utmp_orphans ?? []
  const orphanList =
    orphans.length === 0
      ? ''
      : `    <h2>utmp logins with no session behind them</h2>
    <p>who and last show these; there is nothing to end.</p>
    <ul>
${orphans
  .map(
    (o) =>
      `      <li>${hostText(`${o.line} ${o.user} from ${o.host}, pid ${o.pid} ${o.why === 'gone' ? 'gone' : 'reused by a later process'}, since ${o.login_at}`)}</li>\n`,
  )
  .join('')}    </ul>
`
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">${refresh}
    <title>sshd sessions</title>
    <style>${STYLE}
    </style>
  </head>
  <body>
    <h1>sshd sessions${hostText(describeFilter(options.filter))}</h1>
    <p>${connections.length} connection${connections.length === 1 ? '' : 's'}, ${sessions} session${sessions === 1 ? '' : 's'}, ${stale} stale, read at ${escapeHtml(report.generated_at)}.
      <a href="${escapeHtml(options.api)}">JSON</a> · <a href="${escapeHtml(options.home)}">exporter</a></p>
${notes}    <p>A stale connection ends when its first process is signalled: the command is shown beside it. The exporter never runs it.</p>
    <div class="scroll">
      <table>
        <tr><th>PID</th><th>USER</th><th>CLIENT</th><th>STATE</th><th>AGE</th><th>SESSIONS</th><th>PTYS</th><th>STALE</th></tr>
${rows}      </table>
    </div>
${orphanList}  </body>
</html>
`
}
