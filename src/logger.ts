/**
 * pino, writing to stderr as the Prometheus exporters do: JSON lines by
 * default, or logfmt (`time=… level=info msg="…" key=value`) for people who
 * read logs in a terminal or ship them to Loki with a logfmt parser.
 */
import { type DestinationStream, type Logger, pino } from 'pino'
import type { LogFormat, LogLevel } from './flags/core.ts'
import { jsonLineToLogfmt } from './logfmt.ts'

export type { Logger }

/**
 * The part of Logger a source or the scanner calls: a pino Logger (or a child) fits, and so does
 * a test's fake whose methods take `(obj, msg?)`. Take this or Logger, not an interface of your own.
 */
export type LoggerLike = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

/** A LoggerLike that makes children with bindings of their own: pino's, or line-logger.ts's. */
export interface ChildLogger extends LoggerLike {
  child(bindings: Record<string, unknown>): ChildLogger
}

export interface LoggerOptions {
  level: LogLevel
  format: LogFormat
  /** Where lines go; stderr when absent. Tests pass a collecting stream. */
  destination?: DestinationStream
}

function logfmtStream(target: DestinationStream): DestinationStream {
  return {
    write(chunk: string) {
      let start = 0
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        target.write(jsonLineToLogfmt(chunk.slice(start, nl)))
        start = nl + 1
      }
    },
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const target = options.destination ?? pino.destination({ dest: 2, sync: true })
  return pino(
    {
      level: options.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.format === 'logfmt' ? logfmtStream(target) : target,
  )
}
