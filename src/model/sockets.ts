/**
 * sshd's TCP sockets, from the listener's own network namespace
 * (/proc/<listener>/net/tcp{,6}): its listening ports, found through the
 * socket inodes the listener holds rather than assumed to be 22, and the
 * connections on those ports.
 */
import { listeningPorts, readNetTcp, socketInodes, type TcpSocket } from '../sources/net-tcp.ts'
import type { ProcFS } from '../sources/procfs.ts'
import type { SshdSnapshot } from './snapshot.ts'

/** sshd's port when the listener's fd links cannot be read. */
export const DEFAULT_SSH_PORT = 22

export interface SshdSockets {
  ports: readonly number[]
  /** Whether the listener's fd links could be read (else ports is the default). */
  permitted: boolean
  /** Connections to sshd's ports: every state but LISTEN and TIME_WAIT. */
  connections: readonly TcpSocket[]
  malformed: number
}

/** Reads the sockets of every listener's namespace; null with no listener. */
export function readSshdSockets(procfs: ProcFS, snapshot: SshdSnapshot): SshdSockets | null {
  const ports = new Set<number>()
  const connections: TcpSocket[] = []
  const seen = new Set<number>()
  let permitted = true
  let malformed = 0
  let read = false
  for (const listener of snapshot.listeners) {
    const net = readNetTcp(procfs, listener.pid)
    if (net === null) continue
    read = true
    malformed += net.malformed
    const inodes = socketInodes(procfs, listener.pid)
    const own: number[] =
      inodes !== null && inodes.permitted ? listeningPorts(net.sockets, inodes.inodes) : []
    if (inodes !== null && !inodes.permitted) permitted = false
    for (const port of own.length > 0 ? own : [DEFAULT_SSH_PORT]) ports.add(port)
    for (const s of net.sockets) {
      if (s.state === 'LISTEN' || s.state === 'TIME_WAIT' || !ports.has(s.localPort)) continue
      // Two listeners in one namespace list the same sockets twice.
      if (s.inode !== 0 && seen.has(s.inode)) continue
      seen.add(s.inode)
      connections.push(s)
    }
  }
  if (!read) return null
  return { ports: [...ports].sort((a, b) => a - b), permitted, connections, malformed }
}

/** Established connections per client address, the top `max` by count, the rest under `other`. */
export function connectionsBySource(sockets: SshdSockets, max: number): Map<string, number> {
  const all = new Map<string, number>()
  for (const s of sockets.connections) {
    if (s.state !== 'ESTABLISHED') continue
    all.set(s.remoteAddress, (all.get(s.remoteAddress) ?? 0) + 1)
  }
  if (all.size <= max) return all
  const ranked = [...all].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const capped = new Map<string, number>()
  let other = 0
  for (let i = 0; i < ranked.length; i++) {
    const [source, n] = ranked[i]!
    if (i < max) capped.set(source, n)
    else other += n
  }
  capped.set('other', other)
  return capped
}
