/**
 * deploy/systemd/sshd-exporter.service is one systemd itself accepts: `systemd-analyze verify`
 * with every warning an error, and its offline security review. Needs systemd-analyze (systemd);
 * test/systemd.test.ts reads the unit's settings as text.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const UNIT = join(import.meta.dirname, '..', '..', 'deploy', 'systemd', 'sshd-exporter.service')

describe('systemd unit, by systemd-analyze', () => {
  it('passes systemd-analyze verify with no warning, and its security review', async (t) => {
    // verify checks that ExecStart's program exists: this machine's node stands in for the
    // host's /usr/bin/node; every other line is the file's own.
    const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-unit-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const copy = join(dir, 'sshd-exporter.service')
    const text = readFileSync(UNIT, 'utf8')
    const node = /^ExecStart=(\S+)/m.exec(text)?.[1]
    assert.ok(node)
    writeFileSync(copy, text.replace(`ExecStart=${node} `, `ExecStart=${process.execPath} `))
    const verify = await run('systemd-analyze', ['verify', copy]).catch(
      (e: { code?: number; stdout?: string; stderr?: string }) => e,
    )
    assert.equal(`${verify.stdout ?? ''}${verify.stderr ?? ''}`, '', 'no warning at all')

    const security = await run('systemd-analyze', [
      'security',
      '--offline=true',
      '--no-pager',
      copy,
    ])
    const level = /Overall exposure level for sshd-exporter\.service: (\d+\.\d+)/.exec(
      security.stdout,
    )
    assert.ok(level, security.stdout)
    // 2.1 with systemd 252: what is left is the network, the capabilities and the groups.
    assert.ok(Number(level[1]) <= 2.5, security.stdout)
  })
})
