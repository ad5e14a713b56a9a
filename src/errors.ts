/**
 * Every error the exporter raises on purpose, by code. Start-up errors (flags,
 * web config) stop the process with exit code 2 and print one line; the rest
 * are caught per collector and logged.
 */
export const ErrorCode = {
  /** A flag that does not exist. */
  FLAG_UNKNOWN: 'ERR_FLAG_UNKNOWN',
  /** A flag whose value is not of the kind it accepts. */
  FLAG_INVALID: 'ERR_FLAG_INVALID',
  /** A flag given without the value it needs. */
  FLAG_MISSING_VALUE: 'ERR_FLAG_MISSING_VALUE',
  /**
   * A --web.config.file that cannot be read, is not exporter-toolkit's format, or names
   * certificates, keys or password hashes that cannot be used.
   */
  WEB_CONFIG_INVALID: 'ERR_WEB_CONFIG_INVALID',
  /** A file under /proc that does not hold what the kernel writes there. */
  PROCFS_MALFORMED: 'ERR_PROCFS_MALFORMED',
  /** A collector that did not finish within its time limit. */
  COLLECTOR_TIMEOUT: 'ERR_COLLECTOR_TIMEOUT',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class ExporterError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ExporterError'
    this.code = code
  }
}

export function isExporterError(err: unknown, code?: ErrorCode): err is ExporterError {
  return err instanceof ExporterError && (code === undefined || err.code === code)
}

/**
 * The one test for "not there": a missing file (ENOENT), a path through something that is not a
 * directory (ENOTDIR), or a pid that vanished between open and read (ESRCH).
 */
export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ESRCH'
}
