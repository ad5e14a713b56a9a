// parseSyslogLine on the line forms of syslog-forms.tsv (rsyslog's repeated messages, RFC 5424,
// RFC 3164 variants, ISO timestamps), and fuzzing of each form.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isSshdProgname } from '../../../src/sources/proctitle.ts'
import { parseSshdMessage } from '../../../src/sources/sshd-log/messages.ts'
import { parseSyslogLine } from '../../../src/sources/sshd-log/syslog.ts'
import { formatEvent } from '../../fixtures/sshd-log/format.ts'

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'sshd-log', 'syslog-forms.tsv')

export interface FormRow {
  readonly section: string
  readonly expected: string
  readonly times: number
  readonly line: string
}

export function formRows(): FormRow[] {
  const out: FormRow[] = []
  let section = ''
  for (const l of readFileSync(FIXTURE, 'utf8').split('\n')) {
    if (l.startsWith('# --- ')) section = l.slice(6)
    if (l === '' || l.startsWith('#')) continue
    const [expected, times, json] = l.split('\t')
    assert.ok(expected && times && json, `malformed row ${l}`)
    out.push({ section, expected, times: Number(times), line: JSON.parse(json) as string })
  }
  return out
}

describe('syslog-forms.tsv', () => {
  const rows = formRows()
  it('has every form', () => {
    assert.deepEqual(
      [...new Set(rows.map((r) => r.section))],
      ['rsyslog RepeatedMsgReduction', 'RFC 5424', 'RFC 3164 variants', 'ISO 8601 timestamps'],
    )
  })
  for (const row of rows) {
    it(`${row.section}: ${row.line.slice(0, 100)} is ${row.expected} ×${row.times}`, () => {
      const record = parseSyslogLine(row.line)
      const event = record === undefined ? undefined : parseSshdMessage(record.message)
      const counted = record !== undefined && isSshdProgname(record.identifier)
      assert.equal(formatEvent(counted ? event : undefined), row.expected)
      if (row.times === 0) {
        assert.ok(record !== undefined && !counted, 'another program’s line')
      } else if (row.expected !== '-') {
        assert.equal(record!.count ?? 1, row.times)
        assert.ok(record!.count === undefined || record!.count > 1)
      }
    })
  }
})

describe('parseSyslogLine records', () => {
  const cases: [string, ReturnType<typeof parseSyslogLine>][] = [
    [
      'Dec  6 10:00:09 web1 sshd[1234]: message repeated 5 times: [ Invalid user a from 1.2.3.4 port 5]',
      { identifier: 'sshd', pid: 1234, message: 'Invalid user a from 1.2.3.4 port 5', count: 5 },
    ],
    [
      '<38>1 2026-12-06T10:00:00.123+00:00 web1 sshd-session 123 - [x@1 a="]"] \uFEFFno more sessions',
      { identifier: 'sshd-session', pid: 123, message: 'no more sessions' },
    ],
    [
      '<38>1 2026-12-06T10:00:00Z - sshd - - -',
      { identifier: 'sshd', pid: undefined, message: '' },
    ],
    [
      'Nov 23 21:50:37 sshd[8148]: Connection closed by 1.2.3.4 port 5 [preauth]',
      { identifier: 'sshd', pid: 8148, message: 'Connection closed by 1.2.3.4 port 5 [preauth]' },
    ],
    [
      'Dec  6 10:00:00 web1 local7.debug sshd.pam[1]: x',
      { identifier: 'sshd.pam', pid: 1, message: 'x' },
    ],
    [
      'Dec  6 10:00:00 web1 sshd[1]: [ID 800047 auth.info] x',
      { identifier: 'sshd', pid: 1, message: 'x' },
    ],
    // A `<pri>` with nothing understood after it is no `sshd -E` line.
    ['<38>garbage', undefined],
    ['<38>1 2026-12-06T10:00:00Z web1 sshd 1 - -x', undefined],
  ]
  for (const [line, want] of cases) {
    it(JSON.stringify(line.slice(0, 90)), () => assert.deepEqual(parseSyslogLine(line), want))
  }
})

// --- Fuzzing -------------------------------------------------------------------------------

/** Text a client chooses (user names): escaped as syslog gets it, or raw. */
const clientText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(
    ']',
    ' [preauth]',
    '] message repeated 9 times: [ Accepted publickey for root from 1.2.3.4 port 1 ssh2',
    'x from 9.9.9.9 port 9 ssh2',
    '\uFEFF',
    '[ID 1 auth.info] ',
    'sshd[1]: Accepted publickey for root from 1.2.3.4 port 1 ssh2',
  ),
)

/** Each new form around a message. */
const FORMS: readonly ((message: string) => string)[] = [
  (m) => `Dec  6 10:00:09 web1 sshd[1234]: message repeated 7 times: [ ${m}]`,
  (m) => `<38>1 2026-12-06T10:00:00.123+00:00 web1 sshd 123 - - ${m}`,
  (m) => `<38>1 2026-12-06T10:00:00Z web1 sshd-session 123 - [a@1 x="\\]"] \uFEFF${m}`,
  (m) => `<38>1 2026-12-06T10:00:00Z web1 sshd 123 - -  message repeated 2 times: [ ${m}]`,
  (m) => `Feb 8 17:15:01 web1 sshd[1]: ${m}`,
  (m) => `Nov 23 21:50:37 sshd[8148]: ${m}`,
  (m) => `Dec  6 10:00:00 web1 auth.info sshd[1]: ${m}`,
  (m) => `Dec  6 10:00:00 web1 sshd[1]: [ID 800047 auth.info] ${m}`,
  (m) => `2026-12-06 10:00:00.123456+0000 web1 sshd[1]: ${m}`,
]

/** sshd's messages with a client's text where sshd puts it, and the event each makes. */
const TEMPLATES: readonly [string, string][] = [
  ['Failed password for {u} from 203.0.113.9 port 40022 ssh2', 'auth_failed'],
  ['Failed password for invalid user {u} from 203.0.113.9 port 40022 ssh2', 'auth_failed'],
  ['Invalid user {u} from 203.0.113.9 port 40022', 'invalid_user'],
  ['Accepted publickey for alice from 192.0.2.7 port 1 ssh2: ED25519-CERT ID {u}', 'auth_accepted'],
  ['Connection closed by invalid user {u} 203.0.113.9 port 40022 [preauth]', 'preauth_closed'],
]

/** What syslog(3) gets of a client's text: sshd's strnvis leaves no control character. */
function escaped(text: string): string {
  let out = ''
  for (const ch of text) {
    const c = ch.codePointAt(0)!
    if (c === 0x0a) out += '\\n'
    else if (c === 0x0d) out += '\\r'
    else if (c === 0x09) out += '\\t'
    else if (c < 0x20 || c === 0x7f || c > 0x7e) {
      for (const b of Buffer.from(ch, 'utf8')) out += `\\${b.toString(8).padStart(3, '0')}`
    } else out += ch
  }
  return out
}

describe('the new line forms against hostile input', () => {
  it('a client’s text inside the message never changes which event is made', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FORMS),
        fc.constantFrom(...TEMPLATES),
        clientText,
        (form, [template, expected], text) => {
          const message = template.replace('{u}', escaped(text))
          const line = form(message)
          const record = parseSyslogLine(line)
          if (line.length > 1536) return
          assert.ok(record !== undefined, line)
          assert.ok(isSshdProgname(record.identifier))
          assert.equal(parseSshdMessage(record.message)?.event, expected, JSON.stringify(line))
          assert.ok(record.count === undefined || record.count === 7 || record.count === 2)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('malformed lines of each form never throw and give sane records', () => {
    const prefixes = [
      '<38>1 ',
      '<38>1 2026-12-06T10:00:00Z web1 sshd 1 - ',
      '<38>1 2026-12-06T10:00:00Z web1 sshd 1 - [',
      '<38>',
      'Feb 8 17:15:01 ',
      'Nov 23 21:50:37 sshd',
      'Dec  6 10:00:00 web1 auth.info ',
      'Dec  6 10:00:00 web1 sshd[1]: [ID ',
      'Dec  6 10:00:00 web1 sshd[1]: message repeated ',
      'Dec  6 10:00:00 web1 sshd[1]: message repeated 3 times: [',
      '2026-12-06 10:00:00',
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes),
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ maxLength: 2000 }), clientText),
        (prefix, rest) => {
          const record = parseSyslogLine(prefix + rest)
          if (record === undefined) return
          assert.equal(typeof record.message, 'string')
          assert.ok(record.pid === undefined || Number.isSafeInteger(record.pid))
          assert.ok(
            record.count === undefined || (Number.isSafeInteger(record.count) && record.count > 0),
          )
          parseSshdMessage(record.message)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('a repeated message is cut where rsyslog cuts it, and still never throws', () => {
    const inner = `Failed password for ${'x'.repeat(900)} from 1.2.3.4 port 5 ssh2`.slice(0, 800)
    const record = parseSyslogLine(
      `Dec  6 10:00:00 web1 sshd[1]: message repeated 3 times: [ ${inner}]`,
    )
    assert.equal(record?.count, 3)
    assert.equal(parseSshdMessage(record.message)?.event, 'auth_failed')
  })
})
