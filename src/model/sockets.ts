/**
 * sshd's TCP sockets, from the listener's own network namespace
 * (/proc/<listener>/net/tcp{,6}): its listening ports, found through the
 * socket inodes the listener holds rather than assumed to be 22, and the
 * connections on those ports.
 */
import {
  listeningPorts,
  readNetTcp,
  socketInodes,
  type TcpSocket,
  TcpTimer,
} from '../sources/net-tcp.ts'
import type { ProcFS } from '../sources/procfs.ts'
import { capToTop } from './cap.ts'
import type { SshdSnapshot } from './snapshot.ts'

/** sshd's port when neither the listener's fd links nor its configuration tell. */
export const DEFAULT_SSH_PORT = 22

export interface SshdSockets {
  ports: readonly number[]
  /**
   * Whether the listener's fd links could be read. Without them the ports are the configured
   * ones (sshd_config's Port and ListenAddress) that are listening in the namespace, else 22.
   */
  permitted: boolean
  /** Connections to sshd's ports: every state but LISTEN and TIME_WAIT. */
  connections: readonly TcpSocket[]
  malformed: number
}

/**
 * Reads the sockets of every listener's namespace; null with no listener. `configuredPorts`
 * (sshd_config's) stand in for the listener's own sockets when its fd links cannot be read.
 */
export function readSshdSockets(
  procfs: ProcFS,
  snapshot: SshdSnapshot,
  configuredPorts?: readonly number[],
  cache: ConnectionSocketCache = new ConnectionSocketCache(),
): SshdSockets | null {
  const ports = new Set<number>()
  const connections: TcpSocket[] = []
  const seen = new Set<number>()
  let permitted = true
  let malformed = 0
  let read = false
  // Only the listening sockets and those on the ports sshd had at the last scrape are parsed
  // whole; when the ports turn out to be others, the table is read again for them.
  let wanted = new Set([...cache.ports, ...(configuredPorts ?? []), DEFAULT_SSH_PORT])
  for (const listener of snapshot.listeners) {
    const keep = (port: number, state: TcpSocket['state']) => state === 'LISTEN' || wanted.has(port)
    let net = readNetTcp(procfs, listener.pid, { keep })
    if (net === null) continue
    const inodes = socketInodes(procfs, listener.pid)
    let own: number[] = []
    if (inodes !== null && inodes.permitted) own = listeningPorts(net.sockets, inodes.inodes)
    else {
      if (inodes !== null) permitted = false
      own = configuredListening(net.sockets, configuredPorts)
    }
    if (own.length === 0) own = [DEFAULT_SSH_PORT]
    if (own.some((port) => !wanted.has(port))) {
      wanted = new Set([...wanted, ...own])
      net = readNetTcp(procfs, listener.pid, { keep })
      if (net === null) continue
    }
    read = true
    malformed += net.malformed
    for (const port of own) ports.add(port)
    for (const s of net.sockets) {
      if (s.state === 'LISTEN' || s.state === 'TIME_WAIT' || !ports.has(s.localPort)) continue
      // Two listeners in one namespace list the same sockets twice.
      if (s.inode !== 0 && seen.has(s.inode)) continue
      seen.add(s.inode)
      connections.push(s)
    }
  }
  if (!read) return null
  cache.ports = ports
  return { ports: [...ports].sort((a, b) => a - b), permitted, connections, malformed }
}

/** The configured ports that something listens on in the namespace (else all of them). */
function configuredListening(
  sockets: readonly TcpSocket[],
  configured: readonly number[] | undefined,
): number[] {
  if (configured === undefined || configured.length === 0) return []
  const wanted = new Set(configured)
  const listening = new Set<number>()
  for (const s of sockets)
    if (s.state === 'LISTEN' && wanted.has(s.localPort)) listening.add(s.localPort)
  return listening.size > 0 ? [...listening] : [...configured]
}

/** Established connections per client address, the top `max` by count, the rest under `other`. */
export function connectionsBySource(sockets: SshdSockets, max: number): Map<string, number> {
  const all = new Map<string, number>()
  for (const s of sockets.connections) {
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
 * Each connection's socket, by the pid of its root process (which holds it, on 9.2 and 10.0
 * alike), matched through the process's fd links: undefined when the socket is gone from the
 * table. Connections that exited during the scrape are absent. Null without the right to read
 * fd links (not root).
 *
 * `cache` (a ConnectionSocketCache kept across scrapes) remembers each connection's socket
 * inode: a connection keeps its client socket for its whole life, so its fd links are read once,
 * not on every scrape.
 */
export function connectionSockets(
  procfs: ProcFS,
  snapshot: SshdSnapshot,
  sockets: SshdSockets,
  cache: ConnectionSocketCache = new ConnectionSocketCache(),
): Map<number, TcpSocket | undefined> | null {
  if (!sockets.permitted) return null
  const byInode = new Map<number, TcpSocket>()
  for (const s of sockets.connections) byInode.set(s.inode, s)
  const result = new Map<number, TcpSocket | undefined>()
  const seen = new Map<string, number>()
  for (const c of snapshot.connections) {
    const key = `${c.pid}:${c.starttime}`
    const known = cache.inodes.get(key)
    let socket = known === undefined ? undefined : byInode.get(known)
    if (socket === undefined) {
      const held = socketInodes(procfs, c.pid)
      if (held === null) continue // exited during the scrape
      if (!held.permitted) return null
      for (const inode of held.inodes) {
        socket = byInode.get(inode)
        if (socket !== undefined) break
      }
    }
    if (socket !== undefined) seen.set(key, socket.inode)
    result.set(c.pid, socket)
  }
  cache.inodes = seen
  return result
}

/** What the last scrape learnt of sshd's sockets, kept by the scraper for the next one. */
export class ConnectionSocketCache {
  /** Socket inodes of the connections, by `<pid>:<starttime>`. */
  inodes = new Map<string, number>()
  /** sshd's ports. */
  ports: ReadonlySet<number> = new Set()
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
  for (const socket of byConnection.values()) {
    if (socket === undefined || isDeadPeer(socket)) dead++
  }
  return dead
}
