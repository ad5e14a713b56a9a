// A real-sshd test bed: starts OpenSSH 9.2 (the system's /usr/sbin/sshd), 10.0 (unpacked into
// .tools/openssh-10.0 by scripts/install-test-deps.sh) or Debian 13's own 10.0p2 (`10.0-trixie`,
// chrooted into the trixie root that scripts/make-trixie-root.sh makes in .tools/trixie) on
// 127.0.0.1, each in its own PID namespace with its own /proc, and drives it with real OpenSSH
// clients (the host's).
//
// Layout of one server (host view):
//
//   node ── setpriv --pdeathsig KILL ── unshare --pid --fork --mount-proc --kill-child
//              └── bash init.sh              (PID 1 in the namespace: reaps orphans)
//                    └── sshd -D -f … -E …   (the listener, PID 2 or so in the namespace)
//
// The namespace's /proc is visible from the host as /proc/<init's host pid>/root/proc (`procfs`);
// every pid this module hands out for a server-side process is a pid in that namespace.
// Inside the namespace a private tmpfs is mounted on /run (sshd's privsep directory /run/sshd and,
// unless `utmp: false`, an empty /run/utmp) and on /var/log (wtmp, btmp, lastlog), so tests never
// write the host's login records and can read the server's own utmp (`utmpFile`).
//
// The trixie build runs as `chroot <root> /usr/sbin/sshd` (same pid: chroot execs it), with its
// own libraries, sshd-session and sshd-auth, PAM configuration and /etc/passwd. The init mounts,
// in the namespace only, the namespace's /proc on <root>/proc, a /dev with a devpts instance of
// its own (so its ptys are /dev/pts/0, 1, … as on a fresh host), a tmpfs on /tmp with the test's
// directory bound at its own path (config, host key, authorized_keys, log), and tmpfs on /run
// and /var/log (where it writes wtmp, wtmp.db and lastlog). `rootfs` is that root as the host
// sees it through the namespace.
//
// `start: 'socket' | 'inetd'` starts sshd as systemd's socket units do (Accept=no, Accept=yes),
// with systemd-socket-activate holding the socket; `server.startInstance()` starts a further sshd
// (its own port and config) in the same namespace. Both live in sshd-start.ts.
//
// Cleanup: server.stop(), t.after() when a test context is passed, a process 'exit' hook, and
// parent-death signals (setpriv --pdeathsig, unshare --kill-child) for when node dies hard.

import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { access, chmod, constants, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'
import {
  checkStartMode,
  isGone,
  launchInNamespace,
  listenSocketHolders,
  readTcp,
  SOCKET_ACTIVATE_COMM,
  SOCKET_HOLDER_SCRIPT,
  SOCKET_HOLDER_SCRIPT_NAME,
  socketInodes,
  sshdChildSync,
  type StartMode,
  startCommand,
  TCP_ESTABLISHED,
} from './sshd-start.ts'

export { START_MODES, type StartMode } from './sshd-start.ts'

const execFileAsync = promisify(execFile)

/** The builds on Debian 12 that most integration tests loop over (SSHD_VERSIONS). */
export type SshdVersion = '9.2' | '10.0'
export const SSHD_VERSIONS: readonly SshdVersion[] = ['9.2', '10.0']
/**
 * Every real OpenSSH build: `9.2` (Debian 12's), `10.0` (bookworm-backports', beside it) and
 * `10.0-trixie`, Debian 13's own 10.0p2 in a trixie root of its own.
 */
export type SshdBuild = SshdVersion | '10.0-trixie'
export const SSHD_BUILDS: readonly SshdBuild[] = [...SSHD_VERSIONS, '10.0-trixie']

/** The upstream OpenSSH version of a build: what its titles, log lines and config rules follow. */
export function openSshVersion(version: SshdBuild): SshdVersion {
  return version === '9.2' ? '9.2' : '10.0'
}

/** The unprivileged test user, created once (useradd) when missing. */
export const TEST_USER = 'sshdexp'

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..')
const INSTALL_HINT =
  'run scripts/install-test-deps.sh (as root) to install OpenSSH 9.2, 10.0 and the Debian 13 root'
const OPENSSH_10_ROOT = path.join(REPO_ROOT, '.tools', 'openssh-10.0')
/** Debian 13 (trixie) with its openssh-server, made by scripts/make-trixie-root.sh. */
export const TRIXIE_ROOT = path.join(REPO_ROOT, '.tools', 'trixie')
const HOST = '127.0.0.1'
const SFTP_SERVER = '/usr/lib/openssh/sftp-server'

export interface SshdBinaries {
  /** sshd, as the host sees it. */
  sshd: string
  session?: string
  auth?: string
  /**
   * For a build in a root of its own (Debian 13's): that root. Its binaries run only chrooted
   * there (trixie's glibc and OpenSSL), where they are /usr/sbin/sshd and /usr/lib/openssh/….
   */
  root?: string
}

/**
 * Where each build's binaries are, as the host sees them; sshd-session and sshd-auth only exist
 * from 9.8 and 10.0 on.
 */
export function sshdBinaries(version: SshdBuild): SshdBinaries {
  if (version === '9.2') return { sshd: '/usr/sbin/sshd' }
  const root = version === '10.0-trixie' ? TRIXIE_ROOT : OPENSSH_10_ROOT
  return {
    sshd: path.join(root, 'usr/sbin/sshd'),
    session: path.join(root, 'usr/lib/openssh/sshd-session'),
    auth: path.join(root, 'usr/lib/openssh/sshd-auth'),
    ...(version === '10.0-trixie' ? { root } : {}),
  }
}

/** The command that runs a build's sshd (inside the namespace); chroot execs it in place. */
export function sshdCommand(version: SshdBuild): string[] {
  const bins = sshdBinaries(version)
  return bins.root ? ['/usr/sbin/chroot', bins.root, '/usr/sbin/sshd'] : [bins.sshd]
}

// ---------------------------------------------------------------------------------------------
// Polling

export interface WaitOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number
  /** Poll interval (default 25 ms). */
  intervalMs?: number
  /** Extra context appended to the timeout error, e.g. the server's process tree. */
  describe?: () => string | Promise<string>
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>

/**
 * Polls `check` until it returns a truthy value and returns that value. Errors thrown by `check`
 * count as "not yet"; the last one is quoted when the wait times out.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  const intervalMs = opts.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as Truthy<T>
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) break
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())))
  }
  let message = `timed out after ${timeoutMs} ms waiting for ${what}`
  if (lastError !== undefined) message += `\nlast error: ${errorText(lastError)}`
  if (opts.describe) {
    try {
      message += `\n${await opts.describe()}`
    } catch (error) {
      message += `\n(describe failed: ${errorText(error)})`
    }
  }
  throw new Error(message)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

// ---------------------------------------------------------------------------------------------
// procfs reading (the test bed's own, deliberately independent of src/)

export interface ProcessInfo {
  pid: number
  ppid: number
  /** /proc/<pid>/stat's comm: the executable's name, at most 15 characters. */
  comm: string
  /** One-letter state from stat (S, R, Z, …). */
  state: string
  /** Effective uid (from status). */
  uid: number
  /** /proc/<pid>/cmdline up to the first NUL: the process title. */
  title: string
  /** /proc/<pid>/cmdline as read, NULs included. */
  cmdline: string
}

/** One process from a procfs, or undefined when it is gone. */
export async function readProcess(procfs: string, pid: number): Promise<ProcessInfo | undefined> {
  const dir = path.join(procfs, String(pid))
  try {
    const [stat, cmdline, status] = await Promise.all([
      readFile(path.join(dir, 'stat'), 'latin1'),
      readFile(path.join(dir, 'cmdline'), 'utf8'),
      readFile(path.join(dir, 'status'), 'utf8'),
    ])
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    const rest = stat.slice(close + 2).split(' ')
    const uidLine = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)
    const nul = cmdline.indexOf('\0')
    return {
      pid,
      ppid: Number(rest[1]),
      comm: stat.slice(open + 1, close),
      state: rest[0] ?? '?',
      uid: uidLine ? Number(uidLine[2]) : -1,
      title: nul === -1 ? cmdline : cmdline.slice(0, nul),
      cmdline,
    }
  } catch (error) {
    if (isGone(error)) return undefined
    throw error
  }
}

/** Every process in a procfs, sorted by pid. */
export async function listProcesses(procfs: string): Promise<ProcessInfo[]> {
  const pids = (await readdir(procfs))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b)
  const procs = await Promise.all(pids.map((pid) => readProcess(procfs, pid)))
  return procs.filter((p): p is ProcessInfo => p !== undefined)
}

/** An indented tree (pid, ppid, comm, state, uid, title), for assertion and timeout messages. */
export function formatProcessTree(procs: readonly ProcessInfo[]): string {
  const byParent = new Map<number, ProcessInfo[]>()
  const pids = new Set(procs.map((p) => p.pid))
  for (const p of procs) {
    const key = pids.has(p.ppid) ? p.ppid : -1
    byParent.set(key, [...(byParent.get(key) ?? []), p])
  }
  const lines: string[] = []
  const walk = (parent: number, depth: number): void => {
    for (const p of byParent.get(parent) ?? []) {
      lines.push(
        `${'  '.repeat(depth)}${p.pid} (ppid ${p.ppid}) ${p.comm} ${p.state} uid=${p.uid} ${JSON.stringify(p.title)}`,
      )
      walk(p.pid, depth + 1)
    }
  }
  walk(-1, 0)
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Process-wide cleanup: whatever is still running when node exits is killed.

interface Resource {
  /** Synchronous, best effort: used from the 'exit' hook. */
  killNow(): void
}

const live = new Set<Resource>()
let hooksInstalled = false

function track(resource: Resource): void {
  live.add(resource)
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllNow()
      process.removeListener(signal, onSignal)
      // Re-raise so the default action (or another listener) still ends the process.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

function killAllNow(): void {
  for (const resource of [...live]) {
    try {
      resource.killNow()
    } catch {
      // best effort
    }
  }
  live.clear()
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

const versionCache = new Map<SshdBuild, Promise<string>>()

/**
 * Checks that the binaries for `version` are there and really are that version; returns the first
 * line of `sshd -V`. Throws an error naming scripts/install-test-deps.sh otherwise (tests must
 * fail, never skip, without a real sshd).
 */
export function checkSshd(version: SshdBuild): Promise<string> {
  let cached = versionCache.get(version)
  if (!cached) {
    cached = probeSshd(version)
    versionCache.set(version, cached)
  }
  return cached
}

async function probeSshd(version: SshdBuild): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the real-sshd tests must run as root (sshd ${version}, PID namespaces, useradd); ${INSTALL_HINT}`,
    )
  }
  const bins = sshdBinaries(version)
  const required = [
    bins.sshd,
    ...(bins.session ? [bins.session] : []),
    ...(bins.auth ? [bins.auth] : []),
    '/usr/bin/ssh',
    '/usr/bin/ssh-keygen',
    '/usr/bin/unshare',
    '/usr/bin/setpriv',
  ]
  for (const file of required) {
    try {
      await access(file, constants.X_OK)
    } catch {
      throw new Error(
        `OpenSSH ${version} test dependency missing: ${file} is not there; ${INSTALL_HINT}`,
      )
    }
  }
  // sshd -V prints the version on stderr and exits non-zero (9.2) or zero (10.0).
  const [command, ...args] = sshdCommand(version)
  let output: string
  try {
    const r = await execFileAsync(command!, [...args, '-V'])
    output = `${r.stderr}${r.stdout}`
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string }
    output = `${e.stderr ?? ''}${e.stdout ?? ''}`
  }
  const line = output.split('\n')[0]?.trim() ?? ''
  const expected = new RegExp(
    `^OpenSSH_${openSshVersion(version).replace('.', '\\.')}(?![0-9])${bins.root ? '.* Debian-\\S+deb13' : ''}`,
  )
  if (!expected.test(line)) {
    throw new Error(
      `${bins.sshd} is not OpenSSH ${version} (sshd -V said ${JSON.stringify(line)}); ${INSTALL_HINT}`,
    )
  }
  return line
}

let userReady: Promise<void> | undefined

/**
 * Creates the test user once (home /home/sshdexp, shell /bin/bash). Its password field is set to
 * `*` (no password can match, but the account is not "locked" with `!`, which sshd refuses for
 * public keys when UsePAM is no).
 */
export function ensureTestUser(): Promise<void> {
  userReady ??= (async () => {
    try {
      await execFileAsync('id', ['-u', TEST_USER])
      return
    } catch {
      // missing: create it
    }
    try {
      await execFileAsync('useradd', [
        '--create-home',
        '--home-dir',
        `/home/${TEST_USER}`,
        '--shell',
        '/bin/bash',
        '--user-group',
        TEST_USER,
      ])
    } catch (error) {
      // 9: the user appeared meanwhile (another test process made it)
      if ((error as { code?: number }).code !== 9) throw error
    }
    await execFileAsync('usermod', ['-p', '*', TEST_USER])
  })()
  return userReady
}

const rootUserReady = new Map<string, Promise<void>>()

/**
 * The test user in a build's own root too (its sshd reads that root's /etc/passwd), made there
 * with the root's own groupadd and useradd, with the host's uid and gid, so that both sides name
 * the same user for every uid.
 */
function ensureTestUserIn(root: string): Promise<void> {
  let ready = rootUserReady.get(root)
  if (!ready) {
    ready = (async () => {
      await ensureTestUser()
      const passwd = await readFile(path.join(root, 'etc', 'passwd'), 'utf8')
      if (passwd.split('\n').some((line) => line.startsWith(`${TEST_USER}:`))) return
      const id = async (flag: string): Promise<string> =>
        (await execFileAsync('id', [flag, TEST_USER])).stdout.trim()
      const [uid, gid] = [await id('-u'), await id('-g')]
      const inRoot = async (args: string[]): Promise<void> => {
        try {
          await execFileAsync('chroot', [root, ...args])
        } catch (error) {
          // 9: the name is taken already (a run that stopped half-way)
          if ((error as { code?: number }).code !== 9) throw error
        }
      }
      await inRoot(['groupadd', '--gid', gid, TEST_USER])
      await inRoot([
        ...['useradd', '--create-home', '--home-dir', `/home/${TEST_USER}`],
        ...['--shell', '/bin/bash', '--uid', uid, '--gid', gid, '--password', '*', TEST_USER],
      ])
    })()
    rootUserReady.set(root, ready)
  }
  return ready
}

// ---------------------------------------------------------------------------------------------
// Configuration

export type SshdConfigValue = string | number | boolean | readonly (string | number)[] | null

/**
 * sshd_config keywords. A value replaces the base config's value for that keyword (keywords are
 * case-insensitive); `null` removes the keyword; an array writes the keyword once per element;
 * booleans become yes/no.
 */
export type SshdConfig = Readonly<Record<string, SshdConfigValue>>

function renderConfig(
  entries: Array<[string, SshdConfigValue]>,
  extra: string | undefined,
): string {
  const merged = new Map<string, [string, SshdConfigValue]>()
  for (const [key, value] of entries) merged.set(key.toLowerCase(), [key, value])
  const lines: string[] = []
  for (const [key, value] of merged.values()) {
    if (value === null) continue
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) {
      lines.push(`${key} ${typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)}`)
    }
  }
  return `${lines.join('\n')}\n${extra ? `\n${extra.trimEnd()}\n` : ''}`
}

// ---------------------------------------------------------------------------------------------
// Clients

/** A client process (ssh, sftp) in its own process group, its output collected. */
class ClientProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<number | null>
  stdout = ''
  stderr = ''
  exitCode: number | null | undefined = undefined
  private readonly listeners = new Set<() => void>()

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
    // setpriv --pdeathsig: the client dies with this node process even on SIGKILL.
    this.child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env,
    })
    if (this.child.pid === undefined) throw new Error(`could not start ${command}`)
    this.pid = this.child.pid
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout = clip(this.stdout + s)
      this.notify()
    })
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr = clip(this.stderr + s)
      this.notify()
    })
    this.child.stdin!.on('error', () => {})
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null)
        this.notify()
        resolve(code)
      })
      this.child.on('error', (error) => {
        this.stderr += `\nspawn error: ${error.message}`
        this.exitCode = -1
        this.notify()
        resolve(null)
      })
    })
    // Leaked clients must not keep node alive; the 'exit' hook kills them.
    this.child.unref()
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) {
      ;(stream as unknown as net.Socket | null)?.unref?.()
    }
  }

  get running(): boolean {
    return this.exitCode === undefined
  }

  /** Resolves once `text` appears on stdout or stderr; rejects when the process exits first. */
  waitForOutput(text: string, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        this.listeners.delete(check)
        if (error) reject(error)
        else resolve()
      }
      const check = (): void => {
        if (this.stdout.includes(text) || this.stderr.includes(text)) done()
        else if (!this.running) {
          done(
            new Error(
              `${what}: the client exited (code ${this.exitCode}) first\n${this.describe()}`,
            ),
          )
        }
      }
      const timer = setTimeout(
        () => done(new Error(`${what}: timed out after ${timeoutMs} ms\n${this.describe()}`)),
        timeoutMs,
      )
      this.listeners.add(check)
      check()
    })
  }

  describe(): string {
    return `client pid ${this.pid}, args ${JSON.stringify(this.child.spawnargs.slice(3))}\nstdout: ${this.stdout.slice(-2000)}\nstderr: ${this.stderr.slice(-2000)}`
  }

  /** Ends stdin, then SIGTERM to the process group, then SIGKILL; resolves when it exited. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return
    this.child.ref()
    this.child.stdin?.end()
    this.signal('SIGTERM')
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
    this.signal('SIGKILL') // whatever else is in its group (askpass helpers)
  }

  signal(signal: NodeJS.Signals): void {
    killQuietly(-this.pid, signal)
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener()
  }
}

function clip(s: string): string {
  return s.length > 65_536 ? s.slice(-65_536) : s
}

/** Anything a server hands out that can be closed. */
export interface Closable {
  /** Stops it; idempotent. Resolves when the client process has exited (not when sshd noticed). */
  close(): Promise<void>
}

export interface SshConnection extends Closable {
  /** Host pid of the ssh client. */
  readonly clientPid: number
  /** The client's local TCP port. */
  readonly localPort: number
  /**
   * Pid (in `procfs`) of the connection's top sshd process, the one holding the socket whose
   * parent does not: the listener's child (daemon and socket modes) or the `sshd -i` child of
   * the socket holder (inetd mode). That is the `[priv]` monitor, or for root logins up to 9.7
   * the monitor turned `root@…`.
   */
  readonly connectionPid: number
  /** What the client printed so far. */
  output(): string
}

export interface ConnectOptions {
  /** Login name (default the test user). */
  user?: string
  /** Remote shell command (default: `exec cat`, which ends with the channel). */
  command?: string
  /** Request a pty (`-tt`); default no (`-T`). */
  pty?: boolean
  /** More ssh arguments, before the destination. */
  extraArgs?: readonly string[]
  timeoutMs?: number
}

export interface MuxSessionOptions {
  pty?: boolean
  command?: string
  extraArgs?: readonly string[]
  timeoutMs?: number
}

export interface MuxSession extends Closable {
  /** Host pid of the multiplexing ssh client. */
  readonly clientPid: number
  output(): string
}

export interface ControlMaster extends SshConnection {
  readonly socketPath: string
  /** Opens a session over the master (`ssh -S <socket>`); resolves when its command runs. */
  session(opts?: MuxSessionOptions): Promise<MuxSession>
  /** Opens an sftp session over the master (`sftp -o ControlPath=<socket>`), kept open. */
  sftp(opts?: { timeoutMs?: number }): Promise<MuxSession>
}

export interface PreauthHanger extends Closable {
  readonly socket: net.Socket
  readonly localPort: number
  /** Pid (in `procfs`) of the sshd process that accepted this connection (see SshConnection). */
  readonly connectionPid: number
}

export interface PreauthHangerOptions {
  /**
   * An identification string to send (e.g. `SSH-2.0-test`), after which nothing more is sent:
   * sshd then waits in key exchange. Default: send nothing at all (sshd waits for the banner).
   */
  banner?: string
  timeoutMs?: number
}

export interface PendingAuthOptions {
  /** Login name (default the test user); a user that does not exist gives sshd's "invalid user". */
  user?: string
  /**
   * `password` (default; needs PasswordAuthentication yes, the base config's value) or
   * `keyboard-interactive` (PAM's conversation with UsePAM yes).
   */
  method?: 'password' | 'keyboard-interactive'
  timeoutMs?: number
}

export interface SftpOptions {
  user?: string
  timeoutMs?: number
}

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
   * How sshd is started (see sshd-start.ts): `daemon` (default) `sshd -D`; `socket`, systemd's
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

/** The base config; `config` overrides replace these keyword by keyword. */
export function baseConfig(args: {
  port: number
  dir: string
  version: SshdBuild
}): Array<[string, SshdConfigValue]> {
  const bins = sshdBinaries(args.version)
  return [
    ['ListenAddress', HOST],
    ['Port', args.port],
    ['AddressFamily', 'inet'],
    ['HostKey', path.join(args.dir, 'ssh_host_ed25519_key')],
    ['PidFile', 'none'],
    // UsePAM yes, as Debian (and most distributions) ship it: PAM's session and account modules
    // ran without trouble here, as root, in the PID namespace (pam_loginuid, pam_systemd without
    // systemd, pam_motd), and it keeps keyboard-interactive auth real. `UsePAM: false` also works:
    // the test user's password field is `*`, not a locked `!`.
    ['UsePAM', true],
    // The keys live in a directory under /tmp, which StrictModes rejects (world-writable parent).
    ['StrictModes', false],
    ['AuthorizedKeysFile', path.join(args.dir, 'authorized_keys')],
    ['PubkeyAuthentication', true],
    // No account here has a usable password; these let authPending() wait at a prompt.
    ['PasswordAuthentication', true],
    ['KbdInteractiveAuthentication', true],
    ['PermitRootLogin', 'prohibit-password'],
    ['UseDNS', false],
    ['PrintMotd', false],
    ['PrintLastLog', false],
    ['X11Forwarding', false],
    ['Subsystem', 'sftp internal-sftp'],
    // A build in a root of its own finds its sshd-session and sshd-auth where it was built to.
    ...(bins.session && !bins.root
      ? ([
          ['SshdSessionPath', bins.session],
          ['SshdAuthPath', bins.auth ?? null],
        ] as Array<[string, SshdConfigValue]>)
      : []),
  ]
}

/** `Subsystem` value for the external sftp-server (the base config uses internal-sftp). */
export const SFTP_SERVER_SUBSYSTEM = `sftp ${SFTP_SERVER}`

// The namespace's init: private /run and /var/log (in the build's own root, R, if it has one,
// with that root's /proc, /dev, /tmp and the test's directory), then sshd (or its socket holder)
// as a job (set -m: with its own process group and default SIGINT/SIGQUIT), and `wait`, which also
// reaps orphans re-parented to it. When the job ends the init ends, and the namespace with it,
// unless stopSocketHolder() asked it to linger.
const INIT_SCRIPT = `set -e
R=$SSHD_TEST_ROOT
if [ -n "$SSHD_TEST_PRIVATE_NET" ]; then ip link set lo up; fi
if [ -n "$R" ]; then
  mount -t proc sshd-test-proc "$R/proc"
  mount -t tmpfs -o mode=0755,size=1m sshd-test-dev "$R/dev"
  for node in null zero full random urandom tty; do
    touch "$R/dev/$node"
    mount --bind "/dev/$node" "$R/dev/$node"
  done
  mkdir -m 0755 "$R/dev/pts"
  mkdir -m 1777 "$R/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 sshd-test-pts "$R/dev/pts"
  ln -s pts/ptmx "$R/dev/ptmx"
  mount -t tmpfs -o mode=1777,size=16m sshd-test-tmp "$R/tmp"
  mkdir -p "$R$SSHD_TEST_DIR"
  mount --bind "$SSHD_TEST_DIR" "$R$SSHD_TEST_DIR"
fi
mount -t tmpfs -o mode=0755,size=16m sshd-test-run "$R/run"
mkdir -m 0755 "$R/run/sshd"
if [ -n "$SSHD_TEST_WITH_UTMP" ]; then install -m 0664 /dev/null "$R/run/utmp"; fi
mount -t tmpfs -o mode=0755,size=16m sshd-test-log "$R/var/log"
install -m 0664 /dev/null "$R/var/log/wtmp"
install -m 0660 /dev/null "$R/var/log/btmp"
install -m 0664 /dev/null "$R/var/log/lastlog"
mkfifo -m 0600 "$R/run/sshd-test-idle"
set +e -m
"$@" &
wait $!
# restartListener(): the listener was told to stop; start another, as systemd does on restart.
while [ -e "$R/run/sshd-test-restart" ]; do
  rm -f "$R/run/sshd-test-restart"
  "$@" &
  wait $!
done
# stopSocketHolder(): connections live on without holder and listener. Sleep on a FIFO that is
# never written (no child process to show), and reap orphans between reads (wait does).
while [ -e "$R/run/sshd-test-linger" ]; do
  read -r -t 0.2 <>"$R/run/sshd-test-idle"
  wait
done
`

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
class Server implements SshdServer, Resource {
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
  private readonly timeoutMs: number
  private readonly privateNet: boolean
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
  private unshare: ChildProcess | undefined
  private unshareExited: Promise<void> = Promise.resolve()
  private unshareOutput = ''
  private readonly clients = new Set<ClientProcess>()
  private readonly sockets = new Set<net.Socket>()
  private stopping: Promise<void> | undefined
  private seq = 0

  constructor(settings: ServerSettings, root?: Server) {
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
    if (this.isRoot) return this.unshareOutput
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
    const child = spawn(
      'setpriv',
      [
        ...['--pdeathsig', 'KILL', '--'],
        ...['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL'],
        ...(this.privateNet ? ['--net', '--'] : ['--']),
        ...['/bin/bash', path.join(this.dir, 'init.sh')],
        ...this.command(),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          SSHD_TEST_PRIVATE_NET: this.privateNet ? '1' : '',
          SSHD_TEST_ROOT: sshdBinaries(this.version).root ?? '',
          SSHD_TEST_DIR: this.dir,
          SSHD_TEST_WITH_UTMP: this.utmp ? '1' : '',
        },
      },
    )
    this.unshare = child
    this.unshareOutput = ''
    let exited = false
    this.unshareExited = new Promise((resolve) => {
      child.on('exit', () => {
        exited = true
        resolve()
      })
      child.on('error', (error) => {
        this.unshareOutput += `spawn error: ${error.message}\n`
        exited = true
        resolve()
      })
    })
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (s: string) => {
        this.unshareOutput = clip(this.unshareOutput + s)
      })
      ;(stream as unknown as net.Socket | null)?.unref?.()
    }
    child.unref()
    const unsharePid = child.pid
    if (unsharePid === undefined) throw new Error('could not start unshare')

    const failed = async (what: string): Promise<string> =>
      `sshd ${this.version} did not start (${what})\nunshare/init output: ${this.unshareOutput}\nsshd log: ${await this.readLog().catch(() => '(none)')}`
    const notExited = async (): Promise<void> => {
      if (exited) throw new Error(await failed('the namespace exited'))
    }

    this.initHostPid = await waitFor(
      'the PID namespace init',
      async () => {
        await notExited()
        return (await childPids(unsharePid))[0]
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
  sshArgs(opts: { batch?: boolean } = {}): string[] {
    return [
      ...['-F', '/dev/null', '-p', String(this.port), '-i', this.clientKey],
      ...[
        '-o',
        `BatchMode=${opts.batch === false ? 'no' : 'yes'}`,
        '-o',
        'StrictHostKeyChecking=no',
      ],
      ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null'],
      ...['-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'LogLevel=ERROR'],
      ...['-o', 'ConnectTimeout=10'],
    ]
  }

  processes(): Promise<ProcessInfo[]> {
    return listProcesses(this.procfs)
  }

  async processTree(): Promise<string> {
    try {
      return formatProcessTree(await this.processes())
    } catch (error) {
      return `(no process tree: ${errorText(error)})`
    }
  }

  async readLog(): Promise<string> {
    try {
      return await readFile(this.logFile, 'utf8')
    } catch (error) {
      if (isGone(error)) return ''
      throw error
    }
  }

  waitFor<T>(
    what: string,
    check: () => T | Promise<T>,
    opts: WaitOptions = {},
  ): Promise<Truthy<T>> {
    return waitFor(what, check, {
      timeoutMs: this.timeoutMs,
      ...opts,
      describe: async () =>
        `${opts.describe ? `${await opts.describe()}\n` : ''}sshd ${this.version} processes:\n${await this.processTree()}\nsshd log (tail):\n${(await this.readLog()).slice(-3000)}`,
    })
  }

  async connectionPidFor(localPort: number): Promise<number | undefined> {
    const tcp = await readTcp(path.join(this.procfs, '1'))
    const entry = tcp.find(
      (e) => e.localPort === this.port && e.remotePort === localPort && e.inode !== 0,
    )
    if (!entry) return undefined
    // The top process holding the socket: a child of the listener (daemon, socket) or of the
    // holder (inetd), or of the init once they are gone; never they, who hold it while forking.
    const listener = this.listenerPid
    const servers = new Set([listener, this.socketHolderPid])
    const parents = new Set([this.start === 'inetd' ? this.socketHolderPid : listener, 1])
    for (const p of await this.processes()) {
      if (!parents.has(p.ppid) || servers.has(p.pid) || p.state === 'Z') continue
      if ((await socketInodes(path.join(this.procfs, String(p.pid)))).has(entry.inode)) return p.pid
    }
    return undefined
  }

  /**
   * The local port of the TCP connection to this server held by a host client process or one of
   * its descendants (sftp runs ssh as its child).
   */
  private async clientLocalPort(clientPid: number): Promise<number | undefined> {
    const tcp = (await readTcp(`/proc/${clientPid}`)).filter(
      (e) => e.remotePort === this.port && e.state === TCP_ESTABLISHED,
    )
    const queue = [clientPid]
    for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
      const inodes = await socketInodes(`/proc/${pid}`)
      const entry = tcp.find((e) => inodes.has(e.inode))
      if (entry) return entry.localPort
      queue.push(...(await childPids(pid)))
    }
    return undefined
  }

  private spawnClient(
    command: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
  ): ClientProcess {
    if (this.root.stopping) throw new Error('the server is stopped')
    // With a private network the client runs in sshd's network namespace.
    const netns = this.netns
    const argv = netns === undefined ? args : [`--net=${netns}`, '--', command, ...args]
    const client = new ClientProcess(netns === undefined ? command : 'nsenter', argv, {
      ...process.env,
      ...env,
    })
    this.clients.add(client)
    void client.exited.then(() => this.clients.delete(client))
    return client
  }

  /** Resolves the connection of a host client, once the client's socket is seen by sshd. */
  private async resolveConnection(
    client: ClientProcess,
    what: string,
  ): Promise<{ localPort: number; connectionPid: number }> {
    return this.waitFor(
      `${what}: the sshd process serving it`,
      async () => {
        if (!client.running) throw new Error(`the client exited\n${client.describe()}`)
        const localPort = await this.clientLocalPort(client.pid)
        if (localPort === undefined) return undefined
        const connectionPid = await this.connectionPidFor(localPort)
        return connectionPid === undefined ? undefined : { localPort, connectionPid }
      },
      { describe: () => client.describe() },
    )
  }

  private async withCleanup<T>(client: ClientProcess, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      await client.stop(500)
      throw error
    }
  }

  private marker(): string {
    return `__sshd_test_ready_${++this.root.seq}_${randomBytes(4).toString('hex')}__`
  }

  async connect(opts: ConnectOptions = {}): Promise<SshConnection> {
    const user = opts.user ?? TEST_USER
    const marker = this.marker()
    const client = this.spawnClient('ssh', [
      ...this.sshArgs(),
      ...['-o', 'ControlMaster=no', '-o', 'ControlPath=none'],
      opts.pty ? '-tt' : '-T',
      ...(opts.extraArgs ?? []),
      `${user}@${HOST}`,
      `echo ${marker}; ${opts.command ?? 'exec cat'}`,
    ])
    const what = `ssh ${user}@ (${opts.pty ? 'pty' : 'no pty'})`
    return this.withCleanup(client, async () => {
      await client.waitForOutput(marker, what, opts.timeoutMs ?? this.timeoutMs)
      const conn = await this.resolveConnection(client, what)
      return connectionHandle(client, conn)
    })
  }

  async controlMaster(opts: { user?: string; timeoutMs?: number } = {}): Promise<ControlMaster> {
    const user = opts.user ?? TEST_USER
    // (instances share `dir`: the root numbers the sockets)
    const socketPath = path.join(this.dir, `cm-${++this.root.seq}`)
    const client = this.spawnClient('ssh', [
      ...this.sshArgs(),
      ...['-M', '-S', socketPath, '-N', '-o', 'ControlPersist=no'],
      `${user}@${HOST}`,
    ])
    const what = `ssh -M ${user}@`
    return this.withCleanup(client, async () => {
      // The control socket is created after authentication; -O check then answers.
      await this.waitFor(
        `${what}: its control socket`,
        async () => {
          if (!client.running) throw new Error(`the master exited\n${client.describe()}`)
          try {
            await execFileAsync('ssh', ['-F', '/dev/null', '-S', socketPath, '-O', 'check', HOST])
            return true
          } catch {
            return false
          }
        },
        { timeoutMs: opts.timeoutMs ?? this.timeoutMs, describe: () => client.describe() },
      )
      const conn = await this.resolveConnection(client, what)
      const base = connectionHandle(client, conn)
      const sessions = new Set<MuxSession>()
      const master: ControlMaster = {
        ...base,
        socketPath,
        session: async (s: MuxSessionOptions = {}) => {
          const session = await this.muxSession(socketPath, user, s)
          sessions.add(session)
          return session
        },
        sftp: async (s: { timeoutMs?: number } = {}) => {
          const session = await this.muxSftp(socketPath, user, s.timeoutMs)
          sessions.add(session)
          return session
        },
        close: async () => {
          if (client.running) {
            await execFileAsync('ssh', ['-F', '/dev/null', '-S', socketPath, '-O', 'exit', HOST], {
              timeout: 5000,
            }).catch(() => {})
          }
          await Promise.all([...sessions].map((s) => s.close()))
          await client.stop()
        },
      }
      return master
    })
  }

  private async muxSession(
    socketPath: string,
    user: string,
    opts: MuxSessionOptions,
  ): Promise<MuxSession> {
    const marker = this.marker()
    const client = this.spawnClient('ssh', [
      ...['-F', '/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-S', socketPath],
      opts.pty ? '-tt' : '-T',
      ...(opts.extraArgs ?? []),
      `${user}@${HOST}`,
      `echo ${marker}; ${opts.command ?? 'exec cat'}`,
    ])
    const what = `ssh -S (${opts.pty ? 'pty' : 'no pty'}) session`
    return this.withCleanup(client, async () => {
      await client.waitForOutput(marker, what, opts.timeoutMs ?? this.timeoutMs)
      return {
        clientPid: client.pid,
        output: () => client.stdout,
        close: () => client.stop(),
      }
    })
  }

  private async muxSftp(socketPath: string, user: string, timeoutMs?: number): Promise<MuxSession> {
    const client = this.spawnClient('sftp', [
      ...['-F', '/dev/null', '-o', 'LogLevel=ERROR', '-o', `ControlPath=${socketPath}`],
      ...['-o', 'ControlMaster=no', '-b', '-', `${user}@${HOST}`],
    ])
    client.child.stdin!.write('pwd\n')
    return this.withCleanup(client, async () => {
      await client.waitForOutput(
        'Remote working directory',
        'sftp over a ControlMaster',
        timeoutMs ?? this.timeoutMs,
      )
      return { clientPid: client.pid, output: () => client.stdout, close: () => client.stop() }
    })
  }

  async preauthHanger(opts: PreauthHangerOptions = {}): Promise<PreauthHanger> {
    if (this.root.stopping) throw new Error('the server is stopped')
    if (this.privateNet) throw new Error('preauthHanger() needs the host network')
    const socket = net.connect({ host: HOST, port: this.port })
    socket.on('error', () => {})
    socket.on('data', () => {}) // read sshd's banner and KEXINIT, answer nothing
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    const close = async (): Promise<void> => {
      if (socket.destroyed) return
      const closed = new Promise((resolve) => socket.once('close', resolve))
      socket.destroy()
      await closed
    }
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
      })
      if (opts.banner !== undefined) socket.write(`${opts.banner}\r\n`)
      const localPort = socket.localPort!
      // Until sshd has (re-)executed and titled it, the process shows the listener's title, an
      // executable's path, or with 10.0 `sshd: [accepted]` before sshd-session runs: wait for
      // the final `<sshd or sshd-session>: [accepted]` (or later) title.
      const comm = sshdBinaries(this.version).session ? 'sshd-session' : 'sshd'
      const connectionPid = await this.waitFor(
        `the sshd process accepting a pre-auth connection from port ${localPort}`,
        async () => {
          if (socket.destroyed) throw new Error('sshd closed the connection')
          const pid = await this.connectionPidFor(localPort)
          const p = pid === undefined ? undefined : await readProcess(this.procfs, pid)
          const titled =
            p?.comm === comm && p.title.startsWith(`${comm}: `) && !p.title.includes('[listener]')
          return titled ? pid : undefined
        },
        opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs },
      )
      socket.unref()
      return { socket, localPort, connectionPid, close }
    } catch (error) {
      await close()
      throw error
    }
  }

  async authPending(opts: PendingAuthOptions = {}): Promise<SshConnection> {
    const user = opts.user ?? TEST_USER
    const method = opts.method ?? 'password'
    const client = this.spawnClient(
      'ssh',
      [
        ...this.sshArgs({ batch: false }),
        ...['-o', 'ControlMaster=no', '-o', 'ControlPath=none'],
        ...['-o', `PreferredAuthentications=${method}`, '-o', 'PubkeyAuthentication=no'],
        ...['-o', 'NumberOfPasswordPrompts=1', '-T', `${user}@${HOST}`, 'true'],
      ],
      {
        SSH_ASKPASS: path.join(this.dir, 'askpass.sh'),
        SSH_ASKPASS_REQUIRE: 'force',
      },
    )
    const what = `ssh ${user}@ waiting at a ${method} prompt`
    return this.withCleanup(client, async () => {
      await client.waitForOutput('__sshd_test_askpass__', what, opts.timeoutMs ?? this.timeoutMs)
      const conn = await this.resolveConnection(client, what)
      return connectionHandle(client, conn)
    })
  }

  async sftp(opts: SftpOptions = {}): Promise<SshConnection> {
    const user = opts.user ?? TEST_USER
    const args = this.sshArgs()
    // sftp takes the port as -P, the rest as ssh options
    const portIndex = args.indexOf('-p')
    args[portIndex] = '-P'
    const client = this.spawnClient('sftp', [...args, '-b', '-', `${user}@${HOST}`])
    client.child.stdin!.write('pwd\n')
    const what = `sftp ${user}@`
    return this.withCleanup(client, async () => {
      await client.waitForOutput('Remote working directory', what, opts.timeoutMs ?? this.timeoutMs)
      const conn = await this.resolveConnection(client, what)
      return connectionHandle(client, conn)
    })
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
    live.delete(this)
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }

  private async killNamespace(): Promise<void> {
    // SIGKILL to a PID namespace's init kills everything in it. unshare, its parent, exits once
    // the init has been reaped, which the kernel allows only after every process in the
    // namespace is gone: so waiting for unshare waits for all of them.
    const init = this.initHostPid
    if (init) killQuietly(init, 'SIGKILL')
    const unshare = this.unshare
    if (unshare && unshare.exitCode === null && unshare.signalCode === null) {
      unshare.ref()
      if (!init) killQuietly(unshare.pid, 'SIGKILL')
      const timer = setTimeout(() => killQuietly(unshare.pid, 'SIGKILL'), 5000)
      await this.unshareExited
      clearTimeout(timer)
    }
    if (init) {
      await waitFor(`the namespace init (host pid ${init}) to be gone`, async () => {
        try {
          const stat = await readFile(`/proc/${init}/stat`, 'latin1')
          return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
        } catch {
          return true
        }
      })
    }
    this.initHostPid = 0
  }

  killNow(): void {
    this.killClients()
    if (this.initHostPid) killQuietly(this.initHostPid, 'SIGKILL')
    killQuietly(this.unshare?.pid, 'SIGKILL')
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }
}

function connectionHandle(
  client: ClientProcess,
  conn: { localPort: number; connectionPid: number },
): SshConnection {
  return {
    clientPid: client.pid,
    localPort: conn.localPort,
    connectionPid: conn.connectionPid,
    output: () => client.stdout,
    close: () => client.stop(),
  }
}

/** Host pids of a process's children. */
async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
    return text.trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    // kernels without the children file: scan
    return (await listProcesses('/proc')).filter((p) => p.ppid === pid).map((p) => p.pid)
  }
}

/**
 * The usual mix of clients on a test bed: a plain connection, a ControlMaster carrying three
 * sessions (the first with a pty), and two pre-auth hangers that never send their banner. That
 * is 2 authenticated connections with 4 sessions, and 2 startups. `close` closes them all,
 * hangers first.
 */
export async function openMixedClients(sshd: SshdInstance) {
  const plain = await sshd.connect()
  const master = await sshd.controlMaster()
  const muxed = [
    await master.session({ pty: true }),
    await master.session(),
    await master.session(),
  ]
  const hangers = [await sshd.preauthHanger(), await sshd.preauthHanger()]
  return {
    plain,
    master,
    muxed,
    hangers,
    close: async () => {
      for (const c of [...hangers, ...muxed, master, plain]) await c.close()
    },
  }
}

/** A loopback port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, HOST, () => {
      const address = srv.address()
      srv.close(() => {
        if (address && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}
