/**
 * sshd's instances on the host: each listener process, or, with none, sshd's socket held by
 * another process (systemd's ssh.socket, inetd). Each is reported under a `port` label (its
 * lowest listening port) against the configuration it runs with, and each connection is
 * compared with its own instance's MaxSessions. Pure: the snapshot, the configurations and the
 * listening ports come from the scrape. docs/how-it-counts.md, "sshd as systems start it", says
 * how modes are told apart.
 */
import type { EffectiveConfigRead } from '../state/sshd-configs.ts'
import type { Connection, Listener, SshdSnapshot } from './snapshot.ts'
import { DEFAULT_SSH_PORT } from './sockets.ts'

/**
 * How the instance accepts connections: `process`, a listener process (sshd -D, or started by
 * a socket unit with Accept=no after its first connection); `socket_activated`, no sshd process
 * but a socket held for it (Accept=no before the first connection, or an idle Accept=yes unit);
 * `per_connection`, one `sshd -i` per connection (Accept=yes, inetd) and no listener.
 */
export const INSTANCE_MODES = ['process', 'socket_activated', 'per_connection'] as const
export type InstanceMode = (typeof INSTANCE_MODES)[number]

export interface SshdInstance {
  /** The `port` label: the lowest port it listens on. */
  port: string
  mode: InstanceMode
  /** The listener process; null without one. */
  listener: Listener | null
  /** The configuration it runs with; null when it could not be read. */
  config: EffectiveConfigRead | null
  /** Its connections. */
  connections: Connection[]
}

export interface InstanceInputs {
  snapshot: SshdSnapshot
  /** Each listener's configuration by pid (null: not read); `default` for the socket holder's. */
  configs: ReadonlyMap<number, EffectiveConfigRead | null>
  defaultConfig: EffectiveConfigRead | null
  /** sshd's ports that have a listening socket (see readSshdSockets); null when unknown. */
  listening: readonly number[] | null
  /** Each connection's local port, where its socket was matched (root); else null. */
  localPorts: ReadonlyMap<number, number> | null
}

/** The lowest port a configuration listens on (sshd's own order: -p, Port, ListenAddress). */
function portOf(config: EffectiveConfigRead | null): number {
  return config?.values.listenPorts[0] ?? DEFAULT_SSH_PORT
}

/** The instances, listeners first (by pid), and whether sshd accepts connections at all. */
export function sshdInstances(inputs: InstanceInputs): { instances: SshdInstance[]; up: boolean } {
  const { snapshot, configs, defaultConfig, listening, localPorts } = inputs
  const instances: SshdInstance[] = []
  const byListener = new Map<number, SshdInstance>()
  const taken = new Set<string>()
  for (const listener of snapshot.listeners) {
    const config = configs.get(listener.pid) ?? null
    const instance: SshdInstance = {
      port: uniquePort(portOf(config), taken),
      mode: 'process',
      listener,
      config,
      connections: [],
    }
    instances.push(instance)
    byListener.set(listener.pid, instance)
  }
  const unattached: Connection[] = []
  for (const c of snapshot.connections) {
    const instance = c.listener === null ? undefined : byListener.get(c.listener)
    if (instance === undefined) unattached.push(c)
    else instance.connections.push(c)
  }
  // No listener: a socket held on the default configuration's ports, or `sshd -i` connections.
  const held = (listening ?? []).filter(
    (p) => defaultConfig?.values.listenPorts.includes(p) ?? true,
  )
  if (instances.length === 0 && (held.length > 0 || unattached.length > 0)) {
    instances.push({
      port: uniquePort(held[0] ?? portOf(defaultConfig), taken),
      mode: unattached.length > 0 ? 'per_connection' : 'socket_activated',
      listener: null,
      config: defaultConfig,
      connections: [],
    })
  }
  for (const c of unattached) instanceFor(c, instances, localPorts).connections.push(c)
  return { instances, up: snapshot.listeners.length > 0 || held.length > 0 }
}

/**
 * The instance of a connection no listener of which is its parent (re-parented by a restart, or
 * `sshd -i`): the one listening on its socket's port where that is known, else the first.
 */
function instanceFor(
  c: Connection,
  instances: readonly SshdInstance[],
  localPorts: ReadonlyMap<number, number> | null,
): SshdInstance {
  const port = localPorts?.get(c.pid)
  if (port !== undefined) {
    const match = instances.find((i) => i.config?.values.listenPorts.includes(port))
    if (match !== undefined) return match
  }
  return instances[0]!
}

/** Two instances on one port (other addresses) are told apart: `22`, `22-2`. */
function uniquePort(port: number, taken: Set<string>): string {
  let label = String(port)
  for (let n = 2; taken.has(label); n++) label = `${port}-${n}`
  taken.add(label)
  return label
}
