/**
 * What the exporter sees with which privileges, against real sshd 9.2 and 10.0.
 *
 * Each exporter runs inside the test sshd's PID and mount namespaces (nsenter), with its default
 * --path.procfs=/proc and --path.rootfs=/, as it runs on a host, and with one identity made by
 * setpriv: nobody (uid 65534, no groups) with chosen ambient capabilities or groups, or uid 0
 * with a chosen bounding set. Its /proc/<pid>/status is checked to be exactly that identity.
 *
 * The capability lists under test are test/helpers/privileges.ts's, the ones the systemd unit
 * and the Helm chart grant (test/systemd.test.ts, test/helm.test.ts check that they do): here
 * each list is shown sufficient, and each of its proper subsets insufficient.
 *
 * Already covered elsewhere, as nobody: the config collector's fallback to the files and an
 * unreadable Include (integration/config.test.ts), and the sockets collector's ports from
 * sshd_config without the listener's fd links (integration/sockets.test.ts).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import {
  type RunningExporter,
  sample,
  scrapeUntil,
  series,
  startExporter,
} from '../helpers/exporter.ts'
import { appendJournal } from '../helpers/journal-writer.ts'
import { LogRelay, SyslogFileSink } from '../helpers/log-relay.ts'
import {
  asIdentity,
  effectiveMask,
  type Identity,
  inSshdNamespace,
  LOG_GROUPS,
  NON_ROOT_CAPABILITIES,
  nobody,
  type PrefixOptions,
  ROOT_CAPABILITIES,
  root,
  subsets,
} from '../helpers/privileges.ts'
import { SSHD_VERSIONS, sshdBinaries } from '../helpers/sshd/builds.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { encodeUtmpRecord, sshdLogin } from '../helpers/utmp-writer.ts'

const FD_LINKS_REFUSED = "cannot read the sshd listener's fd links"
const COLLECTORS = ['processes', 'config', 'stale', 'sockets', 'events'] as const

interface Exporter extends RunningExporter {
  identity: Identity
  /** The exporter's own pid, on the host. */
  pid: number
}

/** The gid of a group, from /etc/group. */
function gid(group: string): number {
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${group}:`))
  assert.ok(line, `group ${group} exists (Debian's systemd and base-passwd create it)`)
  return Number(line.split(':')[2])
}

/** /proc/<pid>/status as a map. */
function status(pid: number): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  return out
}

/** Asserts that a process is `identity`: its uids, supplementary groups and capabilities. */
function assertIdentity(pid: number, identity: Identity): void {
  const s = status(pid)
  assert.equal(s.get('Uid')?.split(/\s+/)[1], String(identity.uid), `${identity.name}: euid`)
  const groups = (s.get('Groups') ?? '').split(/\s+/).filter(Boolean).map(Number).sort()
  if (identity.uid !== 0) {
    assert.deepEqual(groups, identity.groups.map(gid).sort(), `${identity.name}: groups`)
  }
  const mask = effectiveMask(identity)
  if (mask !== undefined) {
    assert.equal(BigInt(`0x${s.get('CapEff')}`), mask, `${identity.name}: CapEff`)
  }
}

/**
 * Starts the exporter as `identity` in the server's namespaces; resolves once it listens and
 * was checked to be that identity.
 */
async function startAs(
  s: SshdServer,
  identity: Identity,
  args: string[],
  t: TestContext,
  opts: PrefixOptions = {},
): Promise<Exporter> {
  const exporter = await startExporter(
    args,
    t,
    process.env,
    inSshdNamespace(s.initHostPid, identity, opts),
  )
  const nsenter = exporter.child.pid
  assert.ok(nsenter !== undefined)
  // nsenter's only child: the exporter (unshare, sh and setpriv exec'd into it).
  const children = readFileSync(`/proc/${nsenter}/task/${nsenter}/children`, 'utf8').trim()
  const pid = Number(children.split(' ')[0])
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /cli\.ts/)
  assertIdentity(pid, identity)
  return Object.assign(exporter, { identity, pid })
}

/** How often the exporter said it could not read the fd links. */
function refusals(e: RunningExporter): number {
  return e.logs.filter((l) => String(l.msg).startsWith(FD_LINKS_REFUSED)).length
}

/** A file in the server's namespace, made root:<group> with a mode. */
function own(path: string, group: string, mode: number): void {
  chownSync(path, 0, gid(group))
  chmodSync(path, mode)
}

/**
 * A TCP server on sshd's port at another loopback address (sshd listens on 127.0.0.1 only),
 * holding one connection whose client has closed its side: a socket on sshd's port, in
 * CLOSE_WAIT, that no sshd process holds.
 */
async function foreignCloseWait(port: number, t: TestContext): Promise<void> {
  const held: net.Socket[] = []
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    held.push(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.2', resolve)
  })
  t.after(() => {
    for (const s of held) s.destroy()
    server.close()
  })
  const client = net.connect({ host: '127.0.0.2', port })
  client.on('error', () => {})
  await new Promise<void>((resolve) => client.once('connect', resolve))
  client.end()
  t.after(() => client.destroy())
  await new Promise<void>((resolve) => {
    const check = () => (held.length > 0 ? resolve() : setTimeout(check, 10))
    check()
  })
}

/** Lines of sshd's -E log relayed to the namespace's /var/log/auth.log, as rsyslog writes them. */
async function relayToAuthLog(
  s: SshdServer,
  t: TestContext,
  extra: ((lines: readonly string[]) => Promise<void>)[] = [],
): Promise<{ relay: LogRelay; authLog: SyslogFileSink }> {
  const authLog = new SyslogFileSink(join(s.rootfs, 'var', 'log', 'auth.log'), {
    format: 'rfc3164',
    // 9.2 tags every line `sshd`; 10.0 tags per-connection lines `sshd-session`.
    tag: s.version === '9.2' ? 'sshd' : 'sshd-session',
    pid: 4242,
  })
  // The first line creates the file: the exporters start on something, and follow from its end.
  authLog.write(['sshd-exporter test: relay started'])
  const relay = new LogRelay(s.logFile, [authLog.write, ...extra])
  await relay.start()
  t.after(() => relay.stop())
  return { relay, authLog }
}

/** Scrapes until the exporter has read every relayed line and `ok` holds. */
function caughtUp(
  e: Exporter,
  relay: LogRelay,
  what: string,
  ok: (text: string) => boolean = () => true,
): Promise<string> {
  return scrapeUntil(
    e,
    `${e.identity.name}: ${what}`,
    (x) => sample(x, 'sshd_events_lines_read_total') === relay.lines.length && ok(x),
  )
}

const PROCESS_MODEL = [
  'sshd_up',
  'sshd_instance_info',
  'sshd_startups',
  'sshd_max_startups',
  'sshd_connections',
  'sshd_sessions',
  'sshd_multiplexed_connections',
  'sshd_connection_sessions_max',
  'sshd_connections_at_max_sessions',
  'sshd_stale_sessions',
  'sshd_pty_sessions',
  'sshd_pty_sessions_idle_over',
  'sshd_source_connections',
] as const

/** The process model's series of a scrape, `name{labels}` -> value. */
function processModel(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const name of PROCESS_MODEL) {
    for (const [labels, value] of series(text, name)) out[`${name}${labels}`] = value
  }
  return out
}

for (const version of SSHD_VERSIONS) {
  describe(`privileges on real OpenSSH ${version}`, () => {
    it('the process model needs no privilege: nobody counts what root counts', async (t) => {
      const s = await startSshd({ version, t })
      const args = [
        `--collector.config.file=${s.configFile}`,
        '--collector.config.sshd-binary=',
        '--collector.events.source=none',
      ]
      const asRoot = await startAs(s, root(), args, t)
      const asNobody = await startAs(s, nobody(), args, t)

      const master = await s.controlMaster()
      await master.session({ pty: true })
      await master.session()
      const plain = await s.connect({ pty: true })
      await s.preauthHanger()
      // A login sshd wrote for a process that has since died: a utmp ghost.
      const ghost = sshdLogin({ pid: 4_000_000, tty: 77, user: 'ghost' })
      writeFileSync(s.utmpFile, encodeUtmpRecord(ghost, 384), { flag: 'a' })

      const seen = await scrapeUntil(
        asRoot,
        'root: every connection and the ghost',
        (x) =>
          sample(x, 'sshd_connections{state="authenticated"}') === 2 &&
          sample(x, 'sshd_connections{state="preauth"}') === 1 &&
          sample(x, `sshd_sessions{user="${s.user}"}`) === 3 &&
          sample(x, 'sshd_stale_sessions{reason="utmp_orphan"}') === 1 &&
          sample(x, 'sshd_pty_sessions') === 2,
      )
      const expected = processModel(seen)
      const text = await scrapeUntil(
        asNobody,
        "nobody: root's process model",
        (x) => JSON.stringify(processModel(x)) === JSON.stringify(expected),
      )
      assert.deepEqual(processModel(text), expected)
      for (const c of COLLECTORS.filter((n) => n !== 'events')) {
        assert.equal(sample(text, `sshd_scrape_collector_success{collector="${c}"}`), 1, c)
      }
      // The same numbers, without the fd links: nobody said so once; root never did.
      await asNobody.scrape()
      assert.equal(refusals(asNobody), 1, JSON.stringify(asNobody.logs))
      assert.equal(refusals(asRoot), 0, JSON.stringify(asRoot.logs))
      await plain.close()
      await master.close()
    })

    it('matching sockets to processes needs CAP_SYS_PTRACE, and CAP_DAC_READ_SEARCH unless root; sshd -T needs uid 0', async (t) => {
      const s = await startSshd({ version, t, config: { LogLevel: 'VERBOSE' } })
      const { relay } = await relayToAuthLog(s, t)
      const args = [
        `--collector.config.file=${s.configFile}`,
        `--collector.config.sshd-binary=${sshdBinaries(version).sshd}`,
        '--collector.events.source=file',
      ]
      // Every subset of each list; only the whole list may match.
      const cases = [
        ...subsets(NON_ROOT_CAPABILITIES).map((caps) => ({
          identity: nobody(caps),
          matched: caps.length === NON_ROOT_CAPABILITIES.length,
        })),
        ...subsets(ROOT_CAPABILITIES).map((caps) => ({
          identity: root(caps),
          matched: caps.length === ROOT_CAPABILITIES.length,
        })),
      ]
      const exporters: Exporter[] = []
      for (const c of cases) exporters.push(await startAs(s, c.identity, args, t))

      // A socket on sshd's port that is none of sshd's, its peer gone: only the match tells.
      await foreignCloseWait(s.port, t)
      // LogLevel VERBOSE: sessions are counted from the log where the connection is matched.
      const master = await s.controlMaster()
      await master.session()
      await relay.flush()

      for (const [i, c] of cases.entries()) {
        const e = exporters[i]!
        const text = await caughtUp(
          e,
          relay,
          'the master',
          (x) =>
            sample(x, 'sshd_connections{state="authenticated"}') === 1 &&
            sample(
              x,
              `sshd_sessions_source_connections{source="${c.matched ? 'log' : 'processes'}"}`,
            ) === 1,
        )
        const name = e.identity.name
        assert.equal(sample(text, `sshd_sessions{user="${s.user}"}`), 1, name)
        assert.equal(
          sample(text, 'sshd_stale_sessions{reason="dead_peer"}'),
          c.matched ? 0 : 1,
          `${name}: the foreign CLOSE_WAIT socket is a dead peer only when judged alone`,
        )
        assert.equal(refusals(e), c.matched ? 0 : 1, `${name}: ${JSON.stringify(e.logs)}`)
        const source = e.identity.uid === 0 ? 'sshd_t' : 'file'
        assert.equal(sample(text, `sshd_config_info{port="${s.port}",source="${source}"}`), 1, name)
        for (const collector of COLLECTORS) {
          const success = `sshd_scrape_collector_success{collector="${collector}"}`
          assert.equal(sample(text, success), 1, `${name}: ${collector}`)
        }
      }
      await master.close()
    })
  })
}

describe('privileges: logs and configuration files', () => {
  it('the journal needs group systemd-journal, the syslog file group adm, or CAP_DAC_READ_SEARCH for both', async (t) => {
    const s = await startSshd({ version: '9.2', t })
    const journalDir = join(s.rootfs, 'var', 'log', 'journal')
    mkdirSync(journalDir)
    // As journald keeps them: root:systemd-journal, the directory setgid, the files 0640.
    await appendJournal(journalDir, [{ identifier: 'sshd', pid: 4242, message: 'relay started' }])
    own(journalDir, 'systemd-journal', 0o2755)
    for (const f of readdirSync(journalDir)) own(join(journalDir, f), 'systemd-journal', 0o640)
    const { relay, authLog } = await relayToAuthLog(s, t, [
      (lines) =>
        appendJournal(
          journalDir,
          lines.map((message) => ({ identifier: 'sshd', pid: 4242, message })),
        ),
    ])
    // Debian's rsyslog writes auth.log root:adm 0640.
    own(authLog.path, 'adm', 0o640)

    const common = [`--collector.config.file=${s.configFile}`, '--collector.config.sshd-binary=']
    const sources = [
      {
        source: 'journal',
        group: 'systemd-journal',
        args: ['--collector.events.journal-directory=/var/log/journal'],
      },
      // The default file, /var/log/auth.log under the rootfs.
      { source: 'file', group: 'adm', args: [] },
    ] as const
    const runs: { exporter: Exporter; source: string; allowed: boolean }[] = []
    for (const { source, group, args } of sources) {
      for (const [identity, allowed] of [
        [nobody(), false],
        [nobody([], [group]), true],
        [nobody(['CAP_DAC_READ_SEARCH']), true],
      ] as const) {
        const exporter = await startAs(
          s,
          identity,
          [...common, `--collector.events.source=${source}`, ...args],
          t,
        )
        runs.push({ exporter, source, allowed })
      }
    }

    const client = await s.connect()
    await relay.flush()
    for (const { exporter, source } of runs.filter((r) => r.allowed)) {
      const text = await caughtUp(exporter, relay, `every line from the ${source}`)
      const name = `${exporter.identity.name}, ${source}`
      assert.equal(sample(text, `sshd_events_source_up{source="${source}"}`), 1, name)
      assert.equal(
        sample(text, 'sshd_events_total{event="auth_accepted",method="publickey"}'),
        1,
        name,
      )
    }
    // The others had as long as those to read the same lines.
    for (const { exporter, source } of runs.filter((r) => !r.allowed)) {
      const text = await exporter.scrape()
      const name = `${exporter.identity.name}, ${source}`
      assert.equal(sample(text, `sshd_events_source_up{source="${source}"}`), 0, name)
      assert.equal(sample(text, 'sshd_events_lines_read_total'), 0, name)
      assert.equal(sample(text, 'sshd_scrape_collector_success{collector="events"}'), 1, name)
    }
    await client.close()
  })

  it('an sshd_config only root may read (0600, as RHEL ships it) needs CAP_DAC_READ_SEARCH', async (t) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'sshd-exporter-privileges-'))
    t.after(() => rmSync(rootfs, { recursive: true, force: true }))
    chmodSync(rootfs, 0o755)
    mkdirSync(join(rootfs, 'etc', 'ssh', 'sshd_config.d'), { recursive: true })
    writeFileSync(
      join(rootfs, 'etc', 'ssh', 'sshd_config'),
      'Include /etc/ssh/sshd_config.d/*.conf\nMaxSessions 4\n',
      { mode: 0o600 },
    )
    writeFileSync(
      join(rootfs, 'etc', 'ssh', 'sshd_config.d', '50-redhat.conf'),
      'MaxSessions 6\n',
      {
        mode: 0o600,
      },
    )
    const args = [
      `--path.rootfs=${rootfs}`,
      '--collector.config.sshd-binary=',
      '--collector.events.source=none',
    ]
    const plain = await startExporter(args, t, process.env, asIdentity(nobody()))
    const text = await plain.scrape()
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="config"}'), 0)
    assert.equal(series(text, 'sshd_config_info').size, 0)
    assert.ok(
      plain.logs.some((l) => JSON.stringify(l.err ?? null).includes('EACCES')),
      JSON.stringify(plain.logs),
    )

    const capable = await startExporter(
      args,
      t,
      process.env,
      asIdentity(nobody(['CAP_DAC_READ_SEARCH'])),
    )
    const read = await capable.scrape()
    assert.equal(sample(read, 'sshd_scrape_collector_success{collector="config"}'), 1)
    assert.equal(sample(read, 'sshd_config_info{port="22",source="file"}'), 1)
    assert.equal(sample(read, 'sshd_config_max_sessions{port="22"}'), 6, 'the Include, read too')
    assert.equal(sample(read, 'sshd_config_problems{port="22"}'), 0)
  })
})

/** Each mount point's top mount (the last line naming it), from a process's mountinfo. */
function topMounts(pid: number): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const fields = line.split(' ')
    if (fields.length > 5) out.set(fields[4]!, fields[5]!.split(','))
  }
  return out
}

/** write_bytes of /proc/<pid>/io: bytes the process caused to be written to storage. */
function writeBytes(pid: number): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
  assert.ok(m)
  return Number(m[1])
}

/** The files (not sockets, pipes or /dev/null) a process holds open for writing. */
function filesOpenForWriting(pid: number): string[] {
  const out: string[] = []
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue // closed meanwhile
    }
    if (!target.startsWith('/') || target === '/dev/null') continue
    const flags = /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))
    // O_ACCMODE: 0 O_RDONLY, 1 O_WRONLY, 2 O_RDWR (octal).
    if (flags && (parseInt(flags[1]!, 8) & 3) !== 0) out.push(target)
  }
  return out
}

describe('privileges: the exporter never writes', () => {
  it("serves every collector with every mount read-only, as the systemd unit's user; root writes nothing either", async (t) => {
    const s = await startSshd({ version: '9.2', t })
    const { relay, authLog } = await relayToAuthLog(s, t)
    own(authLog.path, 'adm', 0o640)
    const args = [
      `--collector.config.file=${s.configFile}`,
      `--collector.config.sshd-binary=${sshdBinaries('9.2').sshd}`,
    ]
    // The systemd unit's user: its capabilities and groups, and ProtectSystem=strict and more.
    const unitUser = nobody(NON_ROOT_CAPABILITIES, LOG_GROUPS)
    const readOnly = await startAs(s, unitUser, args, t, { readOnly: true })
    const asRoot = await startAs(s, root(), args, t)
    for (const [mount, options] of topMounts(readOnly.pid)) {
      assert.ok(options.includes('ro'), `${mount} is read-only to the exporter: ${options.join()}`)
    }

    const client = await s.connect({ pty: true })
    await relay.flush()
    for (const e of [readOnly, asRoot]) {
      const text = await caughtUp(
        e,
        relay,
        'the client',
        (x) => sample(x, 'sshd_connections{state="authenticated"}') === 1,
      )
      for (const c of COLLECTORS) {
        assert.equal(sample(text, `sshd_scrape_collector_success{collector="${c}"}`), 1, c)
      }
      assert.equal(sample(text, 'sshd_events_source_up{source="file"}'), 1)
      assert.equal(sample(text, 'sshd_events_total{event="auth_accepted",method="publickey"}'), 1)
      assert.equal(sample(text, 'sshd_pty_sessions'), 1, 'the post-auth title read')
      assert.ok((sample(text, 'sshd_pty_session_idle_seconds_max') ?? 0) > 0, 'the tty read')
      assert.equal(refusals(e), 0, JSON.stringify(e.logs))
      assert.deepEqual(filesOpenForWriting(e.pid), [], e.identity.name)
      assert.equal(writeBytes(e.pid), 0, `${e.identity.name}: write_bytes`)
    }
    const info = (source: string) => `sshd_config_info{port="${s.port}",source="${source}"}`
    assert.equal(sample(await readOnly.scrape(), info('file')), 1)
    assert.equal(sample(await asRoot.scrape(), info('sshd_t')), 1)

    // The counter counts here: a shell that writes 64 KiB to a file shows them.
    const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-io-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const control = execFileSync(
      '/bin/sh',
      ['-c', 'head -c 65536 /dev/zero > "$1"; grep ^write_bytes /proc/$$/io', 'sh', join(dir, 'f')],
      { encoding: 'utf8' },
    )
    assert.ok(Number(control.split(' ')[1]) >= 65536, control)
    await client.close()
  })
})
