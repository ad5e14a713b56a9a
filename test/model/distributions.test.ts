/**
 * The process model on hosts as distributions lay sshd out, which no test here can run: Alpine's
 * openssh-server-pam (sshd.pam, sshd-session.pam, sshd-auth.pam; comm cut to 15 bytes) and an
 * SSSD/realmd host whose users are `alice@example.com` (RHEL: root keeps its [priv] monitor).
 * The titles are those of test/fixtures/proctitles/alpine-openssh-*-pam.tsv and rhel-openssh.tsv;
 * pids are made up. Each tree gives exact connections, sessions and users both through the full
 * scan and through the ProcessScanner's walk.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { scanFull } from '../../src/state/full-scan.ts'
import type { SshdSnapshot } from '../../src/model/snapshot.ts'
import { ProcessScanner } from '../../src/state/scanner.ts'
import { ProcFS } from '../../src/sources/procfs.ts'
import { COMM_MAX_BYTES } from '../../src/sources/proctitle.ts'
import { collectingLogger } from '../helpers/logger.ts'
import { type FakeProcess, tempProcTree } from '../helpers/procfs-tree.ts'

/** A process of one of sshd's binaries: comm is its file name cut as the kernel cuts it. */
function sshd(
  pid: number,
  ppid: number,
  binary: string,
  cmdline: string,
  state = 'S',
): FakeProcess {
  return { pid, ppid, comm: binary.slice(0, COMM_MAX_BYTES), cmdline, state }
}

function other(pid: number, ppid: number, comm: string, cmdline = comm): FakeProcess {
  return { pid, ppid, comm, cmdline }
}

const init = other(1, 0, 'systemd', '/sbin/init')

function connections(s: SshdSnapshot) {
  return s.connections.map((c) => [c.pid, c.state, c.user, c.sessions, c.ttys])
}

/** Sessions by user, as sshd_sessions{user} sums them. */
function users(s: SshdSnapshot): Record<string, number> {
  const out: Record<string, number> = {}
  for (const c of s.connections) {
    if (c.user !== null) out[c.user] = (out[c.user] ?? 0) + c.sessions
  }
  return out
}

/**
 * The snapshot of a tree by the full scan, and by the walk that follows it (after a first scan
 * that reads every process, the scanner walks down from the listeners): both must be `expected`.
 */
function bothWays(processes: FakeProcess[]): { full: SshdSnapshot; walked: SshdSnapshot } {
  const tree = tempProcTree(processes)
  after(() => tree.remove())
  const procfs = new ProcFS(tree.root)
  const full = scanFull(procfs).snapshot
  const scanner = new ProcessScanner(procfs, {
    rescanIntervalMs: 60_000,
    now: () => 0,
    logger: collectingLogger(),
  })
  assert.equal(scanner.scan().mode, 'full')
  const walk = scanner.scan()
  assert.equal(walk.mode, 'walk')
  assert.equal(walk.malformed, 0)
  return { full, walked: walk.snapshot }
}

describe("Alpine's openssh-server-pam", () => {
  it('10.0: sshd.pam, sshd-session.pam, sshd-auth.pam (comm sshd-session.pa)', () => {
    const S = 'sshd-session.pam'
    const A = 'sshd-auth.pam'
    const { full, walked } = bothWays([
      other(1, 0, 'init', '/sbin/init'),
      other(90, 1, 'syslogd', '/sbin/syslogd\u0000-t\u0000-n'),
      // OpenRC's sshd.initd: /usr/sbin/sshd.pam, daemonized (no -D).
      sshd(100, 1, 'sshd.pam', 'sshd.pam: /usr/sbin/sshd.pam [listener] 3 of 10-100 startups'),
      // Pre-auth: a client before its user name, with its sshd-auth child.
      sshd(200, 100, S, `${S}: [accepted]`),
      sshd(201, 200, A, `${A}: [session-auth]`),
      // Pre-auth with a user name: the monitor and sshd-auth.
      sshd(210, 100, S, `${S}: bob [priv]`),
      sshd(211, 210, A, `${A}: bob [net]`),
      // Just exec'd, before its first title: the listener's argv and -R.
      sshd(220, 100, S, '/usr/lib/ssh/sshd-session.pam\u0000-R'),
      // alice: a shell on pts/0, one on pts/3, a command, and internal-sftp (Alpine's default).
      sshd(300, 100, S, `${S}: alice [priv]`),
      sshd(301, 300, S, `${S}: alice@pts/0,pts/3`),
      other(302, 301, 'ash', '-ash'),
      other(303, 301, 'ash', '-ash'),
      other(304, 301, 'sleep', 'sleep\u0000600'),
      sshd(305, 301, S, `${S}: alice@internal-sftp`),
      other(306, 302, 'vi', 'vi'),
      // root keeps its monitor from 9.8 on; its post-auth child runs as root.
      sshd(400, 100, S, `${S}: root [priv]`),
      sshd(401, 400, S, `${S}: root@pts/1`),
      other(402, 401, 'ash', '-ash'),
      // A ControlMaster with no session yet.
      sshd(500, 100, S, `${S}: carol [priv]`),
      sshd(501, 500, S, `${S}: carol`),
      // Not connections: sshd.pam -T run by hand, a zombie.
      sshd(600, 1, 'sshd.pam', '/usr/sbin/sshd.pam\u0000-T'),
      sshd(601, 100, S, '', 'Z'),
    ])
    assert.deepEqual(full.listeners, [
      {
        pid: 100,
        starttime: 1100,
        startups: 3,
        maxStartupsBegin: 10,
        maxStartupsFull: 100,
        argv: ['/usr/sbin/sshd.pam'],
      },
    ])
    assert.deepEqual(connections(full), [
      [200, 'preauth', null, 0, []],
      [210, 'preauth', null, 0, []],
      [220, 'preauth', null, 0, []],
      [300, 'authenticated', 'alice', 4, ['pts/0', 'pts/3']],
      [400, 'authenticated', 'root', 1, ['pts/1']],
      [500, 'authenticated', 'carol', 0, []],
    ])
    assert.deepEqual(users(full), { alice: 4, root: 1, carol: 0 })
    assert.deepEqual(walked, full)
  })

  it('9.8: sshd.pam and sshd-session.pam, the [net] child a fork of sshd-session.pam', () => {
    const S = 'sshd-session.pam'
    const { full, walked } = bothWays([
      init,
      sshd(
        100,
        1,
        'sshd.pam',
        'sshd.pam: /usr/sbin/sshd.pam -D -e [listener] 2 of 10-100 startups',
      ),
      sshd(200, 100, S, `${S}: unknown [priv]`),
      sshd(201, 200, S, `${S}: unknown [net]`),
      // The listener's fork, before it execs sshd-session.pam: comm and title still the listener's.
      sshd(210, 100, 'sshd.pam', 'sshd.pam: [accepted]'),
      sshd(300, 100, S, `${S}: alice [priv]`),
      sshd(301, 300, S, `${S}: alice@notty`),
      other(302, 301, 'rsync', 'rsync\u0000--server'),
      sshd(400, 100, S, `${S}: root [priv]`),
      sshd(401, 400, S, `${S}: root@pts/0`),
      other(402, 401, 'ash', '-ash'),
    ])
    assert.deepEqual(
      full.listeners.map((l) => [l.pid, l.startups, l.argv]),
      [[100, 2, ['/usr/sbin/sshd.pam', '-D', '-e']]],
    )
    assert.deepEqual(connections(full), [
      [200, 'preauth', null, 0, []],
      [210, 'preauth', null, 0, []],
      [300, 'authenticated', 'alice', 1, []],
      [400, 'authenticated', 'root', 1, ['pts/0']],
    ])
    assert.deepEqual(users(full), { alice: 1, root: 1 })
    assert.deepEqual(walked, full)
  })
})

describe('an SSSD/realmd host (users alice@example.com)', () => {
  it('RHEL 9 (8.7, comm sshd): every title form with @ users, root with its [priv] monitor', () => {
    const { full, walked } = bothWays([
      init,
      sshd(100, 1, 'sshd', 'sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups'),
      // Pre-auth, the user name known.
      sshd(200, 100, 'sshd', 'sshd: carol@example.com [priv]'),
      sshd(201, 200, 'sshd', 'sshd: carol@example.com [net]'),
      // alice@example.com: two pty sessions and an exec.
      sshd(300, 100, 'sshd', 'sshd: alice@example.com [priv]'),
      sshd(301, 300, 'sshd', 'sshd: alice@example.com@pts/0,pts/1'),
      other(302, 301, 'bash', '-bash'),
      other(303, 301, 'bash', '-bash'),
      other(304, 301, 'sleep', 'sleep\u0000600'),
      // bob@ad: connected, no session yet (`sshd: bob@ad` once read as user bob on tty ad).
      sshd(400, 100, 'sshd', 'sshd: bob@ad [priv]'),
      sshd(401, 400, 'sshd', 'sshd: bob@ad'),
      // alice@example.com again, a second connection: sftp through internal-sftp, and a notty one.
      sshd(500, 100, 'sshd', 'sshd: alice@example.com [priv]'),
      sshd(501, 500, 'sshd', 'sshd: alice@example.com@notty'),
      sshd(502, 501, 'sshd', 'sshd: alice@example.com@internal-sftp'),
      // root under RHEL's privsep-selinux patch: [priv] monitor and a post-auth child, before 9.8.
      sshd(600, 100, 'sshd', 'sshd: root [priv]'),
      sshd(601, 600, 'sshd', 'sshd: root@notty'),
      other(602, 601, 'sleep', 'sleep\u0000600'),
    ])
    assert.deepEqual(connections(full), [
      [200, 'preauth', null, 0, []],
      [300, 'authenticated', 'alice@example.com', 3, ['pts/0', 'pts/1']],
      [400, 'authenticated', 'bob@ad', 0, []],
      [500, 'authenticated', 'alice@example.com', 1, []],
      [600, 'authenticated', 'root', 1, []],
    ])
    assert.deepEqual(users(full), { 'alice@example.com': 4, 'bob@ad': 0, root: 1 })
    assert.deepEqual(walked, full)
  })

  it('Fedora 9.8+ (sshd-session) and Alpine 10.0 (.pam): the same users', () => {
    const { full, walked } = bothWays([
      init,
      sshd(100, 1, 'sshd', 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'),
      sshd(300, 100, 'sshd-session', 'sshd-session: alice@example.com [priv]'),
      sshd(301, 300, 'sshd-session', 'sshd-session: alice@example.com@pts/4'),
      other(302, 301, 'bash', '-bash'),
      sshd(400, 100, 'sshd-session', 'sshd-session: bob@ad [priv]'),
      sshd(401, 400, 'sshd-session', 'sshd-session: bob@ad'),
      sshd(
        700,
        1,
        'sshd.pam',
        'sshd.pam: /usr/sbin/sshd.pam -p 2222 [listener] 0 of 10-100 startups',
      ),
      sshd(800, 700, 'sshd-session.pam', 'sshd-session.pam: first.last@corp.example.com [priv]'),
      sshd(801, 800, 'sshd-session.pam', 'sshd-session.pam: first.last@corp.example.com@pts/7'),
      other(802, 801, 'ash', '-ash'),
    ])
    assert.deepEqual(connections(full), [
      [300, 'authenticated', 'alice@example.com', 1, ['pts/4']],
      [400, 'authenticated', 'bob@ad', 0, []],
      [800, 'authenticated', 'first.last@corp.example.com', 1, ['pts/7']],
    ])
    assert.deepEqual(
      full.connections.map((c) => c.listener),
      [100, 100, 700],
    )
    assert.deepEqual(users(full), {
      'alice@example.com': 1,
      'bob@ad': 0,
      'first.last@corp.example.com': 1,
    })
    assert.deepEqual(walked, full)
  })
})
