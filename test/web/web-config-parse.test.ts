/** parseWebConfig: exporter-toolkit's format, its defaults, and every refusal with its key. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  parseGoDuration,
  parseWebConfig,
  type WebConfig,
  WebConfigError,
} from '../../src/web/web-config.ts'

const FILE = '/etc/sshd-exporter/web.yml'
const HASH_A = '$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze'
const HASH_B = '$2y$12$1DpfPeqF9HzHJt.EWswy1exHluGfbhnn3yXhR7Xes6m3WJqFg0Wby'

function parse(lines: string[]): WebConfig {
  return parseWebConfig(lines.join('\n'), FILE)
}

/** Asserts that the text is refused naming `key`, with a message matching `says`. */
function refuses(lines: string[], key: string | undefined, says: RegExp): WebConfigError {
  let caught: unknown
  try {
    parse(lines)
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof WebConfigError, `not refused: ${lines.join('\\n')}`)
  assert.equal(caught.key, key)
  assert.equal(caught.file, FILE)
  assert.equal(caught.code, 'ERR_WEB_CONFIG_INVALID')
  assert.doesNotMatch(caught.message, /\n/)
  assert.ok(caught.message.startsWith(`--web.config.file="${FILE}": `), caught.message)
  assert.match(caught.message, says)
  return caught
}

const TLS = ['tls_server_config:', '  cert_file: server.crt', '  key_file: server.key']

describe('parseWebConfig', () => {
  it('an empty file: plain HTTP, no auth, HTTP/2 on (for TLS), no headers, no rate limit', () => {
    for (const text of ['', '# nothing\n', '---\n', '{}\n']) {
      assert.deepEqual(parseWebConfig(text, FILE), {
        tls: undefined,
        http2: true,
        headers: [],
        users: new Map(),
        rateLimit: undefined,
      })
    }
  })

  it("reads exporter-toolkit's sample web-config.yml", () => {
    const c = parse([
      '# TLS and basic authentication configuration example.',
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      'basic_auth_users:',
      `  alice: ${HASH_A}`,
      `  bob: ${HASH_B}`,
      'rate_limit:',
      '  interval: "1s"',
      '  burst: 20',
    ])
    assert.deepEqual(c.tls, {
      cert: { key: 'tls_server_config.cert_file', file: '/etc/sshd-exporter/server.crt' },
      key: { key: 'tls_server_config.key_file', file: '/etc/sshd-exporter/server.key' },
      clientCa: undefined,
      clientAuthType: 'NoClientCert',
      clientAllowedSans: undefined,
      minVersion: 'TLS12',
      maxVersion: 'TLS13',
      cipherSuites: [],
      curvePreferences: [],
      preferServerCipherSuites: true,
    })
    assert.deepEqual(
      [...c.users],
      [
        ['alice', HASH_A],
        ['bob', HASH_B],
      ],
    )
    assert.deepEqual(c.rateLimit, { intervalSeconds: 1, burst: 20 })
  })

  it('reads every TLS key', () => {
    const c = parse([
      'tls_server_config:',
      '  cert_file: /abs/server.crt',
      '  key_file: keys/server.key',
      '  client_auth_type: "RequireAndVerifyClientCert"',
      '  client_ca_file: ca.pem',
      '  client_allowed_sans: [prometheus, "spiffe://x/y"]',
      '  min_version: TLS13',
      '  max_version: TLS13',
      '  cipher_suites:',
      '    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      '    - TLS_AES_128_GCM_SHA256',
      '  curve_preferences: [X25519, CurveP256]',
      '  prefer_server_cipher_suites: no',
      'http_server_config:',
      '  http2: off',
    ])
    assert.deepEqual(c.tls, {
      cert: { key: 'tls_server_config.cert_file', file: '/abs/server.crt' },
      key: { key: 'tls_server_config.key_file', file: '/etc/sshd-exporter/keys/server.key' },
      clientCa: { key: 'tls_server_config.client_ca_file', file: '/etc/sshd-exporter/ca.pem' },
      clientAuthType: 'RequireAndVerifyClientCert',
      clientAllowedSans: ['prometheus', 'spiffe://x/y'],
      minVersion: 'TLS13',
      maxVersion: 'TLS13',
      cipherSuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'],
      curvePreferences: ['X25519', 'CurveP256'],
      preferServerCipherSuites: false,
    })
    assert.equal(c.http2, false)
  })

  it('takes inline PEMs, the old RequireClientCert name, and scalars as text', () => {
    const c = parse([
      'tls_server_config:',
      '  cert: |',
      '    -----BEGIN CERTIFICATE-----',
      '    MIIB',
      '    -----END CERTIFICATE-----',
      '  key: "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"',
      '  client_ca_file: 0x1F',
      '  client_auth_type: RequireClientCert',
    ])
    assert.deepEqual(c.tls?.cert, {
      key: 'tls_server_config.cert',
      inline: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    })
    assert.equal(
      c.tls?.key.inline,
      '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
    )
    assert.equal(c.tls?.clientCa?.file, '/etc/sshd-exporter/0x1F', 'the text, not 31')
    assert.equal(c.tls?.clientAuthType, 'RequireAnyClientCert')
  })

  it('keeps the allowed headers in order, leaves blank ones out', () => {
    const c = parse([
      'http_server_config:',
      '  headers:',
      '    X-Frame-Options: deny',
      '    Strict-Transport-Security: max-age=31536000; includeSubDomains',
      '    X-Content-Type-Options: nosniff',
      '    X-XSS-Protection: 1',
      `    Content-Security-Policy: "default-src 'self' *.test.example.net"`,
    ])
    assert.deepEqual(c.headers, [
      ['X-Frame-Options', 'deny'],
      ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
      ['X-Content-Type-Options', 'nosniff'],
      ['X-XSS-Protection', '1'],
      ['Content-Security-Policy', "default-src 'self' *.test.example.net"],
    ])
    assert.deepEqual(
      parse(['http_server_config:', '  headers:', '    X-XSS-Protection: ""']).headers,
      [],
    )
  })

  it("reads rate_limit's interval as Go does: a duration string, or an integer of nanoseconds", () => {
    assert.deepEqual(parse(['rate_limit:', '  interval: 1m30s', '  burst: 2']).rateLimit, {
      intervalSeconds: 90,
      burst: 2,
    })
    assert.deepEqual(parse(['rate_limit:', '  interval: 500000000', '  burst: 1']).rateLimit, {
      intervalSeconds: 0.5,
      burst: 1,
    })
    assert.equal(parse(['rate_limit:', '  interval: 0', '  burst: 0']).rateLimit, undefined)
    assert.deepEqual(parse(['rate_limit:', '  interval: 1s', '  burst: 0']).rateLimit, {
      intervalSeconds: 1,
      burst: 0,
    })
  })

  it('resolves aliases', () => {
    const c = parse(['basic_auth_users:', `  alice: &h ${HASH_A}`, '  bob: *h'])
    assert.equal(c.users.get('bob'), HASH_A)
  })
})

describe('parseWebConfig refuses, naming the key', () => {
  const cases: [string, string[], string | undefined, RegExp][] = [
    ['YAML that does not parse', ['tls_server_config: [a'], undefined, /not valid YAML/],
    [
      'a duplicate key',
      ['basic_auth_users:', `  a: ${HASH_A}`, `  a: ${HASH_A}`],
      undefined,
      /not valid YAML \(Map keys must be unique at line 3, column 3\): correct the YAML there/,
    ],
    [
      "exporter-toolkit's junk file",
      ['hWkNKCp3fvIx3jKnsaBI', 'TuEjdwNS8A2vYdFbiKqr'],
      undefined,
      /the file is not a mapping \(line 1\): expected a mapping with tls_server_config/,
    ],
    [
      'an unknown top-level key',
      ['tls_config: {}'],
      'tls_config',
      /unknown key \(line 1\): expected one of tls_server_config, http_server_config, rate_limit or basic_auth_users/,
    ],
    [
      'an unknown TLS key',
      ['tls_server_config:', '  cert_filse: "server.crt"'],
      'tls_server_config.cert_filse',
      /unknown key \(line 2\)/,
    ],
    [
      'an unknown http key',
      ['http_server_config:', '  http3: true'],
      'http_server_config.http3',
      /unknown key/,
    ],
    ['an unknown rate_limit key', ['rate_limit:', '  rate: 1'], 'rate_limit.rate', /unknown key/],
    [
      'a section that is a list',
      ['tls_server_config: [a, b]'],
      'tls_server_config',
      /tls_server_config is not a mapping/,
    ],
    [
      'a string that is a mapping',
      [...TLS.slice(0, 2), '  key_file: {a: b}'],
      'tls_server_config.key_file',
      /not a string \(line 3\)/,
    ],
    [
      'an unknown TLS version',
      [...TLS, '  min_version: TLS111'],
      'tls_server_config.min_version',
      /"TLS111" is not valid \(line 4\): expected TLS10, TLS11, TLS12 or TLS13/,
    ],
    [
      'a TLS version as a number',
      [...TLS, '  max_version: 13'],
      'tls_server_config.max_version',
      /"13" is not valid/,
    ],
    [
      'min_version above max_version',
      [...TLS, '  min_version: TLS13', '  max_version: TLS12'],
      'tls_server_config.min_version',
      /TLS13 is above max_version TLS12/,
    ],
    [
      'an invented cipher suite',
      [...TLS, '  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048]'],
      'tls_server_config.cipher_suites',
      /unknown cipher suite "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048"/,
    ],
    [
      'an invented curve',
      [...TLS, '  curve_preferences: [CurveP257]'],
      'tls_server_config.curve_preferences',
      /unknown curve "CurveP257".*CurveP256/,
    ],
    [
      'cipher suites HTTP/2 cannot use',
      [...TLS, '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]', '  max_version: TLS12'],
      'tls_server_config.cipher_suites',
      /HTTP\/2 needs .*: add one of them, or set http_server_config.http2: false/,
    ],
    [
      'an unknown client_auth_type',
      [...TLS, '  client_auth_type: x'],
      'tls_server_config.client_auth_type',
      /"x" is not valid.*RequireAndVerifyClientCert/,
    ],
    [
      'a client CA without client auth',
      [...TLS, '  client_ca_file: ca.pem'],
      'tls_server_config.client_ca_file',
      /client_auth_type: RequireAndVerifyClientCert/,
    ],
    [
      'an inline client CA without client auth',
      [...TLS, '  client_ca: "x"'],
      'tls_server_config.client_ca',
      /client_auth_type/,
    ],
    [
      'an empty client_allowed_sans',
      [...TLS, '  client_auth_type: RequireAndVerifyClientCert', '  client_allowed_sans: []'],
      'tls_server_config.client_allowed_sans',
      /empty list/,
    ],
    [
      'client_allowed_sans without client certificates',
      [...TLS, '  client_allowed_sans: [a]'],
      'tls_server_config.client_allowed_sans',
      /no client certificate is asked for/,
    ],
    [
      'both cert and cert_file',
      [...TLS, '  cert: "x"'],
      'tls_server_config.cert_file',
      /both cert and cert_file are set/,
    ],
    [
      'a certificate without a key',
      ['tls_server_config:', '  cert_file: server.crt'],
      'tls_server_config',
      /TLS needs a private key/,
    ],
    [
      'a key without a certificate',
      ['tls_server_config:', '  cert_file: ""', '  key_file: server.key'],
      'tls_server_config',
      /TLS needs a certificate/,
    ],
    [
      'client_auth_type alone',
      ['tls_server_config:', '  client_auth_type: RequireAndVerifyClientCert'],
      'tls_server_config',
      /TLS needs a certificate/,
    ],
    [
      'TLS settings without TLS',
      ['tls_server_config:', '  min_version: TLS13'],
      'tls_server_config.min_version',
      /TLS is off because neither cert_file nor cert is set/,
    ],
    [
      'a quoted boolean',
      [...TLS, '  prefer_server_cipher_suites: "yes"'],
      'tls_server_config.prefer_server_cipher_suites',
      /not a boolean \(line 4\): expected true or false/,
    ],
    [
      'a number for a boolean',
      ['http_server_config:', '  http2: 1'],
      'http_server_config.http2',
      /not a boolean/,
    ],
    [
      'a header exporter-toolkit does not allow',
      ['http_server_config:', '  headers:', '    Content-Type: foo'],
      'http_server_config.headers.Content-Type',
      /this header cannot be set \(line 3\): expected one of Strict-Transport-Security/,
    ],
    [
      'a header in another case',
      ['http_server_config:', '  headers:', '    x-frame-options: deny'],
      'http_server_config.headers.x-frame-options',
      /cannot be set/,
    ],
    [
      'a bad X-Frame-Options',
      ['http_server_config:', '  headers:', '    X-Frame-Options: foo'],
      'http_server_config.headers.X-Frame-Options',
      /"foo" is not valid \(line 3\): expected deny or sameorigin/,
    ],
    [
      'a bad X-Content-Type-Options',
      ['http_server_config:', '  headers:', '    X-Content-Type-Options: sniff'],
      'http_server_config.headers.X-Content-Type-Options',
      /expected nosniff/,
    ],
    [
      'a header value over two lines',
      ['http_server_config:', '  headers:', '    Content-Security-Policy: "a\\nb"'],
      'http_server_config.headers.Content-Security-Policy',
      /control character/,
    ],
    [
      'a password in clear',
      ['basic_auth_users:', '  john: doe'],
      'basic_auth_users.john',
      /not a bcrypt hash \(line 2\): expected a bcrypt hash/,
    ],
    [
      'a bcrypt cost below 4',
      ['basic_auth_users:', `  john: ${HASH_A.replace('$10$', '$03$')}`],
      'basic_auth_users.john',
      /not a bcrypt hash/,
    ],
    [
      'a $2x$ hash',
      ['basic_auth_users:', `  john: ${HASH_A.replace('$2y$', '$2x$')}`],
      'basic_auth_users.john',
      /not a bcrypt hash/,
    ],
    [
      'a hash that is a list',
      ['basic_auth_users:', '  john: [a]'],
      'basic_auth_users.john',
      /not a string/,
    ],
    [
      'a user name with a colon',
      ['basic_auth_users:', `  "jo:hn": ${HASH_A}`],
      'basic_auth_users.jo:hn',
      /colon/,
    ],
    [
      'users that are a list',
      ['basic_auth_users: [a]'],
      'basic_auth_users',
      /expected a mapping of user names to bcrypt hashes/,
    ],
    [
      'a bad interval',
      ['rate_limit:', '  interval: 1x', '  burst: 1'],
      'rate_limit.interval',
      /"1x" is not valid \(line 2\): expected a duration in Go's syntax/,
    ],
    [
      'a negative interval',
      ['rate_limit:', '  interval: -1s', '  burst: 1'],
      'rate_limit.interval',
      /negative/,
    ],
    [
      'a negative burst',
      ['rate_limit:', '  interval: 1s', '  burst: -1'],
      'rate_limit.burst',
      /-1 is not valid/,
    ],
    [
      'a burst that is not a number',
      ['rate_limit:', '  interval: 1s', '  burst: many'],
      'rate_limit.burst',
      /not a whole number/,
    ],
  ]
  for (const [name, lines, key, says] of cases) {
    it(`${name}: ${key ?? 'the file'}`, () => {
      refuses(lines, key, says)
    })
  }

  it('does not print a refused password hash', () => {
    const err = refuses(
      ['basic_auth_users:', '  alice: $2y$10$secretbutshort'],
      'basic_auth_users.alice',
      /not a bcrypt hash/,
    )
    assert.doesNotMatch(err.message, /secretbutshort/)
  })
})

describe('parseGoDuration', () => {
  for (const [text, seconds] of [
    ['0', 0],
    ['1s', 1],
    ['1.5h', 5400],
    ['1m30s', 90],
    ['500ms', 0.5],
    ['250us', 0.00025],
    ['10ns', 1e-8],
    ['+2m', 120],
    ['-1s', -1],
    ['.5s', 0.5],
  ] as const) {
    it(`${text} is ${seconds} s`, () => assert.equal(parseGoDuration(text), seconds))
  }
  for (const text of ['', '1', 's', '1x', '1s ', '1d', '--1s', '1.s5']) {
    it(`${JSON.stringify(text)} is not a duration`, () => assert.equal(parseGoDuration(text), null))
  }
})
