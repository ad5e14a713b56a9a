/**
 * glibc's utmp format, the login records `who` reads: parseUtmp turns a file's bytes into records.
 * Both record sizes (384 bytes where glibc keeps 32-bit times, as on x86_64; 400 on aarch64,
 * s390x) and both byte orders are told from the file itself, never from the host. A record whose
 * ut_type is not 0..9, and a trailing partial record, are skipped and counted in `malformed`.
 * For sshd's records, ut_pid is the process that called login(3): the connection's `[priv]`
 * monitor (root logins up to OpenSSH 9.7: the session's shell). Pure: read.ts reads the file.
 * The layout, its sources and what sshd writes are in docs/utmp.md.
 */

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
  /** ut_pid: for sshd, see the file's header. A pid of the writer's pid namespace. */
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
  // indexOf and compare below run natively: a byte loop here was most of a parse before V8 had
  // optimised it (a one-shot `sessions` parses once, cold).
  const nul = buf.indexOf(0, start)
  return nul < 0 || nul - start > size ? size : nul - start
}

/** The widest field, in zeros: what a padded field's tail is compared to. */
const ZEROS = new Uint8Array(HOST_SIZE)

/** True when every byte after the string's terminator is NUL, as every writer pads. */
function isNulPadded(buf: Buffer, start: number, size: number): boolean {
  const from = start + fieldLength(buf, start, size) + 1
  const to = start + size
  return from >= to || buf.compare(ZEROS, 0, to - from, from, to) === 0
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
