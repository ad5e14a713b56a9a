/**
 * The headless browser helper (test/helpers/browser.ts) against a small HTTP server: a page behind
 * basic auth loads as 401 without credentials and as 200 with them, with its table and what its
 * script added in the DOM (a real browser, not a fetch); another path is a 404; a screenshot is a
 * PNG; a network error and a timeout throw. No browser process outlives a load.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { browserProcesses, loadPage } from '../helpers/browser.ts'

const PAGE = `<!doctype html>
<html><head><title>Sessions</title></head>
<body>
  <table><tr><td>alice@203.0.113.7</td></tr></table>
  <p id="js">no script</p>
  <script>document.getElementById('js').textContent = 'script ran'</script>
</body></html>`

const AUTH = 'Basic ' + Buffer.from('alice:s3cret').toString('base64')

describe('loadPage in headless chromium', () => {
  let base = ''
  let dir = ''
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') return // never answers: the timeout test
    if (req.url !== '/page') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    } else if (req.headers.authorization !== AUTH) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="sessions"' }).end('unauthorized')
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
    }
  })

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    dir = await mkdtemp(path.join(tmpdir(), 'sshd-exporter-browser-test-'))
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await rm(dir, { recursive: true, force: true })
    assert.deepEqual(browserProcesses(), [], 'chromium processes left behind')
  })

  it('gets 401 without credentials, not a login prompt', async () => {
    const page = await loadPage(`${base}/page`)
    assert.equal(page.status, 401)
    assert.match(page.dom, /unauthorized/)
    assert.deepEqual(browserProcesses(), [])
  })

  it('gets 401 with the wrong password', async () => {
    const page = await loadPage(`${base}/page`, { username: 'alice', password: 'wrong' })
    assert.equal(page.status, 401)
  })

  it('renders the page with the right credentials, its script run, and screenshots it', async () => {
    const png = path.join(dir, 'page.png')
    const page = await loadPage(`${base}/page`, {
      username: 'alice',
      password: 's3cret',
      screenshot: png,
    })
    assert.equal(page.status, 200)
    assert.equal(page.title, 'Sessions')
    assert.match(page.dom, /<td>alice@203\.0\.113\.7<\/td>/)
    assert.match(page.dom, /<p id="js">script ran<\/p>/)
    const image = await readFile(png)
    assert.ok(image.length > 100, `screenshot of ${image.length} bytes`)
    assert.deepEqual([...image.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    assert.deepEqual(browserProcesses(), [])
  })

  it('gets 404 elsewhere', async () => {
    const page = await loadPage(`${base}/elsewhere`, { username: 'alice', password: 's3cret' })
    assert.equal(page.status, 404)
    assert.match(page.dom, /not found/)
  })

  it('throws on a network error and on a timeout, leaving no chromium behind', async () => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    await assert.rejects(loadPage(`http://127.0.0.1:${port}/`), /ERR_CONNECTION_REFUSED/)
    await assert.rejects(loadPage(`${base}/slow`, { timeoutMs: 3_000 }), /took over 3000 ms/)
    assert.deepEqual(browserProcesses(), [])
  })
})
