/**
 * The text of an address in /proc/<pid>/net/tcp or tcp6: 8 hex digits (IPv4) or 32 (IPv6), each
 * 32-bit word the __be32 the kernel keeps printed with %08X, so its bytes come out reversed on a
 * little-endian host. IPv4 (and IPv4-mapped IPv6) becomes `a.b.c.d`, interned in the caller's
 * AddressStrings (kept between scrapes); other IPv6 is RFC 5952 text, made afresh.
 * The digits must already be checked (FieldCursor.skipAddress).
 */
import { hexAt } from './fields.ts'

/**
 * Formatted IPv4 addresses by their 32-bit value in network byte order (an int32: a small
 * integer to V8, looked up without allocating). A connection's addresses never change, and every
 * scrape formats those of every connection: the same address gives the same string instance.
 * Bounded: emptied whole at 65,536 entries (some 5 MB), after which addresses are formatted anew.
 */
export class AddressStrings {
  readonly #byValue = new Map<number, string>()

  /** `a.b.c.d` for an address in network byte order, interned. */
  dotted(n: number): string {
    const key = n | 0
    let text = this.#byValue.get(key)
    if (text === undefined) {
      if (this.#byValue.size >= ADDRESS_STRINGS_MAX) this.#byValue.clear()
      text = `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`
      this.#byValue.set(key, text)
    }
    return text
  }
}

export const ADDRESS_STRINGS_MAX = 65_536

/**
 * The address of `words` (1: IPv4, 4: IPv6) checked hex words at buf[at], written by a host of
 * the given byte order: '127.0.0.1', '::1', '2001:db8::1'; IPv4-mapped IPv6 as plain IPv4.
 */
export function formatAddress(
  strings: AddressStrings,
  buf: Uint8Array,
  at: number,
  words: 1 | 4,
  littleEndian: boolean,
): string {
  if (words === 1) return strings.dotted(wordAt(buf, at, littleEndian))
  const w0 = wordAt(buf, at, littleEndian)
  const w1 = wordAt(buf, at + 8, littleEndian)
  const w2 = wordAt(buf, at + 16, littleEndian)
  const w3 = wordAt(buf, at + 24, littleEndian)
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return strings.dotted(w3) // ::ffff:a.b.c.d
  return formatIPv6(w0, w1, w2, w3)
}

/** The 32-bit word at `at` (8 hex digits already checked) in network byte order. */
function wordAt(buf: Uint8Array, at: number, littleEndian: boolean): number {
  const w = hexAt(buf, at, 8)
  if (!littleEndian) return w
  return (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0
}

/** Group i (0 to 7) of the address w0 w1 w2 w3. */
function group(w0: number, w1: number, w2: number, w3: number, i: number): number {
  const w = i < 4 ? (i < 2 ? w0 : w1) : i < 6 ? w2 : w3
  return (i & 1) === 0 ? w >>> 16 : w & 0xffff
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIPv6(w0: number, w1: number, w2: number, w3: number): string {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (group(w0, w1, w2, w3, i) !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && group(w0, w1, w2, w3, j) === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::'
      i += bestLength - 1
      continue
    }
    if (out !== '' && !out.endsWith(':')) out += ':'
    out += group(w0, w1, w2, w3, i).toString(16)
  }
  return out
}
