/**
 * How the sources open and read files: open, or -1 when the file is not there; then fill a
 * caller's buffer until a range of it is full or the file ends. Callers own the buffer (reused
 * between reads: nothing is allocated here) and the cap; a range that ends at the cap is full,
 * and `hasMoreSync` tells whether the file went on past it. Sync for procfs, net/tcp and utmp
 * (read per scrape), async for sshd_config and the sshd binary.
 */
import { openSync, readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { isNotFound } from '../errors.ts'

/** The file opened for reading; -1 when it is not there (isNotFound). Other errors throw. */
export function openIfPresentSync(path: string): number {
  try {
    return openSync(path, 'r')
  } catch (err) {
    if (isNotFound(err)) return -1
    throw err
  }
}

/**
 * Reads `fd` at its position into buf[from, to) until that is full or a read gives 0: where the
 * bytes read end (`to` when full). A read that returns less than it asked for, ending below
 * `shortEndsBelow`, is taken as the end without another read to see 0 (procfs's files the
 * kernel hands over whole to one read: see procfs.ts).
 */
export function readIntoSync(
  fd: number,
  buf: Buffer,
  from: number,
  to: number,
  shortEndsBelow = 0,
): number {
  let at = from
  while (at < to) {
    const n = readSync(fd, buf, at, to - at, null)
    if (n === 0) break
    at += n
    if (at < to && at < shortEndsBelow) break
  }
  return at
}

/** After a read that stopped at its cap: whether the file has another byte, read into `probe`. */
export function hasMoreSync(fd: number, probe: Buffer): boolean {
  return readSync(fd, probe, 0, 1, null) > 0
}

/** readIntoSync for a FileHandle: buf[from, to) filled until full or the file ends. */
export async function readInto(
  handle: FileHandle,
  buf: Buffer,
  from: number,
  to: number,
): Promise<number> {
  let at = from
  while (at < to) {
    const { bytesRead } = await handle.read(buf, at, to - at, null)
    if (bytesRead === 0) break
    at += bytesRead
  }
  return at
}
