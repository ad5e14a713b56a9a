import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  findSocket,
  NO_SOCKET,
  parseSocketLink,
  socketInodes,
} from '../../../src/sources/net-tcp/fds.ts'
import { ProcFS } from '../../../src/sources/procfs.ts'
import { fixtureTree } from './fixtures.ts'

describe('parseSocketLink', () => {
  for (const [target, inode] of [
    ['socket:[12345]', 12345],
    ['socket:[0]', 0],
    ['socket:[]', -1],
    ['socket:[12a]', -1],
    ['socket:[123', -1],
    ['socket:123]', -1],
    ['pipe:[12345]', -1],
    ['anon_inode:[eventpoll]', -1],
    ['/dev/null', -1],
    ['/tmp/socket:[1]', -1],
  ] as const) {
    it(`${JSON.stringify(target)} gives ${inode}`, () => {
      assert.equal(parseSocketLink(target), inode)
    })
  }
})

describe('socket inodes on a fixture tree', () => {
  const procfs = new ProcFS(fixtureTree())

  it('lists the socket inodes of a process and nothing else', () => {
    assert.deepEqual(socketInodes(procfs, 4242), {
      permitted: true,
      inodes: new Set([160700, 160703, 160702, 99999999]),
    })
    assert.equal(socketInodes(procfs, 4243), null, 'no fd directory')
  })

  it('finds the first wanted socket by fd number, or none, or null for a pid gone', () => {
    assert.equal(
      findSocket(procfs, 4242, () => true),
      160700,
    )
    assert.equal(
      findSocket(procfs, 4242, (inode) => inode === 160702 || inode === 99999999),
      160702,
    )
    assert.equal(
      findSocket(procfs, 4242, () => false),
      NO_SOCKET,
    )
    assert.equal(
      findSocket(procfs, 4243, () => true),
      null,
      'no fd directory',
    )
    assert.equal(
      findSocket(procfs, 99999, () => true),
      null,
    )
  })
})

describe('findSocket', () => {
  const root = mkdtempSync(join(tmpdir(), 'net-tcp-fds-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  const procfs = new ProcFS(root)

  it('reads the links in ascending fd number, whatever order the directory lists them in', () => {
    const fd = join(root, '10', 'fd')
    mkdirSync(fd, { recursive: true })
    // Made in descending order, and 10 before 9 as names: the lowest number is found first.
    for (const [name, target] of [
      ['11', 'socket:[511]'],
      ['10', 'socket:[510]'],
      ['9', 'socket:[509]'],
      ['2', 'socket:[502]'],
      ['1', '/dev/null'],
    ] as const)
      symlinkSync(target, join(fd, name))
    const asked: number[] = []
    const wanted = (inode: number) => {
      asked.push(inode)
      return inode !== 502
    }
    assert.equal(findSocket(procfs, 10, wanted), 509)
    assert.deepEqual(asked, [502, 509])
  })

  it('stops at the socket: a connection with 200 fds whose socket is fd 3', () => {
    const fd = join(root, '20', 'fd')
    mkdirSync(fd, { recursive: true })
    for (let n = 199; n >= 0; n--) {
      const path = join(fd, String(n))
      // Past fd 3 not links at all: readlink fails (EINVAL) and findSocket would throw.
      if (n > 3) writeFileSync(path, '')
      else symlinkSync(n === 3 ? 'socket:[777]' : '/dev/null', path)
    }
    assert.equal(
      findSocket(procfs, 20, (inode) => inode === 777),
      777,
    )
    assert.throws(() => socketInodes(procfs, 20), { code: 'EINVAL' }, 'socketInodes reads them all')
  })
})
