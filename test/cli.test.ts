/** The CLI as a user runs it: exit codes and the one line a bad flag gets. */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { VERSION } from '../src/version.ts'
import { tempProcTree } from './helpers/procfs-tree.ts'
import { sshdHost, tempRootfs } from './helpers/sessions-host.ts'

const CLI = join(import.meta.dirname, '..', 'src', 'cli.ts')

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 10_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('sshd-exporter CLI', () => {
  for (const [args, flag] of [
    [['--web.listen-address=:notaport'], '--web.listen-address'],
    [['--collector.nope'], '--collector.nope'],
    [['--collector.processes.max-users=-3'], '--collector.processes.max-users'],
    [['--log.level=loud'], '--log.level'],
  ] as const) {
    it(`${args.join(' ')}: exit 2, one line naming ${flag}`, () => {
      const r = run([...args])
      assert.equal(r.status, 2)
      assert.equal(r.stdout, '')
      const lines = r.stderr.trimEnd().split('\n')
      assert.equal(lines.length, 1, r.stderr)
      assert.ok(lines[0]!.includes(flag), r.stderr)
      assert.match(lines[0]!, /^sshd-exporter: error: /)
    })
  }

  it('a bad environment variable: exit 2 naming the variable', () => {
    const r = run([], { SSHD_EXPORTER_WEB_LISTEN_ADDRESS: 'nowhere' })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^sshd-exporter: error: SSHD_EXPORTER_WEB_LISTEN_ADDRESS: /)
  })

  it('a web config file that cannot be read: exit 2, one log line naming the file', () => {
    const r = run(['--web.config.file=/nonexistent/web.yml', '--no-collector.config'])
    assert.equal(r.status, 2)
    assert.equal(r.stdout, '')
    const lines = r.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, r.stderr)
    const line = JSON.parse(lines[0]!) as Record<string, unknown>
    assert.equal(line.level, 'error')
    assert.equal(line.web_config_file, '/nonexistent/web.yml')
    assert.match(
      String(line.msg),
      /^--web\.config\.file="\/nonexistent\/web\.yml": cannot read it \(ENOENT\)/,
    )
  })

  it('--help lists the flags and exits 0', () => {
    const r = run(['--help'])
    assert.equal(r.status, 0)
    assert.match(r.stdout, /--web\.listen-address=ADDRESS/)
    assert.match(r.stdout, /--web\.config\.file=OPTIONAL/)
    assert.match(r.stdout, /--\[no-\]collector\.config/)
  })

  it('--version prints the version and exits 0', () => {
    const r = run(['--version'])
    assert.equal(r.status, 0)
    assert.equal(r.stdout, `sshd_exporter, version ${VERSION} (nodejs: ${process.versions.node})\n`)
  })

  it('an address in use: exit 1 with a message saying which flag to set', () => {
    const first = spawnSync(
      process.execPath,
      [
        '-e',
        `
      const s = require('node:net').createServer().listen(0, '127.0.0.1', () => {
        const port = s.address().port
        const r = require('node:child_process').spawnSync(process.execPath, [${JSON.stringify(CLI)}, '--web.listen-address=127.0.0.1:' + port, '--no-collector.config'], { encoding: 'utf8' })
        process.stdout.write(JSON.stringify({ status: r.status, stderr: r.stderr }))
        s.close()
      })`,
      ],
      { encoding: 'utf8', timeout: 15_000 },
    )
    const r = JSON.parse(first.stdout) as { status: number; stderr: string }
    assert.equal(r.status, 1)
    assert.match(r.stderr, /cannot listen.*--web\.listen-address/)
  })

  it('sessions | head: a reader that closes the pipe ends it with status 0, no error', async (t) => {
    const procfs = tempProcTree(sshdHost())
    const rootfs = tempRootfs()
    t.after(() => {
      procfs.remove()
      rootfs.remove()
    })
    const child = spawn(
      process.execPath,
      [
        ...[CLI, 'sessions', '--json', '--watch=200ms', '--no-collector.config'],
        ...[`--path.procfs=${procfs.root}`, `--path.rootfs=${rootfs.root}`],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } },
    )
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = once(child, 'exit')
    // The first read's line, then the pipe closed as head(1) closes it: the next redraw's write
    // fails with EPIPE.
    const [first] = (await once(child.stdout, 'data')) as [Buffer]
    assert.match(first.toString(), /^\{"version":1,/)
    child.stdout.destroy()
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null]
    clearTimeout(timer)
    assert.equal(signal, null, 'ended by itself')
    assert.equal(code, 0)
    // What it could not read is said (the tree has no sockets to match, no sshd_config); the
    // closed pipe is not.
    assert.doesNotMatch(stderr, /EPIPE|Error|^\s+at /m)
    for (const line of stderr.trimEnd().split('\n')) assert.match(line, /^sshd-exporter sessions: /)
  })
})
