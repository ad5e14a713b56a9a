import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { COLON, FieldCursor, hexAt, SPACE } from '../../../src/sources/net-tcp/fields.ts'

/** A cursor over `text`, at its start. */
function over(text: string): FieldCursor {
  const cursor = new FieldCursor(Buffer.from(text, 'latin1'))
  cursor.end = text.length
  return cursor
}

describe('hexAt', () => {
  it('reads exactly the digits asked for, either case, or -1', () => {
    const buf = Buffer.from('0100007Fff:x')
    assert.equal(hexAt(buf, 0, 8), 0x0100007f)
    assert.equal(hexAt(buf, 8, 2), 0xff)
    assert.equal(hexAt(buf, 9, 2), -1, 'a colon')
    assert.equal(hexAt(buf, 10, 8), -1, 'past the end')
  })
})

describe('FieldCursor', () => {
  it('reads the fields of a line in order, each advancing past what it took', () => {
    const c = over('  12: 0100007F:0016 0A 0000000000000010 161801 ')
    c.skipSpaces()
    assert.equal(c.decimal(), 12)
    assert.ok(c.take(COLON) && c.take(SPACE))
    assert.ok(c.skipAddress(1))
    assert.equal(c.hexFixed(4), 22)
    assert.ok(c.take(SPACE))
    assert.equal(c.hexFixed(2), 10)
    assert.ok(c.take(SPACE))
    assert.equal(c.hex(8, 16), 16)
    c.skipSpaces()
    assert.equal(c.decimal(), 161801)
    assert.ok(c.take(SPACE))
    assert.equal(c.take(SPACE), false, 'at the end')
  })

  it('gives -1 or false for what is not there, and never reads past the end', () => {
    assert.equal(over('123').hexFixed(4), -1)
    assert.equal(over('12G4').hexFixed(4), -1)
    assert.equal(over('1234567').hex(8, 16), -1, 'too few digits')
    assert.equal(over('1'.repeat(17)).hex(8, 16), -1, 'too many')
    assert.equal(over('x').decimal(), -1)
    assert.equal(over('1'.repeat(16)).decimal(), -1, 'more than 15 digits')
    assert.equal(over('0100007F').skipAddress(1), false, 'no colon')
    const short = over('0100007F:0016')
    short.end = 8
    assert.equal(short.skipAddress(1), false, 'the colon past the end')
    assert.equal(short.at, 0)
  })
})
