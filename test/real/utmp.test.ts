/**
 * utmp on real hosts: this machine's own /run/utmp against util-linux utmpdump, and the records
 * real sshd 9.2 and 10.0 write in their namespaces (startSshd: needs root; see
 * test/helpers/sshd.ts), with whose pid they carry and their ttys' idle times. The tests that
 * need neither root nor servers are in test/sources/utmp/.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, utimesSync } from 'node:fs'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { resolveInRoot } from '../../src/sources/rootfs.ts'
import { type UtmpRecord, UtmpType } from '../../src/sources/utmp/parse.ts'
import { UTMP_PATHS, UtmpReader } from '../../src/sources/utmp/read.ts'
import { TtyIdle } from '../../src/sources/utmp/tty-idle.ts'
import { SSHD_VERSIONS } from '../helpers/sshd/builds.ts'
import { readProcess } from '../helpers/sshd/processes.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { waitFor } from '../helpers/wait.ts'
import { hasCommand, parseUtmpdumpText, withoutSession } from '../sources/utmp/fixtures.ts'

const run = promisify(execFile)

/** The USER_PROCESS record of a pty login, once sshd has written it. */
function loginRecord(s: SshdServer, utmp: UtmpReader): Promise<UtmpRecord> {
  return s.waitFor('a USER_PROCESS record', () =>
    utmp.read()?.records.find((r) => r.type === UtmpType.USER_PROCESS),
  )
}

describe("this machine's utmp", () => {
  it('is read as utmpdump reads it, or is absent', async (t) => {
    const present = UTMP_PATHS.find((p) => existsSync(p))
    const read = new UtmpReader('/').read()
    if (present === undefined) {
      t.diagnostic('neither /run/utmp nor /var/run/utmp exists here: UtmpReader gives null')
      assert.equal(read, null)
      return
    }
    assert.ok(read !== null)
    assert.equal(read.malformed, 0)
    assert.equal(read.truncated, false)
    t.diagnostic(`${read.path}: ${read.records.length} records of ${read.recordSize ?? '-'} bytes`)
    if (!hasCommand('utmpdump')) return
    const { stdout } = await run('utmpdump', [present])
    assert.deepEqual(
      parseUtmpdumpText(stdout).map(({ addr: _addr, id: _id, ...rest }) => rest),
      withoutSession(read.records).map(({ id: _id, ...rest }) => rest),
    )
  })
})

describe('real sshd: utmp records and tty idle time', () => {
  for (const version of SSHD_VERSIONS) {
    describe(`OpenSSH ${version}`, () => {
      it('records pty logins of a user with ut_pid = the [priv] monitor, and the logout', async (t) => {
        const s = await startSshd({ version, t })
        const utmp = new UtmpReader(s.rootfs)
        const c = await s.connect({ pty: true })
        const record = await loginRecord(s, utmp)
        const procs = await s.processes()
        const byPid = new Map(procs.map((p) => [p.pid, p]))
        const owner = byPid.get(record.pid)
        assert.equal(record.pid, c.connectionPid, await s.processTree())
        assert.match(owner?.title ?? '', new RegExp(`^sshd(-session)?: ${s.user} \\[priv\\]$`))
        const child = procs.find(
          (p) => p.ppid === c.connectionPid && p.title.includes(`${s.user}@`),
        )
        assert.ok(child, 'the post-auth child')
        assert.match(child.title, new RegExp(`@${record.line.replace('/', '\\/')}$`))
        assert.match(record.line, /^pts\/\d+$/)
        assert.equal(record.id, record.line.slice(-4))
        assert.equal(record.user, s.user)
        assert.equal(record.host, '127.0.0.1')
        assert.ok(Math.abs(record.time - Date.now() / 1000) < 60)
        // The tty's idle time: just opened.
        const idle = new TtyIdle(s.rootfs).reader(Date.now())(record.line)
        assert.ok(idle !== null && idle < 60, `idle ${idle}`)
        // The parser and utmpdump agree on sshd's own file.
        const { stdout } = await run('utmpdump', [s.utmpFile])
        assert.deepEqual(
          parseUtmpdumpText(stdout).map(({ addr: _addr, ...rest }) => rest),
          withoutSession(utmp.read()!.records),
        )

        await c.close()
        const dead = await s.waitFor('the DEAD_PROCESS record', () =>
          utmp.read()?.records.find((r) => r.type === UtmpType.DEAD_PROCESS),
        )
        assert.deepEqual(
          { pid: dead.pid, line: dead.line, id: dead.id, user: dead.user, host: dead.host },
          { pid: record.pid, line: record.line, id: record.id, user: '', host: '' },
        )
        assert.equal(utmp.read()?.records.filter((r) => r.type === UtmpType.USER_PROCESS).length, 0)
      })

      it('leaves a USER_PROCESS record whose pid is gone when the monitor is killed', async (t) => {
        // The utmp_orphan case: nobody writes the logout, `who` goes on listing the session.
        const s = await startSshd({ version, t })
        const utmp = new UtmpReader(s.rootfs)
        const c = await s.connect({ pty: true })
        const record = await loginRecord(s, utmp)
        assert.equal(record.pid, c.connectionPid)
        // The pid is the namespace's: kill it from inside.
        await run('nsenter', [
          '-t',
          String(s.initHostPid),
          '-p',
          '--',
          'kill',
          '-KILL',
          String(record.pid),
        ])
        await s.waitFor(
          'the monitor to be gone',
          async () => !(await readProcess(s.procfs, record.pid)),
        )
        const later = utmp.read()?.records.find((r) => r.line === record.line)
        assert.deepEqual(later, record)
        await c.close()
      })

      it('writes nothing for a session without a pty', async (t) => {
        const s = await startSshd({ version, t })
        const utmp = new UtmpReader(s.rootfs)
        const c = await s.connect({ pty: false })
        const read = utmp.read()
        assert.deepEqual(read?.records, [])
        await c.close()
      })

      it('records root logins with the pid of the process that called login(3)', async (t) => {
        const s = await startSshd({ version, t })
        const utmp = new UtmpReader(s.rootfs)
        const c = await s.connect({ pty: true, user: 'root' })
        const record = await loginRecord(s, utmp)
        const procs = await s.processes()
        const byPid = new Map(procs.map((p) => [p.pid, p]))
        const tree = await s.processTree()
        const owner = byPid.get(record.pid)
        assert.ok(owner, tree)
        assert.equal(record.user, 'root')
        if (version === '9.2') {
          // Up to 9.7 there is no [priv] process for root: the connection's process is
          // `root@pts/N` itself, and do_login() runs in the session child it forks, which then
          // execs the command (`exec cat` here).
          assert.equal(byPid.get(c.connectionPid)?.title, `sshd: root@${record.line}`, tree)
          assert.equal(owner.ppid, c.connectionPid, tree)
          assert.doesNotMatch(owner.comm, /^sshd/, tree)
        } else {
          // 9.8+: root gets a `[priv]` monitor too, which writes the record.
          assert.equal(record.pid, c.connectionPid, tree)
          assert.equal(owner.title, 'sshd-session: root [priv]', tree)
        }
        await c.close()
      })

      it('tty idle time is the time since the last input, as who -u shows it', async (t) => {
        const s = await startSshd({ version, t })
        const utmp = new UtmpReader(s.rootfs)
        const ttyIdle = new TtyIdle(s.rootfs)
        // Our own client, to type into: `cat` reads the pty, which sets its atime.
        const client = spawn(
          'ssh',
          [...s.sshArgs(), '-tt', `${s.user}@${s.host}`, 'echo READY; exec cat'],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        )
        t.after(() => {
          client.kill('SIGKILL')
        })
        let output = ''
        client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
        await waitFor('the remote command', () => output.includes('READY'))
        const record = await loginRecord(s, utmp)
        const device = resolveInRoot(s.rootfs, `/dev/${record.line}`)
        assert.ok(device)
        const hourAgo = new Date(Date.now() - 3_600_000)
        utimesSync(device, hourAgo, hourAgo)
        const idle = ttyIdle.reader(Date.now())(record.line)
        assert.ok(idle !== null && idle >= 3599 && idle < 3700, `idle ${idle}`)
        client.stdin.write('typed\r')
        await waitFor('the echo of the input', () => output.includes('typed'))
        await s.waitFor('input to reset the idle time', () => {
          const now = ttyIdle.reader(Date.now())(record.line)
          return now !== null && now < 60
        })
        client.stdin.end()
      })
    })
  }
})
