import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createLineLogger } from '../src/line-logger.ts'

function collect(level: 'debug' | 'info' | 'warn' | 'error', format: 'json' | 'logfmt') {
  const lines: string[] = []
  return { lines, logger: createLineLogger({ level, format, write: (l) => lines.push(l) }) }
}

it('writes the levels from --log.level up, as pino would: level, time, bindings, fields, msg', () => {
  const { lines, logger } = collect('warn', 'json')
  logger.info({ a: 1 }, 'not shown')
  logger.child({ collector: 'config' }).warn({ file: '/etc/ssh/sshd_config' }, 'a problem')
  logger.error('bare message')
  assert.equal(lines.length, 2)
  const first = JSON.parse(lines[0]!) as Record<string, unknown>
  assert.deepEqual(Object.keys(first), ['level', 'time', 'collector', 'file', 'msg'])
  assert.equal(first.level, 'warn')
  assert.equal(first.msg, 'a problem')
  assert.match(String(first.time), /^\d{4}-\d\d-\d\dT/)
  assert.equal((JSON.parse(lines[1]!) as { msg: string }).msg, 'bare message')
})

it('writes logfmt, an error as its message and code', () => {
  const { lines, logger } = collect('debug', 'logfmt')
  const err = Object.assign(new Error('sshd -T failed'), { code: 'ENOENT' })
  logger.debug({ err }, 'reading the files instead')
  assert.equal(lines.length, 1)
  assert.match(
    lines[0]!,
    /^level=debug time=\S+ err="sshd -T failed" err_code=ENOENT msg="reading the files instead"\n$/,
  )
})
