import type { LoggerLike } from '../../src/logger.ts'

/** A logger that keeps what it is told, for tests that check what the exporter said. */
export interface Logged {
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  obj: Record<string, unknown>
}

export type CollectingLogger = LoggerLike & { lines: Logged[] }

export function collectingLogger(): CollectingLogger {
  const lines: Logged[] = []
  const at =
    (level: Logged['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> })
    }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
