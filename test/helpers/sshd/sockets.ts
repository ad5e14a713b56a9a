// Sockets in procfs, for the test bed: TCP tables, the socket inodes a process holds, who holds
// a LISTEN socket (readiness is "who holds the LISTEN socket on the port"), and the socket
// mode's listener.

import { readdirSync, readFileSync } from 'node:fs'
import { readdir, readFile, readlink } from 'node:fs/promises'
import path from 'node:path'
import { isGone } from './processes.ts'

export interface TcpEntry {
  localPort: number
  remotePort: number
  state: number
  inode: number
}

export const TCP_ESTABLISHED = 1
export const TCP_LISTEN = 10

/** /proc/<pid>/net/tcp (IPv4 only: everything here is 127.0.0.1). */
export async function readTcp(procDir: string): Promise<TcpEntry[]> {
  const text = await readFile(path.join(procDir, 'net', 'tcp'), 'utf8')
  const entries: TcpEntry[] = []
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10) continue
    entries.push({
      localPort: Number.parseInt(f[1]!.split(':')[1]!, 16),
      remotePort: Number.parseInt(f[2]!.split(':')[1]!, 16),
      state: Number.parseInt(f[3]!, 16),
      inode: Number(f[9]),
    })
  }
  return entries
}

/** Socket inodes a process holds open. */
export async function socketInodes(procDir: string): Promise<Set<number>> {
  const inodes = new Set<number>()
  let fds: string[]
  try {
    fds = await readdir(path.join(procDir, 'fd'))
  } catch (error) {
    if (isGone(error)) return inodes
    throw error
  }
  await Promise.all(
    fds.map(async (fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(await readlink(path.join(procDir, 'fd', fd)))
        if (m) inodes.add(Number(m[1]))
      } catch (error) {
        if (!isGone(error)) throw error
      }
    }),
  )
  return inodes
}

/** Which of `pids` (in `procfs`) hold a LISTEN socket on `port`, in the order given. */
export async function listenSocketHolders(
  procfs: string,
  pids: readonly number[],
  port: number,
): Promise<number[]> {
  // Every process of the namespace shares its network namespace: the init's view will do.
  const listening = new Set(
    (await readTcp(path.join(procfs, '1')))
      .filter((e) => e.state === TCP_LISTEN && e.localPort === port && e.inode !== 0)
      .map((e) => e.inode),
  )
  if (listening.size === 0) return []
  const held = await Promise.all(
    pids.map(async (pid) =>
      [...(await socketInodes(path.join(procfs, String(pid))))].some((i) => listening.has(i)),
    ),
  )
  return pids.filter((_, i) => held[i])
}

/**
 * The socket mode's listener: the `sshd` child (not a zombie) of the holder, or 0. Synchronous,
 * for a getter; 0 when the namespace is gone.
 */
export function sshdChildSync(procfs: string, parent: number): number {
  for (const pid of childPidsSync(procfs, parent)) {
    try {
      const stat = readFileSync(path.join(procfs, String(pid), 'stat'), 'latin1')
      const close = stat.lastIndexOf(')')
      if (stat.slice(stat.indexOf('(') + 1, close) === 'sshd' && stat[close + 2] !== 'Z') return pid
    } catch {
      // exited meanwhile
    }
  }
  return 0
}

function childPidsSync(procfs: string, parent: number): number[] {
  try {
    const file = path.join(procfs, String(parent), 'task', String(parent), 'children')
    return readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch (error) {
    if (isGone(error) && (error as NodeJS.ErrnoException).code !== 'ENOENT') return []
  }
  // no children file (kernel without CONFIG_PROC_CHILDREN), or the namespace is gone: scan
  const children: number[] = []
  let names: string[]
  try {
    names = readdirSync(procfs)
  } catch {
    return []
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(path.join(procfs, name, 'stat'), 'latin1')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) {
        children.push(Number(name))
      }
    } catch {
      // exited meanwhile
    }
  }
  return children
}
