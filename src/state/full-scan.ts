/**
 * The full scan: /proc/<pid>/stat of every process, cmdline only of sshd's
 * (SSHD_COMMS: sshd, sshd-session, sshd-auth and their .pam and .krb5 builds),
 * and the socket holders that start sshd. A pid that vanishes mid-scan is
 * skipped; a malformed file is skipped and counted, never fatal.
 */
import { isExporterError } from '../errors.ts'
import type { ProcFS, StatFields } from '../sources/procfs.ts'
import { parseSshdTitle, type SshdTitle, sshdArgvTitle } from '../sources/proctitle.ts'
import { buildSnapshot, type SshdProcess, type SshdSnapshot } from '../model/snapshot.ts'

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
  /** Live processes that may hold sshd's socket and start it (SOCKET_HOLDER_COMMS), pid 1 too. */
  holders: readonly { pid: number; starttime: number }[]
}

/**
 * An sshd process's title from /proc/<pid>/cmdline; one that is still its argv is read whole
 * and told by its options (sshdArgvTitle). Null when the process is gone.
 */
export function readSshdTitle(procfs: ProcFS, pid: number, cmdline: string): SshdTitle | null {
  const title = parseSshdTitle(cmdline)
  if (title.role !== 'other') return title
  const argv = procfs.readArgv(pid)
  return argv === null ? null : sshdArgvTitle(argv)
}

/** A PID namespace depth (ProcFS.readNsDepth) from which a process is a container's. */
const DEEPER = 1

export function scanFull(procfs: ProcFS): FullScanResult {
  const sshd: SshdProcess[] = []
  // Children of every process, zombies included: a session sshd has not yet reaped is still
  // open to sshd, and /proc/<pid>/task/<pid>/children (the walk) lists it the same way.
  const children = new Map<number, number>()
  let processes = 0
  let malformed = 0
  let firstProblem: string | null = null

  // One object for every process's fields: a host can run tens of thousands.
  const holders: { pid: number; starttime: number }[] = []
  const stat: StatFields = { ppid: 0, starttime: 0, exited: false, sshd: false, holder: false }
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
      firstProblem ??= err.message // it names the file
      continue
    }
    processes++
    children.set(stat.ppid, (children.get(stat.ppid) ?? 0) + 1)
    if (stat.exited) continue
    if ((stat.holder || pid === 1) && !stat.sshd) {
      holders.push({ pid, starttime: stat.starttime })
      continue
    }
    if (!stat.sshd) continue
    const cmdline = procfs.readCmdline(pid)
    const title = cmdline === null ? null : readSshdTitle(procfs, pid, cmdline)
    if (title === null) continue
    sshd.push({ pid, ppid: stat.ppid, starttime: stat.starttime, title })
  }

  const own = inOwnNamespace(procfs, sshd)
  const hostHolders = holders.filter((h) => (procfs.readNsDepth(h.pid) ?? 0) < DEEPER)
  const snapshot = buildSnapshot(own, (pid) => children.get(pid) ?? 0)
  return {
    snapshot,
    mode: 'full',
    processes,
    malformed,
    firstProblem,
    sshd: own,
    children,
    holders: hostHolders,
  }
}

/**
 * sshd's processes in the procfs's own PID namespace: a top-level sshd process (its parent not
 * sshd) in a namespace of its own is a container's sshd, left out with everything below it.
 * Only those top-level processes are read (their status), once a full scan.
 */
function inOwnNamespace(procfs: ProcFS, sshd: SshdProcess[]): SshdProcess[] {
  const pids = new Set<number>()
  for (let i = 0; i < sshd.length; i++) pids.add(sshd[i]!.pid)
  const foreign = new Set<number>()
  for (let i = 0; i < sshd.length; i++) {
    const p = sshd[i]!
    if (!pids.has(p.ppid) && (procfs.readNsDepth(p.pid) ?? 0) >= DEEPER) foreign.add(p.pid)
  }
  if (foreign.size === 0) return sshd
  const byPid = new Map<number, SshdProcess>()
  for (let i = 0; i < sshd.length; i++) byPid.set(sshd[i]!.pid, sshd[i]!)
  const isForeign = (p: SshdProcess): boolean => {
    for (let q: SshdProcess | undefined = p, depth = 0; q !== undefined && depth < 16; depth++) {
      if (foreign.has(q.pid)) return true
      q = byPid.get(q.ppid)
    }
    return false
  }
  return sshd.filter((p) => !isForeign(p))
}
