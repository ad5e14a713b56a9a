/**
 * The fields of one /proc/<pid>/net/tcp line, read from its bytes where they lie: the kernel's
 * fixed-width hex (`%08X`, `%04X`, `%02X`), right-aligned decimals (`%5u`, `%8d`, `%lu`) and the
 * single-byte separators between them. A FieldCursor is a position in a line; the caller owns it
 * (one per NetTcpState) and sets it to each line. Nothing is decoded or allocated.
 */

export const NEWLINE = 10
export const SPACE = 32
export const COLON = 58

/** The value of each byte as a hex digit (0-9, A-F, a-f), or -1. Built once, never written. */
const HEX = new Int8Array(256).fill(-1)
for (let d = 0; d < 16; d++) {
  HEX[d.toString(16).charCodeAt(0)] = d
  HEX[d.toString(16).toUpperCase().charCodeAt(0)] = d
}

/** The value of exactly `digits` (at most 8) hex digits at `at`, or -1 (also past the end). */
export function hexAt(buf: Uint8Array, at: number, digits: number): number {
  if (at + digits > buf.length) return -1
  let value = 0
  for (let i = at; i < at + digits; i++) {
    const d = HEX[buf[i]!]!
    if (d < 0) return -1
    value = value * 16 + d
  }
  return value
}

/** A position in the line buf[at, end): each read advances `at` past what it took. */
export class FieldCursor {
  buf: Buffer
  at = 0
  end = 0

  constructor(buf: Buffer) {
    this.buf = buf
  }

  /**
   * Exactly `digits` (at most 8) hex digits, or -1. More digits are left for the separator the
   * caller takes next, which then fails.
   */
  hexFixed(digits: number): number {
    if (this.at + digits > this.end) return -1
    const value = hexAt(this.buf, this.at, digits)
    if (value >= 0) this.at += digits
    return value
  }

  /** The hex digits here: their value when there are `min` to `max` (exact up to 13), else -1. */
  hex(min: number, max: number): number {
    const { buf, end } = this
    const start = this.at
    let at = start
    let value = 0
    while (at < end) {
      const d = HEX[buf[at]!]!
      if (d < 0) break
      value = value * 16 + d
      at++
    }
    this.at = at
    return at - start >= min && at - start <= max ? value : -1
  }

  /** 1 to 15 decimal digits, or -1. */
  decimal(): number {
    const { buf, end } = this
    const start = this.at
    let at = start
    let value = 0
    while (at < end) {
      const c = buf[at]!
      if (c < 48 || c > 57) break
      value = value * 10 + (c - 48)
      at++
    }
    this.at = at
    return at - start >= 1 && at - start <= 15 ? value : -1
  }

  skipSpaces(): void {
    while (this.at < this.end && this.buf[this.at] === SPACE) this.at++
  }

  /** Takes the byte `c` here: false when it is another or the line has ended. */
  take(c: number): boolean {
    if (this.at >= this.end || this.buf[this.at] !== c) return false
    this.at++
    return true
  }

  /** Takes `words` 8-digit hex words and a `:` (an address): false when they are not there. */
  skipAddress(words: number): boolean {
    if (this.at + words * 8 >= this.end) return false
    for (let i = 0; i < words; i++) if (hexAt(this.buf, this.at + i * 8, 8) < 0) return false
    this.at += words * 8
    return this.take(COLON)
  }
}
