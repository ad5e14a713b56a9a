/**
 * The shipped alerts end to end: real sshd 9.2 and 10.0, one exporter watching each, a real
 * Prometheus evaluating dashboards/rules/sshd-exporter.rules.yml, and a real Alertmanager routing
 * to a webhook receiver in this test. The rule file is the shipped one, with only its `for:`
 * and range windows shortened by `shortenedRules` so that the test takes seconds, not minutes.
 *
 * A root login and a MaxStartups flood (MaxStartups 3:100:3, three pre-auth connections held,
 * more dropped) fire SshdRootLogin and the three MaxStartups alerts on each server, with their
 * labels, summary, description and runbook_url; all resolve once the clients are gone.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { type NotifiedAlert, startAlertmanager } from '../helpers/alertmanager.ts'
import { startExporter } from '../helpers/exporter.ts'
import { queryUntil, startPrometheus } from '../helpers/prometheus.ts'
import { RULES_FILE, type RuleFile, shortenedRules } from '../helpers/rules.ts'
import { SSHD_VERSIONS, sshdBinaries } from '../helpers/sshd/builds.ts'
import { type Closable } from '../helpers/sshd/clients.ts'
import { startSshd } from '../helpers/sshd/server.ts'

const JOB = 'sshd-exporter'
/** Begin and full at 3, rate 100: the fourth pre-auth connection is always dropped. */
const MAX_STARTUPS = 3
/** The range every `[…]` window of an alert becomes: a few scrapes, gone soon after the cause. */
const RANGE = '20s'

const MAX_STARTUPS_ALERTS = [
  'SshdMaxStartupsThrottling',
  'SshdMaxStartupsFull',
  'SshdMaxStartupsDropping',
] as const

describe('the shipped alerts on a real Prometheus and Alertmanager', () => {
  it('a root login and a MaxStartups flood fire their alerts on 9.2 and 10.0; all resolve', async (t) => {
    const shipped = parseYaml(await readFile(RULES_FILE, 'utf8')) as RuleFile
    const dir = await mkdtemp(path.join(tmpdir(), 'sshd-exporter-alerts-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const rulesFile = path.join(dir, 'rules.yml')
    await writeFile(rulesFile, shortenedRules(shipped, { for: '2s', range: RANGE }))

    const alertmanager = await startAlertmanager({ t })
    const hosts = await Promise.all(
      SSHD_VERSIONS.map(async (version) => {
        const sshd = await startSshd({
          version,
          t,
          config: { MaxStartups: `${MAX_STARTUPS}:100:${MAX_STARTUPS}` },
        })
        const exporter = await startExporter(
          [
            `--path.procfs=${sshd.procfs}`,
            `--path.rootfs=${sshd.rootfs}`,
            `--collector.config.sshd-binary=${sshdBinaries(version).sshd}`,
            `--collector.config.file=${sshd.configFile}`,
            '--collector.events.source=file',
            `--collector.events.file=${sshd.logFile}`,
          ],
          t,
        )
        return { version, sshd, instance: new URL(exporter.url).host }
      }),
    )
    const prom = await startPrometheus({
      targets: hosts.map((h) => h.instance),
      job: JOB,
      ruleFiles: [rulesFile],
      alertmanagers: [alertmanager.address],
      t,
    })
    const describeAll = async () => {
      const parts = [`prometheus: ${prom.output()}`]
      for (const { version, sshd } of hosts) {
        parts.push(`sshd ${version}:\n${await sshd.processTree()}\n${await sshd.readLog()}`)
      }
      return parts.join('\n')
    }

    // Root's series is exported at 0 from the start: seen at 0 before the login, its increase
    // is the login itself.
    for (const { instance } of hosts) {
      await queryUntil(
        prom,
        `sshd_logins_total{job="${JOB}",instance="${instance}",user="root"}`,
        (r) => r.length === 1 && r[0]!.value[1] === '0',
      )
    }

    // The causes, on both servers: a root login first (a flood would drop it), then three
    // connections that never send their banner, then three more that sshd drops.
    const clients: Closable[] = []
    t.after(async () => {
      for (const c of clients) await c.close()
    })
    for (const { sshd } of hosts) {
      clients.push(await sshd.connect({ user: 'root' }))
      for (let i = 0; i < MAX_STARTUPS; i++) clients.push(await sshd.preauthHanger())
      for (let i = 0; i < 3; i++) {
        const socket = net.connect({ host: sshd.host, port: sshd.port })
        socket.on('error', () => {})
        clients.push({ close: () => Promise.resolve(void socket.destroy()) })
      }
      await sshd.waitFor('the drops in the log', async () =>
        /^drop connection #/m.test(await sshd.readLog()),
      )
    }

    /** The shipped alert's severity and runbook_url. */
    const rule = (alert: string) => {
      const found = shipped.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)
      const severity = found?.labels?.severity
      const runbook = found?.annotations?.runbook_url
      assert.ok(severity && runbook, `${alert}, with a severity and runbook_url, in the rule file`)
      return { severity, runbook }
    }
    /** The labels each alert must carry on a host, beside alertname, instance and job. */
    const expectedLabels = (alert: string, port: number): Record<string, string> => {
      if (alert === 'SshdRootLogin') return { user: 'root' }
      if (alert === 'SshdMaxStartupsDropping') return { event: 'startups_dropped' }
      return { port: String(port) }
    }
    const alerts = ['SshdRootLogin', ...MAX_STARTUPS_ALERTS]
    const labelsOf = (alert: string, host: (typeof hosts)[number]) => ({
      alertname: alert,
      job: JOB,
      instance: host.instance,
      severity: rule(alert).severity,
      ...expectedLabels(alert, host.sshd.port),
    })
    const check = (a: NotifiedAlert, alert: string, host: (typeof hosts)[number]) => {
      const what = `${alert} on ${host.version}`
      assert.equal(a.annotations.runbook_url, rule(alert).runbook, what)
      for (const key of ['summary', 'description'] as const) {
        const text = a.annotations[key] ?? ''
        assert.ok(text.includes(host.instance), `${what} ${key} names the instance: ${text}`)
        assert.doesNotMatch(text, /\{\{|<no value>/, `${what} ${key} fully rendered`)
        if (alert !== 'SshdRootLogin' && alert !== 'SshdMaxStartupsDropping') {
          assert.ok(text.includes(`port ${host.sshd.port}`), `${what} ${key} names the port`)
        }
      }
    }

    for (const host of hosts) {
      for (const alert of alerts) {
        check(
          await alertmanager.waitForAlert(labelsOf(alert, host), 'firing', describeAll),
          alert,
          host,
        )
      }
    }
    // The receiver was told of each exactly once per server, as routed (an alert that flapped
    // would show here twice).
    const fired = alertmanager
      .notifications()
      .flatMap((n) => n.alerts)
      .filter((a) => a.status === 'firing')
      .map((a) => `${a.labels.alertname} ${a.labels.instance}`)
    for (const host of hosts) {
      for (const alert of alerts) {
        assert.equal(
          fired.filter((x) => x === `${alert} ${host.instance}`).length,
          1,
          `${alert} on ${host.version} notified once: ${JSON.stringify(fired)}`,
        )
      }
    }

    // The causes end: every client gone, so no pre-auth connection, drop or login is left.
    for (const c of clients.splice(0)) await c.close()
    for (const host of hosts) {
      for (const alert of alerts) {
        await alertmanager.waitForAlert(labelsOf(alert, host), 'resolved', describeAll)
      }
    }
  })
})
