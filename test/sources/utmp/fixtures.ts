/**
 * The utmp fixtures (test/fixtures/utmp: six records written by glibc in both layouts; see the
 * README there) and helpers shared by the tests of src/sources/utmp/ and test/real/utmp.test.ts.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import type { UtmpRecord } from '../../../src/sources/utmp/parse.ts'
import type { UtmpFields, UtmpRecordSize } from '../../helpers/utmp-writer.ts'

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'utmp')
export const SIZES: readonly UtmpRecordSize[] = [384, 400]

/** A directory removed after the tests. */
export function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `utmp-${prefix}-`))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The record the parser should give for fields the writer wrote (ASCII strings). */
export function expected(fields: UtmpFields): UtmpRecord {
  const str = (value: string | Buffer | undefined, size: number): string =>
    Buffer.from(value ?? '')
      .subarray(0, size)
      .toString('utf8')
      .replace(/\0.*$/s, '')
  return {
    type: fields.type as UtmpRecord['type'],
    pid: fields.pid ?? 0,
    line: str(fields.line, 32),
    id: str(fields.id, 4),
    user: str(fields.user, 32),
    host: str(fields.host, 256),
    session: fields.session ?? 0,
    time: fields.time ?? 0,
  }
}

// The six records of test/fixtures/utmp (see its README), as fields and as parsed records.

export const FIXTURE_FIELDS: UtmpFields[] = [
  {
    type: 2,
    pid: 0,
    line: '~',
    id: '~~',
    user: 'reboot',
    host: '6.1.0-18-arm64',
    time: 1709290000,
  },
  {
    type: 1,
    pid: 53,
    line: '~',
    id: '~~',
    user: 'runlevel',
    host: '6.1.0-18-arm64',
    time: 1709290005,
  },
  {
    type: 6,
    pid: 612,
    line: 'tty1',
    id: 'tty1',
    user: 'LOGIN',
    session: 612,
    time: 1709290010,
    usec: 250000,
  },
  {
    type: 7,
    pid: 4242,
    line: 'pts/0',
    id: 'ts/0',
    user: 'alice',
    host: '203.0.113.9',
    time: 1709294400,
    usec: 123456,
    addr: [203, 0, 113, 9],
  },
  { type: 8, pid: 4300, line: 'pts/1', id: 'ts/1', time: 1709294460, usec: 999999 },
  {
    type: 7,
    pid: 4400,
    line: 'pts/2',
    id: 'ts/2',
    user: 'a-user-name-of-exactly-32-bytes!',
    host: '2001:db8::1',
    time: 2147483647,
    usec: 1,
    addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  },
]
export const FIXTURE_RECORDS = FIXTURE_FIELDS.map(expected)

export const FIXTURE_TREES = [
  { tree: 'x86_64', size: 384 },
  { tree: 'aarch64', size: 400 },
] as const

/** Parses `utmpdump` text: [type] [pid] [id] [user] [line] [host] [addr] [time]. */
export function parseUtmpdumpText(
  text: string,
): Array<Omit<UtmpRecord, 'session'> & { addr: string }> {
  const out = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const m =
      /^\[(\d+)\] \[(\d+)\] \[(.{4})\] \[(.*?) *\] \[(.*?) *\] \[(.*?) *\] \[(.*?) *\] \[(.*)\]$/.exec(
        line,
      )
    assert.ok(m, `not a utmpdump line: ${line}`)
    const time = Date.parse(m[8]!.replace(/,\d+/, ''))
    out.push({
      type: Number(m[1]) as UtmpRecord['type'],
      pid: Number(m[2]),
      id: m[3]!.replace(/ +$/, ''),
      user: m[4]!,
      line: m[5]!,
      host: m[6]!,
      addr: m[7]!,
      time: time / 1000,
    })
  }
  return out
}

export function withoutSession(records: readonly UtmpRecord[]): Array<Omit<UtmpRecord, 'session'>> {
  return records.map(({ session: _session, ...rest }) => rest)
}

/** Whether a command is on PATH. */
export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
