/**
 * A logger for `sshd-exporter sessions`: the lines pino writes (JSON, or logfmt through
 * logfmt.ts), at the levels --log.level names, on stderr, without loading pino (a terminal tool
 * should start fast; it logs a warning or two, not a stream). The server logs with logger.ts.
 */
import type { LogFormat, LogLevel } from './flags/core.ts'
import { jsonLineToLogfmt } from './logfmt.ts'
import type { ChildLogger } from './logger.ts'

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

export interface LineLoggerOptions {
  level: LogLevel
  format: LogFormat
  /** Where each line goes; stderr when absent. */
  write?: (line: string) => void
}

/** An Error as pino's serializer shows it: its type, message and code. */
function serialize(value: unknown): unknown {
  if (!(value instanceof Error)) return value
  const code = (value as NodeJS.ErrnoException).code
  return { type: value.name, message: value.message, ...(code === undefined ? {} : { code }) }
}

export function createLineLogger(
  options: LineLoggerOptions,
  bindings: Record<string, unknown> = {},
): ChildLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(line))
  const least = LEVELS.indexOf(options.level)
  const at = (level: LogLevel) => (first: unknown, message?: unknown) => {
    if (LEVELS.indexOf(level) < least) return
    const fields = typeof first === 'object' && first !== null ? first : {}
    const msg = typeof first === 'string' ? first : message
    const record: Record<string, unknown> = { level, time: new Date().toISOString(), ...bindings }
    for (const [key, value] of Object.entries(fields)) record[key] = serialize(value)
    if (msg !== undefined) record.msg = msg
    const line = `${JSON.stringify(record)}\n`
    write(options.format === 'logfmt' ? jsonLineToLogfmt(line.trimEnd()) : line)
  }
  // pino's LogFn is overloaded ((obj, msg) and (msg)); these take both forms.
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => createLineLogger(options, { ...bindings, ...more }),
  }
}
