/**
 * displayWidth: the terminal columns of what the sessions table prints, as wcwidth(3) counts
 * them (the expected widths are those glibc's wcwidth gives in a UTF-8 locale).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { displayWidth } from '../../src/sessions/width.ts'

const CASES: readonly [string, string, number][] = [
  ['empty', '', 0],
  ['ASCII', 'alice@192.0.2.10:51514', 22],
  ['Latin letters, precomposed', 'josé müller', 11],
  ['a combining acute accent', 'jose\u0301', 4],
  ['Han', '山田太郎', 8],
  ['Hangul syllables', '김철수', 6],
  ['hiragana and katakana', 'やまだ ヤマダ', 13],
  ['fullwidth Latin', 'ＡＢＣ', 6],
  ['halfwidth katakana (narrow)', 'ﾔﾏﾀﾞ', 4],
  ['an emoji', 'ok 😀', 5],
  ['a zero-width joiner and space', 'a\u200db\u200bc', 3],
  ['Cyrillic', 'иван', 4],
  ['a CJK extension B ideograph', '𠀋', 2],
]

describe('displayWidth', () => {
  for (const [what, text, width] of CASES) {
    it(`${what}: ${width}`, () => assert.equal(displayWidth(text), width))
  }
})
