// The PID namespace each test sshd runs in: its init script, run under `setpriv --pdeathsig KILL
// unshare --pid --fork --mount-proc --kill-child`, and its end. The init mounts a private /run and
// /var/log (and, for a build in a root of its own, that root's /proc, /dev and /tmp), then runs
// sshd or its socket holder and reaps orphans. SIGKILL to the init ends everything in it.

import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import type net from 'node:net'
import path from 'node:path'
import { waitFor } from '../wait.ts'
import { killQuietly } from './cleanup.ts'

// The namespace's init: private /run and /var/log (in the build's own root, R, if it has one,
// with that root's /proc, /dev, /tmp and the test's directory), then sshd (or its socket holder)
// as a job (set -m: with its own process group and default SIGINT/SIGQUIT), and `wait`, which also
// reaps orphans re-parented to it. When the job ends the init ends, and the namespace with it,
// unless stopSocketHolder() asked it to linger.
export const INIT_SCRIPT = `set -e
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

export interface NamespaceOptions {
  /** The server's directory, which holds init.sh. */
  dir: string
  /** A network namespace of its own too (only `lo`, brought up by the init). */
  privateNet: boolean
  /** A build's own root (Debian 13's), set up inside the namespace; undefined for none. */
  buildRoot: string | undefined
  /** Whether the namespace gets an empty /run/utmp. */
  utmp: boolean
  /** What the init runs as its job: sshd, or its socket holder. */
  command: readonly string[]
}

/** unshare and the namespace's init under it (the init's host pid: unshare's only child). */
export class Namespace {
  readonly unshare: ChildProcess
  /** unshare's host pid. */
  readonly pid: number
  /** What unshare and the init printed (the last 64 KiB). */
  output = ''
  exited = false
  private readonly whenExited: Promise<void>

  constructor(opts: NamespaceOptions) {
    const child = spawn(
      'setpriv',
      [
        ...['--pdeathsig', 'KILL', '--'],
        ...['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL'],
        ...(opts.privateNet ? ['--net', '--'] : ['--']),
        ...['/bin/bash', path.join(opts.dir, 'init.sh')],
        ...opts.command,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          SSHD_TEST_PRIVATE_NET: opts.privateNet ? '1' : '',
          SSHD_TEST_ROOT: opts.buildRoot ?? '',
          SSHD_TEST_DIR: opts.dir,
          SSHD_TEST_WITH_UTMP: opts.utmp ? '1' : '',
        },
      },
    )
    this.unshare = child
    this.whenExited = new Promise((resolve) => {
      child.on('exit', () => {
        this.exited = true
        resolve()
      })
      child.on('error', (error) => {
        this.output += `spawn error: ${error.message}\n`
        this.exited = true
        resolve()
      })
    })
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (s: string) => {
        this.output = (this.output + s).slice(-65_536)
      })
      ;(stream as unknown as net.Socket | null)?.unref?.()
    }
    child.unref()
    if (child.pid === undefined) throw new Error('could not start unshare')
    this.pid = child.pid
  }

  /** Kills everything in the namespace whose init is `init` (host pid; 0 if never found). */
  async kill(init: number): Promise<void> {
    // SIGKILL to a PID namespace's init kills everything in it. unshare, its parent, exits once
    // the init has been reaped, which the kernel allows only after every process in the
    // namespace is gone: so waiting for unshare waits for all of them.
    if (init) killQuietly(init, 'SIGKILL')
    const unshare = this.unshare
    if (unshare.exitCode === null && unshare.signalCode === null) {
      unshare.ref()
      if (!init) killQuietly(unshare.pid, 'SIGKILL')
      const timer = setTimeout(() => killQuietly(unshare.pid, 'SIGKILL'), 5000)
      await this.whenExited
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
  }

  /** Synchronous, best effort (the process 'exit' hook). */
  killNow(init: number): void {
    if (init) killQuietly(init, 'SIGKILL')
    killQuietly(this.unshare.pid, 'SIGKILL')
  }
}
