import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Gauge, Registry } from 'prom-client'
import type { Collector, Commit, Scrape } from '../../src/collectors/collector.ts'
import { createLogger } from '../../src/logger.ts'
import { Scraper } from '../../src/scrape/scraper.ts'
import { ProcFS } from '../../src/sources/procfs.ts'
import { sshdLogin, writeUtmp } from '../helpers/utmp-writer.ts'
import { ExporterState } from '../../src/state/state.ts'

const silent = createLogger({ level: 'error', format: 'json', destination: { write() {} } })

/** A collector whose gauge `test_<name>{k}` gets the label sets `next` holds at collect time. */
function fake(name: string, behave: (scrape: Scrape) => Promise<void> = () => Promise.resolve()) {
  const registry = new Registry()
  const gauge = new Gauge({
    name: `test_${name}`,
    help: 'h',
    labelNames: ['k'],
    registers: [registry],
  })
  const state = { next: [] as string[], calls: 0 }
  const collector: Collector = {
    registry,
    async collect(scrape): Promise<Commit> {
      state.calls++
      const keys = [...state.next]
      await behave(scrape)
      return () => {
        gauge.reset()
        for (const k of keys) gauge.set({ k }, 1)
      }
    },
  }
  return { collector, state }
}

function scraper(collectors: Record<string, Collector>, timeoutSeconds = 1): Scraper {
  return new Scraper({
    collectors: new Map(Object.entries(collectors)),
    state: new ExporterState({ procfs: new ProcFS('/proc'), rootfs: '/', logger: silent }),
    logger: silent,
    timeoutSeconds,
    registries: [],
  })
}

function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return undefined
}

describe('Scraper', () => {
  it('records success and duration per collector', async () => {
    const a = fake('a')
    a.state.next = ['x']
    const text = await scraper({ a: a.collector }).scrape()
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="a"}'), 1)
    assert.ok((sample(text, 'sshd_scrape_collector_duration_seconds{collector="a"}') ?? -1) >= 0)
    assert.equal(sample(text, 'test_a{k="x"}'), 1)
  })

  it('a failing collector loses its own series only, and the scrape still succeeds', async () => {
    const good = fake('good')
    good.state.next = ['x']
    const bad = fake('bad', () => Promise.reject(new Error('boom')))
    bad.state.next = ['y']
    const text = await scraper({ good: good.collector, bad: bad.collector }).scrape()
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="bad"}'), 0)
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="good"}'), 1)
    assert.equal(sample(text, 'test_good{k="x"}'), 1)
    assert.ok(!text.includes('test_bad'), 'the failed collector rendered nothing')
  })

  it('a collector past its time limit fails, and its late result is never committed', async () => {
    let release: () => void = () => {}
    let slowNow = true
    const slow = fake('slow', () =>
      slowNow ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve(),
    )
    slow.state.next = ['late']
    const s = scraper({ slow: slow.collector }, 0.05)
    const text = await s.scrape()
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="slow"}'), 0)
    assert.ok(!text.includes('test_slow'))
    // The late collect finishes after its scrape was answered; the next scrape is quick.
    release()
    slowNow = false
    slow.state.next = ['now']
    const second = await s.scrape()
    assert.equal(sample(second, 'sshd_scrape_collector_success{collector="slow"}'), 1)
    assert.equal(sample(second, 'test_slow{k="now"}'), 1)
    assert.equal(sample(second, 'test_slow{k="late"}'), undefined)
  })

  it('drops the label sets of a previous scrape', async () => {
    const a = fake('a')
    const s = scraper({ a: a.collector })
    a.state.next = ['alice', 'bob']
    const first = await s.scrape()
    assert.equal(sample(first, 'test_a{k="bob"}'), 1)
    a.state.next = ['alice']
    const second = await s.scrape()
    assert.equal(sample(second, 'test_a{k="alice"}'), 1)
    assert.equal(sample(second, 'test_a{k="bob"}'), undefined)
  })

  it('concurrent scrapes share one in-flight scrape, and one process scan', async () => {
    const a = fake('a', async (scrape) => {
      await scrape.snapshot()
      await new Promise((r) => setTimeout(r, 20))
    })
    const b = fake('b', async (scrape) => {
      await scrape.snapshot()
    })
    const s = scraper({ a: a.collector, b: b.collector })
    const scans = (text: string) =>
      (sample(text, 'sshd_exporter_process_scans_total{mode="walk"}') ?? NaN) +
      (sample(text, 'sshd_exporter_process_scans_total{mode="full"}') ?? NaN)
    const texts = await Promise.all(Array.from({ length: 10 }, () => s.scrape()))
    assert.equal(a.state.calls, 1)
    assert.equal(b.state.calls, 1)
    assert.equal(new Set(texts).size, 1)
    assert.equal(scans(texts[0]!), 1, 'one scan shared by both collectors and all ten requests')
    const next = await s.scrape()
    assert.equal(a.state.calls, 2, 'a scrape after the shared one runs anew')
    assert.equal(scans(next), 2)
  })

  it('a view of the host during a scrape reads /proc once with it, and one alone reads anew', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const a = fake('a', async (scrape) => {
      await scrape.snapshot()
      await held
    })
    const s = scraper({ a: a.collector })
    const scans = (text: string) =>
      sample(text, 'sshd_exporter_process_scans_total{mode="walk"}')! +
      sample(text, 'sshd_exporter_process_scans_total{mode="full"}')!
    const scraping = s.scrape()
    // The view joins the scrape's context and reuses its snapshot, the very same object.
    const mine = await s.view((scrape) => scrape.snapshot())
    release()
    assert.equal(scans(await scraping), 1, 'the view read no /proc of its own')
    await s.view((scrape) => scrape.snapshot())
    assert.notEqual(await s.view((scrape) => scrape.snapshot()), mine, 'a view alone scans anew')
    assert.equal(scans(await s.scrape()), 4, 'two views alone, then a scrape: a scan each')
  })

  it('requests that arrive while a scrape is about to read /proc join it', async () => {
    // As requests come off their sockets: one event-loop callback each. The reads are
    // synchronous, so without a turn of the loop before them each request would run a scan.
    const a = fake('a', async (scrape) => {
      await scrape.snapshot()
    })
    const s = scraper({ a: a.collector })
    const texts = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<string>((resolve, reject) =>
            setImmediate(() => {
              s.scrape().then(resolve, reject)
            }),
          ),
      ),
    )
    assert.equal(a.state.calls, 1)
    assert.equal(
      sample(texts[9]!, 'sshd_exporter_process_scans_total{mode="walk"}')! +
        sample(texts[9]!, 'sshd_exporter_process_scans_total{mode="full"}')!,
      1,
    )
  })

  it('a procfs that cannot be read fails the collectors that need it', async () => {
    const a = fake('a', async (scrape) => {
      await scrape.snapshot()
    })
    const s = new Scraper({
      collectors: new Map([['a', a.collector]]),
      state: new ExporterState({
        procfs: new ProcFS('/nonexistent/proc'),
        rootfs: '/nonexistent',
        logger: silent,
      }),
      logger: silent,
      timeoutSeconds: 1,
      registries: [],
    })
    const text = await s.scrape()
    assert.equal(sample(text, 'sshd_scrape_collector_success{collector="a"}'), 0)
  })

  it('counts malformed utmp records once per parse of the file, not every scrape', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sshd-exporter-scrape-'))
    try {
      mkdirSync(join(root, 'run'))
      const utmp = join(root, 'run', 'utmp')
      const login = sshdLogin({ pid: 4242, tty: 0, user: 'alice' })
      // ut_type 99 is no type glibc knows: skipped and counted.
      writeUtmp(utmp, [login, { ...login, type: 99 }, login])
      const a = fake('a', (scrape) => {
        scrape.utmp()
        return Promise.resolve()
      })
      const s = new Scraper({
        collectors: new Map([['a', a.collector]]),
        state: new ExporterState({ procfs: new ProcFS('/proc'), rootfs: root, logger: silent }),
        logger: silent,
        timeoutSeconds: 1,
        registries: [],
      })
      const count = (text: string) =>
        sample(text, 'sshd_exporter_malformed_input_total{source="utmp"}')
      assert.equal(count(await s.scrape()), 1)
      assert.equal(count(await s.scrape()), 1, 'the same file, not counted again')
      writeUtmp(utmp, [{ ...login, type: 99 }, { ...login, type: -1 }, login, login])
      assert.equal(count(await s.scrape()), 3, 'a changed file: its own two')
      assert.equal(
        sample(await s.scrape(), 'sshd_exporter_malformed_input_total{source="procfs"}'),
        0,
      )
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
