/**
 * The net/tcp fixtures (captured on Linux 6.18 x86_64 by test/fixtures/net-tcp/capture.ts; see the
 * README there) and a procfs tree built from them, shared by the tests of src/sources/net-tcp/.
 */
import assert from 'node:assert/strict'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import type { TcpSocket } from '../../../src/sources/net-tcp/table.ts'

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'net-tcp')
export const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'latin1')

export const TCP = fixture('tcp.txt')
export const TCP6 = fixture('tcp6.txt')
// The same files with every address word byte-swapped: what a big-endian host prints.
export const TCP_BE = fixture('tcp.be.txt')
export const TCP6_BE = fixture('tcp6.be.txt')

export function find(
  sockets: readonly TcpSocket[],
  localPort: number,
  remotePort: number,
): TcpSocket {
  const found = sockets.filter((s) => s.localPort === localPort && s.remotePort === remotePort)
  assert.equal(found.length, 1, `one socket ${localPort} -> ${remotePort}`)
  return found[0]!
}

/**
 * A procfs root removed after the tests. 4242: tcp, tcp6 and fd links (sockets 160700, 160703,
 * 160702, 99999999 among others); 4243: tcp alone, no fd directory; 4244: a tcp with bytes that
 * are not ASCII in two lines and no final newline.
 */
export function fixtureTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'net-tcp-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  // 4242: both files and an fd directory; 4243: no tcp6 (IPv6 disabled), no fd directory.
  mkdirSync(join(root, '4242', 'net'), { recursive: true })
  mkdirSync(join(root, '4242', 'fd'))
  mkdirSync(join(root, '4243', 'net'), { recursive: true })
  copyFileSync(join(FIXTURES, 'tcp.txt'), join(root, '4242', 'net', 'tcp'))
  copyFileSync(join(FIXTURES, 'tcp6.txt'), join(root, '4242', 'net', 'tcp6'))
  copyFileSync(join(FIXTURES, 'tcp.txt'), join(root, '4243', 'net', 'tcp'))
  // 4244: a tcp with bytes that are not ASCII in two lines and no final newline; no tcp6.
  mkdirSync(join(root, '4244', 'net'), { recursive: true })
  const [tcpHeader, ...tcpLines] = TCP.split('\n')
  const garbled = Buffer.from(`${tcpLines[0]}\n${tcpLines[1]}`, 'latin1')
  garbled[20] = 0xff
  garbled[tcpLines[0]!.length + 1 + 40] = 0x00
  writeFileSync(
    join(root, '4244', 'net', 'tcp'),
    Buffer.concat([
      Buffer.from(`${tcpHeader}\n`),
      garbled,
      Buffer.from(`\n${tcpLines.slice(2).join('\n').trimEnd()}`),
    ]),
  )
  for (const [fd, target] of [
    ['0', '/dev/null'],
    ['1', 'pipe:[4711]'],
    ['3', 'socket:[160700]'],
    ['4', 'socket:[160703]'],
    ['5', 'anon_inode:[eventpoll]'],
    ['6', 'socket:[160702]'],
    ['7', 'socket:[99999999]'],
  ] as const) {
    symlinkSync(target, join(root, '4242', 'fd', fd))
  }
  return root
}
