/**
 * Every launcher starts node with the same flags and environment (src/runtime.ts), which the
 * bench measures.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { NODE_ENV, NODE_FLAGS } from '../src/runtime.ts'

const ROOT = join(import.meta.dirname, '..')
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

/** Where node is in a command line: `node`, `/usr/bin/node`, or scripts/node.sh (npm start). */
const nodeAt = (words: readonly string[]) => words.findIndex((w) => /(^|\/)node(\.sh)?$/.test(w))

/** The words between `node` and the script in a command line. */
function flagsBefore(words: readonly string[], script: RegExp): string[] {
  const node = nodeAt(words)
  const at = words.findIndex((w) => script.test(w))
  assert.ok(node >= 0 && at > node, `no node … script in ${words.join(' ')}`)
  return words.slice(node + 1, at)
}

/** NAME=value words as an object. */
function envOf(words: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    words.map((w) => {
      const eq = w.indexOf('=')
      assert.ok(eq > 0, `${w} is not NAME=value`)
      return [w.slice(0, eq), w.slice(eq + 1)]
    }),
  )
}

/** The entries of `env` named in `names`. */
function pick(env: Record<string, string>, names: Readonly<Record<string, string>>) {
  return Object.fromEntries(Object.keys(names).map((k) => [k, env[k]]))
}

describe('launchers', () => {
  it('npm start', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start
    const words = start.split(' ')
    assert.deepEqual(flagsBefore(words, /cli\.ts$/), NODE_FLAGS)
    assert.deepEqual(envOf(words.slice(0, nodeAt(words)).filter((w) => w !== 'bash')), NODE_ENV)
  })

  it("the image's ENTRYPOINT", () => {
    const line = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1]
    assert.ok(line !== undefined)
    assert.deepEqual(flagsBefore(JSON.parse(line) as string[], /cli\.js$/), NODE_FLAGS)
    const env = [...read('Dockerfile').matchAll(/^ENV (\S+)$/gm)].map((m) => m[1]!)
    assert.deepEqual(pick(envOf(env), NODE_ENV), NODE_ENV)
  })

  it("the systemd unit's ExecStart", () => {
    const line = /^ExecStart=(.*)$/m.exec(read('deploy/systemd/sshd-exporter.service'))?.[1]
    assert.ok(line !== undefined)
    assert.deepEqual(flagsBefore(line.split(' '), /cli\.js$/), NODE_FLAGS)
    const unit = read('deploy/systemd/sshd-exporter.service')
    const env = [...unit.matchAll(/^Environment=(\S+)$/gm)].map((m) => m[1]!)
    assert.deepEqual(envOf(env), NODE_ENV)
  })

  it('the bench', () => {
    const bench = read('bench/exporter.ts')
    // `cli`: this checkout's dist/cli.js, or another build's (bench/before-after.ts).
    assert.match(bench, /\[\.\.\.NODE_FLAGS, cli,/)
    assert.match(bench, /env: \{ \.\.\.process\.env, \.\.\.NODE_ENV \}/)
  })
})
