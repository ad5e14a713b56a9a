/**
 * The process scan a scrape runs: sshd's own tree, walked down from its listeners through
 * /proc/<pid>/task/<pid>/children, so that a scrape reads a few files per connection whatever
 * else the host runs. A full scan (full-scan.ts) finds where walks start: the listeners, the
 * connections whose listener is gone, and while no listener runs the socket holders. It runs
 * again when a listener is gone or replaced, every `rescanIntervalMs`, and on every scrape on a
 * kernel without children files. An authenticated connection the last walk read is re-read from
 * three files, not six. Walk and full scan give the same snapshot (test/state/scanner.test.ts,
 * test/real/walk.test.ts); why the re-read is safe: docs/how-it-counts.md.
 */
import { isExporterError } from '../errors.ts'
import type { LoggerLike } from '../logger.ts'
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
export interface ProcessScannerOptions {
  /** A full scan at least this often (ms) to find new listeners; 0: a full scan every time. */
  rescanIntervalMs: number
  logger?: LoggerLike | undefined
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
  readonly #logger: LoggerLike | undefined
  readonly #now: () => number
  #roots: Root[] | null = null
  #lastFullScan = 0
  #childrenFile: boolean | null = null
  #lastReason: FullScanReason | null = null
  /** Known connections by monitor pid, kept and updated in place from walk to walk. */
  #known = new Map<number, KnownConnection>()
  /** Counts walks, to tell the known connections the last one found from those it did not. */
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
    if (this.#rescanIntervalMs <= 0) return this.#fullScan('walk-disabled', now)
    if (this.#childrenFile === false) return this.#fullScan('no-children-file', now)
    if (this.#roots === null) return this.#fullScan('first', now)
    if (!this.#roots.some((r) => r.kind !== 'connection')) return this.#fullScan('no-listener', now)
    if (now - this.#lastFullScan >= this.#rescanIntervalMs) return this.#fullScan('interval', now)
    return this.#walk(this.#roots) ?? this.#fullScan('listener-gone', now)
  }

  #fullScan(reason: FullScanReason, now: number): FullScanResult {
    const result = scanFull(this.#procfs)
    this.#known.clear()
    this.#lastReason = reason
    this.#lastFullScan = now
    if (reason !== 'walk-disabled' && reason !== 'no-children-file') {
      const byPid = new Map<number, SshdProcess>()
      // Indexed loops: see scanFull.
      for (let i = 0; i < result.sshd.length; i++) byPid.set(result.sshd[i]!.pid, result.sshd[i]!)
      this.#roots = rootsOf(result, byPid)
      this.#checkChildrenFile()
      this.#knowConnectionsOf(result)
    }
    this.#logger?.debug(
      { reason, processes: result.processes, roots: this.#roots?.length ?? 0 },
      'read every process',
    )
    return result
  }

  /**
   * Records as known the authenticated connections a full scan found, as a walk that read them
   * in full would: the next walk re-reads them from three files each instead of reading them in
   * full again (at 10,000 connections that first walk's garbage set the exporter's peak memory).
   * Their titles are compared afresh on that re-read: the full scan kept no raw cmdline.
   */
  #knowConnectionsOf(result: FullScanResult): void {
    const postauthByMonitor = new Map<number, SshdProcess[]>()
    /** Live sshd children by parent. */
    const sshdChildren = new Map<number, number>()
    const { sshd } = result
    for (let i = 0; i < sshd.length; i++) {
      const p = sshd[i]!
      sshdChildren.set(p.ppid, (sshdChildren.get(p.ppid) ?? 0) + 1)
      if (p.title.role !== 'postauth') continue
      const siblings = postauthByMonitor.get(p.ppid)
      if (siblings === undefined) postauthByMonitor.set(p.ppid, [p])
      else siblings.push(p)
    }
    const connections = new Map<number, Connection>()
    const all = result.snapshot.connections
    for (let i = 0; i < all.length; i++) connections.set(all[i]!.pid, all[i]!)
    for (let i = 0; i < sshd.length; i++) {
      const monitor = sshd[i]!
      // Only a connection's root is known: a monitor below another process is not.
      if (monitor.title.role !== 'monitor') continue
      const postauth = postauthByMonitor.get(monitor.pid)
      const connection = connections.get(monitor.pid)
      // Every live sshd child a post-auth process, as a walk requires. A zombie is not one:
      // 10.0's `sshd -i` leaves its forked child unreaped under the monitor for good.
      if (postauth === undefined || connection === undefined) continue
      if (postauth.length !== (sshdChildren.get(monitor.pid) ?? 0)) continue
      const processes = postauth.map((p) =>
        postauthProcess(p, null, result.children.get(p.pid) ?? 0),
      )
      this.#known.set(
        monitor.pid,
        knownConnection(monitor, processes, connection, this.#generation),
      )
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
    const walk = new Walk(this.#procfs, this.#known, generation)
    const live: Root[] = []
    for (const root of roots) {
      const stat = walk.stat(root.pid)
      if (stat === null || stat.starttime !== root.starttime || hasExited(stat)) {
        if (root.kind !== 'connection') return null
        continue // that connection has ended
      }
      live.push(root)
      if (root.kind === 'holder') walk.visitHolder(root.pid)
      else walk.visit(root.pid, stat)
    }
    this.#roots = live
    this.#lastReason = null
    // The processes read in full; at steady state the few connections that are new or changed.
    const readInFull = buildSnapshot(walk.sshd, (pid) => walk.children.get(pid) ?? 0)
    if (walk.newlyKnown.length > 0) {
      const readByPid = new Map<number, Connection>()
      for (const c of readInFull.connections) readByPid.set(c.pid, c)
      for (const known of walk.newlyKnown) {
        // Only a connection's root is known: a monitor below another process is not.
        const connection = readByPid.get(known.pid)
        if (connection === undefined) continue
        known.connection = connection
        this.#known.set(known.pid, known)
      }
    }
    this.#known.forEach((known, pid) => {
      if (known.seen !== generation) this.#known.delete(pid)
    })
    const connections =
      walk.reread.length === 0 ? readInFull.connections : readInFull.connections.concat(walk.reread)
    connections.sort(byConnectionPid)
    return {
      snapshot: { listeners: readInFull.listeners, connections },
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

/** A post-auth process of a known connection, as last read. */
interface PostauthProcess {
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
 * A known connection: an authenticated connection a walk or full scan read in full, re-read
 * from three files from then on. Its root is a live monitor (`[priv]`, 10.5's `[postauth]`)
 * whose live sshd children are all post-auth processes; the fields above `postauth` are the
 * monitor's.
 */
interface KnownConnection {
  pid: number
  ppid: number
  starttime: number
  title: SshdTitle
  postauth: PostauthProcess[]
  /** The connection as last built; null until the walk that read it in full has built it. */
  connection: Connection | null
  /** The walk that last found it. */
  seen: number
}

/** One walk's reads and findings. */
class Walk {
  /** The sshd processes read in full. */
  readonly sshd: SshdProcess[] = []
  /** Children of post-auth processes read in full: the sessions. */
  readonly children = new Map<number, number>()
  /** Known connections re-read from three files, unchanged objects when nothing changed. */
  readonly reread: Connection[] = []
  /** Connections read in full that are known from now on (their connection still null). */
  readonly newlyKnown: KnownConnection[] = []
  processes = 0
  malformed = 0
  firstProblem: string | null = null
  readonly #procfs: ProcFS
  readonly #known: ReadonlyMap<number, KnownConnection>
  readonly #generation: number
  /** Post-auth processes read in full, for the known connections they make. */
  readonly #postauth = new Map<number, PostauthProcess>()

  constructor(
    procfs: ProcFS,
    known: ReadonlyMap<number, KnownConnection> = new Map(),
    generation = 0,
  ) {
    this.#procfs = procfs
    this.#known = known
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
   * Reads an sshd process in full and walks below it; anything else is left alone. Gives its
   * title, or null when it is not sshd's or is gone.
   */
  visit(pid: number, stat: ProcStat): SshdTitle | null {
    if (!SSHD_COMMS.has(stat.comm)) return null
    const cmdline = this.#procfs.readCmdline(pid)
    const title = cmdline === null ? null : readSshdTitle(this.#procfs, pid, cmdline)
    if (title === null) return null
    const proc: SshdProcess = { pid, ppid: stat.ppid, starttime: stat.starttime, title }
    this.sshd.push(proc)
    const children = this.#readChildren(pid)
    if (children === null) return title
    if (title.role === 'postauth') {
      // Its children are the sessions: counted, not read.
      this.children.set(pid, children.length)
      this.#postauth.set(pid, postauthProcess(proc, cmdline, children.length))
      return title
    }
    this.#visitChildren(proc, children)
    return title
  }

  /** Walks the children of a socket holder (not sshd): the sshd among them and below. */
  visitHolder(pid: number): void {
    const children = this.#readChildren(pid)
    if (children === null) return
    for (const child of children) this.#visitChild(child, pid)
  }

  #visitChildren(parent: SshdProcess, children: readonly number[]): void {
    const postauth: PostauthProcess[] = []
    let sshdChildren = 0
    for (const child of children) {
      const role = this.#visitChild(child, parent.pid)?.role
      if (role !== undefined) sshdChildren++
      if (role !== 'postauth') continue
      const p = this.#postauth.get(child)
      if (p !== undefined) postauth.push(p)
    }
    // Every live sshd child a post-auth process (see #knowConnectionsOf).
    if (
      parent.title.role === 'monitor' &&
      postauth.length > 0 &&
      postauth.length === sshdChildren
    ) {
      this.newlyKnown.push(knownConnection(parent, postauth, null, this.#generation))
    }
  }

  /** A child of a walked process: re-read when known from the last walk, else read in full. */
  #visitChild(pid: number, parent: number): SshdTitle | null {
    const known = this.#known.get(pid)
    if (known?.ppid === parent && this.#reread(known)) return known.title
    const stat = this.stat(pid)
    return stat !== null && !hasExited(stat) ? this.visit(pid, stat) : null
  }

  /**
   * A known connection re-read from its monitor's stat and its post-auth processes' titles and
   * children files, updated in place. False when anything but the ttys and the sessions differs
   * from the last walk: the caller then reads it in full, and this record is dropped.
   */
  #reread(known: KnownConnection): boolean {
    if (known.connection === null) return false
    if (this.#procfs.readStarttime(known.pid) !== known.starttime) return false
    let changed = false
    for (const p of known.postauth) {
      const cmdline = this.#procfs.readCmdline(p.pid, p.cmdline)
      if (cmdline === null) return false
      if (cmdline !== p.cmdline) {
        const title = parseSshdTitle(cmdline)
        if (title.role !== 'postauth' || title.user !== p.title.user) return false
        p.cmdline = cmdline
        p.title = title
        changed = true
      }
      const sessions = this.#procfs.countChildren(p.pid)
      if (sessions < 0) return false
      if (sessions !== p.sessions) {
        p.sessions = sessions
        changed = true
      }
    }
    this.processes += 1 + known.postauth.length
    if (changed) known.connection = connectionOfKnown(known)
    known.seen = this.#generation
    this.reread.push(known.connection)
    return true
  }

  /** A children file; null when it is gone or malformed (then counted). */
  #readChildren(pid: number): number[] | null {
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

/** A post-auth process (its title a post-auth one) as a known connection keeps it. */
function postauthProcess(
  p: SshdProcess,
  cmdline: string | null,
  sessions: number,
): PostauthProcess {
  return { pid: p.pid, starttime: p.starttime, cmdline, title: p.title as PostauthTitle, sessions }
}

/** A known connection's record, from its monitor and post-auth processes. */
function knownConnection(
  monitor: SshdProcess,
  postauth: PostauthProcess[],
  connection: Connection | null,
  seen: number,
): KnownConnection {
  const { pid, ppid, starttime, title } = monitor
  return { pid, ppid, starttime, title, postauth, connection, seen }
}

/** A known connection's Connection, as buildSnapshot makes it from the same processes. */
function connectionOfKnown(known: KnownConnection): Connection {
  const members: SshdProcess[] = [
    { pid: known.pid, ppid: known.ppid, starttime: known.starttime, title: known.title },
  ]
  for (const p of known.postauth) {
    members.push({ pid: p.pid, ppid: known.pid, starttime: p.starttime, title: p.title })
  }
  return connectionOf(
    members[0]!,
    members,
    (pid) => known.postauth.find((p) => p.pid === pid)?.sessions ?? 0,
    known.connection?.listener ?? null,
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
