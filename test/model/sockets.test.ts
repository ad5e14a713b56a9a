import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  ConnectionSocketCache,
  connectionSockets,
  connectionsBySource,
  deadPeers,
  isDeadPeer,
  type SshdSockets,
} from '../../src/model/sockets.ts'
import type { SshdSnapshot } from '../../src/model/snapshot.ts'
import { type TcpSocket, TcpTimer } from '../../src/sources/net-tcp.ts'
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
      state: 'authenticated' as const,
      user: 'alice',
      sessions: 1,
      ptySessions: 0,
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
})
