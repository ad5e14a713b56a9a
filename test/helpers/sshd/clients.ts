// The test bed's clients: real ssh and sftp (a plain connection, a ControlMaster and its
// sessions, sftp, a client waiting at a password prompt) and raw TCP connections that never send
// a banner, each resolved to the sshd process (in the namespace's procfs) serving it. SshdClients
// is the half of a server (server.ts) that opens them and finds what serves them.

import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { errorText, type Truthy, waitFor, type WaitOptions } from '../wait.ts'
import { type SshdBuild, sshdBinaries } from './builds.ts'
import { ClientProcess } from './client-process.ts'
import { HOST } from './config.ts'
import {
  childPids,
  formatProcessTree,
  isGone,
  listProcesses,
  type ProcessInfo,
  readProcess,
} from './processes.ts'
import type { SshdInstance } from './server.ts'
import { readTcp, socketInodes, TCP_ESTABLISHED } from './sockets.ts'
import type { StartMode } from './start-modes.ts'
import { TEST_USER } from './test-user.ts'

const execFileAsync = promisify(execFile)

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

/**
 * What a server (server.ts) is to its clients: its port, directory, key and procfs, and how to
 * tell it stopped. Each server and each of its instances keeps its own clients, stopped with it.
 */
export abstract class SshdClients {
  abstract readonly version: SshdBuild
  abstract readonly port: number
  abstract readonly dir: string
  abstract readonly procfs: string
  abstract readonly logFile: string
  abstract readonly clientKey: string
  abstract readonly start: StartMode
  abstract readonly listenerPid: number
  abstract readonly socketHolderPid: number
  abstract readonly netns: string | undefined
  protected abstract readonly timeoutMs: number
  protected abstract readonly privateNet: boolean
  /** Whether the server (the namespace) is stopping or stopped. */
  protected abstract readonly stopped: boolean
  /** A number unique in the namespace: for ready markers and control socket names. */
  protected abstract nextSeq(): number
  protected readonly clients = new Set<ClientProcess>()
  protected readonly sockets = new Set<net.Socket>()

  /** See SshdInstance.sshArgs. */
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
    if (this.stopped) throw new Error('the server is stopped')
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
    return `__sshd_test_ready_${this.nextSeq()}_${randomBytes(4).toString('hex')}__`
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
    const socketPath = path.join(this.dir, `cm-${this.nextSeq()}`)
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
    if (this.stopped) throw new Error('the server is stopped')
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
