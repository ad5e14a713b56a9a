import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseSshdT } from '../../../src/sources/sshd-config/sshd-t.ts'
import { type EffectiveConfig, SSHD_DEFAULTS } from '../../../src/sources/sshd-config/values.ts'

function defaults(): EffectiveConfig {
  return structuredClone({ ...SSHD_DEFAULTS, channelTimeouts: [], listenPorts: [22] })
}

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
