/**
 * parseUtmp: both record sizes and byte orders, size detection, truncated and garbage files, and
 * the glibc-written fixtures (checked against gcc's offsetof() and util-linux utmpdump when those
 * are installed). Needs neither root nor servers.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { parseUtmp, UtmpType } from '../../../src/sources/utmp/parse.ts'
import {
  encodeUtmp,
  encodeUtmpRecord,
  sshdLogin,
  type UtmpFields,
  WRITER_LAYOUTS,
  writeUtmp,
} from '../../helpers/utmp-writer.ts'
import {
  expected,
  FIXTURE_FIELDS,
  FIXTURE_RECORDS,
  FIXTURE_TREES,
  FIXTURES,
  hasCommand,
  parseUtmpdumpText,
  scratch,
  SIZES,
  withoutSession,
} from './fixtures.ts'

const run = promisify(execFile)

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
