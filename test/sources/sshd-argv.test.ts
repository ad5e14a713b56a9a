import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseSshdArgv, sshdCommandLineArgs, titleArgv } from '../../src/sources/sshd-argv.ts'
import { parseSshdConfigFiles } from '../../src/sources/sshd-config/parse.ts'

const MAIN = '/etc/ssh/sshd_config'
const SSHD = '/usr/sbin/sshd'
const LISTENER = ' [listener] 0 of 10-100 startups'

// -------------------------------------------------------------------------------------------
// parseSshdArgv: getopt(3) as OpenSSH's openbsd-compat BSD getopt does it

describe('parseSshdArgv', () => {
  const base = { program: SSHD, options: [], ports: [], inetd: false, test: false, problems: [] }
  const table: [string[], Record<string, unknown>][] = [
    [[], {}],
    [['-D'], {}],
    [['-Dp2222'], { ports: [2222], optionsBeforePorts: 0 }],
    [['-p2222', '-p', '2200'], { ports: [2222, 2200], optionsBeforePorts: 0 }],
    [
      ['-oMaxSessions=4', '-o', 'MaxStartups 3:50:9', '-Do', 'X=1'],
      { options: ['MaxSessions=4', 'MaxStartups 3:50:9', 'X=1'] },
    ],
    [['-o', '-p'], { options: ['-p'] }], // an option's argument may start with `-`
    [
      ['-o', 'A=1', '-p', '22', '-o', 'B=2', '-p', '23'],
      { options: ['A=1', 'B=2'], ports: [22, 23], optionsBeforePorts: 1 },
    ],
    [['-f', '/a', '-f/b'], { configFile: '/b' }],
    [['-f', 'none'], { configFile: 'none' }],
    [['-g', '45'], { loginGraceTime: '45' }],
    [['-g1m', '-g', '2m'], { loginGraceTime: '2m' }],
    [['-46'], { addressFamily: 'inet6' }],
    [['-6', '-4'], { addressFamily: 'inet' }],
    // -d: the first sets DEBUG1 (named DEBUG, as sshd -T names it), each further one a level up
    // to DEBUG3; -q sets QUIET; a -d after -q steps up from QUIET.
    [['-d'], { logLevel: 'DEBUG' }],
    [['-dd'], { logLevel: 'DEBUG2' }],
    [['-ddd', '-d'], { logLevel: 'DEBUG3' }],
    [['-q'], { logLevel: 'QUIET' }],
    [['-q', '-d'], { logLevel: 'DEBUG' }],
    [['-d', '-q'], { logLevel: 'QUIET' }],
    [['-dqd'], { logLevel: 'FATAL' }],
    [['-E', '/var/log/sshd.log', '-e'], { logFile: '/var/log/sshd.log' }],
    [['-i'], { inetd: true }],
    [['-R'], { inetd: true }],
    [['-t'], { test: true }],
    [['-T', '-C', 'user=a'], { test: true }],
    [['-G'], { test: true }],
    [['-V'], { test: true }],
    [['-Q', '-r', '-b', '1024', '-k', '3600', '-u0', '-h', '/k', '-c', '/k-cert.pub'], {}],
    [['--', '-p', '22'], { problems: ['extra argument "-p" (sshd refuses to start with this)'] }],
    [['-D', '--'], {}],
    [['foo', '-p', '22'], { problems: ['extra argument "foo" (sshd refuses to start with this)'] }],
    [['-', '-p', '22'], { problems: ['extra argument "-" (sshd refuses to start with this)'] }],
    [['-D-', '-p', '22'], { problems: ['"-D-": options end at its last "-"'] }],
    [['-p'], { problems: ['option -p requires an argument (sshd refuses to start with this)'] }],
    [
      ['-xD', '-p', '22'],
      {
        ports: [22],
        optionsBeforePorts: 0,
        problems: ['unknown option -x (sshd refuses to start with this)'],
      },
    ],
    // a2port: strtonum 1..65535 (leading blanks and a sign allowed), else a service name.
    [['-p', '+22', '-p', ' 23'], { ports: [22, 23], optionsBeforePorts: 0 }],
    [['-p', '0'], { problems: ['-p "0": bad port number (sshd refuses to start with this)'] }],
    [
      ['-p', '65536'],
      { problems: ['-p "65536": bad port number (sshd refuses to start with this)'] },
    ],
    [['-p', 'ssh'], { problems: ['-p "ssh": a service name, not resolved here; port unknown'] }],
  ]
  for (const [args, expected] of table) {
    test(JSON.stringify(args), () => {
      assert.deepEqual(parseSshdArgv([SSHD, ...args]), { ...base, ...expected })
    })
  }

  test('an empty argv', () => {
    assert.deepEqual(parseSshdArgv([]), { ...base, program: '' })
  })
})

describe('sshdCommandLineArgs', () => {
  test('passes what sets the configuration, in sshd order, and nothing that runs or logs', () => {
    const argv = [SSHD, '-D', '-e', '-E', '/l', '-dd', '-f', '/c', '-o', 'A=1', '-p', '22']
    argv.push('-o', 'Port=3', '-g', '45', '-i', '-6', '-h', '/k')
    assert.deepEqual(sshdCommandLineArgs(parseSshdArgv(argv)), [
      ...['-f', '/c', '-o', 'LogLevel=DEBUG2', '-o', 'A=1', '-p', '22', '-o', 'Port=3'],
      ...['-g', '45', '-6'],
    ])
  })

  test('ports after every -o when -p came last; nothing for a bare sshd', () => {
    const argv = [SSHD, '-o', 'A=1', '-p', '22', '-p', '23']
    assert.deepEqual(sshdCommandLineArgs(parseSshdArgv(argv)), [
      ...['-o', 'A=1', '-p', '22', '-p', '23'],
    ])
    assert.deepEqual(sshdCommandLineArgs(parseSshdArgv([SSHD, '-D'])), [])
  })
})

// -------------------------------------------------------------------------------------------
// titleArgv

describe('titleArgv', () => {
  const table: [string, string[] | null][] = [
    [`sshd: /usr/sbin/sshd -D${LISTENER}`, [SSHD, '-D']],
    [`sshd: /usr/sbin/sshd${LISTENER}`, [SSHD]],
    [
      `sshd: /usr/sbin/sshd -D -o MaxSessions=4 -o MaxStartups=3:50:9 -p 2222 -g 45${LISTENER}`,
      [SSHD, '-D', '-o', 'MaxSessions=4', '-o', 'MaxStartups=3:50:9', '-p', '2222', '-g', '45'],
    ],
    // Spaces lost: words after an option's argument that do not start with `-` continue it.
    [
      `sshd: /usr/sbin/sshd -o ClientAliveInterval 30 -D${LISTENER}`,
      [SSHD, '-o', 'ClientAliveInterval 30', '-D'],
    ],
    [
      `sshd: /usr/sbin/sshd -oClientAliveInterval 30${LISTENER}`,
      [SSHD, '-oClientAliveInterval 30'],
    ],
    [
      `sshd: /usr/sbin/sshd -o ChannelTimeout session=5m global=1h${LISTENER}`,
      [SSHD, '-o', 'ChannelTimeout session=5m global=1h'],
    ],
    [`sshd: /usr/sbin/sshd -f /etc/ssh/my config${LISTENER}`, [SSHD, '-f', '/etc/ssh/my config']],
    [`sshd: /usr/sbin/sshd -o MaxSessions  4${LISTENER}`, [SSHD, '-o', 'MaxSessions  4']],
    [`sshd: /usr/sbin/sshd -o  MaxSessions 4${LISTENER}`, [SSHD, '-o', ' MaxSessions 4']],
    [`sshd: /opt/my sshd/sshd -D${LISTENER}`, ['/opt/my sshd/sshd', '-D']],
    // The limit: a continuing word that starts with `-` reads as an option.
    [`sshd: /usr/sbin/sshd -o Banner -x${LISTENER}`, [SSHD, '-o', 'Banner', '-x']],
    // After `--` or a non-option, words are kept as they are (sshd would have refused them).
    [`sshd: /usr/sbin/sshd -D -- a b${LISTENER}`, [SSHD, '-D', '--', 'a', 'b']],
    // strnvis(VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL), undone.
    [
      `sshd: /usr/sbin/sshd -o ClientAliveInterval\\t30 -o Banner /b\\303\\251\\\\x\\n${LISTENER}`,
      [SSHD, '-o', 'ClientAliveInterval\t30', '-o', 'Banner /bé\\x\n'],
    ],
    // Cut titles (setproctitle's room is the original argv and environment): the last argument
    // goes, joined words and all; an option left without its argument stays, to be a problem.
    [`sshd: /usr/sbin/sshd -D -p 2222 -E /var/lo`, [SSHD, '-D', '-p', '2222', '-E']],
    [`sshd: /usr/sbin/sshd -D -p 2222 -E `, [SSHD, '-D', '-p', '2222', '-E']],
    [`sshd: /usr/sbin/sshd -D -o ChannelTimeout session=5m glo`, [SSHD, '-D', '-o']],
    [`sshd: /usr/sbin/sshd -D -o ClientAliveInterval 3`, [SSHD, '-D', '-o']],
    [`sshd: /usr/sbin/sshd -D [liste`, [SSHD, '-D']],
    [`sshd: /usr/sbin/sshd -D [listener] 0 of 10-1`, [SSHD, '-D']],
    [`sshd: /usr/sbin/sshd -D -o Banner /b\\30`, [SSHD, '-D', '-o']],
    [`sshd: /usr/sb`, null],
    // Not a listener's title.
    ['sshd: alice [priv]', null],
    ['sshd: [accepted]', null],
    ['sshd-session: alice@pts/0', null],
    [SSHD, null], // a title never set: cmdline is the argv, cut at its first NUL
    ['', null],
    [`sshd: /usr/sbin/sshd-session -D${LISTENER}`, null],
  ]
  for (const [title, argv] of table) {
    test(JSON.stringify(title), () => assert.deepEqual(titleArgv(title), argv))
  }
})

// -------------------------------------------------------------------------------------------
// The command line applied to files (pure)

describe('parseSshdConfigFiles with commandLine', () => {
  const parse = (text: string, argv: string[], opensshVersion = '10.0') =>
    parseSshdConfigFiles(MAIN, new Map([[MAIN, text]]), {
      commandLine: parseSshdArgv([SSHD, ...argv]),
      opensshVersion,
    })

  test('-o lines come first: the file cannot override them', () => {
    const { values, problems } = parse('MaxSessions 9\nClientAliveInterval 60\n', [
      ...['-o', 'MaxSessions=4', '-o', 'ClientAliveInterval 30'],
    ])
    assert.equal(values.maxSessions, 4)
    assert.equal(values.clientAliveIntervalSeconds, 30)
    assert.deepEqual(problems, [])
  })

  test('-p replaces every Port line, even a malformed one; -o Port before -p counts', () => {
    assert.deepEqual(parse('Port 2200\nPort banana\n', ['-p', '2222']).values.listenPorts, [2222])
    assert.deepEqual(parse('Port 2201\n', ['-o', 'Port=2200']).values.listenPorts, [2200, 2201])
    const argv = ['-o', 'Port=2200', '-p', '2222', '-o', 'Port=2300']
    assert.deepEqual(parse('Port 2201\n', argv).values.listenPorts, [2200, 2222])
  })

  test('-g and -d win over every LoginGraceTime and LogLevel', () => {
    const text = 'LoginGraceTime 90\nLogLevel VERBOSE\n'
    const { values } = parse(text, [
      '-o',
      'LoginGraceTime=45',
      '-g',
      '1m',
      '-o',
      'LogLevel=INFO',
      '-d',
    ])
    assert.equal(values.loginGraceTimeSeconds, 60)
    assert.equal(values.logLevel, 'DEBUG')
  })

  test('Match, Include and bad lines on the command line are problems of `command-line`', () => {
    const { problems, files, values } = parseSshdConfigFiles(
      MAIN,
      new Map([
        [MAIN, ''],
        ['/etc/ssh/extra.conf', 'MaxSessions 2\n'],
      ]),
      {
        commandLine: parseSshdArgv([
          ...[SSHD, '-o', 'Include=extra.conf', '-o', 'Match all', '-o', 'MaxSessions'],
          ...['-g', 'soon'],
        ]),
      },
    )
    assert.deepEqual(files, [MAIN])
    assert.equal(values.maxSessions, 10)
    assert.deepEqual(
      problems.map((p) => [p.file, p.line]),
      [
        ['command-line', 1],
        ['command-line', 2],
        ['command-line', 3],
        ['command-line', undefined],
      ],
    )
  })

  test('-f none: no file, no problem', () => {
    const commandLine = parseSshdArgv([SSHD, '-f', 'none', '-o', 'MaxSessions=3'])
    const result = parseSshdConfigFiles('none', new Map(), { commandLine })
    assert.deepEqual([result.values.maxSessions, result.problems, result.files], [3, [], []])
  })
})
