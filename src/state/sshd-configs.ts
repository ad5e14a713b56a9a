/**
 * sshd's effective configuration, from `sshd -T` when the exporter may run it
 * (root, a binary, a config sshd can evaluate), else from the sshd_config
 * files under the rootfs. Read at start-up, then again at most once per time
 * to live, in the background: a scrape never waits for sshd -T after the
 * first read. Shared by the config collector (the sshd_config_* gauges) and
 * the processes collector (connections at MaxSessions).
 */
import { stat } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import type { ChildLogger } from '../logger.ts'
import { SSHD_FLAVORS } from '../sources/proctitle.ts'
import { parseSshdArgv, type SshdArgv, sshdCommandLineArgs } from '../sources/sshd-argv.ts'
import { findSshdBinary, runSshdT, sshdVersion } from '../sources/sshd-binary.ts'
import { readSshdConfig } from '../sources/sshd-config/read.ts'
import { NEWEST_RESEARCHED_OPENSSH } from '../sources/sshd-config/semantics.ts'
import { parseSshdT } from '../sources/sshd-config/sshd-t.ts'
import type { ConfigProblem, EffectiveConfig } from '../sources/sshd-config/values.ts'
import { readSshdVersion } from '../sources/sshd-version.ts'

export type ConfigSourceName = 'sshd_t' | 'file'

export interface EffectiveConfigRead {
  values: EffectiveConfig
  source: ConfigSourceName
  problems: readonly ConfigProblem[]
  /** The OpenSSH version whose rules read the files (`10.0`); null when unknown or from sshd -T. */
  version: string | null
  /** The main sshd_config, as sshd names it (-f, else the default). */
  file: string
  /** Date.now() of the read. */
  readAt: number
}

export interface EffectiveConfigOptions {
  /** null: never run sshd. */
  sshdBinary: string | null
  /**
   * True when --collector.config.sshd-binary named it. Else, on a host where an sshd was found,
   * sshd -T runs the listener's own executable (`exe`): the version that runs, not the one first
   * on PATH.
   */
  sshdBinaryGiven?: boolean
  rootfs: string
  /** The sshd_config path as the exporter sees it (under rootfs by default). */
  file: string
  /** True when --collector.config.file was given: sshd -T then reads it with -f. */
  fileExplicit: boolean
  /** The listener's command line: its -f, -o, -p and -g apply over the files, as in sshd. */
  argv?: SshdArgv
  /** The running sshd's executable (/proc/<pid>/exe), to read its version from. */
  exe?: string
  logger: ChildLogger
  /** Messages already said, shared by the readers of one exporter: each is said once. */
  said?: Set<string>
  ttlMs?: number
  timeoutMs?: number
  /** Whether this process may run sshd -T (root); injected by tests. */
  privileged?: boolean
}

/** Whether stat(2) succeeds on `path`, as sshd asks of its default config files. */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
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
  /** Messages already logged, so a persistent condition is said once (shared by SshdConfigs). */
  #said: Set<string>

  constructor(options: EffectiveConfigOptions) {
    this.#options = options
    this.#ttlMs = options.ttlMs ?? 60_000
    this.#timeoutMs = options.timeoutMs ?? 5_000
    this.#said = options.said ?? new Set()
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

  /**
   * The main sshd_config as sshd names it and as the exporter sees it: the listener's -f, else
   * --collector.config.file, else sshd's default <rootfs>/etc/ssh/sshd_config, or SUSE's vendor
   * file <rootfs>/usr/etc/ssh/sshd_config when that one exists and the first does not
   * (openSUSE's openssh-8.4p1-vendordir.patch, sshd.c main). Its relative Includes still
   * resolve against /etc/ssh: the patch leaves servconf.c's SSHDIR alone.
   */
  async #mainFile(): Promise<{ named: string; seen: string; explicit: boolean }> {
    const { argv, file, fileExplicit, rootfs } = this.#options
    if (argv?.configFile !== undefined) {
      return { named: argv.configFile, seen: join(rootfs, argv.configFile), explicit: true }
    }
    if (!fileExplicit) {
      const vendor = join(rootfs, 'usr', 'etc', 'ssh', 'sshd_config')
      if (!(await exists(file)) && (await exists(vendor))) {
        return { named: vendor, seen: vendor, explicit: false }
      }
    }
    return { named: file, seen: file, explicit: fileExplicit }
  }

  async #read(): Promise<EffectiveConfigRead> {
    const { logger, sshdBinaryGiven, exe, argv } = this.#options
    const sshdBinary =
      this.#options.sshdBinary !== null && !sshdBinaryGiven && exe !== undefined
        ? exe
        : this.#options.sshdBinary
    const main = await this.#mainFile()
    const privileged = this.#options.privileged ?? process.getuid?.() === 0
    if (sshdBinary !== null && privileged) {
      try {
        // The listener's own -f, -o, -p, -g; else -f for --collector.config.file.
        const args = argv === undefined ? [] : sshdCommandLineArgs(argv)
        const text = await runSshdT(sshdBinary, {
          timeoutMs: this.#timeoutMs,
          configFile: main.explicit && argv?.configFile === undefined ? main.named : null,
          args,
        })
        const parsed = parseSshdT(text)
        this.#said.delete('sshd_t_failed')
        return { ...parsed, source: 'sshd_t', version: null, file: main.named, readAt: Date.now() }
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
            file: main.seen,
          },
          'not running sshd -T; reading the sshd_config files instead',
        ),
      )
    }
    return this.#readFiles(main)
  }

  /**
   * The running listener's executable (/proc/<pid>/exe), learnt after start-up or anew when the
   * listener was restarted: read again with it, for sshd -T or the version.
   */
  learnExecutable(exe: string): void {
    if (this.#options.exe === exe) return
    this.#options = { ...this.#options, exe }
    this.#version = undefined
    // The next read uses it: sshd -T of the binary that runs, or its version for the files.
    this.refresh().catch(() => {})
  }

  /**
   * The OpenSSH version whose rules read the files: the one in the running listener's
   * executable, else in the sshd binary the exporter was given or found, else in
   * <rootfs>/usr/sbin/sshd (or a flavoured build: Alpine's sshd.pam), else `sshd -V`; null when
   * none tells.
   */
  async #detectVersion(): Promise<string | null> {
    const { exe, rootfs, sshdBinary } = this.#options
    const installed = SSHD_FLAVORS.map((flavor) => join(rootfs, 'usr', 'sbin', `sshd${flavor}`))
    for (const path of [exe, sshdBinary ?? undefined, ...installed]) {
      if (path === undefined) continue
      const version = await readSshdVersion(path)
      if (version !== null) return version
    }
    if (sshdBinary === null) return null
    return sshdVersion(sshdBinary, this.#timeoutMs).catch(() => null)
  }

  async #readFiles(main: { named: string; seen: string }): Promise<EffectiveConfigRead> {
    const { rootfs, argv, logger } = this.#options
    if (this.#version === undefined) {
      this.#version = await this.#detectVersion()
      if (this.#version === null) {
        logger.info(
          { file: main.seen },
          `OpenSSH's version is unknown: reading sshd_config with the newest version's rules (${NEWEST_RESEARCHED_OPENSSH})`,
        )
      }
    }
    // `-f none`: no file at all, as sshd reads it.
    const { root, inRoot } =
      main.named === 'none' ? { root: rootfs, inRoot: 'none' } : splitRoot(rootfs, main.seen)
    const read = await readSshdConfig(root, inRoot, {
      ...(this.#version === null ? {} : { opensshVersion: this.#version }),
      ...(argv === undefined ? {} : { commandLine: argv }),
    })
    for (const p of read.problems) {
      const where = p.line === undefined ? p.file : `${p.file}:${p.line}`
      this.#once(`problem ${where} ${p.message}`, () =>
        logger.warn({ file: where, problem: p.message }, 'sshd_config problem; value skipped'),
      )
    }
    return {
      values: read.values,
      problems: read.problems,
      source: 'file',
      version: this.#version,
      file: main.named,
      readAt: Date.now(),
    }
  }
}

/** How often a listener's configuration must be asked for to be kept: once in ten minutes. */
const UNUSED_READER_MS = 600_000

/**
 * The configurations of sshd's instances, one reader per command line: the default one for a
 * socket holder and for listeners started without -f, -o, -p or -g, and one for each other
 * command line seen on a listener. A reader not asked for in ten minutes is dropped.
 */
export class SshdConfigs {
  readonly default: EffectiveConfigReader
  #options: EffectiveConfigOptions
  #readers = new Map<string, { reader: EffectiveConfigReader; used: number }>()

  constructor(options: EffectiveConfigOptions) {
    this.#options = { ...options, said: options.said ?? new Set() }
    this.default = new EffectiveConfigReader(this.#options)
  }

  /** As the config collector's flags and --path.rootfs say: the binary found, sshd_config's path. */
  static fromFlags(
    /** sshdBinary null: never run `sshd -T`; undefined: find it. */
    flags: { sshdBinary: string | null | undefined; file: string | undefined },
    rootfs: string,
    logger: EffectiveConfigOptions['logger'],
  ): SshdConfigs {
    const { sshdBinary, file } = flags
    return new SshdConfigs({
      sshdBinary: sshdBinary === undefined ? findSshdBinary() : sshdBinary,
      sshdBinaryGiven: sshdBinary !== undefined,
      rootfs,
      file: file ?? join(rootfs, 'etc', 'ssh', 'sshd_config'),
      fileExplicit: file !== undefined,
      logger,
    })
  }

  /** The reader for sshd started with `argv` (a listener's title), its executable at `exe`. */
  readerFor(argv: readonly string[], exe?: string): EffectiveConfigReader {
    const parsed = parseSshdArgv(argv)
    const args = sshdCommandLineArgs(parsed)
    const key = args.join('\0')
    if (key === '') {
      if (exe !== undefined) this.default.learnExecutable(exe)
      return this.default
    }
    const now = Date.now()
    let entry = this.#readers.get(key)
    if (entry === undefined) {
      const logger = this.#options.logger.child({ sshd_args: args.join(' ') })
      const options = { ...this.#options, argv: parsed, logger }
      entry = {
        reader: new EffectiveConfigReader(exe === undefined ? options : { ...options, exe }),
        used: now,
      }
      this.#readers.set(key, entry)
    } else if (exe !== undefined) entry.reader.learnExecutable(exe)
    entry.used = now
    this.#readers.forEach((e, k) => {
      if (now - e.used > UNUSED_READER_MS) this.#readers.delete(k)
    })
    return entry.reader
  }

  /** Reads every configuration again now (SIGHUP); the default one's read is returned. */
  async refresh(): Promise<EffectiveConfigRead> {
    const others = [...this.#readers.values()].map((e) => e.reader.refresh().catch(() => null))
    const [read] = await Promise.all([this.default.refresh(), ...others])
    return read
  }
}

/** LoginGraceTime's default, used when it is unknown or 0 (unlimited). */
const DEFAULT_PREAUTH_THRESHOLD_SECONDS = 120

/**
 * When a connection not yet authenticated is stale: `given` (--collector.stale.preauth-threshold),
 * else the effective LoginGraceTime, else OpenSSH's default.
 */
export async function preauthThresholdSeconds(
  given: number | undefined,
  configs: SshdConfigs | null,
): Promise<number> {
  if (given !== undefined) return given
  if (configs === null) return DEFAULT_PREAUTH_THRESHOLD_SECONDS
  const grace = await configs.default.current().then(
    (read) => read.values.loginGraceTimeSeconds,
    () => 0,
  )
  return grace > 0 ? grace : DEFAULT_PREAUTH_THRESHOLD_SECONDS
}
