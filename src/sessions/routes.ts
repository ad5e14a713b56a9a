/**
 * The exporter's /sessions (HTML) and /api/v1/sessions (JSON) routes, behind
 * --web.enable-sessions. Both read the host afresh on every request through the scraper's shared
 * view (a request during a scrape reads /proc once with it) and take the same filters as the
 * terminal command: `?user=alice`, `?stale=1`, `?at_max=1`; the page also `?refresh=5`.
 */
import { filterSessions, type SessionsFilter, type SessionsReport } from '../model/sessions.ts'
import type { AppRoute } from '../web/app.ts'
import { renderHtml } from './html.ts'

export const SESSIONS_PAGE = '/sessions'
export const SESSIONS_API = '/api/v1/sessions'

/** What a query says, or why it is not valid. */
type Parsed = { filter: SessionsFilter; refreshSeconds: number | undefined } | { error: string }

const REFRESH_MAX_SECONDS = 3600
/** Anything sshd accepts as a user name is far shorter: it bounds what is echoed back. */
const USER_MAX_CHARS = 256

function flagParam(query: URLSearchParams, name: string): boolean | string {
  const value = query.get(name)
  if (value === null || value === '0' || value === 'false') return false
  if (value === '' || value === '1' || value === 'true') return true
  return `${name}=${JSON.stringify(value)} is not valid: expected 1 or 0`
}

export function parseSessionsQuery(query: URLSearchParams): Parsed {
  const stale = flagParam(query, 'stale')
  if (typeof stale === 'string') return { error: stale }
  const atMax = flagParam(query, 'at_max')
  if (typeof atMax === 'string') return { error: atMax }
  const user = query.get('user') ?? undefined
  if (user !== undefined && (user === '' || user.length > USER_MAX_CHARS)) {
    return { error: `user is not valid: expected a user name of 1 to ${USER_MAX_CHARS} characters` }
  }
  const refreshText = query.get('refresh')
  let refreshSeconds: number | undefined
  if (refreshText !== null) {
    refreshSeconds = /^\d{1,4}$/.test(refreshText) ? Number(refreshText) : NaN
    if (!(refreshSeconds >= 1 && refreshSeconds <= REFRESH_MAX_SECONDS)) {
      return {
        error: `refresh=${JSON.stringify(refreshText)} is not valid: expected whole seconds, 1 to ${REFRESH_MAX_SECONDS}`,
      }
    }
  }
  return { filter: { user, stale, atMax }, refreshSeconds }
}

function badRequest(error: string) {
  return { status: 400, type: 'text/plain; charset=utf-8', body: `${error}\n` }
}

export function sessionsRoutes(read: () => Promise<SessionsReport>): AppRoute[] {
  return [
    {
      path: SESSIONS_PAGE,
      linkText: 'Live sessions',
      async handle(query) {
        const parsed = parseSessionsQuery(query)
        if ('error' in parsed) return badRequest(parsed.error)
        const report = filterSessions(await read(), parsed.filter)
        // The JSON link keeps the filters, not the refresh.
        const api = new URLSearchParams(query)
        api.delete('refresh')
        const search = api.size === 0 ? '' : `?${api.toString()}`
        return {
          status: 200,
          type: 'text/html; charset=utf-8',
          body: renderHtml(report, {
            refreshSeconds: parsed.refreshSeconds,
            filter: parsed.filter,
            home: '/',
            api: `${SESSIONS_API}${search}`,
          }),
        }
      },
    },
    {
      path: SESSIONS_API,
      async handle(query) {
        const parsed = parseSessionsQuery(query)
        if ('error' in parsed) return badRequest(parsed.error)
        const report = filterSessions(await read(), parsed.filter)
        return { status: 200, type: 'application/json', body: `${JSON.stringify(report)}\n` }
      },
    },
  ]
}
