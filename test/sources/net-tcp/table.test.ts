import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { endianness, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { socketInodes } from '../../../src/sources/net-tcp/fds.ts'
import {
  listeningPorts,
  NET_TCP_CHUNK_BYTES,
  NetTcpState,
  parseNetTcp,
  readNetTcp,
  type TcpSocket,
} from '../../../src/sources/net-tcp/table.ts'
import { ProcFS } from '../../../src/sources/procfs.ts'
import { find, fixture, fixtureTree, TCP, TCP6, TCP6_BE, TCP_BE } from './fixtures.ts'

type Row = [
  what: string,
  local: string,
  remote: string,
  state: TcpSocket['state'],
  txQueue: number,
  rxQueue: number,
  timer: number,
  retransmits: number,
  uid: number,
  inode: number,
]

// Every expectation below was read off the fixture by hand and agrees with ss.txt.
const TCP_ROWS: Row[] = [
  ['listener on 22', '127.0.0.1:22', '0.0.0.0:0', 'LISTEN', 0, 0, 0, 0, 0, 160700],
  ['server side on 22', '127.0.0.1:22', '127.0.0.1:40022', 'ESTABLISHED', 0, 0, 0, 0, 0, 160702],
  ['client side to 22', '127.0.0.1:40022', '127.0.0.1:22', 'ESTABLISHED', 0, 0, 0, 0, 0, 160701],
  [
    'client of the dual-stack listener',
    '127.0.0.1:42222',
    '127.0.0.1:2222',
    'ESTABLISHED',
    0,
    0,
    0,
    0,
    0,
    160707,
  ],
  [
    'half-closed, server side',
    '127.0.0.1:2301',
    '127.0.0.1:42301',
    'CLOSE_WAIT',
    0,
    0,
    0,
    0,
    0,
    160716,
  ],
  [
    'half-closed, client side',
    '127.0.0.1:42301',
    '127.0.0.1:2301',
    'FIN_WAIT2',
    0,
    0,
    0,
    0,
    0,
    160715,
  ],
  ['closed first', '127.0.0.1:42302', '127.0.0.1:2302', 'TIME_WAIT', 0, 0, 3, 0, 0, 0],
  [
    'receiver not reading',
    '127.0.0.1:42304',
    '127.0.0.1:2304',
    'ESTABLISHED',
    0,
    0x1fc00,
    0,
    0,
    0,
    160724,
  ],
  [
    'sender to a zero window',
    '127.0.0.1:2304',
    '127.0.0.1:42304',
    'ESTABLISHED',
    0x38d400,
    0,
    4,
    0,
    0,
    160725,
  ],
  ['unacknowledged', '127.0.0.1:2305', '127.0.0.1:42305', 'ESTABLISHED', 1000, 0, 1, 2, 0, 160728],
  [
    'stopped listener of nobody',
    '127.0.0.1:2307',
    '0.0.0.0:0',
    'LISTEN',
    0,
    2,
    0,
    0,
    65534,
    161090,
  ],
  ['not accepted yet', '127.0.0.1:2307', '127.0.0.1:42307', 'ESTABLISHED', 0, 0, 0, 0, 65534, 0],
  ['keepalive', '127.0.0.1:42308', '127.0.0.1:2308', 'ESTABLISHED', 0, 0, 2, 0, 0, 161802],
  ['SYN-ACKs lost, client', '127.0.0.1:42309', '127.0.0.1:2309', 'SYN_SENT', 1, 0, 1, 1, 0, 161826],
  ['SYN-ACKs lost, server', '127.0.0.1:2309', '127.0.0.1:42309', 'SYN_RECV', 0, 0, 1, 1, 0, 0],
]

const TCP6_ROWS: Row[] = [
  ['listener on 22', '::1:22', ':::0', 'LISTEN', 0, 0, 0, 0, 0, 160703],
  ['server side on 22', '::1:22', '::1:40122', 'ESTABLISHED', 0, 0, 0, 0, 0, 160705],
  ['dual-stack listener', ':::2222', ':::0', 'LISTEN', 0, 0, 0, 0, 0, 160706],
  [
    'IPv4-mapped accepted',
    '127.0.0.1:2222',
    '127.0.0.1:42222',
    'ESTABLISHED',
    0,
    0,
    0,
    0,
    0,
    160708,
  ],
  [
    'IPv6 on the dual-stack listener',
    '::1:2222',
    '::1:42223',
    'ESTABLISHED',
    0,
    0,
    0,
    0,
    0,
    160710,
  ],
  ['global address', '2001:db8::1:2200', '2001:db8::1:42200', 'ESTABLISHED', 0, 0, 0, 0, 0, 160713],
  ['closed first', '::1:42303', '::1:2303', 'TIME_WAIT', 0, 0, 3, 0, 0, 0],
  ['unacknowledged', '::1:2306', '::1:42306', 'ESTABLISHED', 1000, 0, 1, 3, 0, 160758],
]

function checkRows(sockets: readonly TcpSocket[], rows: readonly Row[]) {
  for (const [
    what,
    local,
    remote,
    state,
    txQueue,
    rxQueue,
    timer,
    retransmits,
    uid,
    inode,
  ] of rows) {
    const split = (a: string) => {
      const colon = a.lastIndexOf(':')
      return [a.slice(0, colon), Number(a.slice(colon + 1))] as const
    }
    const [localAddress, localPort] = split(local)
    const [remoteAddress, remotePort] = split(remote)
    assert.deepEqual(
      find(sockets, localPort, remotePort),
      {
        localAddress,
        localPort,
        remoteAddress,
        remotePort,
        state,
        txQueue,
        rxQueue,
        timerActive: timer,
        retransmits,
        uid,
        probes: 0,
        inode,
      },
      what,
    )
  }
}

describe('parseNetTcp on lines captured from Linux 6.18 x86_64', () => {
  it('reads every tcp line', () => {
    const { sockets, malformed } = parseNetTcp(TCP, 4, 'LE')
    assert.equal(malformed, 0)
    assert.equal(sockets.length, 26)
    checkRows(sockets, TCP_ROWS)
  })

  it('reads every tcp6 line, IPv4-mapped addresses as IPv4', () => {
    const { sockets, malformed } = parseNetTcp(TCP6, 6, 'LE')
    assert.equal(malformed, 0)
    assert.equal(sockets.length, 15)
    checkRows(sockets, TCP6_ROWS)
  })

  it('agrees with ss, which reads the same sockets through netlink (ss.txt)', () => {
    const fromSs = parseSs(fixture('ss.txt'))
    const fromProc = [...parseNetTcp(TCP, 4, 'LE').sockets, ...parseNetTcp(TCP6, 6, 'LE').sockets]
    assert.equal(fromProc.length, fromSs.length)
    const key = (s: {
      localAddress: string
      localPort: number
      remoteAddress: string
      remotePort: number
    }) => `${s.localAddress} ${s.localPort} ${s.remoteAddress} ${s.remotePort}`
    const ss = new Map(fromSs.map((s) => [key(s), s]))
    for (const socket of fromProc) {
      const other = ss.get(key(socket))
      assert.ok(other, `ss lists ${key(socket)}`)
      assert.equal(other.state, socket.state, key(socket))
      assert.equal(other.inode, socket.inode, key(socket))
      assert.equal(other.uid, socket.uid, key(socket))
      // ss shows a listener's backlog limit as Send-Q.
      assert.equal(other.recvQ, socket.rxQueue, key(socket))
      if (socket.state !== 'LISTEN') assert.equal(other.sendQ, socket.txQueue, key(socket))
    }
  })

  it('reads the big-endian variant with endianness BE to the same sockets', () => {
    assert.ok(TCP_BE.includes(' 7F000001:0016 00000000:0000 0A '))
    assert.ok(TCP6_BE.includes(' 20010DB8000000000000000000000001:0898 '))
    assert.deepEqual(parseNetTcp(TCP_BE, 4, 'BE'), parseNetTcp(TCP, 4, 'LE'))
    assert.deepEqual(parseNetTcp(TCP6_BE, 6, 'BE'), parseNetTcp(TCP6, 6, 'LE'))
  })

  it("takes the host's byte order by default", () => {
    const host = endianness() === 'LE' ? [TCP, TCP6] : [TCP_BE, TCP6_BE]
    assert.deepEqual(parseNetTcp(host[0]!, 4), parseNetTcp(TCP, 4, 'LE'))
    assert.deepEqual(parseNetTcp(host[1]!, 6), parseNetTcp(TCP6, 6, 'LE'))
  })

  it('gives other addresses, not other ports, in the wrong byte order', () => {
    const wrong = find(parseNetTcp(TCP, 4, 'BE').sockets, 22, 40022)
    assert.equal(wrong.localAddress, '1.0.0.127')
    const wrong6 = find(parseNetTcp(TCP6, 6, 'BE').sockets, 2200, 42200)
    assert.equal(wrong6.localAddress, 'b80d:120::100:0')
  })

  it('keeps only the given inodes', () => {
    const { sockets, malformed } = parseNetTcp(TCP, 4, 'LE', new Set([160700, 160702, 999]))
    assert.equal(malformed, 0)
    assert.deepEqual(
      sockets.map((s) => s.inode),
      [160700, 160702],
    )
  })
})

describe('parseNetTcp on malformed input', () => {
  const lines = TCP.split('\n')
  const header = lines[0]!
  const good = lines[1]! // '   0: 0100007F:0904 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 161801 1 …'
  const mutate = (from: string, to: string) => {
    assert.ok(good.includes(from), from)
    return good.replace(from, to)
  }

  it('ignores empty input, a header alone and a missing final newline', () => {
    assert.deepEqual(parseNetTcp('', 4, 'LE'), { sockets: [], malformed: 0 })
    assert.deepEqual(parseNetTcp(`${header}\n`, 4, 'LE'), { sockets: [], malformed: 0 })
    assert.equal(parseNetTcp(`${header}\n${good}`, 4, 'LE').sockets.length, 1)
    assert.equal(parseNetTcp(good, 4, 'LE').sockets.length, 1, 'no header')
  })

  for (const [name, line] of [
    ['a truncated line', good.slice(0, 60)],
    ['a line of spaces', '      '],
    ['garbage', '\u0000\u00ff\u0001 garbage'],
    ['no colon after sl', mutate('   0: ', '   0 ')],
    ['an address with a non-hex digit', mutate('0100007F:0904', '0100007G:0904')],
    ['a short address', mutate('0100007F:0904', '100007F:0904')],
    [
      'an IPv6 address in tcp',
      `   0: ${'0'.repeat(24)}01000000:0016 ${'0'.repeat(32)}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1`,
    ],
    ['a three-digit port', mutate('0100007F:0904', '0100007F:904')],
    ['state 00', mutate(' 0A 00000000:', ' 00 00000000:')],
    ['state 0C (NEW_SYN_RECV is never written)', mutate(' 0A 00000000:', ' 0C 00000000:')],
    ['timer 5', mutate(' 00:00000000 ', ' 05:00000000 ')],
    ['a short tx_queue', mutate(' 00000000:00000000 ', ' 0000000:00000000 ')],
    ['a uid that is not a number', mutate('     0        0 161801', '     x        0 161801')],
    ['no inode', good.slice(0, good.indexOf(' 161801'))],
    ['an inode with letters', mutate(' 161801 ', ' 161801x ')],
    ['a negative timeout', mutate('        0 161801', '       -1 161801')],
  ] as const) {
    it(`counts ${name} and reads on`, () => {
      const result = parseNetTcp(`${header}\n${good}\n${line}\n${good}\n`, 4, 'LE')
      assert.equal(result.malformed, 1)
      assert.equal(result.sockets.length, 2)
    })
  }

  it('counts lines with bytes that are not ASCII (0xff, NUL, 0x80) and reads on', () => {
    const bytes = (text: string) => Buffer.from(text, 'latin1')
    const withByte = (line: string, at: number, byte: number) => {
      const b = bytes(line)
      b[at] = byte
      return b
    }
    const at = (from: string) => good.indexOf(from)
    const input = Buffer.concat([
      bytes(`${header}\n${good}\n`),
      withByte(good, at('0100007F'), 0xff), // in the local address
      bytes('\n'),
      withByte(good, at(':0904') + 2, 0xff), // in the local port
      bytes('\n'),
      withByte(good, at(' 161801') + 3, 0xff), // in the inode
      bytes('\n'),
      withByte(good, at(' 161801') + 7, 0x80), // right after the inode
      bytes('\n'),
      withByte(good, at('   0: '), 0x00), // a NUL before sl
      bytes('\n'),
      Buffer.alloc(150, 0xff), // nothing but 0xff
      bytes(`\n${good}\n`),
      Buffer.from([0xff, 0xfe, 0x0d, 0xc3, 0xa9]), // and a last line without a newline
    ])
    const result = parseNetTcp(input, 4, 'LE')
    assert.equal(result.malformed, 7)
    assert.deepEqual(result.sockets, parseNetTcp(`${good}\n${good}\n`, 4, 'LE').sockets)
  })

  it('reads a Buffer to what it reads from the same text', () => {
    assert.deepEqual(parseNetTcp(Buffer.from(TCP, 'latin1'), 4, 'LE'), parseNetTcp(TCP, 4, 'LE'))
    assert.deepEqual(parseNetTcp(Buffer.from(TCP6, 'latin1'), 6, 'BE'), parseNetTcp(TCP6, 6, 'BE'))
  })

  it('counts characters above U+00FF in a string, never reading their low byte', () => {
    // U+0130 and U+0141 have the low bytes of '0' and 'A'.
    const address = mutate('0100007F:0904', '0100\u01307F:0904')
    const state = mutate(' 0A 00000000:', ' 0\u0141 00000000:')
    const result = parseNetTcp(`${header}\n${address}\n${state}\n${good}\n`, 4, 'LE')
    assert.equal(result.malformed, 2)
    assert.equal(result.sockets.length, 1)
    assert.equal(parseNetTcp(`${header}\n${address}\n`, 4, 'BE').malformed, 1)
  })

  it('counts an IPv4 line in tcp6', () => {
    assert.deepEqual(parseNetTcp(`${TCP6.split('\n')[0]}\n${good}\n`, 6, 'LE'), {
      sockets: [],
      malformed: 1,
    })
  })

  it('reads a 16-digit tm->when (a negative delta on older kernels) and the probes', () => {
    const line = mutate(' 00:00000000 ', ' 01:FFFFFFFFFFFFFFF0 ').replace(
      '        0 161801',
      '        3 161801',
    )
    const [socket] = parseNetTcp(line, 4, 'LE').sockets
    assert.ok(socket)
    assert.equal(socket.timerActive, 1)
    assert.equal(socket.probes, 3)
  })
})

describe('listeningPorts', () => {
  const sockets = [...parseNetTcp(TCP, 4, 'LE').sockets, ...parseNetTcp(TCP6, 6, 'LE').sockets]

  it('takes the LISTEN sockets among the inodes, each port once, ascending', () => {
    // The listeners on 127.0.0.1:22, [::1]:22, [::]:2222, and one established socket.
    assert.deepEqual(listeningPorts(sockets, new Set([160706, 160700, 160703, 160702])), [22, 2222])
  })

  it('finds nothing without inodes', () => {
    assert.deepEqual(listeningPorts(sockets, new Set()), [])
    assert.deepEqual(listeningPorts(sockets, new Set([0])), [], 'inode 0 is never a listener')
  })
})

describe('readNetTcp on a fixture tree', () => {
  const root = fixtureTree()
  const procfs = new ProcFS(root)
  const state = new NetTcpState()

  it('reads tcp then tcp6', () => {
    const result = readNetTcp(procfs, 4242, state)
    assert.ok(result)
    assert.equal(result.malformed, 0)
    assert.equal(result.truncated, false)
    assert.equal(result.sockets.length, 26 + 15)
    assert.deepEqual(result.sockets.slice(0, 26), parseNetTcp(TCP, 4, 'LE').sockets)
    assert.deepEqual(result.sockets.slice(26), parseNetTcp(TCP6, 6, 'LE').sockets)
  })

  it('reads tcp alone when tcp6 is missing', () => {
    assert.equal(readNetTcp(procfs, 4243, state)?.sockets.length, 26)
  })

  it('gives null for a pid that is gone', () => {
    assert.equal(readNetTcp(procfs, 99999, state), null)
    assert.equal(socketInodes(procfs, 99999), null)
  })

  it('passes the inodes and the byte order on', () => {
    const result = readNetTcp(procfs, 4242, state, { inodes: new Set([160703]), endianness: 'BE' })
    // ::1 as a little-endian host writes it, read as big-endian.
    assert.deepEqual(
      result?.sockets.map((s) => [s.localAddress, s.localPort, s.state]),
      [['::100:0', 22, 'LISTEN']],
    )
  })

  it('stops at the cap, at a line boundary, and says so', () => {
    // tcp lines are padded to 150 bytes; tcp6 lines are 178 (its header 145).
    const result = readNetTcp(procfs, 4242, state, { maxBytes: 3 * 150 + 10 })
    assert.ok(result)
    assert.equal(result.truncated, true)
    assert.equal(result.malformed, 0)
    // The header and 2 sockets of tcp; the header and 1 socket of tcp6.
    assert.deepEqual(result.sockets, [
      ...parseNetTcp(TCP, 4, 'LE').sockets.slice(0, 2),
      ...parseNetTcp(TCP6, 6, 'LE').sockets.slice(0, 1),
    ])
    assert.equal(readNetTcp(procfs, 4242, state, { maxBytes: TCP.length })?.truncated, false)
  })

  it('stops at the last complete line under any cap, mid-line or at its end', () => {
    const upTo = (text: string, cap: number) => text.slice(0, text.lastIndexOf('\n', cap - 1) + 1)
    const caps = new Set<number>([0, 1, TCP6.length, TCP.length])
    for (const text of [TCP, TCP6]) {
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', end + 1)) {
        for (const cap of [end - 1, end, end + 1, end + 2]) caps.add(cap)
      }
    }
    for (const cap of caps) {
      const result = readNetTcp(procfs, 4242, state, { maxBytes: cap })
      assert.deepEqual(
        result,
        {
          sockets: [
            ...parseNetTcp(upTo(TCP, cap), 4, 'LE').sockets,
            ...parseNetTcp(upTo(TCP6, cap), 6, 'LE').sockets,
          ],
          malformed: 0,
          truncated: cap < TCP.length,
        },
        `cap ${cap}`,
      )
    }
  })

  it('counts lines with bytes that are not ASCII as malformed and reads on', () => {
    const result = readNetTcp(procfs, 4244, state)
    assert.ok(result)
    const expected = parseNetTcp(TCP, 4, 'LE').sockets
    assert.equal(result.malformed, 2)
    assert.equal(result.truncated, false)
    assert.deepEqual(result.sockets, expected.slice(2))
  })

  it('keeps no view of the read buffer: later reads leave the sockets as they were', () => {
    const first = readNetTcp(procfs, 4242, state)
    const copy = structuredClone(first)
    readNetTcp(procfs, 4244, state)
    readNetTcp(procfs, 4242, state, { maxBytes: 200 })
    assert.deepEqual(first, copy)
    assert.deepEqual(first?.sockets, [
      ...parseNetTcp(TCP, 4, 'LE').sockets,
      ...parseNetTcp(TCP6, 6, 'LE').sockets,
    ])
  })

  it('reads the same under a root given with a trailing slash or a dot-dot', () => {
    for (const other of [`${root}/`, `${root}//`, `${root}/4242/..`]) {
      const aside = new ProcFS(other)
      assert.deepEqual(socketInodes(aside, 4242), socketInodes(procfs, 4242), other)
      assert.deepEqual(readNetTcp(aside, 4242, state), readNetTcp(procfs, 4242, state), other)
      assert.equal(socketInodes(aside, 4243), null)
      assert.equal(readNetTcp(aside, 99999, state), null)
    }
  })

  it("finds the listener's ports from its inodes", () => {
    const inodes = socketInodes(procfs, 4242)
    assert.ok(inodes?.permitted)
    assert.deepEqual(listeningPorts(readNetTcp(procfs, 4242, state)!.sockets, inodes.inodes), [22])
  })
})

describe('readNetTcp on files of many chunks', () => {
  const root = mkdtempSync(join(tmpdir(), 'net-tcp-chunks-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  const procfs = new ProcFS(root)
  const state = new NetTcpState()
  const [tcpHeader] = TCP.split('\n')
  const [tcp6Header] = TCP6.split('\n')
  /** A deterministic sequence (an LCG), so that a failure can be reproduced. */
  let seed = 12345
  const next = (below: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return seed % below
  }
  const hex = (n: number, digits: number) => n.toString(16).toUpperCase().padStart(digits, '0')
  const word = () => hex(next(0x10000) * 0x10000 + next(0x10000), 8)
  const STATES = ['01', '01', '01', '06', '08', '0A', '03']
  /** `count` lines as the kernel writes them (tcp padded to 149 characters), some malformed. */
  function table(family: 4 | 6, count: number): string {
    const words = family === 4 ? 1 : 4
    const lines = [family === 4 ? tcpHeader! : tcp6Header!]
    for (let sl = 0; sl < count; sl++) {
      if (sl % 997 === 500) {
        lines.push(`${String(sl).padStart(4)}: garbage`)
        continue
      }
      const local = Array.from({ length: words }, word).join('')
      const remote = Array.from({ length: words }, word).join('')
      const port = next(4) === 0 ? 22 : 1024 + next(60000)
      const line =
        `${String(sl).padStart(4)}: ${local}:${hex(port, 4)} ${remote}:${hex(next(0x10000), 4)} ` +
        `${STATES[next(STATES.length)]} ${hex(next(5000), 8)}:${hex(next(100), 8)} 0${next(5)}:${hex(next(1e6), 8)} ` +
        `${hex(next(3), 8)} ${String(next(70000)).padStart(5)} ${String(next(3)).padStart(8)} ` +
        `${1 + next(1e9)} 1 0000000000000000 20 4 30 10 -1`
      lines.push(family === 4 ? line.padEnd(149) : line)
    }
    return `${lines.join('\n')}\n`
  }
  const tcp = table(4, 20_000)
  const tcp6 = table(6, 3_000)
  mkdirSync(join(root, '4242', 'net'), { recursive: true })
  writeFileSync(join(root, '4242', 'net', 'tcp'), tcp, 'latin1')
  writeFileSync(join(root, '4242', 'net', 'tcp6'), tcp6, 'latin1')
  const whole = (text: string, family: 4 | 6) => parseNetTcp(text, family, 'LE')

  /** Where the chunks end in the file: each starts with the incomplete line the last ended in. */
  function chunkEnds(text: string): number[] {
    const ends: number[] = []
    for (let start = 0; start + NET_TCP_CHUNK_BYTES < text.length;) {
      const end = start + NET_TCP_CHUNK_BYTES
      ends.push(end)
      start = text.lastIndexOf('\n', end - 1) + 1
    }
    return ends
  }

  it('gives what parsing each file whole gives, with a line across every chunk boundary', () => {
    const ends = [...chunkEnds(tcp), ...chunkEnds(tcp6)]
    assert.ok(ends.length >= 40, `${ends.length} chunk ends`)
    for (const end of ends) assert.notEqual(tcp[end - 1], '\n', `a line across ${end}`)
    const v4 = whole(tcp, 4)
    const v6 = whole(tcp6, 6)
    assert.ok(v4.sockets.length > 19_000 && v6.sockets.length > 2_900)
    assert.ok(v4.malformed === 20 && v6.malformed === 3)
    assert.deepEqual(readNetTcp(procfs, 4242, state, { endianness: 'LE' }), {
      sockets: [...v4.sockets, ...v6.sockets],
      malformed: v4.malformed + v6.malformed,
      truncated: false,
    })
  })

  it('passes inodes and keep on', () => {
    const all = [...whole(tcp, 4).sockets, ...whole(tcp6, 6).sockets]
    const inodes = new Set(all.filter((_, i) => i % 100 === 0).map((s) => s.inode))
    assert.deepEqual(
      readNetTcp(procfs, 4242, state, { endianness: 'LE', inodes })?.sockets,
      all.filter((s) => inodes.has(s.inode)),
    )
    const keep = (port: number, state: TcpSocket['state']) => port === 22 || state === 'LISTEN'
    const kept = readNetTcp(procfs, 4242, state, { endianness: 'LE', keep })
    assert.deepEqual(
      kept?.sockets,
      all.filter((s) => keep(s.localPort, s.state)),
    )
    assert.equal(kept?.malformed, 23)
  })

  it('stops at the last complete line under a cap around the chunk ends', () => {
    const upTo = (text: string, cap: number) => text.slice(0, text.lastIndexOf('\n', cap - 1) + 1)
    const chunk = NET_TCP_CHUNK_BYTES
    const caps = [chunk - 1, chunk, chunk + 1, 2 * chunk + 75, tcp6.length, tcp6.length - 1]
    for (const end of chunkEnds(tcp).slice(0, 4)) caps.push(end - 1, end, end + 1)
    for (const cap of caps) {
      const v4 = whole(upTo(tcp, cap), 4)
      const v6 = whole(cap >= tcp6.length ? tcp6 : upTo(tcp6, cap), 6)
      assert.deepEqual(
        readNetTcp(procfs, 4242, state, { endianness: 'LE', maxBytes: cap }),
        {
          sockets: [...v4.sockets, ...v6.sockets],
          malformed: v4.malformed + v6.malformed,
          truncated: true,
        },
        `cap ${cap}`,
      )
    }
  })

  it('counts a line longer than a chunk malformed once and reads on from its end', () => {
    const good = TCP.split('\n')[1]!.trimEnd()
    const [socket] = parseNetTcp(good, 4, 'LE').sockets
    const pid = (n: number, text: string) => {
      mkdirSync(join(root, String(n), 'net'), { recursive: true })
      writeFileSync(join(root, String(n), 'net', 'tcp'), text, 'latin1')
      return readNetTcp(procfs, n, state, { endianness: 'LE' })
    }
    // A chunk holds a whole line up to its newline: the longest that is read.
    const longest = good.padEnd(NET_TCP_CHUNK_BYTES - 1)
    assert.deepEqual(pid(1, `${tcpHeader}\n${good}\n${longest}\n${good}\n`), {
      sockets: [socket, socket, socket],
      malformed: 0,
      truncated: false,
    })
    // One byte more, and lines of several chunks, a first line, a last without its newline.
    for (const [n, text] of [
      [2, `${tcpHeader}\n${good}\n${longest} \n${good}\n`],
      [3, `${tcpHeader}\n${good}\n${'x'.repeat(3.5 * NET_TCP_CHUNK_BYTES)}\n${good}\n`],
      [4, `${' '.repeat(2 * NET_TCP_CHUNK_BYTES)}\n${good}\n${good}`],
      [5, `${tcpHeader}\n${good}\n${good}\n${good.padEnd(5 * NET_TCP_CHUNK_BYTES + 7)}`],
      [6, `${tcpHeader}\n${good}\n${good}\n${'\u00ff'.repeat(NET_TCP_CHUNK_BYTES)}\n`],
    ] as const) {
      assert.deepEqual(
        pid(n, text),
        { sockets: [socket, socket], malformed: 1, truncated: false },
        `pid ${n}`,
      )
    }
  })
})

/** The sockets `ss -tanoe` printed, decoded like ours (IPv4-mapped as IPv4, `*` as `::`). */
function parseSs(text: string) {
  const STATES: Record<string, TcpSocket['state']> = {
    ESTAB: 'ESTABLISHED',
    LISTEN: 'LISTEN',
    'TIME-WAIT': 'TIME_WAIT',
    'CLOSE-WAIT': 'CLOSE_WAIT',
    'FIN-WAIT-1': 'FIN_WAIT1',
    'FIN-WAIT-2': 'FIN_WAIT2',
    'SYN-SENT': 'SYN_SENT',
    'SYN-RECV': 'SYN_RECV',
    'LAST-ACK': 'LAST_ACK',
    CLOSING: 'CLOSING',
  }
  const endpoint = (text: string) => {
    const colon = text.lastIndexOf(':')
    let address = text
      .slice(0, colon)
      .replace(/^\[(.*)\]$/, '$1')
      .replace(/^::ffff:(\d+\.)/, '$1')
    if (address === '*') address = '::'
    const port = text.slice(colon + 1)
    return [address, port === '*' ? 0 : Number(port)] as const
  }
  return text
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [state, recvQ, sendQ, local, peer] = line.trim().split(/\s+/)
      const [localAddress, localPort] = endpoint(local!)
      const [remoteAddress, remotePort] = endpoint(peer!)
      return {
        state: STATES[state!],
        recvQ: Number(recvQ),
        sendQ: Number(sendQ),
        localAddress,
        localPort,
        remoteAddress,
        remotePort,
        uid: Number(/\buid:(\d+)/.exec(line)?.[1] ?? 0),
        inode: Number(/\bino:(\d+)/.exec(line)?.[1]),
      }
    })
}
