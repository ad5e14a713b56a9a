/**
 * utmp, the login records `who` reads, under an injected root (`--path.rootfs`), and the idle
 * time of a record's tty as `who -u` computes it.
 *
 * ## The record layout (glibc)
 *
 * glibc's `struct utmp` (bits/utmp.h; sysdeps/gnu/bits/utmp.h before glibc 2.31), quoted from
 * glibc master (commit 04e750e75b73, 2026):
 *
 *     short int ut_type;  pid_t ut_pid;  char ut_line[32];  char ut_id[4];
 *     char ut_user[32];   char ut_host[256];  struct exit_status ut_exit;  // 2 shorts
 *     #if __WORDSIZE_TIME64_COMPAT32
 *       int32_t ut_session;
 *       struct { __uint32_t tv_sec; int32_t tv_usec; } ut_tv;  // tv_sec int32_t before 2.40
 *     #else
 *       long int ut_session;
 *       struct timeval ut_tv;
 *     #endif
 *     int32_t ut_addr_v6[4];  char __glibc_reserved[20];
 *
 * `__WORDSIZE_TIME64_COMPAT32` comes from each architecture's bits/wordsize.h: 1 on x86 (x86_64,
 * x32 and i386), arm, riscv, powerpc, mips and sparc; 0 on aarch64 (sysdeps/aarch64/bits/
 * wordsize.h), s390x, alpha and the generic 64-bit ports (loongarch). glibc's own test
 * login/tst-utmp-size.c asserts the result: UTMP_SIZE 384 (sysdeps/x86/utmp-size.h and the other
 * COMPAT32 ports), 400 (sysdeps/generic/utmp-size.h). Offsets, as printed by offsetof() with
 * Debian bookworm's glibc 2.36 headers (test/fixtures/utmp/make-utmp.c):
 *
 *     field            384 (x86_64 …)   400 (aarch64 …)
 *     ut_type          0   int16        0   int16
 *     ut_pid           4   int32        4   int32
 *     ut_line          8   char[32]     8   char[32]
 *     ut_id            40  char[4]      40  char[4]
 *     ut_user          44  char[32]     44  char[32]
 *     ut_host          76  char[256]    76  char[256]
 *     ut_exit          332 2 × int16    332 2 × int16
 *     ut_session       336 int32        336 int64 (long)
 *     ut_tv.tv_sec     340 uint32       344 int64 (time_t)
 *     ut_tv.tv_usec    344 int32        352 int64 (suseconds_t)
 *     ut_addr_v6       348 int32[4]     360 int32[4]
 *     __glibc_reserved 364 char[20]     376 char[20], then 4 bytes of padding
 *
 * The record size and byte order (s390x and big-endian powerpc write big-endian) are detected
 * from the file, never assumed from the host: a file's length is often a multiple of only one
 * size, but not always (9600 bytes is 25 × 384 and 24 × 400), so each reading is scored by how
 * plausible its records look (a type 0..9, a pid in the kernel's range, NUL-padded strings, a
 * microsecond count below 10^6) and the best one wins. A trailing partial record, and a record
 * whose type is not 0..9, are skipped and counted as malformed; the rest is read.
 *
 * ## What sshd writes (checked on real OpenSSH 9.2 and 10.0, see test/sources/utmp.test.ts)
 *
 * - Only sessions with a pty get a record (notty sessions, sftp, port forwarding get none).
 * - At login a USER_PROCESS record: ut_line `pts/N`, ut_id the line's last 4 bytes (`ts/0`,
 *   `s/10`), ut_user, ut_host (the client's address when UseDNS is off). At the session's end the same slot becomes DEAD_PROCESS with
 *   user and host cleared and ut_pid kept.
 * - ut_pid is NOT the post-auth child (`alice@pts/0`), although OpenSSH's monitor.c
 *   (mm_answer_pty) passes `s->pid = pmonitor->m_pid` to record_login: on Linux, loginrec.c uses
 *   login(3) (USE_LOGIN), and glibc's login() overwrites ut_pid with getpid(), the caller's pid.
 *   So ut_pid is the process that called record_login:
 *     - non-root logins (9.2, 10.0): the `[priv]` monitor (`sshd: alice [priv]`, the connection's
 *       top process), which allocates the pty; every pty session of the connection has that pid;
 *     - root logins up to 9.7 (no post-auth privsep): the forked session child that runs do_login()
 *       and then execs the shell or command, i.e. the user's shell, a child of `root@pts/0`;
 *     - root logins from 9.8 (privsep for root too, sshd-session.c privsep_postauth): the
 *       `root [priv]` monitor.
 *   A record is an orphan (what `who` shows wrongly) when ut_pid is gone. Pids are reused: a
 *   process that started after the record's time is not the one that wrote it.
 * - ut_pid is a pid of the pid namespace sshd runs in: compare it with that namespace's /proc.
 *
 * ## Reading
 *
 * utmp and tty devices live on in-memory filesystems (/run is a tmpfs, /dev/pts a devpts), so
 * they are read synchronously, like procfs. Paths are resolved under the root as if it were a
 * chroot: `..` and absolute symlinks (a host's /var/run -> /run) never leave it.
 */
import { closeSync, lstatSync, openSync, readSync, type Stats, statSync } from 'node:fs'
import { isMissing, resolveInRoot } from './rootfs.ts'

/** Values of ut_type (glibc bits/utmp.h). */
export const UtmpType = {
  EMPTY: 0,
  RUN_LVL: 1,
  BOOT_TIME: 2,
  NEW_TIME: 3,
  OLD_TIME: 4,
  INIT_PROCESS: 5,
  LOGIN_PROCESS: 6,
  USER_PROCESS: 7,
  DEAD_PROCESS: 8,
  ACCOUNTING: 9,
} as const

export type UtmpType = (typeof UtmpType)[keyof typeof UtmpType]

export type UtmpRecordSize = 384 | 400

/** One utmp record; strings are cut at their first NUL and decoded as UTF-8. */
export interface UtmpRecord {
  type: UtmpType
  /** ut_pid: for sshd, see the module comment. A pid of the writer's pid namespace. */
  pid: number
  /** ut_line: the tty without `/dev/` (`pts/0`), `~` for boot and run-level records. */
  line: string
  /** ut_id: the tty's suffix (`ts/0`), at most 4 bytes. */
  id: string
  user: string
  /** ut_host: the client (an address unless sshd's UseDNS is on). */
  host: string
  /** ut_session (sshd leaves it 0). */
  session: number
  /** ut_tv.tv_sec: when the record was written, in seconds since the epoch. */
  time: number
}

export interface ParsedUtmp {
  records: UtmpRecord[]
  /** The detected record size; null when the file holds no whole record. */
  recordSize: UtmpRecordSize | null
  /** The detected byte order (`le` when nothing could be detected). */
  byteOrder: 'le' | 'be'
  /** Records skipped: an impossible ut_type, or a trailing partial record. */
  malformed: number
}

export interface UtmpFile extends ParsedUtmp {
  /** Which file was read, as a path inside the root. */
  path: string
  /** The file was larger than the cap: only its beginning was parsed. */
  truncated: boolean
}

/** How much of utmp one read asks for when UtmpReader compares it with the last read. */
const UTMP_CHUNK_BYTES = 64 * 1024

/** Where utmp is looked for, in order; the second only when the first does not exist. */
export const UTMP_PATHS = ['/run/utmp', '/var/run/utmp'] as const

/** About 16 MiB, and a multiple of both record sizes (9600 = 25 × 384 = 24 × 400). */
export const UTMP_MAX_BYTES = 1747 * 9600

interface Layout {
  size: UtmpRecordSize
  le: boolean
  session: number
  tvSec: number
  tvUsec: number
  /** Width of ut_session, tv_sec and tv_usec: 4 or 8 bytes. */
  wide: boolean
}

const OFF_TYPE = 0
const OFF_PID = 4
const OFF_LINE = 8
const LINE_SIZE = 32
const OFF_ID = 40
const ID_SIZE = 4
const OFF_USER = 44
const USER_SIZE = 32
const OFF_HOST = 76
const HOST_SIZE = 256

const NARROW = { session: 336, tvSec: 340, tvUsec: 344, wide: false }
const WIDE = { session: 336, tvSec: 344, tvUsec: 352, wide: true }

/** In order of preference when the scores tie (a file of empty records). */
const LAYOUTS: readonly Layout[] = [
  { size: 384, le: true, ...NARROW },
  { size: 400, le: true, ...WIDE },
  { size: 384, le: false, ...NARROW },
  { size: 400, le: false, ...WIDE },
]

/** Linux's PID_MAX_LIMIT on 64-bit (4 × 1024 × 1024): no pid is larger. */
const PID_MAX = 4 * 1024 * 1024
/** At most this many records, spread over the file, are scored per layout. */
const SAMPLE = 256

function readType(buf: Buffer, at: number, le: boolean): number {
  return le ? buf.readInt16LE(at + OFF_TYPE) : buf.readInt16BE(at + OFF_TYPE)
}

function readInt32(buf: Buffer, at: number, le: boolean): number {
  return le ? buf.readInt32LE(at) : buf.readInt32BE(at)
}

/** A 4- or 8-byte signed field; 8-byte values beyond 2^53 lose precision (no real time does). */
function readWord(buf: Buffer, at: number, layout: Layout): number {
  if (!layout.wide) return readInt32(buf, at, layout.le)
  return Number(layout.le ? buf.readBigInt64LE(at) : buf.readBigInt64BE(at))
}

function readSeconds(buf: Buffer, at: number, layout: Layout): number {
  // glibc 2.40 made the 32-bit tv_sec unsigned (good until 2106); earlier ones wrote int32, the
  // same bits for every time before 2038.
  if (layout.wide) return readWord(buf, at, layout)
  return layout.le ? buf.readUInt32LE(at) : buf.readUInt32BE(at)
}

function isValidType(type: number): type is UtmpType {
  return type >= 0 && type <= 9
}

/** Length of a NUL-terminated string in a fixed field (the field's size when it has no NUL). */
function fieldLength(buf: Buffer, start: number, size: number): number {
  for (let i = 0; i < size; i++) if (buf[start + i] === 0) return i
  return size
}

/** True when every byte after the string's terminator is NUL, as every writer pads. */
function isNulPadded(buf: Buffer, start: number, size: number): boolean {
  for (let i = fieldLength(buf, start, size) + 1; i < size; i++)
    if (buf[start + i] !== 0) return false
  return true
}

function text(buf: Buffer, start: number, size: number): string {
  const length = fieldLength(buf, start, size)
  return length === 0 ? '' : buf.toString('utf8', start, start + length)
}

const BAD = -1
const BLANK = 0
const GOOD = 1

/** How a record at `at` looks under `layout`: GOOD, BLANK (all zero so far as checked) or BAD. */
function plausibility(buf: Buffer, at: number, layout: Layout): number {
  const type = readType(buf, at, layout.le)
  if (!isValidType(type)) return BAD
  const pid = readInt32(buf, at + OFF_PID, layout.le)
  if (pid < 0 || pid > PID_MAX) return BAD
  if (
    !isNulPadded(buf, at + OFF_LINE, LINE_SIZE) ||
    !isNulPadded(buf, at + OFF_USER, USER_SIZE) ||
    !isNulPadded(buf, at + OFF_HOST, HOST_SIZE)
  ) {
    return BAD
  }
  const usec = readWord(buf, at + layout.tvUsec, layout)
  if (usec < 0 || usec > 999_999) return BAD
  const sec = readSeconds(buf, at + layout.tvSec, layout)
  if (sec < 0 || sec > 0xffffffff) return BAD
  if (type === UtmpType.EMPTY && pid === 0 && buf[at + OFF_LINE] === 0 && sec === 0) return BLANK
  return GOOD
}

function detectLayout(buf: Buffer): Layout | null {
  let best: Layout | null = null
  let bestScore = 0
  let bestExact = false
  for (const layout of LAYOUTS) {
    const count = Math.floor(buf.length / layout.size)
    if (count === 0) continue
    const samples = Math.min(count, SAMPLE)
    let score = 0
    for (let s = 0; s < samples; s++) {
      // Evenly spread: every record of a small file, a cross-section of a large one.
      const index = samples === count ? s : Math.floor((s * count) / samples)
      score += plausibility(buf, index * layout.size, layout)
    }
    const exact = buf.length % layout.size === 0
    if (best === null || score > bestScore || (score === bestScore && exact && !bestExact)) {
      best = layout
      bestScore = score
      bestExact = exact
    }
  }
  return best
}

/**
 * Parses a utmp file's bytes (glibc's format, either record size, either byte order). Never
 * throws: what cannot be a record is counted in `malformed`.
 */
export function parseUtmp(buf: Buffer): ParsedUtmp {
  const layout = detectLayout(buf)
  if (layout === null) {
    return { records: [], recordSize: null, byteOrder: 'le', malformed: buf.length > 0 ? 1 : 0 }
  }
  const records: UtmpRecord[] = []
  let malformed = buf.length % layout.size === 0 ? 0 : 1
  const end = buf.length - layout.size
  for (let at = 0; at <= end; at += layout.size) {
    const type = readType(buf, at, layout.le)
    if (!isValidType(type)) {
      malformed++
      continue
    }
    records.push({
      type,
      pid: readInt32(buf, at + OFF_PID, layout.le),
      line: text(buf, at + OFF_LINE, LINE_SIZE),
      id: text(buf, at + OFF_ID, ID_SIZE),
      user: text(buf, at + OFF_USER, USER_SIZE),
      host: text(buf, at + OFF_HOST, HOST_SIZE),
      session: readWord(buf, at + layout.session, layout),
      time: readSeconds(buf, at + layout.tvSec, layout),
    })
  }
  return { records, recordSize: layout.size, byteOrder: layout.le ? 'le' : 'be', malformed }
}

/**
 * Reads `<rootfs>/run/utmp`, or `<rootfs>/var/run/utmp` when the former does not exist; null
 * when neither does (utmp is not applicable on this host). Reads at most `maxBytes`. Throws the
 * file system's error when the file exists but cannot be read (EACCES, EISDIR, ELOOP). A
 * UtmpReader's first read: a scraper keeps one to read it again.
 */
export function readUtmp(rootfs: string, maxBytes: number = UTMP_MAX_BYTES): UtmpFile | null {
  return new UtmpReader(rootfs, maxBytes).read()
}

/**
 * readUtmp kept by a scraper: the file is read into a buffer kept from scrape to scrape, and when its
 * bytes are those of the last read the last result is given again, the same objects. utmp
 * changes only at logins and logouts, and at 10,000 sessions it is 4.6 MB of 12,000 records:
 * parsing it every scrape was a millisecond per thousand sessions and most of the heap's churn.
 */
export class UtmpReader {
  readonly #rootfs: string
  readonly #maxBytes: number
  /** The bytes the last result was parsed from (the first #length), read over in place. */
  #current: Buffer = Buffer.alloc(0)
  #length = 0
  /** What each read system call fills: the file is compared with #current a chunk at a time. */
  readonly #chunk = Buffer.allocUnsafe(UTMP_CHUNK_BYTES)
  #last: UtmpFile | null = null

  constructor(rootfs: string, maxBytes: number = UTMP_MAX_BYTES) {
    this.#rootfs = rootfs
    this.#maxBytes = maxBytes
  }

  read(): UtmpFile | null {
    for (const path of UTMP_PATHS) {
      const host = resolveInRoot(this.#rootfs, path)
      if (host === null) continue
      const read = this.#readComparing(host)
      if (read === null) continue
      const last = this.#last
      if (read.same && last?.path === path && last.truncated === read.truncated) return last
      const bytes = this.#current.subarray(0, this.#length)
      this.#last = { ...parseUtmp(bytes), path, truncated: read.truncated }
      return this.#last
    }
    this.#last = null
    this.#length = 0
    return null
  }

  /**
   * Reads the file over #current, comparing while its bytes are those already there: one buffer
   * of the file's size, not a second to compare with. `same` when every byte and the length are
   * the last read's. Null when the file is gone.
   */
  #readComparing(host: string): { same: boolean; truncated: boolean } | null {
    let fd: number
    try {
      fd = openSync(host, 'r')
    } catch (err) {
      if (isMissing(err)) return null
      throw err
    }
    try {
      // One byte past the cap tells a truncated file.
      const cap = this.#maxBytes + 1
      let length = 0
      let same = true
      for (;;) {
        const n = readSync(fd, this.#chunk, 0, Math.min(this.#chunk.length, cap - length), null)
        if (n === 0) break
        const before = length
        length += n
        if (same && length <= this.#length) {
          if (this.#chunk.compare(this.#current, before, length, 0, n) === 0) {
            if (length === cap) break
            continue
          }
        }
        same = false
        if (length > this.#current.length) {
          const bigger = Buffer.allocUnsafe(
            Math.min(Math.max(length, this.#current.length * 2), cap),
          )
          this.#current.copy(bigger, 0, 0, before)
          this.#current = bigger
        }
        this.#chunk.copy(this.#current, before, 0, n)
        if (length === cap) break
      }
      const truncated = length > this.#maxBytes
      if (truncated) length = this.#maxBytes
      same &&= length === this.#length
      this.#length = length
      return { same, truncated }
    } finally {
      closeSync(fd)
    }
  }
}

/**
 * Seconds since the tty of a utmp record last had input, as `who -u` computes its IDLE column:
 * now minus the access time of `/dev/<line>` (coreutils who.c print_user(): stat() of
 * `/dev/` + ut_line, or of ut_line itself when it is absolute, then `stats.st_atime`; checked in
 * coreutils 9.1, Debian bookworm's, and 9.x master). The kernel sets a tty's atime when a reader
 * gets input from it (drivers/tty/tty_io.c tty_read -> tty_update_time) and only when the time
 * moved past the same 8-second slot, so the value is exact to about 8 seconds. Output does not
 * count (it sets mtime). A device time in the future (a clock step) gives 0; `who` shows `old`.
 * null when the device is not there (the session is gone, or `line` names no device).
 */
export function ttyIdleSeconds(rootfs: string, line: string, nowMs: number): number | null {
  if (line === '') return null
  const host = resolveInRoot(rootfs, line.startsWith('/') ? line : `/dev/${line}`)
  if (host === null) return null
  let atimeMs: number
  try {
    atimeMs = statSync(host).atimeMs
  } catch (err) {
    if (isMissing(err)) return null
    throw err
  }
  return Math.max(0, (nowMs - atimeMs) / 1000)
}

/**
 * ttyIdleSeconds for many lines at one instant: each directory (`/dev/pts`) is resolved under
 * the root once, and each device is then one lstat. A device that is itself a symlink is
 * resolved whole, as ttyIdleSeconds does.
 */
export function ttyIdleReader(rootfs: string, nowMs: number): (line: string) => number | null {
  return new TtyIdle(rootfs).reader(nowMs)
}

/** Lines remembered by a TtyIdle: more are a sign of churn, and the memory is started afresh. */
const TTY_PATHS_MAX = 65_536

/**
 * ttyIdleReader for a scraper: each line's device path is remembered from scrape to scrape,
 * for as long as its directory resolves to the same place, so that a pty session costs one
 * lstat and no strings.
 */
export class TtyIdle {
  readonly #rootfs: string
  readonly #paths = new Map<string, { dirPath: string; dir: string; device: string }>()

  constructor(rootfs: string) {
    this.#rootfs = rootfs
  }

  /** A reader for one instant; directories are resolved again for each. */
  reader(nowMs: number): (line: string) => number | null {
    const rootfs = this.#rootfs
    const dirs = new Map<string, string | null>()
    const resolveDir = (dirPath: string): string | null => {
      let dir = dirs.get(dirPath)
      if (dir === undefined) {
        dir = resolveInRoot(rootfs, dirPath)
        dirs.set(dirPath, dir)
      }
      return dir
    }
    return (line) => {
      if (line === '') return null
      let known = this.#paths.get(line)
      if (known === undefined || resolveDir(known.dirPath) !== known.dir) {
        const path = line.startsWith('/') ? line : `/dev/${line}`
        const slash = path.lastIndexOf('/')
        const name = path.slice(slash + 1)
        if (name === '' || name === '.' || name === '..') return ttyIdleSeconds(rootfs, line, nowMs)
        const dirPath = path.slice(0, slash) || '/'
        const dir = resolveDir(dirPath)
        if (dir === null) return null
        if (this.#paths.size >= TTY_PATHS_MAX) this.#paths.clear()
        known = { dirPath, dir, device: `${dir}/${name}` }
        this.#paths.set(line, known)
      }
      let stats: Stats
      try {
        stats = lstatSync(known.device)
      } catch (err) {
        if (isMissing(err)) return null
        throw err
      }
      if (stats.isSymbolicLink()) return ttyIdleSeconds(rootfs, line, nowMs)
      return Math.max(0, (nowMs - stats.atimeMs) / 1000)
    }
  }
}
