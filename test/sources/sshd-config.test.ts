import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  type EffectiveConfig,
  parseSshdConfigFiles,
  parseSshdT,
  parseSshdTime,
  readSshdConfig,
  SSHD_DEFAULTS,
  SshdConfigError,
  type SshdConfigOptions,
} from '../../src/sources/sshd-config.ts'
import { oracleScratch, REAL_SSHDS, sshdOverEtcSsh } from '../helpers/sshd-oracle.ts'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURES = join(REPO, 'test/fixtures/sshd-config')
const MAIN = '/etc/ssh/sshd_config'

function defaults(): EffectiveConfig {
  return structuredClone({ ...SSHD_DEFAULTS, channelTimeouts: [], listenPorts: [22] })
}

function withDefaults(values: Partial<EffectiveConfig>): EffectiveConfig {
  return { ...defaults(), ...values }
}

/** The pure parser on an in-memory tree: paths inside the root -> text. */
function parse(tree: Record<string, string>, options: SshdConfigOptions = {}) {
  return parseSshdConfigFiles(MAIN, new Map(Object.entries(tree)), options)
}

function parseMain(text: string, options: SshdConfigOptions = {}) {
  return parse({ [MAIN]: text }, options)
}

// -------------------------------------------------------------------------------------------
// Real sshd: `sshd -T` on each fixture must equal the file parser on the same files.
//
// Each case is a root tree: <case>/etc/ssh/sshd_config and whatever it includes, written as on
// a real host (relative Includes, absolute /etc/ssh/... paths, absolute symlinks). To let the
// real sshd see exactly those files at exactly those paths, it runs in a private mount
// namespace (`unshare --mount`, private propagation: nothing leaks to the host) where the
// case's etc/ssh is bind-mounted over /etc/ssh and a fresh tmpfs on /run holds the
// /run/sshd that `sshd -T` insists on (sshdOverEtcSsh, test/helpers/sshd-oracle.ts). The file
// parser reads the same tree with rootfs = <case>. Nothing is rewritten for either side, so
// relative-path resolution, glob order, dot-files, symlinks and Match handling are all compared
// for real.
// sshd 10.0 needs no SshdSessionPath/SshdAuthPath for -T: it only prints them.

type Expected = {
  files: string[]
  values: EffectiveConfig
  'values9.2'?: Partial<EffectiveConfig>
}

// Cases with an /etc/ssh/sshd_config: suse-vendor has none (SUSE's sshd reads /usr/etc/ssh), and is
// read in test/model/effective-config.test.ts.
const CASES = readdirSync(FIXTURES)
  .filter((name) => existsSync(join(FIXTURES, name, 'etc/ssh/sshd_config')))
  .sort()

describe('sshd -T of real sshd equals the sshd_config parser', () => {
  const oracle = oracleScratch('sshd-config-test-')

  test('there are at least ten cases, each saying what it tests', () => {
    assert.ok(CASES.length >= 10, `only ${CASES.length} cases`)
    for (const name of CASES) {
      const first = readFileSync(join(FIXTURES, name, 'etc/ssh/sshd_config'), 'utf8').split('\n')[0]
      assert.match(first ?? '', /^# Tests: \S/, name)
    }
  })

  for (const name of CASES) {
    for (const sshd of REAL_SSHDS) {
      test(`${name}: ${sshd.label}`, async () => {
        const root = join(FIXTURES, name)
        const version = oracle.versions.get(sshd.path)!
        const [unshare, ...args] = sshdOverEtcSsh(root, sshd.path, oracle.hostKey, '-T', '-f', MAIN)
        const { stdout } = await run(unshare, args, { timeout: 20_000 }).catch(
          (error: { stderr?: string; message: string }) => {
            throw new Error(
              `sshd -T in a mount namespace (needs root) failed: ${error.stderr || error.message}`,
            )
          },
        )
        const fromSshd = parseSshdT(stdout)
        const fromFiles = await readSshdConfig(root, MAIN, { opensshVersion: version })
        assert.deepEqual(fromSshd.problems, [])
        assert.deepEqual(fromFiles.problems, [])
        assert.deepEqual(fromFiles.values, fromSshd.values)

        // The fixture tests what it says: values and files as recorded when it was written.
        const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8')) as Expected
        const values = version.startsWith('9.')
          ? { ...expected.values, ...expected['values9.2'] }
          : expected.values
        assert.deepEqual(fromSshd.values, values)
        assert.deepEqual(fromFiles.files, expected.files)
      })
    }
  }
})

// -------------------------------------------------------------------------------------------
// Pure parts

describe('parseSshdTime', () => {
  const table: [string, number | undefined][] = [
    ['0', 0],
    ['90', 90],
    ['0s', 0],
    ['10S', 10],
    ['1m30s', 90],
    ['1M30S', 90],
    ['1m30', 90],
    ['2h', 7200],
    ['1d1', 86401],
    ['1w', 604800],
    ['1w2d3h4m5s', 788645],
    ['007', 7],
    ['2147483647', 2147483647],
    ['2147483648', undefined],
    ['35791394m', 2147483640],
    ['35791395m', undefined],
    ['3550w', 2147040000],
    ['3551w', undefined],
    ['2147483647s1', undefined],
    ['', undefined],
    ['none', undefined],
    ['1.5m', undefined],
    ['m', undefined],
    ['5mm', undefined],
    ['1x', undefined],
    ['+5', undefined],
    ['-5', undefined],
    [' 5', undefined],
    ['5 ', undefined],
  ]
  for (const [text, seconds] of table) {
    test(JSON.stringify(text), () => assert.equal(parseSshdTime(text), seconds))
  }
})

const T_10_0 = `port 22
addressfamily any
logingracetime 120
x11displayoffset 10
maxauthtries 6
maxsessions 10
clientaliveinterval 0
clientalivecountmax 3
unusedconnectiontimeout none
subsystem sftp /usr/lib/openssh/sftp-server
channeltimeout none
maxstartups 10:30:100
persourcemaxstartups none
persourcenetblocksize 32:128
`

describe('parseSshdT', () => {
  test('OpenSSH 10.0 defaults', () => {
    assert.deepEqual(parseSshdT(T_10_0), { values: defaults(), problems: [] })
  })

  test('OpenSSH 9.2: no channeltimeout line means none', () => {
    const text = T_10_0.replace('channeltimeout none\n', '')
    assert.deepEqual(parseSshdT(text), { values: defaults(), problems: [] })
  })

  test('values set, mixed-case keys (OpenSSH after 10.0), CRLF', () => {
    const text = [
      'LoginGraceTime 0',
      'MaxSessions 2',
      'ClientAliveInterval 15',
      'ClientAliveCountMax 4',
      'UnusedConnectionTimeout 300',
      'ChannelTimeout session=5m global=1h1s',
      'MaxStartups 3:50:9',
      'PerSourceMaxStartups 5',
      'Port 2222',
      'Port 22',
      'ListenAddress 127.0.0.1:2222',
      'ListenAddress [::1]:22',
      'ListenAddress 0.0.0.0:22',
      'LogLevel DEBUG2',
    ].join('\r\n')
    assert.deepEqual(parseSshdT(text), {
      values: {
        maxSessions: 2,
        maxStartups: { begin: 3, rate: 0.5, full: 9 },
        loginGraceTimeSeconds: 0,
        clientAliveIntervalSeconds: 15,
        clientAliveCountMax: 4,
        unusedConnectionTimeoutSeconds: 300,
        perSourceMaxStartups: 5,
        channelTimeouts: [
          { type: 'session', seconds: 300 },
          { type: 'global', seconds: 3601 },
        ],
        listenPorts: [22, 2222],
        logLevel: 'DEBUG2',
      },
      problems: [],
    })
  })

  test('listen ports: ListenAddress lines first, else Port lines, else 22; a bad one is a problem', () => {
    assert.deepEqual(parseSshdT('port 2200\nport 2201\n').values.listenPorts, [2200, 2201])
    assert.deepEqual(parseSshdT('').values.listenPorts, [22])
    const bad = parseSshdT('port 22\nlistenaddress 10.0.0.1\nlistenaddress [::1]:99999\n')
    assert.deepEqual(bad.values.listenPorts, [22])
    assert.deepEqual(
      bad.problems.filter((p) => p.message.includes('has no port')).map((p) => p.line),
      [2, 3],
    )
  })

  test('malformed values are problems with their line, and take the default', () => {
    const text = T_10_0.replace('maxsessions 10', 'maxsessions ten')
      .replace('maxstartups 10:30:100', 'maxstartups 10:30')
      .replace('persourcemaxstartups none', 'persourcemaxstartups -1')
      .replace('channeltimeout none', 'channeltimeout session')
    const { values, problems } = parseSshdT(text)
    assert.deepEqual(values, defaults())
    assert.deepEqual(problems.map((p) => `${p.file}:${p.line}`).sort(), [
      'sshd -T:11',
      'sshd -T:12',
      'sshd -T:13',
      'sshd -T:6',
    ])
  })

  test('missing required keys are problems; empty output gives defaults', () => {
    const { values, problems } = parseSshdT('')
    assert.deepEqual(values, defaults())
    assert.equal(problems.length, 5)
    for (const p of problems) assert.equal(p.line, undefined)
  })
})

describe('parseSshdConfigFiles: MaxStartups', () => {
  const table: [string, string, [number, number, number], SshdConfigOptions?][] = [
    ['absent', '', [10, 0.3, 100]],
    ['begin:rate:full', 'MaxStartups 10:30:100', [10, 0.3, 100]],
    ['one number N is N:30:N', 'MaxStartups 5', [5, 0.3, 5]],
    ['sscanf stops at junk', 'MaxStartups 20x', [20, 0.3, 20]],
    ['sscanf ignores trailing junk', 'MaxStartups 10:30:100junk', [10, 0.3, 100]],
    ['blanks inside quotes', 'MaxStartups " 10: 40: 50"', [10, 0.4, 50]],
    ['rate 100', 'MaxStartups 1:100:1', [1, 1, 1]],
    [
      'up to 10.0 the last line wins',
      'MaxStartups 3:40:9\nMaxStartups 7:20:8',
      [7, 0.2, 8],
      { opensshVersion: '10.0' },
    ],
    [
      'up to 10.0 N keeps the rate',
      'MaxStartups 10:50:100\nMaxStartups 20',
      [20, 0.5, 20],
      { opensshVersion: '10.0' },
    ],
    [
      'from 10.1 the first line wins',
      'MaxStartups 10:50:100\nMaxStartups 20',
      [10, 0.5, 100],
      { opensshVersion: 'OpenSSH_10.1p1' },
    ],
    [
      'from 10.3 N is N:30:N',
      'MaxStartups 20\nMaxStartups 5:5:5',
      [20, 0.3, 20],
      {
        opensshVersion: '10.3',
      },
    ],
    ['in Match all', 'Match all\nMaxStartups 4:10:8', [4, 0.1, 8]],
  ]
  for (const [name, text, [begin, rate, full], options] of table) {
    test(name, () => {
      const { values, problems } = parseMain(text, options)
      assert.deepEqual(problems, [])
      assert.deepEqual(values.maxStartups, { begin, rate, full })
    })
  }

  for (const bad of ['20:30', '0', '-5', 'abc', '30:30:20', '10:0:100', '10:101:100', '""']) {
    test(`rejected: ${bad}`, () => {
      const { values, problems } = parseMain(`MaxStartups ${bad}\nMaxSessions 4`)
      assert.deepEqual(values.maxStartups, SSHD_DEFAULTS.maxStartups)
      assert.equal(values.maxSessions, 4)
      assert.equal(problems.length, 1)
      assert.equal(problems[0]!.line, 1)
    })
  }
})

describe('parseSshdConfigFiles: lines', () => {
  const table: [string, string, Partial<EffectiveConfig>][] = [
    ['keyword=value', 'MaxSessions=4', { maxSessions: 4 }],
    ['keyword = value', 'MaxSessions = 4', { maxSessions: 4 }],
    [
      'keyword value=',
      'ChannelTimeout =session=1m',
      { channelTimeouts: [{ type: 'session', seconds: 60 }] },
    ],
    ['any case', 'mAXsESSIONS 4', { maxSessions: 4 }],
    ['leading blanks and CR', ' \t\rMaxSessions\t4 \r', { maxSessions: 4 }],
    ['form feed at the end', 'MaxSessions 4\f', { maxSessions: 4 }],
    ['double quotes', 'MaxSessions "4"', { maxSessions: 4 }],
    ['single quotes', "LoginGraceTime '1m'", { loginGraceTimeSeconds: 60 }],
    ['trailing comment', 'MaxSessions 4 # four', { maxSessions: 4 }],
    ['comment line', '#MaxSessions 4', {}],
    ['leading zero and plus', 'MaxSessions +04', { maxSessions: 4 }],
    ['first wins', 'MaxSessions 4\nMaxSessions 5', { maxSessions: 4 }],
    ['zero is none', 'UnusedConnectionTimeout 0', {}],
    ['none after a value wins', 'UnusedConnectionTimeout 5m\nUnusedConnectionTimeout NONE', {}],
    ['none before a value wins', 'UnusedConnectionTimeout none\nUnusedConnectionTimeout 5m', {}],
    ['PerSourceMaxStartups', 'PerSourceMaxStartups 0', { perSourceMaxStartups: 0 }],
    ['unknown keywords ignored', 'Foo bar\nMaxSessions 4', { maxSessions: 4 }],
  ]
  for (const [name, text, values] of table) {
    test(name, () => {
      assert.deepEqual(parseMain(text), {
        values: withDefaults(values),
        problems: [],
        files: [MAIN],
      })
    })
  }

  test('PerSourceMaxStartups: the last wins before 9.5, the first from 9.5', () => {
    const text = 'PerSourceMaxStartups 3\nPerSourceMaxStartups none'
    assert.equal(parseMain(text, { opensshVersion: '9.4' }).values.perSourceMaxStartups, null)
    assert.equal(parseMain(text, { opensshVersion: '9.5' }).values.perSourceMaxStartups, 3)
    assert.equal(parseMain(text).values.perSourceMaxStartups, 3)
  })

  const malformed = [
    'MaxSessions ten',
    'MaxSessions -1',
    'MaxSessions 2147483648',
    'MaxSessions 5 6',
    'MaxSessions',
    'MaxSessions 5#c',
    'MaxSessions # nothing',
    'MaxSessions "5',
    'ClientAliveCountMax 1.5',
    'LoginGraceTime 1.5m',
    'LoginGraceTime none',
    'ClientAliveInterval -1',
    'UnusedConnectionTimeout none 5',
    'UnusedConnectionTimeout soon',
    'PerSourceMaxStartups None',
    'ChannelTimeout none session=1m',
    'ChannelTimeout session',
    'ChannelTimeout =5m',
    'ChannelTimeout session=5x',
    'Include ""',
    'Include',
    'Match',
    'Match all User bob',
    'Match User',
    'Match Colour blue',
    'Match LocalPort ssh',
  ]
  for (const line of malformed) {
    test(`malformed: ${line}`, () => {
      const { values, problems } = parseMain(`${line}\nMatch all\nClientAliveCountMax 7`)
      assert.equal(problems.length, 1, JSON.stringify(problems))
      assert.equal(problems[0]!.file, MAIN)
      assert.equal(problems[0]!.line, 1)
      assert.match(problems[0]!.message, /refuses/)
      assert.deepEqual(values, withDefaults({ clientAliveCountMax: 7 }))
    })
  }
})

describe('parseSshdConfigFiles: Match', () => {
  test('criteria never match; a block lasts until the next Match', () => {
    const text = [
      'ClientAliveInterval 15',
      'Match User alice Address 10.0.0.0/8',
      'MaxSessions 1',
      'Match Host=*.example.com',
      'ClientAliveCountMax 0',
      'Match invalid-user',
      'UnusedConnectionTimeout 1h',
      'Match LocalPort 22 RDomain rd1 Group wheel LocalAddress 192.0.2.1 # comment',
      'ClientAliveInterval 1',
    ].join('\n')
    assert.deepEqual(parseMain(text).values, withDefaults({ clientAliveIntervalSeconds: 15 }))
  })

  test('Match all overrides the global value of Match keywords, and sets global ones', () => {
    const text = [
      'MaxSessions 3',
      'LoginGraceTime 50',
      'UnusedConnectionTimeout 5m',
      'Match all # every connection',
      'MaxSessions 8',
      'MaxSessions 9',
      'LoginGraceTime 40',
      'ClientAliveInterval 20',
      'PerSourceMaxStartups 6',
      'UnusedConnectionTimeout none',
    ].join('\n')
    assert.deepEqual(parseMain(text).values, {
      ...defaults(),
      maxSessions: 8,
      loginGraceTimeSeconds: 50,
      clientAliveIntervalSeconds: 20,
      perSourceMaxStartups: 6,
    })
  })

  test('a keyword not allowed in Match, inside a Match that does not match', () => {
    const { values, problems } = parseMain('Match User bob\nLoginGraceTime 5\nMaxSessions 3')
    assert.deepEqual(values, defaults())
    assert.equal(problems.length, 1)
    assert.equal(problems[0]!.line, 2)
    assert.match(problems[0]!.message, /not allowed within a Match block/)
  })

  test('Match Version cannot be evaluated: a problem, treated as not matching', () => {
    const { values, problems } = parseMain('Match Version OpenSSH_10*\nMaxSessions 3')
    assert.equal(values.maxSessions, 10)
    assert.equal(problems.length, 1)
    assert.match(problems[0]!.message, /Version/)
  })
})

describe('parseSshdConfigFiles: Include', () => {
  test('relative to /etc/ssh, byte order, dot-files hidden, escapes and classes', () => {
    const { values, problems, files } = parse({
      [MAIN]: 'Include d/*.conf d/[!x]?.cf d/lit\\*.txt\nMaxSessions 2',
      '/etc/ssh/d/b.conf': 'MaxSessions 3',
      '/etc/ssh/d/B.conf': 'ClientAliveCountMax 4',
      '/etc/ssh/d/.a.conf': 'MaxSessions 5',
      '/etc/ssh/d/a1.cf': 'LoginGraceTime 6',
      '/etc/ssh/d/x1.cf': 'LoginGraceTime 7',
      '/etc/ssh/d/lit*.txt': 'ClientAliveInterval 8',
      '/etc/ssh/d/literal.txt': 'ClientAliveInterval 9',
    })
    assert.deepEqual(problems, [])
    assert.deepEqual(files, [
      MAIN,
      '/etc/ssh/d/B.conf',
      '/etc/ssh/d/b.conf',
      '/etc/ssh/d/a1.cf',
      '/etc/ssh/d/lit*.txt',
    ])
    assert.deepEqual(
      values,
      withDefaults({
        maxSessions: 3,
        clientAliveCountMax: 4,
        loginGraceTimeSeconds: 6,
        clientAliveIntervalSeconds: 8,
      }),
    )
  })

  test('sshdir option', () => {
    const { values } = parse(
      { [MAIN]: 'Include x.conf', '/usr/local/etc/ssh/x.conf': 'MaxSessions 3' },
      { sshdir: '/usr/local/etc/ssh/' },
    )
    assert.equal(values.maxSessions, 3)
  })

  test('the same file twice is fine; ~ is not expanded', () => {
    const { values, problems } = parse({
      [MAIN]: 'Include a.conf a.conf ~/b.conf\nMatch all\nInclude a.conf',
      '/etc/ssh/a.conf': 'ClientAliveInterval 4',
    })
    assert.equal(values.clientAliveIntervalSeconds, 4)
    assert.equal(problems.length, 1)
    assert.match(problems[0]!.message, /~/)
  })

  test('a file including itself is a loop', () => {
    const { values, problems } = parse({ [MAIN]: 'MaxSessions 4\nInclude sshd_config' })
    assert.equal(values.maxSessions, 4)
    assert.equal(problems.length, 1)
    assert.match(
      problems[0]!.message,
      /Include loop \/etc\/ssh\/sshd_config -> \/etc\/ssh\/sshd_config/,
    )
  })

  test('a -> b -> a is a loop, found once per path', () => {
    const { values, problems } = parse({
      [MAIN]: 'Include a.conf',
      '/etc/ssh/a.conf': 'Include b.conf\nMaxSessions 3',
      '/etc/ssh/b.conf': 'Include a.conf\nClientAliveCountMax 2',
    })
    assert.deepEqual(values, withDefaults({ maxSessions: 3, clientAliveCountMax: 2 }))
    assert.equal(problems.length, 1)
    assert.equal(problems[0]!.file, '/etc/ssh/b.conf')
    assert.match(problems[0]!.message, /a\.conf -> \/etc\/ssh\/b\.conf -> \/etc\/ssh\/a\.conf/)
  })

  function chain(levels: number): Record<string, string> {
    const tree: Record<string, string> = { [MAIN]: 'Include f1' }
    for (let i = 1; i <= levels; i++) {
      tree[`/etc/ssh/f${i}`] = i < levels ? `Include f${i + 1}` : `MaxSessions ${i}`
    }
    return tree
  }

  test('16 levels of Include are allowed', () => {
    assert.deepEqual(parse(chain(16)).problems, [])
    assert.equal(parse(chain(16)).values.maxSessions, 16)
  })

  test('17 levels are too deep', () => {
    const { values, problems } = parse(chain(17))
    assert.equal(values.maxSessions, 10)
    assert.equal(problems.length, 1)
    assert.equal(problems[0]!.file, '/etc/ssh/f16')
    assert.match(problems[0]!.message, /deeper than 16/)
  })

  test('the main file missing from the set', () => {
    const result = parseSshdConfigFiles(MAIN, new Map())
    assert.deepEqual(result.values, defaults())
    assert.deepEqual(result.files, [])
    assert.equal(result.problems.length, 1)
  })
})

// -------------------------------------------------------------------------------------------
// Reading under a root

describe('readSshdConfig', () => {
  let scratch = ''
  let root = ''
  let outside = ''

  /** Files and symlinks under a fresh root; `outside.conf` beside it must never be read. */
  async function tree(files: Record<string, string | { symlink: string }>): Promise<string> {
    await rm(root, { recursive: true, force: true })
    for (const [path, content] of Object.entries(files)) {
      const host = join(root, path)
      await mkdir(dirname(host), { recursive: true })
      if (typeof content === 'string') await writeFile(host, content)
      else await symlink(content.symlink, host)
    }
    return root
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'sshd-config-root-'))
    root = join(scratch, 'root')
    outside = join(scratch, 'outside.conf')
    await writeFile(outside, 'MaxSessions 99\nClientAliveCountMax 99\n')
  })
  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  test('the main file missing is a NOT_FOUND error', async () => {
    await tree({ 'etc/ssh/other': '' })
    await assert.rejects(readSshdConfig(root), (error: unknown) => {
      assert.ok(error instanceof SshdConfigError)
      assert.equal(error.code, 'NOT_FOUND')
      assert.equal(error.file, MAIN)
      return true
    })
  })

  test('.. in the main path stays in the root', async () => {
    await tree({ 'etc/ssh/sshd_config': '' })
    await assert.rejects(readSshdConfig(root, '/../../outside.conf'), { code: 'NOT_FOUND' })
    await assert.rejects(readSshdConfig(root, '/etc/ssh/../../../outside.conf'), {
      code: 'NOT_FOUND',
    })
  })

  test('Include with .. stays in the root', async () => {
    await tree({
      'etc/ssh/sshd_config': [
        'Include ../../../../outside.conf',
        'Include /../../outside.conf',
        'Include /etc/ssh/../../../*.conf',
      ].join('\n'),
    })
    const { values, problems } = await readSshdConfig(root)
    assert.deepEqual(problems, [])
    assert.deepEqual(values, defaults())
  })

  test('absolute and relative symlinks out of the root are re-rooted', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include sshd_config.d/*\nInclude /etc/ssh/up/*.conf',
      'etc/ssh/sshd_config.d/1-host-path.conf': { symlink: outside },
      'etc/ssh/sshd_config.d/2-dotdot.conf': { symlink: '../../../../../../outside.conf' },
      'etc/ssh/sshd_config.d/3-dir': { symlink: scratch },
      'etc/ssh/up': { symlink: '/..' },
      'etc/ssh/sshd_config.d/4-in-root.conf': { symlink: '/etc/ssh/real.conf' },
      'etc/ssh/real.conf': 'LoginGraceTime 9',
    })
    const { values, problems, files } = await readSshdConfig(root)
    assert.deepEqual(values, withDefaults({ loginGraceTimeSeconds: 9 }))
    assert.deepEqual(files, [MAIN, '/etc/ssh/sshd_config.d/4-in-root.conf'])
    assert.deepEqual(
      problems.map((p) => p.file),
      [
        '/etc/ssh/sshd_config.d/1-host-path.conf',
        '/etc/ssh/sshd_config.d/2-dotdot.conf',
        '/etc/ssh/sshd_config.d/3-dir',
      ],
    )
  })

  test('a symlink loop is a problem, not a hang', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include /etc/ssh/loop.conf\nMaxSessions 4',
      'etc/ssh/loop.conf': { symlink: 'loop.conf' },
    })
    const { values, problems } = await readSshdConfig(root)
    assert.equal(values.maxSessions, 4)
    assert.deepEqual(problems, [{ file: '/etc/ssh/loop.conf', message: 'cannot open: ELOOP' }])
  })

  test('a 10 MB included file is skipped with a problem; the rest is read', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include sshd_config.d/*.conf',
      'etc/ssh/sshd_config.d/1-big.conf': `MaxSessions 1\n${'# filler\n'.repeat(1_200_000)}`,
      'etc/ssh/sshd_config.d/2-small.conf': 'MaxSessions 2',
    })
    const { values, problems, files } = await readSshdConfig(root)
    assert.equal(values.maxSessions, 2)
    assert.deepEqual(files, [MAIN, '/etc/ssh/sshd_config.d/2-small.conf'])
    assert.equal(problems.length, 1)
    assert.equal(problems[0]!.file, '/etc/ssh/sshd_config.d/1-big.conf')
    assert.match(problems[0]!.message, /larger than 1048576 bytes/)
  })

  test('the size cap applies to the main file too, and is an option', async () => {
    await tree({ 'etc/ssh/sshd_config': 'MaxSessions 4\n' })
    assert.equal((await readSshdConfig(root, MAIN, { maxFileBytes: 14 })).values.maxSessions, 4)
    await assert.rejects(readSshdConfig(root, MAIN, { maxFileBytes: 13 }), { code: 'TOO_BIG' })
  })

  test('binary files are skipped; a binary main file is an error', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include bin.conf\nClientAliveCountMax 6',
      'etc/ssh/bin.conf': 'MaxSessions 1\0\nMaxSessions 2',
    })
    const { values, problems } = await readSshdConfig(root)
    assert.deepEqual(values, withDefaults({ clientAliveCountMax: 6 }))
    assert.deepEqual(problems, [
      { file: '/etc/ssh/bin.conf', message: 'contains NUL bytes; skipped' },
    ])
    await tree({ 'etc/ssh/sshd_config': '\0' })
    await assert.rejects(readSshdConfig(root), { code: 'BINARY' })
  })

  test('directories read as empty, a FIFO does not hang', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include d/*\nMaxSessions 3',
      'etc/ssh/d/sub/x.conf': 'MaxSessions 1',
    })
    await run('mkfifo', [join(root, 'etc/ssh/d/fifo')])
    const { values, problems, files } = await readSshdConfig(root)
    assert.equal(values.maxSessions, 3)
    assert.deepEqual(problems, [])
    assert.deepEqual(files, [MAIN, '/etc/ssh/d/fifo', '/etc/ssh/d/sub'])
  })

  test('files are capped in number', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include d/*.conf',
      'etc/ssh/d/1.conf': 'MaxSessions 1',
      'etc/ssh/d/2.conf': '',
      'etc/ssh/d/3.conf': '',
    })
    const { values, problems, files } = await readSshdConfig(root, MAIN, { maxFiles: 2 })
    assert.equal(values.maxSessions, 1)
    assert.deepEqual(files, [MAIN, '/etc/ssh/d/1.conf'])
    assert.equal(problems.length, 1)
    assert.match(problems[0]!.message, /more than 2 files/)
  })

  test('problems of included files are listed once, with the parser problems', async () => {
    await tree({
      'etc/ssh/sshd_config': 'Include a.conf\nInclude a.conf\nMaxSessions x',
      'etc/ssh/a.conf': { symlink: 'missing.conf' },
    })
    const { problems } = await readSshdConfig(root)
    assert.deepEqual(
      problems.map((p) => [p.file, p.line]),
      [
        ['/etc/ssh/a.conf', undefined],
        [MAIN, 3],
      ],
    )
  })
})
