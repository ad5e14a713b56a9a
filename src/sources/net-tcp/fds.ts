/**
 * The socket inodes a process holds: the `socket:[<inode>]` targets of its /proc/<pid>/fd links,
 * which name the same inodes as net/tcp's inode column. Null when the pid is gone; not permitted
 * (EACCES, EPERM) when the exporter is neither root nor the owner or lacks ptrace access. An fd
 * closed between listing and reading is skipped. findSocket stops at the first wanted socket, so
 * a connection's links past its client socket are never read.
 */
import { readdirSync, readlinkSync } from 'node:fs'
import { isNotFound } from '../../errors.ts'
import type { ProcFS } from '../procfs.ts'

/** The socket inodes a process holds, or that it could not be told (EACCES, EPERM). */
export type SocketInodes =
  { readonly permitted: true; readonly inodes: Set<number> } | { readonly permitted: false }

const CLOSE_BRACKET = 93

const NOT_PERMITTED: SocketInodes = Object.freeze({ permitted: false })

/**
 * The inodes of the sockets a process holds, from the `socket:[<inode>]` targets of
 * /proc/<pid>/fd/*. Null when the pid is gone; `{ permitted: false }` when the exporter may not
 * look (not root and not the owner, or no ptrace access: EACCES, EPERM). An fd closed between
 * listing and reading is skipped.
 */
export function socketInodes(procfs: ProcFS, pid: number): SocketInodes | null {
  const inodes = new Set<number>()
  const read = eachSocket(procfs, pid, (inode) => {
    inodes.add(inode)
    return false
  })
  if (read === null) return null
  return read ? { permitted: true, inodes } : NOT_PERMITTED
}

/** findSocket's answer when no fd is a wanted socket. */
export const NO_SOCKET = -1
/** findSocket's answer when the exporter may not look at the fds (EACCES, EPERM). */
export const FDS_NOT_PERMITTED = -2

/**
 * The first socket a process holds, by ascending fd number, whose inode `isWanted`: its inode,
 * NO_SOCKET when there is none, FDS_NOT_PERMITTED as socketInodes gives `{ permitted: false }`,
 * null when the pid is gone. The links past the one found are not read: an sshd connection's
 * client socket is among its first fds, and reading every link of every connection (some
 * 80,000 at 10,000 connections) was all garbage.
 */
export function findSocket(
  procfs: ProcFS,
  pid: number,
  isWanted: (inode: number) => boolean,
): number | null {
  let found = NO_SOCKET
  const read = eachSocket(procfs, pid, (inode) => {
    if (!isWanted(inode)) return false
    found = inode
    return true
  })
  if (read === null) return null
  return read ? found : FDS_NOT_PERMITTED
}

/**
 * Calls `visit` with each socket inode the process holds, by ascending fd number, until it
 * returns true. True when the fds could be read, false when not permitted, null when the pid is
 * gone. An fd closed between listing and reading is skipped.
 */
function eachSocket(
  procfs: ProcFS,
  pid: number,
  visit: (inode: number) => boolean,
): boolean | null {
  const dir = procfs.pidPath(pid, 'fd/')
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if (isNotFound(err)) return null
    if (isPermissionDenied(err)) return false
    throw err
  }
  // The kernel lists /proc/<pid>/fd in ascending order already: sorted only when it is not (a
  // sort allocates, and this runs for every new connection).
  if (!isAscending(names)) names.sort(byFdNumber)
  for (let i = 0; i < names.length; i++) {
    let target: string
    try {
      target = readlinkSync(dir + names[i]!)
    } catch (err) {
      if (isNotFound(err)) continue
      if (isPermissionDenied(err)) return false
      throw err
    }
    const inode = parseSocketLink(target)
    if (inode >= 0 && visit(inode)) break
  }
  return true
}

function isAscending(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++) if (byFdNumber(names[i - 1]!, names[i]!) > 0) return false
  return true
}

/** Orders fd names by number; a name that is not one (never in /proc) after them all. */
function byFdNumber(a: string, b: string): number {
  return fdNumber(a) - fdNumber(b)
}

function fdNumber(name: string): number {
  const n = Number(name)
  return Number.isSafeInteger(n) && n >= 0 && name !== '' ? n : Number.MAX_SAFE_INTEGER
}

/** The inode in an fd link target `socket:[12345]`, or -1 for anything else. */
export function parseSocketLink(target: string): number {
  // 'socket:[' is 8 characters; the kernel writes the inode in decimal (%lu).
  const end = target.length - 1
  if (!target.startsWith('socket:[') || target.charCodeAt(end) !== CLOSE_BRACKET) return -1
  if (end === 8 || end > 8 + 15) return -1
  let inode = 0
  for (let i = 8; i < end; i++) {
    const c = target.charCodeAt(i)
    if (c < 48 || c > 57) return -1
    inode = inode * 10 + (c - 48)
  }
  return inode
}

function isPermissionDenied(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'EACCES' || code === 'EPERM'
}
