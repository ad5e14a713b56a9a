import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { isExporterError } from '../../src/errors.ts'
import {
  ProcFS,
  parseCmdline,
  parseProcStat,
  ttyName,
  parseUptime,
  processAgeSeconds,
} from '../../src/sources/procfs.ts'

// Captured from a real sshd 9.2 listener (Debian bookworm, Linux x86_64) started by hand,
// `cat /proc/<pid>/stat`; addresses left as read.
const LISTENER =
  '8783 (sshd) S 8779 8779 1025 0 -1 4194560 577 0 1 0 0 0 0 0 20 0 1 0 28286 15831040 2229 18446744073709551615 94021086658560 94021087503245 140720571607456 0 0 0 0 4098 81925 1 0 0 17 1 0 0 0 0 0 94021087856496 94021087872656 94021623504896 140720571615897 140720571615982 140720571615982 140720571617257 0\n'

// `script -qc 'cat /proc/self/stat; tty' /dev/null` on Debian 12 (Linux x86_64): tty printed
// /dev/pts/0.
const ON_PTS_0 =
  '4227 (cat) R 4226 4226 4226 34816 4226 4194304 98 0 0 0 0 0 0 0 20 0 1 0 2129505 3133440 359 18446744073709551615 93981725900800 93981725920681 140724624732288 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 93981725936688 93981725938304 93982768353280 140724624734943 140724624734963 140724624734963 140724624736235 0\n'

describe('ttyName', () => {
  it('names ptys as ps does, in the 20-bit and the 8-bit minor numbering', () => {
    assert.equal(ttyName(0), null)
    assert.equal(ttyName((136 << 8) | 5), 'pts/5')
    // pts/300: major 136, minor 300 packed as new_encode_dev does (minor's high bits at 20).
    assert.equal(ttyName((256 << 12) | (136 << 8) | 44), 'pts/300')
    assert.equal(ttyName((137 << 8) | 44), 'pts/300')
    assert.equal(ttyName((4 << 8) | 1), 'tty1')
    assert.equal(ttyName((4 << 8) | 64), 'tty(4:64)')
  })
})

describe('parseProcStat', () => {
  it('reads pid, comm, state, ppid, tty_nr and starttime', () => {
    assert.deepEqual(parseProcStat(LISTENER), {
      pid: 8783,
      comm: 'sshd',
      state: 'S',
      ppid: 8779,
      starttime: 28286,
      ttyNr: 0,
    })
  })

  it('reads the controlling terminal of a process on a pty', () => {
    const stat = parseProcStat(ON_PTS_0)
    assert.equal(stat.ttyNr, 34816)
    assert.equal(ttyName(stat.ttyNr), 'pts/0')
  })

  it('reads a negative tty_nr (a pts past 2^19) as the unsigned number it packs', () => {
    const line = ON_PTS_0.replace(' 34816 ', ' -2147448832 ')
    assert.equal(ttyName(parseProcStat(line).ttyNr), 'pts/524288')
  })

  it('takes comm up to the last parenthesis, spaces and parentheses included', () => {
    const line = LISTENER.replace('(sshd)', '(a) b (c))')
    assert.equal(parseProcStat(line).comm, 'a) b (c)')
  })

  it('reads zombies', () => {
    assert.equal(parseProcStat(LISTENER.replace(') S ', ') Z ')).state, 'Z')
  })

  it('decodes a UTF-8 comm', () => {
    const bytes = Buffer.from(LISTENER.replace('(sshd)', '(sshd-é)'), 'utf8').toString('latin1')
    assert.equal(parseProcStat(bytes).comm, 'sshd-é')
  })

  for (const [name, text] of [
    ['empty', ''],
    ['no parentheses', '4242 sshd S 1 2 3'],
    ['a pid that is not a number', 'x (sshd) S 1 4242'],
    ['truncated after comm', '4242 (sshd)'],
    ['truncated before starttime', '8783 (sshd) S 1 4242 4242 0 -1'],
    ['a ppid that is not a number', LISTENER.replace(') S 8779 ', ') S x ')],
    ['a two-letter state', LISTENER.replace(') S ', ') SS ')],
    ['binary garbage', '\u0000\u00ff\u0001'],
  ] as const) {
    it(`rejects ${name} with PROCFS_MALFORMED`, () => {
      assert.throws(
        () => parseProcStat(text),
        (err) => isExporterError(err, 'ERR_PROCFS_MALFORMED'),
      )
    })
  }
})

describe('parseCmdline', () => {
  it('cuts at the first NUL', () => {
    assert.equal(parseCmdline('sshd: alice@pts/0\0\0\0\0'), 'sshd: alice@pts/0')
    assert.equal(parseCmdline('/usr/sbin/sshd\0-D\0'), '/usr/sbin/sshd')
    assert.equal(parseCmdline(''), '')
  })
})

describe('ProcFS', () => {
  const root = mkdtempSync(join(tmpdir(), 'procfs-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, '4242'))
  writeFileSync(join(root, '4242', 'stat'), LISTENER)
  writeFileSync(
    join(root, '4242', 'cmdline'),
    'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups\0',
  )
  mkdirSync(join(root, 'self'))
  mkdirSync(join(root, 'sys'))
  writeFileSync(join(root, 'uptime'), '1 1\n')
  const procfs = new ProcFS(root)

  it('lists numeric entries only', () => {
    assert.deepEqual(procfs.listPids(), [4242])
  })

  it('reads stat and cmdline', () => {
    assert.equal(procfs.readStat(4242)?.comm, 'sshd')
    assert.equal(
      procfs.readCmdline(4242),
      'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups',
    )
  })

  it('gives null for a pid that is gone', () => {
    assert.equal(procfs.readStat(99999), null)
    assert.equal(procfs.readCmdline(99999), null)
  })

  it('reads the real /proc/self', () => {
    const real = new ProcFS('/proc')
    const stat = real.readStat(process.pid)
    assert.equal(stat?.pid, process.pid)
    assert.equal(stat?.ppid, process.ppid)
    assert.ok(real.listPids().includes(process.pid))
  })

  it('throws when the root is not there', () => {
    assert.throws(() => new ProcFS(join(root, 'missing')).listPids(), /ENOENT/)
  })
})

describe('ProcFS readers for re-reads', () => {
  const root = mkdtempSync(join(tmpdir(), 'procfs-reread-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  const write = (pid: number, file: string, content: string) => {
    const path = join(root, String(pid), file)
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(path, content, 'latin1')
  }
  const procfs = new ProcFS(root)

  it('gives the previous title itself while the cmdline says the same, a new one when not', () => {
    write(10, 'cmdline', 'sshd: alice@pts/0\0\0\0')
    const first = procfs.readCmdline(10)
    assert.equal(first, 'sshd: alice@pts/0')
    const previous = ['sshd: alice', '@pts/0'].join('') // equal, but another string
    assert.equal(procfs.readCmdline(10, previous), previous)
    write(10, 'cmdline', 'sshd: alice@pts/0,pts/1\0')
    assert.equal(procfs.readCmdline(10, previous), 'sshd: alice@pts/0,pts/1')
    // A UTF-8 title is decoded, never matched byte for byte against a string.
    write(10, 'cmdline', Buffer.from('sshd: j\u00fcrgen@notty', 'utf8').toString('latin1'))
    assert.equal(procfs.readCmdline(10, 'sshd: j\u00fcrgen@notty'), 'sshd: j\u00fcrgen@notty')
    assert.equal(procfs.readCmdline(11, previous), null)
  })

  it('counts children, -1 when the file is gone or malformed', () => {
    write(20, 'task/20/children', '21 22 23 ')
    assert.equal(procfs.countChildren(20), 3)
    write(20, 'task/20/children', '')
    assert.equal(procfs.countChildren(20), 0)
    write(20, 'task/20/children', '21 x ')
    assert.equal(procfs.countChildren(20), -1)
    write(20, 'task/20/children', '0 ')
    assert.equal(procfs.countChildren(20), -1)
    assert.equal(procfs.countChildren(29), -1)
  })

  it('reads a start time, -1 for a zombie, a malformed file or a gone pid', () => {
    write(30, 'stat', LISTENER)
    assert.equal(procfs.readStarttime(30), 28286)
    write(30, 'stat', LISTENER.replace(') S ', ') Z '))
    assert.equal(procfs.readStarttime(30), -1)
    write(30, 'stat', 'garbage')
    assert.equal(procfs.readStarttime(30), -1)
    assert.equal(procfs.readStarttime(39), -1)
  })

  it("fills a scan's fields without an object a process, and tells sshd's and socket holders' comms", () => {
    const fields = { ppid: 0, starttime: 0, exited: false, sshd: false, holder: false }
    for (const [comm, sshd, holder] of [
      ['sshd', true, false],
      ['sshd-session', true, false],
      ['sshd-auth', true, false],
      ['sshd-sessionx', false, false],
      ['bash', false, false],
      ['a) (sshd', false, false],
      ['systemd', false, true],
      ['systemd-socket-', false, true],
      ['systemd-journal', false, false],
      ['inetd', false, true],
      ['xinetd', false, true],
    ] as const) {
      write(40, 'stat', LISTENER.replace('(sshd)', `(${comm})`))
      assert.equal(procfs.readStatFields(40, fields), true)
      assert.deepEqual(fields, { ppid: 8779, starttime: 28286, exited: false, sshd, holder }, comm)
    }
    write(40, 'stat', LISTENER.replace(') S ', ') Z '))
    procfs.readStatFields(40, fields)
    assert.equal(fields.exited, true)
    assert.equal(procfs.readStatFields(49, fields), false)
    write(40, 'stat', 'garbage')
    assert.throws(() => procfs.readStatFields(40, fields), /malformed stat/)
  })
})

describe('uptime and process age', () => {
  it('parses /proc/uptime', () => {
    assert.equal(parseUptime('28286.53 55032.10\n'), 28286.53)
    assert.throws(() => parseUptime('garbage'), /malformed uptime/)
    assert.throws(() => parseUptime(' 1 2'), /malformed uptime/)
  })

  it('computes an age from starttime ticks', () => {
    assert.equal(processAgeSeconds(28286, 1000), 1000 - 282.86)
    assert.equal(processAgeSeconds(500_000, 10), 0, 'never negative')
  })

  it('agrees with the real clock for this very process', () => {
    const procfs = new ProcFS('/proc')
    const stat = procfs.readStat(process.pid)!
    const age = processAgeSeconds(stat.starttime, procfs.readUptime())
    // process.uptime() counts from a little after the kernel's start time of the process.
    assert.ok(Math.abs(age - process.uptime()) < 2, `age ${age} vs uptime ${process.uptime()}`)
  })
})

describe('readChildren on the real /proc', () => {
  it('reads a children file that takes the kernel several reads (pages of records) whole', async () => {
    // A shell with 1,200 children: some 7 KB of pids, two pages or more of seq_file records.
    const count = 1200
    const shell = spawn(
      'sh',
      ['-c', `i=0; while [ $i -lt ${count} ]; do sleep 60 & i=$((i+1)); done; echo ready; wait`],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
    )
    try {
      await new Promise<void>((resolve, reject) => {
        shell.stdout.once('data', () => resolve())
        shell.once('error', reject)
      })
      const procfs = new ProcFS('/proc')
      const kids = procfs.readChildren(shell.pid!)
      assert.ok(kids !== null)
      assert.equal(kids.length, count)
      assert.equal(new Set(kids).size, count)
      for (const pid of kids.slice(0, 20)) assert.equal(procfs.readStat(pid)?.ppid, shell.pid)
      assert.ok(kids.join(' ').length > 4096, 'more than a page of records')
    } finally {
      process.kill(-shell.pid!, 'SIGKILL')
    }
  })
})
