/**
 * net/tcp and fd links on the real /proc: loopback pairs of this process, a process that may not
 * be looked at (as nobody: needs root) and a retransmitting socket in a network namespace of its
 * own (root, unshare, tc). CI (.ci/run sets SSHD_EXPORTER_REQUIRE_REAL=1) installs root, unshare,
 * tc and IPv6 loopback: a missing one fails the test there instead of skipping it.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { FDS_NOT_PERMITTED, socketInodes } from '../../src/sources/net-tcp/fds.ts'
import { listeningPorts, NetTcpState, readNetTcp } from '../../src/sources/net-tcp/table.ts'
import { ProcFS } from '../../src/sources/procfs.ts'
import { waitFor } from '../helpers/wait.ts'
import { find, FIXTURES } from '../sources/net-tcp/fixtures.ts'

const REQUIRED = process.env.SSHD_EXPORTER_REQUIRE_REAL === '1'
function skipUnlessRequired(why: string | undefined | null): string | false {
  return why && !REQUIRED ? why : false
}

const isRoot = process.getuid?.() === 0

describe('readers on the real /proc', () => {
  const procfs = new ProcFS('/proc')
  const state = new NetTcpState()
  const closers: (() => void)[] = []
  after(() => closers.forEach((close) => close()))

  let ipv6 = false
  before(async () => {
    const probe = net.createServer()
    probe.on('error', () => {})
    probe.listen(0, '::1')
    ipv6 = await Promise.race([
      once(probe, 'listening').then(() => true),
      once(probe, 'error').then(() => false),
    ])
    probe.close()
  })

  async function pair(listenHost: string, connectHost: string) {
    const server = net.createServer()
    closers.push(() => server.close())
    server.listen(0, listenHost)
    await once(server, 'listening')
    const serverPort = (server.address() as net.AddressInfo).port
    const accepted = once(server, 'connection') as Promise<[net.Socket]>
    const client = net.connect(serverPort, connectHost)
    closers.push(() => client.destroy())
    await once(client, 'connect')
    const [serverSide] = await accepted
    closers.push(() => serverSide.destroy())
    return { serverPort, clientPort: client.localPort! }
  }

  function check(
    ports: { serverPort: number; clientPort: number },
    address: string,
    listener: string,
  ) {
    const held = socketInodes(procfs, process.pid)
    assert.ok(held?.permitted)
    const result = readNetTcp(procfs, process.pid, state)
    assert.ok(result)
    assert.equal(result.malformed, 0)
    const serverSide = find(result.sockets, ports.serverPort, ports.clientPort)
    const clientSide = find(result.sockets, ports.clientPort, ports.serverPort)
    for (const socket of [serverSide, clientSide]) {
      assert.equal(socket.state, 'ESTABLISHED')
      assert.equal(socket.localAddress, address)
      assert.equal(socket.remoteAddress, address)
      assert.equal(socket.uid, process.getuid?.() ?? socket.uid)
      assert.ok(held.inodes.has(socket.inode), `inode ${socket.inode} is held`)
    }
    const listening = result.sockets.filter(
      (s) => s.localPort === ports.serverPort && s.state === 'LISTEN',
    )
    assert.deepEqual(
      listening.map((s) => s.localAddress),
      [listener],
    )
    assert.ok(listeningPorts(result.sockets, held.inodes).includes(ports.serverPort))
    const only = readNetTcp(procfs, process.pid, state, { inodes: held.inodes })
    assert.ok(only)
    assert.ok(only.sockets.every((s) => held.inodes.has(s.inode)))
    assert.ok(only.sockets.some((s) => s.inode === serverSide.inode))
  }

  it('finds an IPv4 pair ESTABLISHED with its ports and inodes', async () => {
    check(await pair('127.0.0.1', '127.0.0.1'), '127.0.0.1', '127.0.0.1')
  })

  it('finds an IPv6 pair', async (t) => {
    if (!ipv6 && !REQUIRED) return t.skip('no IPv6 loopback here')
    check(await pair('::1', '::1'), '::1', '::1')
  })

  it('finds an IPv4 client of a dual-stack listener as IPv4', async (t) => {
    if (!ipv6 && !REQUIRED) return t.skip('no IPv6 here')
    check(await pair('::', '127.0.0.1'), '127.0.0.1', '::')
  })

  it(
    'says so when the process may not be looked at',
    { skip: skipUnlessRequired(isRoot ? undefined : 'needs root') },
    async () => {
      // A fixture fd directory that can be listed but not searched: readlink fails with EACCES.
      const root = mkdtempSync(join(tmpdir(), 'net-tcp-perm-'))
      closers.push(() => rmSync(root, { recursive: true, force: true }))
      chmodSync(root, 0o755)
      mkdirSync(join(root, '4242', 'fd'), { recursive: true, mode: 0o755 })
      symlinkSync('socket:[1]', join(root, '4242', 'fd', '3'))
      chmodSync(join(root, '4242', 'fd'), 0o444)
      // As nobody: our own /proc/<pid>/fd cannot even be listed (EACCES); net/tcp is readable.
      const source = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'sources')).href
      const script = `
      const { ProcFS } = await import('${source}/procfs.ts')
      const { socketInodes, findSocket } = await import('${source}/net-tcp/fds.ts')
      const { NetTcpState, readNetTcp } = await import('${source}/net-tcp/table.ts')
      const real = new ProcFS('/proc')
      const fixture = new ProcFS('${root}')
      console.log(JSON.stringify({
        listing: socketInodes(real, ${process.pid}),
        reading: socketInodes(fixture, 4242),
        finding: [findSocket(real, ${process.pid}, () => true), findSocket(fixture, 4242, () => true)],
        tcp: readNetTcp(real, ${process.pid}, new NetTcpState()) !== null,
      }))`
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        uid: 65534,
        gid: 65534,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      const [code] = (await once(child, 'close')) as [number]
      assert.equal(code, 0)
      assert.deepEqual(JSON.parse(out), {
        listing: { permitted: false },
        reading: { permitted: false },
        finding: [FDS_NOT_PERMITTED, FDS_NOT_PERMITTED],
        tcp: true,
      })
    },
  )
})

describe('a retransmitting socket, in a network namespace of its own', () => {
  const why = !isRoot ? 'needs root' : (missing('unshare', '--version') ?? missing('tc', '-V'))

  it(
    'shows timer 1 and a growing retrnsmt while data is unacknowledged',
    { skip: skipUnlessRequired(why), timeout: 20_000 },
    async () => {
      const peer = spawn('unshare', ['--net', process.execPath, join(FIXTURES, 'lossy-peer.ts')], {
        stdio: ['pipe', 'pipe', 'inherit'],
      })
      try {
        let line = ''
        for await (const chunk of peer.stdout as AsyncIterable<Buffer>) {
          line += chunk.toString()
          if (line.includes('\n')) break
        }
        assert.ok(line, 'lossy-peer.ts exited before it was ready (its stderr is above)')
        const { pairs } = JSON.parse(line) as {
          pairs: { host: string; serverPort: number; clientPort: number; bytes: number }[]
        }
        // unshare execs node: the pid is the peer's, and its /proc/<pid>/net is the namespace's.
        const procfs = new ProcFS('/proc')
        const state = new NetTcpState()
        const pid = peer.pid!
        const held = socketInodes(procfs, pid)
        assert.ok(held?.permitted)
        const serverSide = (p: (typeof pairs)[number]) => {
          const result = readNetTcp(procfs, pid, state, { inodes: held.inodes })
          assert.ok(result)
          return find(result.sockets, p.serverPort, p.clientPort)
        }
        for (const p of pairs) {
          const first = await waitFor(`${p.host} retransmitting`, () => {
            const s = serverSide(p)
            return s.timerActive === 1 && s.retransmits >= 1 && s
          })
          const later = await waitFor(`${p.host} retransmitting again`, () => {
            const s = serverSide(p)
            return s.retransmits > first.retransmits && s
          })
          assert.equal(later.state, 'ESTABLISHED')
          assert.equal(later.timerActive, 1)
          assert.equal(later.txQueue, p.bytes)
          assert.equal(later.localAddress, p.host)
        }
        // The namespace's own sockets only: the listeners the peer holds.
        assert.deepEqual(
          listeningPorts(readNetTcp(procfs, pid, state)!.sockets, held.inodes),
          pairs.map((p) => p.serverPort).sort((a, b) => a - b),
        )
      } finally {
        peer.stdin.end()
        peer.kill()
      }
    },
  )
})

/** Why a command cannot run here, or undefined when it can. */
function missing(command: string, ...args: string[]): string | undefined {
  try {
    execFileSync(command, args, { stdio: 'ignore' })
    return undefined
  } catch (err) {
    return `${command} is not available: ${(err as Error).message}`
  }
}
