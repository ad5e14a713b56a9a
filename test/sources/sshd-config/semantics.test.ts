import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parseSshdConfigFiles } from '../../../src/sources/sshd-config/parse.ts'
import { readSshdConfig } from '../../../src/sources/sshd-config/read.ts'
import {
  NEWEST_RESEARCHED_OPENSSH,
  semanticsFor,
} from '../../../src/sources/sshd-config/semantics.ts'
import { type EffectiveConfig, SSHD_DEFAULTS } from '../../../src/sources/sshd-config/values.ts'

const MAIN = '/etc/ssh/sshd_config'

function defaults(): EffectiveConfig {
  return structuredClone({ ...SSHD_DEFAULTS, channelTimeouts: [], listenPorts: [22] })
}

function parse(tree: Record<string, string>, opensshVersion: string) {
  return parseSshdConfigFiles(MAIN, new Map(Object.entries(tree)), { opensshVersion })
}

let scratch = ''
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sshd-config-semantics-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

// -------------------------------------------------------------------------------------------
// What differs by version, on pure parses: [what, sshd_config tree, [version, values, problems]...]

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
