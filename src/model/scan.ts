/**
 * The full scan: /proc/<pid>/stat of every process, cmdline only of sshd's
 * (comm sshd, sshd-session, sshd-auth). A pid that vanishes mid-scan is
 * skipped; a malformed file is skipped and counted, never fatal.
 */
import { isExporterError } from '../errors.ts'
import type { ProcFS, StatFields } from '../sources/procfs.ts'
import { parseSshdTitle } from '../sources/proctitle.ts'
import { buildSnapshot, type SshdProcess, type SshdSnapshot } from './snapshot.ts'

export interface ScanResult {
  snapshot: SshdSnapshot
  /** How sshd's processes were found: every process read, or sshd's tree walked. */
  mode: 'full' | 'walk'
  /** Processes read (stat files parsed). */
  processes: number
  /** procfs entries skipped because their content was malformed. */
  malformed: number
  /** The first malformed entry's message, for a debug log line. */
  firstProblem: string | null
}

/** A full scan's result with the live sshd processes it found, for the walk to start from. */
export interface FullScanResult extends ScanResult {
  sshd: readonly SshdProcess[]
  /** Children of every process by pid, zombies included. */
  children: ReadonlyMap<number, number>
}

export function scanFull(procfs: ProcFS): FullScanResult {
  const sshd: SshdProcess[] = []
  // Children of every process, zombies included: a session sshd has not yet reaped is still
  // open to sshd, and /proc/<pid>/task/<pid>/children (the walk) lists it the same way.
  const children = new Map<number, number>()
  let processes = 0
  let malformed = 0
  let firstProblem: string | null = null

  // One object for every process's fields: a host can run tens of thousands.
  const stat: StatFields = { ppid: 0, starttime: 0, exited: false, sshd: false }
  // Indexed loops: this runs once every few minutes over every process, before V8 has optimised
  // it, and an unoptimised for-of makes an object per element (72,000 of them on a large host).
  const pids = procfs.listPids()
  for (let i = 0; i < pids.length; i++) {
    const pid = pids[i]!
    try {
      if (!procfs.readStatFields(pid, stat)) continue
    } catch (err) {
      if (!isExporterError(err)) throw err
      malformed++
      firstProblem ??= `${procfs.path(pid, 'stat')}: ${err.message}`
      continue
    }
    processes++
    children.set(stat.ppid, (children.get(stat.ppid) ?? 0) + 1)
    if (stat.exited || !stat.sshd) continue
    const cmdline = procfs.readCmdline(pid)
    if (cmdline === null) continue
    sshd.push({
      pid,
      ppid: stat.ppid,
      starttime: stat.starttime,
      title: parseSshdTitle(cmdline),
    })
  }

  const snapshot = buildSnapshot(sshd, (pid) => children.get(pid) ?? 0)
  return { snapshot, mode: 'full', processes, malformed, firstProblem, sshd, children }
}
