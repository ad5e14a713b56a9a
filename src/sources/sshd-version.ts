// The OpenSSH version of an sshd executable, read from its bytes instead of running `sshd -V`
// (a container sees the host's /proc/<pid>/exe and <rootfs>/usr/sbin/sshd, but cannot run them).
//
// version.h defines SSH_VERSION `OpenSSH_10.0` and, in portable builds (every Linux
// distribution), SSH_RELEASE `OpenSSH_10.0p2`; both are strings in the binary, SSH_RELEASE also
// as the start of the banner with a distribution suffix (`OpenSSH_10.0p2 Debian-7`). compat.c's
// patterns for peers (`OpenSSH_7.4*`, `OpenSSH_2.*,OpenSSH_3.0*`) are not versions: a version
// starts after a NUL, a space or `-` and ends at a NUL or a space. SSH_RELEASE is preferred; the result keeps `pN` (`10.0p2`, `9.2p1`,
// or `7.5` from an OpenBSD build). A missing or unreadable file gives null; nothing throws.

import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { readInto } from './read-into.ts'

const MARK = Buffer.from('OpenSSH_', 'latin1')
/** A candidate, its terminator and the byte before it fit in this many bytes. */
const LONGEST = 32
const CHUNK_BYTES = 1024 * 1024
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024
/** What may come before a version: a NUL (a string of its own), a space, `-` (`SSH-2.0-`). */
const STARTS = new Set([0, 0x20, 0x2d])

/** `OpenSSH_x.y` or `OpenSSH_x.ypN` at `at`, or null; `release` when it has `pN`. */
function candidateAt(bytes: Uint8Array, at: number): { version: string; release: boolean } | null {
  if (at > 0 && !STARTS.has(bytes[at - 1]!)) return null
  const start = at + MARK.length
  let i = start
  const digits = (): boolean => {
    const first = i
    while (i < bytes.length && i - first < 4 && isDigit(bytes[i]!)) i++
    return i > first && !(i < bytes.length && isDigit(bytes[i]!))
  }
  if (!digits() || bytes[i++] !== 0x2e || !digits()) return null // major '.' minor
  const release = bytes[i] === 0x70 // 'p', the portable release
  if (release) {
    i++
    if (!digits()) return null
  }
  if (bytes[i] !== 0 && bytes[i] !== 0x20) return null // a NUL or a space ends a version
  return { version: String.fromCharCode(...bytes.subarray(start, i)), release }
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39
}

/** The first SSH_RELEASE-like and the first SSH_VERSION-like candidate starting in [from, to). */
function scan(
  bytes: Uint8Array,
  from: number,
  to: number,
): { release: string | null; plain: string | null } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  let plain: string | null = null
  for (let at = buffer.indexOf(MARK, from); at >= 0 && at < to; at = buffer.indexOf(MARK, at + 1)) {
    const found = candidateAt(bytes, at)
    if (found?.release) return { release: found.version, plain }
    if (found !== null) plain ??= found.version
  }
  return { release: null, plain }
}

/** The OpenSSH version in an sshd executable's bytes (`10.0p2`), or null. */
export function findOpensshVersion(bytes: Uint8Array): string | null {
  const { release, plain } = scan(bytes, 0, bytes.length)
  return release ?? plain
}

/**
 * The OpenSSH version of the executable at `path` (`/proc/<pid>/exe`, `<rootfs>/usr/sbin/sshd`),
 * read in chunks up to `maxBytes` (default 32 MiB); null when there is none or it cannot be read.
 */
export async function readSshdVersion(
  path: string,
  opts: { maxBytes?: number } = {},
): Promise<string | null> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    // O_NONBLOCK: a FIFO fails instead of hanging.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
    const buffer = Buffer.allocUnsafe(LONGEST + 1 + CHUNK_BYTES)
    let base = 0 // the file offset of buffer[0]
    let next = 0 // the file offset of the first candidate start not yet looked at
    let length = 0
    let plain: string | null = null
    for (;;) {
      const want = Math.min(CHUNK_BYTES, maxBytes - (base + length))
      const got = want > 0 ? (await readInto(handle, buffer, length, length + want)) - length : 0
      length += got
      const last = got < want || base + length >= maxBytes
      // A candidate starting before `to` lies wholly in the buffer; later ones wait for more.
      const to = last ? length : length - LONGEST
      if (to > next - base) {
        const found = scan(buffer.subarray(0, length), next - base, to)
        if (found.release !== null) return found.release
        plain ??= found.plain
        next = base + to
      }
      if (last) return plain
      // Keep what is not looked at yet, and the byte before it.
      const keep = Math.max(0, next - base - 1)
      buffer.copy(buffer, 0, keep, length)
      base += keep
      length -= keep
    }
  } catch {
    return null
  } finally {
    await handle?.close().catch(() => {})
  }
}
