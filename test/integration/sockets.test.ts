/**
 * The sockets collector against real sshd 9.2 and 10.0: clients from
 * 127.0.0.2, 127.0.0.3 and 127.0.0.3 (ssh -b), counted by source, then capped.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { scrapeUntil, series, startExporter } from '../helpers/exporter.ts'
import { SSHD_VERSIONS, startSshd } from '../helpers/sshd.ts'

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
  })
}
