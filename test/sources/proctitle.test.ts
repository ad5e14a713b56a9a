import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  COMM_MAX_BYTES,
  isSshdProgname,
  parseSshdTitle,
  SSHD_COMMS,
  SSHD_PROGNAMES,
  type SshdTitle,
} from '../../src/sources/proctitle.ts'

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
  /** What the parse must give, when the file says (`-`: not checked). */
  user?: string
  /** The tty list the parse must give (`none`: empty), when the file says. */
  ttys?: readonly string[]
}

/** openssh-source.tsv's columns, which it states in a comment rather than a header row. */
const SOURCE_COLUMNS = ['versions', 'comm', 'title', 'role', 'source']

/**
 * Data rows of every *.tsv fixture. A file's header row names its columns (captures: `comm state
 * title role notes`; the distributions' files: `versions comm title role user ttys source`);
 * openssh-source.tsv has none and uses SOURCE_COLUMNS.
 */
function rows(): Row[] {
  const out: Row[] = []
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.tsv'))) {
    const text = readFileSync(join(FIXTURES, file), 'utf8')
    let columns = SOURCE_COLUMNS
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      const cols = line.split('\t')
      if (cols[0] === 'comm' || cols[0] === 'versions') {
        columns = cols
        continue
      }
      const field = (name: string) => {
        const i = columns.indexOf(name)
        return i < 0 ? undefined : cols[i]
      }
      const [comm, title, role] = [field('comm'), field('title'), field('role')]
      assert.ok(
        comm && title !== undefined && role,
        `${file}: malformed row ${JSON.stringify(line)}`,
      )
      if (NOT_SSHD_ROLES.has(role)) continue // not an sshd role
      const row: Row = { file, comm, title, role }
      const user = field('user')
      const ttys = field('ttys')
      if (user !== undefined && user !== '-') row.user = user
      if (ttys !== undefined && ttys !== '-') row.ttys = ttys === 'none' ? [] : ttys.split(',')
      out.push(row)
    }
  }
  return out
}

describe('parseSshdTitle on every fixture row', () => {
  const all = rows()
  it('has rows from the OpenSSH source, real 9.2 and 10.0 servers, Alpine and RHEL', () => {
    for (const file of [
      'openssh-source.tsv',
      'openssh-9.2.tsv',
      'openssh-10.0.tsv',
      'alpine-openssh-9.8-pam.tsv',
      'alpine-openssh-10.0-pam.tsv',
      'rhel-openssh.tsv',
    ]) {
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
      if (row.user !== undefined) assert.equal((got as { user?: string | null }).user, row.user)
      if (row.ttys !== undefined)
        assert.deepEqual((got as { ttys?: readonly string[] }).ttys, row.ttys)
      // Every titled process's prefix is its binary's name, which comm holds cut to 15 bytes
      // (the listener's fork keeps comm sshd while it sets `[accepted]`, raw argv rows aside).
      if (want !== 'other') {
        const progname = row.title.slice(0, row.title.indexOf(': '))
        assert.ok(progname.slice(0, COMM_MAX_BYTES) === row.comm || row.comm === 'sshd')
        assert.ok(SSHD_COMMS.has(row.comm), row.comm)
      }
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

describe("sshd's program names", () => {
  it('are OpenSSH’s three programs, each also as Alpine’s .pam and .krb5 builds', () => {
    assert.deepEqual(SSHD_PROGNAMES, [
      'sshd',
      'sshd.pam',
      'sshd.krb5',
      'sshd-session',
      'sshd-session.pam',
      'sshd-session.krb5',
      'sshd-auth',
      'sshd-auth.pam',
      'sshd-auth.krb5',
    ])
  })
  it('give comm cut to 15 bytes, as the kernel keeps it', () => {
    assert.deepEqual([...SSHD_COMMS].sort(), [
      'sshd',
      'sshd-auth',
      'sshd-auth.krb5',
      'sshd-auth.pam',
      'sshd-session',
      'sshd-session.kr',
      'sshd-session.pa',
      'sshd.krb5',
      'sshd.pam',
    ])
  })
  it('are the only title prefixes read; a cut comm or another program is not one', () => {
    for (const name of SSHD_PROGNAMES) {
      assert.ok(isSshdProgname(name), name)
      assert.equal(parseSshdTitle(`${name}: alice@pts/0`).role, 'postauth', name)
    }
    for (const title of [
      'sshd-session.pa: alice@pts/0',
      'sshd.pamx: alice@pts/0',
      'ssh: alice@pts/0',
      'sshd-agent: alice@pts/0',
      'gsisshd: alice@pts/0',
    ]) {
      assert.deepEqual(parseSshdTitle(title), { role: 'other' }, title)
    }
  })
  it('a listener started as sshd.pam gives its argv (titleArgv compares argv[0] with the progname)', () => {
    const t = parseSshdTitle('sshd.pam: /usr/sbin/sshd.pam -D -e [listener] 2 of 10-100 startups')
    assert.deepEqual(t, {
      role: 'listener',
      startups: 2,
      begin: 10,
      full: 100,
      argv: ['/usr/sbin/sshd.pam', '-D', '-e'],
    })
    const bare = parseSshdTitle(
      'sshd.krb5: sshd.krb5 -f /etc/ssh/other [listener] 0 of 10-100 startups',
    )
    assert.deepEqual((bare as { argv?: readonly string[] }).argv, [
      'sshd.krb5',
      '-f',
      '/etc/ssh/other',
    ])
  })
})

describe('parseSshdTitle: user names with @ (SSSD, realmd), every title form and progname', () => {
  const PROGNAMES = ['sshd', 'sshd-session', 'sshd.pam', 'sshd-session.pam', 'sshd-session.krb5']
  const USERS = ['alice', 'alice@example.com', 'first.last@corp.example.com', 'bob@ad', 'x@y@z.org']
  const forms: [string, (user: string) => SshdTitle][] = [
    ['', (user) => ({ role: 'postauth', user, ttys: [] })],
    ['@notty', (user) => ({ role: 'postauth', user, ttys: [] })],
    ['@pts/0', (user) => ({ role: 'postauth', user, ttys: ['pts/0'] })],
    ['@pts/0,pts/13', (user) => ({ role: 'postauth', user, ttys: ['pts/0', 'pts/13'] })],
    // A BSD pty, on a system without /dev/pts (bsd-openpty.c).
    ['@ttyp0,ttyqa', (user) => ({ role: 'postauth', user, ttys: ['ttyp0', 'ttyqa'] })],
    ['@internal-sftp', (user) => ({ role: 'sftp', user })],
    [' [net]', (user) => ({ role: 'net', user })],
    [' [priv]', (user) => ({ role: 'monitor', user, postauth: false })],
    [' [postauth]', (user) => ({ role: 'monitor', user, postauth: true })],
    [' [pam]', (user) => ({ role: 'pam', user })],
    // setproctitle cut the title inside the last tty name: the whole ones are kept.
    ['@pts/0,pts/1,pt', (user) => ({ role: 'postauth', user, ttys: ['pts/0', 'pts/1'] })],
    ['@pts/0,', (user) => ({ role: 'postauth', user, ttys: ['pts/0'] })],
  ]
  for (const progname of PROGNAMES) {
    for (const user of USERS) {
      for (const [suffix, want] of forms) {
        const title = `${progname}: ${user}${suffix}`
        it(title, () => assert.deepEqual(parseSshdTitle(title), want(user)))
      }
    }
  }
  // sshd-auth runs only the pre-auth forms.
  for (const user of USERS) {
    for (const progname of ['sshd-auth', 'sshd-auth.pam']) {
      it(`${progname}: ${user} [net]`, () =>
        assert.deepEqual(parseSshdTitle(`${progname}: ${user} [net]`), { role: 'net', user }))
    }
  }
  // What follows the last @ is a tty list only when it is one: else it belongs to the user.
  const whole: string[] = [
    'alice@example.com',
    'alice@pts',
    'alice@pts/x',
    'alice@tty1',
    'alice@pts/0x',
    'alice@pts/0,example.com',
    'alice@Notty',
  ]
  for (const user of whole) {
    it(`sshd: ${user} is user ${user} with no session`, () =>
      assert.deepEqual(parseSshdTitle(`sshd: ${user}`), { role: 'postauth', user, ttys: [] }))
  }

  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/)
  const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'))
  /** SSSD-style names: a local part, then one or more `@domain`. */
  const user = fc
    .tuple(
      fc.stringMatching(/^[a-z_][a-z0-9._-]{0,15}$/),
      fc.array(domain, { minLength: 1, maxLength: 2 }),
    )
    .map(([local, domains]) => [local, ...domains].join('@'))
  const tty = fc.oneof(
    fc.nat({ max: 4095 }).map((n) => `pts/${n}`),
    fc
      .tuple(fc.constantFrom(...'pqrstuvwxyzabcde'), fc.constantFrom(...'0123456789abcdef'))
      .map(([major, minor]) => `tty${major}${minor}`),
  )
  /** A name whose part after its last @ could be read as a tty list is ambiguous by nature. */
  const unambiguous = (name: string) =>
    !/^(?:notty|internal-sftp|tty[a-z][0-9a-f]+)$/.test(name.slice(name.lastIndexOf('@') + 1))

  it('property: a user with @ and a tty list round-trip through every post-auth form', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SSHD_PROGNAMES.filter((n) => !n.startsWith('sshd-auth'))),
        user,
        fc.array(tty, { minLength: 1, maxLength: 8 }),
        (progname, name, ttys) => {
          const p = `${progname}: ${name}`
          assert.deepEqual(parseSshdTitle(`${p}@${ttys.join(',')}`), {
            role: 'postauth',
            user: name,
            ttys,
          })
          assert.deepEqual(parseSshdTitle(`${p}@notty`), { role: 'postauth', user: name, ttys: [] })
          assert.deepEqual(parseSshdTitle(`${p}@internal-sftp`), { role: 'sftp', user: name })
          assert.deepEqual(parseSshdTitle(`${p} [priv]`), {
            role: 'monitor',
            user: name,
            postauth: false,
          })
          if (unambiguous(name)) {
            assert.deepEqual(parseSshdTitle(p), { role: 'postauth', user: name, ttys: [] })
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})
