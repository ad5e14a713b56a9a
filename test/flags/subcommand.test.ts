/**
 * parseFlags with a SubcommandSpec (`sshd-exporter sessions`): its own flags under `command`,
 * read from the command line only; --watch's optional value; the web and scrape flags unknown;
 * its defaults for the log flags.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { COLLECTORS, type CollectorFlags } from '../../src/collectors/index.ts'
import { ErrorCode, isExporterError } from '../../src/errors.ts'
import { parseFlags, type SubcommandSpec } from '../../src/flags/parse.ts'
import { flag } from '../../src/flags/spec.ts'
import { SESSIONS_COMMAND, type SessionsFlags } from '../../src/sessions/command.ts'

function parse(argv: string[], env: Record<string, string> = {}): SessionsFlags {
  const r = parseFlags<CollectorFlags>(argv, env, COLLECTORS, SESSIONS_COMMAND)
  assert.equal(r.kind, 'flags')
  return r.flags as unknown as SessionsFlags
}

function rejects(argv: string[], code: string, message: string): void {
  assert.throws(
    () => parseFlags(argv, {}, COLLECTORS, SESSIONS_COMMAND),
    (err: unknown) => {
      assert.ok(isExporterError(err), `not an ExporterError: ${String(err)}`)
      assert.equal(err.code, code)
      assert.equal(err.message, message)
      return true
    },
  )
}

/** `command` with no flag given. */
const OFF: SessionsFlags['command'] = {
  sessions: false,
  user: undefined,
  stale: false,
  atMax: false,
  json: false,
  watchSeconds: undefined,
}

describe('a subcommand’s flags', () => {
  it('default to off, under `command`', () => {
    const f = parse([])
    assert.deepEqual(f.command, OFF)
    assert.deepEqual(f.path, { procfs: '/proc', rootfs: '/' })
    assert.equal(f.collectors.config, true)
  })

  it('are given on the command line', () => {
    const f = parse(['--sessions', '--user', 'alice', '--stale', '--at-max', '--json'])
    assert.deepEqual(f.command, {
      sessions: true,
      user: 'alice',
      stale: true,
      atMax: true,
      json: true,
      watchSeconds: undefined,
    })
    assert.equal(parse(['--user=bob']).command.user, 'bob')
    assert.equal(parse(['--user=']).command.user, undefined, 'empty: none')
    assert.equal(parse(['--json', '--no-json']).command.json, false, 'the last one wins')
  })

  it('read no environment variable, while the path, collector and log flags still do', () => {
    const env = {
      SSHD_EXPORTER_WATCH: '5s',
      SSHD_EXPORTER_JSON: 'true',
      SSHD_EXPORTER_USER: 'mallory',
      SSHD_EXPORTER_SESSIONS: 'true',
      SSHD_EXPORTER_STALE: 'true',
      SSHD_EXPORTER_AT_MAX: 'true',
      SSHD_EXPORTER_PATH_PROCFS: '/host/proc',
      SSHD_EXPORTER_COLLECTOR_CONFIG: 'false',
      SSHD_EXPORTER_COLLECTOR_STALE_IDLE_THRESHOLD: '15m',
      SSHD_EXPORTER_LOG_LEVEL: 'error',
    }
    const f = parse([], env)
    assert.deepEqual(f.command, OFF)
    assert.equal(f.path.procfs, '/host/proc')
    assert.equal(f.collectors.config, false)
    assert.equal(f.collector.stale.idleThresholdSeconds, 900)
    assert.equal(f.log.level, 'error')
  })

  it('do not validate a variable they do not read', () => {
    assert.equal(parse([], { SSHD_EXPORTER_WATCH: 'garbage' }).command.watchSeconds, undefined)
  })
})

describe('--watch', () => {
  it('alone is every 2s', () => assert.equal(parse(['--watch']).command.watchSeconds, 2))
  it('--watch=5s is every 5s', () => assert.equal(parse(['--watch=5s']).command.watchSeconds, 5))
  it('--watch=500ms is every half second', () =>
    assert.equal(parse(['--watch=500ms']).command.watchSeconds, 0.5))
  it('alone before another flag leaves that flag its own', () => {
    const f = parse(['--watch', '--json'])
    assert.equal(f.command.watchSeconds, 2)
    assert.equal(f.command.json, true)
  })
  it('--watch 5s: the value is not taken, and 5s is an unexpected argument', () =>
    rejects(
      ['--watch', '5s'],
      ErrorCode.FLAG_UNKNOWN,
      'unexpected argument "5s": flags start with --, see --help',
    ))
  it('--watch= and --watch=abc are not valid', () => {
    rejects(
      ['--watch='],
      ErrorCode.FLAG_INVALID,
      `--watch="" is not valid: it is empty; expected a duration in Prometheus's syntax, e.g. 500ms, 10s, 5m, 1h`,
    )
    rejects(
      ['--watch=abc'],
      ErrorCode.FLAG_INVALID,
      `--watch="abc" is not valid: expected a duration in Prometheus's syntax, e.g. 500ms, 10s, 5m, 1h`,
    )
  })
  it('is no boolean: --no-watch is unknown', () =>
    rejects(['--no-watch'], ErrorCode.FLAG_UNKNOWN, 'unknown flag --no-watch: see --help'))
  it('is unknown to the exporter itself', () => {
    assert.throws(
      () => parseFlags(['--watch'], {}, COLLECTORS),
      (err: unknown) => isExporterError(err) && err.message === 'unknown flag --watch: see --help',
    )
  })
})

describe('the flags a subcommand does not take', () => {
  for (const arg of [
    '--web.listen-address=:9922',
    '--web.enable-sessions',
    '--web.telemetry-path=/x',
    '--web.config.file=/etc/web.yml',
    '--scrape.collector-timeout=1s',
  ]) {
    const name = arg.slice(2).split('=')[0]
    it(`${arg} is unknown`, () =>
      rejects([arg], ErrorCode.FLAG_UNKNOWN, `unknown flag --${name}: see --help`))
  }
  it('a value needing flag at the end names what it expects', () =>
    rejects(
      ['--user'],
      ErrorCode.FLAG_MISSING_VALUE,
      '--user needs a value: expected a string, or empty',
    ))
})

describe('defaults', () => {
  it('replace the log flags’ defaults for the subcommand only', () => {
    const f = parse([])
    assert.deepEqual(f.log, { level: 'warn', format: 'logfmt' })
    const exporter = parseFlags<CollectorFlags>([], {}, COLLECTORS)
    assert.equal(exporter.kind, 'flags')
    assert.equal(exporter.flags.log.level, 'info')
    assert.equal(exporter.flags.log.format, 'json')
  })
  it('give way to the flag and to its variable', () => {
    assert.equal(parse(['--log.level=debug']).log.level, 'debug')
    assert.equal(parse([], { SSHD_EXPORTER_LOG_FORMAT: 'json' }).log.format, 'json')
  })
  it('replace a default by the flag’s name, and nothing else', () => {
    const spec: SubcommandSpec = {
      name: 't',
      usage: 'sshd-exporter t',
      description: 'd',
      flags: { dry: flag.bool('dry', 'false', 'h') },
      defaults: { 'log.format': 'json', 'path.procfs': '/elsewhere' },
    }
    const r = parseFlags<CollectorFlags>([], {}, COLLECTORS, spec)
    assert.equal(r.kind, 'flags')
    assert.equal(r.flags.log.format, 'json')
    assert.equal(r.flags.log.level, 'info')
    assert.equal((r.flags as unknown as { command: { dry: boolean } }).command.dry, false)
  })
})

describe('--help of a subcommand', () => {
  const r = parseFlags(['--help'], {}, COLLECTORS, SESSIONS_COMMAND)
  assert.equal(r.kind, 'help')
  const text = r.kind === 'help' ? r.text : ''
  it('shows its usage and own flags, --watch’s value as optional', () => {
    assert.ok(text.startsWith('usage: sshd-exporter sessions [<flags>]\n'))
    assert.ok(text.includes('\n      --watch[=DURATION]\n'))
    assert.ok(text.includes('\n      --[no-]json\n'))
    assert.ok(text.includes('\n      --user=OPTIONAL\n'))
  })
  it('names no variable for its own flags, and the log defaults it uses', () => {
    assert.doesNotMatch(text, /\$SSHD_EXPORTER_(WATCH|JSON|USER|SESSIONS|STALE|AT_MAX)\b/)
    assert.match(text, /\(\$SSHD_EXPORTER_LOG_LEVEL, default: warn\)/)
    assert.match(text, /\(\$SSHD_EXPORTER_PATH_PROCFS, default: \/proc\)/)
  })
  it('lists no web or scrape flag', () => {
    assert.doesNotMatch(text, /--web\.|--scrape\./)
  })
})
