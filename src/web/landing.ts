/**
 * The landing page at /, after exporter-toolkit's web.LandingConfig: the caller's name,
 * description and version, links, and tables the caller fills in; this file names no
 * exporter. Every text is escaped here; a description's line breaks are kept as
 * indented lines of the HTML.
 */

export interface LandingLink {
  address: string
  text: string
}

/** A table under a heading; each row's cells are plain text. */
export interface LandingTable {
  heading: string
  rows: readonly (readonly string[])[]
}

export interface LandingOptions {
  /** The page's title and heading. */
  name: string
  description: string
  version: string
  links: readonly LandingLink[]
  /** Paragraphs under the description: warnings the operator should see. */
  notes?: readonly string[]
  tables: readonly LandingTable[]
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

function table(t: LandingTable): string {
  const rows = t.rows.map(
    (cells) => `      <tr>${cells.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>\n`,
  )
  return `    <h2>${escapeHtml(t.heading)}</h2>
    <table>
${rows.join('')}    </table>
`
}

/** Built once at start-up: nothing on it changes while the exporter runs. */
export function landingPage(options: LandingOptions): string {
  const name = escapeHtml(options.name)
  const description = escapeHtml(options.description).replaceAll('\n', '\n      ')
  const links = options.links.map(
    (l) => `      <li><a href="${escapeHtml(l.address)}">${escapeHtml(l.text)}</a></li>\n`,
  )
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${name}</title>
    <style>
      body { font-family: system-ui, sans-serif; margin: 2em; max-width: 48em; }
      table { border-collapse: collapse; }
      td { padding: 0.2em 1em 0.2em 0; }
    </style>
  </head>
  <body>
    <h1>${name}</h1>
    <p>${description}</p>
    <p>Version: ${escapeHtml(options.version)}</p>
${(options.notes ?? []).map((n) => `    <p class="note"><strong>${escapeHtml(n)}</strong></p>\n`).join('')}    <ul>
${links.join('')}    </ul>
${options.tables.map(table).join('')}  </body>
</html>
`
}
