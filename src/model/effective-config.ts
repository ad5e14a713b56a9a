/**
 * sshd's effective configuration, from `sshd -T` when the exporter may run it
 * (root, a binary, a config sshd can evaluate), else from the sshd_config
 * files under the rootfs. Read at start-up, then again at most once per time
 * to live, in the background: a scrape never waits for sshd -T after the
 * first read. Shared by the config collector (the sshd_config_* gauges) and
 * the processes collector (connections at MaxSessions).
 */
import { relative, resolve, sep } from 'node:path'
import type { Logger } from '../logger.ts'
import { runSshdT, sshdVersion } from '../sources/sshd-binary.ts'
import {
  type ConfigProblem,
  type EffectiveConfig,
  parseSshdT,
  readSshdConfig,
} from '../sources/sshd-config.ts'

export type ConfigSourceName = 'sshd_t' | 'file'

export interface EffectiveConfigRead {
  values: EffectiveConfig
  source: ConfigSourceName
  problems: readonly ConfigProblem[]
  /** Date.now() of the read. */
  readAt: number
}

export interface EffectiveConfigOptions {
  /** null: never run sshd. */
  sshdBinary: string | null
  rootfs: string
  /** The sshd_config path as the exporter sees it (under rootfs by default). */
  file: string
  /** True when --collector.config.file was given: sshd -T then reads it with -f. */
  fileExplicit: boolean
  logger: Logger
  ttlMs?: number
  timeoutMs?: number
  /** Whether this process may run sshd -T (root); injected by tests. */
  privileged?: boolean
}

/** The path of `file` inside `rootfs`, and the root to read it under. */
export function splitRoot(rootfs: string, file: string): { root: string; inRoot: string } {
  const root = resolve(rootfs)
  const abs = resolve(file)
  const rel = relative(root, abs)
  if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) {
    // A file outside the rootfs is read as it is, from the exporter's own root.
    return { root: '/', inRoot: abs }
  }
  return { root, inRoot: `/${rel.split(sep).join('/')}` }
}

export class EffectiveConfigReader {
  #options: EffectiveConfigOptions
  #ttlMs: number
  #timeoutMs: number
  #current: EffectiveConfigRead | null = null
  #inflight: Promise<EffectiveConfigRead> | null = null
  #version: string | null | undefined
  /** Messages already logged, so a persistent condition is said once. */
  #said = new Set<string>()

  constructor(options: EffectiveConfigOptions) {
    this.#options = options
    this.#ttlMs = options.ttlMs ?? 60_000
    this.#timeoutMs = options.timeoutMs ?? 5_000
  }

  /**
   * The newest read. The first call waits for it; later calls answer at once
   * and start a background refresh once the time to live has passed.
   */
  async current(): Promise<EffectiveConfigRead> {
    if (this.#current === null) return this.refresh()
    if (Date.now() - this.#current.readAt >= this.#ttlMs && this.#inflight === null) {
      this.refresh().catch(() => {
        // Logged in #read; the previous values keep serving.
      })
    }
    return this.#current
  }

  /** Reads again now (start-up, SIGHUP); concurrent callers share one read. */
  refresh(): Promise<EffectiveConfigRead> {
    if (this.#inflight === null) {
      this.#inflight = this.#read()
        .then((read) => {
          this.#current = read
          return read
        })
        .finally(() => {
          this.#inflight = null
        })
    }
    return this.#inflight
  }

  #once(key: string, log: () => void): void {
    if (this.#said.has(key)) return
    this.#said.add(key)
    log()
  }

  async #read(): Promise<EffectiveConfigRead> {
    const { logger, sshdBinary, fileExplicit, file } = this.#options
    const privileged = this.#options.privileged ?? process.getuid?.() === 0
    if (sshdBinary !== null && privileged) {
      try {
        const text = await runSshdT(sshdBinary, {
          timeoutMs: this.#timeoutMs,
          configFile: fileExplicit ? file : null,
        })
        const parsed = parseSshdT(text)
        this.#said.delete('sshd_t_failed')
        return { ...parsed, source: 'sshd_t', readAt: Date.now() }
      } catch (err) {
        this.#once('sshd_t_failed', () =>
          logger.warn({ err }, 'sshd -T failed; reading the sshd_config files instead'),
        )
      }
    } else {
      this.#once('no_sshd_t', () =>
        logger.info(
          {
            reason: sshdBinary === null ? 'no sshd binary' : 'not running as root',
            file,
          },
          'not running sshd -T; reading the sshd_config files instead',
        ),
      )
    }
    return this.#readFiles()
  }

  async #readFiles(): Promise<EffectiveConfigRead> {
    const { rootfs, file, sshdBinary, logger } = this.#options
    if (this.#version === undefined) {
      this.#version =
        sshdBinary === null
          ? null
          : await sshdVersion(sshdBinary, this.#timeoutMs).catch(() => null)
    }
    const { root, inRoot } = splitRoot(rootfs, file)
    const read = await readSshdConfig(
      root,
      inRoot,
      this.#version === null ? {} : { opensshVersion: this.#version },
    )
    for (const p of read.problems) {
      const where = p.line === undefined ? p.file : `${p.file}:${p.line}`
      this.#once(`problem ${where} ${p.message}`, () =>
        logger.warn({ file: where, problem: p.message }, 'sshd_config problem; value skipped'),
      )
    }
    return { values: read.values, problems: read.problems, source: 'file', readAt: Date.now() }
  }
}
