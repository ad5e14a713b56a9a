// The real sshds (OpenSSH 9.2 and 10.0) as oracles for src/sources/sshd-argv.ts: `sshd -T` with
// a listener's command line equals the file parser given the same command line, and the title a
// real listener writes gives back its argv. Root: each sshd runs in namespaces of its own
// (unshare). test/sources/sshd-argv.test.ts has the parser's own tables.

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parseSshdArgv, sshdCommandLineArgs, titleArgv } from '../../src/sources/sshd-argv.ts'
import { runSshdT } from '../../src/sources/sshd-binary.ts'
import { readSshdConfig } from '../../src/sources/sshd-config/read.ts'
import { parseSshdT } from '../../src/sources/sshd-config/sshd-t.ts'
import type { EffectiveConfig } from '../../src/sources/sshd-config/values.ts'
import {
  makeHostKey,
  oracleScratch,
  REAL_SSHDS,
  requireExecutable,
  sshdOverEtcSsh,
} from '../helpers/sshd-oracle.ts'
import { sshdBinaries } from '../helpers/sshd/builds.ts'

const MAIN = '/etc/ssh/sshd_config'
const SSHD = '/usr/sbin/sshd'
const LISTENER = ' [listener] 0 of 10-100 startups'

// Real sshd: `sshd -T <sshdCommandLineArgs>` equals the file parser with the same command line.
//
// Each case's files are written under <scratch>/<case>/etc/ssh; a wrapper script given to
// runSshdT as the binary bind-mounts that directory over /etc/ssh in a private mount namespace
// (sshdOverEtcSsh, test/helpers/sshd-oracle.ts) and runs the real sshd there with a host key. Each
// case also runs `sshd -T` with the listener's own arguments (-D, -d, -q as given) to show that
// sshdCommandLineArgs changes nothing.

type Case = {
  name: string
  files?: Record<string, string>
  /** The listener's argv after the program; -f /etc/ssh/sshd_config unless it names one. */
  argv: string[]
  expected: Partial<EffectiveConfig>
  'expected9.2'?: Partial<EffectiveConfig>
}

const fromTitle = (words: string): string[] =>
  titleArgv(`sshd: ${SSHD} ${words}${LISTENER}`)!.slice(1)

const ORACLE: Case[] = [
  {
    name: '-o MaxSessions=4 -o MaxStartups=3:50:9 -g 45 over MaxSessions 9',
    files: { [MAIN]: 'MaxSessions 9\n' },
    argv: ['-D', '-o', 'MaxSessions=4', '-o', 'MaxStartups=3:50:9', '-g', '45'],
    expected: { maxSessions: 4, maxStartups: { begin: 3, rate: 0.5, full: 9 } },
  },
  {
    name: '-p 2222 over two Port lines, one of them malformed',
    files: { [MAIN]: 'Port 2200\nPort 2201\nPort banana\n' },
    argv: ['-D', '-p', '2222'],
    expected: { listenPorts: [2222] },
  },
  {
    name: '-p twice, with ListenAddress lines',
    files: { [MAIN]: 'Port 2200\nListenAddress 127.0.0.1\nListenAddress 127.0.0.2:2300\n' },
    argv: ['-Dp2222', '-p2223'],
    expected: { listenPorts: [2222, 2223, 2300] },
  },
  {
    name: '-o "MaxStartups 7" under a file MaxStartups (last wins up to 10.0)',
    files: { [MAIN]: 'MaxStartups 3:50:9\n' },
    argv: ['-o', 'MaxStartups 7'],
    expected: { maxStartups: { begin: 3, rate: 0.5, full: 9 } },
  },
  {
    name: '-o "MaxStartups 3:50:9" and a file "MaxStartups 7": the rate stays',
    files: { [MAIN]: 'MaxStartups 7\n' },
    argv: ['-o', 'MaxStartups 3:50:9'],
    expected: { maxStartups: { begin: 7, rate: 0.5, full: 7 } },
  },
  {
    name: '-o PerSourceMaxStartups=5 and a file value (last wins up to 9.4)',
    files: { [MAIN]: 'PerSourceMaxStartups 7\n' },
    argv: ['-o', 'PerSourceMaxStartups=5'],
    expected: { perSourceMaxStartups: 5 },
    'expected9.2': { perSourceMaxStartups: 7 },
  },
  {
    name: '-o LoginGraceTime=45 over a file LoginGraceTime',
    files: { [MAIN]: 'LoginGraceTime 90\n' },
    argv: ['-o', 'LoginGraceTime=45'],
    expected: { loginGraceTimeSeconds: 45 },
  },
  {
    name: '-g before -o LoginGraceTime: -g wins',
    files: { [MAIN]: 'LoginGraceTime 90\n' },
    argv: ['-g', '30', '-o', 'LoginGraceTime=45'],
    expected: { loginGraceTimeSeconds: 30 },
  },
  {
    name: '-g after -o LoginGraceTime: -g wins',
    files: { [MAIN]: 'LoginGraceTime 90\n' },
    argv: ['-o', 'LoginGraceTime=45', '-g', '1m'],
    expected: { loginGraceTimeSeconds: 60 },
  },
  {
    name: '-o Port=2200 with a file Port: both',
    files: { [MAIN]: 'Port 2201\n' },
    argv: ['-o', 'Port=2200'],
    expected: { listenPorts: [2200, 2201] },
  },
  {
    name: '-o Port=2200 -p 2222: the -o before -p counts',
    files: { [MAIN]: 'Port 2201\n' },
    argv: ['-o', 'Port=2200', '-p', '2222', '-o', 'Port=2300'],
    expected: { listenPorts: [2200, 2222] },
  },
  {
    name: '-p 2222 -o Port=2200: the -o after -p does not',
    files: { [MAIN]: 'Port 2201\n' },
    argv: ['-p', '2222', '-o', 'Port=2200'],
    expected: { listenPorts: [2222] },
  },
  {
    name: '-o ClientAliveInterval 30 as two words of a title',
    files: { [MAIN]: 'ClientAliveInterval 60\nClientAliveCountMax 5\n' },
    argv: fromTitle(`-D -f ${MAIN} -o ClientAliveInterval 30 -o ClientAliveCountMax=2`),
    expected: { clientAliveIntervalSeconds: 30, clientAliveCountMax: 2 },
  },
  {
    name: '-o ChannelTimeout with three words of a title',
    files: { [MAIN]: 'ChannelTimeout session=1m\n' },
    argv: fromTitle('-o ChannelTimeout session=5m global=1h'),
    expected: {
      channelTimeouts: [
        { type: 'session', seconds: 300 },
        { type: 'global', seconds: 3600 },
      ],
    },
  },
  {
    name: '-o "MaxSessions = 5" and a tab',
    files: { [MAIN]: 'MaxSessions 9\n' },
    argv: ['-o', 'MaxSessions = 5', '-o', 'ClientAliveInterval\t7'],
    expected: { maxSessions: 5, clientAliveIntervalSeconds: 7 },
  },
  {
    name: '-o UnusedConnectionTimeout=300 with a file none: none wins anywhere',
    files: { [MAIN]: 'UnusedConnectionTimeout none\n' },
    argv: ['-o', 'UnusedConnectionTimeout=300'],
    expected: { unusedConnectionTimeoutSeconds: null },
  },
  {
    name: 'Match all in the file overrides -o MaxSessions',
    files: { [MAIN]: 'Match all\n  MaxSessions 9\n' },
    argv: ['-o', 'MaxSessions=4'],
    expected: { maxSessions: 9 },
  },
  {
    name: '-d over a file LogLevel and an -o LogLevel',
    files: { [MAIN]: 'LogLevel VERBOSE\n' },
    argv: ['-o', 'LogLevel=ERROR', '-d'],
    expected: { logLevel: 'DEBUG' },
  },
  {
    name: '-dd, then -o LogLevel',
    files: { [MAIN]: 'LogLevel VERBOSE\n' },
    argv: ['-dd', '-o', 'LogLevel=ERROR'],
    expected: { logLevel: 'DEBUG2' },
  },
  {
    name: '-d -q -d steps up from QUIET',
    argv: ['-d', '-q', '-d'],
    expected: { logLevel: 'FATAL' },
  },
  {
    name: '-q (Debian names QUIET SILENT)',
    files: { [MAIN]: 'LogLevel DEBUG1\n' },
    argv: ['-q'],
    expected: { logLevel: 'QUIET' },
  },
  {
    name: 'LogLevel DEBUG1 in the file, as sshd -T names it',
    files: { [MAIN]: 'LogLevel DEBUG1\n' },
    argv: [],
    expected: { logLevel: 'DEBUG' },
  },
  {
    name: '-d under a Match all LogLevel: Match wins',
    files: { [MAIN]: 'Match all\n  LogLevel VERBOSE\n' },
    argv: ['-d'],
    expected: { logLevel: 'VERBOSE' },
  },
  {
    name: '-f none: the command line and defaults only',
    files: { [MAIN]: 'MaxSessions 9\n' },
    argv: ['-f', 'none', '-o', 'MaxSessions=3', '-p', '2022', '-4'],
    expected: { maxSessions: 3, listenPorts: [2022] },
  },
  {
    name: '-f another file, the last -f',
    files: { [MAIN]: 'MaxSessions 9\n', '/etc/ssh/sshd_config_sftp': 'MaxSessions 2\n' },
    argv: ['-f', MAIN, '-f', '/etc/ssh/sshd_config_sftp', '-o', 'MaxStartups=3:50:9'],
    expected: { maxSessions: 2 },
  },
]

/** Lines sshd refuses on its command line: `sshd -T` fails, the parser has a problem. */
const REFUSED: { name: string; argv: string[]; message: RegExp }[] = [
  {
    name: '-o Include',
    argv: ['-o', 'Include=/etc/ssh/extra.conf'],
    message: /Include directive not supported as a command-line option/,
  },
  {
    name: '-o Match',
    argv: ['-o', 'Match all'],
    message: /Match directive not supported as a command-line option/,
  },
  { name: '-o without a value', argv: ['-o', 'MaxSessions'], message: /no argument after keyword/ },
  { name: '-g not a time', argv: ['-g', 'soon'], message: /Invalid login grace time/ },
  { name: 'bad -o MaxStartups', argv: ['-o', 'MaxStartups=9:50:3'], message: /MaxStartups/ },
]

/** A directory whose etc/ssh holds `files`, and per sshd a script that runs it over them. */
async function caseRoot(
  scratch: string,
  index: number,
  files: Record<string, string>,
  hostKey: string,
): Promise<{ root: string; wrapper: (sshd: string) => string }> {
  const root = join(scratch, `case-${index}`)
  await mkdir(join(root, 'etc/ssh'), { recursive: true })
  for (const [path, text] of Object.entries({ [MAIN]: '', ...files })) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), text)
  }
  const wrappers = new Map<string, string>()
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`
  for (const [i, sshd] of REAL_SSHDS.entries()) {
    const wrapper = join(root, `sshd-${i}`)
    const command = sshdOverEtcSsh(root, sshd.path, hostKey).map(quote).join(' ')
    await writeFile(wrapper, `#!/bin/sh\nexec ${command} "$@"\n`)
    await chmod(wrapper, 0o755)
    wrappers.set(sshd.path, wrapper)
  }
  return { root, wrapper: (sshd) => wrappers.get(sshd)! }
}

describe('real sshd -T with a command line equals the parser with commandLine', () => {
  const oracle = oracleScratch('sshd-argv-test-')

  for (const [index, c] of ORACLE.entries()) {
    for (const sshd of REAL_SSHDS) {
      test(`${c.name}: ${sshd.label}`, async () => {
        const { root, wrapper } = await caseRoot(
          oracle.scratch,
          index,
          c.files ?? {},
          oracle.hostKey,
        )
        const version = oracle.versions.get(sshd.path)!
        const argv = c.argv.some((a) => a.startsWith('-f')) ? c.argv : ['-f', MAIN, ...c.argv]
        const parsed = parseSshdArgv([sshd.path, ...argv])
        assert.deepEqual(parsed.problems, [])
        const sshdT = async (args: readonly string[]) => {
          const text = await runSshdT(wrapper(sshd.path), { timeoutMs: 20_000, args })
          const result = parseSshdT(text)
          assert.deepEqual(result.problems, [])
          return result.values
        }
        const fromSshd = await sshdT(sshdCommandLineArgs(parsed))
        const fromFiles = await readSshdConfig(root, parsed.configFile ?? MAIN, {
          commandLine: parsed,
          opensshVersion: version,
        })
        assert.deepEqual(fromFiles.problems, [])
        assert.deepEqual(fromFiles.values, fromSshd)
        // The listener's own arguments (-D, -d, -q, ... as given) give the same.
        assert.deepEqual(await sshdT(argv), fromSshd)

        const expected = version.startsWith('9.')
          ? { ...c.expected, ...c['expected9.2'] }
          : c.expected
        for (const [key, value] of Object.entries(expected)) {
          assert.deepEqual(fromSshd[key as keyof EffectiveConfig], value, key)
        }
      })
    }
  }

  for (const [index, c] of REFUSED.entries()) {
    for (const sshd of REAL_SSHDS) {
      test(`refused: ${c.name}: ${sshd.label}`, async () => {
        const files = { '/etc/ssh/extra.conf': 'MaxSessions 2\n' }
        const { root, wrapper } = await caseRoot(oracle.scratch, 100 + index, files, oracle.hostKey)
        const parsed = parseSshdArgv([sshd.path, '-f', MAIN, ...c.argv])
        await assert.rejects(
          runSshdT(wrapper(sshd.path), { timeoutMs: 20_000, args: sshdCommandLineArgs(parsed) }),
          c.message,
        )
        const fromFiles = await readSshdConfig(root, MAIN, { commandLine: parsed })
        assert.deepEqual(fromFiles.files, [MAIN])
        assert.ok(
          fromFiles.problems.some((p) => p.file === 'command-line' && /refuses/.test(p.message)),
          JSON.stringify(fromFiles.problems),
        )
      })
    }
  }
})

// Real listeners: the title sshd writes gives back its argv.
//
// Each listener runs in its own mount and network namespaces (a tmpfs /run for /run/sshd; its
// port binds nowhere else) and is stopped by its pid.

describe('real listener titles give back their argv', () => {
  let scratch = ''
  let hostKey = ''
  const children: ChildProcess[] = []

  before(async () => {
    for (const sshd of REAL_SSHDS) await requireExecutable(sshd.path)
    await requireExecutable('/usr/bin/unshare')
    scratch = await mkdtemp(join(tmpdir(), 'sshd-argv-title-'))
    hostKey = await makeHostKey(scratch)
    await writeFile(join(scratch, 'sshd_config'), 'MaxSessions 9\n')
  })
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  /** Starts a listener with `env` (`-i` for none) and returns its cmdline up to the first NUL. */
  async function listenerTitle(label: string, env: string[], argv: string[]): Promise<string> {
    const log = join(scratch, `${label}.log`)
    const script = 'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec "$@"'
    const child = spawn(
      '/usr/bin/unshare',
      ['--mount', '--net', '--', '/bin/sh', '-c', script, 'sh', 'env', ...env, ...argv, '-E', log],
      { stdio: 'ignore' },
    )
    children.push(child)
    const pid = child.pid!
    const deadline = Date.now() + 10_000
    let listeningSince = 0
    try {
      for (;;) {
        const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'latin1')).split('\0')[0]!
        if (cmdline.startsWith('sshd: ')) return cmdline
        const text = await readFile(log, 'utf8').catch(() => '')
        if (text.includes('Server listening')) listeningSince ||= Date.now()
        if (listeningSince && Date.now() - listeningSince > 500) return cmdline
        if (Date.now() > deadline) throw new Error(`${label}: no listener; log: ${text}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      child.kill('SIGTERM')
    }
  }

  for (const [i, sshd] of REAL_SSHDS.entries()) {
    const { session, auth } = sshdBinaries(sshd.version)
    const tenOnly = session
      ? ['-o', `SshdSessionPath=${session}`, '-o', `SshdAuthPath=${auth}`]
      : []
    const argv = () => [
      ...[sshd.path, '-D', '-f', join(scratch, 'sshd_config'), '-h', hostKey, ...tenOnly],
      ...['-o', 'ClientAliveInterval 30', '-o', 'ClientAliveCountMax\t2', '-o', 'Banner /b\\é'],
      ...['-o', 'MaxStartups=3:50:9', '-p', '2222', '-g', '45'],
    ]

    test(`${sshd.label}: a whole title`, async () => {
      const full = argv()
      const title = await listenerTitle(`full-${i}`, ['PAD=' + 'x'.repeat(400)], full)
      assert.match(title, / \[listener\] 0 of 3-9 startups$/)
      assert.deepEqual(titleArgv(title), [...full, '-E', join(scratch, `full-${i}.log`)])
    })

    test(`${sshd.label}: a title cut short (no environment) gives a prefix of the argv`, async () => {
      const full = [...argv(), '-E', join(scratch, `cut-${i}.log`)]
      const title = await listenerTitle(`cut-${i}`, ['-i'], full.slice(0, -2))
      assert.doesNotMatch(title, /\[listener\]/)
      const got = titleArgv(title)!
      assert.ok(got.length >= full.length - 3, title)
      assert.deepEqual(got, full.slice(0, got.length))
      const parsed = parseSshdArgv(got)
      assert.deepEqual([parsed.ports, parsed.loginGraceTime], [[2222], '45'])
    })

    test(`${sshd.label}: a title over 1023 bytes is never set`, async () => {
      const long = [...argv(), '-o', `Banner /${'b'.repeat(1100)}`]
      const title = await listenerTitle(`long-${i}`, ['PAD=' + 'x'.repeat(2000)], long)
      assert.equal(title, sshd.path)
      assert.equal(titleArgv(title), null)
    })
  }
})
