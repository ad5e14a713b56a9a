/**
 * logfmt (`level=info time=… msg="…" key=value`), from the JSON lines pino and line-logger.ts
 * write: one line to one line, keys in the line's order. No dependency, so that a terminal tool
 * can write it without loading pino.
 */

const BARE = /^[^\s"=\\]+$/

function logfmtValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  return text !== '' && BARE.test(text) ? text : JSON.stringify(text)
}

/** One pino JSON line to one logfmt line; keys in pino's order. */
export function jsonLineToLogfmt(line: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const parts: string[] = []
  for (const [key, value] of Object.entries(record)) {
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { message?: unknown; code?: unknown }
      parts.push(`err=${logfmtValue(err.message)}`)
      if (err.code !== undefined) parts.push(`err_code=${logfmtValue(err.code)}`)
      continue
    }
    parts.push(`${key}=${logfmtValue(value)}`)
  }
  return `${parts.join(' ')}\n`
}
