// How the real-sshd test bed (server.ts) starts sshd, and who holds which socket.
//
// Three start modes, as systems use them (the design notes, "How sshd is started"), with
// systemd-socket-activate (package systemd) standing in for systemd:
//
//   daemon   sshd -D -f <cfg> -E <log> [args]                 the listener, child of the init
//   socket   systemd-socket-activate -l <host>:<port> -- bash socket-holder.sh sshd -D …
//            ssh.socket with Accept=no: nothing but the holder until the first connection; then
//            the holder keeps the socket and starts a normal `[listener]` as its child, passed
//            the socket as fd 3 (LISTEN_FDS=1, LISTEN_PID). systemd-socket-activate alone would
//            exec sshd in place (the holder would become the listener); systemd instead keeps
//            the socket open in PID 1 while ssh.service runs, which socket-holder.sh reproduces.
//   inetd    systemd-socket-activate --inetd -a -l <host>:<port> -- setpriv --pdeathsig clear --
//              sshd -i -f <cfg> -E <log> …
//            Accept=yes: the holder accepts, and runs one `sshd -i` per connection as its child,
//            the connection on stdin and stdout. Never a listener. systemd-socket-activate gives
//            its children SIGTERM as parent-death signal; setpriv (which execs sshd: same pid)
//            clears it, since stopping systemd's ssh.socket leaves running ssh@….service alone.
//
// Further instances (`server.startInstance()`) run in the same namespaces, started with nsenter
// and `setsid --fork` so that, like a unit's main process under systemd, they are children of
// the namespace's init.

import { spawn } from 'node:child_process'
import { access, constants, open, readFile } from 'node:fs/promises'
import path from 'node:path'

export type StartMode = 'daemon' | 'socket' | 'inetd'
export const START_MODES: readonly StartMode[] = ['daemon', 'socket', 'inetd']

export const SYSTEMD_SOCKET_ACTIVATE = '/usr/bin/systemd-socket-activate'
/** /proc/<pid>/stat's comm of systemd-socket-activate (15 characters at most). */
export const SOCKET_ACTIVATE_COMM = 'systemd-socket-'

/** File name, in the server's directory, of the socket mode's holder script. */
export const SOCKET_HOLDER_SCRIPT_NAME = 'socket-holder.sh'

// systemd-socket-activate execs this on the first connection, the socket as fd 3. It keeps fd 3
// open, as systemd does, and starts sshd as a job (set -m: default SIGINT/SIGQUIT) with
// LISTEN_PID set to sshd's own pid (sd_listen_fds checks it). It ends when sshd does.
export const SOCKET_HOLDER_SCRIPT = `set -m
( export LISTEN_PID=$BASHPID; exec "$@" ) &
wait $!
`

export interface StartCommand {
  mode: StartMode
  /**
   * What runs sshd: its path (`['/usr/sbin/sshd']`), or a command that execs it in place (same
   * pid), e.g. `['chroot', root, '/usr/sbin/sshd']` for a build in a root of its own.
   */
  sshd: readonly string[]
  configFile: string
  logFile: string
  args: readonly string[]
  host: string
  port: number
  /** The server's directory, which holds the socket holder script. */
  dir: string
}

/** The argv that starts sshd in `mode` (run inside the namespace). */
export function startCommand(c: StartCommand): string[] {
  const sshdArgs = ['-f', c.configFile, '-E', c.logFile, ...c.args]
  const listen = ['-l', `${c.host}:${c.port}`]
  switch (c.mode) {
    case 'daemon':
      return [...c.sshd, '-D', ...sshdArgs]
    case 'socket':
      return [
        ...[SYSTEMD_SOCKET_ACTIVATE, ...listen, '--'],
        ...['/bin/bash', path.join(c.dir, SOCKET_HOLDER_SCRIPT_NAME), ...c.sshd, '-D', ...sshdArgs],
      ]
    case 'inetd':
      return [
        ...[SYSTEMD_SOCKET_ACTIVATE, '--inetd', '-a', ...listen, '--'],
        ...['/usr/bin/setpriv', '--pdeathsig', 'clear', '--', ...c.sshd, '-i', ...sshdArgs],
      ]
  }
}

/** Throws (naming the install script) when `mode` needs systemd-socket-activate and it is missing. */
export async function checkStartMode(mode: StartMode, installHint: string): Promise<void> {
  if (mode === 'daemon') return
  try {
    await access(SYSTEMD_SOCKET_ACTIVATE, constants.X_OK)
  } catch {
    throw new Error(
      `start '${mode}' needs ${SYSTEMD_SOCKET_ACTIVATE} (package systemd); ${installHint}`,
    )
  }
}

/**
 * Runs `argv` in the namespaces of `initHostPid` (PID, mount and, with `privateNet`, network),
 * detached by `setsid --fork`: its parent exits at once, so it becomes a child of the
 * namespace's init. Its stdout and stderr are appended to `outputFile`. Resolves once started.
 */
export async function launchInNamespace(opts: {
  initHostPid: number
  privateNet: boolean
  argv: readonly string[]
  outputFile: string
}): Promise<void> {
  const out = await open(opts.outputFile, 'a')
  try {
    const child = spawn(
      'nsenter',
      [
        ...['-t', String(opts.initHostPid), '-p', '-m', ...(opts.privateNet ? ['-n'] : [])],
        ...['--', 'setsid', '--fork', ...opts.argv],
      ],
      { stdio: ['ignore', out.fd, out.fd] },
    )
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('exit', (c) => resolve(c))
    })
    if (code !== 0) {
      throw new Error(
        `nsenter … setsid --fork ${opts.argv.join(' ')} exited with ${code}: ${await readFile(opts.outputFile, 'utf8')}`,
      )
    }
  } finally {
    await out.close()
  }
}
