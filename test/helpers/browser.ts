/**
 * A real headless browser for the tests of the exporter's HTML pages: Debian's /usr/bin/chromium,
 * driven over the DevTools protocol on --remote-debugging-pipe (fds 3 and 4, NUL-separated JSON;
 * no port, no npm dependency). One browser per page load, with a fresh temporary profile removed
 * afterwards. It reports the main document's HTTP status (so 401, 200 and 404 are told apart) and
 * the DOM once loaded, after the page's scripts ran. Basic auth credentials go in an Authorization
 * header; a 401 is cancelled, never left waiting on a login prompt. The browser's whole process
 * group is killed on every path (and with this process), its crash handlers waited for, and a
 * missing browser is a failure naming the install script, never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Readable, Writable } from 'node:stream'

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

/**
 * Set in the browser's environment to `<this pid>-<n>`, and so inherited by every process it
 * starts, including the crash handlers that leave its process group: see browserProcesses.
 */
const MARKER = 'SSHD_EXPORTER_TEST_BROWSER'
let launches = 0

// --disable-background-networking and friends: without them chromium's connections to Google's
// services are refused by this machine's closed network, which it logs and retries.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--remote-debugging-pipe',
]

export interface LoadedPage {
  /** The main document's HTTP status. */
  status: number
  /** document.documentElement.outerHTML after the load event. */
  dom: string
  title: string
}

const running = new Set<ChildProcess>()
let hooked = false

/** SIGKILLs a process, or a process group given as -pgid; gone already is fine. */
function kill(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

/**
 * The pids of the live processes of the browsers this process started (`launch`: of one of
 * them), found by their environment; loadPage returns once there are none left of its own.
 */
export function browserProcesses(launch = `${process.pid}-`): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const env = '\0' + readFileSync(`/proc/${entry}/environ`, 'latin1') // empty for a zombie
      if (env.includes(`\0${MARKER}=${launch}`)) {
        pids.push(Number(entry))
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return pids
}

interface CdpEvent {
  method: string
  params: Record<string, unknown>
  sessionId?: string
}

/** A DevTools protocol client on the browser's pipe; commands to a page go with its sessionId. */
function cdpClient(input: Writable, output: Readable) {
  let nextId = 1
  const pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>()
  const listeners = new Set<(e: CdpEvent) => void>()
  let buffer = ''
  let closed: Error | undefined
  output.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk
    let end
    while ((end = buffer.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buffer.slice(0, end)) as {
        id?: number
        result?: unknown
        error?: { message: string }
      } & Partial<CdpEvent>
      buffer = buffer.slice(end + 1)
      if (msg.id !== undefined) {
        const p = pending.get(msg.id)
        pending.delete(msg.id)
        if (msg.error) p?.reject(new Error(`DevTools: ${msg.error.message}`))
        else p?.resolve(msg.result)
      } else if (msg.method) {
        for (const l of listeners) l(msg as CdpEvent)
      }
    }
  })
  output.on('close', () => {
    closed = new Error('chromium closed its DevTools pipe')
    for (const p of pending.values()) p.reject(closed)
    pending.clear()
  })
  input.on('error', () => {}) // EPIPE once chromium is gone: reported by 'close' above.
  return {
    send<T = Record<string, unknown>>(
      method: string,
      params: object = {},
      sessionId?: string,
    ): Promise<T> {
      if (closed) return Promise.reject(closed)
      const id = nextId++
      input.write(JSON.stringify({ id, method, params, sessionId }) + '\0')
      return new Promise<T>((resolve, reject) =>
        pending.set(id, { resolve: resolve as (r: unknown) => void, reject }),
      )
    },
    on(listener: (e: CdpEvent) => void): void {
      listeners.add(listener)
    },
  }
}

/**
 * Loads `url` in a fresh headless chromium and returns the main document's status, the DOM and
 * the title once the page fired its load event; `screenshot` also saves the viewport as a PNG.
 * Throws on a network error (e.g. connection refused) and after `timeoutMs` (default 30 s).
 */
export async function loadPage(
  url: string,
  options: { username?: string; password?: string; timeoutMs?: number; screenshot?: string } = {},
): Promise<LoadedPage> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `chromium not found at ${CHROMIUM}: run bash scripts/install-test-deps.sh (as root)`,
    )
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'sshd-exporter-chromium-'))
  const launch = `${process.pid}-${++launches}`
  // detached: chromium leads its own process group, which is killed as a whole. The XDG
  // directories keep its crash database and dconf cache out of $HOME, in the temporary directory.
  const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${dir}/profile`, 'about:blank'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      [MARKER]: launch,
      XDG_CONFIG_HOME: `${dir}/config`,
      XDG_CACHE_HOME: `${dir}/cache`,
    },
  })
  running.add(child)
  if (!hooked) {
    hooked = true
    process.on('exit', () => running.forEach((c) => kill(c.pid && -c.pid)))
  }
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-8_192)
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  let timer: NodeJS.Timeout | undefined
  try {
    const timeoutMs = options.timeoutMs ?? 30_000
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`loading ${url} took over ${timeoutMs} ms; chromium:\n${stderr}`)),
        timeoutMs,
      )
    })
    const spawned = new Promise<never>((_, reject) => child.once('error', reject))
    const died = exited.then(() => {
      throw new Error(`chromium exited while loading ${url}:\n${stderr}`)
    })
    return await Promise.race([timedOut, spawned, died, drive(child, url, options, () => stderr)])
  } finally {
    clearTimeout(timer)
    kill(child.pid && -child.pid) // the wrapper script execs chromium, the group's leader
    await exited
    // Its crash handlers (own session, parent init) exit once it is gone: wait, then kill them.
    for (let i = 0; i < 100 && browserProcesses(`${launch}\0`).length > 0; i++) {
      if (i === 50) browserProcesses(`${launch}\0`).forEach(kill)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    running.delete(child)
    await rm(dir, { recursive: true, force: true })
  }
}

async function drive(
  child: ChildProcess,
  url: string,
  options: { username?: string; password?: string; screenshot?: string },
  stderr: () => string,
): Promise<LoadedPage> {
  const cdp = cdpClient(child.stdio[3] as Writable, child.stdio[4] as Readable)
  const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', {
    url: 'about:blank',
  })
  const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', {
    targetId,
    flatten: true,
  })
  const page = <T = Record<string, unknown>>(method: string, params: object = {}) =>
    cdp.send<T>(method, params, sessionId)

  // Events may come before Page.navigate answers: keep them by loader id (one per navigation).
  const statuses = new Map<string, number>()
  const loaded = new Set<string>()
  let onLoad = (): void => {}
  cdp.on((e) => {
    if (e.sessionId !== sessionId) return
    const p = e.params
    if (e.method === 'Network.responseReceived' && p.type === 'Document') {
      statuses.set(p.loaderId as string, (p.response as { status: number }).status)
    } else if (e.method === 'Page.lifecycleEvent' && p.name === 'load') {
      loaded.add(p.loaderId as string)
      onLoad()
    } else if (e.method === 'Fetch.requestPaused') {
      void page('Fetch.continueRequest', { requestId: p.requestId }).catch(() => {})
    } else if (e.method === 'Fetch.authRequired') {
      // A 401 despite the header (or without one): show the 401 page, never a login prompt.
      void page('Fetch.continueWithAuth', {
        requestId: p.requestId,
        authChallengeResponse: { response: 'CancelAuth' },
      }).catch(() => {})
    }
  })
  await page('Page.enable')
  await page('Page.setLifecycleEventsEnabled', { enabled: true })
  await page('Network.enable')
  if (options.username !== undefined || options.password !== undefined) {
    const token = Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString(
      'base64',
    )
    await page('Network.setExtraHTTPHeaders', { headers: { Authorization: `Basic ${token}` } })
  }
  await page('Fetch.enable', { handleAuthRequests: true, patterns: [{ urlPattern: '*' }] })

  const nav = await page<{ loaderId?: string; errorText?: string }>('Page.navigate', { url })
  const loaderId = nav.loaderId ?? ''
  // An error status with an empty body fails with net::ERR_HTTP_RESPONSE_CODE_FAILURE, yet has a
  // status and loads chromium's own error page (same loader id): only a network error throws.
  if (nav.errorText && !statuses.has(loaderId)) {
    throw new Error(`loading ${url}: ${nav.errorText}; chromium:\n${stderr()}`)
  }
  if (!loaded.has(loaderId)) {
    await new Promise<void>((resolve) => {
      onLoad = () => loaded.has(loaderId) && resolve()
    })
  }
  const status = statuses.get(loaderId)
  if (status === undefined) throw new Error(`loading ${url}: no response for the main document`)
  const evaluate = async (expression: string) =>
    (
      await page<{ result: { value: string } }>('Runtime.evaluate', {
        expression,
        returnByValue: true,
      })
    ).result.value
  const dom = await evaluate('document.documentElement.outerHTML')
  const title = await evaluate('document.title')
  if (options.screenshot !== undefined) {
    const { data } = await page<{ data: string }>('Page.captureScreenshot', { format: 'png' })
    await writeFile(options.screenshot, Buffer.from(data, 'base64'))
  }
  return { status, dom, title }
}
