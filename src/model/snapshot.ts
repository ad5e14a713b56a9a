/**
 * The sshd snapshot: listeners, connections (pre-auth or authenticated) and their sessions,
 * built once per scrape from sshd's processes. Pure: the process list comes from a scan or a
 * test. A connection is the process tree of one accepted TCP connection, rooted at an sshd whose
 * parent is a listener (or not sshd: the listener restarted); every child of its post-auth
 * process is one session until sshd reaps it, a zombie included. docs/how-it-counts.md has more.
 */
import type { SshdTitle } from '../sources/proctitle.ts'

export interface SshdProcess {
  pid: number
  ppid: number
  starttime: number
  title: SshdTitle
}

export interface Listener {
  pid: number
  starttime: number
  /** The title's count and MaxStartups; null for a listener whose title is still its argv. */
  startups: number | null
  maxStartupsBegin: number | null
  maxStartupsFull: number | null
  /** Its command line, whose -f, -o, -p and -g are part of its configuration. */
  argv: readonly string[]
}

export type ConnectionState = 'preauth' | 'authenticated'

export interface Connection {
  /** The connection's root process. */
  pid: number
  starttime: number
  /**
   * The listener that accepted it; null for a per-connection `sshd -i` and for a connection whose
   * listener has exited (re-parented by a restart).
   */
  listener: number | null
  state: ConnectionState
  /** The authenticated user; null before authentication. */
  user: string | null
  /** Executed sessions (children of the post-auth process). */
  sessions: number
  /** Sessions with a pty, from the post-auth title's tty list: `ttys.length`. */
  ptySessions: number
  /**
   * The ttys of those sessions as the post-auth title names them (`pts/0`, `pts/3`), whatever
   * utmp holds: the stale collector reads their idle times from the devices.
   */
  ttys: readonly string[]
  /** The post-auth processes, whose children are the sessions; empty before authentication. */
  postauth: readonly number[]
}

export interface SshdSnapshot {
  listeners: Listener[]
  connections: Connection[]
}

const NO_TTYS: readonly string[] = Object.freeze([])
const NO_PIDS: readonly number[] = Object.freeze([])

/** Children of a pid, zombies included (as /proc/<pid>/task/<pid>/children lists them). */
export type ChildCounter = (pid: number) => number

function isAuthenticated(title: SshdTitle): boolean {
  return (
    title.role === 'postauth' ||
    title.role === 'sftp' ||
    (title.role === 'monitor' && title.postauth)
  )
}

/**
 * Builds the snapshot from sshd's live processes (zombies already left out).
 * `children` counts the children of a post-auth process, whatever their
 * binary: those are the sessions.
 */
export function buildSnapshot(
  processes: readonly SshdProcess[],
  children: ChildCounter,
): SshdSnapshot {
  const byPid = new Map<number, SshdProcess>()
  // Indexed loops: see scanFull.
  for (let i = 0; i < processes.length; i++) byPid.set(processes[i]!.pid, processes[i]!)

  const listeners: Listener[] = []
  const roots = new Map<number, SshdProcess[]>()
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i]!
    const t = p.title
    const parent = byPid.get(p.ppid)
    // A listener's child keeps the listener's title from fork until it sets its own.
    if (t.role === 'listener' && parent?.title.role !== 'listener') {
      listeners.push({
        pid: p.pid,
        starttime: p.starttime,
        startups: t.startups,
        maxStartupsBegin: t.begin,
        maxStartupsFull: t.full,
        argv: t.argv,
      })
      continue
    }
    // A raw argv (`sshd -T`, `sshd -t`) is no connection unless a listener forked it.
    if (t.role === 'other' && parent?.title.role !== 'listener') continue
    const root = rootOf(p, byPid)
    const members = roots.get(root.pid)
    if (members === undefined) roots.set(root.pid, [p])
    else members.push(p)
  }

  const connections: Connection[] = []
  roots.forEach((members, rootPid) => {
    const root = byPid.get(rootPid)!
    const parent = byPid.get(root.ppid)
    const listener = parent?.title.role === 'listener' ? parent.pid : null
    connections.push(connectionOf(root, members, children, listener))
  })
  listeners.sort((a, b) => a.pid - b.pid)
  connections.sort((a, b) => a.pid - b.pid)
  return { listeners, connections }
}

/** One connection from its root process and every sshd process below it (the root included). */
export function connectionOf(
  root: SshdProcess,
  members: readonly SshdProcess[],
  children: ChildCounter,
  listener: number | null,
): Connection {
  let state: ConnectionState = 'preauth'
  let user: string | null = null
  let sessions = 0
  // Usually one post-auth process: its title's list is kept as it is, no copy.
  let ttys = NO_TTYS
  let postauth = NO_PIDS
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    const t = m.title
    if (!isAuthenticated(t)) continue
    state = 'authenticated'
    if (t.role === 'postauth') {
      user = t.user
      sessions += children(m.pid)
      postauth = postauth.length === 0 ? [m.pid] : postauth.concat(m.pid)
      if (t.ttys.length > 0) ttys = ttys.length === 0 ? t.ttys : ttys.concat(t.ttys)
    } else if (t.role === 'monitor' && user === null) {
      user = t.user
    }
  }
  return {
    pid: root.pid,
    starttime: root.starttime,
    listener,
    state,
    user,
    sessions,
    ptySessions: ttys.length,
    ttys,
    postauth,
  }
}

/** Walks up through sshd processes that are not listeners; depth is at most 3 in practice. */
function rootOf(p: SshdProcess, byPid: ReadonlyMap<number, SshdProcess>): SshdProcess {
  let current = p
  for (let depth = 0; depth < 16; depth++) {
    const parent = byPid.get(current.ppid)
    if (parent === undefined || parent.title.role === 'listener' || parent.pid === current.pid) {
      return current
    }
    current = parent
  }
  return current
}
