import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { EffectiveConfigRead } from '../../src/state/sshd-configs.ts'
import { sshdInstances } from '../../src/model/instances.ts'
import type { Connection, Listener, SshdSnapshot } from '../../src/model/snapshot.ts'
import { SSHD_DEFAULTS } from '../../src/sources/sshd-config/values.ts'

function config(ports: number[], maxSessions = 10): EffectiveConfigRead {
  return {
    values: {
      ...structuredClone(SSHD_DEFAULTS),
      channelTimeouts: [],
      listenPorts: ports,
      maxSessions,
    },
    source: 'file',
    problems: [],
    version: '10.0',
    file: '/etc/ssh/sshd_config',
    readAt: 0,
  }
}

function listener(pid: number): Listener {
  return {
    pid,
    starttime: pid,
    startups: 0,
    maxStartupsBegin: 10,
    maxStartupsFull: 100,
    argv: ['/usr/sbin/sshd', '-D'],
  }
}

function conn(pid: number, listener: number | null): Connection {
  return {
    pid,
    starttime: pid,
    listener,
    state: 'authenticated',
    user: 'alice',
    sessions: 1,
    ptySessions: 0,
    ttys: [],
    postauth: [],
  }
}

function summary(r: ReturnType<typeof sshdInstances>) {
  return {
    up: r.up,
    instances: r.instances.map((i) => [
      i.port,
      i.mode,
      i.listener?.pid ?? null,
      i.connections.map((c) => c.pid),
    ]),
  }
}

const snap = (listeners: Listener[], connections: Connection[]): SshdSnapshot => ({
  listeners,
  connections,
})

describe('sshdInstances', () => {
  it('one listener per instance, each under its lowest port, its connections its own', () => {
    const r = sshdInstances({
      snapshot: snap(
        [listener(100), listener(200)],
        [conn(110, 100), conn(210, 200), conn(211, 200)],
      ),
      configs: new Map([
        [100, config([22])],
        [200, config([2222, 2200])],
      ]),
      defaultConfig: config([22]),
      listening: [22, 2200, 2222],
      localPorts: null,
    })
    assert.deepEqual(summary(r), {
      up: true,
      instances: [
        ['22', 'process', 100, [110]],
        ['2222', 'process', 200, [210, 211]],
      ],
    })
  })

  it('a connection no listener owns goes to the instance on its port, else to the first', () => {
    const input = {
      snapshot: snap([listener(100), listener(200)], [conn(300, null)]),
      configs: new Map([
        [100, config([22])],
        [200, config([2222])],
      ]),
      defaultConfig: config([22]),
      listening: [22, 2222],
    }
    assert.deepEqual(
      summary(sshdInstances({ ...input, localPorts: new Map([[300, 2222]]) })).instances[1],
      ['2222', 'process', 200, [300]],
    )
    assert.deepEqual(summary(sshdInstances({ ...input, localPorts: null })).instances[0], [
      '22',
      'process',
      100,
      [300],
    ])
  })

  it('no listener, a socket held on sshd port: up, socket_activated, no connections', () => {
    const r = sshdInstances({
      snapshot: snap([], []),
      configs: new Map(),
      defaultConfig: config([22]),
      listening: [22],
      localPorts: null,
    })
    assert.deepEqual(summary(r), { up: true, instances: [['22', 'socket_activated', null, []]] })
  })

  it('no listener, sshd -i connections and the socket: per_connection, up', () => {
    const r = sshdInstances({
      snapshot: snap([], [conn(600, null), conn(610, null)]),
      configs: new Map(),
      defaultConfig: config([22]),
      listening: [22],
      localPorts: null,
    })
    assert.deepEqual(summary(r), {
      up: true,
      instances: [['22', 'per_connection', null, [600, 610]]],
    })
  })

  it('neither a listener nor a socket on sshd port: down; connections that live on are still counted', () => {
    const input = { configs: new Map(), defaultConfig: config([22]), localPorts: null }
    // Something else listens on 8080: not sshd's.
    assert.deepEqual(summary(sshdInstances({ ...input, snapshot: snap([], []), listening: [] })), {
      up: false,
      instances: [],
    })
    assert.deepEqual(
      summary(sshdInstances({ ...input, snapshot: snap([], [conn(300, null)]), listening: [] })),
      { up: false, instances: [['22', 'per_connection', null, [300]]] },
    )
  })

  it('two instances on one port (other addresses) get labels of their own', () => {
    const r = sshdInstances({
      snapshot: snap([listener(100), listener(200)], []),
      configs: new Map([
        [100, config([22])],
        [200, config([22])],
      ]),
      defaultConfig: null,
      listening: [22],
      localPorts: null,
    })
    assert.deepEqual(
      r.instances.map((i) => i.port),
      ['22', '22-2'],
    )
  })

  it('a listener whose configuration could not be read: port 22, no configuration', () => {
    const r = sshdInstances({
      snapshot: snap([listener(100)], []),
      configs: new Map([[100, null]]),
      defaultConfig: null,
      listening: null,
      localPorts: null,
    })
    assert.deepEqual(summary(r), { up: true, instances: [['22', 'process', 100, []]] })
    assert.equal(r.instances[0]!.config, null)
  })
})
