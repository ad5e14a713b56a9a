/**
 * exporter-toolkit's `rate_limit`: one token bucket for the whole server (Go's
 * rate.Limiter), refilled at one token per `interval`, holding at most `burst`, full at
 * the start. A request without a token gets 429. A burst of 0 refuses every request, as
 * in exporter-toolkit.
 */
export class TokenBucket {
  readonly intervalSeconds: number
  readonly burst: number
  #tokens: number
  #last: number

  constructor(intervalSeconds: number, burst: number, now = performance.now()) {
    this.intervalSeconds = intervalSeconds
    this.burst = burst
    this.#tokens = burst
    this.#last = now
  }

  /** Takes a token if there is one; `now` in milliseconds (performance.now()). */
  take(now = performance.now()): boolean {
    const refill = (now - this.#last) / 1000 / this.intervalSeconds
    this.#tokens = Math.min(this.burst, this.#tokens + Math.max(0, refill))
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
