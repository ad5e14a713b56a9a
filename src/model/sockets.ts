/**
 * sshd's TCP sockets as the collectors count them: connections per client address, and which
 * peers are dead. Pure: the sockets are read by src/state/sockets.ts.
 */
import type { TcpSocket } from '../sources/net-tcp/table.ts'
import { TcpTimer } from '../sources/net-tcp/table.ts'
import { capToTop } from './cap.ts'

/** sshd's port when neither the listener's fd links nor its configuration tell. */
export const DEFAULT_SSH_PORT = 22

export interface SshdSockets {
  ports: readonly number[]
  /** sshd's ports with a listening socket: a listener's, or a socket holder's for sshd. */
  listening: readonly number[]
  /**
   * Whether the listener's fd links could be read. Without them the ports are the configured
   * ones (sshd_config's Port and ListenAddress) that are listening in the namespace, else 22.
   */
  permitted: boolean
  /** Connections to sshd's ports: every state but LISTEN and TIME_WAIT. */
  connections: readonly TcpSocket[]
  malformed: number
}
/** Established connections per client address, the top `max` by count, the rest under `other`. */
export function connectionsBySource(sockets: SshdSockets, max: number): Map<string, number> {
  const all = new Map<string, number>()
  const { connections } = sockets
  for (let i = 0; i < connections.length; i++) {
    const s = connections[i]!
    if (s.state !== 'ESTABLISHED') continue
    all.set(s.remoteAddress, (all.get(s.remoteAddress) ?? 0) + 1)
  }
  return capToTop(all, max)
}

/** States in which the peer has closed, or the connection is being torn down, while sshd holds it. */
const CLOSING: ReadonlySet<TcpSocket['state']> = new Set([
  'CLOSE_WAIT',
  'LAST_ACK',
  'CLOSING',
  'CLOSE',
])

/**
 * A socket whose peer no longer answers: closing while sshd still holds it,
 * or retransmitting unacknowledged data (the retransmit timer alone is armed
 * for any data in flight; a retransmission has to have happened).
 */
export function isDeadPeer(s: TcpSocket): boolean {
  if (CLOSING.has(s.state)) return true
  return s.state === 'ESTABLISHED' && s.timerActive === TcpTimer.RETRANSMIT && s.retransmits > 0
}

/**
 * Connections whose peer is dead. With each connection matched to its socket
 * (`connectionSockets`), a connection whose socket is gone from the table counts
 * too; without that, the sockets on sshd's ports are judged alone.
 */
export function deadPeers(
  sockets: SshdSockets,
  byConnection: ReadonlyMap<number, TcpSocket | undefined> | null,
): number {
  if (byConnection === null) return sockets.connections.filter(isDeadPeer).length
  let dead = 0
  // forEach: a for-of not yet optimised allocates a result per entry.
  byConnection.forEach((socket) => {
    if (socket === undefined || isDeadPeer(socket)) dead++
  })
  return dead
}
