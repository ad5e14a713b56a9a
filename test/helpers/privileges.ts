/**
 * Who the exporter runs as: the capabilities each way of running it needs (one list, read by
 * the privilege tests that prove it and by the tests of the systemd unit and the Helm chart that
 * ship it), and command prefixes that run the exporter with exactly one identity.
 *
 * What test/real/privileges.test.ts shows on real sshd 9.2 and 10.0:
 *
 * - Everything but the socket-to-process match reads files anyone may read: /proc/<pid>/stat,
 *   cmdline and task/<pid>/children, /proc/<pid>/net/tcp{,6}, utmp (0664), the ttys' times.
 * - The match reads /proc/<pid>/fd of sshd's monitors. Those are root's, and sshd makes every
 *   process of its own non-dumpable, so /proc/<pid>/fd is a root-owned 0500 directory: listing it
 *   and looking a name up in it need uid 0 or CAP_DAC_READ_SEARCH (CAP_DAC_OVERRIDE would do too,
 *   and grants writes: not that one). readlink of a link in it is then a ptrace access check
 *   (PTRACE_MODE_READ_FSCREDS) that a non-dumpable process passes only with CAP_SYS_PTRACE, even
 *   for uid 0.
 * - `sshd -T` needs the host keys (root's, 0600); the exporter runs it only as uid 0.
 */

export type Capability = 'CAP_DAC_READ_SEARCH' | 'CAP_SYS_PTRACE'

/**
 * The capabilities of an exporter that is not root (the systemd unit's dedicated user): with
 * them it sees everything but `sshd -T`. Each one alone is not enough.
 */
export const NON_ROOT_CAPABILITIES: readonly Capability[] = [
  'CAP_DAC_READ_SEARCH',
  'CAP_SYS_PTRACE',
]

/** The capabilities of an exporter that is uid 0 (the container of the Helm chart's DaemonSet). */
export const ROOT_CAPABILITIES: readonly Capability[] = ['CAP_SYS_PTRACE']

/**
 * Groups that read sshd's log without CAP_DAC_READ_SEARCH: the journal's files are
 * root:systemd-journal 0640, Debian's /var/log/auth.log is root:adm 0640.
 */
export const LOG_GROUPS = ['adm', 'systemd-journal'] as const

export interface Identity {
  /** For test names and messages. */
  readonly name: string
  readonly uid: 0 | 65534
  /** The capabilities it has: for uid 0 its bounding set, otherwise its ambient set. */
  readonly caps: readonly Capability[] | 'all'
  readonly groups: readonly string[]
}

export function nobody(caps: readonly Capability[] = [], groups: readonly string[] = []): Identity {
  const with_ = [...caps, ...groups.map((g) => `group ${g}`)]
  return {
    name: with_.length === 0 ? 'nobody' : `nobody with ${with_.join(', ')}`,
    uid: 65534,
    caps,
    groups,
  }
}

export function root(caps: readonly Capability[] | 'all' = 'all'): Identity {
  const name =
    caps === 'all'
      ? 'root'
      : caps.length === 0
        ? 'root with no capabilities'
        : `root with only ${caps.join(', ')}`
  return { name, uid: 0, caps, groups: [] }
}

/** `cap_sys_ptrace` for setpriv and capsh. */
function setprivName(cap: Capability): string {
  return cap.toLowerCase().replace(/^cap_/, '')
}

/** The bit of a capability in /proc/<pid>/status's Cap* masks. */
export const CAPABILITY_BITS: Readonly<Record<Capability, number>> = {
  CAP_DAC_READ_SEARCH: 2,
  CAP_SYS_PTRACE: 19,
}

/** The CapEff mask an identity's exporter should show; undefined for uid 0 with every capability. */
export function effectiveMask(identity: Identity): bigint | undefined {
  if (identity.caps === 'all') return undefined
  let mask = 0n
  for (const cap of identity.caps) mask |= 1n << BigInt(CAPABILITY_BITS[cap])
  return mask
}

/**
 * setpriv arguments (before `--`) that make the process this identity: uid 0 keeps only its
 * bounding set (its permitted and effective sets after exec); nobody gets the capabilities as
 * ambient ones, the way systemd's AmbientCapabilities= hands them to a service's user.
 */
export function setprivArgs(identity: Identity): string[] {
  const args: string[] = []
  if (identity.uid !== 0) {
    args.push(`--reuid=${identity.uid}`, `--regid=${identity.uid}`)
    args.push(
      identity.groups.length === 0 ? '--clear-groups' : `--groups=${identity.groups.join(',')}`,
    )
  }
  if (identity.caps === 'all') return args
  const list = ['-all', ...identity.caps.map((c) => `+${setprivName(c)}`)].join(',')
  args.push(`--inh-caps=${list}`)
  if (identity.uid === 0) args.push(`--bounding-set=${list}`)
  else args.push(`--ambient-caps=${list}`)
  return args
}

/**
 * Remounts every mount read-only (bind remounts: the mount, not the file system beneath, so
 * nothing outside the new mount namespace changes), then runs its arguments.
 */
const READ_ONLY_SCRIPT = `set -e
for m in $(cut -d' ' -f5 /proc/self/mountinfo); do mount -o remount,bind,ro "$m"; done
exec "$@"`

export interface PrefixOptions {
  /** Every mount read-only, in a mount namespace of the exporter's own. */
  readOnly?: boolean
}

/**
 * A command prefix that runs the exporter as `identity` inside a test sshd's PID and mount
 * namespaces (`nsenter`), where /proc is the server's and / has its /run/utmp and /var/log: the
 * exporter runs there with its defaults, as on a host. nsenter forks into the PID namespace and
 * does not pass signals on: `--pdeathsig` gives the exporter SIGTERM when nsenter is stopped.
 */
export function inSshdNamespace(
  initHostPid: number,
  identity: Identity,
  opts: PrefixOptions = {},
): string[] {
  return [
    ...['nsenter', `--target=${initHostPid}`, '--pid', '--mount', '--'],
    ...(opts.readOnly ? ['unshare', '--mount', '--', '/bin/sh', '-c', READ_ONLY_SCRIPT, 'ro'] : []),
    ...['setpriv', '--pdeathsig=TERM', ...setprivArgs(identity), '--'],
  ]
}

/** A command prefix that runs the exporter as `identity` where the tests run. */
export function asIdentity(identity: Identity): string[] {
  return ['setpriv', '--pdeathsig=TERM', ...setprivArgs(identity), '--']
}

/** Every subset of a list, the empty one first and the whole list last. */
export function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let bits = 0; bits < 1 << items.length; bits++) {
    out.push(items.filter((_, i) => (bits & (1 << i)) !== 0))
  }
  return out
}
