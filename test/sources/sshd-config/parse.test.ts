import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  parseSshdConfigFiles,
  type SshdConfigOptions,
} from '../../../src/sources/sshd-config/parse.ts'
import { type EffectiveConfig, SSHD_DEFAULTS } from '../../../src/sources/sshd-config/values.ts'

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
