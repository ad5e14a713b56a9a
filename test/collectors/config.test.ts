/**
 * The config collector on hostile sshd_config trees: it reports failure or
 * partial values honestly, and the rest of the scrape is served.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createExporter } from '../../src/exporter.ts'
import { exporterFlags } from '../helpers/flags.ts'
import { createLogger } from '../../src/logger.ts'
import { sample } from '../helpers/exporter.ts'

const lines: Record<string, unknown>[] = []
const logger = createLogger({
  level: 'info',
  format: 'json',
  destination: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
})

function rootfs(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'config-collector-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

async function scrape(root: string): Promise<string> {
  const flags = exporterFlags([
    `--path.rootfs=${root}`,
    '--collector.config.sshd-binary=',
    '--web.disable-exporter-metrics',
  ])
  const { app } = await createExporter(flags, logger)
  const res = await app.inject('/metrics')
  await app.close()
  assert.equal(res.statusCode, 200)
  return res.body
}

describe('config collector on bad input', () => {
  it('an Include loop: partial values, problems counted, success', async () => {
    const text = await scrape(
      rootfs({
        'etc/ssh/sshd_config': 'Include /etc/ssh/a.conf\nMaxSessions 2\n',
        'etc/ssh/a.conf': 'ClientAliveInterval 30\nInclude /etc/ssh/sshd_config\n',
      }),
    )
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="config"}'), 1)
    assert.equal(sample(text, 'sshd_config_max_sessions{port="22"}'), 2)
    assert.equal(sample(text, 'sshd_config_client_alive_interval_seconds{port="22"}'), 30)
    assert.ok((sample(text, 'sshd_config_problems{port="22"}') ?? 0) >= 1)
  })

  it('a 10 MB Include and a binary Include are skipped, the rest read', async () => {
    const text = await scrape(
      rootfs({
        'etc/ssh/sshd_config': 'Include /etc/ssh/sshd_config.d/*.conf\nMaxSessions 4\n',
        'etc/ssh/sshd_config.d/big.conf': `${'# padding\n'.repeat(1_100_000)}MaxSessions 99\n`,
        'etc/ssh/sshd_config.d/bin.conf': Buffer.from([0x4d, 0x61, 0, 0xff, 0x0a]),
      }),
    )
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="config"}'), 1)
    assert.equal(sample(text, 'sshd_config_max_sessions{port="22"}'), 4)
    assert.equal(sample(text, 'sshd_config_problems{port="22"}'), 2)
  })

  it('no sshd_config at all: the collector fails, the processes collector still answers', async () => {
    const text = await scrape(rootfs({ 'etc/hostname': 'x\n' }))
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="config"}'), 0)
    assert.equal(sample(text, 'sshd_config_max_sessions{port="22"}'), undefined)
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="processes"}'), 1)
    assert.equal(sample(text, 'sshd_connections_at_max_sessions'), undefined)
  })

  it('a binary main file: the collector fails with the file named', async () => {
    lines.length = 0
    const text = await scrape(rootfs({ 'etc/ssh/sshd_config': Buffer.from([0, 1, 2, 255]) }))
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="config"}'), 0)
    const failed = lines.find((l) => l.msg === 'collector failed' && l.collector === 'config')
    assert.match(JSON.stringify(failed), /sshd_config/)
  })
})
