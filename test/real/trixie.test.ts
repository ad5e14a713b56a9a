/**
 * The exporter against a real Debian 13 (trixie) host: trixie's own openssh-server (OpenSSH
 * 10.0p2, its sshd-session and sshd-auth, its PAM, glibc and /etc/passwd), run chrooted into the
 * root that scripts/make-trixie-root.sh debootstraps, in the test's PID and mount namespaces.
 * The exporter reads the namespace's /proc (--path.procfs) and the trixie root as the host sees
 * it (--path.rootfs): its sshd_config (the listener's -f), its /dev/pts and, when there is one,
 * its /run/utmp. trixie's sshd cannot run on this Debian 12 host (glibc 2.41), so there is no
 * `sshd -T`: the config comes from the files, as for an exporter in a container.
 *
 * utmp on Debian 13: sshd-session still calls glibc's login(3) and logout(3) (and logwtmp(3),
 * and wtmpdb for /var/log/wtmp.db), so it writes a USER_PROCESS record for each pty session into
 * /run/utmp when that file exists, but never creates it; and nothing on Debian 13 creates it:
 * systemd 256.7-2 and later are built with utmp support off ("Disable utmp support, replaced by
 * wtmpdb", in its changelog), so no tmpfiles.d entry makes /run/utmp and no
 * systemd-update-utmp runs. A Debian 13 host as installed has no /run/utmp; the test bed's
 * default for this build is the same (SSHD_TEST_UTMP or `utmp: true` give it one). Both are run
 * here.
 */
import assert from 'node:assert/strict'
import { access, readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { sample, scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { checkMetrics } from '../helpers/promtool.ts'
import { startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'
import { sleep } from '../helpers/wait.ts'

const VERSION = '10.0-trixie'

function sessionsSum(text: string): number {
  let sum = 0
  for (const v of series(text, 'sshd_sessions').values()) sum += v
  return sum
}

/** The number of USER_PROCESS records in a utmp file (glibc x86_64: 384 bytes each). */
async function utmpLogins(file: string): Promise<number> {
  const buf = await readFile(file)
  let n = 0
  for (let at = 0; at + 384 <= buf.length; at += 384) if (buf.readInt16LE(at) === 7) n++
  return n
}

describe('the exporter on a real Debian 13 host (trixie openssh-server 10.0p2)', () => {
  for (const utmp of [false, true]) {
    const host = utmp ? 'with a /run/utmp' : 'as Debian 13 ships it, no /run/utmp'
    it(`${host}: a mixed load, its config and its idle ptys, exactly`, async (t) => {
      const sshd = await startSshd({
        version: VERSION,
        t,
        utmp,
        config: {
          MaxStartups: '5:50:20',
          MaxSessions: 7,
          LoginGraceTime: '1m30s',
          ClientAliveInterval: 30,
        },
      })
      assert.match(sshd.versionString, /^OpenSSH_10\.0p\d+ Debian-\S+deb13/)
      const exporter = await startExporter(
        [
          `--path.procfs=${sshd.procfs}`,
          `--path.rootfs=${sshd.rootfs}`,
          '--collector.config.sshd-binary=',
          '--collector.stale.idle-threshold=2s',
        ],
        t,
      )

      // A ControlMaster with three sessions, one of them a pty; a plain connection; a root
      // login with a pty; an internal-sftp session; two pre-auth hangers (no banner).
      const master = await sshd.controlMaster()
      const muxed = [
        await master.session({ pty: true }),
        await master.session(),
        await master.session(),
      ]
      const plain = await sshd.connect()
      const root = await sshd.connect({ user: 'root', pty: true })
      const sftp = await sshd.sftp()
      const hangers = [await sshd.preauthHanger(), await sshd.preauthHanger()]
      if (utmp) assert.equal(await utmpLogins(sshd.utmpFile), 2, 'trixie logs its two ptys')
      else await assert.rejects(access(sshd.utmpFile), { code: 'ENOENT' })

      const port = `port="${sshd.port}"`
      let text = await scrapeUntil(exporter, 'six sessions and two startups', (s) => {
        return sessionsSum(s) === 6 && sample(s, `sshd_startups{${port}}`) === 2
      })
      const tree = await sshd.processTree()
      assert.equal(sample(text, 'sshd_up'), 1)
      // (a zero series, e.g. for no user at all, may stand beside these)
      const bySeries = [...series(text, 'sshd_sessions')].filter(([, v]) => v !== 0)
      assert.deepEqual(
        Object.fromEntries(bySeries),
        { '{user="root"}': 1, [`{user="${TEST_USER}"}`]: 5 },
        tree,
      )
      assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 4, tree)
      assert.equal(sample(text, 'sshd_connections{state="preauth"}'), 2, tree)
      assert.equal(sample(text, 'sshd_multiplexed_connections'), 1)
      assert.equal(sample(text, 'sshd_connection_sessions_max'), 3)
      assert.equal(sample(text, `sshd_instance_info{${port},mode="process"}`), 1)
      assert.equal(sample(text, 'sshd_exporter_malformed_input_total{source="procfs"}'), 0)

      // Its config: the listener's -f, read under the trixie root.
      assert.equal(sample(text, `sshd_config_info{${port},source="file"}`), 1)
      assert.equal(sample(text, `sshd_config_max_sessions{${port}}`), 7)
      assert.equal(sample(text, `sshd_config_max_startups{${port},bound="begin"}`), 5)
      assert.equal(sample(text, `sshd_config_max_startups{${port},bound="full"}`), 20)
      assert.equal(sample(text, `sshd_config_max_startups_rate{${port}}`), 0.5)
      assert.equal(sample(text, `sshd_config_login_grace_time_seconds{${port}}`), 90)
      assert.equal(sample(text, `sshd_config_client_alive_interval_seconds{${port}}`), 30)
      assert.equal(sample(text, `sshd_config_client_alive_count_max{${port}}`), 3)
      assert.equal(sample(text, `sshd_max_startups{${port},bound="begin"}`), 5)
      assert.equal(sample(text, `sshd_max_startups{${port},bound="full"}`), 20)
      assert.equal(sample(text, `sshd_config_listener_mismatch{${port}}`), 0)
      assert.equal(sample(text, `sshd_config_problems{${port}}`), 0)

      // Its ptys (the master's pty session and root's), from the titles and trixie's /dev/pts;
      // utmp_orphan only where there is a utmp.
      assert.equal(sample(text, 'sshd_pty_sessions'), 2, tree)
      assert.equal(sample(text, 'sshd_stale_sessions{reason="utmp_orphan"}'), utmp ? 0 : undefined)
      for (const collector of ['processes', 'config', 'stale']) {
        assert.equal(sample(text, `sshd_scrape_collector_success{collector="${collector}"}`), 1)
      }
      await sleep(2_500)
      text = await scrapeUntil(
        exporter,
        'both ptys idle past 2s',
        (s) => sample(s, 'sshd_stale_sessions{reason="idle"}') === 2,
      )
      assert.equal(sample(text, 'sshd_pty_sessions'), 2)
      assert.ok((sample(text, 'sshd_pty_session_idle_seconds_max') ?? 0) >= 2, 'idle max')

      const lint = checkMetrics(text)
      assert.equal(lint.output, '', 'promtool check metrics complains')

      for (const c of [...hangers, sftp, root, plain, ...muxed]) await c.close()
      await master.close()
      const after = await scrapeUntil(exporter, 'every count back to 0', (s) => {
        return (
          sample(s, 'sshd_connections{state="authenticated"}') === 0 &&
          sample(s, 'sshd_connections{state="preauth"}') === 0 &&
          sample(s, `sshd_startups{${port}}`) === 0
        )
      })
      assert.equal(sessionsSum(after), 0)
      assert.equal(sample(after, 'sshd_pty_sessions'), 0)
      assert.equal(sample(after, 'sshd_stale_sessions{reason="idle"}'), 0)
      assert.equal(sample(after, 'sshd_stale_sessions{reason="utmp_orphan"}'), utmp ? 0 : undefined)
      assert.equal(sample(after, 'sshd_up'), 1)
      if (utmp) assert.equal(await utmpLogins(sshd.utmpFile), 0, 'logged out in utmp')
    })
  }
})
