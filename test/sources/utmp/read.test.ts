/**
 * UtmpReader, as the stale collector keeps it: which file under the root, symlinks kept inside
 * it, the size cap, and the last result given again while the bytes are the same. Every read
 * here is checked to come back the same on a second read. Needs neither root nor servers.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { resolveInRoot } from '../../../src/sources/rootfs.ts'
import { parseUtmp, UtmpType } from '../../../src/sources/utmp/parse.ts'
import { type UtmpFile, UtmpReader } from '../../../src/sources/utmp/read.ts'
import { sshdLogin, type UtmpFields, writeUtmp } from '../../helpers/utmp-writer.ts'
import { expected, FIXTURE_RECORDS, FIXTURE_TREES, FIXTURES, scratch } from './fixtures.ts'

/**
 * A new reader's first read, as the collector's first scrape; its second read of the same
 * bytes must give the very same result, as every later scrape does.
 */
function readUtmpOnce(rootfs: string, maxBytes?: number): UtmpFile | null {
  const reader = new UtmpReader(rootfs, maxBytes)
  const first = reader.read()
  assert.equal(reader.read(), first, 'read again unchanged: the same result')
  return first
}

/** What a read of `<root>/run/utmp` must give, from its bytes read plainly (an oracle). */
function parsedFile(root: string, maxBytes: number): UtmpFile {
  const bytes = readFileSync(join(root, 'run/utmp'))
  const truncated = bytes.length > maxBytes
  return { ...parseUtmp(bytes.subarray(0, maxBytes)), path: '/run/utmp', truncated }
}

describe('UtmpReader on the fixture trees (see test/fixtures/utmp/README.md)', () => {
  for (const { tree, size } of FIXTURE_TREES) {
    it(`${tree}: UtmpReader on the tree`, () => {
      const read = readUtmpOnce(join(FIXTURES, tree))
      assert.deepEqual(read, {
        records: FIXTURE_RECORDS,
        recordSize: size,
        byteOrder: 'le',
        malformed: 0,
        path: '/run/utmp',
        truncated: false,
      })
    })
  }
})

describe('UtmpReader: reading under a root', () => {
  const dir = scratch('read')
  const LOGIN = sshdLogin({ pid: 4242, tty: 0, user: 'alice', time: 1709294400 })
  const OTHER = sshdLogin({ pid: 4343, tty: 1, user: 'bob', time: 1709294401 })

  function tree(
    name: string,
    files: Record<string, UtmpFields[] | { symlink: string } | 'dir'>,
  ): string {
    const root = join(dir, name)
    mkdirSync(root, { recursive: true })
    for (const [path, content] of Object.entries(files)) {
      const host = join(root, path)
      mkdirSync(dirname(host), { recursive: true })
      if (content === 'dir') mkdirSync(host)
      else if (Array.isArray(content)) writeUtmp(host, content)
      else symlinkSync(content.symlink, host)
    }
    return root
  }

  it('reads /run/utmp', () => {
    const read = readUtmpOnce(tree('run', { 'run/utmp': [LOGIN] }))
    assert.equal(read?.path, '/run/utmp')
    assert.deepEqual(read?.records, [expected(LOGIN)])
  })

  it('falls back to /var/run/utmp only when /run/utmp does not exist', () => {
    const read = readUtmpOnce(tree('var-run', { 'var/run/utmp': [OTHER], run: 'dir' }))
    assert.equal(read?.path, '/var/run/utmp')
    assert.deepEqual(read?.records, [expected(OTHER)])
    const both = readUtmpOnce(tree('both', { 'run/utmp': [], 'var/run/utmp': [OTHER] }))
    assert.equal(both?.path, '/run/utmp')
    assert.deepEqual(both?.records, [])
    assert.equal(both?.recordSize, null)
  })

  it('is null when there is no utmp: not applicable, not an error', () => {
    assert.equal(readUtmpOnce(tree('none', { etc: 'dir' })), null)
    assert.equal(readUtmpOnce(join(dir, 'no-such-root')), null)
    // /var/run -> /run, as on every systemd host: the same missing file.
    assert.equal(
      readUtmpOnce(tree('var-run-link', { run: 'dir', 'var/run': { symlink: '/run' } })),
      null,
    )
  })

  it('resolves an absolute /var/run symlink inside the root, never on the host', () => {
    const root = tree('abs-link', {
      'var/run': { symlink: '/elsewhere' },
      'elsewhere/utmp': [LOGIN],
    })
    const read = readUtmpOnce(root)
    assert.equal(read?.path, '/var/run/utmp')
    assert.deepEqual(read?.records, [expected(LOGIN)])
  })

  it('never follows a symlink out of the root', () => {
    const outside = tree('outside', { 'run/utmp': [OTHER] })
    const root = tree('escape', {
      'run/utmp': { symlink: `../../../../../../../../../..${outside}/run/utmp` },
      'var/run': { symlink: `/../../..${outside}/run` },
    })
    assert.equal(resolveInRoot(root, '/run/utmp'), null)
    assert.equal(readUtmpOnce(root), null)
    const dotdot = tree('dotdot', { 'run/utmp': [LOGIN] })
    assert.equal(resolveInRoot(dotdot, '/../../run/../run/./utmp'), join(dotdot, 'run/utmp'))
  })

  it('follows relative and chained symlinks inside the root', () => {
    const root = tree('chain', {
      'var/run': { symlink: '../run' },
      'run/utmp': { symlink: 'real/utmp' },
      'run/real/utmp': [OTHER],
    })
    // /run/utmp exists (through its link), so it is the one read.
    assert.equal(readUtmpOnce(root)?.path, '/run/utmp')
    assert.deepEqual(readUtmpOnce(root)?.records, [expected(OTHER)])
  })

  it('throws on a symlink loop and on a directory: there but unreadable', () => {
    const loop = tree('loop', { 'run/utmp': { symlink: '/run/utmp' } })
    assert.throws(() => readUtmpOnce(loop), { code: 'ELOOP' })
    const directory = tree('directory', { 'run/utmp': 'dir' })
    assert.throws(() => readUtmpOnce(directory), { code: 'EISDIR' })
  })

  it('reads at most the cap, and says so', () => {
    const root = tree('big', { 'run/utmp': Array.from({ length: 100 }, () => LOGIN) })
    const read = readUtmpOnce(root, 9600)
    assert.equal(read?.truncated, true)
    assert.equal(read?.records.length, 25)
    assert.equal(read?.malformed, 0)
    const exact = readUtmpOnce(root, 384 * 100)
    assert.equal(exact?.truncated, false)
    assert.equal(exact?.records.length, 100)
  })

  it('reads files larger than its first buffer', () => {
    const root = tree('large', { 'run/utmp': Array.from({ length: 2000 }, () => OTHER) })
    const read = readUtmpOnce(root)
    assert.equal(read?.records.length, 2000)
    assert.equal(read?.truncated, false)
  })

  it('a file past the cap is parsed again only when its first maxBytes change', () => {
    const root = tree('past-cap', { 'run/utmp': [LOGIN, OTHER, LOGIN, OTHER] })
    const file = join(root, 'run/utmp')
    const reader = new UtmpReader(root, 384 * 2)
    const first = reader.read()
    assert.equal(first?.truncated, true)
    assert.equal(reader.read(), first, 'unchanged: the same object')
    // Past the cap: not read, so nothing changed.
    writeUtmp(file, [LOGIN, OTHER, OTHER, OTHER, LOGIN])
    assert.equal(reader.read(), first, 'changed past the cap: the same object')
    writeUtmp(file, [LOGIN, LOGIN, OTHER])
    const changed = reader.read()
    assert.notEqual(changed, first)
    assert.deepEqual(changed, parsedFile(root, 384 * 2))
    // Shorter than the cap now: no longer truncated, parsed again.
    writeUtmp(file, [LOGIN, LOGIN])
    const whole = reader.read()
    assert.equal(whole?.truncated, false)
    assert.deepEqual(whole, parsedFile(root, 384 * 2))
  })

  it('UtmpReader gives the last result again while the bytes are the same, else reads anew', () => {
    const root = tree('reader', { 'run/utmp': [LOGIN, OTHER] })
    const file = join(root, 'run/utmp')
    const reader = new UtmpReader(root, 384 * 3)
    const first = reader.read()
    assert.deepEqual(first, parsedFile(root, 384 * 3))
    assert.equal(reader.read(), first, 'unchanged: the same object')
    // The same length, one byte changed (bob logs out: his record turns DEAD_PROCESS).
    writeUtmp(file, [LOGIN, { ...OTHER, type: UtmpType.DEAD_PROCESS }])
    const changed = reader.read()
    assert.notEqual(changed, first)
    assert.deepEqual(changed, parsedFile(root, 384 * 3))
    assert.equal(changed?.records[1]?.type, UtmpType.DEAD_PROCESS)
    // Grown, then past the cap, then back: each read matches the file's bytes.
    for (const records of [[LOGIN, OTHER, OTHER], [LOGIN, OTHER, OTHER, LOGIN], [LOGIN]]) {
      writeUtmp(file, records)
      assert.deepEqual(reader.read(), parsedFile(root, 384 * 3))
    }
    rmSync(file)
    assert.equal(reader.read(), null)
    writeUtmp(file, [OTHER])
    assert.deepEqual(reader.read()?.records, [expected(OTHER)])
  })
})
