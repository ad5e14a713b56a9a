import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseSshdTitle, type SshdTitle } from '../../src/sources/proctitle.ts'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'proctitles')

/** The role names the fixture files use, to the parser's roles. */
const ROLE: Record<string, SshdTitle['role']> = {
  listener: 'listener',
  accepted: 'accepted',
  preauth_net: 'net',
  preauth_auth: 'net',
  monitor_preauth: 'monitor',
  monitor_postauth: 'monitor',
  postauth: 'postauth',
  root_monitor_postauth: 'postauth',
  session_sftp: 'sftp',
  pam: 'pam',
  other: 'other',
  // The captures' names (test/fixtures/proctitles/README.md).
  rexec: 'accepted',
  monitor: 'monitor',
  'monitor+postauth': 'postauth',
  net: 'net',
  'internal-sftp': 'sftp',
  "exec'd": 'other',
  exiting: 'other',
}

/**
 * Capture rows that say nothing about a title's own form: a session's program
 * (any binary), a child still showing its parent's title, a monitor's helper.
 */
const NOT_SSHD_ROLES = new Set(['session', 'forked', 'monitor helper'])

interface Row {
  file: string
  comm: string
  title: string
  role: string
}

/** Data rows of every *.tsv fixture: `<versions|comm>…<TAB>title<TAB>role…`, as each file's header says. */
function rows(): Row[] {
  const out: Row[] = []
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.tsv'))) {
    const text = readFileSync(join(FIXTURES, file), 'utf8')
    const source = file === 'openssh-source.tsv'
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      const cols = line.split('\t')
      // openssh-source.tsv: versions comm title role source; captures: comm state title role notes.
      const [comm, title, role] = source ? [cols[1], cols[2], cols[3]] : [cols[0], cols[2], cols[3]]
      assert.ok(
        comm && title !== undefined && role,
        `${file}: malformed row ${JSON.stringify(line)}`,
      )
      if (comm === 'comm' || NOT_SSHD_ROLES.has(role)) continue // header, or not an sshd role
      out.push({ file, comm, title, role })
    }
  }
  return out
}

describe('parseSshdTitle on every fixture row', () => {
  const all = rows()
  it('has rows from the OpenSSH source and from real 9.2 and 10.0 servers', () => {
    for (const file of ['openssh-source.tsv', 'openssh-9.2.tsv', 'openssh-10.0.tsv']) {
      assert.ok(all.filter((r) => r.file === file).length >= 10, file)
    }
  })
  for (const row of all) {
    it(`${row.file}: ${row.title} is ${row.role}`, () => {
      const want = ROLE[row.role]
      assert.ok(want, `unknown role ${row.role} in ${row.file}`)
      const got = parseSshdTitle(row.title)
      assert.equal(got.role, want)
      if (row.role === 'monitor_postauth') {
        assert.equal((got as { postauth: boolean }).postauth, row.title.endsWith('[postauth]'))
      }
      // Every titled process's prefix names its binary (raw argv rows aside).
      if (want !== 'other') assert.ok(row.title.startsWith(`${row.comm}: `) || row.comm === 'sshd')
    })
  }
})

describe('parseSshdTitle', () => {
  const cases: [string, SshdTitle][] = [
    [
      'sshd: /usr/sbin/sshd -D -o X=[listener] [listener] 12 of 10-100 startups',
      {
        role: 'listener',
        startups: 12,
        begin: 10,
        full: 100,
        argv: ['/usr/sbin/sshd', '-D', '-o', 'X=[listener]'],
      },
    ],
    ['sshd: [accepted]', { role: 'accepted' }],
    ['sshd-session: [rexeced]', { role: 'accepted' }],
    ['sshd: [net]', { role: 'net', user: null }],
    ['sshd-auth: [session-auth early]', { role: 'net', user: null }],
    ['sshd-auth: unknown [net]', { role: 'net', user: 'unknown' }],
    ['sshd: alice [priv]', { role: 'monitor', user: 'alice', postauth: false }],
    ['sshd-session: alice [postauth]', { role: 'monitor', user: 'alice', postauth: true }],
    ['sshd: alice [pam]', { role: 'pam', user: 'alice' }],
    ['sshd: alice', { role: 'postauth', user: 'alice', ttys: [] }],
    ['sshd: alice@notty', { role: 'postauth', user: 'alice', ttys: [] }],
    ['sshd: alice@pts/0,pts/3', { role: 'postauth', user: 'alice', ttys: ['pts/0', 'pts/3'] }],
    ['sshd: svc.deploy-1@pts/12', { role: 'postauth', user: 'svc.deploy-1', ttys: ['pts/12'] }],
    ['sshd: alice@internal-sftp', { role: 'sftp', user: 'alice' }],
    ['sshd: root@pts/0', { role: 'postauth', user: 'root', ttys: ['pts/0'] }],
    // Trailing padding some setproctitle implementations leave.
    ['sshd: bob@notty   ', { role: 'postauth', user: 'bob', ttys: [] }],
    // Raw argv and other programs' titles are not sshd roles.
    ['/usr/sbin/sshd', { role: 'other' }],
    ['sshd', { role: 'other' }],
    ['', { role: 'other' }],
    ['sshd: ', { role: 'other' }],
    ['sshd: [unheard of]', { role: 'other' }],
    ['sshd: alice bob', { role: 'other' }],
    ['sshd: alice [weird]', { role: 'other' }],
    ['sshd: [listener] x of 10-100 startups', { role: 'other' }],
    ['/bin/sh: alice@pts/0', { role: 'other' }],
  ]
  for (const [title, want] of cases) {
    it(JSON.stringify(title), () => assert.deepEqual(parseSshdTitle(title), want))
  }

  it('never throws on random bytes', () => {
    let seed = 42
    for (let i = 0; i < 2000; i++) {
      let s = 'sshd: '
      for (let j = 0; j < (i % 40) + 1; j++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        s += String.fromCharCode(seed % 256)
      }
      parseSshdTitle(s)
    }
  })
})
