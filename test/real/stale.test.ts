/**
 * The stale collector against real sshd 9.2 and 10.0: a utmp ghost beside a
 * live pty session, a pre-auth hanger past its threshold, and an idle tty
 * that a keystroke wakes, with the namespace's /run/utmp and without one (as
 * on Debian 13): the ttys come from the post-auth titles either way. The
 * exporter reads the server's namespace through --path.procfs and
 * --path.rootfs (its own /run/utmp).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, utimesSync } from 'node:fs'
import { describe, it } from 'node:test'
import { sample, scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { checkMetrics } from '../helpers/promtool.ts'
import { SSHD_VERSIONS } from '../helpers/sshd/builds.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { waitFor } from '../helpers/wait.ts'
import { encodeUtmpRecord, sshdLogin } from '../helpers/utmp-writer.ts'
import { resolveInRoot } from '../../src/sources/rootfs.ts'
import { UtmpType } from '../../src/sources/utmp/parse.ts'
import { UtmpReader } from '../../src/sources/utmp/read.ts'
import { dropTcpToPort, stopDropping } from '../fixtures/net-tcp/drop.ts'

function exporterArgs(s: SshdServer, extra: string[] = []): string[] {
  return [
    `--path.procfs=${s.procfs}`,
    `--path.rootfs=${s.rootfs}`,
    '--collector.config.sshd-binary=',
    `--collector.config.file=${s.configFile}`,
    ...extra,
  ]
}

/** An ssh client with a pty running `cat`, to type into; `tty` is its line (`pts/0`). */
async function ptyClient(s: SshdServer, t: { after: (fn: () => void) => void }) {
  const client = spawn(
    'ssh',
    [...s.sshArgs(), '-tt', `${s.user}@${s.host}`, 'echo "READY $(tty)"; exec cat'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  t.after(() => client.kill('SIGKILL'))
  let output = ''
  client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const ready = await waitFor('the remote command', () => /READY \/dev\/(pts\/\d+)/.exec(output))
  return { client, tty: ready[1]!, output: () => output }
}

/** utmp as hosts have it: the namespace's own /run/utmp, or none (Debian 13 keeps none). */
const UTMP_CASES = [
  { name: 'with utmp', utmp: true },
  { name: 'without utmp', utmp: false },
] as const

for (const version of SSHD_VERSIONS) {
  describe(`stale collector on real OpenSSH ${version}`, () => {
    it('a utmp record of a dead pid is an orphan; the live pty session beside it is not', async (t) => {
      const s = await startSshd({ version, t, utmp: true })
      const live = await ptyClient(s, t)
      const record = await s.waitFor('its USER_PROCESS record', () =>
        new UtmpReader(s.rootfs).read()?.records.find((r) => r.type === UtmpType.USER_PROCESS),
      )
      assert.equal(record.line, live.tty)
      // A login sshd wrote for a process that has since died, in the real binary format.
      const dead = sshdLogin({
        pid: 4_000_000,
        tty: 77,
        user: 'ghost',
        time: record.time - 60,
      })
      appendFileSync(s.utmpFile, encodeUtmpRecord(dead, 384))
      const exporter = await startExporter(exporterArgs(s), t)
      const text = await scrapeUntil(
        exporter,
        'the orphan',
        (x) => sample(x, 'sshd_stale_sessions{reason="utmp_orphan"}') !== undefined,
      )
      assert.equal(sample(text, 'sshd_stale_sessions{reason="utmp_orphan"}'), 1)
      assert.equal(sample(text, 'sshd_stale_sessions{reason="idle"}'), 0)
      // The live connection's monitor holds its socket, found in the table: not a dead peer.
      assert.equal(sample(text, 'sshd_stale_sessions{reason="dead_peer"}'), 0)
      assert.equal(sample(text, 'sshd_pty_sessions'), 1, 'the live one only')
      assert.equal(sample(text, 'sshd_scrape_collector_success{collector="stale"}'), 1)
      assert.ok((sample(text, 'sshd_oldest_session_age_seconds') ?? -1) >= 0)
      // A utmp with records and a pty session: what every ordinary host has, and lint-clean.
      const lint = checkMetrics(text)
      assert.equal(lint.output, '', 'promtool check metrics complains')
      assert.equal(lint.status, 0)
      live.client.stdin.end()
    })

    it('a pre-auth hanger past the threshold is overdue, and not once it closes', async (t) => {
      const s = await startSshd({ version, t, config: { LoginGraceTime: 0 } })
      const exporter = await startExporter(
        exporterArgs(s, ['--collector.stale.preauth-threshold=2s']),
        t,
      )
      const hanger = await s.preauthHanger()
      const fresh = await exporter.scrape()
      assert.equal(sample(fresh, 'sshd_stale_sessions{reason="preauth_overdue"}'), 0)
      await new Promise((r) => setTimeout(r, 3_000))
      const text = await exporter.scrape()
      assert.equal(sample(text, 'sshd_stale_sessions{reason="preauth_overdue"}'), 1)
      await hanger.close()
      await scrapeUntil(
        exporter,
        'the hanger gone',
        (x) => sample(x, 'sshd_stale_sessions{reason="preauth_overdue"}') === 0,
      )
    })

    for (const { name, utmp } of UTMP_CASES) {
      it(`a pty with no input past the idle threshold is idle, until a keystroke (${name})`, async (t) => {
        const s = await startSshd({ version, t, utmp })
        const exporter = await startExporter(
          exporterArgs(s, ['--collector.stale.idle-threshold=2s']),
          t,
        )
        const pty = await ptyClient(s, t)
        await new Promise((r) => setTimeout(r, 3_000))
        const text = await scrapeUntil(
          exporter,
          'the idle pty',
          (x) => sample(x, 'sshd_stale_sessions{reason="idle"}') === 1,
        )
        assert.equal(sample(text, 'sshd_pty_sessions'), 1)
        assert.ok((sample(text, 'sshd_pty_session_idle_seconds_max') ?? 0) > 2)
        assert.deepEqual(
          [...series(text, 'sshd_pty_sessions_idle_over').values()],
          [0, 0, 0, 0, 0, 0],
          'idle for seconds, not a minute',
        )
        if (utmp) {
          assert.equal(sample(text, 'sshd_stale_sessions{reason="utmp_orphan"}'), 0)
        } else {
          assert.equal(existsSync(s.utmpFile), false, 'sshd made no utmp')
          assert.equal(sample(text, 'sshd_stale_sessions{reason="utmp_orphan"}'), undefined)
        }
        const lint = checkMetrics(text)
        assert.equal(lint.output, '', 'promtool check metrics complains')
        // The kernel moves a tty's atime on input only when it is more than 8 s old
        // (tty_update_time): age it past that, then type.
        const device = resolveInRoot(s.rootfs, `/dev/${pty.tty}`)
        assert.ok(device)
        const tenAgo = new Date(Date.now() - 10_000)
        utimesSync(device, tenAgo, tenAgo)
        pty.client.stdin.write('typed\r')
        await waitFor('the echo of the input', () => pty.output().includes('typed'))
        const woken = await scrapeUntil(
          exporter,
          'the pty no longer idle',
          (x) => sample(x, 'sshd_stale_sessions{reason="idle"}') === 0,
        )
        assert.ok((sample(woken, 'sshd_pty_session_idle_seconds_max') ?? 99) < 2)
        pty.client.stdin.end()
      })
    }

    it('a client whose packets are dropped while its session writes is a dead peer', async (t) => {
      // sshd and its client in a network namespace of their own, where tc may drop packets.
      const s = await startSshd({ version, t, network: 'private' })
      const netns = s.netns
      assert.ok(netns)
      const exporter = await startExporter(exporterArgs(s), t)
      const writer = await s.connect({ command: 'while :; do date; sleep 0.2; done' })
      const before = await scrapeUntil(
        exporter,
        'the live writer',
        (x) => sample(x, 'sshd_connections{state="authenticated"}') === 1,
      )
      assert.equal(sample(before, 'sshd_stale_sessions{reason="dead_peer"}'), 0)
      // The client's segments to sshd (its ACKs among them) vanish from now on: sshd's output
      // stays unacknowledged and its socket retransmits, as with a peer that went away.
      dropTcpToPort(s.port, { netns })
      t.after(() => {
        try {
          stopDropping({ netns })
        } catch {
          // The namespace is gone with the server.
        }
      })
      const dead = await scrapeUntil(
        exporter,
        'the dead peer',
        (x) => sample(x, 'sshd_stale_sessions{reason="dead_peer"}') === 1,
      )
      // sshd has not given up on it: the connection is still there.
      assert.equal(sample(dead, 'sshd_connections{state="authenticated"}'), 1)
      assert.equal(sample(dead, 'sshd_scrape_collector_success{collector="stale"}'), 1)
      // The network heals: the retransmission is acknowledged and the peer is alive again.
      stopDropping({ netns })
      await scrapeUntil(
        exporter,
        'the peer answering again',
        (x) => sample(x, 'sshd_stale_sessions{reason="dead_peer"}') === 0,
      )
      await writer.close()
    })
  })
}
