/**
 * Writes entries into a real journal file with Debian's systemd-journal-remote (package
 * systemd-journal-remote), which reads the Journal Export Format on stdin
 * (https://systemd.io/JOURNAL_EXPORT_FORMATS/): `KEY=value\n` per field, a blank line after each
 * entry, and for a value holding a newline or arbitrary bytes `KEY\n`, its length as a
 * little-endian uint64, the bytes, `\n`.
 *
 * `systemd-journal-remote --output=<dir>/<name>.journal -` as systemd 252 runs it:
 * - the output must be a file whose name ends in `.journal`, in a directory that exists
 *   (`For SplitMode=none, output file name must end with .journal.`, `… output must be a file.`);
 * - a later run appends to the same file, and a `journalctl --directory --follow` already
 *   running shows what it appended;
 * - an entry without `__REALTIME_TIMESTAMP` is dropped (`Entry is invalid, ignoring.`) and the
 *   exit code is still 0, so the count it prints (`Finishing after writing N entries`) is
 *   checked; `__MONOTONIC_TIMESTAMP` and `_BOOT_ID` are optional (0 and the null id), but
 *   `journalctl --follow` without `--merge` wants a real boot id;
 * - a file whose last entry is dated in the future is renamed to `<name>@….journal~` (`File …
 *   corrupted or uncleanly shut down, renaming and replacing.`) and a new one started: a
 *   rotation, on demand. Earlier-than-last timestamps in the past are accepted as they are.
 *
 * A missing binary is a failure naming the install script, never a skip.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'

export const JOURNAL_REMOTE =
  process.env.SYSTEMD_JOURNAL_REMOTE ?? '/lib/systemd/systemd-journal-remote'
export const JOURNALCTL = process.env.JOURNALCTL ?? '/usr/bin/journalctl'

/** The `_BOOT_ID` of every entry written (journalctl --follow shows one boot only). */
export const TEST_BOOT_ID = '5ad0e4ec5ad0e4ec5ad0e4ec5ad0e4ec'

/** The file appendJournal writes when not told otherwise. */
export const DEFAULT_JOURNAL_FILE = 'sshd.journal'

export interface JournalRecord {
  /** SYSLOG_IDENTIFIER. */
  identifier: string
  /** _PID (and SYSLOG_PID unless `syslogPid` says otherwise). */
  pid?: number
  /** SYSLOG_PID when it differs from _PID; null to leave it out. */
  syslogPid?: number | null
  /** MESSAGE: a string is written as UTF-8, a Buffer as it is. */
  message: string | Buffer
  /** __REALTIME_TIMESTAMP in µs since the epoch; default now, later than the last one written. */
  realtimeUs?: bigint
  /** Any other fields, written as given. */
  fields?: Readonly<Record<string, string | Buffer>>
}

let lastRealtimeUs = 0n
let lastMonotonicUs = 0n

function nextRealtime(): bigint {
  const now = BigInt(Date.now()) * 1000n
  lastRealtimeUs = now > lastRealtimeUs ? now : lastRealtimeUs + 1n
  return lastRealtimeUs
}

function nextMonotonic(): bigint {
  const now = process.hrtime.bigint() / 1000n
  lastMonotonicUs = now > lastMonotonicUs ? now : lastMonotonicUs + 1n
  return lastMonotonicUs
}

function encodeField(name: string, value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  if (typeof value === 'string' && !value.includes('\n')) {
    return Buffer.concat([Buffer.from(`${name}=`), bytes, Buffer.from('\n')])
  }
  const size = Buffer.alloc(8)
  size.writeBigUInt64LE(BigInt(bytes.length))
  return Buffer.concat([Buffer.from(`${name}\n`), size, bytes, Buffer.from('\n')])
}

/** The Journal Export Format of `records`; Buffers and values with newlines in binary form. */
export function encodeJournalExport(records: readonly JournalRecord[]): Buffer {
  const parts: Buffer[] = []
  for (const r of records) {
    parts.push(encodeField('__REALTIME_TIMESTAMP', String(r.realtimeUs ?? nextRealtime())))
    parts.push(encodeField('__MONOTONIC_TIMESTAMP', String(nextMonotonic())))
    parts.push(encodeField('_BOOT_ID', TEST_BOOT_ID))
    parts.push(encodeField('SYSLOG_IDENTIFIER', r.identifier))
    if (r.pid !== undefined) parts.push(encodeField('_PID', String(r.pid)))
    const syslogPid = r.syslogPid === undefined ? r.pid : r.syslogPid
    if (syslogPid !== undefined && syslogPid !== null) {
      parts.push(encodeField('SYSLOG_PID', String(syslogPid)))
    }
    for (const [name, value] of Object.entries(r.fields ?? {})) parts.push(encodeField(name, value))
    parts.push(encodeField('MESSAGE', r.message))
    parts.push(Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}

const queues = new Map<string, Promise<unknown>>()

/**
 * Appends `records` to `<dir>/<file>` (created when missing; `dir` must exist), one
 * systemd-journal-remote run at a time per file. Throws unless every record was written.
 */
export function appendJournal(
  dir: string,
  records: readonly JournalRecord[],
  file = DEFAULT_JOURNAL_FILE,
): Promise<void> {
  const output = join(dir, file)
  const previous = queues.get(output) ?? Promise.resolve()
  const next = previous.then(() => writeJournal(output, records))
  queues.set(
    output,
    next.catch(() => undefined),
  )
  return next
}

async function writeJournal(output: string, records: readonly JournalRecord[]): Promise<void> {
  if (!existsSync(JOURNAL_REMOTE)) {
    throw new Error(
      `${JOURNAL_REMOTE} not found: run scripts/install-test-deps.sh (as root) for systemd-journal-remote`,
    )
  }
  const r = await execa(JOURNAL_REMOTE, [`--output=${output}`, '-'], {
    input: encodeJournalExport(records),
    reject: false,
    timeout: 10_000,
  })
  const written = /Finishing after writing (\d+) entries/.exec(r.stderr)
  if (r.exitCode !== 0 || written === null || Number(written[1]) !== records.length) {
    throw new Error(
      `${JOURNAL_REMOTE} --output=${output} wrote ${written?.[1] ?? 'no'} of ${records.length} entries ` +
        `(exit ${r.exitCode ?? r.signal}): ${r.stderr.trim()}`,
    )
  }
}
