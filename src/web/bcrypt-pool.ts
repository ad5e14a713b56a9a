/**
 * Where bcrypt comparisons run: off the main thread, a few at once, a bounded queue behind
 * them. bcryptjs is pure JavaScript: on the main thread (even its async compare, which only
 * cuts the work into chunks) a cost-16 comparison holds up every other request for seconds.
 * Here each runs on a worker thread (bcrypt-worker.ts), started on the first comparison, ended
 * after a minute without work, and unref'd while idle, so that it never keeps the process
 * alive but to finish a comparison someone waits for. At most
 * `concurrency` comparisons run at once (1, or 2 on a machine with more than 2 CPUs, so that
 * the main thread keeps a CPU) and at most `queue` wait, first come first served; past that,
 * compare() rejects with BcryptBusyError at once (the web layer answers 429), so that no number
 * of requests with unknown users or wrong passwords can pile up work or memory. What never gets
 * here, a success already cached (basic-auth.ts), is answered whatever the queue holds.
 */
import { availableParallelism } from 'node:os'
import { getAsset, isSea } from 'node:sea'
import { Worker, type WorkerOptions } from 'node:worker_threads'
import type { BcryptRequest, BcryptResponse } from './bcrypt-worker.ts'

/** Whether `password` matches the bcrypt `hash`. */
export type Compare = (password: string, hash: string) => Promise<boolean>

/** compare() found the queue full: nothing was queued. */
export class BcryptBusyError extends Error {
  constructor() {
    super('too many bcrypt comparisons waiting')
    this.name = 'BcryptBusyError'
  }
}

/** Comparisons waiting behind the running ones, by default. */
export const BCRYPT_QUEUE = 8
const IDLE_MS = 60_000

/** The asset of a single executable (`npm run release`) that holds the worker's bundle. */
export const SEA_WORKER_ASSET = 'bcrypt-worker.js'

/**
 * The worker's module: a literal for each build, so that a bundler that follows
 * `new URL('…', import.meta.url)` finds it; tsc does not rewrite the extension of a URL, and
 * dist/ holds the .js one (`npm run build`) where src/ holds the .ts one (`npm start`, tests).
 * A single executable has no file beside it: there the worker is its own bundle, an asset of
 * the executable's (scripts/release.ts), run as code. Decided when the first thread starts,
 * not at load: a CommonJS bundle has no import.meta.url.
 */
function workerScript(): { script: string | URL; eval: boolean } {
  if (isSea()) return { script: getAsset(SEA_WORKER_ASSET, 'utf8'), eval: true }
  const url = import.meta.url.endsWith('.ts')
    ? new URL('./bcrypt-worker.ts', import.meta.url)
    : new URL('./bcrypt-worker.js', import.meta.url)
  return { script: url, eval: false }
}

export interface BcryptPoolOptions {
  /** Comparisons at once; default 1, or 2 with more than 2 CPUs. */
  concurrency?: number
  /** Comparisons waiting beyond the running ones; one more is refused. Default BCRYPT_QUEUE. */
  queue?: number
  /** Runs one comparison; default on a worker thread. Tests give a fake. */
  run?: Compare
  /** How long a worker thread waits for work before it ends, in ms; default a minute. */
  idleMs?: number
}

interface Job {
  password: string
  hash: string
  resolve: (ok: boolean) => void
  reject: (err: unknown) => void
}

export class BcryptPool {
  readonly concurrency: number
  readonly queue: number
  readonly #run: Compare
  readonly #threads: WorkerThreads | undefined
  readonly #waiting: Job[] = []
  #running = 0

  constructor(options: BcryptPoolOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? (availableParallelism() > 2 ? 2 : 1))
    this.queue = Math.max(0, options.queue ?? BCRYPT_QUEUE)
    if (options.run === undefined) {
      const threads = new WorkerThreads(options.idleMs ?? IDLE_MS)
      this.#threads = threads
      this.#run = (password, hash) => threads.run(password, hash)
    } else {
      this.#run = options.run
    }
  }

  /** Comparisons running now. */
  get running(): number {
    return this.#running
  }

  /** Comparisons waiting for one of those to end. */
  get waiting(): number {
    return this.#waiting.length
  }

  /** Worker threads alive now (0 with a `run` of the caller's). */
  get threads(): number {
    return this.#threads?.size ?? 0
  }

  /** Whether `password` matches `hash`; rejects with BcryptBusyError when the queue is full. */
  compare(password: string, hash: string): Promise<boolean> {
    if (this.#running < this.concurrency) return this.#start(password, hash)
    if (this.#waiting.length >= this.queue) return Promise.reject(new BcryptBusyError())
    return new Promise((resolve, reject) => {
      this.#waiting.push({ password, hash, resolve, reject })
    })
  }

  /** Ends the worker threads; what waits is refused. The pool starts them again if used. */
  async close(): Promise<void> {
    for (const job of this.#waiting.splice(0)) job.reject(new BcryptBusyError())
    await this.#threads?.close()
  }

  #start(password: string, hash: string): Promise<boolean> {
    this.#running++
    // A run that throws (a worker thread that cannot start) rejects like one that fails.
    const result = Promise.resolve().then(() => this.#run(password, hash))
    return result.finally(() => {
      this.#running--
      const next = this.#waiting.shift()
      if (next !== undefined) this.#start(next.password, next.hash).then(next.resolve, next.reject)
    })
  }
}

/**
 * The worker's options. A worker thread inherits the process's Node flags (the ones a thread
 * can have: Node drops the others), but --input-type, which only goes with -e and stdin, makes
 * a worker started from a file fail (a pool used in `node -e`): then the flags are given
 * without it, and must all be ones a thread takes.
 */
function workerOptions(evaluate: boolean): WorkerOptions {
  const argv = process.execArgv
  if (!argv.some((a) => a === '--input-type' || a.startsWith('--input-type='))) {
    return { name: 'bcrypt', eval: evaluate }
  }
  const kept: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--input-type') i++
    else if (!arg.startsWith('--input-type=')) kept.push(arg)
  }
  return { name: 'bcrypt', eval: evaluate, execArgv: kept }
}

/** One worker thread: one comparison at a time. */
class Thread {
  readonly #worker: Worker
  #nextId = 0
  #job: { id: number; resolve: (ok: boolean) => void; reject: (err: unknown) => void } | undefined
  #idle: NodeJS.Timeout | undefined
  alive = true

  constructor(onExit: (thread: Thread) => void) {
    const { script, eval: evaluate } = workerScript()
    this.#worker = new Worker(script, workerOptions(evaluate))
    this.#worker.on('message', (response: BcryptResponse) => {
      const job = this.#job
      if (job === undefined || job.id !== response.id) return
      this.#job = undefined
      this.#worker.unref()
      if ('error' in response) job.reject(new Error(`bcrypt: ${response.error}`))
      else job.resolve(response.ok)
    })
    const fail = (err: unknown) => {
      this.alive = false
      clearTimeout(this.#idle)
      this.#job?.reject(err)
      this.#job = undefined
    }
    this.#worker.on('error', (err) => {
      // A worker that cannot run (a package without bcrypt-worker's file) fails every login
      // not yet cached: said on stderr once per thread, not silently answered 401.
      process.emitWarning(`bcrypt worker thread failed: ${String(err)}`, 'SshdExporterWarning')
      fail(err)
    })
    this.#worker.on('exit', (code) => {
      fail(new Error(`the bcrypt worker thread exited (${code})`))
      onExit(this)
    })
    // Idle, it never keeps the process alive; while it compares, it does (someone awaits the
    // answer). After the listeners: adding a 'message' listener refs the worker's port again.
    this.#worker.unref()
  }

  run(password: string, hash: string): Promise<boolean> {
    clearTimeout(this.#idle)
    this.#idle = undefined
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId
      this.#job = { id, resolve, reject }
      this.#worker.ref()
      this.#worker.postMessage({ id, password, hash } satisfies BcryptRequest)
    })
  }

  /** Ends the thread after `ms` without a comparison. */
  idle(ms: number): void {
    clearTimeout(this.#idle)
    this.#idle = setTimeout(() => {
      this.alive = false
      void this.#worker.terminate()
    }, ms).unref()
  }

  async terminate(): Promise<void> {
    clearTimeout(this.#idle)
    await this.#worker.terminate()
  }
}

/** Worker threads, started as comparisons need them; the pool bounds how many at once. */
class WorkerThreads {
  readonly #idleMs: number
  readonly #all = new Set<Thread>()
  readonly #idle: Thread[] = []

  constructor(idleMs: number) {
    this.#idleMs = idleMs
  }

  get size(): number {
    return this.#all.size
  }

  async run(password: string, hash: string): Promise<boolean> {
    let thread = this.#idle.pop()
    while (thread !== undefined && !thread.alive) thread = this.#idle.pop()
    thread ??= this.#spawn()
    try {
      return await thread.run(password, hash)
    } finally {
      if (thread.alive) {
        this.#idle.push(thread)
        thread.idle(this.#idleMs)
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#all].map((t) => t.terminate()))
  }

  #spawn(): Thread {
    const thread = new Thread((gone) => {
      this.#all.delete(gone)
      const at = this.#idle.indexOf(gone)
      if (at >= 0) this.#idle.splice(at, 1)
    })
    this.#all.add(thread)
    return thread
  }
}

let shared: BcryptPool | undefined

/** The process's pool, which BasicAuth uses unless given a compare of its own. */
export function bcryptPool(): BcryptPool {
  shared ??= new BcryptPool()
  return shared
}

/** Replaces the process's pool (tests: a small queue, a fake comparison); returns the old one. */
export function setBcryptPool(pool: BcryptPool): BcryptPool | undefined {
  const old = shared
  shared = pool
  return old
}
