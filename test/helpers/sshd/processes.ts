// procfs reading, the test bed's own (deliberately independent of src/): a process, every process
// of a namespace's /proc, their tree as text, a host process's children.

import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

/** An error that says the process (or its namespace) is gone, or never was. */
export function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EINVAL'
}

export interface ProcessInfo {
  pid: number
  ppid: number
  /** /proc/<pid>/stat's comm: the executable's name, at most 15 characters. */
  comm: string
  /** One-letter state from stat (S, R, Z, …). */
  state: string
  /** Effective uid (from status). */
  uid: number
  /** /proc/<pid>/cmdline up to the first NUL: the process title. */
  title: string
  /** /proc/<pid>/cmdline as read, NULs included. */
  cmdline: string
}

/** One process from a procfs, or undefined when it is gone. */
export async function readProcess(procfs: string, pid: number): Promise<ProcessInfo | undefined> {
  const dir = path.join(procfs, String(pid))
  try {
    const [stat, cmdline, status] = await Promise.all([
      readFile(path.join(dir, 'stat'), 'latin1'),
      readFile(path.join(dir, 'cmdline'), 'utf8'),
      readFile(path.join(dir, 'status'), 'utf8'),
    ])
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    const rest = stat.slice(close + 2).split(' ')
    const uidLine = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)
    const nul = cmdline.indexOf('\0')
    return {
      pid,
      ppid: Number(rest[1]),
      comm: stat.slice(open + 1, close),
      state: rest[0] ?? '?',
      uid: uidLine ? Number(uidLine[2]) : -1,
      title: nul === -1 ? cmdline : cmdline.slice(0, nul),
      cmdline,
    }
  } catch (error) {
    if (isGone(error)) return undefined
    throw error
  }
}

/** Every process in a procfs, sorted by pid. */
export async function listProcesses(procfs: string): Promise<ProcessInfo[]> {
  const pids = (await readdir(procfs))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b)
  const procs = await Promise.all(pids.map((pid) => readProcess(procfs, pid)))
  return procs.filter((p): p is ProcessInfo => p !== undefined)
}

/** An indented tree (pid, ppid, comm, state, uid, title), for assertion and timeout messages. */
export function formatProcessTree(procs: readonly ProcessInfo[]): string {
  const byParent = new Map<number, ProcessInfo[]>()
  const pids = new Set(procs.map((p) => p.pid))
  for (const p of procs) {
    const key = pids.has(p.ppid) ? p.ppid : -1
    byParent.set(key, [...(byParent.get(key) ?? []), p])
  }
  const lines: string[] = []
  const walk = (parent: number, depth: number): void => {
    for (const p of byParent.get(parent) ?? []) {
      lines.push(
        `${'  '.repeat(depth)}${p.pid} (ppid ${p.ppid}) ${p.comm} ${p.state} uid=${p.uid} ${JSON.stringify(p.title)}`,
      )
      walk(p.pid, depth + 1)
    }
  }
  walk(-1, 0)
  return lines.join('\n')
}

/** Host pids of a process's children. */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
    return text.trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    // kernels without the children file: scan
    return (await listProcesses('/proc')).filter((p) => p.ppid === pid).map((p) => p.pid)
  }
}
