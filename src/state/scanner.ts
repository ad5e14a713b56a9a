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
 * Both paths give the same snapshot (test/state/scanner.test.ts, on synthetic
 * trees and on the real sshd test bed).
 */
import { isExporterError } from '../errors.ts'
import { hasExited, type ProcFS, type ProcStat } from '../sources/procfs.ts'
import { parseSshdTitle, SSHD_COMMS, type SshdTitle } from '../sources/proctitle.ts'
import { type FullScanResult, readSshdTitle, type ScanResult, scanFull } from './full-scan.ts'
import {
  buildSnapshot,
  type Connection,
  connectionOf,
  type SshdProcess,
} from '../model/snapshot.ts'

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

/**
 * Where a walk starts: a listener; a connection whose listener is gone; or, while no listener
 * runs, a process that holds sshd's socket and starts sshd on a connection (systemd, inetd).
 */
interface Root {
  pid: number
  starttime: number
  kind: 'listener' | 'connection' | 'holder'
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
  /** Settled connections by monitor pid (see Walk), kept and updated in place from walk to walk. */
  #settled = new Map<number, Settled>()
  /** Counts walks, to tell the settled connections the last one found from those it did not. */
  #generation = 0

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
    if (!this.#roots.some((r) => r.kind !== 'connection')) return this.#full('no-listener', now)
    if (now - this.#lastFull >= this.#rescanIntervalMs) return this.#full('interval', now)
    return this.#walk(this.#roots) ?? this.#full('listener-gone', now)
  }

  #full(reason: FullScanReason, now: number): FullScanResult {
    const result = scanFull(this.#procfs)
    this.#settled.clear()
    this.#lastReason = reason
    this.#lastFull = now
    if (reason !== 'walk-disabled' && reason !== 'no-children-file') {
      const byPid = new Map<number, SshdProcess>()
      // Indexed loops: see scanFull.
      for (let i = 0; i < result.sshd.length; i++) byPid.set(result.sshd[i]!.pid, result.sshd[i]!)
      this.#roots = rootsOf(result, byPid)
      this.#checkChildrenFile()
      this.#settleFrom(result)
    }
    this.#logger?.debug(
      { reason, processes: result.processes, roots: this.#roots?.length ?? 0 },
      'read every process',
    )
    return result
  }

  /**
   * The settled connections a full scan found, as a walk that read them whole would keep them:
   * the next walk re-reads them from three files each instead of reading them whole again (at
   * 10,000 connections that first walk's garbage set the exporter's peak memory). Their titles
   * are compared afresh on that re-read: the scan kept no raw cmdline.
   */
  #settleFrom(result: FullScanResult): void {
    const posts = new Map<number, SshdProcess[]>()
    /** Live sshd children by parent. */
    const sshdKids = new Map<number, number>()
    const { sshd } = result
    for (let i = 0; i < sshd.length; i++) {
      const p = sshd[i]!
      sshdKids.set(p.ppid, (sshdKids.get(p.ppid) ?? 0) + 1)
      if (p.title.role !== 'postauth') continue
      const siblings = posts.get(p.ppid)
      if (siblings === undefined) posts.set(p.ppid, [p])
      else siblings.push(p)
    }
    const connections = new Map<number, Connection>()
    const all = result.snapshot.connections
    for (let i = 0; i < all.length; i++) connections.set(all[i]!.pid, all[i]!)
    for (let i = 0; i < sshd.length; i++) {
      const m = sshd[i]!
      // Only a connection's root is settled: a monitor below another process is not.
      if (m.title.role !== 'monitor') continue
      const kids = posts.get(m.pid)
      const connection = connections.get(m.pid)
      // Every live sshd child a post-auth process, as a walk settles them. A zombie is not one:
      // 10.0's `sshd -i` leaves its forked child unreaped under the monitor for good.
      if (kids === undefined || connection === undefined) continue
      if (kids.length !== (sshdKids.get(m.pid) ?? 0)) continue
      const settledPosts = kids.map((k) => settledPost(k, null, result.children.get(k.pid) ?? 0))
      this.#settled.set(m.pid, settledRecord(m, settledPosts, connection, this.#generation))
    }
  }

  /** Looks once, at the first listener or holder found, whether the kernel writes children files. */
  #checkChildrenFile(): void {
    if (this.#childrenFile !== null) return
    const listener = this.#roots?.find((r) => r.kind !== 'connection')
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
        { pid: listener.pid },
        'the kernel writes no children files (CONFIG_PROC_CHILDREN): reading every process each scrape',
      )
    }
  }

  /** The walk; null when a listener is gone or replaced, so the roots must be found again. */
  #walk(roots: readonly Root[]): ScanResult | null {
    const generation = ++this.#generation
    const walk = new Walk(this.#procfs, this.#settled, generation)
    const kept: Root[] = []
    for (const root of roots) {
      const stat = walk.stat(root.pid)
      if (stat === null || stat.starttime !== root.starttime || hasExited(stat)) {
        if (root.kind !== 'connection') return null
        continue // that connection has ended
      }
      kept.push(root)
      if (root.kind === 'holder') walk.visitChildren(root.pid)
      else walk.visit(root.pid, stat)
    }
    this.#roots = kept
    this.#lastReason = null
    // The processes read whole; at steady state the few connections that are new or changed.
    const whole = buildSnapshot(walk.sshd, (pid) => walk.children.get(pid) ?? 0)
    if (walk.fresh.length > 0) {
      const wholeByPid = new Map<number, Connection>()
      for (const c of whole.connections) wholeByPid.set(c.pid, c)
      for (const settled of walk.fresh) {
        // Only a connection's root is re-read as settled: a monitor below another process is not.
        const connection = wholeByPid.get(settled.pid)
        if (connection === undefined) continue
        settled.connection = connection
        this.#settled.set(settled.pid, settled)
      }
    }
    this.#settled.forEach((settled, pid) => {
      if (settled.seen !== generation) this.#settled.delete(pid)
    })
    const connections =
      walk.kept.length === 0 ? whole.connections : whole.connections.concat(walk.kept)
    connections.sort(byConnectionPid)
    return {
      snapshot: { listeners: whole.listeners, connections },
      mode: 'walk',
      processes: walk.processes,
      malformed: walk.malformed,
      firstProblem: walk.firstProblem,
    }
  }
}

function byConnectionPid(a: Connection, b: Connection): number {
  return a.pid - b.pid
}

/** A post-auth process of a settled connection, as last read. */
interface SettledPost {
  pid: number
  starttime: number
  /**
   * Its title as read (cmdline to the first NUL), to tell a changed one without parsing; null
   * when it came from a full scan, which keeps only the parsed title.
   */
  cmdline: string | null
  title: PostauthTitle
  sessions: number
}

type PostauthTitle = Extract<SshdTitle, { role: 'postauth' }>

/**
 * An authenticated connection a walk read whole and keeps re-reading cheaply: a listener's live
 * monitor whose children are all live post-auth processes.
 */
interface Settled {
  pid: number
  ppid: number
  starttime: number
  title: SshdTitle
  posts: SettledPost[]
  /** The connection as last built; null until the walk that read it whole has built it. */
  connection: Connection | null
  /** The walk that last found it. */
  seen: number
}

/** One walk's reads and findings. */
class Walk {
  /** The sshd processes read whole. */
  readonly sshd: SshdProcess[] = []
  /** Children of post-auth processes read whole: the sessions. */
  readonly children = new Map<number, number>()
  /** Connections re-read as settled, unchanged objects when nothing changed. */
  readonly kept: Connection[] = []
  /** Connections read whole that are settled from now on (their connection still null). */
  readonly fresh: Settled[] = []
  processes = 0
  malformed = 0
  firstProblem: string | null = null
  readonly #procfs: ProcFS
  readonly #settled: ReadonlyMap<number, Settled>
  readonly #generation: number
  /** Post-auth processes read whole, for the settled connections they make. */
  readonly #posts = new Map<number, SettledPost>()

  constructor(procfs: ProcFS, settled: ReadonlyMap<number, Settled> = new Map(), generation = 0) {
    this.#procfs = procfs
    this.#settled = settled
    this.#generation = generation
  }

  /** stat of a pid; null when it is gone or malformed (then counted). */
  stat(pid: number): ProcStat | null {
    try {
      const stat = this.#procfs.readStat(pid)
      if (stat !== null) this.processes++
      return stat
    } catch (err) {
      if (!isExporterError(err)) throw err
      this.#problem(err.message)
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
    const title = cmdline === null ? null : readSshdTitle(this.#procfs, pid, cmdline)
    if (title === null) return null
    const read: SshdProcess = { pid, ppid: stat.ppid, starttime: stat.starttime, title }
    this.sshd.push(read)
    const kids = this.#kids(pid)
    if (kids === null) return title
    if (title.role === 'postauth') {
      // Its children are the sessions: counted, not read.
      this.children.set(pid, kids.length)
      this.#posts.set(pid, settledPost(read, cmdline, kids.length))
      return title
    }
    this.#visitKids(pid, title, read, kids)
    return title
  }

  /** Walks the children of a socket holder (not sshd): the sshd among them and below. */
  visitChildren(pid: number): void {
    const kids = this.#kids(pid)
    if (kids === null) return
    for (const kid of kids) this.#child(kid, pid)
  }

  #visitKids(pid: number, title: SshdTitle, read: SshdProcess, kids: readonly number[]): void {
    const posts: SettledPost[] = []
    let sshdKids = 0
    for (const kid of kids) {
      const role = this.#child(kid, pid)?.role
      if (role !== undefined) sshdKids++
      if (role !== 'postauth') continue
      const post = this.#posts.get(kid)
      if (post !== undefined) posts.push(post)
    }
    // Every live sshd child a post-auth process (see #settleFrom).
    if (title.role === 'monitor' && posts.length > 0 && posts.length === sshdKids) {
      this.fresh.push(settledRecord(read, posts, null, this.#generation))
    }
  }

  /** A child of a walked process: settled from the last walk, or read whole. */
  #child(pid: number, parent: number): SshdTitle | null {
    const settled = this.#settled.get(pid)
    if (settled?.ppid === parent && this.#reread(settled)) return settled.title
    const stat = this.stat(pid)
    return stat !== null && !hasExited(stat) ? this.visit(pid, stat) : null
  }

  /**
   * A settled connection re-read from its monitor's stat and its post-auth processes' titles
   * and children files, updated in place. False when anything but the ttys and the sessions
   * differs from the last walk: the caller then reads it whole, and this record is dropped.
   */
  #reread(settled: Settled): boolean {
    if (settled.connection === null) return false
    if (this.#procfs.readStarttime(settled.pid) !== settled.starttime) return false
    let changed = false
    for (const post of settled.posts) {
      const cmdline = this.#procfs.readCmdline(post.pid, post.cmdline)
      if (cmdline === null) return false
      if (cmdline !== post.cmdline) {
        const title = parseSshdTitle(cmdline)
        if (title.role !== 'postauth' || title.user !== post.title.user) return false
        post.cmdline = cmdline
        post.title = title
        changed = true
      }
      const sessions = this.#procfs.countChildren(post.pid)
      if (sessions < 0) return false
      if (sessions !== post.sessions) {
        post.sessions = sessions
        changed = true
      }
    }
    this.processes += 1 + settled.posts.length
    if (changed) settled.connection = settledConnection(settled)
    settled.seen = this.#generation
    this.kept.push(settled.connection)
    return true
  }

  /** A children file; null when it is gone or malformed (then counted). */
  #kids(pid: number): number[] | null {
    try {
      return this.#procfs.readChildren(pid)
    } catch (err) {
      if (!isExporterError(err)) throw err
      this.#problem(err.message)
      return null
    }
  }

  /** A malformed file, its error's message naming it. */
  #problem(message: string): void {
    this.malformed++
    this.firstProblem ??= message
  }
}

/** A post-auth process (its title a post-auth one) as a settled connection keeps it. */
function settledPost(p: SshdProcess, cmdline: string | null, sessions: number): SettledPost {
  return { pid: p.pid, starttime: p.starttime, cmdline, title: p.title as PostauthTitle, sessions }
}

/** A settled connection's record, from its monitor and post-auth processes. */
function settledRecord(
  monitor: SshdProcess,
  posts: SettledPost[],
  connection: Connection | null,
  seen: number,
): Settled {
  const { pid, ppid, starttime, title } = monitor
  return { pid, ppid, starttime, title, posts, connection, seen }
}

/** A settled connection's Connection, as buildSnapshot makes it from the same processes. */
function settledConnection(settled: Settled): Connection {
  const members: SshdProcess[] = [
    { pid: settled.pid, ppid: settled.ppid, starttime: settled.starttime, title: settled.title },
  ]
  for (const post of settled.posts) {
    members.push({ pid: post.pid, ppid: settled.pid, starttime: post.starttime, title: post.title })
  }
  return connectionOf(
    members[0]!,
    members,
    (pid) => settled.posts.find((p) => p.pid === pid)?.sessions ?? 0,
    settled.connection?.listener ?? null,
  )
}

/**
 * The walk's starting points in a full scan's processes (`byPid`, its sshd processes by pid):
 * the listeners, and the connection roots whose parent is not a listener (their listener exited
 * and they were re-parented).
 */
function rootsOf(result: FullScanResult, byPid: ReadonlyMap<number, SshdProcess>): Root[] {
  const roots: Root[] = result.snapshot.listeners.map((l) => ({
    pid: l.pid,
    starttime: l.starttime,
    kind: 'listener',
  }))
  // With no listener, new connections (and a listener started on demand) appear below the
  // holders of sshd's socket: theirs are walked, and so are the connections among them.
  const holders = new Set<number>()
  if (roots.length === 0) {
    for (const h of result.holders) {
      holders.add(h.pid)
      roots.push({ pid: h.pid, starttime: h.starttime, kind: 'holder' })
    }
  }
  const { connections } = result.snapshot
  for (let i = 0; i < connections.length; i++) {
    const c = connections[i]!
    if (c.listener !== null) continue
    if (holders.has(byPid.get(c.pid)?.ppid ?? -1)) continue
    roots.push({ pid: c.pid, starttime: c.starttime, kind: 'connection' })
  }
  return roots
}
