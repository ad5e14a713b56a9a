/**
 * Basic auth as exporter-toolkit does it: users and bcrypt hashes from the web config; a
 * wrong user and a wrong password get the same answer. An unknown user costs one comparison
 * against DECOY_HASH, a fixed hash of cost 10 as in exporter-toolkit, whatever the configured
 * costs: a known user costs its own hash's cost, so when that is not 10 timing can tell a
 * known user from an unknown one, as with exporter-toolkit. Successes are cached, since bcrypt
 * is slow on purpose and Prometheus sends the same credentials every scrape: at most 100, the
 * oldest dropped first, keyed by an HMAC (random per-process key) of user, hash and password,
 * so no password is held and a changed hash or password misses. Concurrent requests with the
 * same credentials share one comparison. Comparisons run on the bounded pool of
 * bcrypt-pool.ts: when its queue is full the answer is 'busy' (429), and a cached success
 * never waits for it.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { BcryptBusyError, bcryptPool, type Compare } from './bcrypt-pool.ts'

export { BcryptBusyError, type Compare } from './bcrypt-pool.ts'

export interface Credentials {
  user: string
  password: string
}

/** The credentials of an `Authorization: Basic …` header as Go's Request.BasicAuth reads them. */
export function parseBasicAuthorization(header: string | undefined): Credentials | null {
  if (header === undefined || header.length < 6) return null
  if (header.slice(0, 6).toLowerCase() !== 'basic ') return null
  const encoded = header.slice(6)
  if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return null
  const decoded = Buffer.from(encoded, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return null
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * What an unknown user's password is compared against: a bcrypt hash of cost 10 (as
 * exporter-toolkit's decoy) of a random password that was thrown away.
 */
export const DECOY_HASH = '$2b$10$KqYFmh/mX0k5BxQqrRPvZeulk/8WwZW3KM5uHAtBgzWo4CfZygChm'

/** What basic auth makes of a request: let it through, 401, or 429 (the bcrypt queue is full). */
export type Verdict = 'ok' | 'unauthorized' | 'busy'

const CACHE_SIZE = 100

/** Successful verifications; one per exporter, kept across web config reloads. */
export class VerifiedCache {
  readonly #key = randomBytes(32)
  readonly #verified = new Set<string>()
  readonly #pending = new Map<string, Promise<boolean>>()
  readonly #size: number

  constructor(size = CACHE_SIZE) {
    this.#size = size
  }

  get size(): number {
    return this.#verified.size
  }

  /**
   * Whether `password` matches `hash`: from the cache, or by `compare` (shared while running).
   * A compare that throws is a mismatch, but BcryptBusyError, which is thrown on.
   */
  async verify(user: string, hash: string, password: string, compare: Compare): Promise<boolean> {
    const key = createHmac('sha256', this.#key)
      .update(JSON.stringify([user, hash, password]))
      .digest('base64')
    if (this.#verified.has(key)) return true
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = compare(password, hash)
        .catch((err: unknown) => {
          if (err instanceof BcryptBusyError) throw err
          return false
        })
        .finally(() => this.#pending.delete(key))
      this.#pending.set(key, pending)
    }
    const ok = await pending
    if (ok && !this.#verified.has(key)) {
      if (this.#verified.size >= this.#size) {
        const oldest = this.#verified.values().next()
        if (oldest.done !== true) this.#verified.delete(oldest.value)
      }
      this.#verified.add(key)
    }
    return ok
  }
}

/** The cost of a bcrypt hash (`$2b$10$…`: 10). */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6))
}

export class BasicAuth {
  readonly #users: ReadonlyMap<string, string>
  readonly #cache: VerifiedCache
  readonly #compare: Compare

  /**
   * `users`: user -> bcrypt hash, at least one, hashes already validated. `compare`: by
   * default the process's bcrypt pool.
   */
  constructor(
    users: ReadonlyMap<string, string>,
    cache: VerifiedCache,
    compare: Compare = (password, hash) => bcryptPool().compare(password, hash),
  ) {
    this.#users = users
    this.#cache = cache
    this.#compare = compare
  }

  /** True when the Authorization header names a configured user and that user's password. */
  async verify(authorization: string | undefined): Promise<boolean> {
    return (await this.check(authorization)) === 'ok'
  }

  /** What to answer a request with this Authorization header. */
  async check(authorization: string | undefined): Promise<Verdict> {
    const credentials = parseBasicAuthorization(authorization)
    if (credentials === null) return 'unauthorized'
    const hash = this.#users.get(credentials.user)
    try {
      if (hash === undefined) {
        // Work as exporter-toolkit does for a user that does not exist: one cost-10 comparison.
        await this.#compare(credentials.password, DECOY_HASH).catch((err: unknown) => {
          if (err instanceof BcryptBusyError) throw err
        })
        return 'unauthorized'
      }
      const ok = await this.#cache.verify(
        credentials.user,
        hash,
        credentials.password,
        this.#compare,
      )
      return ok ? 'ok' : 'unauthorized'
    } catch (err) {
      if (err instanceof BcryptBusyError) return 'busy'
      throw err
    }
  }
}
