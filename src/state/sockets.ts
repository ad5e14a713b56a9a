/**
 * sshd's TCP sockets, read from the listener's own network namespace
 * (/proc/<listener>/net/tcp{,6}): its listening ports, found through the socket inodes the
 * listener holds rather than assumed to be 22, the connections on those ports, and each
 * connection's own socket. ConnectionSocketCache is what is kept of them between scrapes.
 */
import { DEFAULT_SSH_PORT, type SshdSockets } from '../model/sockets.ts'
import type { SshdSnapshot } from '../model/snapshot.ts'
import { FDS_NOT_PERMITTED, findSocket, socketInodes } from '../sources/net-tcp/fds.ts'
import {
  listeningPorts,
  NetTcpState,
  readNetTcp,
  type TcpSocket,
} from '../sources/net-tcp/table.ts'
import type { ProcFS } from '../sources/procfs.ts'

/**
 * Where sshd listens with no listener process: the namespace of pid 1, whose socket holder
 * (systemd, inetd) keeps sshd's socket open and starts sshd on a connection.
 */
const HOLDER_NAMESPACE_PID = 1

/**
 * Reads the sockets of every listener's namespace; with no listener, those of pid 1's, where a
 * socket holder listens for sshd (socket activation, `sshd -i`). Null when not even that table
 * can be read. `configuredPorts` (sshd_config's) stand in for the listener's own sockets when
 * its fd links cannot be read, and are the ports a socket holder is looked for on.
 */
export function readSshdSockets(
  procfs: ProcFS,
  snapshot: SshdSnapshot,
  configuredPorts?: readonly number[],
  cache: ConnectionSocketCache = new ConnectionSocketCache(),
): SshdSockets | null {
  const ports = new Set<number>()
  const listening = new Set<number>()
  let connections: TcpSocket[] = []
  // Two listeners in one namespace list the same sockets twice: from the second table on, the
  // inodes already taken are skipped (a table lists each inode once, so one alone needs none).
  let taken: Set<number> | null = null
  let permitted = true
  let malformed = 0
  let read = false
  // Only the listening sockets and those on the ports sshd had at the last scrape are parsed
  // whole; when the ports turn out to be others, the table is read again for them.
  let wanted = new Set([...cache.ports, ...(configuredPorts ?? []), DEFAULT_SSH_PORT])
  const sources =
    snapshot.listeners.length > 0 ? snapshot.listeners.map((l) => l.pid) : [HOLDER_NAMESPACE_PID]
  const holder = snapshot.listeners.length === 0
  for (const pid of sources) {
    const keep = (port: number, state: TcpSocket['state']) => state === 'LISTEN' || wanted.has(port)
    let net = readNetTcp(procfs, pid, cache.netTcp, { keep })
    if (net === null) continue
    const inodes = holder ? null : socketInodes(procfs, pid)
    let own: number[] = []
    if (inodes !== null && inodes.permitted) own = listeningPorts(net.sockets, inodes.inodes)
    else {
      if (inodes !== null) permitted = false
      own = configuredListening(net.sockets, configuredPorts)
    }
    if (own.length === 0) own = [DEFAULT_SSH_PORT]
    if (own.some((port) => !wanted.has(port))) {
      wanted = new Set([...wanted, ...own])
      net = readNetTcp(procfs, pid, cache.netTcp, { keep })
      if (net === null) continue
    }
    malformed += net.malformed
    for (const port of own) ports.add(port)
    if (read) taken ??= inodesOf(connections)
    read = true
    // The first table's array is readNetTcp's, made for this call: its connections are moved to
    // its front and it is cut, not copied into another array (10,000 long at as many
    // connections). Indexed loops: a for-of not yet optimised allocates a result per element.
    const { sockets } = net
    const into = connections.length === 0 ? sockets : connections
    let n = connections.length
    for (let i = 0; i < sockets.length; i++) {
      const s = sockets[i]!
      if (s.state === 'LISTEN') {
        if (ports.has(s.localPort)) listening.add(s.localPort)
        continue
      }
      if (s.state === 'TIME_WAIT' || !ports.has(s.localPort)) continue
      if (taken !== null && s.inode !== 0) {
        if (taken.has(s.inode)) continue
        taken.add(s.inode)
      }
      into[n++] = s
    }
    into.length = n
    connections = into
  }
  if (!read) return null
  cache.ports = ports
  return {
    ports: [...ports].sort(byNumber),
    listening: [...listening].sort(byNumber),
    permitted,
    connections,
    malformed,
  }
}

function byNumber(a: number, b: number): number {
  return a - b
}

/** The socket inodes among these sockets, but 0 (a connection not accepted yet has none). */
function inodesOf(sockets: readonly TcpSocket[]): Set<number> {
  const inodes = new Set<number>()
  for (const s of sockets) if (s.inode !== 0) inodes.add(s.inode)
  return inodes
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
  const generation = ++cache.generation
  const byInode = new Map<number, TcpSocket>()
  for (let i = 0; i < sockets.connections.length; i++) {
    byInode.set(sockets.connections[i]!.inode, sockets.connections[i]!)
  }
  const result = new Map<number, TcpSocket | undefined>()
  // A connection's fd links are read in fd order up to the first socket in this table (its
  // client socket, among its first fds), not all of them.
  const inTable = (inode: number) => byInode.has(inode)
  const known = cache.byPid
  const { connections } = snapshot
  for (let i = 0; i < connections.length; i++) {
    const c = connections[i]!
    let entry = known.get(c.pid)
    // Another start time is another process that got the pid: its links are read.
    let socket =
      entry !== undefined && entry.starttime === c.starttime ? byInode.get(entry.inode) : undefined
    if (socket === undefined) {
      const found = findSocket(procfs, c.pid, inTable)
      if (found === null) continue // exited during the scrape
      if (found === FDS_NOT_PERMITTED) return null
      if (found >= 0) socket = byInode.get(found)
    }
    if (socket !== undefined) {
      if (entry === undefined) {
        entry = { starttime: c.starttime, inode: socket.inode, generation }
        known.set(c.pid, entry)
      } else {
        entry.starttime = c.starttime
        entry.inode = socket.inode
        entry.generation = generation
      }
    }
    result.set(c.pid, socket)
  }
  // The connections not matched this scrape (exited, or their socket gone) are forgotten.
  known.forEach((entry, pid) => {
    if (entry.generation !== generation) known.delete(pid)
  })
  return result
}

/** A connection's socket inode, as a ConnectionSocketCache keeps it. */
interface KnownSocket {
  /** The connection's start time: with another, the pid is another process's. */
  starttime: number
  inode: number
  /** The scrape (ConnectionSocketCache#generation) that last matched it. */
  generation: number
}

/**
 * What the last scrape learnt of sshd's sockets, kept by the scraper for the next one; with it
 * what reading net/tcp keeps (its chunk buffer, the interned addresses).
 */
export class ConnectionSocketCache {
  /**
   * Socket inodes of the connections matched at the last scrape, by pid; updated in place, the
   * connections not matched since dropped.
   */
  readonly byPid = new Map<number, KnownSocket>()
  /** Counts connectionSockets calls. */
  generation = 0
  /** sshd's ports. */
  ports: ReadonlySet<number> = new Set()
  readonly netTcp = new NetTcpState()
}
