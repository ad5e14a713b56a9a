// Process-wide cleanup: whatever the test bed still runs when node exits (or is told to) is
// killed, synchronously.

export interface Resource {
  /** Synchronous, best effort: used from the 'exit' hook. */
  killNow(): void
}

const live = new Set<Resource>()
let hooksInstalled = false

export function track(resource: Resource): void {
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

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** Stops tracking a resource that stopped itself. */
export function untrack(resource: Resource): void {
  live.delete(resource)
}
