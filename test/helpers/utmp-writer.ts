// Writes glibc utmp records, for tests. Deliberately independent of src/sources/utmp/: its own
// offset table, taken from offsetof() on glibc's struct utmp (test/fixtures/utmp/make-utmp.c
// prints it, and test/sources/utmp/parse.test.ts compares this table with that output when gcc is
// there), so a mistake in the parser's offsets cannot be repeated here unnoticed.
//
//   field           384-byte (x86_64)   400-byte (aarch64: long ut_session, struct timeval)
//   ut_type         0    int16          0    int16
//   ut_pid          4    int32          4    int32
//   ut_line         8    char[32]       8    char[32]
//   ut_id           40   char[4]        40   char[4]
//   ut_user         44   char[32]       44   char[32]
//   ut_host         76   char[256]      76   char[256]
//   ut_exit         332  int16 × 2      332  int16 × 2
//   ut_session      336  int32          336  int64
//   ut_tv.tv_sec    340  int32          344  int64
//   ut_tv.tv_usec   344  int32          352  int64
//   ut_addr_v6      348  int32[4]       360  int32[4]
//   reserved        364  char[20]       376  char[20] (+ 4 bytes of padding)

import { writeFileSync } from 'node:fs'

export type UtmpRecordSize = 384 | 400

/** A record's fields; strings are written as UTF-8 (a Buffer is written as is), NUL-padded. */
export interface UtmpFields {
  /** Any int16, so tests can write impossible types. */
  type: number
  pid?: number
  line?: string | Buffer
  id?: string | Buffer
  user?: string | Buffer
  host?: string | Buffer
  exitTermination?: number
  exitStatus?: number
  session?: number
  /** tv_sec. */
  time?: number
  usec?: number
  /** ut_addr_v6 as 16 bytes, network order (an IPv4 address is the first 4). */
  addr?: readonly number[]
}

export interface EncodeOptions {
  /** Big-endian, as s390x and big-endian powerpc write. Default little-endian. */
  bigEndian?: boolean
}

interface Field {
  offset: number
  bytes: number
}

const COMMON = {
  type: { offset: 0, bytes: 2 },
  pid: { offset: 4, bytes: 4 },
  line: { offset: 8, bytes: 32 },
  id: { offset: 40, bytes: 4 },
  user: { offset: 44, bytes: 32 },
  host: { offset: 76, bytes: 256 },
  exitTermination: { offset: 332, bytes: 2 },
  exitStatus: { offset: 334, bytes: 2 },
} as const

/** The writer's layouts, by record size. */
export const WRITER_LAYOUTS: Record<
  UtmpRecordSize,
  typeof COMMON & { session: Field; time: Field; usec: Field; addr: Field }
> = {
  384: {
    ...COMMON,
    session: { offset: 336, bytes: 4 },
    time: { offset: 340, bytes: 4 },
    usec: { offset: 344, bytes: 4 },
    addr: { offset: 348, bytes: 16 },
  },
  400: {
    ...COMMON,
    session: { offset: 336, bytes: 8 },
    time: { offset: 344, bytes: 8 },
    usec: { offset: 352, bytes: 8 },
    addr: { offset: 360, bytes: 16 },
  },
}

function putInt(buf: Buffer, field: Field, value: number, be: boolean): void {
  switch (field.bytes) {
    case 2:
      if (be) buf.writeInt16BE(value, field.offset)
      else buf.writeInt16LE(value, field.offset)
      return
    case 4:
      // tv_sec is unsigned since glibc 2.40: accept 0..2^32-1 as well as negative int32s.
      if (value > 0x7fffffff) {
        if (be) buf.writeUInt32BE(value, field.offset)
        else buf.writeUInt32LE(value, field.offset)
      } else if (be) buf.writeInt32BE(value, field.offset)
      else buf.writeInt32LE(value, field.offset)
      return
    case 8:
      if (be) buf.writeBigInt64BE(BigInt(value), field.offset)
      else buf.writeBigInt64LE(BigInt(value), field.offset)
      return
    default:
      throw new Error(`no integer of ${field.bytes} bytes`)
  }
}

/** strncpy(): the bytes, cut at the field's size (then without a NUL), the rest left zero. */
function putString(buf: Buffer, field: Field, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  bytes.copy(buf, field.offset, 0, Math.min(bytes.length, field.bytes))
}

/** One record in glibc's binary format. */
export function encodeUtmpRecord(
  fields: UtmpFields,
  size: UtmpRecordSize,
  options: EncodeOptions = {},
): Buffer {
  const layout = WRITER_LAYOUTS[size]
  const be = options.bigEndian ?? false
  const buf = Buffer.alloc(size)
  putInt(buf, layout.type, fields.type, be)
  putInt(buf, layout.pid, fields.pid ?? 0, be)
  putString(buf, layout.line, fields.line ?? '')
  putString(buf, layout.id, fields.id ?? '')
  putString(buf, layout.user, fields.user ?? '')
  putString(buf, layout.host, fields.host ?? '')
  putInt(buf, layout.exitTermination, fields.exitTermination ?? 0, be)
  putInt(buf, layout.exitStatus, fields.exitStatus ?? 0, be)
  putInt(buf, layout.session, fields.session ?? 0, be)
  putInt(buf, layout.time, fields.time ?? 0, be)
  putInt(buf, layout.usec, fields.usec ?? 0, be)
  if (fields.addr) Buffer.from(fields.addr).copy(buf, layout.addr.offset, 0, layout.addr.bytes)
  return buf
}

/** The records, one after another, as a utmp file holds them. */
export function encodeUtmp(
  records: readonly UtmpFields[],
  size: UtmpRecordSize = 384,
  options: EncodeOptions = {},
): Buffer {
  return Buffer.concat(records.map((r) => encodeUtmpRecord(r, size, options)))
}

/** Writes a utmp file (384-byte records unless told otherwise). */
export function writeUtmp(
  path: string,
  records: readonly UtmpFields[],
  size: UtmpRecordSize = 384,
  options: EncodeOptions = {},
): void {
  writeFileSync(path, encodeUtmp(records, size, options))
}

/**
 * A USER_PROCESS record as sshd writes it for a pty session: ut_id is the last 4 bytes of the
 * line (loginrec.c line_abbrevname), ut_pid the `[priv]` monitor (glibc's login(3) sets getpid()).
 */
export function sshdLogin(fields: {
  pid: number
  tty: number
  user: string
  host?: string
  time?: number
}): UtmpFields {
  return {
    type: 7,
    pid: fields.pid,
    line: `pts/${fields.tty}`,
    id: `pts/${fields.tty}`.slice(-4),
    user: fields.user,
    host: fields.host ?? '127.0.0.1',
    time: fields.time ?? Math.floor(Date.now() / 1000),
  }
}
