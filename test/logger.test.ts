import assert from 'node:assert/strict'
import { it } from 'node:test'
import { jsonLineToLogfmt } from '../src/logfmt.ts'
import { createLogger } from '../src/logger.ts'

function capture(format: 'json' | 'logfmt', level: 'debug' | 'info' = 'info') {
  const lines: string[] = []
  const logger = createLogger({
    level,
    format,
    destination: { write: (s: string) => lines.push(s) },
  })
  return { logger, lines }
}

it('writes JSON lines with a level label and an ISO time', () => {
  const { logger, lines } = capture('json')
  logger.info({ collector: 'processes' }, 'hello')
  const record = JSON.parse(lines[0]!) as Record<string, string>
  assert.equal(record.level, 'info')
  assert.equal(record.msg, 'hello')
  assert.equal(record.collector, 'processes')
  assert.match(record.time ?? '', /^\d{4}-\d\d-\d\dT/)
})

it('writes logfmt, quoting what needs it', () => {
  const { logger, lines } = capture('logfmt')
  logger.warn({ collector: 'processes', err: new Error('no "proc" here') }, 'collector failed')
  assert.equal(lines.length, 1)
  assert.match(
    lines[0]!,
    /^level=warn time=\S+ collector=processes err="no \\"proc\\" here" msg="collector failed"\n$/,
  )
})

it('drops levels below the one chosen', () => {
  const { logger, lines } = capture('json')
  logger.debug('quiet')
  assert.equal(lines.length, 0)
})

it('passes a line that is not JSON through', () => {
  assert.equal(jsonLineToLogfmt('plain'), 'plain')
  assert.equal(jsonLineToLogfmt('{"a":"","b":[1,2]}'), 'a="" b=[1,2]\n')
})
