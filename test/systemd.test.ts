/**
 * deploy/systemd, read as text: the unit grants exactly the privileges
 * test/real/privileges.test.ts proves a user that is not root needs, it keeps the hardening that
 * the privilege tests show the exporter can live with, and its environment file names only real
 * flags. test/real/systemd.test.ts has systemd-analyze check it.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { COLLECTORS } from '../src/collectors/index.ts'
import { parseFlags } from '../src/flags/parse.ts'
import { envName } from '../src/flags/spec.ts'
import { LOG_GROUPS, NON_ROOT_CAPABILITIES } from './helpers/privileges.ts'

const DIR = join(import.meta.dirname, '..', 'deploy', 'systemd')
const UNIT = join(DIR, 'sshd-exporter.service')
const DEFAULTS = join(DIR, 'sshd-exporter.default')

type Unit = Map<string, Map<string, string[]>>

/**
 * A unit file's sections and settings, each setting's values in order (a key given again adds
 * one; an empty assignment resets the list, as systemd does for list settings).
 */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map()
  let section: Map<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      section = new Map()
      unit.set(header[1]!, section)
      continue
    }
    assert.ok(section, `a setting before any section: ${line}`)
    const eq = line.indexOf('=')
    assert.ok(eq > 0, `not key=value: ${line}`)
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    section.set(key, value === '' ? [] : [...(section.get(key) ?? []), value])
  }
  return unit
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'))
const service = unit.get('Service') ?? new Map<string, string[]>()

/** The values of a setting, each split on spaces, as one list. */
function words(key: string): string[] {
  return (service.get(key) ?? []).flatMap((v) => v.split(/\s+/).filter(Boolean))
}

function one(key: string): string | undefined {
  const values = service.get(key)
  assert.ok(values === undefined || values.length === 1, `${key} is set once`)
  return values?.[0]
}

describe('systemd unit', () => {
  it('grants exactly the capabilities and groups the privilege tests prove necessary', () => {
    const needed = [...NON_ROOT_CAPABILITIES].sort()
    assert.deepEqual(words('CapabilityBoundingSet').sort(), needed)
    assert.deepEqual(words('AmbientCapabilities').sort(), needed)
    assert.deepEqual(words('SupplementaryGroups').sort(), [...LOG_GROUPS].sort())
    const user = one('User')
    assert.ok(user !== undefined && user !== 'root' && user !== '0', `User=${user}`)
    assert.equal(one('DynamicUser') ?? 'no', 'no', 'a system user, made at install')
  })

  it('is hardened, without what would blind it', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      PrivateMounts: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectControlGroups: 'yes',
      ProtectClock: 'yes',
      ProtectHostname: 'yes',
      RestrictNamespaces: 'yes',
      RestrictRealtime: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      SystemCallArchitectures: 'native',
    }
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key)
    assert.deepEqual(words('RestrictAddressFamilies').sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX'])
    assert.ok(words('SystemCallFilter').includes('@system-service'))
    // None of these may be on: each hides sshd's processes or breaks Node.js.
    assert.equal(
      service.get('PrivateUsers'),
      undefined,
      "capabilities in a user namespace don't reach sshd",
    )
    assert.equal(service.get('ProtectProc'), undefined, "sshd's processes are other users'")
    assert.equal(service.get('ProcSubset'), undefined, '/proc/uptime is read')
    assert.equal(service.get('MemoryDenyWriteExecute'), undefined, "V8's JIT")
    assert.equal(service.get('ReadWritePaths'), undefined, 'it writes nowhere')
  })

  it('reloads with SIGHUP, reads its environment file, and does not restart on a bad flag', () => {
    assert.match(one('ExecReload') ?? '', /^\/bin\/kill -HUP \$MAINPID$/)
    assert.equal(one('EnvironmentFile'), '-/etc/default/sshd-exporter')
    assert.match(
      one('ExecStart') ?? '',
      /^\/\S+\/node --optimize-for-size \/opt\/sshd-exporter\/dist\/cli\.js \$ARGS$/,
    )
    assert.equal(one('RestartPreventExitStatus'), '2')
    assert.deepEqual(unit.get('Install')?.get('WantedBy'), ['multi-user.target'])
  })

  it('names only flags that exist in its environment file', () => {
    const help = parseFlags(['--help'], {}, COLLECTORS)
    assert.equal(help.kind, 'help')
    const known = new Set([...help.text.matchAll(/\$(SSHD_EXPORTER_[A-Z0-9_]+)/g)].map((m) => m[1]))
    const text = readFileSync(DEFAULTS, 'utf8')
    const named = [...text.matchAll(/^#? ?(SSHD_EXPORTER_[A-Z0-9_]+)=/gm)].map((m) => m[1]!)
    assert.ok(named.length > 0)
    for (const name of named) assert.ok(known.has(name), `${name} is no flag's variable`)
    assert.equal(envName('web.listen-address'), 'SSHD_EXPORTER_WEB_LISTEN_ADDRESS')
    // Set, not commented out: only ARGS, empty.
    const set = text.split('\n').filter((l) => /^[A-Z]/.test(l))
    assert.deepEqual(set, ['ARGS=""'])
  })
})
