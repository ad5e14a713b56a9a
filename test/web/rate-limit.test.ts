import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TokenBucket } from '../../src/web/rate-limit.ts'

describe('TokenBucket', () => {
  it('starts full, then refills one token per interval', () => {
    const b = new TokenBucket(1, 2, 0)
    assert.equal(b.take(0), true)
    assert.equal(b.take(0), true)
    assert.equal(b.take(0), false)
    assert.equal(b.take(500), false, 'half a token')
    assert.equal(b.take(1000), true)
    assert.equal(b.take(1000), false)
  })

  it('holds no more than the burst after a long quiet time', () => {
    const b = new TokenBucket(1, 2, 0)
    assert.equal(b.take(3_600_000), true)
    assert.equal(b.take(3_600_000), true)
    assert.equal(b.take(3_600_000), false)
  })

  it('with a burst of 0, refuses everything (as exporter-toolkit)', () => {
    const b = new TokenBucket(1, 0, 0)
    assert.equal(b.take(0), false)
    assert.equal(b.take(10_000), false)
  })
})
