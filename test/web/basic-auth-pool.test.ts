/**
 * The bcrypt pool (src/web/bcrypt-pool.ts): comparisons off the main thread, a few at once, a
 * bounded queue, 429 past it, cached logins answered whatever it holds, and worker threads that
 * never keep the process alive. Counts, never clocks: a fake comparison that ends when the test
 * says so fills the queue. This file replaces the process's pool, so it runs alone.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { compareSync, hashSync } from 'bcryptjs'
import { BasicAuth, DECOY_HASH, VerifiedCache } from '../../src/web/basic-auth.ts'
import { BcryptBusyError, BcryptPool, setBcryptPool } from '../../src/web/bcrypt-pool.ts'
import { WebConfigSource } from '../../src/web/web.ts'
import { silentLogger, testApp } from '../helpers/web-app.ts'

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`
const ALICE_HASH = hashSync('wonderland', 4)

/** A comparison that runs only when release() says so, and counts its calls. */
function gate() {
  const calls: [string, string][] = []
  const held: (() => void)[] = []
  return {
    calls,
    get held() {
      return held.length
    },
    run: (password: string, hash: string) => {
      calls.push([password, hash])
      return new Promise<boolean>((resolve) => {
        held.push(() => resolve(compareSync(password, hash)))
      })
    },
    /** Lets the oldest held comparison finish. */
    release() {
      held.shift()?.()
    },
  }
}

/** Waits (a turn of the event loop at a time) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return
    await new Promise((r) => setTimeout(r, 1))
  }
  assert.fail(`never: ${what}`)
}

describe('BcryptPool', () => {
  it('runs at most `concurrency` at once, queues up to `queue` in order, refuses past it', async () => {
    const g = gate()
    const pool = new BcryptPool({ concurrency: 1, queue: 2, run: g.run })
    const results = [pool.compare('a', ALICE_HASH), pool.compare('b', ALICE_HASH)]
    const third = pool.compare('wonderland', ALICE_HASH)
    assert.equal(pool.running, 1)
    assert.equal(pool.waiting, 2)
    await assert.rejects(pool.compare('d', ALICE_HASH), BcryptBusyError)
    assert.equal(pool.waiting, 2, 'the refused comparison was not queued')
    assert.deepEqual(
      g.calls.map(([p]) => p),
      ['a'],
    )
    for (let i = 0; i < 3; i++) {
      await until(() => g.held === 1, 'the next comparison starts')
      g.release()
    }
    assert.deepEqual(await Promise.all([...results, third]), [false, false, true])
    assert.deepEqual(
      g.calls.map(([p]) => p),
      ['a', 'b', 'wonderland'],
      'first come, first served',
    )
    assert.equal(pool.running, 0)
    assert.equal(pool.waiting, 0)
  })

  it('a comparison that fails frees its place', async () => {
    let n = 0
    const pool = new BcryptPool({
      concurrency: 1,
      queue: 0,
      run: () => (++n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(true)),
    })
    await assert.rejects(pool.compare('x', ALICE_HASH), /boom/)
    assert.equal(await pool.compare('x', ALICE_HASH), true)
    assert.equal(pool.running, 0)
  })

  it('compares on worker threads, no more than `concurrency` of them', async () => {
    const pool = new BcryptPool({ concurrency: 2 })
    try {
      assert.equal(pool.threads, 0, 'started on the first comparison')
      const results = await Promise.all([
        pool.compare('wonderland', ALICE_HASH),
        pool.compare('wrong', ALICE_HASH),
        pool.compare('wonderland', ALICE_HASH),
        pool.compare('', DECOY_HASH),
      ])
      assert.deepEqual(results, [true, false, true, false])
      assert.equal(pool.threads, 2)
      assert.equal(await pool.compare('x', 'not a hash'), false)
      await assert.rejects(pool.compare('x', undefined as unknown as string), /Illegal arguments/)
      assert.equal(await pool.compare('wonderland', ALICE_HASH), true, 'still works after that')
    } finally {
      await pool.close()
    }
    assert.equal(pool.threads, 0)
  })

  it('ends an idle worker thread, and starts another when needed', async () => {
    const pool = new BcryptPool({ concurrency: 1, idleMs: 1 })
    try {
      assert.equal(await pool.compare('wonderland', ALICE_HASH), true)
      await until(() => pool.threads === 0, 'the idle thread ends')
      assert.equal(await pool.compare('wonderland', ALICE_HASH), true)
    } finally {
      await pool.close()
    }
  })

  it('worker threads do not keep the process alive', () => {
    // A process that compares, leaves its worker thread idle (a minute before it would end) and
    // has nothing else to do: it must exit by itself, with the answer printed.
    const pool = pathToFileURL(join(import.meta.dirname, '../../src/web/bcrypt-pool.ts')).href
    const script = `
      import { bcryptPool } from ${JSON.stringify(pool)}
      const ok = await bcryptPool().compare('wonderland', ${JSON.stringify(ALICE_HASH)})
      console.log(JSON.stringify({ ok, threads: bcryptPool().threads }))
    `
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      // Only against a hang: the process exits as soon as its one comparison is done.
      timeout: 60_000,
    })
    assert.equal(child.signal, null, `killed: it did not exit by itself (${child.stderr})`)
    assert.equal(child.status, 0, child.stderr)
    assert.deepEqual(JSON.parse(child.stdout), { ok: true, threads: 1 })
  })
})

describe('BasicAuth on a full pool', () => {
  it('answers busy for a comparison past the queue, and a cached login without bcrypt', async () => {
    const g = gate()
    const pool = new BcryptPool({ concurrency: 1, queue: 1, run: g.run })
    const compare = (password: string, hash: string) => pool.compare(password, hash)
    const auth = new BasicAuth(new Map([['alice', ALICE_HASH]]), new VerifiedCache(), compare)

    const login = auth.check(basic('alice:wonderland'))
    await until(() => g.held === 1, 'the first login compares')
    g.release()
    assert.equal(await login, 'ok')
    assert.equal(g.calls.length, 1)

    // One unknown user compares, another waits: the queue is full.
    const unknown = [auth.check(basic('mallory:a')), auth.check(basic('mallory:b'))]
    const wrong = auth.check(basic('alice:wrong'))
    assert.equal(await wrong, 'busy')
    assert.equal(await auth.check(basic('eve:x')), 'busy')
    assert.equal(pool.running + pool.waiting, 2)
    for (let i = 0; i < 5; i++) assert.equal(await auth.check(basic('alice:wonderland')), 'ok')
    assert.equal(g.calls.length, 2, 'the cached login compared nothing')
    assert.deepEqual(g.calls[1], ['a', DECOY_HASH])

    g.release()
    await until(() => g.held === 1, 'the queued comparison starts')
    g.release()
    assert.deepEqual(await Promise.all(unknown), ['unauthorized', 'unauthorized'])
    assert.equal(g.calls.length, 3)
  })
})

describe('guard() with basic auth', () => {
  let root: string
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'sshd-exporter-basic-auth-pool-'))
  })
  after(() => rmSync(root, { recursive: true, force: true }))

  it('401 for an unknown user and a wrong password alike; 429 past the queue; cached scrapes go on', async (t) => {
    const g = gate()
    const pool = new BcryptPool({ concurrency: 1, queue: 1, run: g.run })
    const old = setBcryptPool(pool)
    t.after(() => void (old === undefined || setBcryptPool(old)))
    const file = join(root, 'web.yml')
    writeFileSync(file, `basic_auth_users:\n  alice: ${ALICE_HASH}\n`)
    const logger = silentLogger()
    const app = testApp({ logger, web: await WebConfigSource.open(file, logger, 'sshd-exporter') })
    t.after(() => app.close())
    const get = (credentials: string) =>
      app.inject({ url: '/metrics', headers: { authorization: basic(credentials) } })

    // Prometheus's first scrape: compared once, then cached.
    const first = get('alice:wonderland')
    await until(() => g.held === 1, 'the first scrape compares')
    g.release()
    assert.equal((await first).statusCode, 200)

    // Unknown user and wrong password: both 401, same header, same body.
    const answers = []
    for (const credentials of ['mallory:wonderland', 'alice:builder']) {
      const answer = get(credentials)
      await until(() => g.held === 1, `${credentials} compares`)
      g.release()
      answers.push(await answer)
    }
    for (const a of answers) {
      assert.equal(a.statusCode, 401)
      assert.equal(a.headers['www-authenticate'], 'Basic')
      assert.equal(a.body, 'Unauthorized\n')
    }
    assert.deepEqual(
      g.calls.map(([, hash]) => hash),
      [ALICE_HASH, DECOY_HASH, ALICE_HASH],
    )

    // Fill the pool: one running, one waiting. The next uncached request is 429.
    const flood = [get('mallory:1'), get('mallory:2')]
    await until(() => pool.running === 1 && pool.waiting === 1, 'the pool fills')
    for (const credentials of ['mallory:3', 'alice:wrong']) {
      const refused = await get(credentials)
      assert.equal(refused.statusCode, 429, credentials)
      assert.equal(refused.headers['retry-after'], '1')
      assert.equal(refused.body, 'Too Many Requests\n')
    }
    const calls = g.calls.length
    for (let i = 0; i < 5; i++) assert.equal((await get('alice:wonderland')).statusCode, 200)
    assert.equal(g.calls.length, calls, 'cached scrapes did no bcrypt work')

    g.release()
    await until(() => g.held === 1, 'the waiting comparison starts')
    g.release()
    assert.deepEqual(
      (await Promise.all(flood)).map((r) => r.statusCode),
      [401, 401],
    )
  })
})
