/**
 * The sockets collector against real sshd 9.2 and 10.0: clients from
 * 127.0.0.2, 127.0.0.3 and 127.0.0.3 (ssh -b), counted by source, then capped.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { AS_NOBODY, sample, scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { SSHD_VERSIONS } from '../helpers/sshd/builds.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'

/**
 * A procfs of the server's PID namespace mounted on a host directory that nobody may enter
 * (the namespace's own /proc, under /proc/<init>/root, is closed to other users).
 */
function namespaceProc(s: SshdServer, t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-proc-'))
  // nsenter forks into the PID namespace; the mount lands in our mount namespace.
  execFileSync('nsenter', [
    `--target=${s.initHostPid}`,
    '--pid',
    '--',
    'mount',
    '-t',
    'proc',
    'proc',
    dir,
  ])
  t.after(() => {
    execFileSync('umount', ['-l', dir])
    rmdirSync(dir)
  })
  return dir
}

for (const version of SSHD_VERSIONS) {
  describe(`sockets collector on real OpenSSH ${version}`, () => {
    it('counts established connections by client address, capped into other', async (t) => {
      const sshd = await startSshd({ version, t })
      const clients = [
        await sshd.connect({ extraArgs: ['-b', '127.0.0.2'] }),
        await sshd.connect({ extraArgs: ['-b', '127.0.0.3'] }),
        await sshd.connect({ extraArgs: ['-b', '127.0.0.3'] }),
      ]
      const args = [`--path.procfs=${sshd.procfs}`, '--no-collector.config']
      const all = await startExporter(args, t)
      const text = await scrapeUntil(
        all,
        'three sources',
        (s) => series(s, 'sshd_source_connections').size === 2,
      )
      assert.deepEqual(Object.fromEntries(series(text, 'sshd_source_connections')), {
        '{source="127.0.0.2"}': 1,
        '{source="127.0.0.3"}': 2,
      })
      const capped = await startExporter([...args, '--collector.sockets.max-sources=1'], t)
      const c = await capped.scrape()
      assert.deepEqual(Object.fromEntries(series(c, 'sshd_source_connections')), {
        '{source="127.0.0.3"}': 2,
        '{source="other"}': 1,
      })
      for (const client of clients) await client.close()
      const after = await scrapeUntil(
        all,
        'no connections',
        (s) => series(s, 'sshd_source_connections').size === 0,
      )
      assert.equal(series(after, 'sshd_source_connections').size, 0)
    })

    it('as nobody: fd links refused and said once, ports from sshd_config, sockets judged alone', async (t) => {
      const sshd = await startSshd({ version, t })
      const clients = [
        await sshd.connect({ extraArgs: ['-b', '127.0.0.2'] }),
        await sshd.connect({ extraArgs: ['-b', '127.0.0.3'] }),
      ]
      const exporter = await startExporter(
        [
          `--path.procfs=${namespaceProc(sshd, t)}`,
          '--collector.config.sshd-binary=',
          `--collector.config.file=${sshd.configFile}`,
        ],
        t,
        process.env,
        AS_NOBODY,
      )
      const text = await scrapeUntil(
        exporter,
        'two sources',
        (x) => series(x, 'sshd_source_connections').size === 2,
      )
      await exporter.scrape()
      assert.deepEqual(Object.fromEntries(series(text, 'sshd_source_connections')), {
        '{source="127.0.0.2"}': 1,
        '{source="127.0.0.3"}': 1,
      })
      assert.equal(sample(text, 'sshd_connections{state="authenticated"}'), 2)
      // Both live: judged by their sockets' state alone, without the processes' fds.
      assert.equal(sample(text, 'sshd_stale_sessions{reason="dead_peer"}'), 0)
      assert.equal(sample(text, 'sshd_scrape_collector_success{collector="sockets"}'), 1)
      assert.equal(sample(text, 'sshd_scrape_collector_success{collector="stale"}'), 1)
      const said = exporter.logs.filter((l) =>
        String(l.msg).startsWith("cannot read the sshd listener's fd links"),
      )
      assert.equal(said.length, 1, JSON.stringify(exporter.logs))
      assert.deepEqual(said[0]?.ports, [sshd.port], 'the configured port, not 22')
      for (const client of clients) await client.close()
    })
  })
}
