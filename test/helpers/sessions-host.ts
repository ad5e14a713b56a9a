/**
 * The synthetic sshd host that test/sessions/command.test.ts (runSessions) and routes.test.ts (the
 * exporter's /sessions) read: the processes of a procfs tree (tempProcTree), a listener with a
 * pre-auth connection and alice's two sessions on pts/0, bob's rsync over notty where asked; and
 * an empty temporary root to point --path.rootfs at.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FakeProcess } from './procfs-tree.ts'

const LISTENER = 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'

/**
 * The host's processes; starttime is in ticks (100 a second) after boot, and the tree's uptime is
 * 1000 s. listenerStarttime: the listener's (procfs-tree's default when absent).
 */
export function sshdHost(
  options: { listenerStarttime?: number; bob?: boolean } = {},
): FakeProcess[] {
  const listener: FakeProcess = { pid: 100, ppid: 1, comm: 'sshd', cmdline: LISTENER }
  if (options.listenerStarttime !== undefined) listener.starttime = options.listenerStarttime
  return [
    { pid: 1, ppid: 0, comm: 'systemd', cmdline: '/sbin/init' },
    listener,
    { pid: 210, ppid: 100, comm: 'sshd', cmdline: 'sshd: unknown [priv]', starttime: 50_000 },
    { pid: 211, ppid: 210, comm: 'sshd', cmdline: 'sshd: unknown [net]', starttime: 50_001 },
    { pid: 300, ppid: 100, comm: 'sshd', cmdline: 'sshd: alice [priv]', starttime: 20_000 },
    { pid: 301, ppid: 300, comm: 'sshd', cmdline: 'sshd: alice@pts/0', starttime: 20_100 },
    { pid: 302, ppid: 301, comm: 'bash', cmdline: '-bash', starttime: 20_200 },
    { pid: 303, ppid: 301, comm: 'sleep', cmdline: 'sleep\u0000600', starttime: 30_000 },
    ...(options.bob === true
      ? [
          { pid: 400, ppid: 100, comm: 'sshd', cmdline: 'sshd: bob [priv]', starttime: 40_000 },
          { pid: 401, ppid: 400, comm: 'sshd', cmdline: 'sshd: bob@notty', starttime: 40_100 },
          {
            pid: 402,
            ppid: 401,
            comm: 'rsync',
            cmdline: 'rsync\u0000--server\u0000.',
            starttime: 40_200,
          },
        ]
      : []),
  ]
}

/** An empty temporary directory for --path.rootfs; remove() deletes it. */
export function tempRootfs(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sshd-exporter-rootfs-'))
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) }
}
