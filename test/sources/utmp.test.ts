import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  parseUtmp,
  readUtmp,
  TtyIdle,
  ttyIdleReader,
  ttyIdleSeconds,
  UTMP_PATHS,
  UtmpReader,
  type UtmpRecord,
  UtmpType,
} from '../../src/sources/utmp.ts'
import { resolveInRoot } from '../../src/sources/rootfs.ts'
import { readProcess, SSHD_VERSIONS, startSshd, waitFor } from '../helpers/sshd.ts'
import {
  encodeUtmp,
  encodeUtmpRecord,
  sshdLogin,
  type UtmpFields,
  type UtmpRecordSize,
  WRITER_LAYOUTS,
  writeUtmp,
} from '../helpers/utmp-writer.ts'

const run = promisify(execFile)
const FIXTURES = fileURLToPath(new URL('../fixtures/utmp', import.meta.url))
const SIZES: readonly UtmpRecordSize[] = [384, 400]

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `utmp-${prefix}-`))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The record the parser should give for fields the writer wrote (ASCII strings). */
function expected(fields: UtmpFields): UtmpRecord {
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

/** A deterministic pseudo-random byte source (mulberry32), so garbage tests are reproducible. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let state = seed >>> 0
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff
  }
  return out
}

// -------------------------------------------------------------------------------------------
// The six records of test/fixtures/utmp (see its README), as fields and as parsed records.

const FIXTURE_FIELDS: UtmpFields[] = [
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
const FIXTURE_RECORDS = FIXTURE_FIELDS.map(expected)

const FIXTURE_TREES = [
  { tree: 'x86_64', size: 384 },
  { tree: 'aarch64', size: 400 },
] as const

// -------------------------------------------------------------------------------------------

describe('parseUtmp: one record of each kind, both sizes, both byte orders', () => {
  const CASES: Array<[string, UtmpFields]> = [
    [
      'an sshd login',
      sshdLogin({ pid: 4242, tty: 0, user: 'alice', host: '203.0.113.9', time: 1709294400 }),
    ],
    [
      'an sshd login on pts/10 (ut_id is the last 4 bytes)',
      sshdLogin({ pid: 9, tty: 10, user: 'bob', time: 1 }),
    ],
    [
      'a logout (DEAD_PROCESS keeps pid and line)',
      { type: 8, pid: 4242, line: 'pts/0', id: 'ts/0', time: 1709294999 },
    ],
    [
      'a boot record',
      { type: 2, line: '~', id: '~~', user: 'reboot', host: '6.1.0-18-amd64', time: 1709290000 },
    ],
    [
      'a run level',
      { type: 1, pid: 0x3335, line: '~', id: '~~', user: 'runlevel', time: 1709290001 },
    ],
    [
      'a getty',
      { type: 6, pid: 612, line: 'tty1', id: 'tty1', user: 'LOGIN', session: 612, time: 1 },
    ],
    ['an init process', { type: 5, pid: 1, line: 'console', id: 'co', time: 2 }],
    ['an empty slot', { type: 0 }],
    ['the other types', { type: 3, time: 3 }],
    ['accounting', { type: 9, pid: 4194304, time: 4 }],
    [
      'a 32-byte user and line: no NUL',
      { type: 7, pid: 1, line: 'l'.repeat(32), user: 'u'.repeat(32), time: 5 },
    ],
    ['a 256-byte host: no NUL', { type: 7, pid: 1, line: 'pts/3', host: 'h'.repeat(256), time: 6 }],
    ['a UTF-8 user', { type: 7, pid: 1, line: 'pts/4', user: 'josé-日本', time: 7 }],
    [
      'the last second of int32 time',
      { type: 7, pid: 1, line: 'pts/5', user: 'x', time: 0x7fffffff },
    ],
    [
      'time past 2038 (unsigned in glibc 2.40+, int64 on aarch64)',
      { type: 7, pid: 1, line: 'p', time: 0xfffffffe },
    ],
  ]

  for (const size of SIZES) {
    for (const bigEndian of [false, true]) {
      for (const [name, fields] of CASES) {
        it(`${size} ${bigEndian ? 'BE' : 'LE'}: ${name}`, () => {
          const buf = encodeUtmpRecord(fields, size, { bigEndian })
          // An all-zero record reads the same in both byte orders: little-endian is assumed.
          const zero = buf.equals(Buffer.alloc(size))
          assert.deepEqual(parseUtmp(buf), {
            records: [expected(fields)],
            recordSize: size,
            byteOrder: bigEndian && !zero ? 'be' : 'le',
            malformed: 0,
          })
        })
      }
      it(`${size} ${bigEndian ? 'BE' : 'LE'}: all of them in one file`, () => {
        const records = CASES.map(([, fields]) => fields)
        const parsed = parseUtmp(encodeUtmp(records, size, { bigEndian }))
        assert.equal(parsed.recordSize, size)
        assert.equal(parsed.malformed, 0)
        assert.deepEqual(parsed.records, records.map(expected))
      })
    }
  }

  it('reads all 64 bits of tv_sec on 400-byte records', () => {
    // A time past 2106 counts against a layout in detection (no real record has one), so the
    // file needs ordinary records to be recognised; the odd one is still read whole.
    const late = { type: 7, pid: 1, line: 'pts/9', user: 'x', time: 2 ** 33 + 5 }
    const parsed = parseUtmp(encodeUtmp([...CASES.slice(0, 3).map(([, f]) => f), late], 400))
    assert.equal(parsed.recordSize, 400)
    assert.equal(parsed.records.at(-1)?.time, 2 ** 33 + 5)
  })

  it('gives the types their glibc names', () => {
    assert.equal(UtmpType.USER_PROCESS, 7)
    assert.equal(UtmpType.DEAD_PROCESS, 8)
    assert.equal(UtmpType.BOOT_TIME, 2)
  })
})

describe('parseUtmp: record size detection', () => {
  const LOGINS = Array.from({ length: 40 }, (_, i) =>
    sshdLogin({
      pid: 1000 + i,
      tty: i,
      user: `user${i}`,
      host: `198.51.100.${i}`,
      time: 1709294400 + i,
    }),
  )
  const withEmpty = (n: number, records: UtmpFields[]): UtmpFields[] => [
    ...Array.from({ length: n }, () => ({ type: 0 })),
    ...records,
  ]

  for (const size of SIZES) {
    const other = size === 384 ? 400 : 384
    it(`9600 bytes of ${size}-byte records (also a multiple of ${other})`, () => {
      const count = 9600 / size
      const records = LOGINS.slice(0, count)
      const buf = encodeUtmp(records, size)
      assert.equal(buf.length, 9600)
      const parsed = parseUtmp(buf)
      assert.equal(parsed.recordSize, size)
      assert.equal(parsed.malformed, 0)
      assert.deepEqual(parsed.records, records.map(expected))
    })

    it(`9600 bytes of ${size}-byte records, mostly empty slots, one login at the end`, () => {
      const count = 9600 / size
      const records = withEmpty(count - 1, [LOGINS[7]!])
      const parsed = parseUtmp(encodeUtmp(records, size))
      assert.equal(parsed.recordSize, size)
      assert.equal(parsed.records.length, count)
      assert.deepEqual(parsed.records.at(-1), expected(LOGINS[7]!))
    })

    it(`9600 bytes of ${size}-byte boot and run-level records only`, () => {
      const records = Array.from({ length: 9600 / size }, (_, i) => FIXTURE_FIELDS[i % 2]!)
      const parsed = parseUtmp(encodeUtmp(records, size))
      assert.equal(parsed.recordSize, size)
      assert.equal(parsed.malformed, 0)
      assert.deepEqual(parsed.records, records.map(expected))
    })

    it(`a large ambiguous file of ${size}-byte records (sampled, not read whole for detection)`, () => {
      // 384 × 1000 = 400 × 960 = 384000.
      const count = 384000 / size
      const records = Array.from({ length: count }, (_, i) => LOGINS[i % LOGINS.length]!)
      const parsed = parseUtmp(encodeUtmp(records, size))
      assert.equal(parsed.recordSize, size)
      assert.equal(parsed.records.length, count)
      assert.equal(parsed.malformed, 0)
    })

    it(`one ${size}-byte record`, () => {
      assert.equal(parseUtmp(encodeUtmp([LOGINS[0]!], size)).recordSize, size)
    })

    it(`${size}-byte records whose length is a multiple of ${size} only`, () => {
      const parsed = parseUtmp(encodeUtmp(LOGINS.slice(0, 3), size))
      assert.equal(parsed.recordSize, size)
      assert.equal(parsed.records.length, 3)
    })
  }

  it('an all-zero file of 9600 bytes: empty slots, read as 384-byte records', () => {
    const parsed = parseUtmp(Buffer.alloc(9600))
    assert.equal(parsed.recordSize, 384)
    assert.equal(parsed.records.length, 25)
    assert.ok(parsed.records.every((r) => r.type === UtmpType.EMPTY))
  })

  it('an empty file has no records and nothing malformed', () => {
    assert.deepEqual(parseUtmp(Buffer.alloc(0)), {
      records: [],
      recordSize: null,
      byteOrder: 'le',
      malformed: 0,
    })
  })
})

describe('parseUtmp: truncated and garbage files', () => {
  const LOGINS = [0, 1, 2].map((i) =>
    sshdLogin({ pid: 100 + i, tty: i, user: 'alice', time: 1709294400 }),
  )

  for (const size of SIZES) {
    it(`${size}: a trailing partial record is ignored and counted`, () => {
      const whole = encodeUtmp(LOGINS, size)
      for (const cut of [1, 2, 8, size / 2, size - 1]) {
        const parsed = parseUtmp(whole.subarray(0, 2 * size + cut))
        assert.equal(parsed.recordSize, size, `cut ${cut}`)
        assert.deepEqual(parsed.records, LOGINS.slice(0, 2).map(expected), `cut ${cut}`)
        assert.equal(parsed.malformed, 1, `cut ${cut}`)
      }
    })

    it(`${size}: a record with an impossible type is skipped and counted`, () => {
      for (const type of [10, 30000, -1, -32768, 0x0700]) {
        const records = [LOGINS[0]!, { ...LOGINS[1]!, type }, LOGINS[2]!]
        const parsed = parseUtmp(encodeUtmp(records, size))
        assert.equal(parsed.recordSize, size, `type ${type}`)
        assert.deepEqual(
          parsed.records,
          [expected(LOGINS[0]!), expected(LOGINS[2]!)],
          `type ${type}`,
        )
        assert.equal(parsed.malformed, 1, `type ${type}`)
      }
    })

    it(`${size}: user names that are not UTF-8 are decoded with replacement characters`, () => {
      const latin1 = Buffer.from('jos\xe9', 'latin1')
      const parsed = parseUtmp(
        encodeUtmpRecord({ type: 7, pid: 1, line: 'pts/0', user: latin1, time: 1 }, size),
      )
      assert.equal(parsed.records[0]?.user, 'jos\ufffd')
      const cut = Buffer.from('日本', 'utf8').subarray(0, 4)
      const parsed2 = parseUtmp(
        encodeUtmpRecord({ type: 7, pid: 1, line: 'pts/0', user: cut, time: 1 }, size),
      )
      assert.equal(parsed2.records[0]?.user, '日\ufffd')
    })

    it(`${size}: bytes after a string's NUL are not part of it`, () => {
      const user = Buffer.from('bob\0garbage', 'latin1')
      const parsed = parseUtmp(
        encodeUtmpRecord({ type: 7, pid: 1, line: 'pts/0', user, time: 1 }, size),
      )
      assert.equal(parsed.records[0]?.user, 'bob')
    })
  }

  it('less than one record: nothing, one malformed', () => {
    for (const length of [1, 100, 383]) {
      const parsed = parseUtmp(pseudoRandomBytes(length, length))
      assert.deepEqual(parsed, { records: [], recordSize: null, byteOrder: 'le', malformed: 1 })
    }
  })

  it('random bytes never throw, and every whole record is either read or counted', () => {
    for (let seed = 1; seed <= 50; seed++) {
      for (const length of [384, 400, 1000, 9600, 12345]) {
        const parsed = parseUtmp(pseudoRandomBytes(length, seed * length))
        assert.ok(parsed.recordSize !== null)
        const whole = Math.floor(length / parsed.recordSize)
        const partial = length % parsed.recordSize === 0 ? 0 : 1
        assert.equal(parsed.records.length + parsed.malformed, whole + partial)
        for (const r of parsed.records) assert.ok(r.type >= 0 && r.type <= 9)
      }
    }
  })

  it('random bytes after real records: the records are read, the garbage counted', () => {
    const good = encodeUtmp(LOGINS, 384)
    // 0xff bytes: type -1, never a valid record.
    const parsed = parseUtmp(Buffer.concat([good, Buffer.alloc(384 * 2 + 17, 0xff)]))
    assert.equal(parsed.recordSize, 384)
    assert.deepEqual(parsed.records, LOGINS.map(expected))
    assert.equal(parsed.malformed, 3)
  })
})

// -------------------------------------------------------------------------------------------
// Records written by real programs

/** Parses `utmpdump` text: [type] [pid] [id] [user] [line] [host] [addr] [time]. */
function parseUtmpdumpText(text: string): Array<Omit<UtmpRecord, 'session'> & { addr: string }> {
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

function withoutSession(records: readonly UtmpRecord[]): Array<Omit<UtmpRecord, 'session'>> {
  return records.map(({ session: _session, ...rest }) => rest)
}

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe('fixtures written by glibc (see test/fixtures/utmp/README.md)', () => {
  for (const { tree, size } of FIXTURE_TREES) {
    const file = join(FIXTURES, tree, 'run/utmp')

    it(`${tree}: parses to the six records, ${size} bytes each`, () => {
      const parsed = parseUtmp(readFileSync(file))
      assert.deepEqual(parsed, {
        records: FIXTURE_RECORDS,
        recordSize: size,
        byteOrder: 'le',
        malformed: 0,
      })
    })

    it(`${tree}: the test writer writes the very same bytes`, () => {
      assert.deepEqual(encodeUtmp(FIXTURE_FIELDS, size), readFileSync(file))
    })

    it(`${tree}: readUtmp on the tree`, () => {
      const read = readUtmp(join(FIXTURES, tree))
      assert.deepEqual(read, {
        records: FIXTURE_RECORDS,
        recordSize: size,
        byteOrder: 'le',
        malformed: 0,
        path: '/run/utmp',
        truncated: false,
      })
    })
  }

  const gcc = hasCommand('gcc')
  describe(
    "regenerated with gcc against this machine's glibc headers",
    { skip: gcc ? false : 'gcc is not installed' },
    () => {
      const dir = scratch('gcc')
      const builds = [
        { tree: 'x86_64', size: 384 as const, flags: [] as string[] },
        { tree: 'aarch64', size: 400 as const, flags: ['-I', join(FIXTURES, 'aarch64-wordsize')] },
      ]
      before(async () => {
        if (process.arch !== 'x64') return
        for (const b of builds) {
          await run('gcc', [
            ...b.flags,
            '-o',
            join(dir, `make-utmp-${b.tree}`),
            join(FIXTURES, 'make-utmp.c'),
          ])
        }
      })

      for (const b of builds) {
        it(
          `${b.tree}: offsetof() of glibc's struct utmp equals the writer's table`,
          { skip: process.arch !== 'x64' && 'needs an x86_64 host' },
          async () => {
            const { stdout } = await run(join(dir, `make-utmp-${b.tree}`), ['layout'])
            const got: Record<string, [number, number]> = {}
            for (const line of stdout.trim().split('\n')) {
              const [name, offset, bytes] = line.split(' ')
              got[name!] = [Number(offset), Number(bytes)]
            }
            const w = WRITER_LAYOUTS[b.size]
            assert.deepEqual(got, {
              size: [0, b.size],
              ut_type: [w.type.offset, w.type.bytes],
              ut_pid: [w.pid.offset, w.pid.bytes],
              ut_line: [w.line.offset, w.line.bytes],
              ut_id: [w.id.offset, w.id.bytes],
              ut_user: [w.user.offset, w.user.bytes],
              ut_host: [w.host.offset, w.host.bytes],
              ut_exit: [w.exitTermination.offset, 4],
              ut_session: [w.session.offset, w.session.bytes],
              'ut_tv.tv_sec': [w.time.offset, w.time.bytes],
              'ut_tv.tv_usec': [w.usec.offset, w.usec.bytes],
              ut_addr_v6: [w.addr.offset, w.addr.bytes],
              __glibc_reserved: [w.addr.offset + 16, 20],
            })
          },
        )

        it(
          `${b.tree}: fwrite() of glibc's struct gives the committed fixture`,
          { skip: process.arch !== 'x64' && 'needs an x86_64 host' },
          async () => {
            const out = join(dir, `${b.tree}.fwrite`)
            await run(join(dir, `make-utmp-${b.tree}`), ['fwrite', out])
            assert.deepEqual(readFileSync(out), readFileSync(join(FIXTURES, b.tree, 'run/utmp')))
          },
        )
      }

      it(
        "x86_64: glibc's pututline() gives the committed fixture, and the parser reads it",
        { skip: process.arch !== 'x64' && 'needs an x86_64 host' },
        async () => {
          const out = join(dir, 'pututline')
          await run(join(dir, 'make-utmp-x86_64'), ['pututline', out])
          const bytes = readFileSync(out)
          assert.deepEqual(bytes, readFileSync(join(FIXTURES, 'x86_64/run/utmp')))
          assert.deepEqual(parseUtmp(bytes).records, FIXTURE_RECORDS)
        },
      )
    },
  )

  describe(
    'util-linux utmpdump',
    { skip: hasCommand('utmpdump') ? false : 'utmpdump is not installed' },
    () => {
      const dir = scratch('utmpdump')
      const TEXT = readFileSync(join(FIXTURES, 'records.utmpdump'), 'utf8')

      it("utmpdump -r (text to binary, glibc's struct) gives records the parser reads", async () => {
        const out = join(dir, 'from-text')
        await run('sh', [
          '-c',
          'utmpdump -r < "$1" > "$2"',
          'sh',
          join(FIXTURES, 'records.utmpdump'),
          out,
        ])
        const parsed = parseUtmp(readFileSync(out))
        assert.equal(parsed.recordSize, 384)
        assert.equal(parsed.malformed, 0)
        // utmpdump -r pads ut_id with spaces and does not write ut_session.
        assert.deepEqual(
          parsed.records,
          FIXTURE_RECORDS.map((r) => ({ ...r, id: r.id.padEnd(4, ' '), session: 0 })),
        )
      })

      it('utmpdump reads what the test writer writes as the fixture says', async () => {
        const file = join(dir, 'written')
        writeUtmp(file, FIXTURE_FIELDS)
        const { stdout } = await run('utmpdump', [file], { env: { ...process.env, TZ: 'UTC' } })
        assert.equal(stdout, TEXT)
      })

      it('the fixture text, the parser and utmpdump agree record by record', () => {
        assert.deepEqual(
          parseUtmpdumpText(TEXT).map(({ addr: _addr, ...rest }) => rest),
          withoutSession(FIXTURE_RECORDS),
        )
      })
    },
  )
})

describe("this machine's utmp", () => {
  it('is read as utmpdump reads it, or is absent', async (t) => {
    const present = UTMP_PATHS.find((p) => existsSync(p))
    const read = readUtmp('/')
    if (present === undefined) {
      t.diagnostic('neither /run/utmp nor /var/run/utmp exists here: readUtmp gives null')
      assert.equal(read, null)
      return
    }
    assert.ok(read !== null)
    assert.equal(read.malformed, 0)
    assert.equal(read.truncated, false)
    t.diagnostic(`${read.path}: ${read.records.length} records of ${read.recordSize ?? '-'} bytes`)
    if (!hasCommand('utmpdump')) return
    const { stdout } = await run('utmpdump', [present])
    assert.deepEqual(
      parseUtmpdumpText(stdout).map(({ addr: _addr, id: _id, ...rest }) => rest),
      withoutSession(read.records).map(({ id: _id, ...rest }) => rest),
    )
  })
})

// -------------------------------------------------------------------------------------------
// Reading under a root

describe('readUtmp', () => {
  const dir = scratch('read')
  const LOGIN = sshdLogin({ pid: 4242, tty: 0, user: 'alice', time: 1709294400 })
  const OTHER = sshdLogin({ pid: 4343, tty: 1, user: 'bob', time: 1709294401 })

  function tree(
    name: string,
    files: Record<string, UtmpFields[] | { symlink: string } | 'dir'>,
  ): string {
    const root = join(dir, name)
    mkdirSync(root, { recursive: true })
    for (const [path, content] of Object.entries(files)) {
      const host = join(root, path)
      mkdirSync(dirname(host), { recursive: true })
      if (content === 'dir') mkdirSync(host)
      else if (Array.isArray(content)) writeUtmp(host, content)
      else symlinkSync(content.symlink, host)
    }
    return root
  }

  it('reads /run/utmp', () => {
    const read = readUtmp(tree('run', { 'run/utmp': [LOGIN] }))
    assert.equal(read?.path, '/run/utmp')
    assert.deepEqual(read?.records, [expected(LOGIN)])
  })

  it('falls back to /var/run/utmp only when /run/utmp does not exist', () => {
    const read = readUtmp(tree('var-run', { 'var/run/utmp': [OTHER], run: 'dir' }))
    assert.equal(read?.path, '/var/run/utmp')
    assert.deepEqual(read?.records, [expected(OTHER)])
    const both = readUtmp(tree('both', { 'run/utmp': [], 'var/run/utmp': [OTHER] }))
    assert.equal(both?.path, '/run/utmp')
    assert.deepEqual(both?.records, [])
    assert.equal(both?.recordSize, null)
  })

  it('is null when there is no utmp: not applicable, not an error', () => {
    assert.equal(readUtmp(tree('none', { etc: 'dir' })), null)
    assert.equal(readUtmp(join(dir, 'no-such-root')), null)
    // /var/run -> /run, as on every systemd host: the same missing file.
    assert.equal(
      readUtmp(tree('var-run-link', { run: 'dir', 'var/run': { symlink: '/run' } })),
      null,
    )
  })

  it('resolves an absolute /var/run symlink inside the root, never on the host', () => {
    const root = tree('abs-link', {
      'var/run': { symlink: '/elsewhere' },
      'elsewhere/utmp': [LOGIN],
    })
    const read = readUtmp(root)
    assert.equal(read?.path, '/var/run/utmp')
    assert.deepEqual(read?.records, [expected(LOGIN)])
  })

  it('never follows a symlink out of the root', () => {
    const outside = tree('outside', { 'run/utmp': [OTHER] })
    const root = tree('escape', {
      'run/utmp': { symlink: `../../../../../../../../../..${outside}/run/utmp` },
      'var/run': { symlink: `/../../..${outside}/run` },
    })
    assert.equal(resolveInRoot(root, '/run/utmp'), null)
    assert.equal(readUtmp(root), null)
    const dotdot = tree('dotdot', { 'run/utmp': [LOGIN] })
    assert.equal(resolveInRoot(dotdot, '/../../run/../run/./utmp'), join(dotdot, 'run/utmp'))
  })

  it('follows relative and chained symlinks inside the root', () => {
    const root = tree('chain', {
      'var/run': { symlink: '../run' },
      'run/utmp': { symlink: 'real/utmp' },
      'run/real/utmp': [OTHER],
    })
    // /run/utmp exists (through its link), so it is the one read.
    assert.equal(readUtmp(root)?.path, '/run/utmp')
    assert.deepEqual(readUtmp(root)?.records, [expected(OTHER)])
  })

  it('throws on a symlink loop and on a directory: there but unreadable', () => {
    const loop = tree('loop', { 'run/utmp': { symlink: '/run/utmp' } })
    assert.throws(() => readUtmp(loop), { code: 'ELOOP' })
    const directory = tree('directory', { 'run/utmp': 'dir' })
    assert.throws(() => readUtmp(directory), { code: 'EISDIR' })
  })

  it('reads at most the cap, and says so', () => {
    const root = tree('big', { 'run/utmp': Array.from({ length: 100 }, () => LOGIN) })
    const read = readUtmp(root, 9600)
    assert.equal(read?.truncated, true)
    assert.equal(read?.records.length, 25)
    assert.equal(read?.malformed, 0)
    const exact = readUtmp(root, 384 * 100)
    assert.equal(exact?.truncated, false)
    assert.equal(exact?.records.length, 100)
  })

  it('reads files larger than its first buffer', () => {
    const root = tree('large', { 'run/utmp': Array.from({ length: 2000 }, () => OTHER) })
    const read = readUtmp(root)
    assert.equal(read?.records.length, 2000)
    assert.equal(read?.truncated, false)
  })

  it('UtmpReader gives the last result again while the bytes are the same, else reads anew', () => {
    const root = tree('reader', { 'run/utmp': [LOGIN, OTHER] })
    const file = join(root, 'run/utmp')
    const reader = new UtmpReader(root, 384 * 3)
    const first = reader.read()
    assert.deepEqual(first, readUtmp(root, 384 * 3))
    assert.equal(reader.read(), first, 'unchanged: the same object')
    // The same length, one byte changed (bob logs out: his record turns DEAD_PROCESS).
    writeUtmp(file, [LOGIN, { ...OTHER, type: UtmpType.DEAD_PROCESS }])
    const changed = reader.read()
    assert.notEqual(changed, first)
    assert.deepEqual(changed, readUtmp(root, 384 * 3))
    assert.equal(changed?.records[1]?.type, UtmpType.DEAD_PROCESS)
    // Grown, then past the cap, then back: each read matches readUtmp's.
    for (const records of [[LOGIN, OTHER, OTHER], [LOGIN, OTHER, OTHER, LOGIN], [LOGIN]]) {
      writeUtmp(file, records)
      assert.deepEqual(reader.read(), readUtmp(root, 384 * 3))
    }
    rmSync(file)
    assert.equal(reader.read(), null)
    writeUtmp(file, [OTHER])
    assert.deepEqual(reader.read()?.records, [expected(OTHER)])
  })
})

describe('ttyIdleSeconds', () => {
  const root = scratch('tty')
  mkdirSync(join(root, 'dev/pts'), { recursive: true })
  writeFileSync(join(root, 'dev/pts/0'), '')
  writeFileSync(join(root, 'dev/tty1'), '')
  const now = Date.now()
  const hourAgo = new Date(now - 3_600_000)
  utimesSync(join(root, 'dev/pts/0'), hourAgo, new Date(now))
  utimesSync(join(root, 'dev/tty1'), new Date(now + 60_000), new Date(now))

  const about = (actual: number | null, want: number): void => {
    assert.ok(actual !== null && Math.abs(actual - want) < 0.01, `${actual} is not about ${want}`)
  }

  it("is now minus the device's atime (mtime does not count)", () => {
    about(ttyIdleSeconds(root, 'pts/0', now), 3600)
    about(ttyIdleSeconds(root, 'pts/0', now + 1500), 3601.5)
  })

  it('takes an absolute ut_line as it is, under the root', () => {
    about(ttyIdleSeconds(root, '/dev/pts/0', now), 3600)
  })

  it('is 0 for an access time in the future', () => {
    assert.equal(ttyIdleSeconds(root, 'tty1', now), 0)
  })

  it('is null when the device is not there', () => {
    assert.equal(ttyIdleSeconds(root, 'pts/9', now), null)
    assert.equal(ttyIdleSeconds(root, '', now), null)
    assert.equal(ttyIdleSeconds(root, '~', now), null)
    assert.equal(ttyIdleSeconds(join(root, 'missing'), 'pts/0', now), null)
  })

  it('stays inside the root', () => {
    const linked = scratch('tty-link')
    mkdirSync(join(linked, 'real/pts'), { recursive: true })
    writeFileSync(join(linked, 'real/pts/0'), '')
    utimesSync(join(linked, 'real/pts/0'), hourAgo, hourAgo)
    symlinkSync('/real', join(linked, 'dev'))
    about(ttyIdleSeconds(linked, 'pts/0', now), 3600)
    assert.equal(ttyIdleSeconds(linked, '../../../../dev/null', now), null)
  })

  it('ttyIdleReader gives the same for many lines at once, the directory resolved once', () => {
    const linked = scratch('tty-reader')
    mkdirSync(join(linked, 'real/pts'), { recursive: true })
    writeFileSync(join(linked, 'real/pts/0'), '')
    utimesSync(join(linked, 'real/pts/0'), hourAgo, hourAgo)
    symlinkSync('/real', join(linked, 'dev'))
    // A device that is itself a symlink, absolute: resolved under the root.
    symlinkSync('/real/pts/0', join(linked, 'real/pts/7'))
    const lines = ['pts/0', '/dev/pts/0', 'pts/7', 'pts/9', '', '~', 'tty1', '../../../../dev/null']
    for (const r of [root, linked, join(root, 'missing')]) {
      const reader = ttyIdleReader(r, now)
      for (const line of lines) {
        assert.equal(reader(line), ttyIdleSeconds(r, line, now), `${line} under ${r}`)
      }
    }
    about(ttyIdleReader(linked, now)('pts/7'), 3600)
  })

  it('TtyIdle remembers device paths only while their directory resolves the same', () => {
    const moved = scratch('tty-moved')
    for (const [dir, hours] of [
      ['a', 1],
      ['b', 2],
    ] as const) {
      mkdirSync(join(moved, dir, 'pts'), { recursive: true })
      writeFileSync(join(moved, dir, 'pts/0'), '')
      const then = new Date(now - hours * 3_600_000)
      utimesSync(join(moved, dir, 'pts/0'), then, then)
    }
    symlinkSync('/a', join(moved, 'dev'))
    const idle = new TtyIdle(moved)
    about(idle.reader(now)('pts/0'), 3600)
    about(idle.reader(now)('pts/0'), 3600)
    rmSync(join(moved, 'dev'))
    symlinkSync('/b', join(moved, 'dev'))
    about(idle.reader(now)('pts/0'), 7200)
    rmSync(join(moved, 'dev'))
    assert.equal(idle.reader(now)('pts/0'), null)
  })
})

// -------------------------------------------------------------------------------------------
// Real sshd: what it writes to utmp, and whose pid that is (see the module comment).

describe('real sshd: utmp records and tty idle time', () => {
  for (const version of SSHD_VERSIONS) {
    describe(`OpenSSH ${version}`, () => {
      it('records pty logins of a user with ut_pid = the [priv] monitor, and the logout', async (t) => {
        const s = await startSshd({ version, t })
        const c = await s.connect({ pty: true })
        const record = await s.waitFor('a USER_PROCESS record', () =>
          readUtmp(s.rootfs)?.records.find((r) => r.type === UtmpType.USER_PROCESS),
        )
        const procs = await s.processes()
        const byPid = new Map(procs.map((p) => [p.pid, p]))
        const owner = byPid.get(record.pid)
        assert.equal(record.pid, c.connectionPid, await s.processTree())
        assert.match(owner?.title ?? '', new RegExp(`^sshd(-session)?: ${s.user} \\[priv\\]$`))
        const child = procs.find(
          (p) => p.ppid === c.connectionPid && p.title.includes(`${s.user}@`),
        )
        assert.ok(child, 'the post-auth child')
        assert.match(child.title, new RegExp(`@${record.line.replace('/', '\\/')}$`))
        assert.match(record.line, /^pts\/\d+$/)
        assert.equal(record.id, record.line.slice(-4))
        assert.equal(record.user, s.user)
        assert.equal(record.host, '127.0.0.1')
        assert.ok(Math.abs(record.time - Date.now() / 1000) < 60)
        // The tty's idle time: just opened.
        const idle = ttyIdleSeconds(s.rootfs, record.line, Date.now())
        assert.ok(idle !== null && idle < 60, `idle ${idle}`)
        // The parser and utmpdump agree on sshd's own file.
        const { stdout } = await run('utmpdump', [s.utmpFile])
        assert.deepEqual(
          parseUtmpdumpText(stdout).map(({ addr: _addr, ...rest }) => rest),
          withoutSession(readUtmp(s.rootfs)!.records),
        )

        await c.close()
        const dead = await s.waitFor('the DEAD_PROCESS record', () =>
          readUtmp(s.rootfs)?.records.find((r) => r.type === UtmpType.DEAD_PROCESS),
        )
        assert.deepEqual(
          { pid: dead.pid, line: dead.line, id: dead.id, user: dead.user, host: dead.host },
          { pid: record.pid, line: record.line, id: record.id, user: '', host: '' },
        )
        assert.equal(
          readUtmp(s.rootfs)?.records.filter((r) => r.type === UtmpType.USER_PROCESS).length,
          0,
        )
      })

      it('leaves a USER_PROCESS record whose pid is gone when the monitor is killed', async (t) => {
        // The utmp_orphan case: nobody writes the logout, `who` goes on listing the session.
        const s = await startSshd({ version, t })
        const c = await s.connect({ pty: true })
        const record = await s.waitFor('a USER_PROCESS record', () =>
          readUtmp(s.rootfs)?.records.find((r) => r.type === UtmpType.USER_PROCESS),
        )
        assert.equal(record.pid, c.connectionPid)
        // The pid is the namespace's: kill it from inside.
        await run('nsenter', [
          '-t',
          String(s.initHostPid),
          '-p',
          '--',
          'kill',
          '-KILL',
          String(record.pid),
        ])
        await s.waitFor(
          'the monitor to be gone',
          async () => !(await readProcess(s.procfs, record.pid)),
        )
        const later = readUtmp(s.rootfs)?.records.find((r) => r.line === record.line)
        assert.deepEqual(later, record)
        await c.close()
      })

      it('writes nothing for a session without a pty', async (t) => {
        const s = await startSshd({ version, t })
        const c = await s.connect({ pty: false })
        const read = readUtmp(s.rootfs)
        assert.deepEqual(read?.records, [])
        await c.close()
      })

      it('records root logins with the pid of the process that called login(3)', async (t) => {
        const s = await startSshd({ version, t })
        const c = await s.connect({ pty: true, user: 'root' })
        const record = await s.waitFor('a USER_PROCESS record', () =>
          readUtmp(s.rootfs)?.records.find((r) => r.type === UtmpType.USER_PROCESS),
        )
        const procs = await s.processes()
        const byPid = new Map(procs.map((p) => [p.pid, p]))
        const tree = await s.processTree()
        const owner = byPid.get(record.pid)
        assert.ok(owner, tree)
        assert.equal(record.user, 'root')
        if (version === '9.2') {
          // Up to 9.7 there is no [priv] process for root: the connection's process is
          // `root@pts/N` itself, and do_login() runs in the session child it forks, which then
          // execs the command (`exec cat` here).
          assert.equal(byPid.get(c.connectionPid)?.title, `sshd: root@${record.line}`, tree)
          assert.equal(owner.ppid, c.connectionPid, tree)
          assert.doesNotMatch(owner.comm, /^sshd/, tree)
        } else {
          // 9.8+: root gets a `[priv]` monitor too, which writes the record.
          assert.equal(record.pid, c.connectionPid, tree)
          assert.equal(owner.title, 'sshd-session: root [priv]', tree)
        }
        await c.close()
      })

      it('tty idle time is the time since the last input, as who -u shows it', async (t) => {
        const s = await startSshd({ version, t })
        // Our own client, to type into: `cat` reads the pty, which sets its atime.
        const client = spawn(
          'ssh',
          [...s.sshArgs(), '-tt', `${s.user}@${s.host}`, 'echo READY; exec cat'],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        )
        t.after(() => {
          client.kill('SIGKILL')
        })
        let output = ''
        client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
        await waitFor('the remote command', () => output.includes('READY'))
        const record = await s.waitFor('a USER_PROCESS record', () =>
          readUtmp(s.rootfs)?.records.find((r) => r.type === UtmpType.USER_PROCESS),
        )
        const device = resolveInRoot(s.rootfs, `/dev/${record.line}`)
        assert.ok(device)
        const hourAgo = new Date(Date.now() - 3_600_000)
        utimesSync(device, hourAgo, hourAgo)
        const idle = ttyIdleSeconds(s.rootfs, record.line, Date.now())
        assert.ok(idle !== null && idle >= 3599 && idle < 3700, `idle ${idle}`)
        client.stdin.write('typed\r')
        await waitFor('the echo of the input', () => output.includes('typed'))
        await s.waitFor('input to reset the idle time', () => {
          const now = ttyIdleSeconds(s.rootfs, record.line, Date.now())
          return now !== null && now < 60
        })
        client.stdin.end()
      })
    })
  }
})
