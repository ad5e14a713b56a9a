/**
 * Every launcher starts node with the same flags (src/runtime.ts), which the bench measures.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { NODE_FLAGS } from '../src/runtime.ts'

const ROOT = join(import.meta.dirname, '..')
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

/** The words between `node` and the script in a command line. */
function flagsBefore(words: readonly string[], script: RegExp): string[] {
  const node = words.findIndex((w) => /(^|\/)node$/.test(w))
  const at = words.findIndex((w) => script.test(w))
  assert.ok(node >= 0 && at > node, `no node … script in ${words.join(' ')}`)
  return words.slice(node + 1, at)
}

describe('launchers', () => {
  it('npm start', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start
    assert.deepEqual(flagsBefore(start.split(' '), /cli\.ts$/), NODE_FLAGS)
  })

  it("the image's ENTRYPOINT", () => {
    const line = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1]
    assert.ok(line !== undefined)
    assert.deepEqual(flagsBefore(JSON.parse(line) as string[], /cli\.js$/), NODE_FLAGS)
  })

  it("the systemd unit's ExecStart", () => {
    const line = /^ExecStart=(.*)$/m.exec(read('deploy/systemd/sshd-exporter.service'))?.[1]
    assert.ok(line !== undefined)
    assert.deepEqual(flagsBefore(line.split(' '), /cli\.js$/), NODE_FLAGS)
  })

  it('the bench', () => {
    assert.match(read('bench/exporter.ts'), /\[\.\.\.NODE_FLAGS, CLI,/)
  })
})
