import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  ADDRESS_STRINGS_MAX,
  AddressStrings,
  formatAddress,
} from '../../../src/sources/net-tcp/address.ts'
import { parseNetTcp } from '../../../src/sources/net-tcp/table.ts'
import { find, TCP, TCP6, TCP6_BE, TCP_BE } from './fixtures.ts'

/** What the parser formats from an address's hex digits (already checked), as it calls it. */
const format = (hex: string, endian: 'BE' | 'LE', strings = new AddressStrings()) =>
  formatAddress(strings, Buffer.from(hex, 'latin1'), 0, hex.length === 8 ? 1 : 4, endian === 'LE')

describe('formatAddress', () => {
  for (const [hex, endian, address] of [
    ['7F000001', 'BE', '127.0.0.1'],
    ['0100007F', 'LE', '127.0.0.1'],
    ['00000000', 'LE', '0.0.0.0'],
    ['0102A8C0', 'LE', '192.168.2.1'],
    ['00000000000000000000000000000000', 'BE', '::'],
    ['00000000000000000000000000000001', 'BE', '::1'],
    ['00000000000000000000000001000000', 'LE', '::1'],
    ['20010DB8000000000000000000000001', 'BE', '2001:db8::1'],
    ['B80D0120000000000000000001000000', 'LE', '2001:db8::1'],
    // RFC 5952 4.2.2: one zero group is not shortened; 4.2.3: the first of equal runs is.
    ['20010DB8000000010001000100010001', 'BE', '2001:db8:0:1:1:1:1:1'],
    ['20010DB8000000000001000000000001', 'BE', '2001:db8::1:0:0:1'],
    ['20010000000000010000000000000001', 'BE', '2001:0:0:1::1'],
    ['00010000000000000000000000000000', 'BE', '1::'],
    ['FE80000000000000ABCD00EF00000001', 'BE', 'fe80::abcd:ef:0:1'],
    ['20010DB8AAAABBBBCCCCDDDDEEEEFFFF', 'BE', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff'],
    // IPv4-mapped as plain IPv4; IPv4-compatible (deprecated) and others stay IPv6.
    ['00000000000000000000FFFFC0000201', 'BE', '192.0.2.1'],
    ['0000000000000000FFFF00000102000A', 'LE', '10.0.2.1'],
    ['000000000000000000000000C0000201', 'BE', '::c000:201'],
    ['0000000000000000FFFF0000C0000201', 'BE', '::ffff:0:c000:201'],
  ] as const) {
    it(`${hex} (${endian}) is ${address}`, () => {
      assert.equal(format(hex, endian), address)
      // And the same through a whole line, as the parser checks and formats it.
      const words = hex.length === 8 ? 1 : 4
      const zero = '0'.repeat(hex.length)
      const line = `   0: ${hex}:0016 ${zero}:0000 01 00000000:00000000 00:00000000 00000000     0        0 7 1`
      const [socket] = parseNetTcp(line, words === 1 ? 4 : 6, endian).sockets
      assert.equal(socket?.localAddress, address)
    })
  }

  it('is never given other lengths or non-hex digits: the parser counts those lines malformed', () => {
    const rest = ':0016 00000000:0000 01 00000000:00000000 00:00000000 00000000     0        0 7 1'
    for (const hex of ['', '7F00001', '7F0000010', '7F00000G', ' 7F00001', '0'.repeat(31)]) {
      for (const endian of ['BE', 'LE'] as const) {
        assert.deepEqual(
          parseNetTcp(`   0: ${hex}${rest}`, 4, endian),
          { sockets: [], malformed: 1 },
          hex,
        )
        const six = `   0: ${hex}${'0'.repeat(24)}${rest.replace(' 00000000:', ` ${'0'.repeat(32)}:`)}`
        assert.deepEqual(parseNetTcp(six, 6, endian), { sockets: [], malformed: 1 }, hex)
      }
    }
  })
})

describe('IPv4 addresses, interned', () => {
  const lines = TCP.split('\n')
  const header = lines[0]!
  const good = lines[1]! // a listener: local 0100007F:0904, remote 00000000:0000
  /** A tcp line whose remote address is the (network order) `address`, in byte order `endian`. */
  const withRemote = (address: number, endian: 'BE' | 'LE') => {
    const word = Buffer.alloc(4)
    if (endian === 'BE') word.writeUInt32BE(address)
    else word.writeUInt32LE(address)
    return good.replace(
      ' 00000000:0000 ',
      ` ${word.readUInt32BE().toString(16).toUpperCase().padStart(8, '0')}:0016 `,
    )
  }
  const dotted = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`

  it('gives equal strings for an address across reads and byte orders, and for IPv4-mapped', () => {
    const reads = [
      parseNetTcp(TCP, 4, 'LE').sockets,
      parseNetTcp(TCP_BE, 4, 'BE').sockets,
      parseNetTcp(TCP, 4, 'LE').sockets,
    ]
    const [first, ...others] = reads
    assert.equal(first!.length, 26)
    for (const other of others) {
      assert.equal(other.length, first!.length)
      other.forEach((s, i) => {
        assert.equal(s.localAddress, first![i]!.localAddress)
        assert.equal(s.remoteAddress, first![i]!.remoteAddress)
      })
    }
    // The client of the dual-stack listener in tcp, and the listener's side of it in tcp6.
    const client = find(first!, 42222, 2222)
    for (const [text, endian] of [
      [TCP6, 'LE'],
      [TCP6_BE, 'BE'],
    ] as const) {
      const accepted = find(parseNetTcp(text, 6, endian).sockets, 2222, 42222)
      assert.equal(accepted.localAddress, client.remoteAddress)
      assert.equal(accepted.remoteAddress, client.localAddress)
      assert.equal(accepted.remoteAddress, '127.0.0.1')
    }
    const strings = new AddressStrings()
    assert.equal(format('0000000000000000FFFF00000100007F', 'LE', strings), '127.0.0.1')
    assert.equal(format('00000000000000000000FFFF7F000001', 'BE', strings), '127.0.0.1')
    assert.equal(format('0100007F', 'LE', strings), '127.0.0.1')
  })

  it('formats every address right, also past the bound where the cache is emptied', () => {
    // More distinct addresses than the cache keeps (65,536), then the first ones again.
    const addresses: number[] = []
    for (let i = 0; i < 70_000; i++) addresses.push((0xc0000000 + i * 40_503) >>> 0)
    addresses.push(addresses[0]!, addresses[1]!, 0, 0xffffffff, 0x7f000001)
    for (const endian of ['LE', 'BE'] as const) {
      const text = `${header}\n${addresses.map((a) => withRemote(a, endian)).join('\n')}\n`
      const { sockets, malformed } = parseNetTcp(text, 4, endian)
      assert.equal(malformed, 0)
      assert.equal(sockets.length, addresses.length)
      sockets.forEach((s, i) => {
        if (s.remoteAddress !== dotted(addresses[i]!))
          assert.fail(`${endian} ${i}: ${s.remoteAddress} is not ${dotted(addresses[i]!)}`)
        assert.equal(s.localAddress, endian === 'LE' ? '127.0.0.1' : '1.0.0.127')
      })
    }
  })
})

describe('AddressStrings', () => {
  it('formats every address right past ADDRESS_STRINGS_MAX, where it is emptied', () => {
    const strings = new AddressStrings()
    const dotted = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
    for (let i = 0; i < ADDRESS_STRINGS_MAX + 10; i++) {
      const n = (0x0a000000 + i) >>> 0
      if (strings.dotted(n) !== dotted(n)) assert.fail(`${i}: ${strings.dotted(n)}`)
    }
    assert.equal(strings.dotted(0x0a000000), '10.0.0.0')
    assert.equal(strings.dotted(0xffffffff), '255.255.255.255')
  })
})
