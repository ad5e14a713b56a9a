import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { COLLECTORS } from '../../src/collectors/index.ts'
import { isExporterError } from '../../src/errors.ts'
import { parseFlags } from '../../src/flags/parse.ts'
import { envName, flag, parseDuration, parseListenAddress } from '../../src/flags/spec.ts'
import { exporterFlags as config } from '../helpers/flags.ts'

function rejects(argv: string[], pattern: RegExp, env: Record<string, string> = {}): void {
  assert.throws(
    () => parseFlags(argv, env, COLLECTORS),
    (err: unknown) => {
      assert.ok(isExporterError(err), `not an ExporterError: ${String(err)}`)
      assert.match(err.message, pattern)
      assert.doesNotMatch(err.message, /\n/)
      return true
    },
  )
}

describe('parseFlags', () => {
  it('gives the documented defaults', () => {
    const c = config([])
    assert.deepEqual(c.web.listenAddress, { host: '', port: 9922 })
    assert.equal(c.web.telemetryPath, '/metrics')
    assert.equal(c.web.disableExporterMetrics, false)
    assert.deepEqual(c.path, { procfs: '/proc', rootfs: '/' })
    assert.deepEqual(c.collectors, {
      processes: true,
      config: true,
      stale: true,
      sockets: true,
      events: true,
    })
    assert.equal(c.collector.processes.rescanIntervalSeconds, 300)
    assert.deepEqual(c.collector.events, {
      source: 'auto',
      file: undefined,
      journalDirectory: undefined,
      maxUsers: 100,
    })
    assert.equal(c.collector.processes.maxUsers, 100)
    assert.equal(c.scrape.collectorTimeoutSeconds, 5)
    assert.equal(c.collector.stale.idleThresholdSeconds, 3600)
    assert.equal(
      c.collector.stale.preauthThresholdSeconds,
      undefined,
      'worked out from LoginGraceTime',
    )
    assert.equal(c.collector.sockets.maxSources, 20)
    assert.deepEqual(c.collector.config, { sshdBinary: undefined, file: undefined })
    assert.deepEqual(c.log, { level: 'info', format: 'json' })
  })

  it('takes --flag=value and --flag value', () => {
    const c = config(['--web.listen-address=127.0.0.1:1234', '--path.procfs', '/host/proc'])
    assert.deepEqual(c.web.listenAddress, { host: '127.0.0.1', port: 1234 })
    assert.equal(c.path.procfs, '/host/proc')
  })

  it('takes the stale and sockets flags', () => {
    const c = config([
      '--collector.stale.idle-threshold=2s',
      '--collector.stale.preauth-threshold=1m30s',
      '--collector.sockets.max-sources=1',
      '--collector.config.sshd-binary=',
      '--collector.config.file=/etc/ssh/other_config',
    ])
    assert.equal(c.collector.stale.idleThresholdSeconds, 2)
    assert.equal(c.collector.stale.preauthThresholdSeconds, 90)
    assert.equal(c.collector.sockets.maxSources, 1)
    assert.deepEqual(c.collector.config, { sshdBinary: null, file: '/etc/ssh/other_config' })
    rejects(['--collector.stale.idle-threshold=soon'], /idle-threshold="soon".*duration/)
    rejects(['--collector.sockets.max-sources=-1'], /max-sources="-1"/)
  })

  it('turns collectors on and off', () => {
    const c = config(['--no-collector.processes', '--collector.events'])
    assert.equal(c.collectors.processes, false)
    assert.equal(c.collectors.events, true)
    assert.equal(config(['--collector.processes=false']).collectors.processes, false)
  })

  it('reads environment variables, and a flag wins over its variable', () => {
    const env = {
      SSHD_EXPORTER_WEB_TELEMETRY_PATH: '/m',
      SSHD_EXPORTER_COLLECTOR_PROCESSES_MAX_USERS: '7',
      SSHD_EXPORTER_COLLECTOR_EVENTS: 'false',
    }
    const c = config(['--web.telemetry-path=/flag'], env)
    assert.equal(c.web.telemetryPath, '/flag')
    assert.equal(c.collector.processes.maxUsers, 7)
    assert.equal(c.collectors.events, false)
  })

  it('takes --web.config.file from the flag or SSHD_EXPORTER_WEB_CONFIG_FILE; empty is none', () => {
    assert.equal(config([]).web.configFile, undefined)
    assert.equal(config(['--web.config.file=/etc/web.yml']).web.configFile, '/etc/web.yml')
    assert.equal(config(['--web.config.file', 'web.yml']).web.configFile, 'web.yml')
    const env = { SSHD_EXPORTER_WEB_CONFIG_FILE: '/env/web.yml' }
    assert.equal(config([], env).web.configFile, '/env/web.yml')
    assert.equal(config(['--web.config.file=/flag.yml'], env).web.configFile, '/flag.yml')
    assert.equal(config(['--web.config.file='], env).web.configFile, undefined)
    assert.equal(config([], { SSHD_EXPORTER_WEB_CONFIG_FILE: '' }).web.configFile, undefined)
  })

  it('names the variable when an environment value is bad', () => {
    rejects([], /^SSHD_EXPORTER_LOG_LEVEL: --log\.level="loud"/, {
      SSHD_EXPORTER_LOG_LEVEL: 'loud',
    })
  })

  it('stops on a bad value with the flag and what it accepts', () => {
    rejects(['--web.listen-address=:notaport'], /--web\.listen-address=":notaport".*\[host\]:port/)
    rejects(['--web.listen-address=:70000'], /--web\.listen-address/)
    rejects(['--collector.processes.max-users=-1'], /max-users="-1".*whole number/)
    rejects(['--collector.processes.max-users=ten'], /whole number/)
    rejects(['--log.level=verbose'], /--log\.level.*debug, info, warn, error/)
    rejects(['--log.format=xml'], /json, logfmt/)
    rejects(['--web.telemetry-path=metrics'], /absolute path/)
    rejects(['--scrape.collector-timeout=5 minutes'], /duration/)
    rejects(['--collector.processes=maybe'], /true or false/)
  })

  it('stops on an unknown flag or collector, listing the known collectors', () => {
    rejects(
      ['--collector.foo'],
      /unknown flag --collector\.foo: known collectors: processes, config, stale, sockets, events/,
    )
    rejects(['--no-collector.foo'], /unknown flag --no-collector\.foo/)
    rejects(['--nope'], /unknown flag --nope: see --help/)
    rejects(['positional'], /unexpected argument "positional"/)
    rejects(['--no-web.telemetry-path'], /unknown flag/)
  })

  it('stops on a missing value', () => {
    rejects(['--path.procfs'], /--path\.procfs needs a value/)
    rejects(['--path.procfs', '--path.rootfs=/'], /--path\.procfs needs a value/)
  })

  it('answers --help and --version', () => {
    const help = parseFlags(['--help'], {}, COLLECTORS)
    assert.equal(help.kind, 'help')
    const text = (help as { text: string }).text
    for (const flag of [
      '--web.listen-address',
      '--web.config.file=OPTIONAL',
      'SSHD_EXPORTER_WEB_CONFIG_FILE',
      '--[no-]collector.processes',
      'SSHD_EXPORTER_PATH_PROCFS',
    ]) {
      assert.ok(text.includes(flag), flag)
    }
    assert.equal(parseFlags(['--version'], {}, COLLECTORS).kind, 'version')
  })
})

describe('parseFlags: flags a collector declares', () => {
  const collectors = [
    {
      name: 'demo',
      defaultEnabled: false,
      help: 'A demo.',
      flags: {
        limit: flag.int('collector.demo.limit', '3', 'A limit.'),
        mode: flag.choice('collector.demo.mode', ['a', 'b'], 'a', 'A mode.'),
        file: flag.string('collector.demo.file', undefined, 'A file.'),
      },
    },
    { name: 'plain', defaultEnabled: true, help: 'No flags of its own.' },
  ]
  const parse = (argv: string[], env: Record<string, string> = {}) => {
    const r = parseFlags(argv, env, collectors)
    assert.equal(r.kind, 'flags')
    return r.flags
  }

  it('puts their values under collector.<name>, defaults included; none is {}', () => {
    assert.deepEqual(parse([]).collector, {
      demo: { limit: 3, mode: 'a', file: undefined },
      plain: {},
    })
    assert.deepEqual(parse([]).collectors, { demo: false, plain: true })
    const c = parse(['--collector.demo.limit=7', '--collector.demo.file', '/f'], {
      SSHD_EXPORTER_COLLECTOR_DEMO_MODE: 'b',
    })
    assert.deepEqual(c.collector, { demo: { limit: 7, mode: 'b', file: '/f' }, plain: {} })
  })

  it('checks them like the core flags, and lists them in --help after the paths', () => {
    assert.throws(() => parse(['--collector.demo.mode=c']), /--collector\.demo\.mode="c".*a, b/)
    assert.throws(() => parse(['--collector.demo.file=']), /it is empty/)
    const help = parseFlags(['--help'], {}, collectors)
    assert.equal(help.kind, 'help')
    const text = (help as { text: string }).text
    const at = (s: string) => text.indexOf(s)
    assert.ok(at('--path.rootfs') < at('--collector.demo.limit=INT'), text)
    assert.ok(at('--collector.demo.mode=MODE') < at('--scrape.collector-timeout'), text)
    assert.ok(at('--log.format') < at('--[no-]collector.demo\n'), text)
  })
})

describe('parseListenAddress', () => {
  const cases: [string, { host: string; port: number } | null][] = [
    [':9922', { host: '', port: 9922 }],
    ['0.0.0.0:1', { host: '0.0.0.0', port: 1 }],
    ['[::1]:9922', { host: '::1', port: 9922 }],
    ['localhost:80', { host: 'localhost', port: 80 }],
    [':0', { host: '', port: 0 }],
    ['9922', null],
    [':notaport', null],
    [':65536', null],
    ['::1:9922', null],
    ['[127.0.0.1]:9922', null],
    ['host name:1', null],
  ]
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(parseListenAddress(input), want))
  }
})

describe('parseDuration', () => {
  const cases: [string, number | null][] = [
    ['0', 0],
    ['90s', 90],
    ['5m', 300],
    ['1h30m', 5400],
    ['500ms', 0.5],
    ['1d', 86400],
    ['1w', 604800],
    ['1y', 31536000],
    ['', null],
    ['10', null],
    ['1m1h', null],
    ['-5s', null],
    ['5 s', null],
  ]
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => assert.equal(parseDuration(input), want))
  }
})

it('envName follows the documented rule', () => {
  assert.equal(
    envName('collector.processes.max-users'),
    'SSHD_EXPORTER_COLLECTOR_PROCESSES_MAX_USERS',
  )
})
