/**
 * /proc/<pid>/net/tcp and tcp6: the TCP sockets of the pid's network namespace (reading through
 * sshd's pid gives sshd's namespace, also from a container that shares only the host's pids).
 * The lines are get_tcp4_sock's and get_tcp6_sock's (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c);
 * the files can be tens of MB, so they are read with a cap a chunk at a time into the caller's
 * NetTcpState and parsed in place from bytes: no string of the file, no split, no regex, and
 * sockets outside the caller's filter are skipped before their addresses are formatted.
 * What each column means, with the kernel sources and measurements: docs/procfs.md.
 */
import { closeSync } from 'node:fs'
import { endianness as osEndianness } from 'node:os'
import { isNotFound } from '../../errors.ts'
import type { ProcFS } from '../procfs.ts'
import { hasMoreSync, openIfPresentSync, readIntoSync } from '../read-into.ts'
import { AddressStrings, formatAddress } from './address.ts'
import { COLON, FieldCursor, NEWLINE, SPACE } from './fields.ts'

/** The byte order of the host that wrote the file (`os.endianness()`). */
export type Endianness = 'BE' | 'LE'

/** TCP states by the kernel's number minus one (include/net/tcp_states.h). */
export const TCP_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
] as const

export type TcpState = (typeof TCP_STATES)[number]

/** The `tr` column: which timer is pending. */
export const TcpTimer = {
  NONE: 0,
  /**
   * Data (or a SYN, SYN-ACK, FIN) is unacknowledged. Pending from the first transmission on:
   * `retransmits` above 0 says the timer has fired.
   */
  RETRANSMIT: 1,
  KEEPALIVE: 2,
  TIME_WAIT: 3,
  /** The peer's receive window is zero and the sender probes it. */
  ZERO_WINDOW_PROBE: 4,
} as const

export type TcpTimer = (typeof TcpTimer)[keyof typeof TcpTimer]

export interface TcpSocket {
  /** '127.0.0.1', '::1', '2001:db8::1' (RFC 5952); IPv4-mapped IPv6 addresses as plain IPv4. */
  localAddress: string
  localPort: number
  /** '0.0.0.0' or '::' (with port 0) for a listener. */
  remoteAddress: string
  remotePort: number
  state: TcpState
  /** Bytes sent and not yet acknowledged, or not yet sent; 0 for a listener. */
  txQueue: number
  /** Bytes received and not yet read; for a listener, connections not yet accepted. */
  rxQueue: number
  timerActive: TcpTimer
  /**
   * The `retrnsmt` column: retransmission timeouts since data was last acknowledged (reset to 0
   * by an ACK); for SYN_RECV, the SYN-ACKs resent.
   */
  retransmits: number
  /** The owner's uid (of the listener for SYN_RECV); 0 for TIME_WAIT. */
  uid: number
  /**
   * The `timeout` column: probes sent and not answered, zero-window probes (timer 4) or
   * keepalive probes (timer 2); reset when the peer answers.
   */
  probes: number
  /** 0 for TIME_WAIT, SYN_RECV and connections not yet accepted by the process. */
  inode: number
}

export interface ParsedNetTcp {
  sockets: TcpSocket[]
  /** Lines that are not what the kernel writes; skipped. */
  malformed: number
}

export interface NetTcp extends ParsedNetTcp {
  /** True when a file was larger than the cap (NET_TCP_MAX_BYTES): the sockets past it are missing. */
  truncated: boolean
}

export interface ReadNetTcpOptions {
  /** Keep only the sockets with these inodes (the rest are not formatted). */
  inodes?: ReadonlySet<number>
  /**
   * Keep only the sockets for which this is true, asked as soon as a line's local port and state
   * are read: the rest of the line is neither checked nor formatted. A host's table can hold
   * thousands of other services' sockets for each of sshd's.
   */
  keep?: (localPort: number, state: TcpState) => boolean
  /** The byte order of the addresses; the host's by default. */
  endianness?: Endianness
  /** Read at most this many bytes of each file (default NET_TCP_MAX_BYTES). */
  maxBytes?: number
}

/**
 * The most read from one net/tcp file: some 400,000 IPv4 sockets (150 bytes a line). The kernel
 * lists listeners first, so a truncated read loses established connections, never a listener.
 */
export const NET_TCP_MAX_BYTES = 64 * 1024 * 1024

const HOST_ENDIANNESS: Endianness = osEndianness()

/**
 * The bytes of net/tcp read and parsed at a time: the memory a read takes, whatever the size of
 * the file. A chunk holds whole lines (150 to 180 bytes; a longer one is counted malformed and
 * skipped); the incomplete line at its end is carried over to the next.
 */
export const NET_TCP_CHUNK_BYTES = 64 * 1024

/**
 * What reading net/tcp keeps from one read to the next: the chunk buffer (allocated at the first
 * read), the cursor over it, and the IPv4 address strings (interned). One per scraper, kept
 * between scrapes; reads are synchronous and never re-entered.
 */
export class NetTcpState {
  readonly addresses = new AddressStrings()
  #cursor: FieldCursor | undefined
  readonly probe = Buffer.alloc(1)

  /** The cursor over the chunk buffer, both made at the first read. */
  get cursor(): FieldCursor {
    return (this.#cursor ??= new FieldCursor(Buffer.allocUnsafeSlow(NET_TCP_CHUNK_BYTES)))
  }
}

/**
 * /proc/<pid>/net/tcp and tcp6: the TCP sockets of the pid's network namespace, IPv4 first.
 * Null when the pid is gone. A missing tcp6 (IPv6 disabled) gives no IPv6 sockets.
 */
export function readNetTcp(
  procfs: ProcFS,
  pid: number,
  state: NetTcpState,
  options: ReadNetTcpOptions = {},
): NetTcp | null {
  const sockets: TcpSocket[] = []
  const v4 = readTable(procfs.pidPath(pid, 'net/tcp'), 4, state, options, sockets)
  if (v4 === null) return null
  const v6 = readTable(procfs.pidPath(pid, 'net/tcp6'), 6, state, options, sockets)
  return {
    sockets,
    malformed: v4.malformed + (v6?.malformed ?? 0),
    truncated: v4.truncated || (v6?.truncated ?? false),
  }
}

/**
 * Parses the text of net/tcp (family 4) or tcp6 (family 6), as readNetTcp parses each chunk. The
 * header line is skipped; lines that are not what the kernel writes are counted in `malformed`
 * and skipped. With `inodes`, only sockets with those inodes are returned.
 */
export function parseNetTcp(
  text: string | Buffer,
  family: 4 | 6,
  endian: Endianness = HOST_ENDIANNESS,
  inodes?: ReadonlySet<number>,
): ParsedNetTcp {
  const sockets: TcpSocket[] = []
  // UTF-8 rather than latin1: a character above U+00FF becomes bytes above 0x7F, which match
  // nothing, as the character did; latin1 would keep its low byte (U+0130 would read as '0').
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
  const cursor = new FieldCursor(bytes)
  const filter: ReadNetTcpOptions =
    inodes === undefined ? { endianness: endian } : { inodes, endianness: endian }
  const malformed = parseLines(
    cursor,
    0,
    bytes.length,
    0,
    family,
    new AddressStrings(),
    filter,
    sockets,
  )
  return { sockets, malformed }
}

/**
 * The ports sshd listens on: those of the LISTEN sockets whose inodes the listener process holds
 * (from socketInodes), ascending, each once.
 */
export function listeningPorts(
  sockets: readonly TcpSocket[],
  inodes: ReadonlySet<number>,
): number[] {
  const ports: number[] = []
  for (const socket of sockets) {
    if (socket.state === 'LISTEN' && inodes.has(socket.inode) && !ports.includes(socket.localPort))
      ports.push(socket.localPort)
  }
  return ports.sort((a, b) => a - b)
}

/**
 * Reads and parses one table into `out` a chunk at a time: the lines counted malformed, and
 * whether the read stopped at the cap. Null when the file is not there (or the pid went away
 * while it was read: then `out` is left as it was). At most `maxBytes` bytes are read; a read
 * that stops at the cap ends at its last complete line.
 */
function readTable(
  path: string,
  family: 4 | 6,
  state: NetTcpState,
  options: ReadNetTcpOptions,
  out: TcpSocket[],
): { malformed: number; truncated: boolean } | null {
  const fd = openIfPresentSync(path)
  if (fd < 0) return null
  const cap = options.maxBytes ?? NET_TCP_MAX_BYTES
  const cursor = state.cursor
  const buf = cursor.buf
  const before = out.length
  let malformed = 0
  let truncated = false
  try {
    /** Bytes read from the file. */
    let read = 0
    /** Bytes in buf: the line carried over from the last chunk, then those read since. */
    let filled = 0
    /** Whether buf[0] is the first byte of the file, where the header is. */
    let fileStart = true
    /** Within a line longer than a chunk, already counted malformed: skipped to its newline. */
    let skipping = false
    for (;;) {
      // /proc's seq files return a page or so a read: read until the chunk is full, the file
      // ends or the cap is reached (then one byte more tells whether the table was cut).
      const want = Math.min(buf.length - filled, cap - read)
      const got = readIntoSync(fd, buf, filled, filled + want) - filled
      filled += got
      read += got
      let end = got < want
      if (!end && filled < buf.length) {
        truncated = hasMoreSync(fd, state.probe)
        end = true
      }
      let from = 0
      if (skipping) {
        const newline = buf.indexOf(NEWLINE)
        if (newline >= 0 && newline < filled) {
          from = newline + 1
          skipping = false
        } else from = filled
      }
      const header = fileStart ? 0 : -1
      const { addresses } = state
      if (end) {
        // Past the cap the last line is incomplete and dropped; at the end of the file it is a
        // line without its newline.
        // (lastIndexOf counts a negative offset from the end of buf: filled is not 0 there.)
        const upTo = !truncated ? filled : filled > 0 ? buf.lastIndexOf(NEWLINE, filled - 1) + 1 : 0
        if (upTo > from)
          malformed += parseLines(cursor, from, upTo, header, family, addresses, options, out)
        break
      }
      // The chunk is full: its complete lines are parsed, the rest carried over.
      const last = buf.lastIndexOf(NEWLINE, filled - 1)
      if (last >= from) {
        malformed += parseLines(cursor, from, last + 1, header, family, addresses, options, out)
        from = last + 1
        fileStart = false
      }
      if (from === 0) {
        // No newline in a whole chunk: not a line the kernel writes.
        malformed++
        skipping = true
        fileStart = false
        filled = 0
        continue
      }
      buf.copyWithin(0, from, filled)
      filled -= from
    }
  } catch (err) {
    // ESRCH: the process exited between open and read.
    if (isNotFound(err)) {
      out.length = before
      return null
    }
    throw err
  } finally {
    closeSync(fd)
  }
  return { malformed, truncated }
}

/**
 * Parses the lines in the cursor's buf[from, to) into `out`, giving the number of malformed
 * ones. A line starting at `header` (the start of the file, or -1 when it is not in buf) may be
 * the header. Lines with other inodes than `filter.inodes` are not checked past the inode.
 */
function parseLines(
  line: FieldCursor,
  from: number,
  to: number,
  header: number,
  family: 4 | 6,
  addresses: AddressStrings,
  filter: ReadNetTcpOptions,
  out: TcpSocket[],
): number {
  const { buf } = line
  const { inodes, keep } = filter
  const words = family === 4 ? 1 : 4
  const littleEndian = (filter.endianness ?? HOST_ENDIANNESS) === 'LE'
  let malformed = 0
  let start = from
  while (start < to) {
    let end = buf.indexOf(NEWLINE, start)
    if (end < 0 || end > to) end = to
    const lineStart = start
    start = end + 1
    if (end === lineStart) continue
    line.at = lineStart
    line.end = end
    line.skipSpaces()
    // the header
    const at = line.at
    if (lineStart === header && at + 1 < end && buf[at] === 115 && buf[at + 1] === 108) continue
    // sl: local remote st
    if (line.decimal() < 0 || !line.take(COLON) || !line.take(SPACE)) {
      malformed++
      continue
    }
    line.skipSpaces()
    const local = line.at
    if (!line.skipAddress(words)) {
      malformed++
      continue
    }
    const localPort = line.hexFixed(4)
    if (localPort < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    const remote = line.at
    if (!line.skipAddress(words)) {
      malformed++
      continue
    }
    const remotePort = line.hexFixed(4)
    if (remotePort < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    const state = line.hexFixed(2)
    if (state < 1 || state > TCP_STATES.length || !line.take(SPACE)) {
      malformed++
      continue
    }
    if (keep !== undefined && !keep(localPort, TCP_STATES[state - 1]!)) continue
    // tx_queue:rx_queue tr:tm->when retrnsmt
    const txQueue = line.hexFixed(8)
    if (txQueue < 0 || !line.take(COLON)) {
      malformed++
      continue
    }
    const rxQueue = line.hexFixed(8)
    if (rxQueue < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    const timer = line.hexFixed(2)
    if (timer < 0 || timer > 4 || !line.take(COLON)) {
      malformed++
      continue
    }
    // tm->when is %08lX of a clock_t: 16 digits when older kernels printed a negative delta.
    if (line.hex(8, 16) < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    const retransmits = line.hexFixed(8)
    if (retransmits < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    // uid timeout inode: right-aligned decimals
    line.skipSpaces()
    const uid = line.decimal()
    if (uid < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    line.skipSpaces()
    const probes = line.decimal()
    if (probes < 0 || !line.take(SPACE)) {
      malformed++
      continue
    }
    line.skipSpaces()
    const inode = line.decimal()
    if (inode < 0 || (line.at < end && buf[line.at] !== SPACE)) {
      malformed++
      continue
    }
    if (inodes !== undefined && !inodes.has(inode)) continue
    out.push({
      localAddress: formatAddress(addresses, buf, local, words, littleEndian),
      localPort,
      remoteAddress: formatAddress(addresses, buf, remote, words, littleEndian),
      remotePort,
      state: TCP_STATES[state - 1]!,
      txQueue,
      rxQueue,
      timerActive: timer as TcpTimer,
      retransmits,
      uid,
      probes,
      inode,
    })
  }
  return malformed
}
