/**
 * The dashboards as the files dashboards/*.json hold them: JSON formatted by Prettier with the
 * repository's settings, so that the generated files pass `prettier --check` and a regeneration
 * changes nothing unless a dashboard changed.
 */
import path from 'node:path'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import * as prettier from 'prettier'
import { fleetDashboard } from './fleet.ts'
import { hostDashboard } from './host.ts'

/** dashboards/, where the generated JSON lives. */
export const DASHBOARDS_DIR = path.resolve(import.meta.dirname, '..')

export const DASHBOARDS: ReadonlyArray<{ file: string; build: () => Dashboard }> = [
  { file: 'sshd-fleet.json', build: fleetDashboard },
  { file: 'sshd-host.json', build: hostDashboard },
]

export interface Rendered {
  /** File name under dashboards/. */
  file: string
  path: string
  dashboard: Dashboard
  /** The file's whole content, ending with a newline. */
  text: string
}

export async function renderDashboards(): Promise<Rendered[]> {
  return Promise.all(
    DASHBOARDS.map(async ({ file, build }) => {
      const filePath = path.join(DASHBOARDS_DIR, file)
      const dashboard = build()
      const options = (await prettier.resolveConfig(filePath)) ?? {}
      const text = await prettier.format(JSON.stringify(dashboard, null, 2), {
        ...options,
        filepath: filePath,
        parser: 'json',
      })
      return { file, path: filePath, dashboard, text }
    }),
  )
}
