import assert from 'node:assert/strict'
import { it } from 'node:test'
import {
  connectionsBySource,
  deadPeers,
  isDeadPeer,
  type SshdSockets,
} from '../../src/model/sockets.ts'
import { type TcpSocket, TcpTimer } from '../../src/sources/net-tcp.ts'

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
