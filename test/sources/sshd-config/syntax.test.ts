import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type SshdTimeSyntax, semanticsFor } from '../../../src/sources/sshd-config/semantics.ts'
import { parseSshdTime } from '../../../src/sources/sshd-config/syntax.ts'

describe('parseSshdTime', () => {
  const table: [string, number | undefined][] = [
    ['0', 0],
    ['90', 90],
    ['0s', 0],
    ['10S', 10],
    ['1m30s', 90],
    ['1M30S', 90],
    ['1m30', 90],
    ['2h', 7200],
    ['1d1', 86401],
    ['1w', 604800],
    ['1w2d3h4m5s', 788645],
    ['007', 7],
    ['2147483647', 2147483647],
    ['2147483648', undefined],
    ['35791394m', 2147483640],
    ['35791395m', undefined],
    ['3550w', 2147040000],
    ['3551w', undefined],
    ['2147483647s1', undefined],
    ['', undefined],
    ['none', undefined],
    ['1.5m', undefined],
    ['m', undefined],
    ['5mm', undefined],
    ['1x', undefined],
    ['+5', undefined],
    ['-5', undefined],
    [' 5', undefined],
    ['5 ', undefined],
  ]
  for (const [text, seconds] of table) {
    test(JSON.stringify(text), () => assert.equal(parseSshdTime(text), seconds))
  }
})

describe('parseSshdTime per syntax', () => {
  const SYNTAXES: SshdTimeSyntax[] = ['strtol-sticky-unit', 'strtol', 'digits', 'decimal']
  const _ = undefined
  // text, then seconds in 8.2-8.3, 8.4-9.7, 9.8-10.2, 10.3+
  const table: [string, ...(number | undefined)[]][] = [
    ['90', 90, 90, 90, 90],
    ['1m30', 1860, 90, 90, 90],
    ['1m30s', 1860, 90, 90, 90],
    ['2h1m', 7260, 7260, 7260, 7260],
    ['+5', 5, 5, _, _],
    ['-0', 0, 0, _, _],
    ['-5', _, _, _, _],
    [' 5', 5, 5, _, _],
    ['5 ', _, _, _, _],
    ['1.5', _, _, _, 1],
    ['.5s1m', _, _, _, 60],
    ['59.99', _, _, _, 59],
    ['1.5m', _, _, _, _],
    ['5.', _, _, _, _],
    ['1.2.3', _, _, _, _],
    ['1e3', _, _, _, _],
    ['10s10', 20, 20, 20, _],
    ['2147483647', 2147483647, 2147483647, 2147483647, 2147483647],
    ['2147483647.5', _, _, _, _],
    ['2147483648', _, _, _, _],
  ]
  for (const [text, ...seconds] of table) {
    SYNTAXES.forEach((syntax, i) => {
      test(`${JSON.stringify(text)} ${syntax}`, () =>
        assert.equal(parseSshdTime(text, syntax), seconds[i]))
    })
  }

  test('the versions of each syntax', () => {
    const times = ['8.2', '8.3', '8.4', '9.7', '9.8', '10.2', '10.3', '10.5'].map(
      (v) => semanticsFor(v).time,
    )
    assert.deepEqual(times, [
      'strtol-sticky-unit',
      'strtol-sticky-unit',
      'strtol',
      'strtol',
      'digits',
      'digits',
      'decimal',
      'decimal',
    ])
  })
})
