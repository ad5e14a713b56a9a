// One client process of the test bed (ssh, sftp): in its own process group, dying with node
// (setpriv --pdeathsig), its output collected and waited on.

import { type ChildProcess, spawn } from 'node:child_process'
import type net from 'node:net'
import { killQuietly } from './cleanup.ts'

/** A client process (ssh, sftp) in its own process group, its output collected. */
export class ClientProcess {
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
