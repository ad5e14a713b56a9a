/**
 * The few per-process procfs files the exporter reads, under the root injected once
 * (`new ProcFS(--path.procfs)`). Readers take a pid, do I/O and return null (or -1) for a pid that
 * vanished; a malformed file throws ExporterError(PROCFS_MALFORMED) naming the file. Parsers are
 * pure. Files are read synchronously, whole, into the instance's one reused buffer: one open,
 * read and close per file, no stat; reads are never re-entered. Only the sources layer builds
 * paths (pidPath, for net/tcp and fd/); everything above it passes pids.
 */
import { closeSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, ExporterError, isNotFound } from '../errors.ts'
import { SSHD_COMMS } from './proctitle.ts'
import { hasMoreSync, openIfPresentSync, readIntoSync } from './read-into.ts'

/** The fields of /proc/<pid>/stat the exporter uses. */
export interface ProcStat {
  pid: number
  /** The executable's name as the kernel keeps it (at most 15 bytes). */
  comm: string
  /** R, S, D, Z, T, t, X, I … */
  state: string
  ppid: number
  /** Start time in clock ticks after boot: with the pid, a process's identity. */
  starttime: number
  /** The controlling terminal's device number (major and minor as the kernel packs them); 0: none. */
  ttyNr: number
}

/** 8 bytes a pid (7 digits and a space) for 4 million children: more than pid_max allows. */
const CHILDREN_CAP = 32 * 1024 * 1024

/**
 * For a file the kernel hands over whole to one read that asks for more than it holds, so that
 * a short read is its end: /proc/<pid>/stat (one seq_file record) and /proc/<pid>/cmdline (copied
 * page by page until the request is met).
 */
const ONE_READ = Infinity

/**
 * A children file is a multi-record seq_file: one read returns as many records as fit in the
 * kernel's seq buffer, at least a page (fs/seq_file.c, seq_read_iter), and a record is one pid
 * and a space, at most 8 bytes. A short read that ends below half the smallest page cannot have
 * stopped for want of room, so it is the whole file: no second read to see 0.
 */
const CHILDREN_SHORT_READ_ENDS = 2048

/** Enough for any stat line and for a process title (Linux caps cmdline reads at a page or so per call). */
const BUFFER_SIZE = 64 * 1024

export class ProcFS {
  readonly root: string
  /** Reused by every read; grown for the rare large file (the children of a busy listener). */
  #buffer = Buffer.allocUnsafe(BUFFER_SIZE)
  #probe = Buffer.allocUnsafe(1)
  /** Whether the last #fill stopped at its cap with more to read. */
  #truncated = false
  /** What the last scanStat found in #buffer. */
  readonly #scanned: StatScan = newStatScan()
  /** `<root>/`, normalised once: the per-pid paths are built by concatenation. */
  readonly #prefix: string

  constructor(root: string) {
    this.root = root
    const normal = join(root, '/')
    this.#prefix = normal.endsWith('/') ? normal : `${normal}/`
  }

  /**
   * `<root>/<pid>/<file>`, without path.join's normalisation (pid and file are clean). For the
   * readers of other per-pid files in src/sources (net/tcp, fd/): nothing above them names a path.
   */
  pidPath(pid: number, file: string): string {
    return `${this.#prefix}${pid}/${file}`
  }

  /**
   * /proc/<pid>/exe: the one path handed above the sources layer, because it is run (`sshd -T`
   * with the listener's own binary, which a container's rootfs may not hold at its path).
   */
  exePath(pid: number): string {
    return this.pidPath(pid, 'exe')
  }

  /** The pids present now, in no particular order. Throws when the root is not a procfs. */
  listPids(): number[] {
    const pids: number[] = []
    for (const name of readdirSync(this.root)) {
      const c = name.charCodeAt(0)
      if (c < 48 || c > 57) continue
      const pid = Number(name)
      if (Number.isSafeInteger(pid)) pids.push(pid)
    }
    return pids
  }

  /**
   * Reads a small file whole, as latin1 so that any byte survives; null when
   * it does not exist (a vanished pid). Reads at most BUFFER_SIZE bytes.
   */
  #readSmall(path: string): string | null {
    const length = this.#fill(path, BUFFER_SIZE)
    return length < 0 ? null : this.#buffer.toString('latin1', 0, length)
  }

  /**
   * Reads up to `cap` bytes into the buffer: the length read, or -1 when the file is not there.
   * A read that returns less than it asked for, ending below `shortEndsBelow` bytes in all, is
   * taken as the end without another read to see 0.
   */
  #fill(path: string, cap: number, shortEndsBelow = 0): number {
    const fd = openIfPresentSync(path)
    if (fd < 0) return -1
    try {
      let length = 0
      this.#truncated = false
      for (;;) {
        if (length >= cap) {
          this.#truncated = hasMoreSync(fd, this.#probe)
          return length
        }
        if (length === this.#buffer.length) {
          const bigger = Buffer.allocUnsafe(Math.min(this.#buffer.length * 2, cap))
          this.#buffer.copy(bigger, 0, 0, length)
          this.#buffer = bigger
        }
        const to = Math.min(this.#buffer.length, cap)
        length = readIntoSync(fd, this.#buffer, length, to, shortEndsBelow)
        if (length < to) return length
      }
    } catch (err) {
      // ESRCH: the process exited between open and read.
      if (isNotFound(err)) return -1
      throw err
    } finally {
      closeSync(fd)
    }
  }

  /** /proc/<pid>/stat; null when the pid is gone. Throws on a malformed file. */
  readStat(pid: number): ProcStat | null {
    const path = this.pidPath(pid, 'stat')
    const length = this.#fill(path, BUFFER_SIZE, ONE_READ)
    if (length < 0) return null
    if (!scanStat(this.#buffer, length, this.#scanned))
      throw malformedBytes('stat', this.#buffer, length, path)
    return statOf(this.#buffer, this.#scanned)
  }

  /**
   * The start time in /proc/<pid>/stat, or -1 when the process is gone, has exited (a zombie) or
   * the file is malformed: the caller then reads the process whole, which tells which.
   */
  readStarttime(pid: number): number {
    const length = this.#fill(this.pidPath(pid, 'stat'), BUFFER_SIZE, ONE_READ)
    if (length < 0 || !scanStat(this.#buffer, length, this.#scanned)) return -1
    return isExitedState(this.#scanned.state) ? -1 : this.#scanned.starttime
  }

  /**
   * /proc/<pid>/stat's fields for a scan of every process, without an object for each: false
   * when the pid is gone, else `into` holds them. `sshd` says whether comm is one of SSHD_COMMS,
   * `holder` whether it is one of SOCKET_HOLDER_COMMS; comm itself is never made. Throws on a
   * malformed file.
   */
  readStatFields(pid: number, into: StatFields): boolean {
    const path = this.pidPath(pid, 'stat')
    const length = this.#fill(path, BUFFER_SIZE, ONE_READ)
    if (length < 0) return false
    const scanned = this.#scanned
    if (!scanStat(this.#buffer, length, scanned))
      throw malformedBytes('stat', this.#buffer, length, path)
    into.ppid = scanned.ppid
    into.starttime = scanned.starttime
    into.exited = isExitedState(scanned.state)
    into.sshd = false
    into.holder = false
    for (const comm of SSHD_COMM_NAMES) {
      if (bytesEqual(this.#buffer, scanned.commStart, scanned.commEnd, comm)) {
        into.sshd = true
        break
      }
    }
    if (!into.sshd) {
      for (const comm of HOLDER_COMM_NAMES) {
        if (bytesEqual(this.#buffer, scanned.commStart, scanned.commEnd, comm)) into.holder = true
      }
    }
    return true
  }

  /** Seconds since boot, from /proc/uptime; the clock process start times count from. */
  readUptime(): number {
    const text = this.#readSmall(`${this.#prefix}uptime`)
    if (text === null) throw malformed('uptime', '(missing)')
    return parseUptime(text)
  }

  /**
   * The children of a process's main thread, from /proc/<pid>/task/<pid>/children (zombies
   * included: a child stays listed until its parent reaps it); null when the file is not there,
   * because the pid is gone or the kernel was built without CONFIG_PROC_CHILDREN. Throws on a
   * malformed or oversized file.
   */
  readChildren(pid: number): number[] | null {
    const path = this.pidPath(pid, `task/${pid}/children`)
    const length = this.#fill(path, CHILDREN_CAP, CHILDREN_SHORT_READ_ENDS)
    if (length < 0) return null
    if (this.#truncated) throw malformed('children', `(more than ${CHILDREN_CAP} bytes)`, path)
    const pids: number[] = []
    if (scanChildren(this.#buffer, length, pids) < 0)
      throw malformedBytes('children', this.#buffer, length, path)
    return pids
  }

  /** The number of pids in /proc/<pid>/task/<pid>/children; -1 when it is gone or malformed. */
  countChildren(pid: number): number {
    const length = this.#fill(
      this.pidPath(pid, `task/${pid}/children`),
      CHILDREN_CAP,
      CHILDREN_SHORT_READ_ENDS,
    )
    if (length < 0 || this.#truncated) return -1
    return scanChildren(this.#buffer, length, null)
  }

  /**
   * /proc/<pid>/cmdline cut at the first NUL, as UTF-8; null when the pid is gone. `previous`
   * itself, not a copy, when the title is the same ASCII text as `previous` (a re-read of a
   * process whose title rarely changes allocates nothing).
   */
  readCmdline(pid: number, previous: string | null = null): string | null {
    const length = this.#fill(this.pidPath(pid, 'cmdline'), BUFFER_SIZE, ONE_READ)
    if (length < 0) return null
    if (previous !== null) {
      let end = 0
      while (end < length && this.#buffer[end] !== 0) end++
      if (bytesEqual(this.#buffer, 0, end, previous) && isAscii(previous)) return previous
    }
    return parseCmdlineBytes(this.#buffer, length)
  }

  /**
   * /proc/<pid>/cmdline as the argv it holds while the process has not set a title: split at
   * NULs, the empty tail left out; null when the pid is gone.
   */
  readArgv(pid: number): string[] | null {
    const length = this.#fill(this.pidPath(pid, 'cmdline'), BUFFER_SIZE, ONE_READ)
    if (length < 0) return null
    const argv = this.#buffer.toString('utf8', 0, length).split('\0')
    while (argv.length > 0 && argv.at(-1) === '') argv.pop()
    return argv
  }

  /**
   * How many PID namespaces below this procfs's own the process lives in, from the NSpid line of
   * /proc/<pid>/status (0: in it; 1: in a container's namespace of its own); null when the pid
   * is gone or the kernel writes no NSpid (before Linux 4.1).
   */
  readNsDepth(pid: number): number | null {
    const status = this.#readSmall(this.pidPath(pid, 'status'))
    if (status === null) return null
    const at = status.indexOf('\nNSpid:')
    if (at < 0) return null
    const end = status.indexOf('\n', at + 1)
    const fields = status
      .slice(at + 7, end < 0 ? undefined : end)
      .trim()
      .split(/\s+/)
    return fields.length - 1
  }
}

/** What readStatFields fills in. */
export interface StatFields {
  ppid: number
  starttime: number
  /** A zombie (Z) or dead (X) process. */
  exited: boolean
  /** comm is sshd's (SSHD_COMMS: `sshd-session.pa` for Alpine's sshd-session.pam too). */
  sshd: boolean
  /** comm is a socket holder's that starts sshd per connection or on demand (SOCKET_HOLDER_COMMS). */
  holder: boolean
}

/**
 * comm values of the programs that hold sshd's listening socket and start sshd on a connection:
 * systemd (socket units), systemd-socket-activate (cut to 15 bytes), inetd and xinetd.
 */
export const SOCKET_HOLDER_COMMS: ReadonlySet<string> = new Set([
  'systemd',
  'systemd-socket-',
  'inetd',
  'xinetd',
])

const SSHD_COMM_NAMES: readonly string[] = [...SSHD_COMMS]
const HOLDER_COMM_NAMES: readonly string[] = [...SOCKET_HOLDER_COMMS]
const ZOMBIE = 0x5a // Z
const DEAD = 0x58 // X

/** A stat state byte of a zombie (Z) or dead (X) process, as hasExited tells from a ProcStat. */
function isExitedState(state: number): boolean {
  return state === ZOMBIE || state === DEAD
}

/** `[<path>: ]malformed <what>: "<text's start>"`. */
function malformed(what: string, text: string, path?: string): ExporterError {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
  const where = path === undefined ? '' : `${path}: `
  return new ExporterError(
    ErrorCode.PROCFS_MALFORMED,
    `${where}malformed ${what}: ${JSON.stringify(shown)}`,
  )
}

/**
 * Parses /proc/<pid>/stat. comm sits in parentheses and may itself hold
 * spaces and parentheses, so it runs to the LAST `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const bytes = Buffer.from(text, 'latin1')
  const scan = newStatScan()
  if (!scanStat(bytes, bytes.length, scan)) throw malformedBytes('stat', bytes, bytes.length)
  return statOf(bytes, scan)
}

/** The ProcStat of a stat line scanStat found in `buf`: no string is made of it but comm. */
function statOf(buf: Buffer, scan: StatScan): ProcStat {
  const comm = buf.toString('latin1', scan.commStart, scan.commEnd)
  return {
    pid: scan.pid,
    comm: isAscii(comm) ? comm : buf.toString('utf8', scan.commStart, scan.commEnd),
    state: String.fromCharCode(scan.state),
    ppid: scan.ppid,
    starttime: scan.starttime,
    ttyNr: scan.ttyNr,
  }
}

/** What scanStat finds in a stat line: numbers and offsets only, nothing allocated. */
interface StatScan {
  pid: number
  commStart: number
  commEnd: number
  state: number
  ppid: number
  ttyNr: number
  starttime: number
}

function newStatScan(): StatScan {
  return { pid: 0, commStart: 0, commEnd: 0, state: 0, ppid: 0, ttyNr: 0, starttime: 0 }
}

/**
 * Finds a stat line's fields into `scanned`; false when the line is malformed. Plain loops over
 * the bytes: a Buffer method is a call into C++ each time, and a scan reads tens of thousands of
 * these lines.
 */
function scanStat(buf: Buffer, length: number, scanned: StatScan): boolean {
  let open = -1
  for (let i = 0; i + 1 < length; i++) {
    if (buf[i] === SPACE && buf[i + 1] === OPEN_PAREN) {
      open = i
      break
    }
  }
  let close = -1
  for (let i = length - 1; i > open; i--) {
    if (buf[i] === CLOSE_PAREN) {
      close = i
      break
    }
  }
  if (open < 1 || close < open) return false
  const pid = decimal(buf, 0, open)
  // Fields after comm, numbered from 3 (state) as in proc(5), each after one space: the 0th is
  // state, the 1st ppid, the 4th tty_nr, the 19th starttime.
  let end = length
  while (end > 0 && buf[end - 1]! <= SPACE) end--
  let state = -1
  let ppid = -1
  let ttyNr = -1
  let starttime = -1
  let n = 0
  let start = close + 2
  for (let i = start; i <= end; i++) {
    if (i < end && buf[i] !== SPACE) continue
    if (n === 0) {
      if (i - start !== 1) return false
      state = buf[start]!
    } else if (n === 1) {
      ppid = decimal(buf, start, i)
    } else if (n === 4) {
      // A %d of the packed device number: negative for a pts past 2^19, read as unsigned.
      ttyNr = buf[start] === MINUS ? -decimal(buf, start + 1, i) >>> 0 : decimal(buf, start, i)
    } else if (n === 19) {
      starttime = decimal(buf, start, i)
      break
    }
    n++
    start = i + 1
  }
  if (state < 0 || pid < 0 || ppid === -1 || starttime === -1) return false
  scanned.pid = pid
  scanned.commStart = open + 2
  scanned.commEnd = close
  scanned.state = state
  scanned.ppid = ppid
  scanned.ttyNr = ttyNr < 0 ? 0 : ttyNr
  scanned.starttime = starttime
  return true
}

/** Whether buf[from, to) holds exactly the latin1 string `text` (an ASCII comm, say). */
function bytesEqual(buf: Buffer, from: number, to: number, text: string): boolean {
  if (to - from !== text.length) return false
  for (let i = 0; i < text.length; i++) if (buf[from + i] !== text.charCodeAt(i)) return false
  return true
}

const OPEN_PAREN = 0x28
const CLOSE_PAREN = 0x29
const SPACE = 0x20
const MINUS = 0x2d
const NEWLINE = 0x0a

/** The decimal integer in buf[from, to) (pid, ppid, starttime: never negative), or -1. */
function decimal(buf: Buffer, from: number, to: number): number {
  if (from >= to) return -1
  let value = 0
  for (let i = from; i < to; i++) {
    const c = buf[i]!
    if (c < 0x30 || c > 0x39) return -1
    value = value * 10 + (c - 0x30)
  }
  return value
}

function malformedBytes(what: string, buf: Buffer, length: number, path?: string): ExporterError {
  return malformed(what, buf.toString('latin1', 0, length), path)
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return false
  return true
}

/**
 * Unix98 pty slaves: majors 136 to 143 (Documentation/admin-guide/devices.txt); pts/N is major
 * 136, minor N as the kernel numbers them, or 136 + N / 256 and N % 256 in 8-bit minors.
 */
const PTS_MAJOR = 136
const PTS_MAJORS = 8

/**
 * The name a stat's tty_nr has under /dev (`pts/3`, `tty1`), as ps prints it; null for no
 * controlling terminal. The kernel packs major and minor as new_encode_dev does.
 */
export function ttyName(ttyNr: number): string | null {
  if (ttyNr === 0) return null
  const major = (ttyNr >>> 8) & 0xfff
  const minor = (ttyNr & 0xff) | ((ttyNr >>> 12) & 0xfff00)
  if (major >= PTS_MAJOR && major < PTS_MAJOR + PTS_MAJORS) {
    return `pts/${(major - PTS_MAJOR) * 256 + minor}`
  }
  if (major === 4 && minor < 64) return `tty${minor}`
  return `tty(${major}:${minor})`
}

/** A zombie (Z) or dead (X) process: exited, its pid kept until its parent reaps it. */
export function hasExited(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X'
}

/** /proc/uptime: `<seconds since boot> <idle seconds>`. */
export function parseUptime(text: string): number {
  const first = text.slice(0, text.indexOf(' '))
  const seconds = Number(first)
  if (first === '' || !Number.isFinite(seconds) || seconds < 0) throw malformed('uptime', text)
  return seconds
}

/**
 * USER_HZ, the unit of /proc/<pid>/stat's starttime: 100 on every Linux
 * architecture the kernel exports to user space (include/asm-generic/param.h;
 * alpha's 1024 aside), which is what sysconf(_SC_CLK_TCK) returns.
 */
export const CLOCK_TICKS_PER_SECOND = 100

/** A process's age in seconds from its starttime (ticks after boot) and the uptime. */
export function processAgeSeconds(starttime: number, uptimeSeconds: number): number {
  return Math.max(0, uptimeSeconds - starttime / CLOCK_TICKS_PER_SECOND)
}

/** A process title: cmdline (read as latin1) up to the first NUL, decoded as UTF-8. */
export function parseCmdline(raw: string): string {
  const bytes = Buffer.from(raw, 'latin1')
  return parseCmdlineBytes(bytes, bytes.length)
}

/** parseCmdline on the first `length` bytes of `buf`. */
function parseCmdlineBytes(buf: Buffer, length: number): string {
  let end = 0
  let ascii = true
  for (; end < length; end++) {
    const c = buf[end]!
    if (c === 0) break
    if (c > 127) ascii = false
  }
  return buf.toString(ascii ? 'latin1' : 'utf8', 0, end)
}

/** /proc/<pid>/task/<tid>/children: pids separated by single spaces, with a trailing space. */
export function parseChildren(text: string): number[] {
  const bytes = Buffer.from(text, 'latin1')
  const pids: number[] = []
  if (scanChildren(bytes, bytes.length, pids) < 0)
    throw malformedBytes('children', bytes, bytes.length)
  return pids
}

/**
 * The pids of a children file: their number, each pushed onto `out` unless it is null; -1 for a
 * malformed file.
 */
function scanChildren(buf: Buffer, length: number, out: number[] | null): number {
  let count = 0
  let value = 0
  let digits = 0
  for (let i = 0; i <= length; i++) {
    const c = i < length ? buf[i]! : SPACE
    if (c === SPACE || c === NEWLINE) {
      if (digits > 0) {
        if (!Number.isSafeInteger(value) || value <= 0) return -1
        out?.push(value)
        count++
      }
      value = 0
      digits = 0
    } else if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30)
      digits++
    } else {
      return -1
    }
  }
  return count
}
