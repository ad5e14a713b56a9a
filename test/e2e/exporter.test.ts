/**
 * The whole exporter, run as a process against a fixture procfs, its entire output compared with
 * the golden files (golden/<collector>.prom, cut by golden.ts) and linted by promtool. Regenerate
 * them with UPDATE_GOLDEN=1 after an intended change, and read the diff.
 */
import assert from 'node:assert/strict'
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { COLLECTORS } from '../../src/collectors/index.ts'
import { sample, scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { FIXTURE_UPTIME, type FakeProcess, tempProcTree } from '../helpers/procfs-tree.ts'
import { checkMetrics } from '../helpers/promtool.ts'
import { sshdLogin, writeUtmp } from '../helpers/utmp-writer.ts'
import { EXPORTER, GOLDEN_DIR, goldenFile, splitByWriter } from './golden.ts'

/**
 * sshd's lines as rsyslog writes them to auth.log (RFC 3164), from the real OpenSSH 10.0 and 9.2
 * syslog captures in test/fixtures/sshd-log/openssh-*.syslog.tsv, root's and bob's logins in the
 * same form (with --collector.events.max-users=1: sshdexp, first seen, and root keep their own
 * sshd_logins_total series, bob goes to other), and a cron line that is not sshd's.
 */
const AUTH_LOG = [
  'Nov 21 08:29:21 host sshd-session[36]: Accepted publickey for sshdexp from 127.0.0.1 port 59530 ssh2: ED25519 SHA256:y0HRMPYVKSLlWfoDjgSanbHYtw2CnEbQsXk2qw7q4oA',
  'Nov 21 08:29:21 host sshd-session[42]: Starting session: command for sshdexp from 127.0.0.1 port 59530 id 0',
  'Nov 21 08:29:21 host sshd-session[42]: Disconnected from user sshdexp 127.0.0.1 port 59530',
  'Nov 21 08:29:25 host sshd-session[43]: Accepted publickey for root from 127.0.0.1 port 47380 ssh2: ED25519 SHA256:y0HRMPYVKSLlWfoDjgSanbHYtw2CnEbQsXk2qw7q4oA',
  'Nov 21 08:29:26 host sshd-session[45]: Accepted password for bob from 127.0.0.1 port 47386 ssh2',
  'Nov 21 08:29:27 host sshd-session[44]: Invalid user nosuchuser from 127.0.0.1 port 47390',
  'Nov 21 08:29:29 host sshd-session[44]: Failed password for invalid user nosuchuser from 127.0.0.1 port 47390 ssh2',
  'Nov 21 08:29:29 host sshd-session[44]: Connection closed by invalid user nosuchuser 127.0.0.1 port 47390 [preauth]',
  'Nov 21 08:30:03 host sshd-session[58]: error: no more sessions',
  'Nov 21 08:30:41 host sshd[35]: drop connection #2 from [127.0.0.1]:41954 on [127.0.0.1]:42001 Maxstartups',
  'Nov 21 08:30:42 host sshd[35]: drop connection #2 from [127.0.0.1]:41970 on [127.0.0.1]:42001 Maxstartups',
  'Nov 21 08:30:43 host CRON[99]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)',
  '',
].join('\n')

// Titles and parent links as OpenSSH 9.2 and 10.0 make them (test/fixtures/proctitles); two
// sshd instances, as on a bastion with a second port.
const TREE: FakeProcess[] = [
  { pid: 1, ppid: 0, comm: 'systemd', cmdline: '/sbin/init' },
  {
    pid: 100,
    ppid: 1,
    comm: 'sshd',
    cmdline: 'sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups',
  },
  { pid: 200, ppid: 100, comm: 'sshd', cmdline: 'sshd: [accepted]' },
  { pid: 300, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]' },
  { pid: 301, ppid: 300, comm: 'sshd', cmdline: 'sshd: alice@pts/0' },
  { pid: 302, ppid: 301, comm: 'bash', cmdline: '-bash' },
  { pid: 303, ppid: 301, comm: 'sleep', cmdline: 'sleep' },
  { pid: 304, ppid: 301, comm: 'sshd', cmdline: 'sshd: alice@internal-sftp' },
  { pid: 400, ppid: 100, comm: 'sshd', cmdline: 'sshd: root@pts/1' },
  { pid: 401, ppid: 400, comm: 'bash', cmdline: '-bash' },
  {
    pid: 500,
    ppid: 1,
    comm: 'sshd',
    cmdline: 'sshd: /opt/sshd -D -p 2222 [listener] 0 of 5-20 startups',
  },
  { pid: 501, ppid: 500, comm: 'sshd-session', cmdline: 'sshd-session: bob [priv]' },
  { pid: 502, ppid: 501, comm: 'sshd-session', cmdline: 'sshd-session: bob@notty' },
  { pid: 503, ppid: 502, comm: 'rsync', cmdline: 'rsync' },
  { pid: 510, ppid: 500, comm: 'sshd-session', cmdline: 'sshd-session: carol [priv]' },
  { pid: 511, ppid: 510, comm: 'sshd-session', cmdline: 'sshd-session: carol' },
]

/** Seconds each pty has been idle (its device's access time), as a user's host has them. */
const IDLE_SECONDS = { 'pts/0': 130, 'pts/1': 7230 } as const

/**
 * Values that change between runs and machines. The longest idle time grows during the test: it
 * is checked, then kept to whole minutes.
 */
function normalize(text: string): string {
  return text
    .replace(/^(sshd_scrape_collector_duration_seconds\{[^}]*\}) .*$/gm, '$1 0')
    .replace(/^(sshd_pty_session_idle_seconds_max) (.*)$/gm, (_, name: string, v: string) => {
      const seconds = Number(v)
      assert.ok(seconds >= IDLE_SECONDS['pts/1'] && seconds < 7260, `idle max ${v}`)
      return `${name} ${Math.floor(seconds / 60) * 60}`
    })
    .replace(/nodejs="[^"]*"/g, 'nodejs="NODE"')
    .replace(/version="[^"]*"/g, 'version="VERSION"')
}

describe('end to end on a fixture procfs and rootfs', () => {
  const tree = tempProcTree(TREE)
  const rootfs = mkdtempSync(join(tmpdir(), 'sshd-exporter-rootfs-'))
  after(() => {
    tree.remove()
    rmSync(rootfs, { recursive: true, force: true })
  })
  mkdirSync(join(rootfs, 'etc', 'ssh'), { recursive: true })
  // alice's connection carries 3 sessions: at MaxSessions 3. The second listener runs 5-20.
  writeFileSync(
    join(rootfs, 'etc', 'ssh', 'sshd_config'),
    'MaxSessions 3\nClientAliveInterval 1m\nPerSourceMaxStartups 4\n',
  )
  // A host with utmp, as most have: alice's and root's pty logins (glibc's login(3) writes the
  // monitor's pid; a 9.2 root login's, its shell's), a login whose process is gone, a console
  // login. The ttys' idle times come from their devices' access times.
  mkdirSync(join(rootfs, 'run'), { recursive: true })
  const now = Math.floor(Date.now() / 1000)
  const booted = now - FIXTURE_UPTIME
  writeUtmp(join(rootfs, 'run', 'utmp'), [
    { type: 2, line: '~', user: 'reboot', time: booted },
    { type: 7, pid: 90, line: 'tty1', id: 'tty1', user: 'op', time: booted + 5 },
    sshdLogin({ pid: 300, tty: 0, user: 'alice', time: now - 900 }),
    sshdLogin({ pid: 401, tty: 1, user: 'root', time: now - 980 }),
    sshdLogin({ pid: 4_000_000, tty: 2, user: 'ghost', time: now - 5000 }),
  ])
  mkdirSync(join(rootfs, 'dev', 'pts'), { recursive: true })
  for (const [tty, idle] of Object.entries(IDLE_SECONDS)) {
    const device = join(rootfs, 'dev', tty)
    writeFileSync(device, '')
    const atime = new Date(Date.now() - idle * 1000)
    utimesSync(device, atime, new Date())
  }
  mkdirSync(join(rootfs, 'var', 'log'), { recursive: true })
  const authLog = join(rootfs, 'var', 'log', 'auth.log')
  // Read before the exporter starts: not counted (it starts at the end, as tail -F does).
  writeFileSync(authLog, 'Nov 21 09:59:00 host sshd[90]: Invalid user old from 192.0.2.1 port 1\n')
  const common = [
    `--path.procfs=${tree.root}`,
    `--path.rootfs=${rootfs}`,
    '--collector.config.sshd-binary=',
    '--collector.events.source=file',
  ]

  it('matches the golden files, one per collector, and promtool finds nothing to say', async (t) => {
    const exporter = await startExporter(
      [
        ...common,
        '--web.disable-exporter-metrics',
        '--collector.processes.max-users=2',
        '--collector.events.max-users=1',
      ],
      t,
    )
    // Lines of OpenSSH 9.2 and 10.0 as rsyslog writes them, appended once the exporter follows.
    appendFileSync(authLog, AUTH_LOG)
    const text = normalize(
      await scrapeUntil(
        exporter,
        'the appended lines',
        (x) => sample(x, 'sshd_events_lines_read_total') === AUTH_LOG.split('\n').length - 1,
      ),
    )
    const parts = splitByWriter(text)
    assert.deepEqual([...parts.keys()], [EXPORTER, ...COLLECTORS.map((c) => c.name)])
    if (process.env.UPDATE_GOLDEN === '1') {
      for (const [writer, part] of parts) writeFileSync(goldenFile(writer), part)
    }
    assert.deepEqual(
      readdirSync(GOLDEN_DIR).sort(),
      [...parts.keys()].map((w) => `${w}.prom`).sort(),
      'a golden file per collector, and no other',
    )
    for (const [writer, part] of parts) {
      await t.test(writer, () => {
        const file = goldenFile(writer)
        assert.equal(part, readFileSync(file, 'utf8'), `${file}; UPDATE_GOLDEN=1 rewrites it`)
      })
    }
    const lint = checkMetrics(text)
    assert.equal(lint.output, '')
    assert.equal(lint.status, 0)
    assert.equal(await exporter.stop(), 0, 'exits 0 on SIGTERM')
    const last = exporter.logs.at(-1)
    assert.equal(last?.msg, 'shut down')
  })

  it('an idle host without utmp: sessions sum to 0, pty sessions 0, utmp_orphan absent', async (t) => {
    const idleTree = tempProcTree([
      TREE[0]!,
      TREE[1]!,
      { pid: 503, ppid: 1, comm: 'cron', cmdline: '/usr/sbin/cron\u0000-f' },
    ])
    const emptyRoot = mkdtempSync(join(tmpdir(), 'sshd-exporter-rootfs-'))
    t.after(() => {
      idleTree.remove()
      rmSync(emptyRoot, { recursive: true, force: true })
    })
    const exporter = await startExporter(
      [
        `--path.procfs=${idleTree.root}`,
        `--path.rootfs=${emptyRoot}`,
        '--collector.config.sshd-binary=',
        '--collector.events.source=none',
      ],
      t,
    )
    const text = await exporter.scrape()
    assert.equal(sample(text, 'sshd_up'), 1)
    // sum(sshd_sessions) is 0, not empty: `other` is always there.
    assert.deepEqual(Object.fromEntries(series(text, 'sshd_sessions')), { '{user="other"}': 0 })
    assert.equal(sample(text, 'sshd_pty_sessions'), 0)
    assert.equal(sample(text, 'sshd_pty_session_idle_seconds_max'), 0)
    assert.equal(series(text, 'sshd_pty_sessions_idle_over').size, 6)
    for (const v of series(text, 'sshd_pty_sessions_idle_over').values()) assert.equal(v, 0)
    assert.equal(sample(text, 'sshd_stale_sessions{reason="idle"}'), 0)
    assert.equal(sample(text, 'sshd_stale_sessions{reason="utmp_orphan"}'), undefined)
    const lint = checkMetrics(text)
    assert.equal(lint.output, '')
    assert.equal(lint.status, 0)
  })

  it('logs one start-up line with the version, address and collectors', async (t) => {
    const exporter = await startExporter(common, t)
    const lines = exporter.logs.filter((l) => /listening/i.test(String(l.msg)))
    assert.equal(lines.length, 1, JSON.stringify(exporter.logs))
    const line = lines[0]
    assert.ok(line)
    assert.match(String(line.version), /^\d+\.\d+\.\d+/)
    assert.deepEqual(line.collectors, ['processes', 'config', 'stale', 'sockets', 'events'])
    assert.equal(line.level, 'info')
    assert.match(String(line.address), /^127\.0\.0\.1:\d+$/)
  })

  it('re-reads sshd_config on SIGHUP', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'sshd-exporter-hup-'))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    mkdirSync(join(root, 'etc', 'ssh'), { recursive: true })
    const file = join(root, 'etc', 'ssh', 'sshd_config')
    writeFileSync(file, 'MaxSessions 3\n')
    const exporter = await startExporter(
      [`--path.procfs=${tree.root}`, `--path.rootfs=${root}`, '--collector.config.sshd-binary='],
      t,
    )
    assert.match(await exporter.scrape(), /^sshd_config_max_sessions\{port="22"\} 3$/m)
    writeFileSync(file, 'MaxSessions 8\n')
    exporter.child.kill('SIGHUP')
    let text = ''
    for (let i = 0; i < 50 && !/^sshd_config_max_sessions\{port="22"\} 8$/m.test(text); i++) {
      await new Promise((r) => setTimeout(r, 50))
      text = await exporter.scrape()
    }
    assert.match(text, /^sshd_config_max_sessions\{port="22"\} 8$/m)
  })
})
