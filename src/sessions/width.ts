/**
 * How many terminal columns a string takes, as wcwidth(3) counts them, so that the sessions
 * table lines up a user name in Han, Hangul or kana (SSSD and AD names may be any letters), a
 * fullwidth form or an emoji: 2 columns for the East Asian wide and fullwidth blocks (Unicode
 * UAX #11), 0 for combining marks and format characters, 1 for the rest. Blocks, not a per-code
 * point table: a rare wide character outside them, or an emoji sequence, may be a column off.
 */

/** [first, last] code points of the blocks whose characters take two columns, ascending. */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2e80, 0x303e], // CJK radicals, Kangxi, CJK symbols and punctuation
  [0x3041, 0x33ff], // kana, Bopomofo, Hangul compatibility Jamo, enclosed CJK, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x1b000, 0x1b2ff], // kana supplement and extensions
  [0x1f300, 0x1f64f], // pictographs, emoticons
  [0x1f900, 0x1f9ff], // supplemental symbols and pictographs
  [0x20000, 0x2fffd], // CJK extensions B to F, compatibility supplement
  [0x30000, 0x3fffd], // CJK extensions G and H
]

/** Combining marks (nonspacing, enclosing) and format characters (ZWJ, ZWSP…): no column. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u

function isWide(codePoint: number): boolean {
  // Ascending: the first block that starts past the code point ends the search.
  for (const [first, last] of WIDE) {
    if (codePoint < first) return false
    if (codePoint <= last) return true
  }
  return false
}

export function displayWidth(text: string): number {
  let width = 0
  for (const c of text) {
    const codePoint = c.codePointAt(0)!
    // Printable ASCII, nearly every cell of the table: one column each, no lookup.
    if (codePoint >= 0x20 && codePoint < 0x7f) width += 1
    else if (ZERO_WIDTH.test(c)) continue
    else width += isWide(codePoint) ? 2 : 1
  }
  return width
}
