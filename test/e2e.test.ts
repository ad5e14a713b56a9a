/**
 * The whole exporter, run as a process against a fixture procfs, its entire
 * output compared with a golden file and linted by promtool. Regenerate the
 * golden file with UPDATE_GOLDEN=1 after an intended change, and read the diff.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { startExporter } from './helpers/exporter.ts'
import { type FakeProcess, tempProcTree } from './helpers/procfs-tree.ts'
import { checkMetrics } from './helpers/promtool.ts'

const GOLDEN = join(import.meta.dirname, 'fixtures', 'golden', 'processes.prom')

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

/** Values that change between runs and machines. */
function normalize(text: string): string {
  return text
    .replace(/^(sshd_scrape_collector_duration_seconds\{[^}]*\}) .*$/gm, '$1 0')
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
  const common = [
    `--path.procfs=${tree.root}`,
    `--path.rootfs=${rootfs}`,
    '--collector.config.sshd-binary=',
  ]

  it('matches the golden output, and promtool finds nothing to say', async (t) => {
    const exporter = await startExporter(
      [...common, '--web.disable-exporter-metrics', '--collector.processes.max-users=2'],
      t,
    )
    const text = normalize(await exporter.scrape())
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text)
    assert.equal(text, readFileSync(GOLDEN, 'utf8'))
    const lint = checkMetrics(text)
    assert.equal(lint.output, '')
    assert.equal(lint.status, 0)
    assert.equal(await exporter.stop(), 0, 'exits 0 on SIGTERM')
    const last = exporter.logs.at(-1)
    assert.equal(last?.msg, 'shut down')
  })

  it('logs one start-up line with the version, address and collectors', async (t) => {
    const exporter = await startExporter(common, t)
    const lines = exporter.logs.filter((l) => /listening/i.test(String(l.msg)))
    assert.equal(lines.length, 1, JSON.stringify(exporter.logs))
    const line = lines[0]
    assert.ok(line)
    assert.match(String(line.version), /^\d+\.\d+\.\d+/)
    assert.deepEqual(line.collectors, ['processes', 'config', 'stale', 'sockets'])
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
    assert.match(await exporter.scrape(), /^sshd_config_max_sessions 3$/m)
    writeFileSync(file, 'MaxSessions 8\n')
    exporter.child.kill('SIGHUP')
    let text = ''
    for (let i = 0; i < 50 && !/^sshd_config_max_sessions 8$/m.test(text); i++) {
      await new Promise((r) => setTimeout(r, 50))
      text = await exporter.scrape()
    }
    assert.match(text, /^sshd_config_max_sessions 8$/m)
  })
})
