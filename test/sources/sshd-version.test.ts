import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import {
  type EffectiveConfig,
  NEWEST_RESEARCHED_OPENSSH,
  parseSshdConfigFiles,
  parseSshdT,
  parseSshdTime,
  readSshdConfig,
  SSHD_DEFAULTS,
  type SshdTimeSyntax,
  semanticsFor,
} from '../../src/sources/sshd-config.ts'
import { findOpensshVersion, readSshdVersion } from '../../src/sources/sshd-version.ts'
import { makeHostKey, REAL_SSHDS, requireExecutable } from '../helpers/sshd-oracle.ts'

const run = promisify(execFile)
const MAIN = '/etc/ssh/sshd_config'
/** The real sshds with the release each binary carries. */
const RELEASES = { '9.2': '9.2p1', '10.0': '10.0p2' } as const
const SSHDS = REAL_SSHDS.map((sshd) => ({ ...sshd, release: RELEASES[sshd.version] }))
/** readSshdVersion reads the file in chunks of this size. */
const CHUNK = 1024 * 1024

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

function defaults(): EffectiveConfig {
  return structuredClone({ ...SSHD_DEFAULTS, channelTimeouts: [], listenPorts: [22] })
}

function parse(tree: Record<string, string>, opensshVersion: string) {
  return parseSshdConfigFiles(MAIN, new Map(Object.entries(tree)), { opensshVersion })
}

let scratch = ''
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sshd-version-test-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

describe('findOpensshVersion', () => {
  for (const sshd of SSHDS) {
    test(`${sshd.label}: ${sshd.release}, the version sshd -V prints`, async () => {
      await requireExecutable(sshd.path)
      // -V prints SSH_RELEASE (10.0p2 Debian) or SSH_VERSION (9.2 Debian), then OpenSSL's.
      const result = await run(sshd.path, ['-V']).catch((error: { stderr?: string }) => error)
      const printed = /OpenSSH_(\d+\.\d+)/.exec(result.stderr ?? '')?.[1]
      assert.equal(printed, sshd.release.split('p')[0])
      assert.equal(findOpensshVersion(readFileSync(sshd.path)), sshd.release)
      assert.equal(await readSshdVersion(sshd.path), sshd.release)
    })
  }

  const DECOYS = '\0OpenSSH_2.*,OpenSSH_3.0*,OpenSSH_3.1*\0OpenSSH_7.4*\0OpenSSH_6.6.1*\0'
  const table: [string, string, string | null][] = [
    ['compat patterns are not versions', `${DECOYS}OpenSSH_10.3\0OpenSSH_10.3p1\0`, '10.3p1'],
    [
      'the release (pN) wins over an earlier SSH_VERSION',
      '\0OpenSSH_9.9\0\0OpenSSH_10.3p1\0',
      '10.3p1',
    ],
    ['the banner with a distribution suffix', 'x\0OpenSSH_10.2p1 Ubuntu-3\0', '10.2p1'],
    ['SSH_VERSION alone (OpenBSD)', `${DECOYS}OpenSSH_7.5\0`, '7.5'],
    ['at the start of the buffer', 'OpenSSH_8.2p1\0', '8.2p1'],
    ['after a dash (a banner)', 'SSH-2.0-OpenSSH_9.6p1\0', '9.6p1'],
    ['after a space', 'Server: OpenSSH_9.6p1 \0', '9.6p1'],
    ['after a comma', '\0OpenSSH_9.9*,OpenSSH_9.8\0', null],
    ['glued to a word', 'xOpenSSH_9.9p1\0', null],
    ['followed by a letter', '\0OpenSSH_9.9p1x\0', null],
    ['in a list', '\0OpenSSH_9.9,OpenSSH_9.8\0', null],
    ['three numbers', '\0OpenSSH_6.6.1\0', null],
    ['no minor', '\0OpenSSH_9.\0OpenSSH_9p1\0', null],
    ['no major', '\0OpenSSH_.9\0', null],
    ['too many digits', '\0OpenSSH_12345.1\0', null],
    ['pN without digits', '\0OpenSSH_9.9p\0', null],
    ['unterminated at the end', '\0OpenSSH_9.9p1', null],
    ['nothing', 'ELF\0\0\0', null],
    ['empty', '', null],
  ]
  for (const [name, text, expected] of table) {
    test(name, () => assert.equal(findOpensshVersion(bytes(text)), expected))
  }

  test('reads a Uint8Array view at an offset', () => {
    const buffer = bytes('xxxxOpenSSH_9.2p1\0')
    assert.equal(findOpensshVersion(new Uint8Array(buffer.buffer, buffer.byteOffset + 4)), '9.2p1')
  })
})

describe('readSshdVersion', () => {
  /** A file of `size` bytes (0xff) with `text` written at `at`. */
  async function file(name: string, size: number, parts: [number, string][]): Promise<string> {
    const content = Buffer.alloc(size, 0xff)
    for (const [at, text] of parts) content.write(text, at, 'latin1')
    const path = join(scratch, name)
    await writeFile(path, content)
    return path
  }

  const release = '\0OpenSSH_10.3p1\0'
  // Every start from well before a chunk boundary to past it: the candidate, its terminator or
  // the byte before it straddles the boundary.
  for (const shift of [-40, -33, -32, -31, -17, -16, -15, -2, -1, 0, 1]) {
    test(`a version ${shift} bytes from the chunk boundary`, async () => {
      const path = await file(`straddle${shift}`, CHUNK + 4096, [[CHUNK + shift, release]])
      assert.equal(await readSshdVersion(path), '10.3p1')
    })
  }

  test('a byte before the candidate in the previous chunk still counts', async () => {
    // 'x' is the last byte of the first chunk, the candidate starts the second.
    const path = await file('glued', CHUNK + 4096, [[CHUNK - 1, 'xOpenSSH_9.9p1\0']])
    assert.equal(await readSshdVersion(path), null)
    const dash = await file('dash', CHUNK + 4096, [[CHUNK - 1, '-OpenSSH_9.9p1\0']])
    assert.equal(await readSshdVersion(dash), '9.9p1')
  })

  test('a release in a later chunk wins over SSH_VERSION in the first', async () => {
    const path = await file('later', 2 * CHUNK + 100, [
      [100, '\0OpenSSH_10.2\0'],
      [2 * CHUNK + 10, '\0OpenSSH_10.2p1\0'],
    ])
    assert.equal(await readSshdVersion(path), '10.2p1')
    assert.equal(await readSshdVersion(path, { maxBytes: CHUNK }), '10.2')
  })

  test('nothing past maxBytes is read', async () => {
    const path = await file('capped', CHUNK + 100, [[CHUNK + 10, release]])
    assert.equal(await readSshdVersion(path, { maxBytes: CHUNK }), null)
    assert.equal(await readSshdVersion(path, { maxBytes: CHUNK + 100 }), '10.3p1')
    assert.equal(await readSshdVersion(path, { maxBytes: 0 }), null)
  })

  test('a small file, read whole', async () => {
    const path = await file('small', 40, [[3, release]])
    assert.equal(await readSshdVersion(path), '10.3p1')
  })

  test('missing, a directory, a FIFO, an empty file: null, never a throw', async () => {
    assert.equal(await readSshdVersion(join(scratch, 'missing')), null)
    assert.equal(await readSshdVersion(scratch), null)
    const fifo = join(scratch, 'fifo')
    await run('mkfifo', [fifo])
    assert.equal(await readSshdVersion(fifo), null)
    const empty = await file('empty', 0, [])
    assert.equal(await readSshdVersion(empty), null)
  })
})

// -------------------------------------------------------------------------------------------
// Each version's rules, on a rootfs whose usr/sbin/sshd holds only its version strings.

describe('readSshdVersion + readSshdConfig on a rootfs per version', () => {
  async function rootfs(name: string, version: string | null, config: string): Promise<string> {
    const root = join(scratch, name)
    await mkdir(join(root, 'etc/ssh'), { recursive: true })
    await writeFile(join(root, MAIN), config)
    if (version !== null) {
      const [plain] = version.split('p')
      await mkdir(join(root, 'usr/sbin'), { recursive: true })
      await writeFile(
        join(root, 'usr/sbin/sshd'),
        bytes(`\x7fELF\0OpenSSH_7.4*\0OpenSSH_${plain}\0OpenSSH_${version} Debian-1\0`),
      )
    }
    return root
  }

  async function maxStartups(root: string) {
    const version = await readSshdVersion(join(root, 'usr/sbin/sshd'))
    const { values, problems } = await readSshdConfig(
      root,
      MAIN,
      version === null ? {} : { opensshVersion: version },
    )
    assert.deepEqual(problems, [])
    return { version, maxStartups: values.maxStartups }
  }

  const TWICE = 'MaxStartups 50\nMaxStartups 70\n'
  // name, the version in usr/sbin/sshd, sshd_config, MaxStartups begin:rate:full
  const table: [string, string | null, string, [number, number, number]][] = [
    ['10.0: the last wins, N is N:30:N', '10.0p2', TWICE, [70, 0.3, 70]],
    [
      '10.0: N keeps the earlier rate',
      '10.0p2',
      'MaxStartups 5:50:80\nMaxStartups 70\n',
      [70, 0.5, 70],
    ],
    ['10.2: the first wins, N is begin 10, full N', '10.2p1', TWICE, [10, 0.3, 50]],
    ['10.3: the first wins, N is N:30:N', '10.3p1', TWICE, [50, 0.3, 50]],
    ['no sshd: the newest rules', null, TWICE, [50, 0.3, 50]],
  ]
  for (const [name, version, config, [begin, rate, full]] of table) {
    test(name, async () => {
      const root = await rootfs(name.replace(/\W+/g, '-'), version, config)
      assert.deepEqual(await maxStartups(root), { version, maxStartups: { begin, rate, full } })
    })
  }
})

// -------------------------------------------------------------------------------------------
// Every other difference, on pure parses: [what, sshd_config tree, [version, values, problems]...]

type Row = [string, Record<string, string>, [string, Partial<EffectiveConfig>, number][]]

const ONE = (text: string): Record<string, string> => ({ [MAIN]: text })

const DIFFERENCES: Row[] = [
  [
    'time: 8.2-8.3 keep an earlier unit for a later number',
    ONE('LoginGraceTime 1m30\nClientAliveInterval 1h5m10'),
    [
      ['8.2', { loginGraceTimeSeconds: 1860, clientAliveIntervalSeconds: 4500 }, 0],
      ['8.3', { loginGraceTimeSeconds: 1860, clientAliveIntervalSeconds: 4500 }, 0],
      ['8.4', { loginGraceTimeSeconds: 90, clientAliveIntervalSeconds: 3910 }, 0],
    ],
  ],
  [
    'time: a sign and blanks (strtol) up to 9.7',
    ONE('LoginGraceTime +5\nClientAliveInterval " 1m 30"\nUnusedConnectionTimeout -0'),
    [
      ['9.7', { loginGraceTimeSeconds: 5, clientAliveIntervalSeconds: 90 }, 0],
      ['9.8', {}, 3],
    ],
  ],
  [
    'time: decimal seconds from 10.3, truncated',
    ONE('LoginGraceTime 1.5\nClientAliveInterval 0.9\nChannelTimeout session=1m0.5'),
    [
      ['10.2', {}, 3],
      [
        '10.3',
        {
          loginGraceTimeSeconds: 1,
          clientAliveIntervalSeconds: 0,
          channelTimeouts: [{ type: 'session', seconds: 60 }],
        },
        0,
      ],
    ],
  ],
  [
    'time: two seconds parts are refused from 10.3',
    ONE('LoginGraceTime 10s10'),
    [
      ['10.2', { loginGraceTimeSeconds: 20 }, 0],
      ['10.3', {}, 1],
    ],
  ],
  [
    'PerSourceMaxStartups is unknown before 8.5',
    ONE('PerSourceMaxStartups 5'),
    [
      ['8.4', {}, 1],
      ['8.5', { perSourceMaxStartups: 5 }, 0],
    ],
  ],
  [
    'PerSourceMaxStartups: the last wins before 9.5',
    ONE('PerSourceMaxStartups 5\nPerSourceMaxStartups 6'),
    [
      ['9.4', { perSourceMaxStartups: 6 }, 0],
      ['9.5', { perSourceMaxStartups: 5 }, 0],
    ],
  ],
  [
    'UnusedConnectionTimeout and ChannelTimeout are unknown before 9.2',
    ONE('UnusedConnectionTimeout 5m\nChannelTimeout session=1m'),
    [
      ['9.1', {}, 2],
      [
        '9.2',
        {
          unusedConnectionTimeoutSeconds: 300,
          channelTimeouts: [{ type: 'session', seconds: 60 }],
        },
        0,
      ],
    ],
  ],
  [
    'MaxStartups 0 or less is accepted before 9.2 (-1 is unset)',
    ONE('MaxStartups 0:30:10\nMaxStartups -1'),
    [
      ['9.1', { maxStartups: { begin: 10, rate: 0.3, full: 100 } }, 0],
      ['9.2', { maxStartups: { begin: 10, rate: 0.3, full: 100 } }, 2],
    ],
  ],
  [
    'MaxStartups 0 before 9.2',
    ONE('MaxStartups 0'),
    [
      ['9.1', { maxStartups: { begin: 0, rate: 0.3, full: 0 } }, 0],
      ['9.2', {}, 1],
    ],
  ],
  [
    'MaxStartups N below the default begin in 10.1-10.2',
    ONE('MaxStartups 5'),
    [
      ['10.0', { maxStartups: { begin: 5, rate: 0.3, full: 5 } }, 0],
      ['10.1', { maxStartups: { begin: 10, rate: 0.3, full: 5 } }, 0],
      ['10.2', { maxStartups: { begin: 10, rate: 0.3, full: 5 } }, 0],
      ['10.3', { maxStartups: { begin: 5, rate: 0.3, full: 5 } }, 0],
    ],
  ],
  [
    'ChannelTimeout without a value: ignored before 9.7, refused from 9.7',
    ONE('ChannelTimeout # none given\nChannelTimeout session=1m'),
    [
      ['9.6', { channelTimeouts: [{ type: 'session', seconds: 60 }] }, 0],
      ['9.7', { channelTimeouts: [{ type: 'session', seconds: 60 }] }, 1],
    ],
  ],
  [
    'Include: 8.2 reads <sshdir>/<the keyword> for a relative path',
    {
      [MAIN]: 'Include conf.d/*.conf',
      '/etc/ssh/conf.d/a.conf': 'MaxSessions 3',
      '/etc/ssh/Include': 'MaxSessions 4',
    },
    [
      ['8.2', { maxSessions: 4 }, 0],
      ['8.3', { maxSessions: 3 }, 0],
    ],
  ],
  [
    'Port: before 8.4 an included file read before any Port adds Port 22',
    { [MAIN]: 'Include /etc/ssh/conf.d/*.conf\nPort 2222', '/etc/ssh/conf.d/a.conf': '# empty' },
    [
      ['8.3', { listenPorts: [22, 2222] }, 0],
      ['8.4', { listenPorts: [2222] }, 0],
    ],
  ],
  [
    'ListenAddress: before 8.4 bound with the Ports known at the end of its included file',
    {
      [MAIN]: 'Include /etc/ssh/conf.d/*.conf\nPort 2222\nListenAddress [::1]:2200',
      '/etc/ssh/conf.d/a.conf': 'ListenAddress 192.0.2.1',
    },
    [
      ['8.3', { listenPorts: [22, 2200] }, 0],
      ['8.4', { listenPorts: [2200, 2222] }, 0],
    ],
  ],
  [
    'Port in the included file: no Port 22 added before 8.4 either',
    { [MAIN]: 'Include /etc/ssh/conf.d/*.conf\nPort 2222', '/etc/ssh/conf.d/a.conf': 'Port 2200' },
    [
      ['8.3', { listenPorts: [2200, 2222] }, 0],
      ['8.4', { listenPorts: [2200, 2222] }, 0],
    ],
  ],
  [
    'Match in a file included outside Match: global only before 8.4 (bz#3122)',
    {
      [MAIN]: 'MaxSessions 5\nInclude /etc/ssh/conf.d/*.conf',
      '/etc/ssh/conf.d/a.conf': 'Match all\nMaxSessions 3\nClientAliveCountMax 1',
    },
    [
      ['8.3', { maxSessions: 5, clientAliveCountMax: 1 }, 0],
      ['8.4', { maxSessions: 3, clientAliveCountMax: 1 }, 0],
    ],
  ],
  [
    'Match in a file included inside Match all applies in every version',
    {
      [MAIN]: 'MaxSessions 5\nMatch all\nInclude /etc/ssh/conf.d/*.conf',
      '/etc/ssh/conf.d/a.conf': 'Match all\nMaxSessions 3',
    },
    [
      ['8.3', { maxSessions: 3 }, 0],
      ['8.4', { maxSessions: 3 }, 0],
    ],
  ],
  [
    'Match invalid-user is known from 9.9',
    ONE('Match invalid-user\nMaxSessions 3'),
    [
      ['9.8', {}, 1],
      ['9.9', {}, 0],
    ],
  ],
  [
    'Match Version is known from 10.0 (and cannot be evaluated: a note)',
    ONE('Match Version OpenSSH_10*\nMaxSessions 3'),
    [
      ['9.9', {}, 1],
      ['10.0', {}, 1],
    ],
  ],
  [
    'Match User=bob works in every version (strdelim split it at = up to 9.8)',
    ONE('Match User=bob\nMaxSessions 3'),
    [
      ['8.2', {}, 0],
      ['9.8', {}, 0],
      ['10.5', {}, 0],
    ],
  ],
]

describe('sshd_config rules per OpenSSH version', () => {
  for (const [name, tree, cases] of DIFFERENCES) {
    for (const [version, values, problems] of cases) {
      test(`${name}: ${version}`, () => {
        const result = parse(tree, version)
        assert.equal(result.problems.length, problems, JSON.stringify(result.problems))
        assert.deepEqual(result.values, { ...defaults(), ...values })
      })
    }
  }

  test('Match Version: refused before 10.0, a note from 10.0', () => {
    const [refused] = parse(ONE('Match Version OpenSSH_10*'), '9.9').problems
    assert.match(refused!.message, /unsupported criterion.*refuses/)
    const [note] = parse(ONE('Match Version OpenSSH_10*'), '10.0').problems
    assert.doesNotMatch(note!.message, /refuses/)
  })

  test('readSshdConfig reads the file 8.2 names for a relative Include', async () => {
    const root = join(scratch, 'include-8.2')
    await mkdir(join(root, 'etc/ssh/conf.d'), { recursive: true })
    await writeFile(join(root, MAIN), 'Include conf.d/*.conf\n')
    await writeFile(join(root, 'etc/ssh/conf.d/a.conf'), 'MaxSessions 3\n')
    await writeFile(join(root, 'etc/ssh/Include'), 'MaxSessions 4\n')
    const old = await readSshdConfig(root, MAIN, { opensshVersion: '8.2p1' })
    assert.deepEqual([old.values.maxSessions, old.files], [4, [MAIN, '/etc/ssh/Include']])
    const fixed = await readSshdConfig(root, MAIN, { opensshVersion: '8.3p1' })
    assert.deepEqual([fixed.values.maxSessions, fixed.files], [3, [MAIN, '/etc/ssh/conf.d/a.conf']])
  })
})

describe('parseSshdTime per syntax', () => {
  const SYNTAXES: SshdTimeSyntax[] = ['strtol-sticky-unit', 'strtol', 'digits', 'decimal']
  const _ = undefined
  // text, then seconds in 8.2-8.3, 8.4-9.7, 9.8-10.2, 10.3+
  const table: [string, ...(number | undefined)[]][] = [
    ['90', 90, 90, 90, 90],
    ['1m30', 1860, 90, 90, 90],
    ['1m30s', 1860, 90, 90, 90],
    ['2h1m', 7260, 7260, 7260, 7260],
    ['+5', 5, 5, _, _],
    ['-0', 0, 0, _, _],
    ['-5', _, _, _, _],
    [' 5', 5, 5, _, _],
    ['5 ', _, _, _, _],
    ['1.5', _, _, _, 1],
    ['.5s1m', _, _, _, 60],
    ['59.99', _, _, _, 59],
    ['1.5m', _, _, _, _],
    ['5.', _, _, _, _],
    ['1.2.3', _, _, _, _],
    ['1e3', _, _, _, _],
    ['10s10', 20, 20, 20, _],
    ['2147483647', 2147483647, 2147483647, 2147483647, 2147483647],
    ['2147483647.5', _, _, _, _],
    ['2147483648', _, _, _, _],
  ]
  for (const [text, ...seconds] of table) {
    SYNTAXES.forEach((syntax, i) => {
      test(`${JSON.stringify(text)} ${syntax}`, () =>
        assert.equal(parseSshdTime(text, syntax), seconds[i]))
    })
  }

  test('the versions of each syntax', () => {
    const times = ['8.2', '8.3', '8.4', '9.7', '9.8', '10.2', '10.3', '10.5'].map(
      (v) => semanticsFor(v).time,
    )
    assert.deepEqual(times, [
      'strtol-sticky-unit',
      'strtol-sticky-unit',
      'strtol',
      'strtol',
      'digits',
      'digits',
      'decimal',
      'decimal',
    ])
  })
})

describe('semanticsFor', () => {
  test('unknown or missing: the newest rules', () => {
    const newest = semanticsFor(NEWEST_RESEARCHED_OPENSSH)
    for (const v of [undefined, null, '', 'unknown', 'OpenSSH']) {
      assert.deepEqual(semanticsFor(v), newest, String(v))
    }
    assert.deepEqual(semanticsFor('11.0'), newest)
  })

  test('any spelling of a version, older than 8.2 read as 8.2', () => {
    for (const v of ['10.0p2', 'OpenSSH_10.0p2', 'OpenSSH_10.0p2 Debian-7']) {
      assert.deepEqual(semanticsFor(v), semanticsFor('10.0'), v)
    }
    assert.deepEqual(semanticsFor('7.4p1'), semanticsFor('8.2'))
    assert.notDeepEqual(semanticsFor('8.2'), semanticsFor('8.3'))
  })
})

describe('parseSshdT: keys as 10.4 and 10.5 spell them', () => {
  const expected = {
    ...defaults(),
    maxSessions: 4,
    maxStartups: { begin: 5, rate: 0.5, full: 60 },
    loginGraceTimeSeconds: 30,
    clientAliveIntervalSeconds: 15,
    clientAliveCountMax: 2,
    unusedConnectionTimeoutSeconds: 600,
    perSourceMaxStartups: 3,
    channelTimeouts: [{ type: 'session', seconds: 60 }],
    listenPorts: [22, 2222],
    logLevel: 'VERBOSE',
  }
  // 10.4: lookup_opcode_name gives the keywords table's spelling; printf literals stay lower.
  const t104 = [
    'port 22',
    'port 2222',
    'LoginGraceTime 30',
    'MaxSessions 4',
    'ClientAliveInterval 15',
    'ClientAliveCountMax 2',
    'UnusedConnectionTimeout 600',
    'LogLevel VERBOSE',
    'ChannelTimeout session=60',
    'maxstartups 5:50:60',
    'persourcemaxstartups 3',
    'listenaddress 0.0.0.0:22',
    'listenaddress 0.0.0.0:2222',
  ].join('\n')
  // 10.5: every key mixed case.
  const t105 = t104
    .replaceAll('port ', 'Port ')
    .replace('maxstartups', 'MaxStartups')
    .replace('persourcemaxstartups', 'PerSourceMaxStartups')
    .replaceAll('listenaddress', 'ListenAddress')
  for (const [name, text] of [
    ['10.4', t104],
    ['10.5', t105],
  ] as const) {
    test(name, () => assert.deepEqual(parseSshdT(text), { values: expected, problems: [] }))
  }
})

// -------------------------------------------------------------------------------------------
// The real sshds read the lines whose meaning differs between 9.2 and 10.0 as we do.

describe('real sshd -T agrees on what differs between 9.2 and 10.0', () => {
  let hostKey = ''
  before(async () => {
    for (const sshd of SSHDS) await requireExecutable(sshd.path)
    hostKey = await makeHostKey(scratch)
  })

  const LINES = [
    'LoginGraceTime +5',
    'LoginGraceTime " 5"',
    'ClientAliveInterval "1m 30"',
    'LoginGraceTime -0',
    'LoginGraceTime 1.5',
    'ChannelTimeout # none given\nChannelTimeout session=1m',
    'MaxStartups 50\nMaxStartups 70',
    'MaxStartups 5:50:80\nMaxStartups 70',
    'Match User=bob\nMaxSessions 3',
  ]
  LINES.forEach((text, index) => {
    for (const sshd of SSHDS) {
      test(`${JSON.stringify(text)}: ${sshd.label}`, async () => {
        const config = join(scratch, `real-${index}.conf`)
        await writeFile(config, `${text}\n`)
        // A private /run holds the /run/sshd that sshd -T insists on.
        const script =
          'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec "$1" -T -f "$2" -h "$3"'
        const result = await run(
          '/usr/bin/unshare',
          ['--mount', '--', 'sh', '-c', script, 'sh', sshd.path, config, hostKey],
          { timeout: 20_000 },
        ).then(
          ({ stdout }) => ({ ok: true as const, stdout }),
          (error: { stderr?: string }) => ({ ok: false as const, stderr: error.stderr ?? '' }),
        )
        const ours = parseSshdConfigFiles(MAIN, new Map([[MAIN, text]]), {
          opensshVersion: sshd.release,
        })
        if (result.ok) {
          assert.deepEqual(ours.problems, [])
          assert.deepEqual(ours.values, parseSshdT(result.stdout).values)
        } else {
          assert.match(result.stderr, /real-\d+\.conf line \d+/)
          assert.ok(
            ours.problems.some((p) => /refuses/.test(p.message)),
            JSON.stringify(ours),
          )
        }
      })
    }
  })
})
