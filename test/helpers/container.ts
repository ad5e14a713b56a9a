/**
 * The container image without a container engine, for test/real/container.test.ts and
 * bench/footprint.ts: the real Dockerfile built by podman (`--isolation=chroot`) on the local
 * stand-in for node:24-bookworm-slim (scripts/make-base-image.sh), and the image's own
 * ENTRYPOINT and CMD run with its root as the root (nsenter --root), as its USER, in its
 * WorkingDir, with its Env: what `docker run` does, without the engine.
 *
 * Needs root and podman (scripts/install-test-deps.sh).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

const REPO = join(import.meta.dirname, '..', '..')

/** The base image the Dockerfile names, as scripts/make-base-image.sh tags its stand-in. */
export const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim'

/** Runs a command in the repository; its output in the error when it fails. */
export async function run(command: string, args: readonly string[], timeoutMs = 600_000) {
  try {
    return await execFileAsync(command, args, {
      cwd: REPO,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    })
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string }
    throw new Error(
      `${command} ${args.join(' ')} failed: ${e.message}\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`,
    )
  }
}

export interface ImageConfig {
  User?: string
  Env?: string[]
  Entrypoint?: string[] | null
  Cmd?: string[] | null
  WorkingDir?: string
  ExposedPorts?: Record<string, unknown>
  Labels?: Record<string, string>
}

export async function inspectImage(ref: string): Promise<{ Size: number; Config: ImageConfig }> {
  const { stdout } = await run('podman', ['image', 'inspect', ref])
  return (JSON.parse(stdout) as Array<{ Size: number; Config: ImageConfig }>)[0]!
}

/** The certificates npm on this machine trusts beyond Node's own, for the build's npm ci. */
async function npmCaFile(): Promise<string | null> {
  const extra = process.env.NODE_EXTRA_CA_CERTS
  if (extra && existsSync(extra)) return extra
  const { stdout } = await execFileAsync('npm', ['config', 'get', 'cafile']).catch(() => ({
    stdout: '',
  }))
  const file = stdout.trim()
  return file !== '' && file !== 'null' && file !== 'undefined' && existsSync(file) ? file : null
}

/** An image built from this checkout and mounted (`podman image mount`). */
export interface MountedImage {
  tag: string
  /** The image's root, read-only. */
  root: string
  config: ImageConfig
  /** Bytes, as podman counts them. */
  size: number
  /** How long scripts/make-base-image.sh and podman build took, in seconds. */
  baseSeconds: number
  buildSeconds: number
  /** Unmounts and removes the image. */
  remove(): Promise<void>
}

/**
 * Builds the Dockerfile as `tag` (the base stand-in first, when missing), with this checkout's
 * version and revision, and mounts it.
 */
export async function buildMountedImage(tag: string, version: string): Promise<MountedImage> {
  let start = performance.now()
  await run('bash', ['scripts/make-base-image.sh'])
  const baseSeconds = (performance.now() - start) / 1000
  await run('podman', ['rmi', '--force', '--ignore', tag])
  const ca = await npmCaFile()
  const revision = await execFileAsync('git', ['rev-parse', 'HEAD'], { cwd: REPO })
    .then((r) => r.stdout.trim())
    .catch(() => 'unknown')
  start = performance.now()
  await run('podman', [
    ...['build', '--isolation=chroot', '--pull=never', '--layers=false'],
    ...(ca === null ? [] : ['--secret', `id=ca,src=${ca}`]),
    ...['--build-arg', `VERSION=${version}`, '--build-arg', `REVISION=${revision}`],
    ...['-t', tag, '.'],
  ])
  const buildSeconds = (performance.now() - start) / 1000
  const { Config: config, Size: size } = await inspectImage(tag)
  const root = (await run('podman', ['image', 'mount', tag])).stdout.trim()
  return {
    tag,
    root,
    config,
    size,
    baseSeconds,
    buildSeconds,
    async remove() {
      await run('podman', ['image', 'unmount', tag]).catch(() => {})
      await run('podman', ['rmi', '--force', '--ignore', tag])
    },
  }
}

/** The uid, gid and home that Docker gives the image's USER (numeric, or a name in its passwd). */
function resolveUser(root: string, user: string): { uid: number; gid: number; home: string } {
  const [u = '', g] = user.split(':')
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
  const entry = passwd.find((f) => f[0] === u || f[2] === u)
  const uid = /^\d+$/.test(u) ? Number(u) : Number(entry?.[2])
  let gid = entry === undefined ? 0 : Number(entry[3])
  if (g !== undefined) {
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((f) => f[0] === g)
    gid = /^\d+$/.test(g) ? Number(g) : Number(group?.[2])
  }
  assert.ok(Number.isInteger(uid) && Number.isInteger(gid), `USER ${user} not found in the image`)
  return { uid, gid, home: entry?.[5] || '/' }
}

/** The environment `docker run` gives the image's process: its Env, and HOME of its USER. */
function imageEnv(config: ImageConfig, home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { HOME: home }
  for (const e of config.Env ?? []) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1)
  return env
}

/**
 * Run in a private mount namespace of its own (`unshare -m --propagation private`): lays out the
 * container's root on a writable overlay of the (read-only) image mount, binds the host's root
 * and procfs at /host/root and /host/proc as docs/install.md runs the image, gives it its own
 * /proc and a few devices, makes every mount in it read-only, and runs the command in it as the
 * user. $1 image, $2 scratch dir, $3 the host's root, $4 the host's procfs, $5 uid, $6 gid,
 * $7 working directory, then the command. The command keeps the shell's pid (exec, and nsenter
 * without a PID namespace execs too), so a caller's child pid is the container's process.
 */
const CONTAINER_SH = `
set -eu
image=$1 top=$2 host_root=$3 host_proc=$4 uid=$5 gid=$6 wd=$7
shift 7
mount -t tmpfs -o mode=755 container "$top"
mkdir "$top/upper" "$top/work" "$top/root"
mount -t overlay overlay -o "lowerdir=$image,upperdir=$top/upper,workdir=$top/work" "$top/root"
r=$top/root
mkdir -p "$r/host/proc" "$r/host/root" "$r/proc" "$r/dev"
# -v /:/host/root:ro (docker binds recursively) and -v /proc:/host/proc:ro
mount --rbind "$host_root" "$r/host/root"
mount --rbind "$host_proc" "$r/host/proc"
# The container's own /proc (--pid=host: the host's PID namespace, which this shell is in) and /dev.
mount -t proc proc "$r/proc"
mount -t tmpfs -o mode=755,size=64k dev "$r/dev"
for d in null zero full random urandom tty; do
  touch "$r/dev/$d"
  mount --bind "/dev/$d" "$r/dev/$d"
done
# --read-only and :ro: every mount under the root, submounts too.
awk -v r="$r" '$5 == r || index($5, r "/") == 1 { print $5 }' "$r/proc/self/mountinfo" >"$top/mounts"
while read -r m; do mount -o remount,bind,ro "$m"; done <"$top/mounts"
exec nsenter --root="$r" --wdns="$wd" --setuid="$uid" --setgid="$gid" -- "$@"
`

export interface ContainerRun {
  /** An empty directory for the overlay's layers. */
  scratch: string
  /** Bound at /host/root and /host/proc. */
  hostRoot: string
  hostProc: string
  /** After the image's ENTRYPOINT and CMD. */
  args: readonly string[]
}

/**
 * How to spawn the image's process as `docker run` would: `command` (`unshare …`) with `env`,
 * as the image's USER (`uid`, `gid`).
 */
export function containerProcess(
  image: Pick<MountedImage, 'root' | 'config'>,
  c: ContainerRun,
): { command: string[]; env: NodeJS.ProcessEnv; uid: number; gid: number } {
  const { config } = image
  const { uid, gid, home } = resolveUser(image.root, config.User || '0')
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? []), ...c.args]
  const command = [
    ...['unshare', '-m', '--propagation', 'private', '--'],
    ...['sh', '-c', CONTAINER_SH, 'container', image.root, c.scratch, c.hostRoot, c.hostProc],
    ...[String(uid), String(gid), config.WorkingDir || '/', ...argv],
  ]
  return { command, env: imageEnv(config, home), uid, gid }
}
