/** The landing page at /: what this is, its version, its collectors, a link to the metrics. */

export interface CollectorStatus {
  name: string
  /** enabled, disabled by flag, or not applicable on this host (with the reason). */
  state: 'enabled' | 'disabled' | 'not applicable'
  reason?: string
}

export interface LandingOptions {
  version: string
  telemetryPath: string
  collectors: readonly CollectorStatus[]
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

/** Built once at start-up: nothing on it changes while the exporter runs. */
export function landingPage(options: LandingOptions): string {
  const rows = options.collectors
    .map((c) => {
      const reason = c.reason === undefined ? '' : ` (${escapeHtml(c.reason)})`
      return `      <tr><td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.state)}${reason}</td></tr>`
    })
    .join('\n')
  const path = escapeHtml(options.telemetryPath)
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>sshd exporter</title>
    <style>
      body { font-family: system-ui, sans-serif; margin: 2em; max-width: 48em; }
      table { border-collapse: collapse; }
      td { padding: 0.2em 1em 0.2em 0; }
    </style>
  </head>
  <body>
    <h1>sshd exporter</h1>
    <p>Prometheus exporter for OpenSSH servers: sessions per connection and user,
      MaxSessions, MaxStartups, stale sessions and what sshd refused.</p>
    <p>Version: ${escapeHtml(options.version)}</p>
    <ul>
      <li><a href="${path}">Metrics</a></li>
      <li><a href="/-/healthy">Health</a></li>
    </ul>
    <h2>Collectors</h2>
    <table>
${rows}
    </table>
  </body>
</html>
`
}
