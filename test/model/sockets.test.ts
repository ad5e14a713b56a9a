import assert from 'node:assert/strict'
import { it } from 'node:test'
import { connectionsBySource, type SshdSockets } from '../../src/model/sockets.ts'
import type { TcpSocket } from '../../src/sources/net-tcp.ts'

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
