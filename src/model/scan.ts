/**
 * The full scan: /proc/<pid>/stat of every process, cmdline only of sshd's
 * (comm sshd, sshd-session, sshd-auth). A pid that vanishes mid-scan is
 * skipped; a malformed file is skipped and counted, never fatal.
 */
import { isExporterError } from '../errors.ts'
import type { ProcFS } from '../sources/procfs.ts'
import { parseSshdTitle, SSHD_COMMS } from '../sources/proctitle.ts'
import { buildSnapshot, type SshdProcess, type SshdSnapshot } from './snapshot.ts'

export interface ScanResult {
  snapshot: SshdSnapshot
  /** Processes read (stat files parsed). */
  processes: number
  /** procfs entries skipped because their content was malformed. */
  malformed: number
  /** The first malformed entry's message, for a debug log line. */
  firstProblem: string | null
}

export function scanFull(procfs: ProcFS): ScanResult {
  const sshd: SshdProcess[] = []
  // ppid of every live process, to count a post-auth process's sessions.
  const liveChildren = new Map<number, number>()
  let processes = 0
  let malformed = 0
  let firstProblem: string | null = null

  for (const pid of procfs.listPids()) {
    let stat: ReturnType<ProcFS['readStat']>
    try {
      stat = procfs.readStat(pid)
    } catch (err) {
      if (!isExporterError(err)) throw err
      malformed++
      firstProblem ??= `${procfs.path(pid, 'stat')}: ${err.message}`
      continue
    }
    if (stat === null) continue
    processes++
    if (stat.state === 'Z' || stat.state === 'X') continue
    liveChildren.set(stat.ppid, (liveChildren.get(stat.ppid) ?? 0) + 1)
    if (!SSHD_COMMS.has(stat.comm)) continue
    const cmdline = procfs.readCmdline(pid)
    if (cmdline === null) continue
    sshd.push({
      pid,
      ppid: stat.ppid,
      starttime: stat.starttime,
      title: parseSshdTitle(cmdline),
    })
  }

  const snapshot = buildSnapshot(sshd, (pid) => liveChildren.get(pid) ?? 0)
  return { snapshot, processes, malformed, firstProblem }
}
