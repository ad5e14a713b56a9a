/**
 * TtyIdle, as the stale collector keeps it, against ttyIdleSeconds (coreutils who's way, and
 * TtyIdle's fallback): idle times from device atimes under a root. Needs neither root nor servers.
 */
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { TtyIdle, ttyIdleSeconds } from '../../../src/sources/utmp/tty-idle.ts'
import { scratch } from './fixtures.ts'

/** A TtyIdle per root, kept across calls as the stale collector keeps its own. */
const kept = new Map<string, TtyIdle>()

/**
 * A line's idle time as the stale collector reads it (a TtyIdle kept per root, asked twice so the
 * remembered path is used too), checked against ttyIdleSeconds, who's way.
 */
function idleSeconds(rootfs: string, line: string, nowMs: number): number | null {
  let idle = kept.get(rootfs)
  if (idle === undefined) {
    idle = new TtyIdle(rootfs)
    kept.set(rootfs, idle)
  }
  const reader = idle.reader(nowMs)
  const got = reader(line)
  assert.equal(reader(line), got, `${line}: asked again`)
  assert.equal(got, ttyIdleSeconds(rootfs, line, nowMs), `${line}: as ttyIdleSeconds`)
  return got
}

describe('TtyIdle', () => {
  const root = scratch('tty')
  mkdirSync(join(root, 'dev/pts'), { recursive: true })
  writeFileSync(join(root, 'dev/pts/0'), '')
  writeFileSync(join(root, 'dev/tty1'), '')
  const now = Date.now()
  const hourAgo = new Date(now - 3_600_000)
  utimesSync(join(root, 'dev/pts/0'), hourAgo, new Date(now))
  utimesSync(join(root, 'dev/tty1'), new Date(now + 60_000), new Date(now))

  const about = (actual: number | null, want: number): void => {
    assert.ok(actual !== null && Math.abs(actual - want) < 0.01, `${actual} is not about ${want}`)
  }

  /** A root whose /dev is an absolute symlink to `target`, with a pts/0 idle for an hour. */
  const devLinkedTo = (target: string, prefix: string): string => {
    const linked = scratch(prefix)
    mkdirSync(join(linked, target, 'pts'), { recursive: true })
    writeFileSync(join(linked, target, 'pts/0'), '')
    utimesSync(join(linked, target, 'pts/0'), hourAgo, hourAgo)
    symlinkSync(target, join(linked, 'dev'))
    return linked
  }

  it("is now minus the device's atime (mtime does not count)", () => {
    about(idleSeconds(root, 'pts/0', now), 3600)
    about(idleSeconds(root, 'pts/0', now + 1500), 3601.5)
  })

  it('takes an absolute ut_line as it is, under the root', () => {
    about(idleSeconds(root, '/dev/pts/0', now), 3600)
  })

  it('is 0 for an access time in the future', () => {
    assert.equal(idleSeconds(root, 'tty1', now), 0)
  })

  it('is null when the device is not there', () => {
    assert.equal(idleSeconds(root, 'pts/9', now), null)
    assert.equal(idleSeconds(root, '', now), null)
    assert.equal(idleSeconds(root, '~', now), null)
    assert.equal(idleSeconds(join(root, 'missing'), 'pts/0', now), null)
  })

  it('stays inside the root', () => {
    const linked = devLinkedTo('/real', 'tty-link')
    about(idleSeconds(linked, 'pts/0', now), 3600)
    assert.equal(idleSeconds(linked, '../../../../dev/null', now), null)
  })

  it('a reader gives what ttyIdleSeconds gives for many lines at once, the directory resolved once', () => {
    const linked = devLinkedTo('/real', 'tty-reader')
    // A device that is itself a symlink, absolute: resolved under the root.
    symlinkSync('/real/pts/0', join(linked, 'real/pts/7'))
    const lines = ['pts/0', '/dev/pts/0', 'pts/7', 'pts/9', '', '~', 'tty1', '../../../../dev/null']
    for (const r of [root, linked, join(root, 'missing')]) {
      const reader = new TtyIdle(r).reader(now)
      for (const line of lines) {
        assert.equal(reader(line), ttyIdleSeconds(r, line, now), `${line} under ${r}`)
      }
    }
    about(new TtyIdle(linked).reader(now)('pts/7'), 3600)
  })

  it('TtyIdle remembers device paths only while their directory resolves the same', () => {
    const moved = scratch('tty-moved')
    for (const [dir, hours] of [
      ['a', 1],
      ['b', 2],
    ] as const) {
      mkdirSync(join(moved, dir, 'pts'), { recursive: true })
      writeFileSync(join(moved, dir, 'pts/0'), '')
      const then = new Date(now - hours * 3_600_000)
      utimesSync(join(moved, dir, 'pts/0'), then, then)
    }
    symlinkSync('/a', join(moved, 'dev'))
    const idle = new TtyIdle(moved)
    about(idle.reader(now)('pts/0'), 3600)
    about(idle.reader(now)('pts/0'), 3600)
    rmSync(join(moved, 'dev'))
    symlinkSync('/b', join(moved, 'dev'))
    about(idle.reader(now)('pts/0'), 7200)
    rmSync(join(moved, 'dev'))
    assert.equal(idle.reader(now)('pts/0'), null)
  })
})
