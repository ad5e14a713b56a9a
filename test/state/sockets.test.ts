import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  connectionsBySource,
  deadPeers,
  isDeadPeer,
  type SshdSockets,
} from '../../src/model/sockets.ts'
import {
  ConnectionSocketCache,
  connectionSockets,
  readSshdSockets,
} from '../../src/state/sockets.ts'
import type { SshdSnapshot } from '../../src/model/snapshot.ts'
import { type TcpSocket, TcpTimer } from '../../src/sources/net-tcp/table.ts'
import { ProcFS } from '../../src/sources/procfs.ts'

function sock(remoteAddress: string, state: TcpSocket['state'] = 'ESTABLISHED'): TcpSocket {
  return {
    localAddress: '127.0.0.1',
    localPort: 22,
    remoteAddress,
    remotePort: 40000,
    state,
    txQueue: 0,
    rxQueue: 0,
    timerActive: 0,
    retransmits: 0,
    uid: 0,
    probes: 0,
    inode: 1,
  }
}

const sockets: SshdSockets = {
  ports: [22],
  listening: [22],
  permitted: true,
  malformed: 0,
  connections: [
    sock('192.0.2.1'),
    sock('192.0.2.2'),
    sock('192.0.2.2'),
    sock('2001:db8::1'),
    sock('192.0.2.9', 'CLOSE_WAIT'),
  ],
}

it('counts established connections per address', () => {
  assert.deepEqual(Object.fromEntries(connectionsBySource(sockets, 20)), {
    '192.0.2.1': 1,
    '192.0.2.2': 2,
    '2001:db8::1': 1,
  })
})

it('caps, ties by address, and sums the rest under other', () => {
  assert.deepEqual(Object.fromEntries(connectionsBySource(sockets, 2)), {
    '192.0.2.2': 2,
    '192.0.2.1': 1,
    other: 1,
  })
  assert.deepEqual(Object.fromEntries(connectionsBySource(sockets, 0)), { other: 4 })
})

it('a dead peer: closing, or retransmitting unanswered data', () => {
  assert.equal(isDeadPeer(sock('192.0.2.1')), false)
  assert.equal(isDeadPeer(sock('192.0.2.1', 'CLOSE_WAIT')), true)
  assert.equal(isDeadPeer(sock('192.0.2.1', 'LAST_ACK')), true)
  assert.equal(isDeadPeer(sock('192.0.2.1', 'FIN_WAIT2')), false, 'sshd closed it; not held')
  const armed = { ...sock('192.0.2.1'), timerActive: TcpTimer.RETRANSMIT }
  assert.equal(isDeadPeer(armed), false, 'data in flight alone is not a dead peer')
  assert.equal(isDeadPeer({ ...armed, retransmits: 3 }), true)
})

it('without fd links, judges the sockets alone', () => {
  const unpermitted: SshdSockets = { ...sockets, permitted: false }
  assert.equal(deadPeers(unpermitted, null), 1)
})

it('with each connection matched to its socket, a gone socket is dead too', () => {
  const live = sock('192.0.2.1')
  const retransmitting = { ...sock('192.0.2.2'), timerActive: TcpTimer.RETRANSMIT, retransmits: 1 }
  const byConnection = new Map([
    [10, live],
    [11, retransmitting],
    [12, undefined],
  ])
  assert.equal(deadPeers(sockets, byConnection), 2)
})

describe('connectionSockets', () => {
  const snapshot: SshdSnapshot = {
    listeners: [],
    connections: [10, 11].map((pid) => ({
      pid,
      starttime: 1000 + pid,
      listener: null,
      state: 'authenticated' as const,
      user: 'alice',
      sessions: 1,
      ptySessions: 0,
      ttys: [],
      postauth: [],
    })),
  }
  const table = (...inodes: number[]): SshdSockets => ({
    ...sockets,
    connections: inodes.map((inode) => ({ ...sock(`192.0.2.${inode}`), inode })),
  })

  function procWithFds(links: Record<number, string[]>): string {
    const root = mkdtempSync(join(tmpdir(), 'sshd-exporter-fds-'))
    after(() => rmSync(root, { recursive: true, force: true }))
    for (const [pid, targets] of Object.entries(links)) {
      mkdirSync(join(root, pid, 'fd'), { recursive: true })
      targets.forEach((t, fd) => symlinkSync(t, join(root, pid, 'fd', String(fd))))
    }
    return root
  }

  it('matches each connection to its socket through its fd links', () => {
    const root = procWithFds({ 10: ['/dev/null', 'socket:[501]'], 11: ['socket:[502]'] })
    const got = connectionSockets(new ProcFS(root), snapshot, table(501, 502))
    assert.deepEqual(
      [...got!].map(([pid, s]) => [pid, s?.inode]),
      [
        [10, 501],
        [11, 502],
      ],
    )
  })

  it('reads a connection’s fd links up to the first socket in the table, not past it', () => {
    // 10: 200 fds, its socket fd 3 after one not in the table (fd 2); past fd 3 not links at
    // all: readlink would fail (EINVAL) and throw. 11: sockets, none in the table.
    const root = procWithFds({ 10: [], 11: ['socket:[901]', 'socket:[902]'] })
    for (let fd = 0; fd < 200; fd++) {
      const path = join(root, '10', 'fd', String(fd))
      if (fd > 3) writeFileSync(path, '')
      else symlinkSync(['/dev/null', '/dev/null', 'socket:[900]', 'socket:[501]'][fd]!, path)
    }
    const got = connectionSockets(new ProcFS(root), snapshot, table(501, 502))
    assert.deepEqual(
      [...got!].map(([pid, s]) => [pid, s?.inode]),
      [
        [10, 501],
        [11, undefined],
      ],
    )
  })

  it('with a cache, reads a connection’s fd links once, and again when its socket is gone', () => {
    const root = procWithFds({ 10: ['socket:[501]'], 11: ['socket:[502]'] })
    const procfs = new ProcFS(root)
    const cache = new ConnectionSocketCache()
    connectionSockets(procfs, snapshot, table(501, 502), cache)
    // The fd links are not read again: with them gone, both still match.
    rmSync(join(root, '10', 'fd'), { recursive: true })
    rmSync(join(root, '11', 'fd'), { recursive: true })
    const again = connectionSockets(procfs, snapshot, table(501, 502), cache)
    assert.deepEqual(
      [...again!.values()].map((s) => s?.inode),
      [501, 502],
    )
    // 502 left the table: 11's links are read anew (and it has exited: absent).
    const later = connectionSockets(procfs, snapshot, table(501), cache)
    assert.deepEqual(
      [...later!].map(([pid, s]) => [pid, s?.inode]),
      [[10, 501]],
    )
    // Without the cache the links are needed every time.
    assert.deepEqual([...connectionSockets(procfs, snapshot, table(501, 502))!], [])
  })
  it('reads the links again for a pid with another start time, and forgets connections gone', () => {
    const root = procWithFds({ 10: ['socket:[501]'], 11: ['socket:[502]'] })
    const procfs = new ProcFS(root)
    const cache = new ConnectionSocketCache()
    const inodes = (got: Map<number, TcpSocket | undefined> | null) =>
      [...got!].map(([pid, s]) => [pid, s?.inode])
    assert.deepEqual(inodes(connectionSockets(procfs, snapshot, table(501, 502, 503), cache)), [
      [10, 501],
      [11, 502],
    ])
    // Pid 10 is another process now, holding 503; 11's links are not read again.
    rmSync(join(root, '10', 'fd', '0'))
    symlinkSync('socket:[503]', join(root, '10', 'fd', '0'))
    rmSync(join(root, '11', 'fd'), { recursive: true })
    const reused: SshdSnapshot = {
      ...snapshot,
      connections: snapshot.connections.map((c) =>
        c.pid === 10 ? { ...c, starttime: c.starttime + 1 } : c,
      ),
    }
    assert.deepEqual(inodes(connectionSockets(procfs, reused, table(501, 502, 503), cache)), [
      [10, 503],
      [11, 502],
    ])
    // 11 missing from one scrape is forgotten: back, its links are read (gone: it is absent).
    const without = { ...reused, connections: reused.connections.filter((c) => c.pid !== 11) }
    assert.deepEqual(inodes(connectionSockets(procfs, without, table(501, 502, 503), cache)), [
      [10, 503],
    ])
    assert.deepEqual(inodes(connectionSockets(procfs, reused, table(501, 502, 503), cache)), [
      [10, 503],
    ])
  })

  it('never gives a socket of an earlier table', () => {
    const root = procWithFds({ 10: ['socket:[501]'], 11: ['socket:[502]'] })
    const procfs = new ProcFS(root)
    const cache = new ConnectionSocketCache()
    const first = connectionSockets(procfs, snapshot, table(501, 502), cache)!
    // 502 left the table while 11 still holds it: its socket is gone, not the last one.
    const later = connectionSockets(procfs, snapshot, table(501), cache)!
    assert.equal(later.get(10)?.inode, 501)
    assert.notEqual(later.get(10), first.get(10), "this table's socket")
    assert.ok(later.has(11))
    assert.equal(later.get(11), undefined)
    assert.equal(connectionSockets(procfs, snapshot, table(501), cache)!.get(11), undefined)
  })
})

describe('readSshdSockets', () => {
  const HEADER =
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
  /** A net/tcp line as Linux writes it (127.0.0.1, little-endian host). */
  const line = (sl: number, localPort: number, state: string, inode: number, remotePort = 0) =>
    `${String(sl).padStart(4)}: 0100007F:${localPort.toString(16).toUpperCase().padStart(4, '0')} ` +
    `${remotePort === 0 ? '00000000' : '0100007F'}:${remotePort.toString(16).toUpperCase().padStart(4, '0')} ` +
    `${state} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`
  const snapshot: SshdSnapshot = {
    listeners: [
      {
        pid: 100,
        starttime: 1100,
        startups: 0,
        maxStartupsBegin: 10,
        maxStartupsFull: 100,
        argv: ['/usr/sbin/sshd', '-D'],
      },
    ],
    connections: [],
  }

  function listenerProc(tcp: string, fds: string[]): string {
    const root = mkdtempSync(join(tmpdir(), 'sshd-exporter-net-'))
    after(() => rmSync(root, { recursive: true, force: true }))
    mkdirSync(join(root, '100', 'net'), { recursive: true })
    mkdirSync(join(root, '100', 'fd'))
    writeFileSync(join(root, '100', 'net', 'tcp'), tcp)
    fds.forEach((t, fd) => symlinkSync(t, join(root, '100', 'fd', String(fd))))
    return root
  }

  it('parses whole only the listening sockets and those on sshd’s ports, and learns new ports', () => {
    const root = listenerProc(
      HEADER +
        line(0, 22, '0A', 1001) +
        line(1, 8080, '0A', 2001) +
        line(2, 22, '01', 5001, 40001) +
        line(3, 8080, '01', 6001, 40002) +
        // Malformed past the state: on another service's port it is not looked at.
        line(4, 8080, '01', 6002, 40003).replace(' 00000000:00000000 ', ' zz '),
      ['socket:[1001]'],
    )
    const procfs = new ProcFS(root)
    const cache = new ConnectionSocketCache()
    const first = readSshdSockets(procfs, snapshot, undefined, cache)!
    assert.deepEqual(first.ports, [22])
    assert.deepEqual(
      first.connections.map((s) => s.inode),
      [5001],
    )
    assert.equal(first.malformed, 0)
    assert.deepEqual([...cache.ports], [22])

    // sshd now listens on 2222 (a reload with another Port): read again for it.
    writeFileSync(
      join(root, '100', 'net', 'tcp'),
      HEADER +
        line(0, 2222, '0A', 1002) +
        line(1, 8080, '0A', 2001) +
        line(2, 2222, '01', 5002, 40004) +
        line(3, 2222, '01', 5003, 40005).replace(' 00000000:00000000 ', ' zz ') +
        line(4, 8080, '01', 6001, 40002),
    )
    rmSync(join(root, '100', 'fd', '0'))
    symlinkSync('socket:[1002]', join(root, '100', 'fd', '0'))
    const moved = readSshdSockets(procfs, snapshot, undefined, cache)!
    assert.deepEqual(moved.ports, [2222])
    assert.deepEqual(
      moved.connections.map((s) => s.inode),
      [5002],
    )
    // The malformed line on sshd's port is counted.
    assert.equal(moved.malformed, 1)
  })
  it('lists the sockets of two listeners in one namespace once', () => {
    const tcp =
      HEADER +
      line(0, 22, '0A', 1001) +
      line(1, 22, '01', 5001, 40001) +
      line(2, 22, '01', 5002, 40002) +
      // Completed by the kernel, not yet accepted: inode 0.
      line(3, 22, '01', 0, 40003)
    const root = listenerProc(tcp, ['socket:[1001]'])
    mkdirSync(join(root, '101', 'net'), { recursive: true })
    mkdirSync(join(root, '101', 'fd'))
    writeFileSync(join(root, '101', 'net', 'tcp'), tcp)
    symlinkSync('socket:[1001]', join(root, '101', 'fd', '0'))
    const two: SshdSnapshot = {
      ...snapshot,
      listeners: [...snapshot.listeners, { ...snapshot.listeners[0]!, pid: 101 }],
    }
    const got = readSshdSockets(new ProcFS(root), two)!
    assert.deepEqual(got.ports, [22])
    // The socket not yet accepted has no inode to tell it by: each table's is counted.
    assert.deepEqual(
      got.connections.map((s) => s.inode),
      [5001, 5002, 0, 0],
    )
    const one = readSshdSockets(new ProcFS(root), snapshot)!
    assert.deepEqual(
      one.connections.map((s) => s.inode),
      [5001, 5002, 0],
    )
  })
})
