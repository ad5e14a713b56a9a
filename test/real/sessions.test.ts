/**
 * The live sessions table against real sshd 9.2 and 10.0 (MaxSessions 3), with real clients: a
 * ControlMaster carrying three sessions (one with a pty: at MaxSessions), a plain connection, a
 * root login with a pty, an internal-sftp session, two pre-auth hangers and a utmp ghost.
 * `sshd-exporter sessions` is run as root through --path.procfs and --path.rootfs (JSON, the
 * text table and --at-max) and as nobody inside the server's namespaces (no client addresses);
 * with 9.2 the exporter's /sessions page is also loaded in chromium behind basic auth, and
 * /api/v1/sessions read. Every expectation comes from the clients' side (their local ports and
 * ttys) or from the namespace's process tree, never from the command's own output.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashSync } from 'bcryptjs'
import type { ConnectionRow, SessionsReport } from '../../src/model/sessions.ts'
import { loadPage } from '../helpers/browser.ts'
import { startExporter } from '../helpers/exporter.ts'
import { inSshdNamespace, nobody } from '../helpers/privileges.ts'
import { SSHD_VERSIONS } from '../helpers/sshd/builds.ts'
import type { SshConnection } from '../helpers/sshd/clients.ts'
import type { ProcessInfo } from '../helpers/sshd/processes.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'
import { encodeUtmpRecord, sshdLogin } from '../helpers/utmp-writer.ts'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')
const MAX_SESSIONS = 3
const GHOST_PID = 4_000_000
const CLIENT_ADDRESS_LINE =
  "sshd-exporter sessions: client addresses, ports and dead peers need each connection's socket: run as root, or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (docs/privileges.md)\n"

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end, whatever its exit code. */
function run(argv: readonly string[]): Promise<Run> {
  const [command, ...args] = argv
  return new Promise((resolve) => {
    execFile(command!, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })
}

/** What one connection of the scene should look like, from the client's side. */
interface Expected {
  name: string
  pid: number
  user: string | null
  state: 'authenticated' | 'preauth'
  port: number
  sessions: number
  ttys: string[]
  /** Kinds of its session processes, oldest first. */
  kinds: string[]
}

interface Scene {
  s: SshdServer
  /** In the order the table must list them: sessions, then age (oldest first). */
  expected: Expected[]
  ghostTime: number
  /** The exporter flags of this test bed (as test/real/stale.test.ts passes them). */
  flags: string[]
  /** The namespace's processes once every client was seen. */
  processes: ProcessInfo[]
}

/** `TTY /dev/pts/3` in a client's output, as its remote command printed it. */
function ttyOf(output: string): string {
  const m = /TTY \/dev\/(pts\/\d+)/.exec(output)
  assert.ok(m, `no tty in ${JSON.stringify(output)}`)
  return m[1]!
}

const TTY_COMMAND = 'echo "TTY $(tty)"; exec cat'

async function buildScene(version: (typeof SSHD_VERSIONS)[number]): Promise<Scene> {
  // utmp: the ghost needs a /run/utmp in the namespace, whatever SSHD_TEST_UTMP says.
  const s = await startSshd({ version, config: { MaxSessions: MAX_SESSIONS }, utmp: true })
  try {
    assert.match(s.configText, new RegExp(`^MaxSessions ${MAX_SESSIONS}$`, 'm'))
    // Oldest first, so that age alone would order them otherwise than the sessions do.
    const sftp = await s.sftp()
    const root = await s.connect({ user: 'root', pty: true, command: TTY_COMMAND })
    const master = await s.controlMaster()
    const muxPty = await master.session({ pty: true, command: TTY_COMMAND })
    await master.session()
    await master.session()
    const plain = await s.connect()
    const hangers = [await s.preauthHanger(), await s.preauthHanger()]
    const ghostTime = Math.floor(Date.now() / 1000) - 30
    appendFileSync(
      s.utmpFile,
      encodeUtmpRecord(sshdLogin({ pid: GHOST_PID, tty: 77, user: 'ghost', time: ghostTime }), 384),
    )
    const authenticated = (
      name: string,
      c: SshConnection,
      user: string,
      ttys: string[],
      kinds: string[],
    ): Expected => ({
      name,
      pid: c.connectionPid,
      user,
      state: 'authenticated',
      port: c.localPort,
      sessions: kinds.length,
      ttys,
      kinds,
    })
    const expected: Expected[] = [
      authenticated(
        'master',
        master,
        TEST_USER,
        [ttyOf(muxPty.output())],
        ['pty', 'notty', 'notty'],
      ),
      authenticated('sftp', sftp, TEST_USER, [], ['internal-sftp']),
      authenticated('root', root, 'root', [ttyOf(root.output())], ['pty']),
      authenticated('plain', plain, TEST_USER, [], ['notty']),
      ...hangers.map((h, i): Expected => ({
        name: `hanger ${i + 1}`,
        pid: h.connectionPid,
        user: null,
        state: 'preauth',
        port: h.localPort,
        sessions: 0,
        ttys: [],
        kinds: [],
      })),
    ]
    const flags = [
      `--path.procfs=${s.procfs}`,
      `--path.rootfs=${s.rootfs}`,
      '--collector.config.sshd-binary=',
      `--collector.config.file=${s.configFile}`,
    ]
    return { s, expected, ghostTime, flags, processes: await s.processes() }
  } catch (error) {
    await s.stop()
    throw error
  }
}

/**
 * The session processes of a connection by the namespace's process tree: the `cat`s its clients
 * run (the remote commands exec it) and sshd's internal-sftp child, below its first process.
 */
function sessionPidsOf(processes: readonly ProcessInfo[], connectionPid: number): number[] {
  const byParent = new Map<number, ProcessInfo[]>()
  for (const p of processes) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p])
  const out: number[] = []
  const queue = [connectionPid]
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of byParent.get(pid) ?? []) {
      if (child.comm === 'cat' || child.title.endsWith('@internal-sftp')) out.push(child.pid)
      queue.push(child.pid)
    }
  }
  return out.sort((a, b) => a - b)
}

/** The fields of a connection that do not move with time or with privileges. */
function stable(c: ConnectionRow) {
  return {
    pid: c.pid,
    user: c.user,
    state: c.state,
    instance_port: c.instance_port,
    sessions: c.sessions,
    max_sessions: c.max_sessions,
    at_max: c.at_max,
    ptys: c.ptys.map((p) => p.tty),
    stale: c.stale,
    end_command: c.end_command,
    session_processes: c.session_processes!.map((p) => ({
      pid: p.pid,
      kind: p.kind,
      tty: p.tty,
      command: p.command,
      exited: p.exited,
    })),
  }
}

function parseReport(r: Run): SessionsReport {
  assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`)
  return JSON.parse(r.stdout) as SessionsReport
}

/** The scene's expectations against a report; `clients`: whether addresses are readable. */
function assertScene(scene: Scene, report: SessionsReport, clients: boolean): void {
  const { s, expected, processes } = scene
  const tree = JSON.stringify(report, null, 1)
  assert.equal(report.version, 1)
  assert.deepEqual(
    report.connections.map((c) => c.pid),
    expected.map((e) => e.pid),
    `the connections, sorted by sessions then age: ${expected.map((e) => `${e.name} ${e.pid}`).join(', ')}\n${tree}`,
  )
  for (const [i, e] of expected.entries()) {
    const c = report.connections[i]!
    const what = `${e.name} (pid ${e.pid})`
    assert.equal(c.user, e.user, `${what}: user`)
    assert.equal(c.state, e.state, `${what}: state`)
    assert.deepEqual(
      c.client,
      clients ? { address: s.host, port: e.port } : null,
      `${what}: client, the client's own local port`,
    )
    assert.equal(c.instance_port, String(s.port), `${what}: instance_port`)
    assert.equal(c.sessions, e.sessions, `${what}: sessions`)
    assert.equal(c.max_sessions, MAX_SESSIONS, `${what}: max_sessions`)
    assert.equal(c.at_max, e.name === 'master', `${what}: at_max`)
    assert.equal(c.at_max, c.state === 'authenticated' && c.sessions >= MAX_SESSIONS)
    assert.deepEqual(
      c.ptys.map((p) => p.tty),
      e.ttys,
      `${what}: ptys`,
    )
    for (const p of c.ptys) {
      assert.ok(p.idle_seconds !== null && p.idle_seconds >= 0 && p.idle_seconds < 60, what)
    }
    assert.deepEqual(c.stale, [], `${what}: stale`)
    assert.equal(c.end_command, `kill ${e.pid}`)
    assert.ok(c.age_seconds >= 0 && c.age_seconds < 60, `${what}: age ${c.age_seconds}`)
    const started = Date.parse(c.started_at)
    assert.ok(Math.abs(Date.now() - c.age_seconds * 1000 - started) < 5_000, `${what}: started_at`)

    const sessions = c.session_processes!
    assert.deepEqual(
      sessions.map((p) => p.kind),
      e.kinds,
      `${what}: session kinds, oldest first`,
    )
    assert.deepEqual(
      sessions.map((p) => p.pid).sort((a, b) => a - b),
      sessionPidsOf(processes, e.pid),
      `${what}: session pids, as the process tree has them`,
    )
    for (const p of sessions) {
      assert.equal(p.exited, false)
      assert.equal(p.tty, p.kind === 'pty' ? e.ttys[0] : null, `${what}: session ${p.pid} tty`)
      assert.equal(p.command, p.kind === 'internal-sftp' ? null : 'cat', `${what}: command`)
      assert.equal(p.idle_seconds === null, p.kind !== 'pty', `${what}: idle_seconds`)
      assert.ok(p.age_seconds >= 0 && p.age_seconds <= c.age_seconds, `${what}: session age`)
    }
  }
  // Sorted by sessions (most first), then age (oldest first).
  for (let i = 1; i < report.connections.length; i++) {
    const [a, b] = [report.connections[i - 1]!, report.connections[i]!]
    assert.ok(
      a.sessions > b.sessions || (a.sessions === b.sessions && a.age_seconds >= b.age_seconds),
      `${a.pid} before ${b.pid}`,
    )
  }
  // The ghost and nothing else: the live pty logins' records (the master's, root's) are not.
  assert.deepEqual(report.utmp_orphans, [
    {
      line: 'pts/77',
      user: 'ghost',
      host: '127.0.0.1',
      pid: GHOST_PID,
      login_at: new Date(scene.ghostTime * 1000).toISOString(),
      why: 'gone',
    },
  ])
  assert.deepEqual(report.thresholds, { idle_seconds: 3600, preauth_seconds: 120 })
}

/** The text table: its summary, and its rows by the header's column positions. */
function parseTable(text: string) {
  const lines = text.split('\n')
  const headerAt = lines.findIndex((l) => l.startsWith('PID '))
  assert.ok(headerAt > 0, text)
  const header = lines[headerAt]!
  const names = header.split(/ +/)
  assert.deepEqual(names, ['PID', 'USER', 'CLIENT', 'STATE', 'AGE', 'SESSIONS', 'PTYS', 'STALE'])
  const starts = names.map((n) => header.indexOf(n))
  const rows: { cells: Record<string, string>; sessions: { pid: number; what: string }[] }[] = []
  for (const line of lines.slice(headerAt + 1)) {
    if (line === '') break
    if (line.startsWith('    ')) {
      const [pid, what] = line.trim().split(/ {2,}/)
      assert.ok(rows.length > 0, `a session row first: ${line}`)
      rows.at(-1)!.sessions.push({ pid: Number(pid), what: what! })
      continue
    }
    assert.doesNotMatch(line, /^ /, `a connection row: ${line}`)
    const cells = Object.fromEntries(
      names.map((n, i) => [n, line.slice(starts[i], starts[i + 1]).trim()]),
    )
    rows.push({ cells, sessions: [] })
  }
  return { summary: lines[0]!, rows, lines }
}

for (const version of SSHD_VERSIONS) {
  describe(`the sessions table on real OpenSSH ${version}`, () => {
    let scene: Scene
    let report: SessionsReport
    before(async () => {
      scene = await buildScene(version)
    })
    after(() => scene?.s.stop())

    const cli = (...args: string[]) => run([process.execPath, CLI, 'sessions', ...args])

    it('--json --sessions lists every connection with its client, sessions and ptys', async () => {
      const r = await cli('--json', '--sessions', ...scene.flags)
      report = parseReport(r)
      assert.equal(r.stderr, '', 'nothing on stderr as root')
      assert.deepEqual(report.unavailable, [])
      assertScene(scene, report, true)

      // --at-max: the ControlMaster alone, and no utmp login (none has sessions).
      const atMax = parseReport(await cli('--json', '--at-max', '--sessions', ...scene.flags))
      assert.deepEqual(
        atMax.connections.map((c) => c.pid),
        [scene.expected[0]!.pid],
      )
      assert.deepEqual(stable(atMax.connections[0]!), stable(report.connections[0]!))
      assert.deepEqual(atMax.utmp_orphans, [])

      // Without --sessions, the same connections and no session process read.
      const plain = parseReport(await cli('--json', ...scene.flags))
      assert.deepEqual(
        plain.connections.map((c) => [c.pid, c.sessions, 'session_processes' in c]),
        report.connections.map((c) => [c.pid, c.sessions, false]),
      )
    })

    it('the text table shows the same rows in the same order', async () => {
      assert.ok(report, 'the JSON test ran')
      const r = await cli('--sessions', ...scene.flags)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '')
      const { summary, rows, lines } = parseTable(r.stdout)
      assert.match(summary, /^6 connections, 6 sessions, 0 stale, 1 at MaxSessions \(\S+Z\)$/)
      assert.deepEqual(
        rows.map((row) => Number(row.cells.PID)),
        scene.expected.map((e) => e.pid),
        r.stdout,
      )
      for (const [i, e] of scene.expected.entries()) {
        const { cells, sessions } = rows[i]!
        const c = report.connections[i]!
        assert.equal(c.pid, e.pid)
        assert.equal(cells.USER, e.user ?? '-', `${e.name}: USER`)
        assert.equal(cells.CLIENT, `${scene.s.host}:${e.port}`, `${e.name}: CLIENT`)
        assert.equal(cells.STATE, e.state, `${e.name}: STATE`)
        assert.match(cells.AGE!, /^\d+s$/, `${e.name}: AGE`)
        assert.equal(
          cells.SESSIONS,
          e.state === 'preauth'
            ? '-'
            : `${e.sessions}/${MAX_SESSIONS}${e.name === 'master' ? ' max' : ''}`,
          `${e.name}: SESSIONS`,
        )
        assert.match(
          cells.PTYS!,
          e.ttys.length === 0 ? /^-$/ : new RegExp(`^${e.ttys[0]} idle \\d+s$`),
          `${e.name}: PTYS`,
        )
        assert.equal(cells.STALE, '-', `${e.name}: STALE`)
        // Session rows: the JSON's processes, each shown as its tty or its kind.
        assert.deepEqual(
          sessions.map((x) => x.pid),
          c.session_processes!.map((p) => p.pid),
          `${e.name}: session rows`,
        )
        assert.deepEqual(
          sessions.map((x) => x.what),
          e.kinds.map((k) => (k === 'pty' ? e.ttys[0] : k)),
          `${e.name}: session rows`,
        )
      }
      // Sessions column, most first.
      const counts = rows.map((row) =>
        row.cells.SESSIONS === '-' ? 0 : parseInt(row.cells.SESSIONS!),
      )
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => b - a),
      )
      const ghost = lines.find((l) => l.includes('ghost'))
      assert.match(
        ghost ?? '',
        new RegExp(
          `^  pts/77  ghost  from 127\\.0\\.0\\.1  pid ${GHOST_PID} gone  since ${new Date(scene.ghostTime * 1000).toISOString()}$`,
        ),
      )
    })

    it('as nobody in the namespace: the same connections, no client addresses, said once', async () => {
      assert.ok(report, 'the JSON test ran')
      const { s } = scene
      // Its own /proc and / there, as on a host: the defaults, as test/real/privileges.test.ts.
      const asNobody = (...args: string[]) =>
        run([
          ...inSshdNamespace(s.initHostPid, nobody()),
          process.execPath,
          CLI,
          'sessions',
          ...args,
          `--collector.config.file=${s.configFile}`,
          '--collector.config.sshd-binary=',
        ])
      const r = await asNobody('--json', '--sessions')
      const mine = parseReport(r)
      assert.equal(r.stderr, CLIENT_ADDRESS_LINE)
      assert.deepEqual(
        mine.unavailable.map((u) => u.what),
        ['client_addresses'],
      )
      assertScene(scene, mine, false)
      assert.deepEqual(mine.connections.map(stable), report.connections.map(stable))

      const text = await asNobody('--sessions')
      assert.equal(text.code, 0, text.stderr)
      assert.equal(text.stderr, CLIENT_ADDRESS_LINE)
      const { rows } = parseTable(text.stdout)
      assert.deepEqual(
        rows.map((row) => [Number(row.cells.PID), row.cells.CLIENT]),
        scene.expected.map((e) => [e.pid, '-']),
      )
    })

    // The browser part once: it is the same page for every sshd.
    if (version === '9.2') {
      it('/sessions in chromium behind basic auth, /api/v1/sessions, and 404 unless enabled', async (t) => {
        assert.ok(report, 'the JSON test ran')
        const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-sessions-web-'))
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        const password = 'wonder-land-42'
        const webConfig = join(dir, 'web.yml')
        writeFileSync(webConfig, `basic_auth_users:\n  alice: ${hashSync(password, 4)}\n`)
        const auth = { username: 'alice', password }
        const common = [...scene.flags, `--web.config.file=${webConfig}`]
        const client = { auth: { user: 'alice', password } }
        const [enabled, disabled] = await Promise.all([
          startExporter([...common, '--web.enable-sessions'], t, process.env, [], client),
          startExporter(common, t, process.env, [], client),
        ])

        assert.equal((await loadPage(`${enabled.url}/sessions`)).status, 401)
        const page = await loadPage(`${enabled.url}/sessions`, auth)
        assert.equal(page.status, 200)
        assert.equal(page.title, 'sshd sessions')
        const rows = [...page.dom.matchAll(/<tr class="connection">(.*?)<\/tr>/g)].map((m) =>
          [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((cell) => cell[1]!),
        )
        assert.deepEqual(
          rows.map((cells) => cells.slice(0, 4)),
          scene.expected.map((e) => [
            String(e.pid),
            e.user ?? '-',
            `${scene.s.host}:${e.port}`,
            e.state,
          ]),
          page.dom,
        )
        // Each connection's sessions under it, by pid.
        const sessionPids = [...page.dom.matchAll(/<tr class="session"><td>(\d+)<\/td>/g)].map(
          (m) => Number(m[1]),
        )
        assert.deepEqual(
          sessionPids,
          report.connections.flatMap((c) => c.session_processes!.map((p) => p.pid)),
        )

        const api = await enabled.request('/api/v1/sessions')
        assert.equal(api.status, 200)
        assert.match(String(api.headers['content-type']), /^application\/json/)
        assert.equal(api.headers['cache-control'], 'no-store')
        const served = JSON.parse(api.body) as SessionsReport
        assert.deepEqual(
          served.connections.map((c) => c.pid),
          report.connections.map((c) => c.pid),
        )
        assert.deepEqual(served.connections.map(stable), report.connections.map(stable))
        assert.equal((await enabled.request('/api/v1/sessions', { auth: undefined })).status, 401)

        assert.equal((await loadPage(`${disabled.url}/sessions`, auth)).status, 404)
        assert.equal((await disabled.request('/api/v1/sessions')).status, 404)
        // The landing page links to the page only when it is on.
        assert.match((await enabled.request('/')).body, /<a href="\/sessions">/)
        assert.doesNotMatch((await disabled.request('/')).body, /href="\/sessions/)
      })
    }
  })
}
