// FileFollower against the real filesystem: every test writes, renames and truncates files in a
// temp dir while a follower reads them. Tests that need an exact interleaving use a follower
// whose timer never fires (MANUAL) and drive it with poll(); the others poll every 10-20 ms and
// wait for a condition, never for a fixed time.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createLogger } from '../../src/logger.ts'
import { FileFollower, type FileFollowerOptions } from '../../src/sources/file-follow.ts'
import { collectingLogger, type Logged } from '../helpers/logger.ts'

const run = promisify(execFile)

/** A poll interval that never comes within a test: polls happen when the test calls poll(). */
const MANUAL = 3_600_000

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'file-follow-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function until(what: string, check: () => boolean, describe?: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${describe ? `\n${describe()}` : ''}`)
    }
    await sleep(5)
  }
}

interface Followed {
  follower: FileFollower
  lines: string[]
  logs: Logged[]
}

/** A follower collecting its lines and log entries, stopped when the test ends. */
function follow(
  t: TestContext,
  path: string,
  options: Partial<Omit<FileFollowerOptions, 'path'>> = {},
): Followed {
  const lines: string[] = []
  const logger = collectingLogger()
  const follower = new FileFollower({
    path,
    onLine: (line) => lines.push(line),
    pollIntervalMs: 20,
    logger,
    ...options,
  })
  t.after(() => follower.stop())
  return { follower, lines, logs: logger.lines }
}

function numbered(from: number, to: number): string[] {
  const out: string[] = []
  for (let i = from; i <= to; i++) out.push(`line ${i}`)
  return out
}

/** How many of this process's fds are open on `path` (Linux: /proc/self/fd). */
function fdsOpenOn(path: string): number {
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (target === path || target === `${path} (deleted)`) count++
    } catch {
      // The fd readdir itself used, closed by now.
    }
  }
  return count
}

describe('FileFollower', () => {
  describe('where it starts', () => {
    it('skips what the file holds at start() and delivers what is appended after', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, 'old 1\nold 2\n')
      const { follower, lines } = follow(t, path)
      assert.equal(follower.kind, 'file')
      assert.equal(follower.up, false, 'not up before the first poll')
      follower.start()
      // Appended right after start() returns: start() noted the end synchronously.
      appendFileSync(path, 'new 1\n')
      await until('new 1', () => lines.length >= 1)
      appendFileSync(path, 'new 2\n')
      await until('new 2', () => lines.length >= 2)
      assert.deepEqual(lines, ['new 1', 'new 2'])
      // Lines are delivered during a poll and `up` is set at its end: one more poll, queued
      // behind the one in flight, settles it.
      await follower.poll()
      assert.equal(follower.up, true)
      const stats = follower.stats
      assert.equal(stats.linesDelivered, 2)
      assert.equal(stats.bytesRead, 12)
    })

    it('waits for a file that does not exist, says so once, then reads it from its start', async (t) => {
      const path = join(scratch(t), 'auth.log')
      // A real pino logger, as the exporter passes one.
      const records: { level: string; msg: string }[] = []
      const logger = createLogger({
        level: 'debug',
        format: 'json',
        destination: { write: (s: string) => records.push(JSON.parse(s) as (typeof records)[0]) },
      })
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL, logger })
      follower.start()
      for (let i = 0; i < 4; i++) await follower.poll()
      assert.equal(follower.up, false)
      const waiting = records.filter((r) => /does not exist/.test(r.msg))
      assert.equal(waiting.length, 1, 'said once, not at every poll')
      assert.equal(waiting[0]?.level, 'info')

      writeFileSync(path, 'first\nsecond\n')
      await follower.poll()
      assert.deepEqual(lines, ['first', 'second'], 'a file that appears is read from its start')
      assert.equal(follower.up, true)
    })

    it('reads from the start a file replaced between start() and the first poll', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, 'a long line that was there before start\n')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      renameSync(path, `${path}.1`)
      writeFileSync(path, 'new\n')
      await follower.poll()
      assert.deepEqual(lines, ['new'])
    })
  })

  describe('lines', () => {
    it('holds a partial line until its newline arrives and delivers it once, whole', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      appendFileSync(path, 'ha')
      await follower.poll()
      appendFileSync(path, 'lf of a li')
      await follower.poll()
      assert.deepEqual(lines, [], 'nothing before the newline')
      appendFileSync(path, 'ne\nand a ')
      await follower.poll()
      await follower.poll()
      assert.deepEqual(lines, ['half of a line'])
      appendFileSync(path, 'second\n')
      await follower.poll()
      assert.deepEqual(lines, ['half of a line', 'and a second'])
    })

    it('splits on \\n, strips one \\r, keeps empty lines, decodes bad UTF-8 as U+FFFD', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      appendFileSync(path, 'crlf\r\n\nkeeps one\r\r\nin\rside\n')
      appendFileSync(path, Buffer.from([0xff, 0x66, 0xc3, 0x0a]))
      // A three-byte character split across two polls.
      appendFileSync(path, Buffer.from([0x3e, 0xe2, 0x82]))
      await follower.poll()
      appendFileSync(path, Buffer.from([0xac, 0x0a]))
      await follower.poll()
      assert.deepEqual(lines, ['crlf', '', 'keeps one\r', 'in\rside', '\ufffdf\ufffd', '>€'])
    })

    it('cuts lines longer than maxLineBytes, counts them, and keeps the next line intact', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL, maxLineBytes: 16 })
      follower.start()
      appendFileSync(path, `${'a'.repeat(40)}\n`)
      appendFileSync(path, `${'b'.repeat(16)}\r\n`) // exactly the limit: not cut
      appendFileSync(path, `${'c'.repeat(17)}\r\n`) // one over
      appendFileSync(path, `${'d'.repeat(15)}€tail\n`) // the cut would split €
      await follower.poll()
      // A long line that arrives in pieces, held across polls: never more than the limit kept.
      for (let i = 0; i < 10; i++) {
        appendFileSync(path, 'e'.repeat(10))
        await follower.poll()
      }
      appendFileSync(path, '\nnext\n')
      await follower.poll()
      // Longer than the read buffer (64 KiB): cut within one read, the rest skipped across reads.
      appendFileSync(path, `${'f'.repeat(200_000)}\nlast\n`)
      await follower.poll()
      assert.deepEqual(lines, [
        'a'.repeat(16),
        'b'.repeat(16),
        'c'.repeat(16),
        'd'.repeat(15),
        'e'.repeat(16),
        'next',
        'f'.repeat(16),
        'last',
      ])
      assert.equal(follower.stats.linesCut, 5)
      assert.equal(follower.stats.linesDelivered, 8)
    })

    it('keeps delivering after onLine throws', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines, logs } = follow(t, path, {
        pollIntervalMs: MANUAL,
        onLine: (line) => {
          lines.push(line)
          if (line.startsWith('bad')) throw new Error('handler bug')
        },
      })
      follower.start()
      appendFileSync(path, 'bad 1\ngood\nbad 2\n')
      await follower.poll()
      assert.deepEqual(lines, ['bad 1', 'good', 'bad 2'])
      assert.equal(logs.filter((l) => l.level === 'warn').length, 1, 'logged once')
      assert.equal(follower.up, true)
    })
  })

  describe('rename rotation', () => {
    it('drains the old file to its end, then reads the new file from its start', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, 'before start\n')
      const { follower, lines, logs } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      appendFileSync(path, 'old 1\n')
      await follower.poll()
      // Written just before the rename, not yet read when the poll sees the new file.
      appendFileSync(path, 'old 2\n')
      renameSync(path, `${path}.1`)
      writeFileSync(path, 'new 1\n')
      await follower.poll()
      assert.deepEqual(lines, ['old 1', 'old 2', 'new 1'])
      assert.equal(follower.stats.rotations, 1)
      assert.equal(follower.stats.truncations, 0)
      assert.ok(logs.some((l) => l.level === 'info' && /rotated/.test(l.msg)))
    })

    it('keeps reading the rotated file while its writer has not reopened, in order', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      // A writer that holds its file open, as rsyslog does until logrotate's HUP.
      let out = await open(path, 'a')
      t.after(() => out.close())
      await out.write('line 1\n')
      await follower.poll()
      renameSync(path, `${path}.1`)
      await follower.poll()
      assert.equal(follower.stats.rotations, 1, 'the rename was seen')
      // Still writing to the renamed file after the follower saw the rename.
      await out.write('line 2\n')
      await follower.poll()
      await out.write('line 3\n')
      // The HUP: reopen by name, which creates the new file.
      await out.close()
      out = await open(path, 'a')
      await out.write('line 4\n')
      await follower.poll()
      assert.deepEqual(lines, numbered(1, 4))
    })

    it('waits for a file that is missing after the rename and reads it from its start', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      await follower.poll()
      appendFileSync(path, 'old\n')
      renameSync(path, `${path}.1`)
      await follower.poll()
      await follower.poll()
      assert.equal(follower.up, false, 'nothing at the path')
      assert.deepEqual(lines, ['old'])
      writeFileSync(path, 'new\n')
      await follower.poll()
      assert.deepEqual(lines, ['old', 'new'])
      assert.equal(follower.up, true)
      assert.equal(follower.stats.rotations, 1)
    })

    it('holds a partial line of the rotated file until it is completed or the file is closed', async (t) => {
      const dir = scratch(t)
      const path = join(dir, 'auth.log')
      writeFileSync(path, '')
      // Grace 0: the rotated file is drained once more and closed at the poll that saw the rename.
      const quick = follow(t, path, { pollIntervalMs: MANUAL, rotationGraceMs: 0 })
      quick.follower.start()
      appendFileSync(path, 'cut off')
      await quick.follower.poll()
      assert.deepEqual(quick.lines, [])
      renameSync(path, `${path}.1`)
      writeFileSync(path, 'next\n')
      await quick.follower.poll()
      assert.deepEqual(quick.lines, ['cut off', 'next'], 'delivered once its file is closed')
      appendFileSync(`${path}.1`, ' and never seen\n')
      await quick.follower.poll()
      assert.deepEqual(quick.lines, ['cut off', 'next'], 'a closed rotated file is not read')

      // A long grace: the writer that still holds the old file completes the line.
      const other = join(dir, 'secure')
      writeFileSync(other, '')
      const slow = follow(t, other, { pollIntervalMs: MANUAL })
      slow.follower.start()
      const out = await open(other, 'a')
      t.after(() => out.close())
      await out.write('half')
      await slow.follower.poll()
      renameSync(other, `${other}.1`)
      writeFileSync(other, 'new\n')
      await slow.follower.poll()
      assert.deepEqual(slow.lines, ['new'])
      await out.write(' and the rest\n')
      await slow.follower.poll()
      assert.deepEqual(slow.lines, ['new', 'half and the rest'])
    })

    it('closes a rotated file once its grace is over', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { rotationGraceMs: 100 })
      follower.start()
      await until('the file is open', () => follower.up)
      renameSync(path, `${path}.1`)
      writeFileSync(path, 'new\n')
      await until('the new file', () => lines.length === 1)
      await until('the rotated file closed', () => fdsOpenOn(`${path}.1`) === 0)
      assert.equal(fdsOpenOn(path), 1)
    })
  })

  describe('copytruncate', () => {
    it('reads the file again from its start when it shrank', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      appendFileSync(path, 'line 1\nline 2\n')
      await follower.poll()
      copyFileSync(path, `${path}.1`)
      truncateSync(path, 0)
      await follower.poll()
      appendFileSync(path, 'line 3\n')
      await follower.poll()
      assert.deepEqual(lines, numbered(1, 3))
      assert.equal(follower.stats.truncations, 1)
      assert.equal(follower.stats.rotations, 0)
      assert.equal(follower.up, true)
    })

    it('sees a truncation that grew back past the old position by the first bytes', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, 'before start\n')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      appendFileSync(path, 'line 1\n')
      await follower.poll()
      // Truncated and regrown past the old position before the follower looked: the size alone
      // cannot tell, the first bytes differ.
      truncateSync(path, 0)
      appendFileSync(path, `${numbered(2, 20).join('\n')}\n`)
      await follower.poll()
      assert.deepEqual(lines, numbered(1, 20))
      assert.equal(follower.stats.truncations, 1)
    })

    it('keeps a held partial line across the truncation (the writer continues it at 0)', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, 'x\n')
      const { follower, lines } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      appendFileSync(path, 'Accepted pub')
      await follower.poll()
      truncateSync(path, 0)
      appendFileSync(path, 'lickey for alice\n')
      await follower.poll()
      assert.deepEqual(lines, ['Accepted publickey for alice'])
    })
  })

  describe('under a concurrent writer', () => {
    it('delivers lines 1..N once each, in order, across renames and copytruncates', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, 'not replayed\n')
      const { follower, lines } = follow(t, path, { pollIntervalMs: 10 })
      follower.start()
      const N = 3000
      const RENAME_AT = new Set([400, 1700])
      // Lines between logrotate's rename and the writer's reopen (its HUP) go to the old file.
      const REOPEN_AFTER = 25
      const COPYTRUNCATE_AT = new Set([1100, 2400])
      let out = await open(path, 'a')
      t.after(() => out.close())
      let reopenAt = 0
      let rotated = 0
      for (let i = 1; i <= N; i++) {
        if (RENAME_AT.has(i)) {
          renameSync(path, `${path}.${++rotated}`)
          reopenAt = i + REOPEN_AFTER
        }
        if (i === reopenAt) {
          await out.close()
          out = await open(path, 'a')
        }
        if (COPYTRUNCATE_AT.has(i)) {
          // copytruncate loses by design what is written between its copy and its truncate: the
          // writer pauses until everything so far was read, so that the count can be exact.
          await until(`line ${i - 1} before the copytruncate`, () => lines.length === i - 1)
          copyFileSync(path, `${path}.${++rotated}`)
          truncateSync(path, 0)
        }
        const text = `line ${i}\n`
        if (i % 7 === 0) {
          // Some lines in two writes, so that polls see partial lines.
          await out.write(text.slice(0, 4))
          await out.write(text.slice(4))
        } else {
          await out.write(text)
        }
        if (i % 10 === 0) await sleep(1)
      }
      await until(
        `${N} lines`,
        () => lines.length >= N,
        () => `have ${lines.length}, last ${lines.at(-1)}`,
      )
      await follower.poll()
      assert.deepEqual(lines, numbered(1, N))
      const stats = follower.stats
      assert.equal(stats.linesDelivered, N)
      assert.equal(stats.rotations, 2)
      assert.equal(stats.truncations, 2)
    })

    it('never runs two polls at once, however often poll() is called', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path, { pollIntervalMs: 1 })
      follower.start()
      const polls: Promise<void>[] = []
      for (let i = 1; i <= 200; i++) {
        appendFileSync(path, `line ${i}\n`)
        polls.push(follower.poll(), follower.poll())
      }
      await Promise.all(polls)
      assert.deepEqual(lines, numbered(1, 200))
    })
  })

  describe('errors', () => {
    it('logs a directory at the path once, stays down, and recovers when a file replaces it', async (t) => {
      const path = join(scratch(t), 'auth.log')
      mkdirSync(path)
      const { follower, lines, logs } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      for (let i = 0; i < 4; i++) await follower.poll()
      assert.equal(follower.up, false)
      const warnings = logs.filter((l) => l.level === 'warn')
      assert.equal(warnings.length, 1, 'logged once')
      assert.equal((warnings[0]?.obj.err as NodeJS.ErrnoException).code, 'EISDIR')
      assert.equal(fdsOpenOn(path), 0, 'the directory is not kept open')

      rmdirSync(path)
      writeFileSync(path, 'hello\n')
      await follower.poll()
      assert.deepEqual(lines, ['hello'])
      assert.equal(follower.up, true)
      assert.ok(logs.some((l) => l.level === 'info' && /readable again/.test(l.msg)))
    })

    it('logs EACCES once, stays down, and resumes where the file ended at start()', async (t) => {
      // Root reads anything; the scenario runs as nobody then (setpriv), in a child process.
      const dir = scratch(t)
      chmodSync(dir, 0o777)
      const module = new URL('../../src/sources/file-follow.ts', import.meta.url).href
      const script = `
        import { appendFileSync, chmodSync, writeFileSync } from 'node:fs'
        import { FileFollower } from ${JSON.stringify(module)}
        const path = process.argv[1]
        // Writable, not readable, by its owner.
        writeFileSync(path, 'old\\n', { mode: 0o200 })
        const warnings = []
        const lines = []
        const logger = { debug() {}, info() {}, warn: (obj) => warnings.push(obj.err?.code) }
        const follower = new FileFollower({ path, onLine: (l) => lines.push(l), pollIntervalMs: 3600000, logger })
        follower.start()
        for (let i = 0; i < 4; i++) await follower.poll()
        const denied = { up: follower.up, warnings: [...warnings] }
        appendFileSync(path, 'while denied\\n')
        chmodSync(path, 0o600)
        await follower.poll()
        console.log(JSON.stringify({ denied, up: follower.up, lines }))
        await follower.stop()
      `
      const root = process.getuid?.() === 0
      const argv = ['--input-type=module', '-e', script, join(dir, 'auth.log')]
      const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]
      const { stdout } = await run(
        root ? 'setpriv' : process.execPath,
        root ? [...nobody, ...argv] : argv,
      )
      assert.deepEqual(JSON.parse(stdout), {
        denied: { up: false, warnings: ['EACCES'] },
        up: true,
        lines: ['while denied'],
      })
    })
  })

  describe('stop', () => {
    it('closes the file and the timer, and delivers nothing after it', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower, lines } = follow(t, path)
      // A second follower of the same file shows that polls went on while the first stayed silent.
      const witness = follow(t, path)
      follower.start()
      witness.follower.start()
      appendFileSync(path, 'line 1\n')
      await until('line 1', () => lines.length === 1 && witness.lines.length === 1)
      assert.equal(fdsOpenOn(path), 2)
      appendFileSync(path, 'partial')
      await follower.stop()
      assert.equal(follower.up, false)
      assert.equal(fdsOpenOn(path), 1, 'only the witness still has it open')
      appendFileSync(path, ' line\nline 3\n')
      await until('the witness read on', () => witness.lines.length === 3)
      await follower.poll()
      follower.start()
      await follower.poll()
      assert.deepEqual(lines, ['line 1'], 'nothing after stop(), not even the held partial line')
      assert.equal(fdsOpenOn(path), 1)
    })

    it('delivers no further line once onLine itself calls stop()', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const lines: string[] = []
      const follower: FileFollower = new FileFollower({
        path,
        pollIntervalMs: MANUAL,
        onLine: (line) => {
          lines.push(line)
          if (line === 'stop here') void follower.stop()
        },
      })
      t.after(() => follower.stop())
      follower.start()
      appendFileSync(path, 'one\nstop here\nthree\nfour\n')
      await follower.poll()
      assert.deepEqual(lines, ['one', 'stop here'])
    })

    it('closes rotated files too', async (t) => {
      const path = join(scratch(t), 'auth.log')
      writeFileSync(path, '')
      const { follower } = follow(t, path, { pollIntervalMs: MANUAL })
      follower.start()
      await follower.poll()
      renameSync(path, `${path}.1`)
      writeFileSync(path, '')
      await follower.poll()
      assert.equal(fdsOpenOn(`${path}.1`), 1, 'the rotated file is still read')
      await follower.stop()
      assert.equal(fdsOpenOn(`${path}.1`) + fdsOpenOn(path), 0)
      unlinkSync(`${path}.1`)
    })
  })

  it('rejects nonsensical options', () => {
    const onLine = (): void => {}
    assert.throws(() => new FileFollower({ path: 'x', onLine, pollIntervalMs: 0 }), RangeError)
    assert.throws(() => new FileFollower({ path: 'x', onLine, maxLineBytes: 0 }), RangeError)
    assert.throws(() => new FileFollower({ path: 'x', onLine, rotationGraceMs: -1 }), RangeError)
  })
})
