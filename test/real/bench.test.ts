/**
 * The benchmark's instruments, on small inputs, so that `npm run bench` measures what it says:
 * the synthetic procfs tree holds what its `expected` claims (read by the exporter's own walk
 * and full scan), the C floors and the Node floor count the same, and the generated auth.log's
 * expected counts are what the exporter's log path counts. Timing is never asserted here.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { writeAuthLog } from '../../bench/auth-log.ts'
import { buildFloors, NODE_FULL_SCAN, runFloor } from '../../bench/floors.ts'
import { measureLogParsing } from '../../bench/log-parse.ts'
import { buildProcfs, type OpensshVersion, type TreeSpec } from '../../bench/procfs-builder.ts'
import { ProcessScanner } from '../../src/state/scanner.ts'
import { ProcFS } from '../../src/sources/procfs.ts'

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshd-exporter-bench-test-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const floorDir = mkdtempSync(join(tmpdir(), 'sshd-exporter-floors-'))
after(() => rmSync(floorDir, { recursive: true, force: true }))
let built: ReturnType<typeof buildFloors> | null = null
const floors = () => (built ??= buildFloors(floorDir))

// The per-connection tree (`sshd -i` children of pid 1, no listener) is modelled on 9.2 only.
const TREES: readonly { version: OpensshVersion; mode: NonNullable<TreeSpec['mode']> }[] = [
  { version: '9.2', mode: 'daemon' },
  { version: '10.0', mode: 'daemon' },
  { version: '9.2', mode: 'per_connection' },
]

for (const { version, mode: sshdMode } of TREES) {
  describe(`synthetic procfs tree, OpenSSH ${version}, ${sshdMode}`, () => {
    it('holds what it claims, read by the exporter’s walk, its full scan and both floors', () => {
      const tree = buildProcfs(join(scratch(), 'proc'), {
        connections: 40,
        sessions: 3,
        preauth: 6,
        unrelated: 300,
        version,
        mode: sshdMode,
      })
      const e = tree.expected
      assert.equal(tree.holderPid === null, sshdMode === 'daemon')
      assert.equal(e.authenticated, 40)
      assert.equal(e.sessions, 120)
      const scanner = new ProcessScanner(new ProcFS(tree.root), { rescanIntervalMs: 60_000 })
      // The second walk re-reads the authenticated connections as known connections.
      for (const mode of ['full', 'walk', 'walk'] as const) {
        const scan = scanner.scan()
        assert.equal(scan.mode, mode)
        assert.equal(scan.malformed, 0)
        const c = scan.snapshot.connections
        assert.equal(c.filter((x) => x.state === 'authenticated').length, e.authenticated)
        assert.equal(c.filter((x) => x.state === 'preauth').length, e.preauth)
        assert.equal(
          c.reduce((n, x) => n + x.sessions, 0),
          e.sessions,
        )
        assert.equal(
          c.reduce((n, x) => n + x.ptySessions, 0),
          e.ptySessions,
        )
        // Per-connection sshd has no listener, so no startups either.
        assert.deepEqual(
          scan.snapshot.listeners.map((l) => l.startups),
          tree.holderPid === null ? [e.startups] : [],
        )
      }
      const bins = floors()
      for (const [binary, kind] of [
        [bins.fullScan, 'full-scan'],
        [bins.treeWalk, 'tree-walk'],
      ] as const) {
        const f =
          tree.holderPid === null
            ? runFloor(binary, kind, tree.root, 2, [tree.listenerPid])
            : runFloor(binary, kind, tree.root, 2, [], [tree.holderPid])
        assert.equal(f.sessions, e.sessions, kind)
        assert.equal(f.connections, e.authenticated + e.preauth, kind)
      }
      // The Node floor (one run of full-scan.c's reads in Node) counts the same.
      const node = JSON.parse(
        execFileSync(process.execPath, [NODE_FULL_SCAN, tree.root], { encoding: 'utf8' }),
      ) as { sessions: number; connections: number }
      assert.equal(node.sessions, e.sessions, 'full-scan.mjs')
      assert.equal(node.connections, e.authenticated + e.preauth, 'full-scan.mjs')
    })
  })
}

describe('generated auth.log', () => {
  it('is counted by the exporter’s log path exactly as the generator says', async () => {
    const path = join(scratch(), 'auth.log')
    const written = writeAuthLog(path, 20_000, 7)
    assert.equal(written.lines, 20_000)
    const read = await measureLogParsing(path, 1)
    assert.equal(read.lines, 20_000)
    assert.deepEqual(read.counts, written.expected)
    assert.ok(Object.values(written.expected).filter((n) => n > 0).length >= 10)
  })
})
