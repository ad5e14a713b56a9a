/**
 * Basic auth as exporter-toolkit does it: users and bcrypt hashes from the web config; a
 * wrong user and a wrong password get the same answer after the same work (an unknown
 * user costs one comparison against the costliest configured hash). Successes are cached,
 * since bcrypt is slow on purpose and Prometheus sends the same credentials every scrape:
 * at most 100, the oldest dropped first, keyed by an HMAC (random per-process key) of user,
 * hash and password, so no password is held and a changed hash or password misses.
 * Concurrent requests with the same credentials share one comparison.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { compare as bcryptCompare } from 'bcryptjs'

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

export type Compare = (password: string, hash: string) => Promise<boolean>

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

  /** Whether `password` matches `hash`: from the cache, or by `compare` (shared while running). */
  async verify(user: string, hash: string, password: string, compare: Compare): Promise<boolean> {
    const key = createHmac('sha256', this.#key)
      .update(JSON.stringify([user, hash, password]))
      .digest('base64')
    if (this.#verified.has(key)) return true
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = compare(password, hash)
        .catch(() => false)
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

function cost(hash: string): number {
  return Number(hash.slice(4, 6))
}

export class BasicAuth {
  readonly #users: ReadonlyMap<string, string>
  readonly #cache: VerifiedCache
  readonly #compare: Compare
  /** What a user that does not exist is compared against. */
  readonly #decoy: string

  /** `users`: user -> bcrypt hash, at least one, hashes already validated. */
  constructor(
    users: ReadonlyMap<string, string>,
    cache: VerifiedCache,
    compare: Compare = bcryptCompare,
  ) {
    this.#users = users
    this.#cache = cache
    this.#compare = compare
    let decoy = ''
    for (const hash of users.values()) if (decoy === '' || cost(hash) > cost(decoy)) decoy = hash
    this.#decoy = decoy
  }

  /** True when the Authorization header names a configured user and that user's password. */
  async verify(authorization: string | undefined): Promise<boolean> {
    const credentials = parseBasicAuthorization(authorization)
    if (credentials === null) return false
    const hash = this.#users.get(credentials.user)
    if (hash === undefined) {
      // The same work as for a user that exists, so that timing does not tell them apart.
      await this.#compare(credentials.password, this.#decoy).catch(() => false)
      return false
    }
    return this.#cache.verify(credentials.user, hash, credentials.password, this.#compare)
  }
}
