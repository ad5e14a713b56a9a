/**
 * The tree walk on real sshd 9.2 and 10.0: from the listener down through the
 * kernel's children files, it gives the snapshot the full scan gives, for
 * pty, multiplexed, sftp, root, pre-auth and pending-auth connections, and
 * across `systemctl restart ssh` (the listener replaced, its connections
 * re-parented to init and walked from their own roots).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { scanFull } from '../../src/state/full-scan.ts'
import type { SshdSnapshot } from '../../src/model/snapshot.ts'
import { ProcessScanner } from '../../src/state/scanner.ts'
import { ProcFS } from '../../src/sources/procfs.ts'
import { SSHD_VERSIONS } from '../helpers/sshd/builds.ts'
import { type SshdServer, startSshd } from '../helpers/sshd/server.ts'
import { waitFor } from '../helpers/wait.ts'

function summary(s: SshdSnapshot) {
  return s.connections.map((c) => [c.state, c.user, c.sessions, c.ptySessions].join(' ')).sort()
}

/**
 * A walk between two full scans that agree (a client's processes may change between reads):
 * the walk must equal them.
 */
async function walkBetweenFullScans(scanner: ProcessScanner, procfs: ProcFS) {
  return waitFor('a walk between two equal full scans', () => {
    const before = scanFull(procfs).snapshot
    const walked = scanner.scan()
    const after = scanFull(procfs).snapshot
    if (JSON.stringify(before) !== JSON.stringify(after)) return undefined
    assert.equal(walked.mode, 'walk', `reason: ${scanner.lastFullScanReason}`)
    assert.deepEqual(walked.snapshot, before)
    return walked
  })
}

async function connected(sshd: SshdServer, procfs: ProcFS, expected: string[]) {
  await sshd.waitFor(`connections ${JSON.stringify(expected)}`, () => {
    const got = summary(scanFull(procfs).snapshot)
    return JSON.stringify(got) === JSON.stringify([...expected].sort())
  })
}

for (const version of SSHD_VERSIONS) {
  describe(`tree walk on real OpenSSH ${version}`, () => {
    it('gives the full scan’s snapshot, before and after a listener restart', async (t) => {
      const sshd = await startSshd({ version, t, config: { Subsystem: 'sftp internal-sftp' } })
      const procfs = new ProcFS(sshd.procfs)
      const user = sshd.user
      const pty = await sshd.connect({ pty: true })
      const root = await sshd.connect({ user: 'root', command: 'exec sleep 600' })
      const master = await sshd.controlMaster()
      await master.session({ pty: true })
      await master.session()
      await master.session()
      const sftp = await sshd.sftp()
      const hanger = await sshd.preauthHanger()
      const pending = await sshd.authPending()
      const all = [
        `authenticated ${user} 1 1`,
        'authenticated root 1 0',
        `authenticated ${user} 3 1`,
        // internal-sftp is a forked sshd under the post-auth process: one session.
        `authenticated ${user} 1 0`,
        'preauth  0 0',
        'preauth  0 0',
      ]
      await connected(sshd, procfs, all)

      const scanner = new ProcessScanner(procfs, { rescanIntervalMs: 600_000 })
      assert.equal(scanner.scan().mode, 'full')
      const walked = await walkBetweenFullScans(scanner, procfs)
      assert.deepEqual(summary(walked.snapshot), [...all].sort())
      assert.deepEqual(
        walked.snapshot.listeners.map((l) => l.pid),
        [sshd.listenerPid],
      )
      // Sessions are counted, not read: fewer processes than the namespace holds.
      assert.ok(walked.processes < (await sshd.processes()).length)

      // `systemctl restart ssh`: the connections live on, re-parented to the namespace's init.
      const oldListener = sshd.listenerPid
      const newListener = await sshd.restartListener()
      assert.notEqual(newListener, oldListener)
      await hanger.close()
      await pending.close()
      const survivors = all.filter((c) => !c.startsWith('preauth'))
      await connected(sshd, procfs, survivors)
      const rescan = scanner.scan()
      assert.equal(rescan.mode, 'full')
      assert.equal(scanner.lastFullScanReason, 'listener-gone')
      const orphans = await walkBetweenFullScans(scanner, procfs)
      assert.deepEqual(summary(orphans.snapshot), [...survivors].sort())
      assert.deepEqual(
        orphans.snapshot.listeners.map((l) => l.pid),
        [newListener],
      )

      // A connection to the new listener, and an orphan that leaves: both seen by the walk.
      const newConnection = await sshd.connect()
      await master.close()
      const now = [...survivors.filter((c) => c !== `authenticated ${user} 3 1`)]
      now.push(`authenticated ${user} 1 0`)
      await connected(sshd, procfs, now)
      const later = await walkBetweenFullScans(scanner, procfs)
      assert.deepEqual(summary(later.snapshot), [...now].sort())

      await Promise.all([pty.close(), root.close(), sftp.close(), newConnection.close()])
      await connected(sshd, procfs, [])
      assert.deepEqual((await walkBetweenFullScans(scanner, procfs)).snapshot.connections, [])
    })
  })
}
