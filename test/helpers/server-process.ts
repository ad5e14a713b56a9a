/**
 * A server binary the tests start for real (Prometheus, Alertmanager): spawned with its output
 * kept, ready once its readiness URL answers 200, stopped with SIGTERM (then SIGKILL) and its
 * temporary directory removed, and killed with this process whatever happens.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { waitFor } from './wait.ts'

export interface ServerProcess {
  /** What the server logged so far (its last 32 KiB). */
  output: () => string
  stop: () => Promise<void>
}

const running = new Set<ChildProcess>()
let hooked = false

/** Makes a temporary directory for a server's files; throws naming the install script if `binary` is missing. */
export async function serverDirectory(name: string, binary: string): Promise<string> {
  if (!existsSync(binary)) {
    throw new Error(`${name} not found at ${binary}: run scripts/install-test-deps.sh (as root)`)
  }
  return mkdtemp(path.join(tmpdir(), `sshd-exporter-${name}-`))
}

/**
 * Spawns `binary args` and resolves once `readyUrl` answers 200 (20 s at most). `dir` (from
 * serverDirectory) is removed on stop, which `t.after` runs when given.
 */
export async function startServerProcess(opts: {
  name: string
  binary: string
  args: readonly string[]
  dir: string
  readyUrl: string
  t?: Pick<TestContext, 'after'> | undefined
}): Promise<ServerProcess> {
  const child = spawn(opts.binary, opts.args, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  if (!hooked) {
    hooked = true
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL')
    })
  }
  let output = ''
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (s: string) => {
      output = (output + s).slice(-32_768)
    })
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }
      running.delete(child)
      await rm(opts.dir, { recursive: true, force: true })
    })()
    return stopping
  }
  opts.t?.after(stop)
  try {
    await waitFor(
      `${opts.name} ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${opts.name} exited: ${output}`)
        return (await fetch(opts.readyUrl)).status === 200
      },
      { timeoutMs: 20_000, intervalMs: 100, describe: () => output },
    )
  } catch (error) {
    await stop()
    throw error
  }
  return { output: () => output, stop }
}
