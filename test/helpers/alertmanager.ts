/**
 * A real Alertmanager (Debian's /usr/bin/prometheus-alertmanager) for the tests, on 127.0.0.1 and
 * a free port, without clustering, routing every alert to a webhook receiver inside the test: an
 * HTTP server that keeps each notification it is sent. Alerts are grouped by alert name,
 * instance and port, sent at once (group_wait 1s, group_interval 1s) and again when resolved.
 */
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { serverDirectory, startServerProcess } from './server-process.ts'
import { freePort } from './free-port.ts'
import { waitFor } from './wait.ts'

export const ALERTMANAGER = process.env.ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager'

/** One alert of a webhook notification (Alertmanager's webhook payload, version 4). */
export interface NotifiedAlert {
  status: 'firing' | 'resolved'
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
}

/** A webhook notification. */
export interface Notification {
  version: string
  status: 'firing' | 'resolved'
  receiver: string
  groupLabels: Record<string, string>
  alerts: NotifiedAlert[]
}

export interface RunningAlertmanager {
  /** host:port, for Prometheus's alerting configuration. */
  address: string
  /** Every notification the webhook received so far, oldest first. */
  notifications(): Notification[]
  /**
   * Waits (60 s at most) for a notified alert whose labels include `labels` and whose status is
   * `status`; resolves with the first such alert.
   */
  waitForAlert(
    labels: Record<string, string>,
    status: NotifiedAlert['status'],
    describe?: () => string | Promise<string>,
  ): Promise<NotifiedAlert>
  output(): string
  stop(): Promise<void>
}

export async function startAlertmanager(opts: {
  t?: Pick<TestContext, 'after'>
}): Promise<RunningAlertmanager> {
  const dir = await serverDirectory('alertmanager', ALERTMANAGER)
  const received: Notification[] = []
  const webhook = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (s: string) => (body += s))
    req.on('end', () => {
      received.push(JSON.parse(body) as Notification)
      res.end()
    })
  })
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve))
  const closeWebhook = () => new Promise<void>((resolve) => webhook.close(() => resolve()))
  const hook = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`

  const config = path.join(dir, 'alertmanager.yml')
  // JSON is YAML.
  await writeFile(
    config,
    JSON.stringify({
      route: {
        receiver: 'test',
        group_by: ['alertname', 'instance', 'port'],
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '1h',
      },
      receivers: [{ name: 'test', webhook_configs: [{ url: hook, send_resolved: true }] }],
    }),
  )
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  let server
  try {
    server = await startServerProcess({
      name: 'alertmanager',
      binary: ALERTMANAGER,
      args: [
        `--config.file=${config}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=${address}`,
        // No gossip: an empty address turns clustering off.
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      dir,
      readyUrl: `http://${address}/-/ready`,
    })
  } catch (error) {
    await closeWebhook()
    throw error
  }
  const stop = async () => {
    await server.stop()
    await closeWebhook()
  }
  opts.t?.after(stop)

  const matches = (a: NotifiedAlert, labels: Record<string, string>, status: string) =>
    a.status === status && Object.entries(labels).every(([k, v]) => a.labels[k] === v)
  return {
    address,
    notifications: () => [...received],
    output: server.output,
    stop,
    async waitForAlert(labels, status, describe) {
      return waitFor(
        `Alertmanager to notify ${status} ${JSON.stringify(labels)}`,
        () => received.flatMap((n) => n.alerts).find((a) => matches(a, labels, status)),
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          describe: async () =>
            `${(await describe?.()) ?? ''}\nnotified: ${JSON.stringify(
              received.flatMap((n) => n.alerts.map((a) => [a.status, a.labels])),
            )}\nalertmanager: ${server.output()}`,
        },
      )
    },
  }
}
