/**
 * The events collector against real sshd 9.2 and 10.0, counters asserted to the exact number.
 *
 * One scenario a version: an accepted key (a ControlMaster), MaxSessions 1 and a second
 * multiplexed session, a key sshd does not know, an invalid user, ClientAliveInterval 1 and
 * ClientAliveCountMax 1 with a client stopped by SIGSTOP, and MaxStartups 1:100:1 with three
 * pre-auth connections at once. sshd's lines (its `-E` log) are relayed as a syslog daemon would:
 * to an auth.log (rotated by rename, then by copytruncate, mid-test) and to a real journal file
 * (systemd-journal-remote). Two exporters, one on each source, must give the same counts.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import {
  type RunningExporter,
  sample,
  scrapeUntil,
  series,
  startExporter,
} from '../helpers/exporter.ts'
import { appendJournal } from '../helpers/journal-writer.ts'
import { LogRelay, SyslogFileSink } from '../helpers/log-relay.ts'
import { SSHD_VERSIONS } from '../helpers/sshd/builds.ts'
import { startSshd } from '../helpers/sshd/server.ts'
import { waitFor } from '../helpers/wait.ts'

const run = promisify(execFile)

/** Every sshd_events_total series of a scrape, with the line counters. */
function eventCounts(text: string): Record<string, number> {
  return Object.fromEntries([
    ...series(text, 'sshd_events_total'),
    ['lines_read', sample(text, 'sshd_events_lines_read_total') ?? -1],
    ['lines_unparsed', sample(text, 'sshd_events_lines_unparsed_total') ?? -1],
  ])
}

function count(text: string, event: string, method?: string): number | undefined {
  const labels = method === undefined ? `event="${event}"` : `event="${event}",method="${method}"`
  return sample(text, `sshd_events_total{${labels}}`)
}

/** Waits until the exporter has read every line the relay handed on. */
function caughtUp(exporter: RunningExporter, relay: LogRelay, what: string): Promise<string> {
  return scrapeUntil(
    exporter,
    what,
    (x) => sample(x, 'sshd_events_lines_read_total') === relay.lines.length,
  )
}

/** ssh that is expected to fail to log in (BatchMode: no prompt). */
async function failingLogin(args: string[], destination: string): Promise<void> {
  const result = await run('ssh', [...args, destination, 'true'], { timeout: 20_000 }).then(
    () => 'logged in',
    () => 'refused',
  )
  assert.equal(result, 'refused', `ssh ${args.join(' ')} ${destination}`)
}

for (const version of SSHD_VERSIONS) {
  describe(`events collector on real OpenSSH ${version}`, () => {
    it('counts what sshd refused, the same from a rotated file and from a journal', async (t) => {
      const s = await startSshd({
        version,
        t,
        config: {
          LogLevel: 'VERBOSE',
          MaxSessions: 1,
          MaxStartups: '1:100:1',
          ClientAliveInterval: 1,
          ClientAliveCountMax: 1,
          // 10.0 penalises a source's failed logins by default; here it would refuse the next
          // connections from 127.0.0.1 (penalty_dropped) at a moment that depends on timing.
          ...(version === '9.2' ? {} : { PerSourcePenalties: 'no' }),
        },
      })
      const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-events-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      // 9.2 tags every line `sshd`; 10.0 tags per-connection lines `sshd-session`.
      const tag = version === '9.2' ? 'sshd' : 'sshd-session'
      const authLog = new SyslogFileSink(join(dir, 'auth.log'), {
        format: version === '9.2' ? 'rfc3164' : 'rfc3339',
        tag,
        pid: 4242,
      })
      const journalDir = join(dir, 'journal')
      await run('mkdir', ['-p', journalDir])
      const relay = new LogRelay(s.logFile, [
        authLog.write,
        (lines) =>
          appendJournal(
            journalDir,
            lines.map((message) => ({ identifier: tag, pid: 4242, message })),
          ),
      ])
      await relay.start()
      t.after(() => relay.stop())
      // The first line creates the files, so that both exporters start on something.
      authLog.write(['sshd-exporter test: relay started'])
      await appendJournal(journalDir, [{ identifier: tag, pid: 4242, message: 'relay started' }])

      const common = [
        `--path.procfs=${s.procfs}`,
        `--path.rootfs=${s.rootfs}`,
        '--collector.config.sshd-binary=',
        `--collector.config.file=${s.configFile}`,
      ]
      const fromFile = await startExporter(
        [...common, '--collector.events.source=file', `--collector.events.file=${authLog.path}`],
        t,
      )
      const fromJournal = await startExporter(
        [
          ...common,
          '--collector.events.source=journal',
          `--collector.events.journal-directory=${journalDir}`,
        ],
        t,
      )
      await scrapeUntil(
        fromJournal,
        'journalctl up',
        (x) => sample(x, 'sshd_events_source_up{source="journal"}') === 1,
      )

      // An accepted key, and MaxSessions 1 reached by a multiplexed session.
      const master = await s.controlMaster()
      await master.session()
      const refused = await run(
        'ssh',
        ['-F', '/dev/null', '-S', master.socketPath, '-o', 'BatchMode=yes', '-T', s.host, 'true'],
        { timeout: 20_000 },
      ).then(
        () => 'opened',
        (e: { stderr?: string }) => e.stderr ?? 'refused',
      )
      assert.notEqual(refused, 'opened', 'a second session past MaxSessions 1')
      await s.waitFor('no more sessions in the log', async () =>
        (await s.readLog()).includes('no more sessions'),
      )
      // Each rotation comes once the exporter has read the lines before it, as in life (a file
      // rotated twice between two polls loses the middle one: copytruncate empties it unread).
      await relay.flush()
      await caughtUp(fromFile, relay, 'the lines before the rename')
      authLog.rotate()

      // A key sshd does not know, and a user that does not exist.
      const stranger = join(dir, 'stranger_ed25519')
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger])
      const args = s.sshArgs()
      args[args.indexOf('-i') + 1] = stranger
      await failingLogin(args, `${s.user}@${s.host}`)
      // MaxStartups 1:100:1 drops the next connection while sshd still counts this one: wait
      // for the listener's own count to be back at 0.
      await s.waitFor('the listener counting no startup', async () =>
        (await s.processes()).some((p) => / 0 of 1-1 startups$/.test(p.title)),
      )
      await failingLogin(s.sshArgs(), `nosuchuser@${s.host}`)
      await relay.flush()
      await caughtUp(fromFile, relay, 'the lines before the copytruncate')
      authLog.copyTruncate()

      // A client that stops answering: ClientAliveInterval 1, ClientAliveCountMax 1.
      const stopped = await s.connect()
      process.kill(stopped.clientPid, 'SIGSTOP')
      try {
        await s.waitFor('the client-alive timeout in the log', async () =>
          (await s.readLog()).includes('Timeout, client not responding'),
        )
      } finally {
        // A stopped process never acts on SIGTERM: the server's cleanup would wait for it.
        process.kill(stopped.clientPid, 'SIGKILL')
      }

      // MaxStartups 1:100:1: three pre-auth connections at once; sshd keeps the first only.
      const sockets = [0, 1, 2].map(() => {
        const socket = net.connect({ host: s.host, port: s.port })
        socket.on('error', () => {})
        socket.on('data', () => {})
        return socket
      })
      t.after(() => sockets.forEach((x) => x.destroy()))
      await s.waitFor(
        'the drops in the log',
        async () => ((await s.readLog()).match(/drop connection #/g) ?? []).length >= 2,
      )
      for (const socket of sockets) socket.destroy()
      await s.waitFor('sshd done with the hanger', async () =>
        (await s.processes()).every((p) => !/\[(net|accepted|session-auth.*)\]$/.test(p.title)),
      )
      await relay.flush()

      const log = await s.readLog()
      const drops = (log.match(/^drop connection #/gm) ?? []).length
      const throttling = (log.match(/^beginning MaxStartups throttling/gm) ?? []).length
      const file = await caughtUp(fromFile, relay, 'every line from the file')
      const journal = await caughtUp(fromJournal, relay, 'every entry from the journal')
      const describeLog = `sshd log:\n${log}`

      assert.equal(count(file, 'auth_accepted', 'publickey'), 2, describeLog)
      assert.equal(count(file, 'auth_failed', 'publickey'), 1, describeLog)
      assert.equal(count(file, 'invalid_user'), 1, describeLog)
      assert.equal(count(file, 'no_more_sessions'), 1, describeLog)
      assert.equal(count(file, 'client_alive_timeout'), 1, describeLog)
      assert.ok(drops >= 1, describeLog)
      assert.equal(count(file, 'startups_dropped'), drops, describeLog)
      assert.equal(count(file, 'startups_throttling_started'), throttling, describeLog)
      assert.equal(count(file, 'session_opened'), 2, describeLog)
      // The unknown key, the invalid user, and the connection MaxStartups kept.
      assert.equal(count(file, 'preauth_closed'), 3, describeLog)
      assert.equal(count(file, 'login_grace_timeout'), 0, describeLog)
      // Both rotations were seen, and nothing was lost or read twice across them.
      assert.equal(sample(file, 'sshd_events_source_restarts_total{source="file"}'), 2)
      assert.deepEqual(eventCounts(journal), eventCounts(file))
      assert.equal(sample(journal, 'sshd_events_source_up{source="journal"}'), 1)

      // LogLevel VERBOSE: the master's sessions come from its Starting/Close session lines.
      const sessions = await scrapeUntil(
        fromFile,
        'the master counted from the log',
        (x) => sample(x, 'sshd_sessions_source_connections{source="log"}') === 1,
      )
      assert.equal(sample(sessions, `sshd_sessions{user="${s.user}"}`), 1)
      assert.equal(sample(sessions, 'sshd_connections{state="authenticated"}'), 1)
      await master.close()
      await waitFor('the master gone', async () =>
        (await s.processes()).every((p) => !p.title.includes(`${s.user}@`)),
      )
    })
  })
}
