/**
 * Writes a procfs-shaped tree (<pid>/stat, <pid>/cmdline and
 * <pid>/task/<pid>/children) for tests that
 * point --path.procfs at a fixture root. The stat line follows the layout of
 * a real one captured from an sshd 9.2 listener (test/sources/procfs.test.ts);
 * only pid, comm, state, ppid and starttime vary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface FakeProcess {
  pid: number
  ppid: number
  comm: string
  /** The process title as sshd sets it, or argv joined by NUL; defaults to comm. */
  cmdline?: string
  state?: string
  starttime?: number
  /**
   * /proc/<pid>/status's NSpid: its pid in this procfs's namespace and in each nested one (a
   * container's sshd: `[pid, 1]`). No status file when absent, as on a kernel before 4.1.
   */
  nspid?: readonly number[]
}

export function statLine(p: FakeProcess): string {
  const start = p.starttime ?? 1000 + p.pid
  return `${p.pid} (${p.comm}) ${p.state ?? 'S'} ${p.ppid} ${p.pid} ${p.pid} 0 -1 4194560 577 0 1 0 0 0 0 0 20 0 1 0 ${start} 15831040 2229 18446744073709551615 94021086658560 94021087503245 140720571607456 0 0 0 0 4098 81925 1 0 0 17 1 0 0 0 0 0 94021087856496 94021087872656 94021623504896 140720571615897 140720571615982 140720571615982 140720571617257 0\n`
}

/** Seconds since boot in every fixture tree's /proc/uptime; processes start at 10 s + pid ticks. */
export const FIXTURE_UPTIME = 1000

export interface ProcTreeOptions {
  /**
   * Write <pid>/task/<pid>/children (the children in pid order, each followed by a space, as
   * Linux writes them); false for a kernel without CONFIG_PROC_CHILDREN. Default true.
   */
  childrenFiles?: boolean
}

export function writeProcTree(
  root: string,
  processes: readonly FakeProcess[],
  options: ProcTreeOptions = {},
): void {
  mkdirSync(root, { recursive: true })
  writeFileSync(join(root, 'uptime'), `${FIXTURE_UPTIME}.00 1500.00\n`)
  const children = new Map<number, number[]>()
  for (const p of processes) {
    const siblings = children.get(p.ppid)
    if (siblings === undefined) children.set(p.ppid, [p.pid])
    else siblings.push(p.pid)
  }
  for (const p of processes) {
    const dir = join(root, String(p.pid))
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'stat'), statLine(p))
    // sshd pads its title with NULs to the length of the original argv.
    writeFileSync(join(dir, 'cmdline'), `${p.cmdline ?? p.comm}\0\0\0\0`)
    if (p.nspid !== undefined) {
      // The lines around NSpid as Linux 6.x writes them (fs/proc/array.c, task_state).
      const ns = p.nspid.join('\t')
      writeFileSync(
        join(dir, 'status'),
        `Name:\t${p.comm}\nState:\tS (sleeping)\nTgid:\t${p.pid}\nNgid:\t0\nPid:\t${p.pid}\nPPid:\t${p.ppid}\nNStgid:\t${ns}\nNSpid:\t${ns}\nNSpgid:\t${ns}\nNSsid:\t${ns}\n`,
      )
    }
    if (options.childrenFiles === false) continue
    const task = join(dir, 'task', String(p.pid))
    mkdirSync(task, { recursive: true })
    const kids = (children.get(p.pid) ?? []).sort((a, b) => a - b)
    writeFileSync(join(task, 'children'), kids.map((k) => `${k} `).join(''))
  }
}

/** A temporary procfs tree; remove() deletes it. */
export function tempProcTree(
  processes: readonly FakeProcess[],
  options: ProcTreeOptions = {},
): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sshd-exporter-procfs-'))
  writeProcTree(root, processes, options)
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) }
}
