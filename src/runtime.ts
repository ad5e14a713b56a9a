/**
 * The flags node is started with wherever the exporter ships: `npm start`, the image's
 * ENTRYPOINT, the systemd unit's ExecStart (test/launchers.test.ts holds all three to this list,
 * and the bench starts the exporter with it).
 *
 * --optimize-for-size: V8 otherwise sizes its young generation from the machine's memory (up to
 * 32 MB semi-spaces on a host with tens of GB) and lets the old generation grow to four times
 * what is live before collecting it. A scrape at 10,000 connections allocates some 20 MB, most
 * of it dead by the next scrape, and the live heap is some 25 MB, yet the heap grew to 200 MB and
 * more. With this flag V8 keeps both small: peak RSS about 125 MB instead of 300 MB there, for
 * scrapes some 10% slower (BENCHMARKS.md). Without it (`node dist/cli.js`) the exporter works the
 * same, faster and bigger.
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
