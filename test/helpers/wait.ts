// Polling and sleeping for tests that wait on something outside them: a server, a child process,
// a file another process writes.

export interface WaitOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number
  /** Poll interval (default 25 ms). */
  intervalMs?: number
  /** Extra context appended to the timeout error, e.g. the server's process tree. */
  describe?: () => string | Promise<string>
}

export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>

/**
 * Polls `check` until it returns a truthy value and returns that value. Errors thrown by `check`
 * count as "not yet"; the last one is quoted when the wait times out.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  const intervalMs = opts.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as Truthy<T>
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) break
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())))
  }
  let message = `timed out after ${timeoutMs} ms waiting for ${what}`
  if (lastError !== undefined) message += `\nlast error: ${errorText(lastError)}`
  if (opts.describe) {
    try {
      message += `\n${await opts.describe()}`
    } catch (error) {
      message += `\n(describe failed: ${errorText(error)})`
    }
  }
  throw new Error(message)
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** An error's message, or anything else as a string. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
