/**
 * What a benchmarked process uses, read from its /proc/<pid> files: CPU time so far and its
 * memory figures. For bench/before-after.ts, bench/memory.ts and bench/footprint.ts.
 */
import { readFileSync } from 'node:fs'

/** USER_HZ: the clock ticks /proc/<pid>/stat counts CPU time in. */
const CLOCK_TICKS = 100

/**
 * A process's CPU time so far, all its threads: utime + stime (fields 14 and 15 of proc(5), 11
 * and 12 after comm, which may hold spaces) of /proc/<pid>/stat, in ms.
 */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
}

/** A process's memory from /proc/<pid>/status, in MB (NaN for a line that is missing). */
export interface MemoryStatus {
  rss: number
  hwm: number
  anon: number
  file: number
  threads: number
}

export function memoryStatus(pid: number): MemoryStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const value = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)
    return m === null ? NaN : Number(m[1])
  }
  return {
    rss: value('VmRSS') / 1024,
    hwm: value('VmHWM') / 1024,
    anon: value('RssAnon') / 1024,
    file: value('RssFile') / 1024,
    threads: value('Threads'),
  }
}
