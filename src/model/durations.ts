/**
 * How long authenticated connections lasted, from the process tree: the connections seen at
 * one scrape, kept until the next; each gone from the next snapshot (by root pid and start
 * time) has ended, and lasted from its root's start to the uptime of the scrape that found it
 * gone. Pure: snapshots and uptimes come from the collector or a test.
 *
 * The resolution is the scrape interval: an end is seen up to one interval late, and a
 * connection that authenticates and ends between two scrapes is never seen. Connections already
 * open when the exporter starts are counted when they end (their start time is known).
 */
import { CLOCK_TICKS_PER_SECOND } from '../sources/procfs.ts'
import type { Connection } from './snapshot.ts'

/** A connection's identity across scrapes: a reused pid has another start time. */
function key(c: Pick<Connection, 'pid' | 'starttime'>): string {
  return `${c.pid}:${c.starttime}`
}

export class ConnectionDurations {
  /** Authenticated connections of the last update: key → start, seconds after boot. */
  #open = new Map<string, number>()

  /**
   * Takes this scrape's connections (pre-auth ones are ignored) and the uptime in seconds;
   * returns how long each authenticated connection of the last update that is gone now lasted,
   * in seconds.
   */
  update(connections: readonly Connection[], uptimeSeconds: number): number[] {
    const open = new Map<string, number>()
    for (let i = 0; i < connections.length; i++) {
      const c = connections[i]!
      if (c.state !== 'authenticated') continue
      open.set(key(c), c.starttime / CLOCK_TICKS_PER_SECOND)
    }
    const ended: number[] = []
    for (const [k, start] of this.#open) {
      if (!open.has(k)) ended.push(Math.max(0, uptimeSeconds - start))
    }
    this.#open = open
    return ended
  }
}
