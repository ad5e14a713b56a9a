import assert from 'node:assert/strict'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it, type TestContext } from 'node:test'
import {
  JournalFollower,
  type JournalFollowerOptions,
  journalAvailable,
  journalFieldText,
  LineSplitter,
  parseJournalEntry,
} from '../../src/sources/journal.ts'
import type { LogRecord } from '../../src/sources/log-record.ts'
import { SSHD_PROGNAMES } from '../../src/sources/proctitle.ts'
import { collectingLogger } from '../helpers/logger.ts'
import { appendJournal, JOURNALCTL, type JournalRecord } from '../helpers/journal-writer.ts'
import { execa } from 'execa'
import { sleep, waitFor } from '../helpers/wait.ts'

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `journal-${prefix}-`))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Pids of the live journalctl processes this test process started. */
function journalctlChildren(): number[] {
  const pids: number[] = []
  for (const task of readdirSync('/proc/self/task')) {
    let children: string
    try {
      children = readFileSync(`/proc/self/task/${task}/children`, 'utf8')
    } catch {
      continue
    }
    for (const field of children.split(' ')) {
      const pid = Number(field)
      if (!Number.isInteger(pid) || pid <= 0) continue
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const close = stat.lastIndexOf(')')
        const comm = stat.slice(stat.indexOf('(') + 1, close)
        const state = stat.slice(close + 2, close + 3)
        if (comm === 'journalctl' && state !== 'Z') pids.push(pid)
      } catch {
        // gone
      }
    }
  }
  return pids
}

interface Following {
  follower: JournalFollower
  records: LogRecord[]
  logger: ReturnType<typeof collectingLogger>
}

const FAST = { initialMs: 20, maxMs: 200 }

function follow(
  t: TestContext,
  options: Partial<Omit<JournalFollowerOptions, 'onRecord' | 'logger'>>,
): Following {
  const records: LogRecord[] = []
  const logger = collectingLogger()
  const follower = new JournalFollower({
    journalctl: JOURNALCTL,
    backoff: FAST,
    settleMs: 50,
    ...options,
    logger,
    onRecord: (r) => records.push(r),
  })
  t.after(() => follower.stop())
  follower.start()
  return { follower, records, logger }
}

let syncCount = 0
const SYNC = 'sync marker '

/**
 * Appends marker entries until the follower delivers one: from then on journalctl is past its
 * start-up seek, so what is appended next is new to it. Markers are left out by `messages`.
 */
async function synced(dir: string, f: Pick<Following, 'records'>): Promise<void> {
  await waitFor('journalctl to deliver a sync marker', async () => {
    const message = `${SYNC}${++syncCount}`
    await appendJournal(dir, [{ identifier: 'sshd', pid: 1, message }])
    return waitFor('the marker', () => f.records.some((r) => r.message === message), {
      timeoutMs: 500,
    }).catch(() => false)
  })
}

/**
 * Waits for `done`, appending a `cron` entry (which journalctl's `--identifier` matches drop)
 * every second meanwhile. journalctl --follow reads when inotify wakes it; journald wakes it
 * after every write, but the last of a one-shot systemd-journal-remote run's entries was once
 * seen (in CI, not here) to wait for the next write. The wake-ups are what a busy journal
 * gives; what is asserted is still every sshd entry, exactly once, in order.
 */
async function untilDelivered(
  dir: string,
  f: Pick<Following, 'records'>,
  what: string,
  done: () => boolean,
): Promise<void> {
  let nudges = 0
  const timer = setInterval(() => {
    nudges += 1
    appendJournal(dir, [{ identifier: 'cron', pid: 2, message: `wake-up ${nudges}` }]).catch(
      () => undefined,
    )
  }, 1000)
  try {
    await waitFor(what, done, {
      describe: async () => {
        const shown = await execa(JOURNALCTL, ['--directory', dir, '--merge', '--output=cat'], {
          reject: false,
        })
        return [
          `delivered: ${JSON.stringify(messages(f.records))}`,
          `wake-ups written: ${nudges}`,
          `journalctl --merge shows:\n${shown.stdout}${shown.stderr}`,
          `files: ${readdirSync(dir).join(' ')}`,
        ].join('\n')
      },
    })
  } finally {
    clearInterval(timer)
  }
}

function messages(records: readonly LogRecord[]): string[] {
  return records.map((r) => r.message).filter((m) => !m.startsWith(SYNC))
}

function sshdRecords(prefix: string, count: number, pid = 1000): JournalRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    identifier: SSHD_PROGNAMES[i % SSHD_PROGNAMES.length]!,
    pid: pid + i,
    message: `${prefix} ${i}`,
  }))
}

/** A journalctl that runs the real one as nobody, with no supplementary groups. */
function journalctlAsNobody(dir: string): string {
  const script = join(dir, 'journalctl-as-nobody')
  writeFileSync(
    script,
    `#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups ${JOURNALCTL} "$@"\n`,
    { mode: 0o755 },
  )
  return script
}

describe('journalFieldText', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['a string', 'Accepted publickey', 'Accepted publickey'],
    ['a string with a newline', 'a\nb', 'a\nb'],
    ['bytes, valid UTF-8 with a control character', [98, 7, 195, 169], 'b\x07é'],
    ['bytes, invalid UTF-8', [98, 97, 255, 100], 'ba\uFFFDd'],
    ['a truncated sequence', [0xc3], '\uFFFD'],
    ['several values: the first', ['first', 'second'], 'first'],
    ['several values, the first bytes', [[104, 105], 'x'], 'hi'],
    ['null (over 4096 bytes)', null, undefined],
    ['an empty array', [], undefined],
    ['numbers that are not bytes', [1, 256], undefined],
    ['a fraction', [1.5], undefined],
    ['a number', 42, undefined],
    ['an object', { a: 1 }, undefined],
  ]
  for (const [name, value, expected] of cases) {
    it(name, () => assert.equal(journalFieldText(value), expected))
  }
})

describe('parseJournalEntry', () => {
  it('takes MESSAGE, SYSLOG_IDENTIFIER, _PID and the cursor', () => {
    const line = JSON.stringify({
      __CURSOR: 's=1;i=2',
      MESSAGE: 'Accepted password for alice from 10.0.0.1 port 5 ssh2',
      SYSLOG_IDENTIFIER: 'sshd-session',
      _PID: '1234',
      SYSLOG_PID: '99',
    })
    assert.deepEqual(parseJournalEntry(line), {
      cursor: 's=1;i=2',
      record: {
        identifier: 'sshd-session',
        pid: 1234,
        message: 'Accepted password for alice from 10.0.0.1 port 5 ssh2',
      },
    })
  })

  it('falls back to SYSLOG_PID, and leaves out a pid that is not one', () => {
    const pid = (fields: object) => parseJournalEntry(JSON.stringify({ MESSAGE: 'm', ...fields }))
    assert.equal(pid({ SYSLOG_PID: '77' })?.record?.pid, 77)
    assert.equal(pid({ _PID: 'x', SYSLOG_PID: '77' })?.record?.pid, 77)
    assert.equal(pid({ _PID: '0' })?.record?.pid, undefined)
    assert.equal(pid({ _PID: '-5' })?.record?.pid, undefined)
    assert.equal(pid({ _PID: '12345678901' })?.record?.pid, undefined)
    assert.equal(pid({})?.record?.pid, undefined)
    assert.equal(pid({})?.record?.identifier, undefined)
  })

  it('gives no record but the cursor when MESSAGE is missing or null', () => {
    assert.deepEqual(parseJournalEntry('{"__CURSOR":"c","SYSLOG_IDENTIFIER":"sshd"}'), {
      cursor: 'c',
      record: null,
    })
    assert.deepEqual(parseJournalEntry('{"__CURSOR":"c","MESSAGE":null}'), {
      cursor: 'c',
      record: null,
    })
  })

  it('is null for what is not a JSON object, and never throws', () => {
    for (const line of ['', 'not json', '{"MESSAGE":', '[1,2]', '42', 'null', '"MESSAGE"']) {
      assert.equal(parseJournalEntry(line), null, line)
    }
  })
})

describe('LineSplitter', () => {
  function split(chunks: readonly string[], max = 10) {
    const lines: string[] = []
    let oversize = 0
    const splitter = new LineSplitter(
      max,
      (l) => lines.push(l.toString()),
      () => oversize++,
    )
    let held = 0
    for (const chunk of chunks) {
      splitter.push(Buffer.from(chunk))
      held = Math.max(held, splitter.pending)
    }
    return { lines, oversize, held, pending: splitter.pending }
  }

  it('joins lines across chunks and keeps an unfinished one back', () => {
    assert.deepEqual(split(['ab', 'c\nd', 'e\n\nf']), {
      lines: ['abc', 'de', ''],
      oversize: 0,
      held: 2,
      pending: 1,
    })
  })

  it('a line of exactly the limit passes; one byte more is counted and skipped', () => {
    assert.deepEqual(split(['0123456789\n0123456789X\nok\n']).lines, ['0123456789', 'ok'])
    assert.equal(split(['0123456789\n0123456789X\nok\n']).oversize, 1)
  })

  it('a long line over many chunks is counted once, never held past the limit', () => {
    const r = split(['abc', 'defgh', 'ijklmnop', 'qrstuvwxyz'.repeat(100), 'end\nnext\n'])
    assert.deepEqual(r.lines, ['next'])
    assert.equal(r.oversize, 1)
    assert.ok(r.held <= 10, `held ${r.held} bytes`)
  })

  it('a chunk bigger than the limit with lines on both sides of a long one', () => {
    const r = split([`a\n${'x'.repeat(50)}\nb\n`])
    assert.deepEqual(r, { lines: ['a', 'b'], oversize: 1, held: 0, pending: 0 })
  })
})

describe('JournalFollower on real journal files', () => {
  it('uses --merge and --directory for a directory, neither for the system journal', () => {
    const logger = collectingLogger()
    const onRecord = () => undefined
    const system = new JournalFollower({ logger, onRecord })
    assert.deepEqual(system.journalctlArgs(undefined), [
      '--follow',
      '--output=json',
      '--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_PID,SYSLOG_PID',
      '--no-pager',
      '--quiet',
      '--lines=0',
      '--identifier=sshd',
      '--identifier=sshd.pam',
      '--identifier=sshd.krb5',
      '--identifier=sshd-session',
      '--identifier=sshd-session.pam',
      '--identifier=sshd-session.krb5',
      '--identifier=sshd-auth',
      '--identifier=sshd-auth.pam',
      '--identifier=sshd-auth.krb5',
    ])
    const dir = new JournalFollower({ logger, onRecord, directory: '/x/journal' })
    const args = dir.journalctlArgs('s=1;i=2')
    assert.ok(args.includes('--directory=/x/journal') && args.includes('--merge'))
    assert.deepEqual(
      args.filter((a) => a.startsWith('--after-cursor') || a.startsWith('--lines')),
      ['--after-cursor=s=1;i=2', '--lines=all'],
    )
  })

  it('starts at the end: entries already there are not delivered, later ones are, in order', async (t) => {
    const dir = scratch('end')
    await appendJournal(dir, sshdRecords('before', 5))
    const f = follow(t, { directory: dir })
    await synced(dir, f)
    const later = sshdRecords('after', 12, 2000)
    await appendJournal(dir, later.slice(0, 4))
    await appendJournal(dir, later.slice(4))
    await untilDelivered(dir, f, '12 entries', () => messages(f.records).length >= 12)
    const delivered = f.records.filter((r) => !r.message.startsWith(SYNC))
    assert.deepEqual(
      delivered,
      later.map((r) => ({ identifier: r.identifier, pid: r.pid, message: r.message })),
    )
    assert.equal(f.follower.up, true)
    assert.equal(f.follower.kind, 'journal')
    assert.equal(f.follower.delivered, f.records.length)
    assert.equal(f.follower.unparsed, 0)
    assert.equal(f.follower.restarts, 0)
    assert.deepEqual(
      f.logger.lines.filter((l) => l.level !== 'debug'),
      [],
    )
  })

  it("delivers sshd, sshd-session and sshd-auth only, Alpine's .pam builds included", async (t) => {
    const dir = scratch('ids')
    const f = follow(t, { directory: dir })
    await synced(dir, f)
    await appendJournal(dir, [
      { identifier: 'cron', pid: 5, message: 'cron 1' },
      { identifier: 'sshd', pid: 6, message: 'sshd 1' },
      { identifier: 'sshdx', pid: 7, message: 'sshdx 1' },
      { identifier: 'sshd-session', pid: 8, message: 'sshd-session 1' },
      { identifier: 'ssh', pid: 9, message: 'ssh 1' },
      { identifier: 'sshd-auth', pid: 10, message: 'sshd-auth 1' },
      // Alpine's openssh-server-pam: the tag is the binary's name (aports main/openssh).
      { identifier: 'sshd.pam', pid: 12, message: 'sshd.pam 1' },
      { identifier: 'sshd-session.pam', pid: 13, message: 'sshd-session.pam 1' },
      // comm is cut to 15 bytes, the identifier is not: the cut name is not sshd's tag.
      { identifier: 'sshd-session.pa', pid: 14, message: 'cut 1' },
      { identifier: 'sshd-auth.pam', pid: 15, message: 'sshd-auth.pam 1' },
      { identifier: 'sshd', pid: 11, message: 'last' },
    ])
    await untilDelivered(dir, f, 'the last entry', () =>
      f.records.some((r) => r.message === 'last'),
    )
    assert.deepEqual(messages(f.records), [
      'sshd 1',
      'sshd-session 1',
      'sshd-auth 1',
      'sshd.pam 1',
      'sshd-session.pam 1',
      'sshd-auth.pam 1',
      'last',
    ])
  })

  it('after journalctl is killed, restarts after the last entry: none lost, none repeated', async (t) => {
    const dir = scratch('restart')
    const f = follow(t, { directory: dir, backoff: { initialMs: 500, maxMs: 2000 } })
    await synced(dir, f)
    await appendJournal(dir, sshdRecords('first', 5))
    await untilDelivered(dir, f, 'the first entries', () => messages(f.records).length === 5)
    assert.equal(f.follower.up, true)

    const [pid, ...others] = journalctlChildren()
    assert.ok(
      pid !== undefined && others.length === 0,
      `one journalctl: ${pid} ${others.join(' ')}`,
    )
    process.kill(pid, 'SIGKILL')
    await waitFor('up to go false', () => !f.follower.up)
    // More than the 10 lines --follow implies, all written while journalctl is down.
    await appendJournal(dir, sshdRecords('while down', 25))
    assert.equal(f.follower.restarts, 0, 'the entries were written before the restart')
    await waitFor('up again', () => f.follower.up)
    assert.equal(f.follower.restarts, 1)
    assert.notDeepEqual(journalctlChildren(), [pid])
    // All of them before anything new is written: journalctl --follow --after-cursor shows only
    // 10 (its default --lines) until the next entry wakes it, unless told --lines=all.
    await waitFor('the 25 entries', () => messages(f.records).length === 30)
    await appendJournal(dir, sshdRecords('after', 3))
    await untilDelivered(dir, f, 'every entry', () => messages(f.records).length >= 33)
    await sleep(200) // a repeat would come right behind
    assert.deepEqual(messages(f.records), [
      ...sshdRecords('first', 5).map((r) => r.message),
      ...sshdRecords('while down', 25).map((r) => r.message),
      ...sshdRecords('after', 3).map((r) => r.message),
    ])
    const warned = f.logger.lines.filter((l) => l.level === 'warn')
    assert.equal(warned.length, 1, JSON.stringify(f.logger.lines))
    assert.equal(warned[0]!.msg, 'journalctl exited; restarting it with back-off')
    assert.equal(warned[0]!.obj.signal, 'SIGKILL')
  })

  it('decodes a message with invalid UTF-8, keeps one with a newline, skips one too long', async (t) => {
    const dir = scratch('bytes')
    const f = follow(t, { directory: dir })
    await synced(dir, f)
    await appendJournal(dir, [
      { identifier: 'sshd', pid: 21, message: Buffer.from([0x62, 0x61, 0xff, 0x64, 0xc3, 0xa9]) },
      { identifier: 'sshd', pid: 22, message: 'line one\nline two' },
      { identifier: 'sshd', pid: 23, message: 'tab\there, bell\x07, é' },
      { identifier: 'sshd-session', pid: 24, syslogPid: null, message: 'only _PID' },
      { identifier: 'sshd-session', syslogPid: 25, message: 'only SYSLOG_PID' },
      { identifier: 'sshd', pid: 26, message: 'x'.repeat(5000) },
      { identifier: 'sshd', pid: 27, message: 'last' },
    ])
    await untilDelivered(dir, f, 'the last entry', () =>
      f.records.some((r) => r.message === 'last'),
    )
    assert.deepEqual(
      f.records.filter((r) => !r.message.startsWith(SYNC)),
      [
        { identifier: 'sshd', pid: 21, message: 'ba\uFFFDdé' },
        { identifier: 'sshd', pid: 22, message: 'line one\nline two' },
        { identifier: 'sshd', pid: 23, message: 'tab\there, bell\x07, é' },
        { identifier: 'sshd-session', pid: 24, message: 'only _PID' },
        { identifier: 'sshd-session', pid: 25, message: 'only SYSLOG_PID' },
        { identifier: 'sshd', pid: 27, message: 'last' },
      ],
    )
    // journalctl prints a field over 4096 bytes as null: counted, not delivered.
    assert.equal(f.follower.unparsed, 1)
  })

  it('follows into a new file when the journal is rotated, without a restart', async (t) => {
    const dir = scratch('rotate')
    const f = follow(t, { directory: dir })
    await synced(dir, f)
    // A last entry dated in the future makes systemd-journal-remote rename the file and start a
    // new one on its next run.
    const future = (BigInt(Date.now()) + 3_600_000n) * 1000n
    await appendJournal(dir, [
      { identifier: 'sshd', pid: 1, message: 'dated later', realtimeUs: future },
    ])
    await appendJournal(dir, sshdRecords('new file', 3))
    assert.ok(
      readdirSync(dir).some((name) => name.endsWith('.journal~')),
      `rotated: ${readdirSync(dir).join(' ')}`,
    )
    await untilDelivered(dir, f, 'the new file', () => messages(f.records).length >= 4)
    await sleep(200)
    assert.deepEqual(messages(f.records), [
      'dated later',
      ...sshdRecords('new file', 3).map((r) => r.message),
    ])
    assert.equal(f.follower.restarts, 0)
  })

  it('falls back to the end when journalctl rejects the cursor, and says so once', async (t) => {
    const dir = scratch('cursor')
    // The real journalctl, handed a malformed cursor whenever it is given one.
    const wrapper = join(dir, 'journalctl-bad-cursor')
    writeFileSync(
      wrapper,
      [
        '#!/bin/sh',
        'for a do',
        '  shift',
        '  case $a in --after-cursor=*) a=--after-cursor=not-a-cursor ;; esac',
        '  set -- "$@" "$a"',
        'done',
        `exec ${JOURNALCTL} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    )
    const journal = join(dir, 'journal')
    mkdirSync(journal)
    const f = follow(t, { directory: journal, journalctl: wrapper })
    await synced(journal, f)
    await appendJournal(journal, sshdRecords('first', 2))
    await untilDelivered(journal, f, 'the first entries', () => messages(f.records).length === 2)
    process.kill(journalctlChildren()[0]!, 'SIGKILL')
    await waitFor('up to go false', () => !f.follower.up)
    await waitFor('the cursor to be rejected', () =>
      f.logger.lines.some((l) => l.msg.startsWith('journalctl rejected the cursor')),
    )
    await waitFor('up again', () => f.follower.up)
    await synced(journal, f)
    await appendJournal(journal, sshdRecords('after', 2))
    await untilDelivered(journal, f, 'the later entries', () => messages(f.records).length === 4)
    assert.deepEqual(messages(f.records), ['first 0', 'first 1', 'after 0', 'after 1'])
    const warned = f.logger.lines.filter((l) => l.level === 'warn')
    assert.deepEqual(
      warned.map((l) => l.msg.split(';')[0]),
      ['journalctl exited', 'journalctl rejected the cursor of the last entry read'],
    )
    assert.equal(warned[1]!.obj.stderr, 'Failed to seek to cursor: Invalid argument')
    assert.equal(f.follower.restarts, 2)
  })

  for (const scenario of ['a missing directory', 'an unreadable journal'] as const) {
    it(`${scenario}: up stays false, restarts with back-off, warns once, stops cleanly`, async (t) => {
      const base = scratch('broken')
      chmodSync(base, 0o755) // nobody may look in; the files are what it cannot read
      const journal = join(base, 'journal')
      let journalctl = JOURNALCTL
      let stderr: RegExp
      if (scenario === 'a missing directory') {
        stderr = /^Failed to open .*journal: No such file or directory$/
      } else {
        mkdirSync(journal)
        await appendJournal(journal, sshdRecords('secret', 1))
        for (const name of readdirSync(journal)) chmodSync(join(journal, name), 0o600)
        journalctl = journalctlAsNobody(base)
        stderr = /^No journal files were opened due to insufficient permissions\.$/
      }
      // A run shorter than maxMs is a failure: the delay doubles up to maxMs.
      const backoff = { initialMs: 10, maxMs: 300 }
      const f = follow(t, { directory: journal, journalctl, backoff, settleMs: 1000 })
      let sawUp = false
      await waitFor(
        '7 restarts',
        () => {
          sawUp ||= f.follower.up
          return f.follower.restarts >= 7
        },
        { intervalMs: 2 },
      )
      assert.equal(sawUp, false)
      const warned = f.logger.lines.filter((l) => l.level === 'warn')
      assert.equal(warned.length, 1, JSON.stringify(f.logger.lines))
      assert.match(String(warned[0]!.obj.stderr), stderr)
      assert.equal(warned[0]!.obj.exitCode, 1)
      const again = f.logger.lines.filter((l) => l.msg === 'journalctl exited again')
      assert.ok(again.length >= 6, `${again.length} debug lines`)
      assert.deepEqual(
        [warned[0]!, ...again].slice(0, 7).map((l) => l.obj.restartInMs),
        [10, 20, 40, 80, 160, 300, 300],
      )
      assert.equal(f.follower.delivered, 0)

      await f.follower.stop()
      const restarts = f.follower.restarts
      await sleep(300)
      assert.equal(f.follower.restarts, restarts, 'no restart after stop()')
      assert.deepEqual(journalctlChildren(), [])
      assert.equal(f.follower.up, false)
    })
  }

  it('recovers when the missing directory appears', async (t) => {
    const journal = join(scratch('appears'), 'journal')
    const f = follow(t, { directory: journal })
    await waitFor('2 restarts', () => f.follower.restarts >= 2)
    assert.equal(f.follower.up, false)
    mkdirSync(journal)
    await waitFor('up', () => f.follower.up)
    await synced(journal, f)
    await appendJournal(journal, sshdRecords('now', 2))
    await untilDelivered(journal, f, 'the entries', () => messages(f.records).length === 2)
    assert.deepEqual(messages(f.records), ['now 0', 'now 1'])
  })

  it('stop() kills journalctl and waits; before start() and twice it is harmless', async (t) => {
    const dir = scratch('stop')
    const logger = collectingLogger()
    const follower = new JournalFollower({
      directory: dir,
      journalctl: JOURNALCTL,
      logger,
      onRecord: () => undefined,
      backoff: FAST,
      settleMs: 50,
    })
    await follower.stop()
    const fresh = new JournalFollower({
      directory: dir,
      journalctl: JOURNALCTL,
      logger,
      onRecord: () => undefined,
      backoff: FAST,
      settleMs: 50,
    })
    t.after(() => fresh.stop())
    fresh.start()
    fresh.start()
    await waitFor('up', () => fresh.up)
    const [pid, ...others] = journalctlChildren()
    assert.ok(pid !== undefined && others.length === 0)
    await fresh.stop()
    assert.equal(existsSync(`/proc/${pid}`), false, 'journalctl is gone')
    await fresh.stop()
    await sleep(100)
    assert.deepEqual(journalctlChildren(), [])
    assert.equal(fresh.restarts, 0)
    assert.deepEqual(
      logger.lines.filter((l) => l.level !== 'debug'),
      [],
    )
  })

  it('a missing journalctl binary is a failure with back-off, not a throw', async (t) => {
    const f = follow(t, { journalctl: join(scratch('nobin'), 'journalctl') })
    await waitFor('2 restarts', () => f.follower.restarts >= 2)
    const warned = f.logger.lines.filter((l) => l.level === 'warn')
    assert.equal(warned.length, 1)
    assert.match(String(warned[0]!.obj.stderr), /ENOENT/)
    assert.equal(f.follower.up, false)
  })

  it('a handler that throws is logged once; delivery goes on', async (t) => {
    const dir = scratch('throws')
    const logger = collectingLogger()
    const records: LogRecord[] = []
    const follower = new JournalFollower({
      directory: dir,
      journalctl: JOURNALCTL,
      logger,
      backoff: FAST,
      settleMs: 50,
      onRecord: (r) => {
        records.push(r)
        if (r.message.startsWith('boom')) throw new Error(r.message)
      },
    })
    t.after(() => follower.stop())
    follower.start()
    await waitFor('up', () => follower.up)
    await synced(dir, { records })
    await appendJournal(dir, [
      { identifier: 'sshd', pid: 1, message: 'boom 1' },
      { identifier: 'sshd', pid: 1, message: 'boom 2' },
      { identifier: 'sshd', pid: 1, message: 'fine' },
    ])
    await untilDelivered(dir, { records }, 'fine', () => records.some((r) => r.message === 'fine'))
    assert.deepEqual(messages(records), ['boom 1', 'boom 2', 'fine'])
    assert.equal(follower.delivered, records.length)
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 1)
    assert.equal(follower.restarts, 0)
  })
})

describe('journalAvailable', () => {
  it('true for a directory with a journal file', async () => {
    const dir = scratch('avail')
    await appendJournal(dir, sshdRecords('x', 1))
    assert.equal(await journalAvailable({ directory: dir, journalctl: JOURNALCTL }), true)
  })

  it('the reason for an empty directory, a missing one, an unreadable one, no journalctl', async () => {
    const base = scratch('unavail')
    chmodSync(base, 0o755)
    const empty = join(base, 'empty')
    mkdirSync(empty)
    assert.equal(
      await journalAvailable({ directory: empty, journalctl: JOURNALCTL }),
      'No journal files were found.',
    )
    assert.equal(
      await journalAvailable({ directory: join(base, 'missing'), journalctl: JOURNALCTL }),
      `Failed to open ${join(base, 'missing')}: No such file or directory`,
    )
    const unreadable = join(base, 'unreadable')
    mkdirSync(unreadable)
    await appendJournal(unreadable, sshdRecords('x', 1))
    for (const name of readdirSync(unreadable)) chmodSync(join(unreadable, name), 0o600)
    assert.equal(
      await journalAvailable({ directory: unreadable, journalctl: journalctlAsNobody(base) }),
      'No journal files were opened due to insufficient permissions.',
    )
    assert.match(
      String(await journalAvailable({ journalctl: join(base, 'no-such-journalctl') })),
      /^cannot run .*no-such-journalctl: .*ENOENT/s,
    )
  })
})
