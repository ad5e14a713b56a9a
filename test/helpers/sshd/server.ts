// The real-sshd test bed: startSshd() runs OpenSSH 9.2 (the system's /usr/sbin/sshd), 10.0
// (unpacked into .tools/openssh-10.0) or Debian 13's own 10.0p2 (`10.0-trixie`, chrooted into
// .tools/trixie) on 127.0.0.1, each in a PID namespace of its own, and real OpenSSH clients
// (clients.ts) connect to it. Root only.
//
//   node ── setpriv --pdeathsig KILL ── unshare --pid --fork --mount-proc --kill-child
//              └── bash init.sh              (PID 1 in the namespace: namespace.ts)
//                    └── sshd -D -f … -E …   (the listener; or start-modes.ts's socket holder)
//
// `procfs` is the namespace's /proc as the host sees it (/proc/<init's host pid>/root/proc); every
// server-side pid handed out is a pid in it. `server.startInstance()` starts a further sshd (its
// own port and config) in the same namespace. Cleanup: server.stop(), t.after() when a test
// context is passed, and cleanup.ts's exit hook.

import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'
import { freePort } from '../free-port.ts'
import { errorText, type Truthy, waitFor, type WaitOptions } from '../wait.ts'
import { checkSshd, INSTALL_HINT, type SshdBuild, sshdBinaries, sshdCommand } from './builds.ts'
import type { ClientProcess } from './client-process.ts'
import { type Resource, track, untrack } from './cleanup.ts'
import {
  type ConnectOptions,
  type ControlMaster,
  type PendingAuthOptions,
  type PreauthHanger,
  type PreauthHangerOptions,
  type SftpOptions,
  type SshConnection,
  SshdClients,
} from './clients.ts'
import { baseConfig, HOST, renderConfig, type SshdConfig } from './config.ts'
import { INIT_SCRIPT, Namespace } from './namespace.ts'
import { childPids, listProcesses, type ProcessInfo, readProcess } from './processes.ts'
import { listenSocketHolders, sshdChildSync } from './sockets.ts'
import {
  checkStartMode,
  launchInNamespace,
  SOCKET_ACTIVATE_COMM,
  SOCKET_HOLDER_SCRIPT,
  SOCKET_HOLDER_SCRIPT_NAME,
  type StartMode,
  startCommand,
} from './start-modes.ts'
import { ensureTestUser, ensureTestUserIn, TEST_USER } from './test-user.ts'

const execFileAsync = promisify(execFile)

export interface StartSshdOptions {
  version: SshdBuild
  /** Keyword overrides of the base config (see `baseConfig`). */
  config?: SshdConfig
  /** Raw text appended at the end of sshd_config (Match blocks). */
  extraConfig?: string
  /** When given, `server.stop()` is registered with `t.after`. */
  t?: Pick<TestContext, 'after'>
  timeoutMs?: number
  /**
   * `private`: sshd also gets its own network namespace (only `lo`, brought up by the init), and
   * the ssh clients run in it too (nsenter), so that a test may drop packets there (tc) without
   * touching the host. `preauthHanger()` is not available then. Default `host`.
   */
  network?: 'host' | 'private'
  /**
   * How sshd is started (see start-modes.ts): `daemon` (default) `sshd -D`; `socket`, systemd's
   * Accept=no: systemd-socket-activate holds the port and starts the listener on the first
   * connection; `inetd`, Accept=yes: one `sshd -i` per connection, child of the socket holder.
   */
  start?: StartMode
  /** Extra sshd arguments, after `-f <config> -E <log>` (e.g. `['-o', 'MaxSessions=4']`). */
  args?: readonly string[]
  /**
   * Whether the namespace has a /run/utmp (an empty one, which sshd fills with its pty logins):
   * `false` leaves none, as on Debian 13 and other hosts that keep no utmp (glibc's login(3)
   * then writes nothing). Default: SSHD_TEST_UTMP (`present` or `absent`) when set, else what
   * the build's distribution does: present for Debian 12's builds, absent for Debian 13's.
   */
  utmp?: boolean
}

/**
 * The utmp setting of a server whose test does not choose one: SSHD_TEST_UTMP=present|absent
 * (CI runs the real-sshd tests both ways), else the build's distribution's.
 */
export function defaultUtmp(version: SshdBuild): boolean {
  const setting = process.env.SSHD_TEST_UTMP
  if (setting === 'present') return true
  if (setting === 'absent') return false
  if (setting) throw new Error(`SSHD_TEST_UTMP is ${setting}: 'present', 'absent' or unset`)
  return sshdBinaries(version).root === undefined
}

/** A further sshd in a server's namespace: its own port, config file and log. */
export interface SshdInstanceOptions {
  /** Keyword overrides of the base config (see `baseConfig`). */
  config?: SshdConfig
  /** Raw text appended at the end of its sshd_config. */
  extraConfig?: string
  /** Extra sshd arguments, after `-f <config> -E <log>`. */
  args?: readonly string[]
  /** Default `daemon`. */
  start?: StartMode
}

/** One sshd (the server's first, or one from `startInstance`) and clients bound to its port. */
export interface SshdInstance {
  readonly version: SshdBuild
  /** First line of `sshd -V`, e.g. `OpenSSH_9.2, OpenSSL 3.0.…`. */
  readonly versionString: string
  readonly host: string
  readonly port: number
  /** The temporary directory with config, keys, log and control sockets. */
  readonly dir: string
  readonly configFile: string
  /** The sshd_config text in use. */
  readonly configText: string
  /** sshd's log (`-E`). */
  readonly logFile: string
  /** The namespace's /proc as seen from the host: /proc/<init's host pid>/root/proc. */
  readonly procfs: string
  /** The namespace's root as seen from the host (absolute symlinks in it resolve on the host!). */
  readonly rootfs: string
  /**
   * The namespace's private utmp (sshd writes pty sessions there), readable from the host; there
   * is no such file when `utmp` is false.
   */
  readonly utmpFile: string
  /** Whether the namespace has a /run/utmp (StartSshdOptions.utmp). */
  readonly utmp: boolean
  /** How this sshd was started. */
  readonly start: StartMode
  /** The extra sshd arguments it was started with. */
  readonly args: readonly string[]
  /**
   * Pid (in `procfs`) of the process holding the socket in `socket` and `inetd` modes (started
   * as systemd-socket-activate; in socket mode it turns into socket-holder.sh, still holding
   * the socket, on the first connection); 0 in daemon mode and after `stopSocketHolder()`.
   */
  readonly socketHolderPid: number
  /**
   * The listener's pid in `procfs`; 0 while there is none: in socket mode before the first
   * connection (read afresh on each access), always in inetd mode.
   */
  readonly listenerPid: number
  /** The test user's name. */
  readonly user: string
  /** The client's private key (ed25519), authorized for the test user and root. */
  readonly clientKey: string
  /**
   * ssh arguments for this server (no destination): -F /dev/null, port, key, BatchMode (unless
   * `batch: false`), no known-hosts checks. ssh takes the first value of an option: add more after.
   */
  sshArgs(opts?: { batch?: boolean }): string[]
  /** The namespace's processes. */
  processes(): Promise<ProcessInfo[]>
  /** The namespace's process tree as text (for messages). */
  processTree(): Promise<string>
  readLog(): Promise<string>
  /** Pid (in `procfs`) of the sshd process serving the client whose local port is given. */
  connectionPidFor(localPort: number): Promise<number | undefined>
  /** waitFor with the server's process tree and log in the timeout message. */
  waitFor<T>(what: string, check: () => T | Promise<T>, opts?: WaitOptions): Promise<Truthy<T>>
  /** A plain connection running a command; resolves when the command runs. */
  connect(opts?: ConnectOptions): Promise<SshConnection>
  /** A ControlMaster (`-M -S <socket> -N`); resolves when authenticated. */
  controlMaster(opts?: { user?: string; timeoutMs?: number }): Promise<ControlMaster>
  /**
   * A raw TCP connection that never sends (more than) a banner; resolves once the sshd process
   * serving it has its `[accepted]` title (it shows transient ones while sshd re-executes).
   */
  preauthHanger(opts?: PreauthHangerOptions): Promise<PreauthHanger>
  /**
   * A client that sent its user name and waits at a password (or PAM) prompt forever: pre-auth
   * with a user. Resolves when the client shows the prompt.
   */
  authPending(opts?: PendingAuthOptions): Promise<SshConnection>
  /** An sftp client (`sftp -b -`) kept open; resolves once it ran `pwd`. */
  sftp(opts?: SftpOptions): Promise<SshConnection>
  /**
   * `systemctl restart ssh`: SIGTERM to the listener, and a new one started with the same
   * config; connections live on, re-parented to the namespace's init. Resolves with the new
   * listener's pid (also in `listenerPid`) once it listens. Daemon mode only (throws otherwise).
   */
  restartListener(): Promise<number>
  /**
   * `systemctl stop ssh.socket ssh.service`: SIGTERM to the socket holder and, in socket mode,
   * the listener; resolves once they are gone and nothing listens on the port. Connections live
   * on, re-parented to the namespace's init. Socket and inetd modes only (throws otherwise).
   */
  stopSocketHolder(): Promise<void>
  /** Starts another sshd in the same namespace (the server's `startInstance`). */
  startInstance(opts?: SshdInstanceOptions): Promise<SshdInstance>
}

export interface SshdServer extends SshdInstance {
  /** Host pid of the namespace's init (PID 1 inside). */
  readonly initHostPid: number
  /** With `network: 'private'`, the namespace's network namespace as seen from the host. */
  readonly netns: string | undefined
  /**
   * Starts another sshd in the namespace, with its own free port, config file
   * (`<dir>/sshd_config.<n>`) and log; resolves once it listens (or its socket holder does).
   * Its clients are stopped with the server.
   */
  startInstance(opts?: SshdInstanceOptions): Promise<SshdInstance>
  /** Stops every client, the namespace (sshd and all in it) and removes `dir`. Idempotent. */
  stop(): Promise<void>
}

/** Starts a real sshd; see the module comment. */
export async function startSshd(opts: StartSshdOptions): Promise<SshdServer> {
  const versionString = await checkSshd(opts.version)
  const start = opts.start ?? 'daemon'
  await checkStartMode(start, INSTALL_HINT)
  const root = sshdBinaries(opts.version).root
  await (root === undefined ? ensureTestUser() : ensureTestUserIn(root))
  const server = new Server({
    version: opts.version,
    versionString,
    timeoutMs: opts.timeoutMs ?? 20_000,
    privateNet: opts.network === 'private',
    start,
    args: opts.args ?? [],
    utmp: opts.utmp ?? defaultUtmp(opts.version),
  })
  opts.t?.after(() => server.stop())
  try {
    await server.boot(opts.config ?? {}, opts.extraConfig)
  } catch (error) {
    await server.stop()
    throw error
  }
  return server
}

interface ServerSettings {
  version: SshdBuild
  versionString: string
  timeoutMs: number
  privateNet: boolean
  start: StartMode
  args: readonly string[]
  utmp: boolean
}

/**
 * The namespace and its first sshd. An instance (`startInstance`) is a Server too: it shares the
 * namespace, directory and client key of its `root`, which stops it and its clients.
 */
class Server extends SshdClients implements SshdServer, Resource {
  readonly version: SshdBuild
  readonly versionString: string
  readonly host = HOST
  readonly user = TEST_USER
  readonly start: StartMode
  readonly args: readonly string[]
  readonly utmp: boolean
  port = 0
  dir = ''
  configFile = ''
  configText = ''
  logFile = ''
  procfs = ''
  rootfs = ''
  utmpFile = ''
  clientKey = ''
  initHostPid = 0
  socketHolderPid = 0
  private daemonListenerPid = 0
  protected readonly timeoutMs: number
  protected readonly privateNet: boolean
  /** The server whose namespace this is: itself, or the one this instance was started from. */
  private readonly root: Server
  /** The root's instances. */
  private readonly instances: Server[] = []
  /** 1 for the root, 2, 3, … for its instances (in file names). */
  private readonly number: number

  get listenerPid(): number {
    if (this.start === 'daemon') return this.daemonListenerPid
    if (this.start === 'inetd' || !this.socketHolderPid) return 0
    return sshdChildSync(this.procfs, this.socketHolderPid)
  }

  get netns(): string | undefined {
    return this.privateNet && this.root.initHostPid
      ? `/proc/${this.root.initHostPid}/ns/net`
      : undefined
  }
  private namespace: Namespace | undefined
  private stopping: Promise<void> | undefined
  private seq = 0

  constructor(settings: ServerSettings, root?: Server) {
    super()
    this.version = settings.version
    this.versionString = settings.versionString
    this.timeoutMs = settings.timeoutMs
    this.privateNet = settings.privateNet
    this.start = settings.start
    this.args = settings.args
    this.utmp = settings.utmp
    if (root) {
      this.root = root
      this.number = root.instances.length + 2
      this.dir = root.dir
      this.clientKey = root.clientKey
      this.initHostPid = root.initHostPid
      this.rootfs = root.rootfs
      this.procfs = root.procfs
      this.utmpFile = root.utmpFile
      root.instances.push(this)
    } else {
      this.root = this
      this.number = 1
      track(this)
    }
  }

  protected get stopped(): boolean {
    return this.root.stopping !== undefined
  }

  protected nextSeq(): number {
    return ++this.root.seq
  }

  private get isRoot(): boolean {
    return this.root === this
  }

  /** A file of this instance in `dir`: `sshd.log`, then `sshd.2.log`, … */
  private file(base: string, ext = ''): string {
    return path.join(this.dir, `${base}${this.number === 1 ? '' : `.${this.number}`}${ext}`)
  }

  async boot(config: SshdConfig, extraConfig: string | undefined): Promise<void> {
    if (this.isRoot) await this.prepareDir()
    this.logFile = this.file('sshd', '.log')
    this.configFile = this.file('sshd_config')
    // A free port can be taken between probing and sshd's bind: retry a few times.
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort()
      this.configText = renderConfig(
        [
          ...baseConfig({ port: this.port, dir: this.dir, version: this.version }),
          ...Object.entries(config),
        ],
        extraConfig,
      )
      await Promise.all([writeFile(this.configFile, this.configText), writeFile(this.logFile, '')])
      try {
        await this.launch()
        return
      } catch (error) {
        const output = `${await this.readLog().catch(() => '')}${await this.startOutput()}`
        if (attempt < 3 && /Address already in use|Cannot bind any address/.test(output)) {
          if (this.isRoot) await this.killNamespace()
          continue
        }
        throw error
      }
    }
  }

  private async prepareDir(): Promise<void> {
    // A build in a root of its own sees the directory at the same path, in a tmpfs on its /tmp.
    const parent = sshdBinaries(this.version).root ? '/tmp' : tmpdir()
    this.dir = await mkdtemp(path.join(parent, `sshd-exporter-test-${this.version}-`))
    // sshd reads authorized_keys as the user: the directory must be searchable by it.
    await chmod(this.dir, 0o755)
    if (/^\/(run|var\/log)(\/|$)/.test(this.dir)) {
      throw new Error(`temporary directory ${this.dir} would be hidden by the namespace's own /run`)
    }
    this.clientKey = path.join(this.dir, 'client_ed25519')
    await Promise.all([
      execFileAsync('ssh-keygen', [
        ...['-q', '-t', 'ed25519', '-N', '', '-C', 'sshd-exporter test host key'],
        ...['-f', path.join(this.dir, 'ssh_host_ed25519_key')],
      ]),
      execFileAsync('ssh-keygen', [
        ...['-q', '-t', 'ed25519', '-N', '', '-C', 'sshd-exporter test client'],
        ...['-f', this.clientKey],
      ]),
      writeFile(path.join(this.dir, 'init.sh'), INIT_SCRIPT),
      writeFile(path.join(this.dir, SOCKET_HOLDER_SCRIPT_NAME), SOCKET_HOLDER_SCRIPT),
      writeFile(
        path.join(this.dir, 'askpass.sh'),
        // Announces the prompt, then never answers; ends when its ssh client is gone (re-parented:
        // `kill -0` would go on succeeding on an unreaped zombie ssh).
        '#!/bin/sh\necho "__sshd_test_askpass__ $*" >&2\nparent=$PPID\nwhile read -r _ _ _ ppid _ </proc/$$/stat && [ "$ppid" = "$parent" ]; do sleep 0.2; done\n',
        { mode: 0o755 },
      ),
    ])
    await writeFile(
      path.join(this.dir, 'authorized_keys'),
      await readFile(`${this.clientKey}.pub`, 'utf8'),
      { mode: 0o644 },
    )
  }

  /** What starts this sshd (or its socket holder), inside the namespace. */
  private command(): string[] {
    return startCommand({
      mode: this.start,
      sshd: sshdCommand(this.version),
      configFile: this.configFile,
      logFile: this.logFile,
      args: this.args,
      host: HOST,
      port: this.port,
      dir: this.dir,
    })
  }

  /** Output of what started sshd: unshare and the init (root), or nsenter (instance). */
  private async startOutput(): Promise<string> {
    if (this.isRoot) return this.namespace?.output ?? ''
    return readFile(this.file('instance', '.out'), 'utf8').catch(() => '')
  }

  private async launchInstance(): Promise<void> {
    await launchInNamespace({
      initHostPid: this.initHostPid,
      privateNet: this.privateNet,
      argv: this.command(),
      outputFile: this.file('instance', '.out'),
    })
  }

  private async launch(): Promise<void> {
    if (!this.isRoot) {
      await writeFile(this.file('instance', '.out'), '')
      await this.launchInstance()
      await this.ready(async () => {
        const output = `${await this.readLog()}${await this.startOutput()}`
        if (/Address already in use|Cannot bind any address/.test(output)) {
          throw new Error(`sshd ${this.version} instance did not start: ${output}`)
        }
      })
      return
    }
    const ns = new Namespace({
      dir: this.dir,
      privateNet: this.privateNet,
      buildRoot: sshdBinaries(this.version).root,
      utmp: this.utmp,
      command: this.command(),
    })
    this.namespace = ns
    const failed = async (what: string): Promise<string> =>
      `sshd ${this.version} did not start (${what})\nunshare/init output: ${ns.output}\nsshd log: ${await this.readLog().catch(() => '(none)')}`
    const notExited = async (): Promise<void> => {
      if (ns.exited) throw new Error(await failed('the namespace exited'))
    }

    this.initHostPid = await waitFor(
      'the PID namespace init',
      async () => {
        await notExited()
        return (await childPids(ns.pid))[0]
      },
      { timeoutMs: this.timeoutMs },
    ).catch(async (error) => {
      throw new Error(await failed(errorText(error)))
    })
    // The namespace's root, or the build's own root as seen through the namespace's mounts.
    const namespaceRoot = `/proc/${this.initHostPid}/root`
    this.rootfs = `${namespaceRoot}${sshdBinaries(this.version).root ?? ''}`
    this.procfs = `${namespaceRoot}/proc`
    this.utmpFile = `${this.rootfs}/run/utmp`

    await this.ready(notExited)
  }

  /**
   * Waits until this sshd is up: in daemon mode a listener (other than `previous`), child of
   * the init, listening on the port (`listenerPid`); otherwise systemd-socket-activate, child
   * of the init, holding the LISTEN socket (`socketHolderPid`).
   */
  private async ready(notExited: () => Promise<void>, previous?: number): Promise<void> {
    if (this.start !== 'daemon') {
      this.socketHolderPid = await this.waitFor(
        `systemd-socket-activate (${this.start}) listening on ${HOST}:${this.port}`,
        async () => {
          await notExited()
          const holders = (await listProcesses(this.procfs)).filter(
            (p) => p.ppid === 1 && p.comm === SOCKET_ACTIVATE_COMM && p.state !== 'Z',
          )
          const pids = holders.map((p) => p.pid)
          return (await listenSocketHolders(this.procfs, pids, this.port))[0]
        },
        { timeoutMs: this.timeoutMs },
      )
      return
    }
    this.daemonListenerPid = await this.waitFor(
      `sshd ${this.version} listening on ${HOST}:${this.port}`,
      async () => {
        await notExited()
        const listeners = (await listProcesses(this.procfs)).filter(
          (p) =>
            p.ppid === 1 &&
            p.comm === 'sshd' &&
            p.state !== 'Z' &&
            p.pid !== previous &&
            p.title.includes('[listener]'),
        )
        const pids = listeners.map((p) => p.pid)
        return (await listenSocketHolders(this.procfs, pids, this.port))[0]
      },
      { timeoutMs: this.timeoutMs },
    )
  }

  /** `kill -<signal> <pids>` inside the namespace (pids in `procfs`). */
  private async killInNamespace(signal: string, pids: readonly number[]): Promise<void> {
    await execFileAsync('nsenter', [
      ...['-t', String(this.initHostPid), '-p', '--'],
      ...['kill', `-${signal}`, ...pids.map(String)],
    ])
  }

  private gone(pid: number): () => Promise<boolean> {
    return async () => {
      const p = await readProcess(this.procfs, pid)
      return p === undefined || p.state === 'Z'
    }
  }

  async restartListener(): Promise<number> {
    if (this.start !== 'daemon') {
      throw new Error(
        `restartListener() needs start 'daemon', this sshd has '${this.start}' (see stopSocketHolder())`,
      )
    }
    const previous = this.daemonListenerPid
    if (this.isRoot) await writeFile(path.join(this.rootfs, 'run', 'sshd-test-restart'), '')
    await this.killInNamespace('TERM', [previous])
    if (!this.isRoot) {
      // The root's init restarts the root's listener; an instance's is started again here, once
      // the old one has let go of the port.
      await this.waitFor(`the old listener (pid ${previous}) to exit`, this.gone(previous))
      await this.launchInstance()
    }
    await this.ready(() => Promise.resolve(), previous)
    return this.daemonListenerPid
  }

  async stopSocketHolder(): Promise<void> {
    if (this.start === 'daemon') {
      throw new Error(
        `stopSocketHolder() needs start 'socket' or 'inetd', this sshd has 'daemon' (see restartListener())`,
      )
    }
    const holder = this.socketHolderPid
    if (!holder) return
    const pids = [holder, this.listenerPid].filter((pid) => pid !== 0)
    // The root's holder is the init's job: the init must outlive it for connections to live on.
    await writeFile(path.join(this.rootfs, 'run', 'sshd-test-linger'), '')
    await this.killInNamespace('TERM', pids)
    await this.waitFor(
      `the socket holder (pid ${holder}) to exit and ${HOST}:${this.port} to close`,
      async () => {
        for (const pid of pids) if (!(await this.gone(pid)())) return false
        const all = (await this.processes()).map((p) => p.pid)
        return (await listenSocketHolders(this.procfs, all, this.port)).length === 0
      },
    )
    this.socketHolderPid = 0
  }

  async startInstance(opts: SshdInstanceOptions = {}): Promise<SshdInstance> {
    const root = this.root
    if (root.stopping) throw new Error('the server is stopped')
    const start = opts.start ?? 'daemon'
    await checkStartMode(start, INSTALL_HINT)
    const instance = new Server(
      {
        version: root.version,
        versionString: root.versionString,
        timeoutMs: root.timeoutMs,
        privateNet: root.privateNet,
        start,
        args: opts.args ?? [],
        utmp: root.utmp,
      },
      root,
    )
    await instance.boot(opts.config ?? {}, opts.extraConfig)
    return instance
  }

  /** Stops the namespace with everything in it (an instance: its root's). */
  stop(): Promise<void> {
    if (!this.isRoot) return this.root.stop()
    this.stopping ??= this.doStop()
    return this.stopping
  }

  /** SIGKILL to the clients of this server and its instances, and their sockets closed. */
  private killClients(): ClientProcess[] {
    const servers = [this, ...this.instances]
    for (const socket of servers.flatMap((s) => [...s.sockets])) socket.destroy()
    const clients = servers.flatMap((s) => [...s.clients])
    for (const client of clients) client.signal('SIGKILL')
    return clients
  }

  private async doStop(): Promise<void> {
    await Promise.all(this.killClients().map((c) => c.stop(1000)))
    await this.killNamespace()
    untrack(this)
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }

  private async killNamespace(): Promise<void> {
    await this.namespace?.kill(this.initHostPid)
    this.initHostPid = 0
  }

  killNow(): void {
    this.killClients()
    this.namespace?.killNow(this.initHostPid)
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }
}
