import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { LogRecord } from '../../../src/sources/log-record.ts'
import { isSshdProgname } from '../../../src/sources/proctitle.ts'
import {
  AUTH_METHODS,
  EVENTS,
  MAX_MESSAGE_LENGTH,
  type SshdEvent,
  type SshdEventName,
} from '../../../src/sources/sshd-log/events.ts'
import { parseSshdMessage } from '../../../src/sources/sshd-log/messages.ts'
import { parseSyslogLine } from '../../../src/sources/sshd-log/syslog.ts'
import { formatEvent } from '../../fixtures/sshd-log/format.ts'

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'sshd-log')

function fixtureLines(file: string): string[] {
  return readFileSync(join(FIXTURES, file), 'utf8').split('\n')
}

describe('EVENTS and AUTH_METHODS', () => {
  it('are the fixed label sets', () => {
    assert.deepEqual(EVENTS, [
      'auth_accepted',
      'auth_failed',
      'invalid_user',
      'max_auth_tries_exceeded',
      'preauth_closed',
      'login_grace_timeout',
      'client_alive_timeout',
      'unused_connection_timeout',
      'channel_timeout',
      'no_more_sessions',
      'startups_dropped',
      'startups_throttling_started',
      'penalty_dropped',
      'session_opened',
      'session_closed',
      'disconnected',
      'negotiation_failed',
      'banner_invalid',
      'connection_refused',
      'login_not_allowed',
      'root_login_refused',
      'penalty_imposed_authfail',
      'penalty_imposed_noauth',
      'penalty_imposed_grace_exceeded',
      'penalty_imposed_refuseconnection',
      'penalty_imposed_invaliduser',
      'penalty_imposed_crash',
    ])
    assert.deepEqual(AUTH_METHODS, [
      'publickey',
      'password',
      'keyboard-interactive',
      'hostbased',
      'gssapi-with-mic',
      'other',
    ])
  })
})

describe('parseSyslogLine', () => {
  const cases: [string, LogRecord | undefined][] = [
    [
      'Nov 21 10:00:00 web1 sshd[123]: Accepted publickey for alice from 192.0.2.7 port 50312 ssh2',
      {
        identifier: 'sshd',
        pid: 123,
        message: 'Accepted publickey for alice from 192.0.2.7 port 50312 ssh2',
      },
    ],
    [
      'Nov  1 09:05:07 web1 sshd-session[4242]: error: no more sessions',
      { identifier: 'sshd-session', pid: 4242, message: 'error: no more sessions' },
    ],
    [
      '2026-11-21T10:00:00.123456+00:00 web1 sshd-session[123]: Invalid user x from 192.0.2.7 port 1',
      {
        identifier: 'sshd-session',
        pid: 123,
        message: 'Invalid user x from 192.0.2.7 port 1',
      },
    ],
    [
      '2026-11-21T10:00:00Z web1.example.com sshd: no pid',
      { identifier: 'sshd', pid: undefined, message: 'no pid' },
    ],
    [
      '2026-11-21T10:00:00-05:30 web1 sudo[7]:   alice : TTY=pts/0 ; COMMAND=/bin/true',
      { identifier: 'sudo', pid: 7, message: '  alice : TTY=pts/0 ; COMMAND=/bin/true' },
    ],
    // A syslog line's message keeps sshd's text exactly, `[preauth]` and colons included.
    [
      'Nov 21 10:00:00 h sshd[1]: Connection closed by invalid user a: b 192.0.2.7 port 2 [preauth]',
      {
        identifier: 'sshd',
        pid: 1,
        message: 'Connection closed by invalid user a: b 192.0.2.7 port 2 [preauth]',
      },
    ],
    // sshd -E: the bare message, `\r` before the `\n`.
    [
      'Invalid user admin from 192.0.2.7 port 50312\r',
      {
        identifier: undefined,
        pid: undefined,
        message: 'Invalid user admin from 192.0.2.7 port 50312',
      },
    ],
    ['no more sessions', { identifier: undefined, pid: undefined, message: 'no more sessions' }],
    ['', undefined],
    ['\r', undefined],
    // A timestamp and host but no tag (rsyslog's `-- MARK --`).
    ['Nov 21 10:00:00 web1 -- MARK --', undefined],
    ['x'.repeat(10_000), undefined],
  ]
  for (const [line, want] of cases) {
    it(JSON.stringify(line.slice(0, 90)), () => assert.deepEqual(parseSyslogLine(line), want))
  }
})

describe('parseSshdMessage on openssh-source.tsv (forms from the OpenSSH source)', () => {
  const rows = fixtureLines('openssh-source.tsv').filter(
    (l) => l !== '' && !l.startsWith('#') && !l.startsWith('versions\t'),
  )
  it('has a row for every event', () => {
    const seen = new Set(rows.map((r) => r.split('\t')[2]!.split(' ')[0]))
    for (const event of EVENTS) assert.ok(seen.has(event), event)
  })
  for (const row of rows) {
    const [versions, level, expected, json, source] = row.split('\t')
    assert.ok(versions && level && expected && json && source, `malformed row ${row}`)
    const message = JSON.parse(json) as string
    it(`${versions} ${level}: ${message.slice(0, 100)} is ${expected}`, () => {
      assert.equal(formatEvent(parseSshdMessage(message)), expected)
      // The same message as a syslog line and as an -E line (no `error: `/`fatal: ` there).
      const record = parseSyslogLine(`Nov 21 10:00:00 web1 sshd[9]: ${message}`)
      assert.equal(record?.message, message)
      const bare = message.replace(/^(?:error|fatal): /, '')
      assert.equal(formatEvent(parseSshdMessage(parseSyslogLine(`${bare}\r`)!.message)), expected)
    })
  }
})

interface CaptureRow {
  section: string
  expected: string
  line: string
}

function captureRows(file: string): CaptureRow[] {
  const out: CaptureRow[] = []
  let section = ''
  for (const l of fixtureLines(file)) {
    if (l.startsWith('# --- ')) section = l.slice(6)
    if (l === '' || l.startsWith('#')) continue
    const tab = l.indexOf('\t')
    assert.ok(tab > 0, `${file}: malformed row ${l}`)
    out.push({ section, expected: l.slice(0, tab), line: JSON.parse(l.slice(tab + 1)) as string })
  }
  return out
}

const CAPTURES = readdirSync(FIXTURES).filter((f) => /^openssh-\d+\.\d+\.tsv$/.test(f))
const SYSLOG_CAPTURES = readdirSync(FIXTURES).filter((f) => /^openssh-.*\.syslog\.tsv$/.test(f))

describe('sshd -E lines captured from real sshd 9.2 and 10.0', () => {
  it('has both versions, each with every line ending in \\r', () => {
    assert.deepEqual(CAPTURES.sort(), ['openssh-10.0.tsv', 'openssh-9.2.tsv'])
    for (const file of CAPTURES) {
      const rows = captureRows(file)
      assert.ok(rows.length > 100, file)
      // Every line, both halves of the CR LF user name's message included (hostile-client.py).
      const noCr = rows.filter((r) => !r.line.endsWith('\r'))
      assert.deepEqual(
        noCr.map((r) => r.line),
        [],
        `${file}: lines without \\r`,
      )
    }
  })
  for (const file of CAPTURES) {
    describe(file, () => {
      for (const row of captureRows(file)) {
        it(`${row.line.slice(0, 110)} is ${row.expected}`, () => {
          const record = parseSyslogLine(row.line)
          assert.ok(record !== undefined)
          assert.equal(record.identifier, undefined)
          assert.equal(record.pid, undefined)
          assert.equal(record.message, row.line.slice(0, -1))
          assert.equal(formatEvent(parseSshdMessage(record.message)), row.expected)
        })
      }
    })
  }
})

/** `<pri>Mmm dd hh:mm:ss tag[pid]: message`, what glibc's syslog(3) sends to /dev/log. */
const DATAGRAM_RE = /^<\d{1,3}>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ([^:[]+)\[(\d+)\]: (.*)$/s

/**
 * A captured syslog(3) datagram as rsyslog writes it to a file, in RSYSLOG_TraditionalFileFormat
 * and RSYSLOG_FileFormat (Debian 12's default): its tag, pid and message read back, and the
 * message's event the row's.
 */
function assertDatagramRow(row: { line: string; expected: string }): void {
  const m = DATAGRAM_RE.exec(row.line)
  assert.ok(m !== null, 'a syslog(3) datagram')
  const [, stamp, tag, pid, message] = m as unknown as string[]
  for (const line of [
    `${stamp} web1 ${tag}[${pid}]: ${message}`,
    `2026-11-21T08:21:40.123456+00:00 web1 ${tag}[${pid}]: ${message}`,
  ]) {
    assert.deepEqual(parseSyslogLine(line), { identifier: tag, pid: Number(pid), message })
    assert.equal(formatEvent(parseSshdMessage(message!)), row.expected)
  }
}

describe('syslog datagrams captured from real sshd 9.2 and 10.0, as rsyslog writes them', () => {
  it('has both versions', () => {
    assert.deepEqual(SYSLOG_CAPTURES.sort(), ['openssh-10.0.syslog.tsv', 'openssh-9.2.syslog.tsv'])
  })
  for (const file of SYSLOG_CAPTURES) {
    describe(file, () => {
      for (const row of captureRows(file)) {
        it(`${row.line.slice(0, 110)} is ${row.expected}`, () => assertDatagramRow(row))
      }
    })
  }
})

const ALPINE_SYSLOG = readdirSync(FIXTURES).filter((f) => /^alpine-.*\.syslog\.tsv$/.test(f))

describe("syslog datagrams of Alpine's openssh-server-pam (sshd.pam, sshd-session.pam)", () => {
  it('has 9.8 and 10.0', () => {
    assert.deepEqual(ALPINE_SYSLOG.sort(), [
      'alpine-openssh-10.0-pam.syslog.tsv',
      'alpine-openssh-9.8-pam.syslog.tsv',
    ])
  })
  for (const file of ALPINE_SYSLOG) {
    describe(file, () => {
      const rows = captureRows(file)
      it('every tag is a .pam name of sshd, and one of its identifiers', () => {
        const tags = new Set(rows.map((r) => DATAGRAM_RE.exec(r.line)?.[2]))
        assert.deepEqual([...tags].sort(), ['sshd-session.pam', 'sshd.pam'])
        for (const tag of tags) assert.ok(isSshdProgname(tag), tag)
      })
      for (const row of rows) {
        it(`${row.line.slice(0, 110)} is ${row.expected}`, () => assertDatagramRow(row))
      }
      // Alpine's own syslogd (busybox syslogd.c timestamp_and_log, without -S) writes the facility
      // and priority between the host and the tag: `Nov 21 10:00:11 web1 auth.info sshd.pam[1]: …`.
      it('busybox syslogd lines (/var/log/messages on Alpine) keep their tag and message', () => {
        for (const row of rows) {
          const [, stamp, tag, pid, message] = DATAGRAM_RE.exec(row.line) as unknown as string[]
          const line = `${stamp} web1 auth.info ${tag}[${pid}]: ${message}`
          assert.deepEqual(parseSyslogLine(line), { identifier: tag, pid: Number(pid), message })
          assert.equal(formatEvent(parseSshdMessage(message!)), row.expected)
        }
      })
    })
  }
})

// --- Hostile input --------------------------------------------------------------------------

/** sshd's strnvis (log.c): `syslog` for syslog and the journal, `stderr` for -E. */
function vis(bytes: Uint8Array, mode: 'syslog' | 'stderr'): string {
  let out = ''
  for (const c of bytes) {
    if (c === 0x5c) out += '\\\\'
    else if (c >= 0x21 && c <= 0x7e) out += String.fromCharCode(c)
    else if (c === 0x20) out += ' '
    else if (
      mode === 'stderr' &&
      (c === 0x0a || c === 0x0d || c === 0x09 || c === 0x08 || c === 0x07)
    ) {
      out += String.fromCharCode(c)
    } else if (mode === 'syslog' && c === 0x0a) out += '\\n'
    else if (mode === 'syslog' && c === 0x0d) out += '\\r'
    else if (mode === 'syslog' && c === 0x09) out += '\\t'
    else out += `\\${c.toString(8).padStart(3, '0')}`
  }
  return out
}

interface Template {
  /** The message with `{u}` where sshd prints the client's string. */
  text: string
  /** sshd's `%.<n>s` on that string, if any. */
  max?: number
  expected: SshdEventName | undefined
  method?: string
  /**
   * The event needs the end of the message, which sshd's buffer or syslog's 500 bytes may cut
   * off after a long escaped string: a cut message may give no event (never another one).
   */
  needsEnd?: true
}

const TEMPLATES: Template[] = [
  { text: 'Invalid user {u} from 192.0.2.7 port 22', max: 100, expected: 'invalid_user' },
  {
    text: 'Failed password for invalid user {u} from 192.0.2.7 port 22 ssh2',
    max: 100,
    expected: 'auth_failed',
    method: 'password',
  },
  {
    text: 'Failed none for invalid user {u} from 192.0.2.7 port 22 ssh2',
    max: 100,
    expected: 'auth_failed',
    method: 'other',
  },
  {
    text: 'Failed publickey for invalid user {u} from 192.0.2.7 port 22 ssh2: ED25519 SHA256:x',
    max: 100,
    expected: 'auth_failed',
    method: 'publickey',
  },
  {
    text: 'error: maximum authentication attempts exceeded for invalid user {u} from 192.0.2.7 port 22 ssh2 [preauth]',
    max: 100,
    expected: 'max_auth_tries_exceeded',
  },
  {
    text: 'Connection closed by invalid user {u} 192.0.2.7 port 22 [preauth]',
    max: 187, // the id is `%.200s` of `invalid user <u>`
    expected: 'preauth_closed',
  },
  {
    text: 'Connection closed by authenticating user {u} 192.0.2.7 port 22 [preauth]',
    max: 180,
    expected: 'preauth_closed',
  },
  {
    text: 'Connection reset by invalid user {u} 192.0.2.7 port 22 [preauth]',
    max: 187,
    expected: 'preauth_closed',
  },
  {
    text: 'Disconnected from invalid user {u} 192.0.2.7 port 22 [preauth]',
    max: 187,
    expected: 'preauth_closed',
  },
  {
    text: 'Disconnecting invalid user {u} 192.0.2.7 port 22: Too many authentication failures [preauth]',
    max: 187,
    expected: undefined,
  },
  {
    text: 'Disconnecting invalid user {u} 192.0.2.7 port 22: Change of username or service not allowed: ({u},ssh-connection) -> (root,ssh-connection) [preauth]',
    max: 100,
    expected: 'preauth_closed',
    needsEnd: true,
  },
  {
    text: 'ssh_dispatch_run_fatal: Connection from invalid user {u} 192.0.2.7 port 22: Broken pipe [preauth]',
    max: 187,
    expected: 'preauth_closed',
  },
  {
    text: 'Postponed keyboard-interactive for invalid user {u} from 192.0.2.7 port 22 ssh2 [preauth]',
    max: 100,
    expected: undefined,
  },
  // Client-chosen text at the end of a message.
  { text: 'Received disconnect from 192.0.2.7 port 22:11: {u} [preauth]', expected: undefined },
  { text: 'Received disconnect from 192.0.2.7 port 22:11: {u}', expected: undefined },
  {
    text: 'Unable to negotiate with 192.0.2.7 port 22: no matching host key type found. Their offer: {u} [preauth]',
    expected: 'negotiation_failed',
  },
  // The events of issue 16, with the client's text where sshd puts it.
  {
    text: 'administratively prohibited connection for invalid user {u} from 192.0.2.7 port 22',
    max: 100,
    expected: 'connection_refused',
  },
  {
    text: 'Failed publickey for {u} from 192.0.2.7 port 22 ssh2: ED25519 SHA256:x',
    max: 100,
    expected: 'auth_failed',
    method: 'publickey',
  },
  {
    text: 'Accepted publickey for alice from 192.0.2.7 port 22 ssh2: ED25519-CERT SHA256:x ID {u} (serial 1) CA ED25519 SHA256:y',
    max: 500,
    expected: 'auth_accepted',
    method: 'publickey',
  },
  {
    text: 'kex_exchange_identification: client sent invalid protocol identifier "{u}"',
    expected: undefined,
  },
  { text: 'Invalid user {u} from 192.0.2.7 port 22', max: 100, expected: 'invalid_user' },
  {
    text: 'error: kex_exchange_identification: client sent invalid protocol identifier "{u}"',
    expected: undefined,
  },
  {
    text: 'error: kex_exchange_identification: banner line contains invalid characters',
    expected: undefined,
  },
  // An authorized_keys command= (the user's own text) in the middle.
  {
    text: "Starting session: forced-command (key-option) '{u}' for alice from 192.0.2.7 port 22 id 1",
    max: 900,
    expected: 'session_opened',
    needsEnd: true,
  },
]

/** Strings an attacker would try, mixed into arbitrary ones. */
const TRICKS = [
  'x from 1.2.3.4 port 22 ssh2',
  'Accepted publickey for root from 1.2.3.4 port 22 ssh2',
  'root from 1.2.3.4 port 22 ssh2: ED25519 SHA256:x',
  ' [preauth]',
  ' [postauth]',
  'user root 1.2.3.4 port 1',
  ': Connection from user root 1.2.3.4 port 5: x',
  ': Too many authentication failures',
  '\nAccepted publickey for root',
  '\r\nDisconnected from user root 1.2.3.4 port 22\r\n',
  'error: ',
  'no more sessions',
  ' id 7',
  '"\'\\',
  '\uFFFD',
  '\u0000',
]

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .array(fc.oneof(fc.constantFrom(...TRICKS), fc.string({ maxLength: 8 })), { maxLength: 6 })
    .map((parts) => parts.join('')),
  fc.constantFrom(...TRICKS),
  fc.string({ unit: 'grapheme', minLength: 1000, maxLength: 10_000 }),
)

/**
 * What sshd logs for `template` with the client's `user`, as syslog or -E would carry it ('raw':
 * unescaped, beyond what sshd writes), and whether the buffer's size cut it.
 */
function render(
  template: Template,
  user: string,
  mode: 'syslog' | 'stderr' | 'raw',
): { message: string; cut: boolean } {
  let bytes = new TextEncoder().encode(user)
  if (template.max !== undefined) bytes = bytes.slice(0, template.max)
  const u = mode === 'raw' ? new TextDecoder().decode(bytes) : vis(bytes, mode)
  const text = template.text.replaceAll('{u}', u)
  // log.c: a 1024-byte buffer; syslog(3) gets `%.500s` of it.
  const message = text.slice(0, mode === 'syslog' ? 500 : MAX_MESSAGE_LENGTH - 3)
  // A message of syslog's full 500 bytes may have been cut: the parser cannot know.
  return { message, cut: message.length < text.length || message.length >= 500 }
}

function checkSane(event: SshdEvent | undefined): void {
  if (event === undefined) return
  assert.ok(EVENTS.includes(event.event))
  if ('method' in event) assert.ok(AUTH_METHODS.includes(event.method))
  if ('port' in event && event.port !== undefined) {
    assert.ok(Number.isInteger(event.port) && event.port >= 0 && event.port <= 65535)
  }
  if ('count' in event) assert.ok(Number.isSafeInteger(event.count) && event.count >= 0)
}

describe('hostile input', () => {
  it('a client string where sshd puts it never changes the template’s event', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TEMPLATES),
        hostileString,
        fc.constantFrom('syslog' as const, 'stderr' as const, 'raw' as const),
        (template, user, mode) => {
          const { message, cut } = render(template, user, mode)
          const event = parseSshdMessage(message)
          checkSane(event)
          if (cut && template.needsEnd === true && event === undefined) return
          assert.equal(event?.event, template.expected, JSON.stringify(message))
          if (template.method !== undefined) {
            assert.equal((event as { method: string }).method, template.method)
          }
          // And as a syslog line.
          const record = parseSyslogLine(`Nov 21 10:00:00 web1 sshd[9]: ${message}`)
          if (mode === 'syslog') assert.equal(record?.message, message)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('an accepted login keeps sshd’s own address and port whatever the key ID says', () => {
    fc.assert(
      fc.property(hostileString, (keyId) => {
        const { message } = render(
          {
            text: 'Accepted publickey for alice from 192.0.2.7 port 50312 ssh2: ED25519-CERT SHA256:x ID {u} (serial 1) CA ED25519 SHA256:y',
            expected: 'auth_accepted',
          },
          keyId,
          'syslog',
        )
        assert.deepEqual(parseSshdMessage(message), {
          event: 'auth_accepted',
          method: 'publickey',
          user: 'alice',
          address: '192.0.2.7',
          port: 50312,
        })
      }),
    )
  })

  it('a method name a client chose gives auth_failed with a method of the fixed set, or nothing', () => {
    fc.assert(
      fc.property(hostileString, (method) => {
        const event = parseSshdMessage(
          render(
            {
              text: 'Failed {u} for invalid user x from 192.0.2.7 port 22 ssh2',
              expected: 'auth_failed',
            },
            method,
            'syslog',
          ).message,
        )
        checkSane(event)
        assert.ok(event === undefined || event.event === 'auth_failed')
      }),
    )
  })

  it('random lines and messages never throw and give sane events', () => {
    const prefixes = [
      '',
      'error: ',
      'fatal: ',
      'Accepted ',
      'Failed ',
      'Connection closed by ',
      'Connection reset by ',
      'Disconnected from ',
      'Disconnecting ',
      'Read error from remote host ',
      'Starting session: ',
      'Close session: user ',
      'drop connection #',
      'exited MaxStartups throttling after ',
      'Maxstartups logging rate-limited: additional ',
      'ssh_dispatch_run_fatal: Connection from ',
      'Timeout before authentication for ',
      'Nov 21 10:00:00 web1 sshd[1]: ',
      '2026-11-21T10:00:00Z web1 sshd-session[1]: ',
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes),
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ maxLength: 3000 }), hostileString),
        (prefix, rest) => {
          const text = prefix + rest
          checkSane(parseSshdMessage(text))
          const record = parseSyslogLine(text)
          if (record !== undefined) checkSane(parseSshdMessage(record.message))
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('a 10 kB line or message is refused without being read', () => {
    const long = `Accepted publickey for ${'a from 1.2.3.4 port 22 ssh2 '.repeat(400)}`
    assert.ok(long.length > 10_000)
    assert.equal(parseSyslogLine(long), undefined)
    assert.equal(parseSshdMessage(long), undefined)
    assert.equal(parseSshdMessage(`Invalid user ${'x'.repeat(MAX_MESSAGE_LENGTH)}`), undefined)
  })

  it('backtracking-prone messages of the longest length still parse', () => {
    const spaces = ' '.repeat(MAX_MESSAGE_LENGTH - 60)
    assert.equal(parseSshdMessage(`Accepted publickey for${spaces}x`), undefined)
    assert.equal(
      formatEvent(parseSshdMessage(`Connection closed by invalid user${spaces}1 port 2`)),
      'preauth_closed address=1 port=2 phase=preauth',
    )
    assert.equal(
      formatEvent(
        parseSshdMessage(`Starting session: command for ${' from a port 1'.repeat(70)} id 1`),
      ),
      'session_opened address=a port=1 id=1',
    )
  })
})
