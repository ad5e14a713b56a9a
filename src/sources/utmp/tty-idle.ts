/**
 * How long a tty has had no input, as `who -u` computes its IDLE column: now minus the access
 * time of `<rootfs>/dev/<line>`, exact to about 8 seconds (the kernel updates a tty's atime on
 * input only when it moves past an 8-second slot; output does not count). A TtyIdle is created
 * once per root: `reader(nowMs)` per scrape gives a function of the line (`pts/0`), null when the
 * device is not there, 0 when its time is in the future. Paths stay inside the root.
 */
import { lstatSync, type Stats, statSync } from 'node:fs'
import { isNotFound } from '../../errors.ts'
import { resolveInRoot } from '../rootfs.ts'

/** Lines remembered by a TtyIdle: more are a sign of churn, and the memory is started afresh. */
const TTY_PATHS_MAX = 65_536

/**
 * Idle times of ttys, kept by a collector from scrape to scrape: each line's device path is
 * remembered for as long as its directory (`/dev/pts`) resolves to the same place, so that a pty
 * session costs one lstat and no strings. A device that is itself a symlink is resolved whole.
 */
export class TtyIdle {
  readonly #rootfs: string
  readonly #paths = new Map<string, { dirPath: string; dir: string; device: string }>()

  constructor(rootfs: string) {
    this.#rootfs = rootfs
  }

  /**
   * Idle seconds by line (`pts/0`, or an absolute `/dev/pts/0`) at `nowMs`: 0 when the device's
   * atime is in the future (a clock step), null when there is no such device. Directories are
   * resolved again for each reader, once each.
   */
  reader(nowMs: number): (line: string) => number | null {
    const rootfs = this.#rootfs
    const dirs = new Map<string, string | null>()
    const resolveDir = (dirPath: string): string | null => {
      let dir = dirs.get(dirPath)
      if (dir === undefined) {
        dir = resolveInRoot(rootfs, dirPath)
        dirs.set(dirPath, dir)
      }
      return dir
    }
    return (line) => {
      if (line === '') return null
      let known = this.#paths.get(line)
      if (known === undefined || resolveDir(known.dirPath) !== known.dir) {
        const path = line.startsWith('/') ? line : `/dev/${line}`
        const slash = path.lastIndexOf('/')
        const name = path.slice(slash + 1)
        if (name === '' || name === '.' || name === '..') return ttyIdleSeconds(rootfs, line, nowMs)
        const dirPath = path.slice(0, slash) || '/'
        const dir = resolveDir(dirPath)
        if (dir === null) return null
        if (this.#paths.size >= TTY_PATHS_MAX) this.#paths.clear()
        known = { dirPath, dir, device: `${dir}/${name}` }
        this.#paths.set(line, known)
      }
      let stats: Stats
      try {
        stats = lstatSync(known.device)
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
      if (stats.isSymbolicLink()) return ttyIdleSeconds(rootfs, line, nowMs)
      return Math.max(0, (nowMs - stats.atimeMs) / 1000)
    }
  }
}

/**
 * One line's idle time the way coreutils who.c print_user() finds it: stat() of `/dev/` + line
 * (or of the line itself when it is absolute), resolved whole under the root, then its atime.
 * TtyIdle's fallback for a device that is a symlink or a line with no device name, and the
 * definition its cached paths must agree with. null when the device is not there.
 */
export function ttyIdleSeconds(rootfs: string, line: string, nowMs: number): number | null {
  if (line === '') return null
  const host = resolveInRoot(rootfs, line.startsWith('/') ? line : `/dev/${line}`)
  if (host === null) return null
  let atimeMs: number
  try {
    atimeMs = statSync(host).atimeMs
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
  return Math.max(0, (nowMs - atimeMs) / 1000)
}
