/**
 * utmp under an injected root (`--path.rootfs`): `<rootfs>/run/utmp`, or `<rootfs>/var/run/utmp`
 * when the former does not exist, resolved as if the root were a chroot (rootfs.ts). A
 * UtmpReader is created once and read every scrape: it gives its last result again, the same
 * object, while the file's bytes are the same, and parses them again only when they changed.
 * null means no utmp (Debian 13 keeps none): not applicable, not an error. Synchronous, like
 * procfs: /run is a tmpfs.
 */
import { closeSync, readSync } from 'node:fs'
import { openIfPresentSync } from '../read-into.ts'
import { resolveInRoot } from '../rootfs.ts'
import { type ParsedUtmp, parseUtmp } from './parse.ts'

export interface UtmpFile extends ParsedUtmp {
  /** Which file was read, as a path inside the root. */
  path: string
  /** The file was larger than the cap: only its beginning was parsed. */
  truncated: boolean
}

/** How much of utmp one read asks for when UtmpReader compares it with the last read. */
const UTMP_CHUNK_BYTES = 64 * 1024

/** Where utmp is looked for, in order; the second only when the first does not exist. */
export const UTMP_PATHS = ['/run/utmp', '/var/run/utmp'] as const

/** About 16 MiB, and a multiple of both record sizes (9600 = 25 × 384 = 24 × 400). */
export const UTMP_MAX_BYTES = 1747 * 9600

/**
 * Reads utmp, kept by a collector from scrape to scrape: the file is read into a buffer kept
 * between reads, and when its bytes are those of the last read the last result is given again,
 * the same objects. utmp changes only at logins and logouts, and at 10,000 sessions it is 4.6 MB
 * of 12,000 records: parsing it every scrape was a millisecond per thousand sessions and most of
 * the heap's churn.
 */
export class UtmpReader {
  readonly #rootfs: string
  readonly #maxBytes: number
  /** The bytes the last result was parsed from (the first #length), read over in place. */
  #current: Buffer = Buffer.alloc(0)
  #length = 0
  /** What each read system call fills: the file is compared with #current a chunk at a time. */
  readonly #chunk = Buffer.allocUnsafe(UTMP_CHUNK_BYTES)
  #last: UtmpFile | null = null

  constructor(rootfs: string, maxBytes: number = UTMP_MAX_BYTES) {
    this.#rootfs = rootfs
    this.#maxBytes = maxBytes
  }

  /**
   * The file's records; null when neither file exists. Reads at most `maxBytes`. Throws the file
   * system's error when the file exists but cannot be read (EACCES, EISDIR, ELOOP).
   */
  read(): UtmpFile | null {
    for (const path of UTMP_PATHS) {
      const host = resolveInRoot(this.#rootfs, path)
      if (host === null) continue
      const read = this.#readComparing(host)
      if (read === null) continue
      const last = this.#last
      if (read.same && last?.path === path && last.truncated === read.truncated) return last
      const bytes = this.#current.subarray(0, this.#length)
      this.#last = { ...parseUtmp(bytes), path, truncated: read.truncated }
      return this.#last
    }
    this.#last = null
    this.#length = 0
    return null
  }

  /**
   * Reads the file over #current, comparing while its bytes are those already there: one buffer
   * of the file's size, not a second to compare with. `same` when the length (at most the cap)
   * and every byte up to it are the last read's. Null when the file is gone.
   */
  #readComparing(host: string): { same: boolean; truncated: boolean } | null {
    const fd = openIfPresentSync(host)
    if (fd < 0) return null
    try {
      // One byte past the cap tells a truncated file.
      const cap = this.#maxBytes + 1
      let length = 0
      let same = true
      for (;;) {
        const n = readSync(fd, this.#chunk, 0, Math.min(this.#chunk.length, cap - length), null)
        if (n === 0) break
        const before = length
        length += n
        // Only the bytes the last read kept are compared: past them the file grew (the length
        // tells), or this is the byte past the cap, which a truncated file always has.
        const kept = Math.min(length, this.#length)
        if (same && kept > before) {
          same = this.#chunk.compare(this.#current, before, kept, 0, kept - before) === 0
        }
        if (same && length <= this.#length) continue
        if (length > this.#current.length) {
          const bigger = Buffer.allocUnsafe(
            Math.min(Math.max(length, this.#current.length * 2), cap),
          )
          this.#current.copy(bigger, 0, 0, before)
          this.#current = bigger
        }
        this.#chunk.copy(this.#current, before, 0, n)
        if (length === cap) break
      }
      const truncated = length > this.#maxBytes
      if (truncated) length = this.#maxBytes
      same &&= length === this.#length
      this.#length = length
      return { same, truncated }
    } finally {
      closeSync(fd)
    }
  }
}
