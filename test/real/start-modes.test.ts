/**
 * sshd as systems start it, on real OpenSSH 9.2 and 10.0 with real clients: socket activation
 * with Accept=no (Ubuntu's ssh.socket) and Accept=yes (one sshd -i per connection), both held by
 * Debian's systemd-socket-activate; a listener whose command line overrides its file; and two
 * instances side by side, each against its own configuration.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { sample, scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { inSshdNamespace, nobody } from '../helpers/privileges.ts'
import { checkMetrics } from '../helpers/promtool.ts'
import { SSHD_VERSIONS, sshdBinaries } from '../helpers/sshd/builds.ts'
import { startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'

// sshd -T needs its privilege separation directory, which the service makes on a real server.
mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })

function sessionsOf(text: string): Record<string, number> {
  return Object.fromEntries(series(text, 'sshd_sessions'))
}

const MODES = [
  { start: 'socket', mode: 'socket_activated', busy: 'process' },
  { start: 'inetd', mode: 'socket_activated', busy: 'per_connection' },
] as const

for (const version of SSHD_VERSIONS) {
  for (const { start, mode, busy } of MODES) {
    describe(`OpenSSH ${version} started by a socket (${start === 'socket' ? 'Accept=no' : 'Accept=yes, sshd -i'})`, () => {
      it('is up before the first connection, counts every client exactly, and is down once the socket is gone', async (t) => {
        const sshd = await startSshd({ version, t, start, config: { MaxStartups: '5:50:20' } })
        const port = `port="${sshd.port}"`
        const exporter = await startExporter(
          [
            `--path.procfs=${sshd.procfs}`,
            `--collector.config.sshd-binary=${sshdBinaries(version).sshd}`,
            `--collector.config.file=${sshd.configFile}`,
            '--collector.events.source=none',
          ],
          t,
        )

        // Nothing of sshd runs yet: systemd (here systemd-socket-activate) holds the socket.
        let text = await exporter.scrape()
        assert.deepEqual(
          await sshd.processes().then((ps) => ps.filter((p) => /^sshd/.test(p.comm))),
          [],
        )
        assert.equal(sample(text, 'sshd_up'), 1)
        assert.equal(sample(text, `sshd_instance_info{${port},mode="${mode}"}`), 1)
        assert.equal(sample(text, `sshd_startups{${port}}`), 0)
        assert.equal(
          series(text, 'sshd_max_startups').size,
          0,
          'no listener enforces MaxStartups yet',
        )
        assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 0)

        // A ControlMaster with two sessions (one with a pty), a plain connection, a root login
        // and two clients that never send their banner.
        const master = await sshd.controlMaster()
        const muxed = [await master.session({ pty: true }), await master.session()]
        const plain = await sshd.connect()
        const root = await sshd.connect({ user: 'root' })
        const hangers = [await sshd.preauthHanger(), await sshd.preauthHanger()]

        text = await scrapeUntil(exporter, 'every client', (s) => {
          const sessions = sessionsOf(s)
          return (
            sessions[`{user="${TEST_USER}"}`] === 3 &&
            sessions['{user="root"}'] === 1 &&
            sample(s, 'sshd_connections{state="preauth"}') === 2
          )
        })
        assert.equal(sample(text, 'sshd_up'), 1)
        assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 3)
        assert.equal(sample(text, 'sshd_multiplexed_connections'), 1)
        assert.equal(sample(text, 'sshd_connection_sessions_max'), 2)
        assert.deepEqual(Object.fromEntries(series(text, 'sshd_instance_info')), {
          [`{${port},mode="${busy}"}`]: 1,
        })
        if (busy === 'process') {
          // The listener systemd started, passed the socket: its own count and limits.
          assert.equal(sample(text, `sshd_startups{${port}}`), 2)
          assert.equal(sample(text, `sshd_max_startups{${port},bound="begin"}`), 5)
          assert.equal(sample(text, `sshd_max_startups{${port},bound="full"}`), 20)
          assert.equal(sample(text, `sshd_config_max_startups{${port},bound="full"}`), 20)
        } else {
          // One sshd -i per connection: nobody counts startups, MaxStartups does not apply.
          for (const name of ['sshd_startups', 'sshd_max_startups', 'sshd_config_max_startups']) {
            assert.equal(series(text, name).size, 0, name)
          }
        }
        // Found below the socket holder, never by reading every process again.
        assert.equal(sample(text, 'sshd_exporter_process_scans_total{mode="full"}'), 1)
        assert.ok((sample(text, 'sshd_exporter_process_scans_total{mode="walk"}') ?? 0) >= 1)
        const lint = checkMetrics(text)
        assert.equal(lint.output, '', 'promtool check metrics complains')

        for (const c of [...hangers, ...muxed, master, plain, root]) await c.close()
        text = await scrapeUntil(
          exporter,
          'every connection gone',
          (s) =>
            sample(s, 'sshd_connections{state="authenticated"}') === 0 &&
            sample(s, 'sshd_connections{state="preauth"}') === 0,
        )
        assert.equal(sample(text, 'sshd_up'), 1)

        // systemctl stop ssh.socket (and ssh.service): nothing listens on sshd's port any more.
        await sshd.stopSocketHolder()
        text = await scrapeUntil(exporter, 'sshd down', (s) => sample(s, 'sshd_up') === 0)
        assert.equal(series(text, 'sshd_instance_info').size, 0)
      })
    })
  }

  describe(`OpenSSH ${version}: the listener's command line is its configuration`, () => {
    it('-f, -o MaxSessions, -o MaxStartups and -o LoginGraceTime win over the file, with no config flag', async (t) => {
      const sshd = await startSshd({
        version,
        t,
        config: { MaxSessions: 9, MaxStartups: null, LoginGraceTime: null },
        args: ['-o', 'MaxSessions=4', '-o', 'MaxStartups=3:50:9', '-o', 'LoginGraceTime=45'],
      })
      const port = `port="${sshd.port}"`
      // No --collector.config.*: root runs the listener's own binary with its arguments (sshd -T);
      // nobody, in the server's namespaces as on a host, reads the -f file and applies the -o
      // lines as sshd does.
      const asRoot = await startExporter(
        [`--path.procfs=${sshd.procfs}`, '--collector.events.source=none'],
        t,
      )
      const asNobody = await startExporter(
        ['--collector.events.source=none'],
        t,
        process.env,
        inSshdNamespace(sshd.initHostPid, nobody()),
      )

      const master = await sshd.controlMaster()
      const muxed = []
      for (let i = 0; i < 4; i++) muxed.push(await master.session())
      for (const [exporter, source] of [
        [asRoot, 'sshd_t'],
        [asNobody, 'file'],
      ] as const) {
        const text = await scrapeUntil(
          exporter,
          `${source}: four sessions read with the listener's command line`,
          (s) =>
            sample(s, 'sshd_connection_sessions_max') === 4 &&
            sample(s, `sshd_config_info{${port},source="${source}"}`) === 1,
        )
        assert.equal(sample(text, `sshd_config_max_sessions{${port}}`), 4, source)
        assert.equal(sample(text, `sshd_config_max_startups{${port},bound="begin"}`), 3, source)
        assert.equal(sample(text, `sshd_config_max_startups{${port},bound="full"}`), 9, source)
        assert.equal(sample(text, `sshd_config_max_startups_rate{${port}}`), 0.5, source)
        assert.equal(sample(text, `sshd_config_login_grace_time_seconds{${port}}`), 45, source)
        assert.equal(sample(text, `sshd_max_startups{${port},bound="full"}`), 9, source)
        assert.equal(sample(text, `sshd_config_listener_mismatch{${port}}`), 0, source)
        assert.equal(sample(text, 'sshd_connections_at_max_sessions'), 1, source)
        assert.equal(sample(text, `sshd_config_problems{${port}}`), 0, source)
      }
      // A fifth session is refused, as the metrics said.
      await assert.rejects(master.session({ timeoutMs: 5_000 }))
      for (const s of muxed) await s.close()
      await master.close()
    })
  })

  describe(`OpenSSH ${version}: two instances side by side`, () => {
    it('each is reported under its own port against its own configuration', async (t) => {
      const sshd = await startSshd({ version, t, config: { MaxSessions: 3 } })
      const sftp = await sshd.startInstance({ config: { MaxSessions: 5, MaxStartups: '4:30:8' } })
      const exporter = await startExporter(
        [`--path.procfs=${sshd.procfs}`, '--collector.events.source=none'],
        t,
      )
      const [a, b] = [`port="${sshd.port}"`, `port="${sftp.port}"`]
      // Three sessions on each: the first instance's connection is at its MaxSessions 3, the
      // second's is not at its 5.
      const masters = [await sshd.controlMaster(), await sftp.controlMaster()]
      const sessions = []
      for (const m of masters) for (let i = 0; i < 3; i++) sessions.push(await m.session())
      await sftp.preauthHanger()

      const text = await scrapeUntil(
        exporter,
        'both instances',
        (s) =>
          sample(s, `sshd_config_max_sessions{${b}}`) === 5 &&
          sample(s, 'sshd_connection_sessions_max') === 3 &&
          sample(s, `sshd_startups{${b}}`) === 1,
      )
      assert.deepEqual(Object.fromEntries(series(text, 'sshd_instance_info')), {
        [`{${a},mode="process"}`]: 1,
        [`{${b},mode="process"}`]: 1,
      })
      assert.equal(sample(text, `sshd_config_max_sessions{${a}}`), 3)
      assert.equal(sample(text, `sshd_startups{${a}}`), 0)
      assert.equal(sample(text, `sshd_max_startups{${a},bound="full"}`), 100)
      assert.equal(sample(text, `sshd_max_startups{${b},bound="begin"}`), 4)
      assert.equal(sample(text, `sshd_max_startups{${b},bound="full"}`), 8)
      assert.equal(sample(text, `sshd_config_listener_mismatch{${a}}`), 0)
      assert.equal(sample(text, `sshd_config_listener_mismatch{${b}}`), 0)
      assert.equal(sample(text, 'sshd_connections_at_max_sessions'), 1)
      assert.equal(sample(text, 'sshd_up'), 1)
      const lint = checkMetrics(text)
      assert.equal(lint.output, '', 'promtool check metrics complains')
      for (const s of sessions) await s.close()
      for (const m of masters) await m.close()
    })
  })
}
