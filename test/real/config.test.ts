/**
 * The config collector against real sshd 9.2 and 10.0: the effective
 * MaxSessions from `sshd -T` and from the files, fed into the process model;
 * and the exporter run as an unprivileged user, which falls back to the files.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { AS_NOBODY, sample, scrapeUntil, startExporter } from '../helpers/exporter.ts'
import { SSHD_VERSIONS, sshdBinaries } from '../helpers/sshd/builds.ts'
import { startSshd } from '../helpers/sshd/server.ts'

// sshd -T refuses to run without its privilege separation directory, which the sshd
// service creates on a real server (systemd's RuntimeDirectory); tests run no service.
mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })

for (const version of SSHD_VERSIONS) {
  describe(`config collector on real OpenSSH ${version}`, () => {
    for (const source of ['sshd_t', 'file'] as const) {
      it(`MaxSessions 3 from ${source}: a connection with 3 sessions is at the limit`, async (t) => {
        const sshd = await startSshd({
          version,
          t,
          config: { MaxSessions: 3, LoginGraceTime: '1m30s', ClientAliveInterval: 15 },
        })
        const binary = source === 'sshd_t' ? sshdBinaries(version).sshd : ''
        const exporter = await startExporter(
          [
            `--path.procfs=${sshd.procfs}`,
            `--collector.config.sshd-binary=${binary}`,
            `--collector.config.file=${sshd.configFile}`,
          ],
          t,
        )
        const master = await sshd.controlMaster()
        const sessions = [await master.session({ pty: true }), await master.session()]
        const plain = await sshd.connect()

        // Two sessions: not at the limit yet.
        let text = await scrapeUntil(exporter, '3 sessions', (s) => {
          return sample(s, 'sshd_connection_sessions_max') === 2
        })
        assert.equal(sample(text, 'sshd_connections_at_max_sessions'), 0)

        sessions.push(await master.session())
        text = await scrapeUntil(exporter, 'a connection at MaxSessions', (s) => {
          return sample(s, 'sshd_connection_sessions_max') === 3
        })
        assert.equal(sample(text, 'sshd_connections_at_max_sessions'), 1)
        assert.equal(sample(text, `sshd_config_max_sessions{port="${sshd.port}"}`), 3)
        assert.equal(sample(text, `sshd_config_login_grace_time_seconds{port="${sshd.port}"}`), 90)
        assert.equal(
          sample(text, `sshd_config_client_alive_interval_seconds{port="${sshd.port}"}`),
          15,
        )
        assert.equal(
          sample(text, `sshd_config_max_startups{port="${sshd.port}",bound="begin"}`),
          10,
        )
        assert.equal(sample(text, `sshd_config_max_startups_rate{port="${sshd.port}"}`), 0.3)
        assert.equal(sample(text, `sshd_config_info{port="${sshd.port}",source="${source}"}`), 1)
        assert.equal(sample(text, `sshd_config_listener_mismatch{port="${sshd.port}"}`), 0)
        assert.equal(sample(text, `sshd_config_problems{port="${sshd.port}"}`), 0)
        assert.equal(sample(text, 'sshd_scrape_collector_success{collector="config"}'), 1)

        for (const s of sessions) await s.close()
        await master.close()
        await plain.close()
      })
    }
  })
}

describe('config collector, exporter not root', () => {
  it('falls back to the files, says so once, and keeps serving', async (t) => {
    const rootfs = mkdtempSync(join(tmpdir(), 'sshd-exporter-unpriv-'))
    t.after(() => rmSync(rootfs, { recursive: true, force: true }))
    mkdirSync(join(rootfs, 'etc', 'ssh', 'sshd_config.d'), { recursive: true })
    writeFileSync(
      join(rootfs, 'etc', 'ssh', 'sshd_config'),
      'Include /etc/ssh/sshd_config.d/*.conf\nMaxSessions 4\n',
    )
    writeFileSync(join(rootfs, 'etc', 'ssh', 'sshd_config.d', '10-local.conf'), 'MaxSessions 7\n')
    // Root's alone: unreadable to the exporter, skipped as a problem.
    writeFileSync(
      join(rootfs, 'etc', 'ssh', 'sshd_config.d', '20-secret.conf'),
      'LoginGraceTime 5\n',
      {
        mode: 0o600,
      },
    )
    // mkdtemp makes a 0700 directory; /etc/ssh on a host can be entered by anyone.
    chmodSync(rootfs, 0o755)
    const exporter = await startExporter(
      [`--path.rootfs=${rootfs}`, `--collector.config.sshd-binary=${sshdBinaries('9.2').sshd}`],
      t,
      process.env,
      AS_NOBODY,
    )
    const first = await exporter.scrape()
    await exporter.scrape()
    assert.equal(sample(first, `sshd_config_info{port="22",source="file"}`), 1)
    assert.equal(sample(first, `sshd_config_max_sessions{port="22"}`), 7, 'the Include came first')
    assert.equal(sample(first, 'sshd_scrape_collector_success{collector="config"}'), 1)
    assert.equal(sample(first, `sshd_config_problems{port="22"}`), 1)
    assert.equal(
      sample(first, `sshd_config_login_grace_time_seconds{port="22"}`),
      120,
      'the default',
    )
    const problem = exporter.logs.find((l) => l.msg === 'sshd_config problem; value skipped')
    assert.match(String(problem?.file), /20-secret\.conf/)
    const said = exporter.logs.filter((l) => String(l.msg).startsWith('not running sshd -T'))
    assert.equal(said.length, 1, JSON.stringify(exporter.logs))
    assert.equal(said[0]?.reason, 'not running as root')
  })
})
