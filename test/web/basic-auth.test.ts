/**
 * Basic auth: header parsing, bcrypt verification, the decoy for unknown users, the cache. The
 * bcrypt pool and the 429: basic-auth-pool.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compare as bcryptCompare, compareSync, getRounds, hashSync } from 'bcryptjs'
import {
  BasicAuth,
  bcryptCost,
  type Compare,
  DECOY_HASH,
  parseBasicAuthorization,
  VerifiedCache,
} from '../../src/web/basic-auth.ts'

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`
const ALICE_HASH = hashSync('wonderland', 4)
const BOB_HASH = hashSync('builder', 5)

/** A bcrypt compare that records its calls. */
function spy(): { compare: Compare; calls: [string, string][] } {
  const calls: [string, string][] = []
  return {
    calls,
    compare: (password, hash) => {
      calls.push([password, hash])
      return bcryptCompare(password, hash)
    },
  }
}

describe('parseBasicAuthorization', () => {
  for (const [header, expected] of [
    [basic('alice:wonderland'), { user: 'alice', password: 'wonderland' }],
    [`basic ${Buffer.from('a:b').toString('base64')}`, { user: 'a', password: 'b' }],
    [`BASIC ${Buffer.from('a:b').toString('base64')}`, { user: 'a', password: 'b' }],
    [basic('a:b:c'), { user: 'a', password: 'b:c' }],
    [basic('a:'), { user: 'a', password: '' }],
    [basic(':pw'), { user: '', password: 'pw' }],
    [basic('jürgen:pässword'), { user: 'jürgen', password: 'pässword' }],
    [undefined, null],
    ['', null],
    ['Basic', null],
    ['Bearer abc', null],
    [basic('no colon'), null],
    ['Basic !!!!', null],
    ['Basic YWxpY2U6d29uZGVybGFuZA', null], // no padding: Go's StdEncoding refuses it
    [` ${basic('a:b')}`, null],
  ] as const) {
    it(`${JSON.stringify(header)}`, () => {
      assert.deepEqual(parseBasicAuthorization(header), expected)
    })
  }
})

describe('BasicAuth', () => {
  const users = new Map([
    ['alice', ALICE_HASH],
    ['bob', BOB_HASH],
  ])

  it('accepts the right password, refuses a wrong one and an unknown user', async () => {
    const auth = new BasicAuth(users, new VerifiedCache())
    assert.equal(await auth.verify(basic('alice:wonderland')), true)
    assert.equal(await auth.verify(basic('bob:builder')), true)
    assert.equal(await auth.verify(basic('alice:builder')), false)
    assert.equal(await auth.verify(basic('alice:wonderland ')), false)
    assert.equal(await auth.verify(basic('mallory:wonderland')), false)
    assert.equal(await auth.verify(undefined), false)
  })

  it('compares an unknown user against the cost-10 decoy, and still refuses', async () => {
    const s = spy()
    const auth = new BasicAuth(users, new VerifiedCache(), s.compare)
    assert.equal(await auth.verify(basic('mallory:builder')), false)
    assert.deepEqual(s.calls, [['builder', DECOY_HASH]])
  })

  it('the decoy is cost 10 whatever the configured costs', async () => {
    assert.equal(bcryptCost(DECOY_HASH), 10)
    assert.equal(getRounds(DECOY_HASH), 10)
    assert.equal(compareSync('', DECOY_HASH), false, 'a real bcrypt hash')
    // Hashes far costlier or cheaper than 10: never computed, the compare is a fake.
    for (const cost of ['04', '12', '18', '31']) {
      const calls: string[] = []
      const hash = `$2b$${cost}$${'a'.repeat(53)}`
      const auth = new BasicAuth(new Map([['alice', hash]]), new VerifiedCache(), (_p, h) => {
        calls.push(h)
        return Promise.resolve(false)
      })
      assert.equal(await auth.check(basic('mallory:pw')), 'unauthorized')
      assert.equal(await auth.check(basic('alice:pw')), 'unauthorized')
      assert.deepEqual(calls, [DECOY_HASH, hash], `configured cost ${cost}`)
    }
  })

  it('an unknown user and a known user with a wrong password get the same answer', async () => {
    const auth = new BasicAuth(users, new VerifiedCache())
    assert.equal(await auth.check(basic('mallory:wonderland')), 'unauthorized')
    assert.equal(await auth.check(basic('alice:builder')), 'unauthorized')
    assert.equal(await auth.check(basic('alice:wonderland')), 'ok')
    assert.equal(await auth.check('Bearer x'), 'unauthorized')
  })

  it('caches successes only, keyed by user, hash and password', async () => {
    const s = spy()
    const cache = new VerifiedCache()
    const auth = new BasicAuth(users, cache, s.compare)
    assert.equal(await auth.verify(basic('alice:wonderland')), true)
    assert.equal(await auth.verify(basic('alice:wonderland')), true)
    assert.equal(s.calls.length, 1, 'the second success came from the cache')
    assert.equal(await auth.verify(basic('alice:wrong')), false)
    assert.equal(await auth.verify(basic('alice:wrong')), false)
    assert.equal(s.calls.length, 3, 'failures are compared every time')
    assert.equal(cache.size, 1)

    // Alice's hash changes (a reload): the cached success does not apply to it.
    const newHash = hashSync('wonderland', 4)
    const reloaded = new BasicAuth(new Map([['alice', newHash]]), cache, s.compare)
    assert.equal(await reloaded.verify(basic('alice:wonderland')), true)
    assert.deepEqual(s.calls.at(-1), ['wonderland', newHash])
    assert.equal(s.calls.length, 4)
  })

  it('shares one comparison between concurrent requests with the same credentials', async () => {
    const s = spy()
    const auth = new BasicAuth(users, new VerifiedCache(), s.compare)
    const results = await Promise.all(
      Array.from({ length: 5 }, () => auth.verify(basic('alice:wonderland'))),
    )
    assert.deepEqual(results, [true, true, true, true, true])
    assert.equal(s.calls.length, 1)
  })

  it('keeps at most the cache size, dropping the oldest', async () => {
    const s = spy()
    const many = new Map(
      ['u1', 'u2', 'u3'].map((u) => [u, hashSync(`${u}-pw`, 4)] as [string, string]),
    )
    const cache = new VerifiedCache(2)
    const auth = new BasicAuth(many, cache, s.compare)
    for (const u of ['u1', 'u2', 'u3']) assert.equal(await auth.verify(basic(`${u}:${u}-pw`)), true)
    assert.equal(cache.size, 2)
    assert.equal(await auth.verify(basic('u3:u3-pw')), true)
    assert.equal(s.calls.length, 3, 'u3 is cached')
    assert.equal(await auth.verify(basic('u1:u1-pw')), true)
    assert.equal(s.calls.length, 4, 'u1 was dropped')
  })

  it('a compare that throws is a refusal', async () => {
    const auth = new BasicAuth(users, new VerifiedCache(), () => Promise.reject(new Error('x')))
    assert.equal(await auth.verify(basic('alice:wonderland')), false)
    assert.equal(await auth.verify(basic('mallory:x')), false)
  })
})
