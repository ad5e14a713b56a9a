/**
 * `sshd-exporter sessions` (runSessions) on a synthetic host: a procfs tree of sshd processes
 * (test/helpers/sessions-host.ts), and a root with sshd_config (MaxSessions 2), utmp and a pty
 * device whose atime says idle.
 */
import assert from 'node:assert/strict'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { COLLECTORS, type CollectorFlags } from '../../src/collectors/index.ts'
import { parseFlags } from '../../src/flags/parse.ts'
import { createLogger } from '../../src/logger.ts'
import type { SessionsReport } from '../../src/model/sessions.ts'
import {
  type Output,
  runSessions,
  SESSIONS_COMMAND,
  type SessionsFlags,
} from '../../src/sessions/command.ts'
import { renderText } from '../../src/sessions/text.ts'
import { tempProcTree } from '../helpers/procfs-tree.ts'
import { sshdHost, tempRootfs } from '../helpers/sessions-host.ts'
import { sshdLogin, writeUtmp } from '../helpers/utmp-writer.ts'

const silent = createLogger({ level: 'error', format: 'json', destination: { write() {} } })

let procfs: { root: string; remove(): void }
let rootfs: { root: string; remove(): void }

before(() => {
  procfs = tempProcTree(sshdHost({ listenerStarttime: 1000, bob: true }))
  rootfs = tempRootfs()
  const root = rootfs.root
  mkdirSync(join(root, 'etc', 'ssh'), { recursive: true })
  writeFileSync(join(root, 'etc', 'ssh', 'sshd_config'), 'MaxSessions 2\nLoginGraceTime 2m\n')
  mkdirSync(join(root, 'dev', 'pts'), { recursive: true })
  writeFileSync(join(root, 'dev', 'pts', '0'), '')
  const twoHoursAgo = Date.now() / 1000 - 7200
  utimesSync(join(root, 'dev', 'pts', '0'), twoHoursAgo, twoHoursAgo)
  mkdirSync(join(root, 'run'))
  const now = Math.floor(Date.now() / 1000)
  writeUtmp(join(root, 'run', 'utmp'), [
    // alice's own login: its monitor is live, started when it was written.
    sshdLogin({ pid: 300, tty: 0, user: 'alice', host: '198.51.100.7', time: now - 800 }),
    sshdLogin({ pid: 999, tty: 7, user: 'dave', host: '192.0.2.77', time: now - 90_000 }),
    sshdLogin({ pid: 888, tty: 8, user: 'bob', host: '192.0.2.88', time: now - 90_000 }),
  ])
})
after(() => {
  procfs.remove()
  rootfs.remove()
})

function flags(extra: string[], procfsRoot = procfs.root): SessionsFlags {
  const r = parseFlags<CollectorFlags>(
    [
      `--path.procfs=${procfsRoot}`,
      `--path.rootfs=${rootfs.root}`,
      '--collector.config.sshd-binary=',
      '--collector.stale.idle-threshold=1h',
      ...extra,
    ],
    {},
    COLLECTORS,
    SESSIONS_COMMAND,
  )
  assert.equal(r.kind, 'flags')
  return r.flags as unknown as SessionsFlags
}

interface Captured extends Output {
  out: string[]
  err: string[]
}

function capture(onWrite?: (n: number) => void, isTTY = false): Captured {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    stdout: {
      isTTY,
      write(text: string) {
        out.push(text)
        onWrite?.(out.length)
        return true
      },
    },
    stderr: { write: (text: string) => err.push(text) },
  }
}

async function run(extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = capture()
  const code = await runSessions(flags(extra), o, undefined, silent)
  return { code, stdout: o.out.join(''), stderr: o.err.join('') }
}

async function json(extra: string[]): Promise<SessionsReport> {
  const r = await run(['--json', ...extra])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as SessionsReport
}

const pids = (r: SessionsReport) => r.connections.map((c) => c.pid)
const orphans = (r: SessionsReport) => r.utmp_orphans?.map((o) => o.pid) ?? null
const CLIENT_NOTE =
  "sshd-exporter sessions: client addresses, ports and dead peers need each connection's socket: run as root, or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (docs/privileges.md)\n"

describe('runSessions', () => {
  it('reads the synthetic host', async () => {
    const r = await json([])
    assert.equal(r.version, 1)
    assert.deepEqual(r.thresholds, { idle_seconds: 3600, preauth_seconds: 120 })
    assert.deepEqual(
      r.connections.map((c) => [
        c.pid,
        c.user,
        c.state,
        c.sessions,
        c.max_sessions,
        c.at_max,
        c.age_seconds,
        c.stale,
        c.ptys.map((p) => p.tty),
      ]),
      [
        [300, 'alice', 'authenticated', 2, 2, true, 800, ['idle'], ['pts/0']],
        [400, 'bob', 'authenticated', 1, 2, false, 600, [], []],
        [210, null, 'preauth', 0, 2, false, 500, ['preauth_overdue'], []],
      ],
    )
    const idle = r.connections[0]!.ptys[0]!.idle_seconds
    assert.ok(idle !== null && idle >= 7200 && idle < 7260, `idle ${idle}`)
    assert.ok(
      r.connections.every((c) => !('session_processes' in c)),
      'without --sessions no session process is read',
    )
    const withSessions = await json(['--sessions'])
    assert.deepEqual(
      withSessions.connections.flatMap((c) => c.session_processes!.map((s) => [s.pid, s.command])),
      [
        [302, '-bash'],
        [303, 'sleep 600'],
        [402, 'rsync --server .'],
      ],
    )
    assert.deepEqual(
      r.utmp_orphans?.map((o) => [o.pid, o.user, o.line, o.why]),
      [
        [999, 'dave', 'pts/7', 'gone'],
        [888, 'bob', 'pts/8', 'gone'],
      ],
    )
    assert.deepEqual(
      r.unavailable.map((u) => u.what),
      ['client_addresses'],
    )
  })

  it('prints the same report as text and as --json', async () => {
    const text = await run(['--sessions'])
    const asJson = await run(['--sessions', '--json'])
    assert.equal(text.code, 0)
    assert.equal(asJson.code, 0)
    const report = JSON.parse(asJson.stdout) as SessionsReport
    const generated = /\(([^)]+)\)\n/.exec(text.stdout)![1]!
    assert.equal(
      text.stdout,
      renderText({ ...report, generated_at: generated }, { sessions: true }),
    )
    assert.match(text.stdout, /^3 connections, 3 sessions, 2 stale, 1 at MaxSessions \(/)
    assert.ok(
      text.stdout.includes(
        '\n300  alice  -       authenticated  13m20s  2/2 max   pts/0 idle 2h00m  idle\n',
      ),
      text.stdout,
    )
    assert.equal(text.stderr, CLIENT_NOTE, 'the same note on stderr either way')
    assert.equal(asJson.stderr, CLIENT_NOTE)
  })

  it('--user, --stale and --at-max filter connections and utmp logins', async () => {
    const bob = await json(['--user=bob'])
    assert.deepEqual(pids(bob), [400])
    assert.deepEqual(orphans(bob), [888])
    const stale = await json(['--stale'])
    assert.deepEqual(pids(stale), [300, 210])
    assert.deepEqual(orphans(stale), [999, 888])
    const atMax = await json(['--at-max'])
    assert.deepEqual(pids(atMax), [300])
    assert.deepEqual(orphans(atMax), [])
    const aliceStale = await json(['--user=alice', '--stale'])
    assert.deepEqual(pids(aliceStale), [300])
    assert.deepEqual(orphans(aliceStale), [])
    const none = await json(['--user=bob', '--at-max'])
    assert.deepEqual(pids(none), [])
    const text = await run(['--user=nobody'])
    assert.equal(text.code, 0)
    assert.match(text.stdout, /^0 connections, 0 sessions, 0 stale, 0 at MaxSessions \([^)]+\)\n$/)
  })

  it('exits 1 with the path in its message when --path.procfs does not exist', async () => {
    const missing = join(rootfs.root, 'no-such-proc')
    const o = capture()
    const code = await runSessions(flags([], missing), o, undefined, silent)
    assert.equal(code, 1)
    assert.deepEqual(o.out, [])
    assert.equal(o.err.length, 1)
    assert.match(o.err[0]!, /^sshd-exporter sessions: error: .*no-such-proc.*\n$/)
    assert.doesNotMatch(o.err[0]!, /\n./, 'one line')
  })

  it('--watch: returns 0 once aborted, after at least one report', async () => {
    const controller = new AbortController()
    const o = capture(() => controller.abort())
    const code = await runSessions(flags(['--watch=100ms', '--json']), o, controller.signal, silent)
    assert.equal(code, 0)
    assert.equal(o.out.length, 1)
    assert.equal(o.out[0]!.split('\n').length, 2, 'one line per read, and its newline')
    assert.equal((JSON.parse(o.out[0]!) as SessionsReport).version, 1)
  })

  it('--watch: says what it could not read once, whatever the number of reads', async () => {
    const controller = new AbortController()
    const o = capture((n) => n === 3 && controller.abort())
    const code = await runSessions(flags(['--watch=100ms']), o, controller.signal, silent)
    assert.equal(code, 0)
    assert.equal(o.out.length, 3)
    for (const text of o.out)
      assert.match(text, /^3 connections, 3 sessions, 2 stale, 1 at MaxSessions/)
    assert.deepEqual(o.err, [CLIENT_NOTE])
  })

  it('--watch on a terminal: clears the screen and says the interval, as watch(1)', async () => {
    const controller = new AbortController()
    const o = capture(() => setImmediate(() => controller.abort()), true)
    const code = await runSessions(flags(['--watch']), o, controller.signal, silent)
    assert.equal(code, 0)
    assert.equal(o.out.length, 1)
    assert.ok(
      o.out[0]!.startsWith('\x1b[H\x1b[2JEvery 2s: sshd-exporter sessions\n\n3 connections'),
    )
  })

  it('--watch: an abort during a read ends it without waiting out the interval', async () => {
    const controller = new AbortController()
    const o = capture(() => controller.abort())
    const started = Date.now()
    const code = await runSessions(flags(['--watch=2s']), o, controller.signal, silent)
    assert.equal(code, 0)
    assert.ok(Date.now() - started < 1000, `returned after ${Date.now() - started} ms`)
  })
})
