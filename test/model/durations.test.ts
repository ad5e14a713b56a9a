import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConnectionDurations } from '../../src/model/durations.ts'
import type { Connection } from '../../src/model/snapshot.ts'
import { CLOCK_TICKS_PER_SECOND } from '../../src/sources/procfs.ts'

/** A connection whose root started `startSeconds` after boot. */
function conn(
  pid: number,
  startSeconds: number,
  state: Connection['state'] = 'authenticated',
): Connection {
  return {
    pid,
    starttime: startSeconds * CLOCK_TICKS_PER_SECOND,
    listener: 1,
    state,
    user: state === 'preauth' ? null : 'alice',
    sessions: state === 'preauth' ? 0 : 1,
    ptySessions: 0,
    ttys: [],
    postauth: [],
  }
}

describe('ConnectionDurations', () => {
  it('observes nothing on the first update, nor for connections that stay', () => {
    const d = new ConnectionDurations()
    assert.deepEqual(d.update([conn(10, 100), conn(11, 200)], 300), [])
    assert.deepEqual(d.update([conn(10, 100), conn(11, 200)], 315), [])
    // Both still followed: their end is observed.
    assert.deepEqual(d.update([], 330), [230, 130])
  })

  it('observes a connection that ended, once, from its start to the scrape that found it gone', () => {
    const d = new ConnectionDurations()
    d.update([conn(10, 100), conn(11, 200)], 300)
    assert.deepEqual(d.update([conn(11, 200)], 315), [215])
    assert.deepEqual(d.update([conn(11, 200)], 330), [])
    assert.deepEqual(d.update([], 345), [145])
    // Nothing is left to end: the ended connections are forgotten.
    assert.deepEqual(d.update([], 360), [])
  })

  it('counts connections already open at the first update when they end, from their real start', () => {
    const d = new ConnectionDurations()
    // Open for a day before the exporter started.
    d.update([conn(10, 1000)], 1000 + 86_400)
    assert.deepEqual(d.update([], 1000 + 86_415), [86_415])
  })

  it('takes a pid reused with another start time as the end of the old connection', () => {
    const d = new ConnectionDurations()
    d.update([conn(10, 100)], 300)
    assert.deepEqual(d.update([conn(10, 310)], 315), [215])
    assert.deepEqual(d.update([], 330), [20])
  })

  it('ignores pre-auth connections, and follows one from authentication with its root start', () => {
    const d = new ConnectionDurations()
    assert.deepEqual(d.update([conn(10, 100, 'preauth')], 105), [])
    assert.deepEqual(d.update([], 120), [], 'a pre-auth connection that ended is not observed')
    d.update([conn(11, 130, 'preauth')], 135)
    d.update([conn(11, 130)], 150)
    assert.deepEqual(d.update([], 165), [35])
  })

  it('observes several ends at once, and never a negative duration', () => {
    const d = new ConnectionDurations()
    d.update([conn(10, 100), conn(11, 200), conn(12, 250)], 250)
    assert.deepEqual(
      d.update([conn(11, 200)], 240).sort((a, b) => a - b),
      [0, 140],
    )
  })
})
