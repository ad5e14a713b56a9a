/**
 * The flags node is started with wherever the exporter ships: `npm start`, the image's
 * ENTRYPOINT, the systemd unit's ExecStart (test/launchers.test.ts holds all three to this list,
 * and the bench starts the exporter with it). --optimize-for-size keeps V8's young and old
 * generations small: peak RSS at 10,000 connections about 125 MB instead of 300 MB, for scrapes
 * some 10% slower (BENCHMARKS.md; docs/install.md, "Memory").
 */
export const NODE_FLAGS: readonly string[] = ['--optimize-for-size']

/**
 * The environment every launcher sets beside NODE_FLAGS.
 *
 * MALLOC_ARENA_MAX=2: glibc gives each thread that allocates (V8's workers, libuv's pool) an
 * arena of its own, and memory freed in one is kept there. At 10,000 connections that held some
 * 10 MB of RSS after the scrapes' buffers were freed; two arenas, as the JVM's images commonly
 * set, gave it back with no measurable cost to a scrape.
 */
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' }
