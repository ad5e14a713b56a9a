import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { landingPage } from '../../src/web/landing.ts'

describe('landingPage', () => {
  const page = landingPage({
    name: 'demo <exporter>',
    description: 'First line,\nsecond & last.',
    version: '1.2.3',
    links: [{ address: '/m?a=1&b="2"', text: 'Metrics' }],
    tables: [{ heading: 'Parts', rows: [['a', 'on (because <x>)']] }],
  })

  it('shows what the caller passes, escaped', () => {
    assert.match(page, /<title>demo &lt;exporter&gt;<\/title>/)
    assert.match(page, /<h1>demo &lt;exporter&gt;<\/h1>/)
    assert.match(page, /<p>Version: 1\.2\.3<\/p>/)
    assert.ok(page.includes('<li><a href="/m?a=1&amp;b=&quot;2&quot;">Metrics</a></li>'))
    assert.ok(page.includes('<h2>Parts</h2>'))
    assert.ok(page.includes('<tr><td>a</td><td>on (because &lt;x&gt;)</td></tr>'))
  })

  it("keeps the description's line breaks as indented lines", () => {
    assert.ok(page.includes('<p>First line,\n      second &amp; last.</p>'))
  })

  it('has no table without tables', () => {
    const bare = landingPage({ name: 'x', description: 'y', version: 'z', links: [], tables: [] })
    assert.doesNotMatch(bare, /<table>|<h2>/)
  })
})
