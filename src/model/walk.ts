/**
 * The process scan as a scrape runs it: sshd's own tree walked down from its
 * listeners through /proc/<pid>/task/<pid>/children, so that a scrape reads a
 * few files per connection whatever else the host runs.
 *
 * - A full scan (scan.ts) finds the roots: the listeners, and connections whose
 *   listener is gone (re-parented by `systemctl restart ssh`; they live on and
 *   are walked from their own root). Each root is kept with its start time.
 * - Each scrape re-validates the roots by start time and walks down from them:
 *   stat and cmdline of each sshd process; a post-auth process's sessions are
 *   counted from its children file without reading them.
 * - An authenticated connection seen by the last walk is settled: its monitor's
 *   title cannot change while it lives, and it forks its post-auth process once
 *   and exits as soon as it has reaped it. It is re-read from three files instead
 *   of six: the monitor's stat (its start time says it is the same process), the
 *   post-auth process's title (its ttys) and children. The post-auth process's
 *   title must still be a post-auth title naming the same user: its pid cannot
 *   have gone to another process while its monitor lives, since the monitor
 *   exits right after reaping it and the kernel hands pids out in a cycle. A pid
 *   reused, a process gone or a zombie fails those checks, and the connection is
 *   read whole.
 * - A full scan again when a listener is gone or was replaced (new orphans and a
 *   new listener), when no listener is known (sshd not started yet), and every
 *   `rescanIntervalMs` for listeners started beside the known ones.
 * - A kernel without children files (CONFIG_PROC_CHILDREN unset) gets the full
 *   scan every scrape.
 *
 * Both paths give the same snapshot (test/model/walk.test.ts, on synthetic
 * trees and on the real sshd test bed).
 */
import { isExporterError } from '../errors.ts'
import { hasExited, type ProcFS, type ProcStat } from '../sources/procfs.ts'
import { parseSshdTitle, SSHD_COMMS, type SshdTitle } from '../sources/proctitle.ts'
import { type FullScanResult, type ScanResult, scanFull } from './scan.ts'
import { buildSnapshot, type SshdProcess } from './snapshot.ts'

/** What the scanner says: pino's Logger, or a test's. */
export interface ScanLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

export interface ProcessScannerOptions {
  /** A full scan at least this often (ms) to find new listeners; 0: a full scan every time. */
  rescanIntervalMs: number
  logger?: ScanLogger | undefined
  /** Monotonic milliseconds; tests pass their own clock. */
  now?: () => number
}

interface Root {
  pid: number
  starttime: number
  listener: boolean
}

/** Why the last scan was a full one, for logs and tests. */
export type FullScanReason =
  'first' | 'interval' | 'no-listener' | 'listener-gone' | 'no-children-file' | 'walk-disabled'

export class ProcessScanner {
  readonly #procfs: ProcFS
  readonly #rescanIntervalMs: number
  readonly #logger: ScanLogger | undefined
  readonly #now: () => number
  #roots: Root[] | null = null
  #lastFull = 0
  #childrenFile: boolean | null = null
  #lastReason: FullScanReason | null = null
  /** The last walk's settled connections (see Walk). */
  #settled: ReadonlyMap<number, Settled> = new Map()

  constructor(procfs: ProcFS, options: ProcessScannerOptions) {
    this.#procfs = procfs
    this.#rescanIntervalMs = options.rescanIntervalMs
    this.#logger = options.logger
    this.#now = options.now ?? (() => performance.now())
  }

  /** Why the last scan read every process; null when it walked. */
  get lastFullScanReason(): FullScanReason | null {
    return this.#lastReason
  }

  scan(): ScanResult {
    const now = this.#now()
    if (this.#rescanIntervalMs <= 0) return this.#full('walk-disabled', now)
    if (this.#childrenFile === false) return this.#full('no-children-file', now)
    if (this.#roots === null) return this.#full('first', now)
    if (!this.#roots.some((r) => r.listener)) return this.#full('no-listener', now)
    if (now - this.#lastFull >= this.#rescanIntervalMs) return this.#full('interval', now)
    return this.#walk(this.#roots) ?? this.#full('listener-gone', now)
  }

  #full(reason: FullScanReason, now: number): FullScanResult {
    const result = scanFull(this.#procfs)
    this.#settled = new Map()
    this.#lastReason = reason
    this.#lastFull = now
    if (reason !== 'walk-disabled' && reason !== 'no-children-file') {
      this.#roots = rootsOf(result)
      this.#checkChildrenFile()
    }
    this.#logger?.debug(
      { reason, processes: result.processes, roots: this.#roots?.length ?? 0 },
      'read every process',
    )
    return result
  }

  /** Looks once, at the first listener found, whether the kernel writes children files. */
  #checkChildrenFile(): void {
    if (this.#childrenFile !== null) return
    const listener = this.#roots?.find((r) => r.listener)
    if (listener === undefined) return
    let present: boolean
    try {
      present = this.#procfs.readChildren(listener.pid) !== null
    } catch (err) {
      if (!isExporterError(err)) throw err
      present = true
    }
    // The listener may have exited since the scan: only its stat tells the two apart.
    if (!present && this.#procfs.readStat(listener.pid) === null) return
    this.#childrenFile = present
    if (!present) {
      this.#logger?.info(
        { file: this.#procfs.path(listener.pid, 'task', listener.pid, 'children') },
        'the kernel writes no children files (CONFIG_PROC_CHILDREN): reading every process each scrape',
      )
    }
  }

  /** The walk; null when a listener is gone or replaced, so the roots must be found again. */
  #walk(roots: readonly Root[]): ScanResult | null {
    const walk = new Walk(this.#procfs, this.#settled)
    const kept: Root[] = []
    for (const root of roots) {
      const stat = walk.stat(root.pid)
      if (stat === null || stat.starttime !== root.starttime || hasExited(stat)) {
        if (root.listener) return null
        continue // that connection has ended
      }
      kept.push(root)
      walk.visit(root.pid, stat)
    }
    this.#roots = kept
    this.#settled = walk.settled
    this.#lastReason = null
    return {
      snapshot: buildSnapshot(walk.sshd, (pid) => walk.children.get(pid) ?? 0),
      mode: 'walk',
      processes: walk.processes,
      malformed: walk.malformed,
      firstProblem: walk.firstProblem,
    }
  }
}

/**
 * A process of an authenticated connection as the last walk found it: a monitor with its
 * post-auth children (`kids`), or one of those post-auth processes.
 */
interface Settled {
  ppid: number
  starttime: number
  title: SshdTitle
  kids: readonly number[]
}

/** One walk's reads and findings. */
class Walk {
  readonly sshd: SshdProcess[] = []
  /** Children of post-auth processes: the sessions. */
  readonly children = new Map<number, number>()
  /** The settled processes this walk found, for the next. */
  readonly settled = new Map<number, Settled>()
  processes = 0
  malformed = 0
  firstProblem: string | null = null
  readonly #procfs: ProcFS
  readonly #previous: ReadonlyMap<number, Settled>

  constructor(procfs: ProcFS, previous: ReadonlyMap<number, Settled> = new Map()) {
    this.#procfs = procfs
    this.#previous = previous
  }

  /** stat of a pid; null when it is gone or malformed (then counted). */
  stat(pid: number): ProcStat | null {
    try {
      const stat = this.#procfs.readStat(pid)
      if (stat !== null) this.processes++
      return stat
    } catch (err) {
      if (!isExporterError(err)) throw err
      this.#problem(this.#procfs.path(pid, 'stat'), err.message)
      return null
    }
  }

  /**
   * Adds an sshd process and walks below it; anything else is left alone. Gives its title,
   * or null when it is not sshd's or is gone.
   */
  visit(pid: number, stat: ProcStat): SshdTitle | null {
    if (!SSHD_COMMS.has(stat.comm)) return null
    const cmdline = this.#procfs.readCmdline(pid)
    if (cmdline === null) return null
    const title = parseSshdTitle(cmdline)
    this.sshd.push({ pid, ppid: stat.ppid, starttime: stat.starttime, title })
    const kids = this.#kids(pid)
    if (kids === null) return title
    if (title.role === 'postauth') {
      // Its children are the sessions: counted, not read.
      this.children.set(pid, kids.length)
      this.settled.set(pid, { ppid: stat.ppid, starttime: stat.starttime, title, kids: [] })
      return title
    }
    let postauth = 0
    for (const kid of kids) {
      const role = this.#child(kid, pid)?.role
      if (role === 'postauth') postauth++
    }
    if (title.role === 'monitor' && postauth > 0 && postauth === kids.length) {
      this.settled.set(pid, { ppid: stat.ppid, starttime: stat.starttime, title, kids })
    }
    return title
  }

  /** A child of a walked process: settled from the last walk, or read whole. */
  #child(pid: number, parent: number): SshdTitle | null {
    const known = this.#previous.get(pid)
    if (
      known?.ppid === parent &&
      known.title.role === 'monitor' &&
      this.#settledMonitor(pid, known)
    )
      return known.title
    const stat = this.stat(pid)
    return stat !== null && !hasExited(stat) ? this.visit(pid, stat) : null
  }

  /**
   * A settled monitor, re-read from its children file and its post-auth processes' titles and
   * children files. False, having added nothing, when anything differs from the last walk: the
   * caller then reads it whole.
   */
  #settledMonitor(pid: number, known: Settled): boolean {
    let stat: ProcStat | null
    try {
      stat = this.#procfs.readStat(pid)
    } catch (err) {
      if (!isExporterError(err)) throw err
      return false
    }
    if (stat === null || stat.starttime !== known.starttime || hasExited(stat)) return false
    const found: { pid: number; entry: Settled; sessions: number }[] = []
    for (const kid of known.kids) {
      const before = this.#previous.get(kid)
      if (before?.ppid !== pid || before.title.role !== 'postauth') return false
      const cmdline = this.#procfs.readCmdline(kid)
      if (cmdline === null) return false
      const title = parseSshdTitle(cmdline)
      if (title.role !== 'postauth' || title.user !== before.title.user) return false
      const sessions = this.#kids(kid, true)
      if (sessions === null) return false
      found.push({ pid: kid, entry: { ...before, title }, sessions: sessions.length })
    }
    this.processes += 1 + found.length
    this.sshd.push({ pid, ppid: known.ppid, starttime: known.starttime, title: known.title })
    this.settled.set(pid, known)
    for (const { pid: kid, entry, sessions } of found) {
      this.sshd.push({ pid: kid, ppid: pid, starttime: entry.starttime, title: entry.title })
      this.children.set(kid, sessions)
      this.settled.set(kid, entry)
    }
    return true
  }

  /**
   * A children file; null when it is gone or malformed. A malformed one is counted unless
   * `quiet` (a settled connection's re-read: the whole read that follows counts it).
   */
  #kids(pid: number, quiet = false): number[] | null {
    try {
      return this.#procfs.readChildren(pid)
    } catch (err) {
      if (!isExporterError(err)) throw err
      if (!quiet) this.#problem(this.#procfs.path(pid, 'task', pid, 'children'), err.message)
      return null
    }
  }

  #problem(path: string, message: string): void {
    this.malformed++
    this.firstProblem ??= `${path}: ${message}`
  }
}

/**
 * The walk's starting points in a full scan's processes: the listeners, and the connection
 * roots whose parent is not a listener (their listener exited and they were re-parented).
 */
function rootsOf(result: FullScanResult): Root[] {
  const byPid = new Map<number, SshdProcess>()
  for (const p of result.sshd) byPid.set(p.pid, p)
  const roots: Root[] = result.snapshot.listeners.map((l) => ({
    pid: l.pid,
    starttime: l.starttime,
    listener: true,
  }))
  for (const c of result.snapshot.connections) {
    const parent = byPid.get(byPid.get(c.pid)?.ppid ?? -1)
    if (parent?.title.role !== 'listener') {
      roots.push({ pid: c.pid, starttime: c.starttime, listener: false })
    }
  }
  return roots
}
