/**
 * Follows one log file the way `tail -F -n 0` does (`--collector.events.file`): lines already
 * there at start() are skipped, lines appended later are handed to `onLine` one by one, and the
 * follower survives rotation by rename and by copytruncate. It polls (no fs.watch), one poll at
 * a time, into one reused buffer; a line is never delivered in pieces and never costs more than
 * `maxLineBytes`. The order of each poll's steps, the decisions about partial lines and the
 * known limits: docs/how-it-counts.md, "Following the log".
 */
import { statSync } from 'node:fs'
import { constants, type FileHandle, open, stat } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { isNotFound } from '../errors.ts'
import type { LoggerLike } from '../logger.ts'
import type { LogSource } from './log-record.ts'

export interface FileFollowerOptions {
  path: string
  /** Called once per complete line, in file order, without its line ending. */
  onLine: (line: string) => void
  /** Time between the end of one poll and the start of the next; 1000 by default. */
  pollIntervalMs?: number
  /** Longer lines are cut to this many bytes; 16 KiB by default. */
  maxLineBytes?: number
  /** How long a rotated file is still read after the rename was seen; 5000 by default. */
  rotationGraceMs?: number
  logger?: LoggerLike
}

/** Counters since start(), for the events collector's own metrics. */
export interface FileFollowerStats {
  /** Lines handed to onLine. */
  linesDelivered: number
  /** Bytes read from the followed file and the rotated ones. */
  bytesRead: number
  /** Times the path was found naming another file than the open one (or none). */
  rotations: number
  /** Times the open file was found truncated (or rewritten) in place. */
  truncations: number
  /** Lines longer than maxLineBytes, delivered cut. */
  linesCut: number
}

const READ_BUFFER_BYTES = 64 * 1024
/** How many leading bytes identify a file's content, to see a truncate-and-regrow. */
const FINGERPRINT_BYTES = 256
/** At most this many rotated files stay open; the oldest is closed first. */
const MAX_ROTATED = 4
const NEWLINE = 0x0a
const CARRIAGE_RETURN = 0x0d
/** O_NONBLOCK: opening a FIFO put at the path must not block a thread-pool thread. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK

const silent: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} }

/** Where the path's file stood at start(): reading begins there when the same file is opened. */
interface StartPoint {
  dev: bigint
  ino: bigint
  size: number
}

/** One open file: the followed one or a rotated one still being drained. */
class Tail {
  readonly handle: FileHandle
  readonly dev: bigint
  readonly ino: bigint
  /** Offset of the next byte to read. */
  position: number
  /** The file's first bytes as read, compared at each poll (step 3). */
  readonly fingerprint = Buffer.allocUnsafe(FINGERPRINT_BYTES)
  fingerprintLength = 0
  /** The held line; one byte more than maxLineBytes, to tell "too long" from a `\r` ending. */
  pending: Buffer | null = null
  pendingLength = 0
  /** The held line went on past the pending buffer; the rest is skipped up to its newline. */
  overflow = false
  /** For a rotated file: when to close it (performance.now() time). */
  closeAt = 0

  constructor(handle: FileHandle, dev: bigint, ino: bigint, position: number) {
    this.handle = handle
    this.dev = dev
    this.ino = ino
    this.position = position
  }
}

export class FileFollower implements LogSource {
  readonly kind = 'file' as const
  readonly path: string
  readonly #onLine: (line: string) => void
  readonly #intervalMs: number
  readonly #maxLineBytes: number
  readonly #graceMs: number
  readonly #logger: LoggerLike

  readonly #buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)
  readonly #probe = Buffer.allocUnsafe(FINGERPRINT_BYTES)
  readonly #stats: FileFollowerStats = {
    linesDelivered: 0,
    bytesRead: 0,
    rotations: 0,
    truncations: 0,
    linesCut: 0,
  }

  #current: Tail | null = null
  /** Rotated files still read, oldest first. */
  #rotated: Tail[] = []
  /** Set by start(): where the first file opened starts; null once a file was opened or found missing. */
  #startPoint: StartPoint | 'end' | null = null
  #up = false
  #started = false
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  /** The last poll queued; every poll runs after it, so polls never overlap. */
  #chain: Promise<void> = Promise.resolve()
  /** Log-once state: the missing file, the failure last logged, the odd cases. */
  #missingLogged = false
  #failure: string | null = null
  #cutLogged = false
  #handlerFailureLogged = false

  constructor(options: FileFollowerOptions) {
    const intervalMs = options.pollIntervalMs ?? 1000
    const maxLineBytes = options.maxLineBytes ?? 16 * 1024
    const graceMs = options.rotationGraceMs ?? 5000
    if (!(intervalMs > 0)) throw new RangeError(`pollIntervalMs must be > 0, not ${intervalMs}`)
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, not ${maxLineBytes}`)
    }
    if (!(graceMs >= 0)) throw new RangeError(`rotationGraceMs must be >= 0, not ${graceMs}`)
    this.path = options.path
    this.#onLine = options.onLine
    this.#intervalMs = intervalMs
    this.#maxLineBytes = maxLineBytes
    this.#graceMs = graceMs
    this.#logger = options.logger ?? silent
  }

  /** True while the file is open and the last poll read it without error. */
  get up(): boolean {
    return this.#up
  }

  /** A copy of the counters. */
  get stats(): FileFollowerStats {
    return { ...this.#stats }
  }

  /**
   * Notes where the file ends now (synchronously, so that a line appended
   * right after start() returns is delivered) and starts polling. A follower
   * starts once; after stop() it stays stopped.
   */
  start(): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#startPoint = startPoint(this.path)
    this.#tick()
  }

  /**
   * Runs one poll now, after the one in flight if any; the timer keeps its own
   * schedule. Never rejects. Does nothing before start() or after stop().
   */
  poll(): Promise<void> {
    const next = this.#chain.then(this.#pollSafely)
    this.#chain = next
    return next
  }

  /** Stops the timer, waits for a poll in flight, closes the files. No line is delivered once this is called. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#chain
    const tails = this.#rotated
    if (this.#current !== null) tails.push(this.#current)
    this.#current = null
    this.#rotated = []
    this.#up = false
    await Promise.all(tails.map(closeQuietly))
  }

  #tick = (): void => {
    this.#timer = undefined
    void this.poll().then(this.#schedule)
  }

  #schedule = (): void => {
    if (this.#stopped) return
    this.#timer = setTimeout(this.#tick, this.#intervalMs)
    // The follower alone must not keep the process alive; the server does.
    this.#timer.unref()
  }

  #pollSafely = async (): Promise<void> => {
    try {
      await this.#pollOnce()
    } catch (err) {
      // #pollOnce catches per step; this is for what it did not foresee.
      this.#up = false
      this.#report(err)
    }
  }

  async #pollOnce(): Promise<void> {
    if (!this.#started || this.#stopped) return
    let failure: unknown = null

    // 1. Rotation: the path names another file, or none.
    const current = this.#current
    if (current !== null) {
      try {
        if (await this.#moved(current)) this.#rotate(current)
      } catch (err) {
        failure ??= err
      }
    }

    // 2. Open the path when no file is open.
    if (this.#current === null && !this.#stopped) {
      try {
        await this.#openPath()
      } catch (err) {
        failure ??= err
      }
    }

    // 3. Truncation; the size bounds step 5's read while rotated files remain.
    const tail = this.#current
    let limit = -1
    if (tail !== null) {
      try {
        limit = await this.#checkTruncation(tail)
      } catch (err) {
        failure ??= err
      }
    }

    // 4. Drain the rotated files, closing those whose grace is over.
    const hadRotated = this.#rotated.length > 0
    if (hadRotated) failure ??= await this.#drainRotated()

    // 5. Read the open file.
    if (tail !== null && limit >= 0) {
      try {
        await this.#read(tail, hadRotated ? limit : Infinity)
      } catch (err) {
        failure ??= err
      }
    }

    if (this.#stopped) return
    this.#up = this.#current !== null && failure === null
    if (failure !== null) this.#report(failure)
    else if (this.#current !== null && this.#failure !== null) {
      this.#failure = null
      this.#logger.info({ path: this.path }, 'log file readable again')
    }
  }

  /** Whether the path now names another file than `tail`, or nothing. */
  async #moved(tail: Tail): Promise<boolean> {
    try {
      const st = await stat(this.path, { bigint: true })
      return st.dev !== tail.dev || st.ino !== tail.ino
    } catch (err) {
      if (isNotFound(err)) return true
      throw err
    }
  }

  #rotate(tail: Tail): void {
    this.#stats.rotations++
    tail.closeAt = performance.now() + this.#graceMs
    this.#rotated.push(tail)
    this.#current = null
    this.#logger.info({ path: this.path }, 'log file rotated; following the new file')
  }

  async #openPath(): Promise<void> {
    let handle: FileHandle
    try {
      handle = await open(this.path, OPEN_FLAGS)
    } catch (err) {
      if (!isNotFound(err)) throw err
      // Whatever appears at the path from now on is new content.
      this.#startPoint = null
      if (!this.#missingLogged) {
        this.#missingLogged = true
        this.#logger.info({ path: this.path }, 'log file does not exist (yet); waiting for it')
      }
      return
    }
    try {
      const st = await handle.stat({ bigint: true })
      if (!st.isFile()) throw notRegularFile(this.path, st.isDirectory())
      const size = Number(st.size)
      const tail = new Tail(handle, st.dev, st.ino, this.#startPosition(st.dev, st.ino, size))
      if (tail.position > 0) {
        const length = Math.min(FINGERPRINT_BYTES, tail.position)
        const { bytesRead } = await handle.read(tail.fingerprint, 0, length, 0)
        tail.fingerprintLength = bytesRead
      }
      this.#current = tail
      this.#missingLogged = false
      this.#logger.info({ path: this.path, offset: tail.position }, 'following log file')
    } catch (err) {
      await closeQuietly({ handle })
      throw err
    }
  }

  /** Where reading starts in a file just opened: the end noted at start() if it is that file, else 0. */
  #startPosition(dev: bigint, ino: bigint, size: number): number {
    const point = this.#startPoint
    this.#startPoint = null
    if (point === 'end') return size
    if (point !== null && point.dev === dev && point.ino === ino && point.size <= size) {
      return point.size
    }
    return 0
  }

  /** Restarts `tail` at 0 when it was truncated or rewritten; returns its size. */
  async #checkTruncation(tail: Tail): Promise<number> {
    const { size } = await tail.handle.stat()
    if (size < tail.position || !(await this.#sameStart(tail))) {
      this.#stats.truncations++
      this.#logger.info(
        { path: this.path, offset: tail.position, size },
        'log file truncated; reading it from the start',
      )
      tail.position = 0
      tail.fingerprintLength = 0
    }
    return size
  }

  /** Whether the file still begins with the bytes it began with when they were read. */
  async #sameStart(tail: Tail): Promise<boolean> {
    const length = tail.fingerprintLength
    if (length === 0) return true
    const { bytesRead } = await tail.handle.read(this.#probe, 0, length, 0)
    return bytesRead === length && this.#probe.compare(tail.fingerprint, 0, length, 0, length) === 0
  }

  /** Reads every rotated file, closing those past their grace; the first error, or null. */
  async #drainRotated(): Promise<unknown> {
    const rotated = this.#rotated
    const now = performance.now()
    let failure: unknown = null
    let kept = 0
    for (let i = 0; i < rotated.length; i++) {
      const tail = rotated[i] as Tail
      try {
        await this.#read(tail, Infinity)
      } catch (err) {
        failure ??= err
      }
      if (tail.closeAt <= now || rotated.length - i > MAX_ROTATED) {
        // Never appended again: its held line is complete as it is.
        if (!this.#stopped) this.#flush(tail)
        await closeQuietly(tail)
      } else {
        rotated[kept++] = tail
      }
    }
    rotated.length = kept
    return failure
  }

  /** Reads `tail` from its position to EOF or to `limit`, delivering complete lines. */
  async #read(tail: Tail, limit: number): Promise<void> {
    const buffer = this.#buffer
    while (tail.position < limit) {
      const want = Math.min(buffer.length, limit - tail.position)
      const { bytesRead } = await tail.handle.read(buffer, 0, want, tail.position)
      if (bytesRead === 0 || this.#stopped) return
      const start = tail.position
      tail.position += bytesRead
      this.#stats.bytesRead += bytesRead
      if (start < FINGERPRINT_BYTES) {
        const copied = buffer.copy(
          tail.fingerprint,
          start,
          0,
          Math.min(bytesRead, FINGERPRINT_BYTES - start),
        )
        tail.fingerprintLength = start + copied
      }
      this.#split(tail, buffer.subarray(0, bytesRead))
    }
  }

  #split(tail: Tail, chunk: Buffer): void {
    let start = 0
    while (start < chunk.length) {
      if (this.#stopped) return
      const newline = chunk.indexOf(NEWLINE, start)
      if (newline < 0) {
        this.#hold(tail, chunk, start, chunk.length)
        return
      }
      if (tail.pendingLength === 0 && !tail.overflow) {
        this.#deliver(chunk, start, newline, false)
      } else {
        this.#hold(tail, chunk, start, newline)
        this.#flush(tail)
      }
      start = newline + 1
    }
  }

  /** Appends bytes to the held line, keeping at most maxLineBytes + 1 of them. */
  #hold(tail: Tail, bytes: Buffer, start: number, end: number): void {
    if (end <= start) return
    tail.pending ??= Buffer.allocUnsafe(this.#maxLineBytes + 1)
    const room = tail.pending.length - tail.pendingLength
    if (end - start > room) {
      end = start + room
      tail.overflow = true
    }
    tail.pendingLength += bytes.copy(tail.pending, tail.pendingLength, start, end)
  }

  /** Delivers the held line, if any, and forgets it. */
  #flush(tail: Tail): void {
    if (tail.pending !== null && (tail.pendingLength > 0 || tail.overflow)) {
      this.#deliver(tail.pending, 0, tail.pendingLength, tail.overflow)
    }
    tail.pendingLength = 0
    tail.overflow = false
  }

  /** Hands bytes[start, end) to onLine as one line; `cut` says bytes after `end` were skipped. */
  #deliver(bytes: Buffer, start: number, end: number, cut: boolean): void {
    if (!cut && end > start && bytes[end - 1] === CARRIAGE_RETURN) end--
    if (end - start > this.#maxLineBytes) {
      end = characterBoundary(bytes, start + this.#maxLineBytes, start)
      cut = true
    }
    if (cut) {
      this.#stats.linesCut++
      if (!this.#cutLogged) {
        this.#cutLogged = true
        this.#logger.debug(
          { path: this.path, maxLineBytes: this.#maxLineBytes },
          'line longer than maxLineBytes cut (logged once)',
        )
      }
    }
    this.#stats.linesDelivered++
    try {
      this.#onLine(bytes.toString('utf8', start, end))
    } catch (err) {
      if (!this.#handlerFailureLogged) {
        this.#handlerFailureLogged = true
        this.#logger.warn({ path: this.path, err }, 'log line handler failed (logged once)')
      }
    }
  }

  /** Logs a failure once while it lasts; the next poll retries. */
  #report(err: unknown): void {
    const code = (err as NodeJS.ErrnoException | null)?.code
    const key = code ?? String(err)
    if (this.#failure === key) return
    this.#failure = key
    this.#logger.warn({ path: this.path, err }, 'cannot read log file; retrying')
  }
}

/** Where the file at `path` ends now; 'end' when it cannot be told (its end is taken at first open). */
function startPoint(path: string): StartPoint | 'end' | null {
  try {
    const st = statSync(path, { bigint: true })
    return st.isFile() ? { dev: st.dev, ino: st.ino, size: Number(st.size) } : null
  } catch (err) {
    return isNotFound(err) ? null : 'end'
  }
}

/**
 * The largest end <= `end` that does not split a UTF-8 character, looking
 * back at most 3 bytes (the continuation bytes of one character) and never
 * before `start`.
 */
function characterBoundary(bytes: Buffer, end: number, start: number): number {
  let at = end
  while (at > start && end - at < 3 && ((bytes[at] as number) & 0xc0) === 0x80) at--
  return ((bytes[at] as number) & 0xc0) === 0x80 ? end : at
}

function notRegularFile(path: string, directory: boolean): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    directory ? `${path} is a directory` : `${path} is not a regular file`,
  )
  err.code = directory ? 'EISDIR' : 'EINVAL'
  err.path = path
  return err
}

async function closeQuietly(owner: { handle: FileHandle }): Promise<void> {
  try {
    await owner.handle.close()
  } catch {
    // Already closed, or EIO on close: there is nothing left to do with it.
  }
}
