// The real-sshd test bed itself: the three real OpenSSH builds (Debian 12's 9.2, bookworm-backports'
// 10.0, Debian 13's 10.0p2 in its own root), real clients, and what the namespace's procfs shows,
// read here with plain readFile (independent of the helper's own reader).

import assert from 'node:assert/strict'
import { access, readdir, readFile, readlink } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { openSshVersion, SSHD_BUILDS, sshdBinaries } from '../helpers/sshd/builds.ts'
import {
  defaultUtmp,
  type SshdInstance,
  type SshdServer,
  startSshd,
} from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'
import { waitFor } from '../helpers/wait.ts'

interface Proc {
  pid: number
  ppid: number
  comm: string
  state: string
  title: string
}

async function readProcs(procfs: string): Promise<Proc[]> {
  const procs: Proc[] = []
  for (const name of await readdir(procfs)) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = await readFile(path.join(procfs, name, 'stat'), 'utf8')
      const cmdline = await readFile(path.join(procfs, name, 'cmdline'), 'utf8')
      const close = stat.lastIndexOf(')')
      const [state, ppid] = stat.slice(close + 2).split(' ')
      procs.push({
        pid: Number(name),
        ppid: Number(ppid),
        comm: stat.slice(stat.indexOf('(') + 1, close),
        state: state ?? '?',
        title: cmdline.split('\0')[0] ?? '',
      })
    } catch {
      // exited meanwhile
    }
  }
  return procs
}

function show(procs: readonly Proc[]): string {
  return procs.map((p) => `${p.pid} ppid=${p.ppid} ${p.comm} ${p.state} ${p.title}`).join('\n')
}

function one(procs: readonly Proc[], pred: (p: Proc) => boolean, what: string): Proc {
  const found = procs.filter(pred)
  assert.equal(found.length, 1, `exactly one ${what}; processes:\n${show(procs)}`)
  return found[0]!
}

function childrenOf(procs: readonly Proc[], pid: number): Proc[] {
  return procs.filter((p) => p.ppid === pid)
}

async function hostProcessesMentioning(text: string): Promise<string[]> {
  const found: string[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8')
      if (cmdline.includes(text)) found.push(`${name}: ${cmdline.replaceAll('\0', ' ')}`)
    } catch {
      // exited meanwhile
    }
  }
  return found
}

/** Pids holding a LISTEN socket on `port` (net/tcp and fd links, read here). */
async function listenHolders(procfs: string, port: number): Promise<number[]> {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const inodes = new Set(
    (await readFile(path.join(procfs, '1', 'net', 'tcp'), 'utf8'))
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(hexPort) && f[3] === '0A')
      .map((f) => `socket:[${f[9]}]`),
  )
  const holders: number[] = []
  for (const proc of await readProcs(procfs)) {
    const fdDir = path.join(procfs, String(proc.pid), 'fd')
    const links = await readdir(fdDir)
      .then((fds) => Promise.all(fds.map((fd) => readlink(path.join(fdDir, fd)).catch(() => ''))))
      .catch(() => [])
    if (links.some((link) => inodes.has(link))) holders.push(proc.pid)
  }
  return holders.sort((a, b) => a - b)
}

/** Resolves with the error code of a TCP connection attempt, or 'connected'. */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
}

async function waitForIdle(server: SshdServer): Promise<Proc[]> {
  return server.waitFor('only init and the idle listener left in the namespace', async () => {
    const procs = await readProcs(server.procfs)
    const idle =
      procs.length === 2 &&
      procs.some((p) => p.pid === server.listenerPid && / 0 of 10-100 startups$/.test(p.title))
    return idle ? procs : undefined
  })
}

for (const version of SSHD_BUILDS) {
  test(`sshd ${version}: isolated server, real clients, process tree and cleanup`, async (t) => {
    const server = await startSshd({ version, t })
    const prefix = version === '9.2' ? 'sshd' : 'sshd-session'
    const authComm = version === '9.2' ? 'sshd' : 'sshd-auth'

    // The namespace holds its init (PID 1) and the listener, whose parent is that init.
    let procs = await readProcs(server.procfs)
    assert.equal(procs.length, 2, show(procs))
    const init = one(procs, (p) => p.pid === 1, 'init')
    assert.equal(init.comm, 'bash')
    const listener = one(procs, (p) => p.pid === server.listenerPid, 'listener')
    assert.equal(listener.ppid, 1)
    assert.equal(listener.comm, 'sshd')
    assert.match(
      listener.title,
      /^sshd: \S+sshd -D -f \S+ -E \S+ \[listener\] 0 of 10-100 startups$/,
    )
    assert.match(await readFile(server.logFile, 'utf8'), /Server listening on 127\.0\.0\.1 port/)
    assert.match(
      server.versionString,
      new RegExp(`^OpenSSH_${openSshVersion(version).replace('.', '\\.')}`),
    )
    // The build's own binaries run (Debian 13's: its root's, chrooted).
    const bins = sshdBinaries(version)
    assert.equal(await readlink(path.join(server.procfs, String(listener.pid), 'exe')), bins.sshd)

    const plain = [await server.connect(), await server.connect({ command: 'exec cat' })]
    const master = await server.controlMaster()
    const sessions = [
      await master.session({ pty: true }),
      await master.session({ pty: false }),
      await master.session({ pty: false }),
    ]
    const hangers = [await server.preauthHanger(), await server.preauthHanger()]
    const pending = await server.authPending()
    const sftp = await server.sftp()

    procs = await server.waitFor('3 startups in the listener title', async () => {
      const ps = await readProcs(server.procfs)
      return ps.some((p) => p.pid === server.listenerPid && / 3 of 10-100 startups$/.test(p.title))
        ? ps
        : undefined
    })
    const tree = show(procs)

    // Plain connections: [priv] monitor -> user@notty -> the command.
    for (const conn of plain) {
      const monitor = one(procs, (p) => p.pid === conn.connectionPid, 'monitor')
      assert.equal(
        await readlink(path.join(server.procfs, String(monitor.pid), 'exe')),
        bins.session ?? bins.sshd,
      )
      assert.equal(monitor.ppid, server.listenerPid, tree)
      assert.equal(monitor.comm, prefix, tree)
      assert.equal(monitor.title, `${prefix}: ${TEST_USER} [priv]`, tree)
      const [child, ...more] = childrenOf(procs, monitor.pid)
      assert.equal(more.length, 0, tree)
      assert.equal(child?.title, `${prefix}: ${TEST_USER}@notty`, tree)
      assert.deepEqual(
        childrenOf(procs, child.pid).map((p) => p.comm),
        ['cat'],
        tree,
      )
    }

    // The control master: one post-auth child naming the one pty, three session children.
    const cmMonitor = one(procs, (p) => p.pid === master.connectionPid, 'master monitor')
    assert.equal(cmMonitor.title, `${prefix}: ${TEST_USER} [priv]`, tree)
    const [cmChild, ...cmMore] = childrenOf(procs, cmMonitor.pid)
    assert.equal(cmMore.length, 0, tree)
    assert.match(cmChild?.title ?? '', new RegExp(`^${prefix}: ${TEST_USER}@pts/\\d+$`), tree)
    assert.equal(childrenOf(procs, cmChild!.pid).length, 3, tree)

    // Pre-auth hangers (no banner): the accepted child only, no unprivileged child yet.
    for (const hanger of hangers) {
      const accepted = one(procs, (p) => p.pid === hanger.connectionPid, 'hanger')
      assert.equal(accepted.ppid, server.listenerPid, tree)
      assert.equal(accepted.title, `${prefix}: [accepted]`, tree)
      assert.deepEqual(childrenOf(procs, accepted.pid), [], tree)
    }

    // At a password prompt: the monitor and the unprivileged child know the user.
    const pendingMonitor = one(procs, (p) => p.pid === pending.connectionPid, 'pending monitor')
    assert.equal(pendingMonitor.title, `${prefix}: ${TEST_USER} [priv]`, tree)
    const net = childrenOf(procs, pendingMonitor.pid)
    assert.deepEqual(
      net.map((p) => [p.comm, p.title]),
      [[authComm, `${authComm}: ${TEST_USER} [net]`]],
      tree,
    )

    // internal-sftp: a session child of the post-auth child, no exec.
    const sftpMonitor = one(procs, (p) => p.pid === sftp.connectionPid, 'sftp monitor')
    const [sftpChild] = childrenOf(procs, sftpMonitor.pid)
    assert.deepEqual(
      childrenOf(procs, sftpChild!.pid).map((p) => p.title),
      [`${prefix}: ${TEST_USER}@internal-sftp`],
      tree,
    )

    const sshdProcs = procs.filter((p) => p.comm.startsWith('sshd'))
    // listener + 2x(monitor, child) + master(monitor, child) + 2 hangers + pending(monitor, net)
    // + sftp(monitor, child, internal-sftp)
    assert.equal(sshdProcs.length, 1 + 4 + 2 + 2 + 2 + 3, tree)

    // Orphans are re-parented to the namespace's init, and reaped by it.
    const orphaner = await server.connect({ command: '(exec sleep 0.7 &); exec cat' })
    const orphan = await server.waitFor('the orphaned sleep', async () =>
      (await readProcs(server.procfs)).find((p) => p.comm === 'sleep'),
    )
    assert.equal(orphan.ppid, 1, 'orphan re-parented to the namespace init')
    await server.waitFor('the orphan reaped', async () =>
      (await readProcs(server.procfs)).every((p) => p.pid !== orphan.pid),
    )

    // Close everything: only init and the idle listener remain, and no zombie.
    await Promise.all([...sessions, ...hangers, pending, sftp, orphaner].map((c) => c.close()))
    await master.close()
    await Promise.all(plain.map((c) => c.close()))
    procs = await waitForIdle(server)
    assert.deepEqual(
      procs.filter((p) => p.state === 'Z'),
      [],
    )

    // stop(): nothing left on the host, twice.
    const initHostPid = server.initHostPid
    await server.stop()
    await server.stop()
    await assert.rejects(access(`/proc/${initHostPid}/root/proc`), 'the namespace is gone')
    await assert.rejects(access(server.dir), 'the temporary directory is removed')
    assert.deepEqual(await hostProcessesMentioning(server.dir), [])
  })
}

for (const version of SSHD_BUILDS) {
  test(`sshd ${version}: config overrides apply (MaxSessions 1, LogLevel VERBOSE)`, async (t) => {
    const server = await startSshd({ version, t, config: { MaxSessions: 1, LogLevel: 'VERBOSE' } })
    assert.match(server.configText, /^MaxSessions 1$/m)
    assert.match(server.configText, /^LogLevel VERBOSE$/m)
    const master = await server.controlMaster()
    await master.session()
    await assert.rejects(master.session(), /exited \(code 255\) first/)
    await server.waitFor('the refusal in the log', async () =>
      /no more sessions/.test(await server.readLog()),
    )
    assert.match(await server.readLog(), /Starting session: command for sshdexp from 127\.0\.0\.1/)
  })
}

for (const version of SSHD_BUILDS) {
  for (const start of ['socket', 'inetd'] as const) {
    test(`sshd ${version}, start ${start}: socket holder, clients, stopping the holder`, async (t) => {
      const server = await startSshd({ version, start, t })
      const prefix = version === '9.2' ? 'sshd' : 'sshd-session'
      await assert.rejects(server.restartListener(), /needs start 'daemon'/)

      // Before the first connection: no sshd at all, systemd-socket-activate holds the port.
      let procs = await readProcs(server.procfs)
      assert.deepEqual(
        procs.filter((p) => p.comm.startsWith('sshd')),
        [],
        show(procs),
      )
      const holder = one(procs, (p) => p.pid === server.socketHolderPid, 'socket holder')
      assert.equal(holder.ppid, 1, show(procs))
      assert.equal(holder.comm, 'systemd-socket-', show(procs))
      assert.deepEqual(await listenHolders(server.procfs, server.port), [holder.pid])
      assert.equal(server.listenerPid, 0)

      const master = await server.controlMaster()
      const sessions = [await master.session({ pty: true }), await master.session()]
      const plain = await server.connect()
      const hanger = await server.preauthHanger()
      procs = await readProcs(server.procfs)
      const tree = show(procs)

      // socket: the holder keeps the socket and starts a listener, passed the socket, as its
      // child; inetd: never a listener, the holder's children are the connections.
      let parent = server.socketHolderPid
      if (start === 'socket') {
        const listener = one(procs, (p) => p.pid === server.listenerPid, 'listener')
        assert.equal(listener.ppid, server.socketHolderPid, tree)
        assert.equal(listener.comm, 'sshd', tree)
        assert.match(
          listener.title,
          /^sshd: \S+sshd -D -f \S+ -E \S+ \[listener\] 1 of 10-100 startups$/,
          tree,
        )
        assert.deepEqual(
          await listenHolders(server.procfs, server.port),
          [server.socketHolderPid, listener.pid].sort((a, b) => a - b),
        )
        parent = listener.pid
      } else {
        assert.equal(server.listenerPid, 0)
        assert.deepEqual(
          procs.filter((p) => p.title.includes('[listener]')),
          [],
          tree,
        )
        assert.deepEqual(await listenHolders(server.procfs, server.port), [server.socketHolderPid])
      }

      // (10.0's `sshd -i` leaves a zombie sshd child under each connection: not counted here.)
      const liveChildren = (pid: number): Proc[] =>
        childrenOf(procs, pid).filter((p) => p.state !== 'Z')
      for (const conn of [master, plain]) {
        const monitor = one(procs, (p) => p.pid === conn.connectionPid, 'monitor')
        assert.equal(monitor.ppid, parent, tree)
        assert.equal(monitor.title, `${prefix}: ${TEST_USER} [priv]`, tree)
      }
      const [cmChild, ...cmMore] = liveChildren(master.connectionPid)
      assert.equal(cmMore.length, 0, tree)
      assert.match(cmChild?.title ?? '', new RegExp(`^${prefix}: ${TEST_USER}@pts/\\d+$`), tree)
      assert.equal(liveChildren(cmChild!.pid).length, 2, tree)
      const accepted = one(procs, (p) => p.pid === hanger.connectionPid, 'hanger')
      assert.equal(accepted.ppid, parent, tree)
      assert.equal(accepted.title, `${prefix}: [accepted]`, tree)

      // `systemctl stop ssh.socket ssh.service`: the port closes, the connections live on.
      await server.stopSocketHolder()
      assert.equal(server.socketHolderPid, 0)
      assert.equal(server.listenerPid, 0)
      assert.deepEqual(await listenHolders(server.procfs, server.port), [])
      assert.equal(await tcpConnect(server.port), 'ECONNREFUSED')
      procs = await readProcs(server.procfs)
      for (const conn of [master, plain, hanger]) {
        assert.equal(one(procs, (p) => p.pid === conn.connectionPid, 'connection').ppid, 1)
      }
      sessions.push(await master.session())
      assert.equal(hanger.socket.destroyed, false)
      await assert.rejects(server.connect({ timeoutMs: 3000 }), /exited \(code 255\) first/)

      for (const c of [hanger, ...sessions, master, plain]) await c.close()
      await server.waitFor(
        'only the init left',
        async () => (await readProcs(server.procfs)).length === 1,
      )
    })
  }
}

for (const version of SSHD_BUILDS) {
  test(`sshd ${version}: args are passed to sshd (-o MaxSessions=1)`, async (t) => {
    const args = ['-o', 'MaxSessions=1', '-o', 'MaxStartups=3:50:9']
    const server = await startSshd({ version, t, start: 'socket', args })
    assert.deepEqual(server.args, args)
    assert.doesNotMatch(server.configText, /MaxSessions/)
    const master = await server.controlMaster()
    await master.session()
    await assert.rejects(master.session(), /exited \(code 255\) first/)
    await server.waitFor('the refusal in the log', async () =>
      /no more sessions/.test(await server.readLog()),
    )
    const listener = one(await readProcs(server.procfs), (p) => p.pid === server.listenerPid, 'l')
    assert.match(
      listener.title,
      / -o MaxSessions=1 -o MaxStartups=3:50:9 \[listener\] \d+ of 3-9 startups$/,
    )
  })
}

for (const version of SSHD_BUILDS) {
  test(`sshd ${version}: instances side by side, each its own port and config`, async (t) => {
    const server = await startSshd({ version, t })
    const second = await server.startInstance({
      config: { MaxSessions: 1 },
      args: ['-o', 'LoginGraceTime=45'],
    })
    const third = await server.startInstance({ start: 'inetd' })
    const instances: SshdInstance[] = [server, second, third]
    assert.equal(new Set(instances.map((i) => i.port)).size, 3)
    assert.equal(new Set(instances.map((i) => i.configFile)).size, 3)
    assert.equal(new Set(instances.map((i) => i.logFile)).size, 3)
    assert.match(second.configText, /^MaxSessions 1$/m)
    assert.doesNotMatch(server.configText, /MaxSessions/)

    const conns = await Promise.all(instances.map((i) => i.connect()))
    let procs = await readProcs(server.procfs)
    const tree = show(procs)
    for (const instance of [server, second]) {
      const listener = one(procs, (p) => p.pid === instance.listenerPid, 'listener')
      assert.equal(listener.ppid, 1, tree)
      assert.ok(listener.title.includes(` -f ${instance.configFile} `), tree)
      assert.deepEqual(await listenHolders(server.procfs, instance.port), [listener.pid])
    }
    assert.notEqual(server.listenerPid, second.listenerPid)
    assert.ok(
      one(procs, (p) => p.pid === second.listenerPid, 'l').title.includes('LoginGraceTime=45'),
    )
    assert.deepEqual(await listenHolders(server.procfs, third.port), [third.socketHolderPid])
    const parents = [server.listenerPid, second.listenerPid, third.socketHolderPid]
    conns.forEach((conn, i) => {
      assert.equal(one(procs, (p) => p.pid === conn.connectionPid, 'conn').ppid, parents[i], tree)
    })

    // MaxSessions 1 applies to the second instance only.
    const masters = [await server.controlMaster(), await second.controlMaster()]
    await masters[0]!.session()
    await masters[0]!.session()
    await masters[1]!.session()
    await assert.rejects(masters[1]!.session(), /exited \(code 255\) first/)
    await server.waitFor('the refusal in the second log', async () =>
      /no more sessions/.test(await second.readLog()),
    )
    assert.doesNotMatch(await server.readLog(), /no more sessions/)

    // An instance's listener restarts on its own; its connection lives on under the init.
    const previous = second.listenerPid
    assert.notEqual(await second.restartListener(), previous)
    procs = await readProcs(server.procfs)
    assert.equal(one(procs, (p) => p.pid === conns[1]!.connectionPid, 'conn').ppid, 1)
    await second.connect()
  })
}

test('waitFor: returns the first truthy value, times out with a clear message', async () => {
  let n = 0
  assert.equal(
    await waitFor('n to reach 3', () => (++n >= 3 ? n : undefined), { intervalMs: 1 }),
    3,
  )
  await assert.rejects(
    waitFor('never', () => false, { timeoutMs: 50, describe: () => 'context here' }),
    /timed out after 50 ms waiting for never\ncontext here/,
  )
})

/** utmp's USER_PROCESS records (glibc x86_64: 384 bytes each), read here by offset. */
function userProcesses(buf: Buffer): Array<{ pid: number; line: string; user: string }> {
  const text = (at: number, size: number): string =>
    buf
      .subarray(at, at + size)
      .toString('latin1')
      .replace(/\0.*$/s, '')
  const records = []
  for (let at = 0; at + 384 <= buf.length; at += 384) {
    if (buf.readInt16LE(at) !== 7) continue
    records.push({ pid: buf.readInt32LE(at + 4), line: text(at + 8, 32), user: text(at + 44, 32) })
  }
  return records
}

for (const version of SSHD_BUILDS) {
  test(`sshd ${version}: /run/utmp there or not, as the test chooses; sshd logs ptys into it`, async (t) => {
    for (const utmp of [true, false]) {
      const server = await startSshd({ version, t, utmp })
      assert.equal(server.utmp, utmp)
      const pty = await server.connect({ pty: true })
      await server.connect()
      if (utmp) {
        // One login, the pty's, under its [priv] monitor; none for the connection without a pty.
        const records = await server.waitFor('the pty login in utmp', async () => {
          const found = userProcesses(await readFile(server.utmpFile))
          return found.length > 0 ? found : undefined
        })
        assert.equal(records.length, 1, JSON.stringify(records))
        assert.equal(records[0]!.pid, pty.connectionPid)
        assert.equal(records[0]!.user, TEST_USER)
        assert.match(records[0]!.line, /^pts\/\d+$/)
      } else {
        // sshd (glibc's login(3)) never creates it.
        await assert.rejects(access(server.utmpFile), { code: 'ENOENT' })
      }
      await server.stop()
    }
  })
}

test("defaultUtmp: SSHD_TEST_UTMP when set, else the build's distribution's", (t) => {
  const saved = process.env.SSHD_TEST_UTMP
  t.after(() => {
    if (saved === undefined) delete process.env.SSHD_TEST_UTMP
    else process.env.SSHD_TEST_UTMP = saved
  })
  delete process.env.SSHD_TEST_UTMP
  assert.deepEqual(SSHD_BUILDS.map(defaultUtmp), [true, true, false])
  process.env.SSHD_TEST_UTMP = 'absent'
  assert.deepEqual(SSHD_BUILDS.map(defaultUtmp), [false, false, false])
  process.env.SSHD_TEST_UTMP = 'present'
  assert.deepEqual(SSHD_BUILDS.map(defaultUtmp), [true, true, true])
  process.env.SSHD_TEST_UTMP = 'yes'
  assert.throws(() => defaultUtmp('9.2'), /SSHD_TEST_UTMP is yes/)
})
