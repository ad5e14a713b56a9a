/**
 * The TCP sockets of a process's network namespace (/proc/<pid>/net/tcp and tcp6) and the
 * socket inodes the process holds (/proc/<pid>/fd). Reading through sshd's own pid gives sshd's
 * namespace, which is why this works from a container that shares only the host's pids.
 *
 * What the kernel writes, one line per socket after a header line (Linux 6.x; the columns up to
 * the inode have not changed since 2.6). net/ipv4/tcp_ipv4.c, get_tcp4_sock():
 *
 *   seq_printf(f, "%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX "
 *                 "%08X %5u %8d %lu %d %pK %lu %lu %u %u %d",
 *              i, src, srcp, dest, destp, state,
 *              READ_ONCE(tp->write_seq) - tp->snd_una,           // tx_queue
 *              rx_queue,                                         // rcv_nxt - copied_seq
 *              timer_active,
 *              jiffies_delta_to_clock_t(timer_expires - jiffies), // tm->when
 *              icsk->icsk_retransmits,                           // retrnsmt, in hex
 *              from_kuid_munged(seq_user_ns(f), sock_i_uid(sk)), // uid
 *              icsk->icsk_probes_out,                            // "timeout" in the header
 *              sock_i_ino(sk),                                   // inode
 *              refcount, sk, rto, ato, quick/pingpong, cwnd, ssthresh);
 *
 * net/ipv6/tcp_ipv6.c, get_tcp6_sock(), differs only in the addresses, four words each:
 *
 *   "%4d: %08X%08X%08X%08X:%04X %08X%08X%08X%08X:%04X ", src->s6_addr32[0..3], srcp, dest…
 *
 * - Addresses are the __be32 words as stored (network byte order) printed with %08X, that is read
 *   as host integers: on a little-endian host each word's bytes come out reversed (127.0.0.1 is
 *   `0100007F`, ::1 is `00000000000000000000000001000000`), on a big-endian host in order
 *   (`7F000001`). Ports went through ntohs() and read the same on every host (22 is `0016`).
 * - state is include/net/tcp_states.h's number (01 ESTABLISHED … 0A LISTEN, 0B CLOSING).
 * - For a LISTEN socket rx_queue is the accept backlog (connections the kernel completed and the
 *   process has not accepted) and tx_queue is 0.
 * - timer_active: 1 retransmission (also the RACK reordering and tail-loss-probe timers), 4 zero
 *   window probe, 2 sk_timer (keepalive), 0 none; TIME_WAIT sockets have 3.
 * - TIME_WAIT sockets (get_timewait4_sock: state 06, queues 0, timer 3, retrnsmt, uid, timeout
 *   and inode 0) and handshakes in progress (get_openreq4: state 03 SYN_RECV, timer 1, retrnsmt
 *   the SYN-ACKs resent, the listener's uid, inode 0) end after a refcount and a pointer.
 *   Connections the kernel completed and the process has not accepted yet are full lines with
 *   the listener's uid and inode 0.
 * - tcp lines are padded with spaces to 149 characters (seq_pad); tcp6 lines are not. With
 *   10,000 sockets or more `%4d` grows; sl is not used here.
 *
 * The files list every socket of the namespace: on a busy host tens of MB. They are read with a
 * cap (NET_TCP_MAX_BYTES) a chunk at a time (NET_TCP_CHUNK_BYTES, one buffer kept for the next
 * scrape: the memory does not grow with the file), and each chunk's complete lines are parsed by
 * scanning its bytes in place, never decoded: no string of the file, no split, no regular
 * expression, no substring per field; lines are found with Buffer#indexOf (memchr). Given the
 * inodes a caller cares about, sockets with other inodes are skipped before their addresses are
 * formatted (IPv4 ones interned: the same string for the same address every scrape) and an
 * object is made. Measured on a 2-vCPU Xeon VM with 200,000 IPv4 lines (30 MB), read and parsed:
 * some 60 ms with an inode filter, 120 to 330 ms (as garbage collection goes; median 165) to
 * return them all. Decoding the file to a latin1 string and scanning that took 120 ms and 180 to
 * 320 ms (median 235).
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs'
import { endianness as osEndianness } from 'node:os'
import { isNotFound } from '../errors.ts'
import type { ProcFS } from './procfs.ts'

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

/** The socket inodes a process holds, or that it could not be told (EACCES, EPERM). */
export type SocketInodes =
  { readonly permitted: true; readonly inodes: Set<number> } | { readonly permitted: false }

/**
 * The most read from one net/tcp file: some 400,000 IPv4 sockets (150 bytes a line). The kernel
 * lists listeners first, so a truncated read loses established connections, never a listener.
 */
export const NET_TCP_MAX_BYTES = 64 * 1024 * 1024

const HOST_ENDIANNESS: Endianness = osEndianness()

/**
 * /proc/<pid>/net/tcp and tcp6: the TCP sockets of the pid's network namespace, IPv4 first.
 * Null when the pid is gone. A missing tcp6 (IPv6 disabled) gives no IPv6 sockets.
 */
export function readNetTcp(
  procfs: ProcFS,
  pid: number,
  options: ReadNetTcpOptions = {},
): NetTcp | null {
  const endian = options.endianness ?? HOST_ENDIANNESS
  const cap = options.maxBytes ?? NET_TCP_MAX_BYTES
  const net = `${procfs.pidDir(pid)}net/`
  const sockets: TcpSocket[] = []
  const { inodes, keep } = options
  const v4 = readTable(`${net}tcp`, cap, 4, endian, sockets, inodes, keep)
  if (v4 === null) return null
  const v6 = readTable(`${net}tcp6`, cap, 6, endian, sockets, inodes, keep)
  return {
    sockets,
    malformed: v4.malformed + (v6?.malformed ?? 0),
    truncated: v4.truncated || (v6?.truncated ?? false),
  }
}

/**
 * The bytes of net/tcp read and parsed at a time: the memory a read takes, whatever the size of
 * the file (tens of MB on a busy host). A chunk holds whole lines (150 to 180 bytes; a longer
 * one is counted malformed and skipped); the incomplete line at its end is carried over to the
 * next. Read from tmpfs at 10,000 connections (a 2.9 MB file), 64 KB, 256 KB and 1 MB chunks
 * took the same time (some 12 ms, the noise larger than any difference), as the whole file did;
 * the real /proc hands over a page or so a read whatever is asked.
 */
export const NET_TCP_CHUNK_BYTES = 64 * 1024

/** Allocated at the first read and kept: reads are synchronous and never re-entered. */
let chunk: Buffer | undefined
const probe = Buffer.alloc(1)

/**
 * Reads and parses one table into `out` a chunk at a time: the lines counted malformed, and
 * whether the read stopped at the cap. Null when the file is not there (or the pid went away
 * while it was read: then `out` is left as it was). At most `cap` bytes are read; a read that
 * stops at the cap ends at its last complete line.
 */
function readTable(
  path: string,
  cap: number,
  family: 4 | 6,
  endian: Endianness,
  out: TcpSocket[],
  inodes?: ReadonlySet<number>,
  keep?: (localPort: number, state: TcpState) => boolean,
): { malformed: number; truncated: boolean } | null {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
  const buf = (chunk ??= Buffer.allocUnsafeSlow(NET_TCP_CHUNK_BYTES))
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
      // ends (a read gives 0) or the cap is reached.
      let end = false
      while (filled < buf.length) {
        if (read >= cap) {
          truncated = readSync(fd, probe, 0, 1, null) > 0
          end = true
          break
        }
        const n = readSync(fd, buf, filled, Math.min(buf.length - filled, cap - read), null)
        if (n === 0) {
          end = true
          break
        }
        filled += n
        read += n
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
      if (end) {
        // Past the cap the last line is incomplete and dropped; at the end of the file it is a
        // line without its newline.
        // (lastIndexOf counts a negative offset from the end of buf: filled is not 0 there.)
        const upTo = !truncated ? filled : filled > 0 ? buf.lastIndexOf(NEWLINE, filled - 1) + 1 : 0
        if (upTo > from)
          malformed += parseInto(buf, from, upTo, header, family, endian, out, inodes, keep)
        break
      }
      // The chunk is full: its complete lines are parsed, the rest carried over.
      const last = buf.lastIndexOf(NEWLINE, filled - 1)
      if (last >= from) {
        malformed += parseInto(buf, from, last + 1, header, family, endian, out, inodes, keep)
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
 * Parses /proc/<pid>/net/tcp (family 4) or tcp6 (family 6). The header line is skipped; lines
 * that are not what the kernel writes are counted in `malformed` and skipped. With `inodes`, only
 * sockets with those inodes are returned (lines with other inodes are not checked past the inode).
 */
export function parseNetTcp(
  text: string | Buffer,
  family: 4 | 6,
  endian: Endianness = HOST_ENDIANNESS,
  inodes?: ReadonlySet<number>,
): ParsedNetTcp {
  const sockets: TcpSocket[] = []
  const bytes = toBytes(text)
  const malformed = parseInto(bytes, 0, bytes.length, 0, family, endian, sockets, inodes)
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

const NOT_PERMITTED: SocketInodes = Object.freeze({ permitted: false })

/**
 * The inodes of the sockets a process holds, from the `socket:[<inode>]` targets of
 * /proc/<pid>/fd/*. Null when the pid is gone; `{ permitted: false }` when the exporter may not
 * look (not root and not the owner, or no ptrace access: EACCES, EPERM). An fd closed between
 * listing and reading is skipped.
 */
export function socketInodes(procfs: ProcFS, pid: number): SocketInodes | null {
  const inodes = new Set<number>()
  const read = eachSocket(procfs, pid, (inode) => {
    inodes.add(inode)
    return false
  })
  if (read === null) return null
  return read ? { permitted: true, inodes } : NOT_PERMITTED
}

/** findSocket's answer when no fd is a wanted socket. */
export const NO_SOCKET = -1
/** findSocket's answer when the exporter may not look at the fds (EACCES, EPERM). */
export const FDS_NOT_PERMITTED = -2

/**
 * The first socket a process holds, by ascending fd number, whose inode `isWanted`: its inode,
 * NO_SOCKET when there is none, FDS_NOT_PERMITTED as socketInodes gives `{ permitted: false }`,
 * null when the pid is gone. The links past the one found are not read: an sshd connection's
 * client socket is among its first fds, and reading every link of every connection (some
 * 80,000 at 10,000 connections) was all garbage.
 */
export function findSocket(
  procfs: ProcFS,
  pid: number,
  isWanted: (inode: number) => boolean,
): number | null {
  let found = NO_SOCKET
  const read = eachSocket(procfs, pid, (inode) => {
    if (!isWanted(inode)) return false
    found = inode
    return true
  })
  if (read === null) return null
  return read ? found : FDS_NOT_PERMITTED
}

/**
 * Calls `visit` with each socket inode the process holds, by ascending fd number, until it
 * returns true. True when the fds could be read, false when not permitted, null when the pid is
 * gone. An fd closed between listing and reading is skipped.
 */
function eachSocket(
  procfs: ProcFS,
  pid: number,
  visit: (inode: number) => boolean,
): boolean | null {
  const dir = `${procfs.pidDir(pid)}fd/`
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if (isNotFound(err)) return null
    if (isPermissionDenied(err)) return false
    throw err
  }
  // The kernel lists /proc/<pid>/fd in ascending order already: sorted only when it is not (a
  // sort allocates, and this runs for every new connection).
  if (!isAscending(names)) names.sort(byFdNumber)
  for (let i = 0; i < names.length; i++) {
    let target: string
    try {
      target = readlinkSync(dir + names[i]!)
    } catch (err) {
      if (isNotFound(err)) continue
      if (isPermissionDenied(err)) return false
      throw err
    }
    const inode = parseSocketLink(target)
    if (inode >= 0 && visit(inode)) break
  }
  return true
}

function isAscending(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++) if (byFdNumber(names[i - 1]!, names[i]!) > 0) return false
  return true
}

/** Orders fd names by number; a name that is not one (never in /proc) after them all. */
function byFdNumber(a: string, b: string): number {
  return fdNumber(a) - fdNumber(b)
}

function fdNumber(name: string): number {
  const n = Number(name)
  return Number.isSafeInteger(n) && n >= 0 && name !== '' ? n : Number.MAX_SAFE_INTEGER
}

/** The inode in an fd link target `socket:[12345]`, or -1 for anything else. */
export function parseSocketLink(target: string): number {
  // 'socket:[' is 8 characters; the kernel writes the inode in decimal (%lu).
  const end = target.length - 1
  if (!target.startsWith('socket:[') || target.charCodeAt(end) !== CLOSE_BRACKET) return -1
  if (end === 8 || end > 8 + 15) return -1
  let inode = 0
  for (let i = 8; i < end; i++) {
    const c = target.charCodeAt(i)
    if (c < 48 || c > 57) return -1
    inode = inode * 10 + (c - 48)
  }
  return inode
}

/**
 * An address as the kernel writes it: 8 hex digits (IPv4) or 32 (IPv6), words in the given byte
 * order. Null when it is neither.
 */
export function decodeAddress(hex: string, endian: Endianness = HOST_ENDIANNESS): string | null {
  const words = hex.length === 8 ? 1 : hex.length === 32 ? 4 : 0
  if (words === 0) return null
  const bytes = toBytes(hex)
  for (let i = 0; i < words; i++) if (hexAt(bytes, i * 8, 8) < 0) return null
  return words === 1 ? formatIPv4(bytes, 0, endian === 'LE') : formatIPv6(bytes, 0, endian === 'LE')
}

function isPermissionDenied(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'EACCES' || code === 'EPERM'
}

/**
 * A string as bytes for the scanner. UTF-8 rather than latin1: a character above U+00FF becomes
 * bytes above 0x7F, which match nothing, as the character did; latin1 would keep its low byte
 * (U+0130 would read as '0'). Only ASCII matters to the scanner, and UTF-8 writes no byte below
 * 0x80 but for an ASCII character.
 */
function toBytes(text: string | Buffer): Buffer {
  return typeof text === 'string' ? Buffer.from(text, 'utf8') : text
}

// Parsing. The scanner works on the file's bytes, never decoded: the chunk buffer, overwritten by
// the next read. It keeps its position in a module variable: parsing is synchronous and never
// re-entered, and nothing is copied out of the bytes but the formatted addresses.

const NEWLINE = 10
const SPACE = 32
const COLON = 58
const CLOSE_BRACKET = 93

let cursor = 0

/** The value of each byte as a hex digit (0-9, A-F, a-f), or -1. */
const HEX = new Int8Array(256).fill(-1)
for (let d = 0; d < 16; d++) {
  HEX[d.toString(16).charCodeAt(0)] = d
  HEX[d.toString(16).toUpperCase().charCodeAt(0)] = d
}

/** The value of exactly `digits` (at most 8) hex digits at `at`, or -1 (also past the end). */
function hexAt(buf: Buffer, at: number, digits: number): number {
  if (at + digits > buf.length) return -1
  let value = 0
  for (let i = at; i < at + digits; i++) {
    const d = HEX[buf[i]!]!
    if (d < 0) return -1
    value = value * 16 + d
  }
  return value
}

/**
 * Reads exactly `digits` (at most 8) hex digits at the cursor, before `end`, or gives -1. More
 * digits are left for the separator the caller takes next, which then fails.
 */
function readHexFixed(buf: Buffer, end: number, digits: number): number {
  if (cursor + digits > end) return -1
  const value = hexAt(buf, cursor, digits)
  if (value >= 0) cursor += digits
  return value
}

/**
 * Reads the hex digits at the cursor: their value when there are `min` to `max` of them (exact
 * only up to 13 digits), else -1.
 */
function readHex(buf: Buffer, end: number, min: number, max: number): number {
  const start = cursor
  let value = 0
  while (cursor < end) {
    const d = HEX[buf[cursor]!]!
    if (d < 0) break
    value = value * 16 + d
    cursor++
  }
  const digits = cursor - start
  return digits >= min && digits <= max ? value : -1
}

/** Reads 1 to 15 decimal digits at the cursor, or gives -1. */
function readDecimal(buf: Buffer, end: number): number {
  const start = cursor
  let value = 0
  while (cursor < end) {
    const c = buf[cursor]!
    if (c < 48 || c > 57) break
    value = value * 10 + (c - 48)
    cursor++
  }
  const digits = cursor - start
  return digits >= 1 && digits <= 15 ? value : -1
}

function skipSpaces(buf: Buffer, end: number): void {
  while (cursor < end && buf[cursor] === SPACE) cursor++
}

/** Takes the byte `c` at the cursor, not at or past `end`. */
function take(buf: Buffer, end: number, c: number): boolean {
  if (cursor >= end || buf[cursor] !== c) return false
  cursor++
  return true
}

/** Reads `words` 8-digit hex words and `:` before `end`: false when they are not there. */
function skipAddress(buf: Buffer, end: number, words: number): boolean {
  if (cursor + words * 8 >= end) return false
  for (let i = 0; i < words; i++) if (hexAt(buf, cursor + i * 8, 8) < 0) return false
  cursor += words * 8
  return take(buf, end, COLON)
}

/**
 * Parses the lines in buf[from, to) into `out`, giving the number of malformed ones. A line
 * starting at `header` (the start of the file, or -1 when it is not in buf) may be the header.
 */
function parseInto(
  buf: Buffer,
  from: number,
  to: number,
  header: number,
  family: 4 | 6,
  endian: Endianness,
  out: TcpSocket[],
  inodes?: ReadonlySet<number>,
  keep?: (localPort: number, state: TcpState) => boolean,
): number {
  const words = family === 4 ? 1 : 4
  const littleEndian = endian === 'LE'
  let malformed = 0
  let start = from
  while (start < to) {
    let end = buf.indexOf(NEWLINE, start)
    if (end < 0 || end > to) end = to
    const lineStart = start
    start = end + 1
    if (end === lineStart) continue
    cursor = lineStart
    skipSpaces(buf, end)
    // the header
    if (lineStart === header && cursor + 1 < end && buf[cursor] === 115 && buf[cursor + 1] === 108)
      continue
    // sl: local remote st
    if (readDecimal(buf, end) < 0 || !take(buf, end, COLON) || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    skipSpaces(buf, end)
    const local = cursor
    if (!skipAddress(buf, end, words)) {
      malformed++
      continue
    }
    const localPort = readHexFixed(buf, end, 4)
    if (localPort < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    const remote = cursor
    if (!skipAddress(buf, end, words)) {
      malformed++
      continue
    }
    const remotePort = readHexFixed(buf, end, 4)
    if (remotePort < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    const state = readHexFixed(buf, end, 2)
    if (state < 1 || state > TCP_STATES.length || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    if (keep !== undefined && !keep(localPort, TCP_STATES[state - 1]!)) continue
    // tx_queue:rx_queue tr:tm->when retrnsmt
    const txQueue = readHexFixed(buf, end, 8)
    if (txQueue < 0 || !take(buf, end, COLON)) {
      malformed++
      continue
    }
    const rxQueue = readHexFixed(buf, end, 8)
    if (rxQueue < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    const timer = readHexFixed(buf, end, 2)
    if (timer < 0 || timer > 4 || !take(buf, end, COLON)) {
      malformed++
      continue
    }
    // tm->when is %08lX of a clock_t: 16 digits when older kernels printed a negative delta.
    if (readHex(buf, end, 8, 16) < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    const retransmits = readHexFixed(buf, end, 8)
    if (retransmits < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    // uid timeout inode: right-aligned decimals
    skipSpaces(buf, end)
    const uid = readDecimal(buf, end)
    if (uid < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    skipSpaces(buf, end)
    const probes = readDecimal(buf, end)
    if (probes < 0 || !take(buf, end, SPACE)) {
      malformed++
      continue
    }
    skipSpaces(buf, end)
    const inode = readDecimal(buf, end)
    if (inode < 0 || (cursor < end && buf[cursor] !== SPACE)) {
      malformed++
      continue
    }
    if (inodes !== undefined && !inodes.has(inode)) continue
    out.push({
      localAddress:
        words === 1 ? formatIPv4(buf, local, littleEndian) : formatIPv6(buf, local, littleEndian),
      localPort,
      remoteAddress:
        words === 1 ? formatIPv4(buf, remote, littleEndian) : formatIPv6(buf, remote, littleEndian),
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

// Addresses, formatted from the (already checked) hex digits: IPv4 (and IPv4-mapped IPv6)
// interned, other IPv6 fresh strings.

/** The 32-bit word at `at` (8 hex digits already checked) in network byte order. */
function wordAt(buf: Buffer, at: number, littleEndian: boolean): number {
  const w = hexAt(buf, at, 8)
  if (!littleEndian) return w
  return (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0
}

/**
 * Formatted IPv4 addresses by their 32-bit value in network byte order (as an int32, a small
 * integer to V8: looking one up allocates nothing). A connection's addresses never change, and
 * every scrape formats those of every connection: the same address gives the same string
 * instance, formatted once. The key is the value as read turned to network order, so that a
 * file read in either byte order gives the same instance. Bounded: emptied whole when it holds
 * 65,536 entries (some 5 MB), which only a host with that many distinct addresses in sshd's
 * sockets reaches; they are then formatted anew.
 */
const DOTTED = new Map<number, string>()
const DOTTED_MAX = 65_536

/** `a.b.c.d` for an address in network byte order, interned (DOTTED). */
function dotted(n: number): string {
  const key = n | 0
  let text = DOTTED.get(key)
  if (text === undefined) {
    if (DOTTED.size >= DOTTED_MAX) DOTTED.clear()
    text = `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`
    DOTTED.set(key, text)
  }
  return text
}

function formatIPv4(buf: Buffer, at: number, littleEndian: boolean): string {
  return dotted(wordAt(buf, at, littleEndian))
}

const groups = new Uint16Array(8)

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIPv6(buf: Buffer, at: number, littleEndian: boolean): string {
  const w0 = wordAt(buf, at, littleEndian)
  const w1 = wordAt(buf, at + 8, littleEndian)
  const w2 = wordAt(buf, at + 16, littleEndian)
  const w3 = wordAt(buf, at + 24, littleEndian)
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return dotted(w3) // ::ffff:a.b.c.d, interned
  groups[0] = w0 >>> 16
  groups[1] = w0
  groups[2] = w1 >>> 16
  groups[3] = w1
  groups[4] = w2 >>> 16
  groups[5] = w2
  groups[6] = w3 >>> 16
  groups[7] = w3
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::'
      i += bestLength - 1
      continue
    }
    if (out !== '' && !out.endsWith(':')) out += ':'
    out += groups[i]!.toString(16)
  }
  return out
}
