/**
 * The process model on procfs trees shaped as OpenSSH builds them. The titles
 * and parent links are those of test/fixtures/proctitles (OpenSSH's source
 * and captures from real 9.2 and 10.0 servers); pids are made up.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { scanFull } from '../../src/state/full-scan.ts'
import type { SshdSnapshot } from '../../src/model/snapshot.ts'
import { ProcFS } from '../../src/sources/procfs.ts'
import { type FakeProcess, tempProcTree } from '../helpers/procfs-tree.ts'

function scan(processes: FakeProcess[]) {
  const tree = tempProcTree(processes)
  after(() => tree.remove())
  return scanFull(new ProcFS(tree.root))
}

/** Connections as compact tuples, for readable assertions. */
function summary(s: SshdSnapshot) {
  return s.connections.map((c) => [c.pid, c.state, c.user, c.sessions, c.ptySessions])
}

const init: FakeProcess = { pid: 1, ppid: 0, comm: 'systemd', cmdline: '/sbin/init' }
const bash = (pid: number, ppid: number, state = 'S'): FakeProcess => ({
  pid,
  ppid,
  comm: 'bash',
  cmdline: '-bash',
  state,
})

describe('scanFull and buildSnapshot', () => {
  it('OpenSSH 9.2: listener, pre-auth, multiplexed and root connections', () => {
    const l = 'sshd: /usr/sbin/sshd -D [listener] 2 of 10-100 startups'
    const { snapshot, processes, malformed } = scan([
      init,
      { pid: 100, ppid: 1, comm: 'sshd', cmdline: l },
      // A silent client: the monitor alone, before the banner.
      { pid: 200, ppid: 100, comm: 'sshd', cmdline: 'sshd: [accepted]' },
      // A client that sent its user name.
      { pid: 210, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]' },
      { pid: 211, ppid: 210, comm: 'sshd', cmdline: 'sshd: alice [net]' },
      // alice, four sessions over one connection, one with a pty; one has exited but sshd has
      // not reaped it yet (a zombie): still open in sshd, so it counts until reaped.
      { pid: 300, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]' },
      { pid: 301, ppid: 300, comm: 'sshd', cmdline: 'sshd: alice@pts/0' },
      bash(302, 301),
      { pid: 303, ppid: 301, comm: 'sleep', cmdline: 'sleep\u0000600' },
      { pid: 304, ppid: 301, comm: 'sshd', cmdline: 'sshd: alice@internal-sftp' },
      bash(305, 301, 'Z'),
      bash(306, 302),
      // root up to 9.7: no [priv], the monitor is the post-auth process.
      { pid: 400, ppid: 100, comm: 'sshd', cmdline: 'sshd: root@pts/1' },
      bash(401, 400),
      // A ControlMaster with no session yet.
      { pid: 500, ppid: 100, comm: 'sshd', cmdline: 'sshd: bob [priv]' },
      { pid: 501, ppid: 500, comm: 'sshd', cmdline: 'sshd: bob' },
      // Not connections: `sshd -T` run by hand, and a zombie sshd.
      { pid: 600, ppid: 1, comm: 'sshd', cmdline: '/usr/sbin/sshd\u0000-T' },
      { pid: 601, ppid: 100, comm: 'sshd', cmdline: '', state: 'Z' },
    ])
    assert.equal(malformed, 0)
    assert.equal(processes, 18)
    assert.deepEqual(snapshot.listeners, [
      {
        pid: 100,
        starttime: 1100,
        startups: 2,
        maxStartupsBegin: 10,
        maxStartupsFull: 100,
        argv: ['/usr/sbin/sshd', '-D'],
      },
    ])
    assert.deepEqual(summary(snapshot), [
      [200, 'preauth', null, 0, 0],
      [210, 'preauth', null, 0, 0],
      [300, 'authenticated', 'alice', 4, 1],
      [400, 'authenticated', 'root', 1, 1],
      [500, 'authenticated', 'bob', 0, 0],
    ])
  })

  it('OpenSSH 10.0: sshd-session and sshd-auth', () => {
    const { snapshot } = scan([
      init,
      {
        pid: 100,
        ppid: 1,
        comm: 'sshd',
        cmdline: 'sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups',
      },
      { pid: 200, ppid: 100, comm: 'sshd-session', cmdline: 'sshd-session: [accepted]' },
      { pid: 201, ppid: 200, comm: 'sshd-auth', cmdline: 'sshd-auth: [session-auth]' },
      { pid: 300, ppid: 100, comm: 'sshd-session', cmdline: 'sshd-session: alice [priv]' },
      { pid: 301, ppid: 300, comm: 'sshd-session', cmdline: 'sshd-session: alice@notty' },
      { pid: 302, ppid: 301, comm: 'sleep', cmdline: 'sleep' },
      { pid: 303, ppid: 301, comm: 'sleep', cmdline: 'sleep' },
      // root from 9.8 on looks like anyone else.
      { pid: 400, ppid: 100, comm: 'sshd-session', cmdline: 'sshd-session: root [priv]' },
      { pid: 401, ppid: 400, comm: 'sshd-session', cmdline: 'sshd-session: root@pts/0' },
      bash(402, 401),
    ])
    assert.equal(snapshot.listeners[0]?.startups, 1)
    assert.deepEqual(summary(snapshot), [
      [200, 'preauth', null, 0, 0],
      [300, 'authenticated', 'alice', 2, 0],
      [400, 'authenticated', 'root', 1, 1],
    ])
  })

  it('OpenSSH 10.5: the [postauth] monitor, also while its child still has the monitor title', () => {
    const { snapshot } = scan([
      {
        pid: 100,
        ppid: 1,
        comm: 'sshd',
        cmdline: 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups',
      },
      { pid: 300, ppid: 100, comm: 'sshd-session', cmdline: 'sshd-session: alice [postauth]' },
      { pid: 301, ppid: 300, comm: 'sshd-session', cmdline: 'sshd-session: alice [postauth]' },
      { pid: 400, ppid: 100, comm: 'sshd-session', cmdline: 'sshd-session: bob [postauth]' },
      { pid: 401, ppid: 400, comm: 'sshd-session', cmdline: 'sshd-session: bob@pts/4' },
      bash(402, 401),
    ])
    assert.deepEqual(summary(snapshot), [
      [300, 'authenticated', 'alice', 0, 0],
      [400, 'authenticated', 'bob', 1, 1],
    ])
  })

  it('keeps connections whose listener was restarted (re-parented to init)', () => {
    const { snapshot } = scan([
      init,
      {
        pid: 700,
        ppid: 1,
        comm: 'sshd',
        cmdline: 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups',
      },
      { pid: 300, ppid: 1, comm: 'sshd', cmdline: 'sshd: carol [priv]' },
      { pid: 301, ppid: 300, comm: 'sshd', cmdline: 'sshd: carol@pts/2' },
      bash(302, 301),
    ])
    assert.deepEqual(summary(snapshot), [[300, 'authenticated', 'carol', 1, 1]])
  })

  it('counts a listener child caught before its first title as pre-auth', () => {
    const { snapshot } = scan([
      {
        pid: 100,
        ppid: 1,
        comm: 'sshd',
        cmdline: 'sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups',
      },
      { pid: 200, ppid: 100, comm: 'sshd', cmdline: '/usr/sbin/sshd\u0000-D\u0000-R' },
    ])
    assert.deepEqual(summary(snapshot), [[200, 'preauth', null, 0, 0]])
  })

  it('a PAM child is part of its pre-auth connection', () => {
    const { snapshot } = scan([
      {
        pid: 100,
        ppid: 1,
        comm: 'sshd',
        cmdline: 'sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups',
      },
      { pid: 200, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]' },
      { pid: 201, ppid: 200, comm: 'sshd', cmdline: 'sshd: alice [net]' },
      { pid: 202, ppid: 200, comm: 'sshd', cmdline: 'sshd: alice [pam]' },
    ])
    assert.deepEqual(summary(snapshot), [[200, 'preauth', null, 0, 0]])
  })

  it('a listener whose title is still its argv is told by its children and options; its connections stay apart', () => {
    // setproctitle keeps argv when the title would not fit: a listener with a long command line.
    const argv = [
      '/usr/sbin/sshd',
      '-D',
      '-f',
      '/etc/ssh/sshd_config_sftp',
      '-o',
      `Banner=${'x'.repeat(990)}`,
    ]
    const { snapshot } = scan([
      init,
      { pid: 100, ppid: 1, comm: 'sshd', cmdline: argv.join('\u0000') },
      { pid: 200, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]' },
      { pid: 201, ppid: 200, comm: 'sshd', cmdline: 'sshd: alice@notty' },
      bash(202, 201),
      { pid: 300, ppid: 100, comm: 'sshd', cmdline: 'sshd: bob [priv]' },
      { pid: 301, ppid: 300, comm: 'sshd', cmdline: 'sshd: bob@pts/0' },
      bash(302, 301),
      bash(303, 301),
      // A listener's child between fork and exec still has the listener's title.
      { pid: 400, ppid: 100, comm: 'sshd', cmdline: argv.join('\u0000') },
    ])
    assert.deepEqual(snapshot.listeners, [
      {
        pid: 100,
        starttime: 1100,
        startups: null,
        maxStartupsBegin: null,
        maxStartupsFull: null,
        argv,
      },
    ])
    assert.deepEqual(summary(snapshot), [
      [200, 'authenticated', 'alice', 1, 0],
      [300, 'authenticated', 'bob', 2, 1],
      [400, 'preauth', null, 0, 0],
    ])
    assert.ok(snapshot.connections.every((c) => c.listener === 100))
  })

  it("a titled listener's forked child, before its exec, is a connection, not a second listener", () => {
    const l = 'sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups'
    const { snapshot } = scan([
      init,
      { pid: 100, ppid: 1, comm: 'sshd', cmdline: l },
      { pid: 200, ppid: 100, comm: 'sshd', cmdline: l },
    ])
    assert.deepEqual(
      snapshot.listeners.map((x) => x.pid),
      [100],
    )
    assert.deepEqual(summary(snapshot), [[200, 'preauth', null, 0, 0]])
  })

  it("a container's sshd (another PID namespace, NSpid) is not the host's; the host's is kept", () => {
    const l = 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'
    const { snapshot, holders } = scan([
      { ...init, nspid: [1] },
      { pid: 100, ppid: 1, comm: 'sshd', cmdline: l, nspid: [100] },
      { pid: 110, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]', nspid: [110] },
      { pid: 111, ppid: 110, comm: 'sshd', cmdline: 'sshd: alice@pts/0', nspid: [111] },
      bash(112, 111),
      // containerd-shim -> the container's init (systemd, pid 1 inside) -> its sshd.
      { pid: 800, ppid: 1, comm: 'containerd-shim', cmdline: 'containerd-shim', nspid: [800] },
      { pid: 801, ppid: 800, comm: 'systemd', cmdline: '/sbin/init', nspid: [801, 1] },
      { pid: 900, ppid: 801, comm: 'sshd', cmdline: l, nspid: [900, 30] },
      { pid: 910, ppid: 900, comm: 'sshd', cmdline: 'sshd: bob [priv]', nspid: [910, 31] },
      { pid: 911, ppid: 910, comm: 'sshd', cmdline: 'sshd: bob@pts/0', nspid: [911, 32] },
      bash(912, 911),
      // A container's per-connection sshd, re-parented to the container's init.
      { pid: 920, ppid: 801, comm: 'sshd', cmdline: 'sshd: carol [priv]', nspid: [920, 40] },
    ])
    assert.deepEqual(
      snapshot.listeners.map((x) => x.pid),
      [100],
    )
    assert.deepEqual(summary(snapshot), [[110, 'authenticated', 'alice', 1, 1]])
    assert.deepEqual(
      holders.map((h) => h.pid),
      [1],
    )
  })

  it('no listener: nothing to report, and no error', () => {
    const { snapshot, holders } = scan([init, bash(2, 1)])
    assert.deepEqual(snapshot, { listeners: [], connections: [] })
    assert.deepEqual(holders, [{ pid: 1, starttime: 1001 }])
  })

  it('skips and counts malformed stat files, and keeps the rest', () => {
    const tree = tempProcTree([
      {
        pid: 100,
        ppid: 1,
        comm: 'sshd',
        cmdline: 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups',
      },
      { pid: 300, ppid: 100, comm: 'sshd', cmdline: 'sshd: dave@notty' },
      bash(301, 300),
    ])
    after(() => tree.remove())
    mkdirSync(`${tree.root}/666`)
    writeFileSync(`${tree.root}/666/stat`, 'garbage without parentheses')
    mkdirSync(`${tree.root}/667`)
    writeFileSync(`${tree.root}/667/stat`, Buffer.from([0, 255, 1, 2]))
    // A pid directory whose files are gone (the process exited mid-scan).
    mkdirSync(`${tree.root}/668`)
    const result = scanFull(new ProcFS(tree.root))
    assert.equal(result.malformed, 2)
    assert.match(result.firstProblem ?? '', /\/66[67]\/stat: malformed stat/)
    assert.deepEqual(summary(result.snapshot), [[300, 'authenticated', 'dave', 1, 0]])
  })
})
