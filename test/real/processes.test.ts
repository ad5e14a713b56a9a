/**
 * The exporter against real sshd 9.2 and 10.0 with real clients: the counts of
 * issue 2, exactly, and back to zero with no user series left once the
 * clients are gone (only `other`, at 0). The exporter reads the sshd's own PID namespace through
 * --path.procfs, as it reads a host's /proc from a container.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sample, scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { checkMetrics } from '../helpers/promtool.ts'
import { SSHD_VERSIONS, sshdBinaries } from '../helpers/sshd/builds.ts'
import { openMixedClients } from '../helpers/sshd/clients.ts'
import { startSshd } from '../helpers/sshd/server.ts'
import { TEST_USER } from '../helpers/sshd/test-user.ts'

function sessionsSum(text: string): number {
  let sum = 0
  for (const v of series(text, 'sshd_sessions').values()) sum += v
  return sum
}

for (const version of SSHD_VERSIONS) {
  describe(`processes collector on real OpenSSH ${version}`, () => {
    it('counts connections, sessions and startups exactly, then returns to zero', async (t) => {
      const sshd = await startSshd({ version, t, config: { MaxStartups: '5:50:20' } })
      const exporter = await startExporter(
        [
          `--path.procfs=${sshd.procfs}`,
          `--collector.config.sshd-binary=${sshdBinaries(version).sshd}`,
          `--collector.config.file=${sshd.configFile}`,
        ],
        t,
      )

      // Two authenticated connections: a plain one, and a ControlMaster with three sessions
      // (one with a pty); and two pre-auth hangers that never send their banner.
      const clients = await openMixedClients(sshd)

      const text = await scrapeUntil(exporter, 'the four sessions and two startups', (s) => {
        return sessionsSum(s) === 4 && sample(s, `sshd_startups{port="${sshd.port}"}`) === 2
      })
      assert.equal(sample(text, 'sshd_up'), 1)
      assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 2)
      assert.equal(sample(text, 'sshd_connections{state="preauth"}'), 2)
      assert.deepEqual(Object.fromEntries(series(text, 'sshd_sessions')), {
        [`{user="${TEST_USER}"}`]: 4,
        '{user="other"}': 0,
      })
      assert.equal(sample(text, 'sshd_multiplexed_connections'), 1)
      assert.equal(sample(text, 'sshd_connection_sessions_max'), 3)
      assert.equal(sample(text, `sshd_startups{port="${sshd.port}"}`), 2)
      assert.equal(sample(text, `sshd_max_startups{port="${sshd.port}",bound="begin"}`), 5)
      assert.equal(sample(text, `sshd_max_startups{port="${sshd.port}",bound="full"}`), 20)
      assert.equal(sample(text, `sshd_instance_info{port="${sshd.port}",mode="process"}`), 1)
      assert.equal(sample(text, 'sshd_scrape_collector_success{collector="processes"}'), 1)
      assert.equal(sample(text, 'sshd_exporter_malformed_input_total{source="procfs"}'), 0)
      // No connection has ended yet: the histogram is there, empty.
      assert.equal(sample(text, 'sshd_session_duration_seconds_count'), 0)

      // promtool on the exporter's real output, process and Node.js metrics included.
      const lint = checkMetrics(text)
      assert.equal(lint.output, '', 'promtool check metrics complains')
      assert.equal(lint.status, 0)

      await clients.close()

      const after = await scrapeUntil(exporter, 'every count back to 0', (s) => {
        return (
          sample(s, 'sshd_connections{state="authenticated"}') === 0 &&
          sample(s, 'sshd_connections{state="preauth"}') === 0 &&
          sample(s, `sshd_startups{port="${sshd.port}"}`) === 0
        )
      })
      assert.equal(sessionsSum(after), 0)
      // No user series left, and a sum of 0 rather than none: only other, at 0.
      assert.deepEqual(
        Object.fromEntries(series(after, 'sshd_sessions')),
        { '{user="other"}': 0 },
        'no stale user series',
      )
      assert.equal(sample(after, 'sshd_multiplexed_connections'), 0)
      assert.equal(sample(after, 'sshd_connection_sessions_max'), 0)
      assert.equal(sample(after, 'sshd_up'), 1)
      // Both authenticated connections ended, each observed once; the hangers never authenticated.
      assert.equal(sample(after, 'sshd_session_duration_seconds_count'), 2)
      assert.equal(sample(after, 'sshd_session_duration_seconds_bucket{le="604800"}'), 2)
      assert.ok((sample(after, 'sshd_session_duration_seconds_sum') ?? 0) > 0)
    })

    it('counts root logins and internal-sftp sessions', async (t) => {
      const sshd = await startSshd({ version, t })
      const exporter = await startExporter(
        [`--path.procfs=${sshd.procfs}`, '--no-collector.config'],
        t,
      )
      const root = await sshd.connect({ user: 'root', pty: true })
      const sftp = await sshd.sftp()
      const text = await scrapeUntil(
        exporter,
        'root and sftp sessions',
        (s) => sessionsSum(s) === 2,
      )
      assert.deepEqual(Object.fromEntries(series(text, 'sshd_sessions')), {
        '{user="root"}': 1,
        [`{user="${TEST_USER}"}`]: 1,
        '{user="other"}': 0,
      })
      assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 2)
      await root.close()
      await sftp.close()
    })
  })
}
