/**
 * A synthetic procfs tree of a busy SSH server, for the benchmarks: an sshd listener, its
 * authenticated and pre-auth connections with their sessions, and a host's worth of unrelated
 * processes (kernel threads, daemons, databases, web servers, shells), pids interleaved.
 *
 * It is written for three readers at once: the exporter (`--path.procfs`), and Debian's
 * prometheus-process-exporter (`-procfs`) and prometheus-node-exporter (`--path.procfs`,
 * processes collector), which parse far more of each process than the exporter does. So every
 * process gets what those read, in the kernel's formats (checked against Linux 6.x):
 *
 *   <pid>/stat, cmdline, comm, status, io, limits, wchan, cgroup, smaps_rollup, fd/<n> links,
 *   <pid>/task/<pid>/… (the same files) and task/<pid>/children
 *
 * and the root gets stat, uptime, loadavg, meminfo, sys/kernel/{pid_max,threads-max}, and the
 * listener's (per connection, pid 1's) net/tcp and net/tcp6 (a LISTEN socket on port 22 in each, one ESTABLISHED socket
 * per connection whose inode the connection's fd links name, and other services' sockets), with
 * `net` linked to them. process-exporter needs `limits` (a process without it is skipped) and
 * the `Uid:` line of `status`; node_exporter needs sys/kernel/pid_max and threads-max.
 *
 * Every process has one thread, so task/<pid> is a symlink to `..`: task/<pid>/stat is
 * <pid>/stat, and task/<pid>/children is <pid>/children. And a process whose fd links are the
 * same as an earlier one's (0, 1 and 2 on /dev/null; none for kernel threads) has fd as a
 * symlink to that one's fd directory. Readers open paths and list names, so they cannot tell;
 * and it halves the inodes of a tree (tmpfs has a limited number: a tree of 70,000 processes takes
 * some 330,000), and the time to write it.
 *
 * Beside it, a rootfs (default `<root>/../rootfs`) holds run/utmp (one USER_PROCESS record per
 * pty session, as sshd writes it, plus the boot records and old DEAD_PROCESS entries),
 * dev/pts/<n> with access times spread over two days (the idle times), and an
 * etc/ssh/sshd_config, for `--path.rootfs`.
 *
 * Process titles are exactly sshd's (DESIGN.md, "What OpenSSH looks like"):
 *
 *   9.2   listener  sshd: /usr/sbin/sshd -D [listener] P of 10-F startups
 *         authenticated: sshd: alice [priv] (root) -> sshd: alice@pts/3 or alice@notty -> sessions
 *         pre-auth:      sshd: unknown [priv] -> sshd: unknown [net]
 *   10.0  the same listener; per-connection processes are comm sshd-session and titled
 *         `sshd-session: …`; the pre-auth child is comm sshd-auth, `sshd-auth: unknown [net]`.
 *
 *   per_connection (`mode`, 9.2 only): no listener. systemd (pid 1) holds port 22's sockets, as
 *         ssh.socket with Accept=yes, and starts one `sshd -i` per connection as its child, in
 *         a unit of its own (ssh@<n>-….service); pid 1's net/tcp{,6} are the tables.
 *         authenticated: sshd: alice [priv] -> sshd: alice@pts/3 -> sessions, and one in 20 a
 *                        root login: sshd: root@pts/3 (root), no post-auth child, the sessions
 *                        its own children (9.2 forks none for root)
 *         pre-auth:      sshd: [accepted] alone (no banner yet), or, every other one,
 *                        sshd: unknown [priv] -> sshd: unknown [net]
 *
 * Each authenticated connection carries `sessions` sessions, the first with a pty (`-bash`),
 * the others without (sftp-server, sleep, rsync …), some started long after the connection so
 * that their pids are far from it. Users come from a bounded pool (user0 … user49).
 *
 * The tree is static. Two consequences for the readers: /proc/uptime does not advance, so the
 * exporter's boot time (now − uptime) drifts forward with the wall clock; and so utmp login times
 * are written LOGIN_TIME_AHEAD_SECONDS after their monitor's start, which keeps them from being
 * judged utmp orphans (a pid started after its login) for that long. Pre-auth connections started
 * in the last minute of the uptime, so none is overdue against LoginGraceTime.
 *
 * Writing is synchronous, and every file whose content another file already has (limits, comm,
 * most cmdlines, io, wchan, cgroup, the symlinks above and to /dev/null …) is a hard link to it: a
 * link costs a fifth of a write on tmpfs, and no inode.
 *
 * CLI: node bench/procfs-builder.ts --connections 1000 --sessions 3 --preauth 100 \
 *        --unrelated 20000 --version 9.2 [--mode per_connection] --out DIR
 * writes DIR/proc and DIR/rootfs (DIR absent or empty) and prints the BuiltTree as JSON.
 */
import { linkSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { endianness } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { encodeUtmp, sshdLogin, type UtmpFields } from '../test/helpers/utmp-writer.ts'

export type OpensshVersion = '9.2' | '10.0'

/**
 * How sshd runs: `daemon`, a listener (`sshd -D`) forking each connection; `per_connection`, no
 * listener, systemd's ssh.socket (Accept=yes) holding port 22 and starting one `sshd -i` per
 * connection as pid 1's child.
 */
export type SshdMode = 'daemon' | 'per_connection'

export interface TreeSpec {
  /** Authenticated connections. */
  connections: number
  /** Sessions on each authenticated connection; the first has a pty. */
  sessions: number
  /** Pre-auth connections. */
  preauth: number
  /** Every process that is neither sshd's nor a session: init, kernel threads, daemons … (at least 2). */
  unrelated: number
  version: OpensshVersion
  /** Default `daemon`. `per_connection` is modelled on OpenSSH 9.2 only. */
  mode?: SshdMode
  /**
   * The first pid after boot: boot-time kernel threads and daemons (the listener among them) take
   * the pids below it, everything else from it upwards. Default 1000.
   */
  firstPid?: number
  /** Seed of the pseudo-random choices: the same spec and seed give the same tree. Default 1. */
  seed?: number
  /** Size of the user pool (user0 …). Default 50. */
  users?: number
  /** /proc/uptime, in seconds. Default 30 days. */
  uptimeSeconds?: number
  /** Where the rootfs goes. Default `<root>/../rootfs`. */
  rootfs?: string
}

export interface BuiltTree {
  /** The procfs root, for --path.procfs / -procfs. */
  root: string
  /** The rootfs, for --path.rootfs (run/utmp, dev/pts, etc/ssh/sshd_config). */
  rootfs: string
  utmpPath: string
  version: OpensshVersion
  mode: SshdMode
  /** <pid> directories written. */
  processes: number
  /** The listener's pid; 0 in per_connection mode, which has none. */
  listenerPid: number
  /** The socket holder whose children the connections are in per_connection mode (1); else null. */
  holderPid: number | null
  /** Processes of sshd (comm sshd, sshd-session or sshd-auth), the listener included. */
  sshdPids: number
  /** Session processes (children of the post-auth processes). */
  sessionPids: number
  /** Highest pid written. */
  maxPid: number
  buildMs: number
  /** What the exporter should report for this tree. */
  expected: {
    authenticated: number
    preauth: number
    sessions: number
    ptySessions: number
    /**
     * The listener title's count (sshd_startups) and MaxStartups; null in per_connection mode,
     * where no listener counts startups and the exporter reports neither.
     */
    startups: number | null
    maxStartups: { begin: number; full: number } | null
    /** Authenticated connections with two or more sessions. */
    multiplexed: number
    /** Most sessions on one connection. */
    sessionsMax: number
    /** ESTABLISHED sockets on port 22 (sum of sshd_source_connections). */
    establishedConnections: number
    /** sshd_sessions by user. */
    sessionsByUser: Record<string, number>
  }
}

/** How far after its monitor's start a utmp login is dated (see the file's head). */
export const LOGIN_TIME_AHEAD_SECONDS = 30 * 86400

const TICKS = 100
const CPUS = 8
const PID_MAX = 4194304
const SSHD_UID = 100 // Debian's sshd user
const NOGROUP = 65534
const FIRST_USER_UID = 1000
const MAX_STARTUPS_BEGIN = 10
/** Per-connection mode: the share of authenticated connections that are root logins. */
const ROOT_LOGIN_SHARE = 0.05
const SSH_PORT = 22
/** The server's own address, in every sshd socket. */
const SERVER_V4 = [10, 0, 0, 1] as const
const SERVER_V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] as const

// ---------------------------------------------------------------------------------------------
// Pseudo-random choices (mulberry32: small, fast, and the same on every run)

type Random = () => number

function mulberry32(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function int(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!
}

function shuffle<T>(random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i]!
    items[i] = items[j]!
    items[j] = t
  }
  return items
}

// ---------------------------------------------------------------------------------------------
// Processes in memory

/** What a process looks like beyond its identity: memory, io, limits … shared by many. */
interface Profile {
  /** Resident set in kB (0 for kernel threads). */
  rssKb: number
  vsizeKb: number
  /** /proc/<pid>/io and smaps_rollup contents, chosen once per profile variant. */
  io: string
  smaps: string
  limits: string
  wchan: string
}

interface Proc {
  pid: number
  ppid: number
  comm: string
  /** The bytes of /proc/<pid>/cmdline, NULs included. */
  cmdline: string
  state: 'S' | 'I' | 'R'
  uid: number
  gid: number
  kthread: boolean
  /** Process group and session leaders. */
  pgrp: number
  sid: number
  /** tty_nr (0 for none). */
  tty: number
  starttime: number
  profile: Profile
  cgroup: string
  /** fd number and link target. */
  fds: [number, string][]
  children: number[]
  /** Seccomp mode in status (2 for sshd's sandboxed pre-auth child). */
  seccomp: 0 | 2
}

// ---------------------------------------------------------------------------------------------
// File contents in the kernel's formats

/** argv as the kernel shows it: each argument NUL-terminated. */
function argv(...args: string[]): string {
  return args.map((a) => `${a}\0`).join('')
}

/**
 * A title set with setproctitle(): the title, then NULs to the end of the original argv area
 * (`argvBytes`), or a single NUL when the title is longer (it ran into the environment; what Linux
 * shows for the listener).
 */
function title(text: string, argvBytes: number): string {
  return text + '\0'.repeat(Math.max(1, argvBytes - text.length))
}

/** Lengths of the argv areas sshd re-executes with. */
const SSHD_REEXEC_ARGV = argv('/usr/sbin/sshd', '-D', '-R').length
const SSHD_SESSION_ARGV = argv('/usr/lib/openssh/sshd-session', '-D', '-R').length
const SSHD_AUTH_ARGV = argv('/usr/lib/openssh/sshd-auth', '-R').length
/** systemd's ssh@.service: `sshd -i` does not re-execute. */
const SSHD_INETD_ARGV = argv('/usr/sbin/sshd', '-i').length

/** comm as the kernel keeps it: TASK_COMM_LEN 16, so 15 bytes (kernel threads may show more). */
function commOf(name: string): string {
  return name.length > 15 ? name.slice(0, 15) : name
}

/** makedev(136, n): the tty_nr of /dev/pts/n. */
function ptsTtyNr(n: number): number {
  return (136 << 8) | (n & 0xff) | ((n & ~0xff) << 12)
}

function statLine(p: Proc, cpu: number, utime: number, stime: number, minflt: number): string {
  if (p.kthread) {
    const nice = p.comm.endsWith('H') || p.comm.includes('H-') ? -20 : 0
    return `${p.pid} (${p.comm}) ${p.state} ${p.ppid} 0 0 0 -1 69238880 0 0 0 0 ${utime} ${stime} 0 0 ${20 + nice} ${nice} 1 0 ${p.starttime} 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 ${cpu} 0 0 0 0 0 0 0 0 0 0 0 0 0\n`
  }
  const tpgid = p.tty === 0 ? -1 : p.pgrp
  const rssPages = Math.floor(p.profile.rssKb / 4)
  return `${p.pid} (${p.comm}) ${p.state} ${p.ppid} ${p.pgrp} ${p.sid} ${p.tty} ${tpgid} 4194560 ${minflt} 0 ${minflt >> 8} 0 ${utime} ${stime} 0 0 20 0 1 0 ${p.starttime} ${p.profile.vsizeKb * 1024} ${rssPages} 18446744073709551615 94021086658560 94021087503245 140720571607456 0 0 0 0 4098 81925 1 0 0 17 ${cpu} 0 0 0 0 0 94021087856496 94021087872656 94021623504896 140720571615897 140720571615982 140720571615982 140720571617257 0\n`
}

const MEMS_ALLOWED = `${'00000000,'.repeat(31)}00000001`

function statusFile(p: Proc, voluntary: number, nonvoluntary: number): string {
  const state = p.state === 'S' ? 'S (sleeping)' : p.state === 'I' ? 'I (idle)' : 'R (running)'
  const root = p.uid === 0
  const caps = root ? '000001ffffffffff' : '0000000000000000'
  const rss = p.profile.rssKb
  const vm = p.kthread
    ? ''
    : `VmPeak:\t${kb(p.profile.vsizeKb + 1024)}\nVmSize:\t${kb(p.profile.vsizeKb)}\nVmLck:\t${kb(0)}\nVmPin:\t${kb(0)}\nVmHWM:\t${kb(rss + (rss >> 3))}\nVmRSS:\t${kb(rss)}\nRssAnon:\t${kb(rss >> 2)}\nRssFile:\t${kb(rss - (rss >> 2))}\nRssShmem:\t${kb(0)}\nVmData:\t${kb(rss >> 1)}\nVmStk:\t${kb(132)}\nVmExe:\t${kb(812)}\nVmLib:\t${kb(6204)}\nVmPTE:\t${kb(64)}\nVmSwap:\t${kb(0)}\nHugetlbPages:\t${kb(0)}\n`
  return (
    `Name:\t${p.comm}\nUmask:\t${p.kthread ? '0000' : '0022'}\nState:\t${state}\nTgid:\t${p.pid}\nNgid:\t0\nPid:\t${p.pid}\nPPid:\t${p.ppid}\nTracerPid:\t0\n` +
    `Uid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\nGid:\t${p.gid}\t${p.gid}\t${p.gid}\t${p.gid}\nFDSize:\t64\nGroups:\t${root || p.kthread ? '' : String(p.gid)}\n` +
    `NStgid:\t${p.pid}\nNSpid:\t${p.pid}\nNSpgid:\t${p.pgrp}\nNSsid:\t${p.sid}\nKthread:\t${p.kthread ? 1 : 0}\n${vm}` +
    `CoreDumping:\t0\nTHP_enabled:\t${p.kthread ? 0 : 1}\nuntag_mask:\t0xffffffffffffffff\nThreads:\t1\nSigQ:\t0/127322\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n` +
    `SigBlk:\t0000000000000000\nSigIgn:\t${p.kthread ? 'ffffffffffffffff' : '0000000000001000'}\nSigCgt:\t${p.kthread ? '0000000000000000' : '0000000180014002'}\n` +
    `CapInh:\t0000000000000000\nCapPrm:\t${caps}\nCapEff:\t${caps}\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t${p.seccomp === 2 ? 1 : 0}\n` +
    `Seccomp:\t${p.seccomp}\nSeccomp_filters:\t${p.seccomp === 2 ? 1 : 0}\nSpeculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\n` +
    `Cpus_allowed:\tff\nCpus_allowed_list:\t0-${CPUS - 1}\nMems_allowed:\t${MEMS_ALLOWED}\nMems_allowed_list:\t0\n` +
    `voluntary_ctxt_switches:\t${voluntary}\nnonvoluntary_ctxt_switches:\t${nonvoluntary}\n`
  )
}

/** A status value in kB, right-aligned as the kernel writes it (`%8lu kB`). */
function kb(n: number): string {
  return `${String(n).padStart(8)} kB`
}

/** /proc/<pid>/limits: fs/proc/base.c proc_pid_limits(), `%-25s %-20s %-20s %-10s`. */
function limitsFile(nofileSoft: number, nofileHard: number, nproc: number): string {
  const rows: [string, string, string, string][] = [
    ['Max cpu time', 'unlimited', 'unlimited', 'seconds'],
    ['Max file size', 'unlimited', 'unlimited', 'bytes'],
    ['Max data size', 'unlimited', 'unlimited', 'bytes'],
    ['Max stack size', '8388608', 'unlimited', 'bytes'],
    ['Max core file size', '0', 'unlimited', 'bytes'],
    ['Max resident set', 'unlimited', 'unlimited', 'bytes'],
    ['Max processes', String(nproc), String(nproc), 'processes'],
    ['Max open files', String(nofileSoft), String(nofileHard), 'files'],
    ['Max locked memory', '8388608', '8388608', 'bytes'],
    ['Max address space', 'unlimited', 'unlimited', 'bytes'],
    ['Max file locks', 'unlimited', 'unlimited', 'locks'],
    ['Max pending signals', String(nproc), String(nproc), 'signals'],
    ['Max msgqueue size', '819200', '819200', 'bytes'],
    ['Max nice priority', '0', '0', ''],
    ['Max realtime priority', '0', '0', ''],
    ['Max realtime timeout', 'unlimited', 'unlimited', 'us'],
  ]
  let text = `${'Limit'.padEnd(26)}${'Soft Limit'.padEnd(21)}${'Hard Limit'.padEnd(21)}${'Units'.padEnd(10)}\n`
  for (const [name, soft, hard, unit] of rows) {
    text += `${name.padEnd(26)}${soft.padEnd(21)}${hard.padEnd(21)}${unit === '' ? '' : unit.padEnd(10)}\n`
  }
  return text
}

const LIMITS_SERVICE = limitsFile(1024, 524288, 127322)
const LIMITS_USER = limitsFile(1024, 1048576, 127322)
const LIMITS_KTHREAD = limitsFile(1024, 4096, 127322)

function ioFile(rchar: number, wchar: number, readBytes: number, writeBytes: number): string {
  return `rchar: ${rchar}\nwchar: ${wchar}\nsyscr: ${rchar >> 9}\nsyscw: ${wchar >> 9}\nread_bytes: ${readBytes}\nwrite_bytes: ${writeBytes}\ncancelled_write_bytes: 0\n`
}

/** /proc/<pid>/smaps_rollup (empty for kernel threads, which have no mm). */
function smapsRollup(rssKb: number): string {
  if (rssKb === 0) return ''
  const pss = Math.floor(rssKb / 3)
  const anon = rssKb >> 2
  const row = (name: string, n: number): string =>
    `${`${name}:`.padEnd(16)}${String(n).padStart(8)} kB\n`
  return (
    '55d0c0a00000-7ffd1a2f4000 ---p 00000000 00:00 0                          [rollup]\n' +
    row('Rss', rssKb) +
    row('Pss', pss) +
    row('Pss_Dirty', anon) +
    row('Pss_Anon', anon) +
    row('Pss_File', pss - anon) +
    row('Pss_Shmem', 0) +
    row('Shared_Clean', rssKb - anon - 40) +
    row('Shared_Dirty', 0) +
    row('Private_Clean', 40) +
    row('Private_Dirty', anon) +
    row('Referenced', rssKb) +
    row('Anonymous', anon) +
    row('KSM', 0) +
    row('LazyFree', 0) +
    row('AnonHugePages', 0) +
    row('ShmemPmdMapped', 0) +
    row('FilePmdMapped', 0) +
    row('Shared_Hugetlb', 0) +
    row('Private_Hugetlb', 0) +
    row('Swap', 0) +
    row('SwapPss', 0) +
    row('Locked', 0)
  )
}

/** A few variants of a kind of process (memory and io), so that contents repeat and link. */
function profiles(
  random: Random,
  baseRssKb: number,
  vsizeKb: number,
  limits: string,
  wchan: string,
  ioScale: number,
): Profile[] {
  const out: Profile[] = []
  for (let i = 0; i < 4; i++) {
    const rssKb = baseRssKb === 0 ? 0 : Math.round(baseRssKb * (1 + i * 0.15))
    const io =
      ioScale === 0
        ? ioFile(0, 0, 0, 0)
        : ioFile(
            int(random, 1, 50) * ioScale,
            int(random, 1, 50) * ioScale,
            int(random, 0, 8) * 4096 * ioScale,
            int(random, 0, 8) * 4096,
          )
    out.push({ rssKb, vsizeKb, io, smaps: smapsRollup(rssKb), limits, wchan })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// /proc/net/tcp and tcp6 (net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c get_tcp6_sock)

const LITTLE_ENDIAN = endianness() === 'LE'

/** 4 address bytes (network order) as the kernel prints a __be32 with %08X. */
function hexWord(b: readonly number[], at: number): string {
  const bytes = LITTLE_ENDIAN
    ? [b[at + 3]!, b[at + 2]!, b[at + 1]!, b[at]!]
    : [b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!]
  return bytes.map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('')
}

function hexAddress(bytes: readonly number[]): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 4) s += hexWord(bytes, i)
  return s
}

function hex(n: number, digits: number): string {
  return n.toString(16).toUpperCase().padStart(digits, '0')
}

interface Socket {
  local: readonly number[]
  localPort: number
  remote: readonly number[]
  remotePort: number
  /** include/net/tcp_states.h: 1 ESTABLISHED, 6 TIME_WAIT, 10 LISTEN. */
  state: 1 | 6 | 10
  uid: number
  inode: number
}

const TCP_HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
const TCP6_HEADER =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'

function socketLine(sl: number, s: Socket, random: Random): string {
  const head = `${String(sl).padStart(4)}: ${hexAddress(s.local)}:${hex(s.localPort, 4)} ${hexAddress(s.remote)}:${hex(s.remotePort, 4)} ${hex(s.state, 2)}`
  const pointer = `00000000${hex(int(random, 0x10000000, 0x7fffffff), 8).toLowerCase()}`
  switch (s.state) {
    case 10:
      return `${head} 00000000:00000000 00:00000000 00000000 ${String(s.uid).padStart(5)} ${'0'.padStart(8)} ${s.inode} 1 ${pointer} 100 0 0 10 0`
    case 6:
      return `${head} 00000000:00000000 03:${hex(int(random, 100, 6000), 8)} 00000000 ${'0'.padStart(5)} ${'0'.padStart(8)} 0 3 ${pointer}`
    default:
      return `${head} 00000000:00000000 02:${hex(int(random, 1000, 700000), 8)} 00000000 ${String(s.uid).padStart(5)} ${'0'.padStart(8)} ${s.inode} 2 ${pointer} 20 4 30 10 -1`
  }
}

/** net/tcp (IPv4 lines padded to 149 characters, seq_pad) or net/tcp6. */
function netTcpFile(sockets: readonly Socket[], family: 4 | 6, random: Random): string {
  const lines = [family === 4 ? TCP_HEADER.padEnd(149) : TCP6_HEADER]
  let sl = 0
  for (const s of sockets) {
    const line = socketLine(sl++, s, random)
    lines.push(family === 4 ? line.padEnd(149) : line)
  }
  return `${lines.join('\n')}\n`
}

// ---------------------------------------------------------------------------------------------
// The writer: files, hard links to files already written with the same content, symlinks

class Writer {
  /** Content (or U+0001 and a symlink target) to the first path written with it. */
  readonly #first = new Map<string, string>()

  /** Writes `content` at `path`, as a hard link when the content was written before. */
  file(path: string, content: string, shareable = true): void {
    if (shareable) {
      const existing = this.#first.get(content)
      if (existing !== undefined) {
        linkSync(existing, path)
        return
      }
      this.#first.set(content, path)
    }
    writeFileSync(path, content, 'latin1')
  }

  /** A symlink (hard-linked to an earlier symlink with the same target: link(2) does not follow). */
  symlink(path: string, target: string): void {
    const key = `\u0001${target}`
    const existing = this.#first.get(key)
    if (existing !== undefined) {
      linkSync(existing, path)
      return
    }
    symlinkSync(target, path)
    this.#first.set(key, path)
  }
}

// ---------------------------------------------------------------------------------------------
// The tree

interface Plan {
  procs: Proc[]
  /** The listener; null in per_connection mode. */
  listener: Proc | null
  /** The process whose net/tcp{,6} are written: the listener, or pid 1 holding port 22. */
  netHolder: Proc
  /** MaxStartups full, for sshd_config. */
  full: number
  sockets4: Socket[]
  sockets6: Socket[]
  logins: UtmpFields[]
  /** pts numbers of the pty sessions, with their idle seconds. */
  ptys: [number, number][]
  expected: BuiltTree['expected']
  sshdPids: number
  sessionPids: number
}

function validate(spec: TreeSpec): void {
  for (const key of ['connections', 'sessions', 'preauth', 'unrelated'] as const) {
    const v = spec[key]
    if (!Number.isInteger(v) || v < 0) throw new Error(`${key} must be an integer >= 0, not ${v}`)
  }
  if (spec.unrelated < 2) throw new Error('unrelated must be at least 2 (init and kthreadd)')
  if (spec.version !== '9.2' && spec.version !== '10.0') {
    throw new Error(`version must be 9.2 or 10.0, not ${String(spec.version)}`)
  }
  const mode = spec.mode ?? 'daemon'
  if (mode !== 'daemon' && mode !== 'per_connection') {
    throw new Error(`mode must be daemon or per_connection, not ${String(mode)}`)
  }
  if (mode === 'per_connection' && spec.version !== '9.2') {
    throw new Error('per_connection mode is modelled on OpenSSH 9.2 only')
  }
}

/** A process to add: what varies; the rest defaults (see `add` in plan). */
interface NewProc {
  comm: string
  cmdline: string
  profile: Profile
  uid?: number
  gid?: number
  /** Default: the parent's. */
  cgroup?: string
  /** Default: 0, 1 and 2 on /dev/null. */
  fds?: [number, string][]
  state?: Proc['state']
  tty?: number
  /** In the parent's process group and session (a worker); default: a leader of its own. */
  sameGroup?: boolean
  seccomp?: 0 | 2
  kthread?: boolean
}

/** A daemon's name, argv and systemd unit. */
type Service = readonly [name: string, args: readonly string[], unit: string]

const BOOT_DAEMONS: readonly Service[] = [
  ['systemd-journald', ['/lib/systemd/systemd-journald'], 'systemd-journald.service'],
  ['systemd-udevd', ['/lib/systemd/systemd-udevd'], 'systemd-udevd.service'],
  ['systemd-timesyncd', ['/lib/systemd/systemd-timesyncd'], 'systemd-timesyncd.service'],
  [
    'dbus-daemon',
    ['/usr/bin/dbus-daemon', '--system', '--address=systemd:', '--nofork', '--nopidfile'],
    'dbus.service',
  ],
  ['systemd-logind', ['/lib/systemd/systemd-logind'], 'systemd-logind.service'],
  ['rsyslogd', ['/usr/sbin/rsyslogd', '-n', '-iNONE'], 'rsyslog.service'],
  ['cron', ['/usr/sbin/cron', '-f'], 'cron.service'],
  ['agetty', ['/sbin/agetty', '-o', '-p -- \\u', '--noclear', '-', 'linux'], 'getty@tty1.service'],
]

const DAEMONS: readonly Service[] = [
  ['chronyd', ['/usr/sbin/chronyd', '-F', '1'], 'chrony.service'],
  ['containerd', ['/usr/bin/containerd'], 'containerd.service'],
  ['polkitd', ['/usr/lib/polkit-1/polkitd', '--no-debug'], 'polkit.service'],
  ['atd', ['/usr/sbin/atd', '-f'], 'atd.service'],
  ['prometheus-node-exporter', ['/usr/bin/prometheus-node-exporter'], 'node-exporter.service'],
  [
    'snmpd',
    ['/usr/sbin/snmpd', '-LOw', '-u', 'Debian-snmp', '-f', '-p', '/run/snmpd.pid'],
    'snmpd.service',
  ],
  ['qemu-ga', ['/usr/sbin/qemu-ga'], 'qemu-guest-agent.service'],
  [
    'unattended-upgr',
    ['/usr/bin/python3', '/usr/share/unattended-upgrades/unattended-upgrade-shutdown'],
    'unattended-upgrades.service',
  ],
]

/** What the sessions without a pty run (comm, argv). */
const SESSION_COMMANDS: readonly (readonly [string, readonly string[]])[] = [
  ['sftp-server', ['/usr/lib/openssh/sftp-server']],
  ['sleep', ['sleep', '3600']],
  ['rsync', ['rsync', '--server', '-logDtpre.iLsfxCIvu', '.', '/srv/backup/']],
  ['bash', ['bash', '-c', 'while sleep 60; do uptime; done']],
  ['python3', ['python3', '-u', '-']],
  ['tail', ['tail', '-F', '/var/log/app/current.log']],
]

const POSTGRES_AUX = [
  'checkpointer',
  'background writer',
  'walwriter',
  'autovacuum launcher',
  'logical replication launcher',
]

function plan(spec: TreeSpec, buildEpoch: number): Plan {
  validate(spec)
  const random = mulberry32(spec.seed ?? 1)
  const v10 = spec.version === '10.0'
  const perConnection = spec.mode === 'per_connection'
  const users = spec.users ?? 50
  const uptime = spec.uptimeSeconds ?? 30 * 86400
  const firstPid = spec.firstPid ?? 1000
  const procs: Proc[] = []
  const byPid = new Map<number, Proc>()
  const prof = {
    init: profiles(random, 12800, 168000, LIMITS_SERVICE, 'ep_poll', 4096),
    kthread: profiles(random, 0, 0, LIMITS_KTHREAD, 'worker_thread', 0),
    daemon: profiles(random, 9000, 240000, LIMITS_SERVICE, 'ep_poll', 2048),
    listener: profiles(random, 8900, 15460, LIMITS_SERVICE, 'do_sys_poll', 512),
    monitor: profiles(random, 10400, 17880, LIMITS_SERVICE, 'do_sys_poll', 64),
    postauth: profiles(random, 7200, 18020, LIMITS_SERVICE, 'do_sys_poll', 1024),
    net: profiles(random, 5600, 16400, LIMITS_SERVICE, 'do_sys_poll', 16),
    shell: profiles(random, 5200, 8650, LIMITS_USER, 'do_select', 256),
    command: profiles(random, 2100, 5480, LIMITS_USER, 'hrtimer_nanosleep', 64),
    postgres: profiles(random, 24000, 220000, LIMITS_SERVICE, 'do_epoll_wait', 8192),
    web: profiles(random, 14000, 180000, LIMITS_SERVICE, 'do_epoll_wait', 4096),
    python: profiles(random, 48000, 320000, LIMITS_SERVICE, 'do_epoll_wait', 4096),
    java: profiles(random, 420000, 4800000, LIMITS_SERVICE, 'futex_wait_queue', 8192),
  }

  // Pids in creation order, with gaps (processes that came and went); start times are set at
  // the end, monotonic in creation order (`starttime` holds the creation index until then).
  let nextPid = 1
  const add = (parent: Proc | null, p: NewProc): Proc => {
    const pid = nextPid
    nextPid += 1 + (random() < 0.3 ? int(random, 1, 6) : 0)
    if (pid >= PID_MAX) throw new Error('too many processes for pid_max')
    const uid = p.uid ?? 0
    const proc: Proc = {
      pid,
      ppid: parent?.pid ?? 0,
      comm: p.comm,
      cmdline: p.cmdline,
      state: p.state ?? 'S',
      uid,
      gid: p.gid ?? uid,
      kthread: p.kthread ?? false,
      pgrp: p.sameGroup === true && parent !== null ? parent.pgrp : pid,
      sid: p.sameGroup === true && parent !== null ? parent.sid : pid,
      tty: p.tty ?? 0,
      starttime: procs.length,
      profile: p.profile,
      cgroup: p.cgroup ?? parent?.cgroup ?? '0::/\n',
      fds: p.fds ?? devNull(),
      children: [],
      seccomp: p.seccomp ?? 0,
    }
    procs.push(proc)
    byPid.set(pid, proc)
    parent?.children.push(pid)
    return proc
  }
  const service = (parent: Proc, [name, args, unit]: Service, kind: keyof typeof prof): Proc =>
    add(parent, {
      comm: commOf(name),
      cmdline: argv(...args),
      profile: pick(random, prof[kind]),
      cgroup: `0::/system.slice/${unit}\n`,
    })

  // Boot: init, kthreadd and the early kernel threads, the early daemons and the listener.
  let budget = spec.unrelated - 2
  const init = add(null, {
    comm: 'systemd',
    cmdline: argv('/sbin/init'),
    profile: prof.init[0]!,
    cgroup: '0::/init.scope\n',
  })
  const kthreadd = add(null, {
    comm: 'kthreadd',
    cmdline: '',
    profile: prof.kthread[0]!,
    fds: [],
    kthread: true,
  })
  kthreadd.pgrp = kthreadd.sid = 0
  let kworkers = 0
  const kthread = (name?: string): void => {
    const cpu = int(random, 0, CPUS - 1)
    const k = kworkers++
    const comm =
      name ??
      pick(random, [
        `kworker/${cpu}:${k % 4}-events`,
        `kworker/${cpu}:${k % 3}H-kblockd`,
        `kworker/u${CPUS * 2}:${k % 9}-events_unbound`,
        `kworker/${cpu}:${k % 5}-mm_percpu_wq`,
        `kworker/${cpu}:${k % 6}`,
        `kworker/u${CPUS * 2}:${k % 7}-flush-8:0`,
      ])
    const p = add(kthreadd, {
      comm,
      cmdline: '',
      profile: pick(random, prof.kthread),
      fds: [],
      kthread: true,
      state: comm.startsWith('kworker') ? 'I' : 'S',
    })
    p.pgrp = p.sid = 0
  }
  const bootThreads = ['rcu_gp', 'rcu_par_gp', 'slub_flushwq', 'netns', 'mm_percpu_wq']
  for (let cpu = 0; cpu < CPUS; cpu++) {
    bootThreads.push(`cpuhp/${cpu}`, `migration/${cpu}`, `ksoftirqd/${cpu}`)
    bootThreads.push(`kworker/${cpu}:0H-events_highpri`)
  }
  bootThreads.push('kdevtmpfs', 'inet_frag_wq', 'kauditd', 'khungtaskd', 'oom_reaper')
  bootThreads.push('writeback', 'kcompactd0', 'ksmd', 'khugepaged', 'kintegrityd', 'kblockd')
  bootThreads.push('kswapd0', 'kthrotld', 'scsi_eh_0', 'scsi_tmf_0', 'jbd2/sda1-8')
  for (const name of bootThreads) {
    if (budget === 0) break
    kthread(name)
    budget--
  }
  for (const daemon of BOOT_DAEMONS) {
    if (budget === 0) break
    service(init, daemon, 'daemon')
    budget--
  }

  const full = Math.max(100, spec.preauth)
  const startups = spec.preauth
  let inode = 31000
  const listen4 = ++inode
  const listen6 = ++inode
  // Port 22's sockets: the listener's, or systemd's for ssh.socket (Accept=yes), which accepts
  // each connection and starts `sshd -i` on it.
  const listener = perConnection
    ? null
    : add(init, {
        comm: 'sshd',
        cmdline: title(
          `sshd: /usr/sbin/sshd -D [listener] ${startups} of ${MAX_STARTUPS_BEGIN}-${full} startups`,
          argv('/usr/sbin/sshd', '-D').length,
        ),
        profile: prof.listener[0]!,
        cgroup: '0::/system.slice/ssh.service\n',
        fds: [...devNull(), [3, `socket:[${listen4}]`], [4, `socket:[${listen6}]`]],
      })
  if (listener === null) {
    init.fds = [...devNull(), [48, `socket:[${listen4}]`], [49, `socket:[${listen6}]`]]
  }
  const anyV4 = [0, 0, 0, 0]
  const anyV6 = new Array<number>(16).fill(0)
  const sockets4: Socket[] = [listening(anyV4, SSH_PORT, 0, listen4)]
  const sockets6: Socket[] = [listening(anyV6, SSH_PORT, 0, listen6)]
  const bootCount = procs.length

  // After boot: pids from firstPid.
  if (firstPid <= nextPid) {
    throw new Error(`firstPid must be above ${nextPid - 1}, the last boot process's pid`)
  }
  nextPid = firstPid
  inode = 1_000_000

  // Client addresses: a few busy sources and a long tail; one in ten IPv6.
  const clients: number[][] = []
  for (let i = 0; i < 300; i++) {
    if (i % 10 === 9)
      clients.push([0x20, 0x01, 0x0d, 0xb8, 0, 1, ...new Array<number>(8).fill(0), i >> 8, i & 255])
    else if (i < 150) clients.push([10, 20, i >> 4, (i & 15) + 10])
    else clients.push([198, 51, 100, i - 150])
  }
  const clientPorts = new Map<number[], number>()
  /** A new ESTABLISHED socket on port 22 and the client's address as text. */
  const connect = (): { socket: Socket; host: string } => {
    const remote = clients[Math.floor(clients.length * random() ** 3)]!
    const port = (clientPorts.get(remote) ?? int(random, 32768, 40000)) + int(random, 1, 3)
    clientPorts.set(remote, port > 60999 ? 32768 : port)
    const v6 = remote.length === 16
    const socket: Socket = {
      local: v6 ? SERVER_V6 : SERVER_V4,
      localPort: SSH_PORT,
      remote,
      remotePort: port,
      state: 1,
      uid: 0,
      inode: ++inode,
    }
    ;(v6 ? sockets6 : sockets4).push(socket)
    return { socket, host: v6 ? formatV6(remote) : remote.join('.') }
  }

  let pts = 0
  let sshdPids = listener === null ? 0 : 1
  let sessionPids = 0
  const sessionsByUser: Record<string, number> = {}
  const logins: UtmpFields[] = []
  const ptys: [number, number][] = []
  /** Sessions opened long after their connection, by the unit after which they open. */
  const deferred = new Map<number, (() => void)[]>()
  let unit = 0

  // Per-connection mode: the connections are pid 1's children, each in a unit of its own.
  const connectionParent = listener ?? init
  let unitInstance = 0
  let perConnectionPreauth = 0

  const connection = (authenticated: boolean): void => {
    const { socket, host } = connect()
    const n = int(random, 0, users - 1)
    // `sshd -i` (per_connection only): one in ROOT_LOGIN_SHARE authenticated connections is root's.
    const asRoot = perConnection && authenticated && random() < ROOT_LOGIN_SHARE
    const user = asRoot ? 'root' : authenticated ? `user${n}` : 'unknown'
    const uid = asRoot ? 0 : FIRST_USER_UID + n
    const prog = v10 ? 'sshd-session' : 'sshd'
    const argvBytes = perConnection ? SSHD_INETD_ARGV : v10 ? SSHD_SESSION_ARGV : SSHD_REEXEC_ARGV
    // `sshd -i` keeps the socket systemd passed as stdin and stdout in two dups of it.
    const sshdFds = (): [number, string][] =>
      perConnection
        ? [
            ...devNull(),
            [3, `socket:[${socket.inode}]`],
            [4, `socket:[${socket.inode}]`],
            [5, `socket:[${++inode}]`], // the monitor's socketpair
          ]
        : [
            ...devNull(),
            [3, `socket:[${socket.inode}]`],
            [4, `socket:[${++inode}]`], // the monitor's socketpair
          ]
    const sessionCgroup = `0::/user.slice/user-${uid}.slice/session-${socket.inode - 999_000}.scope\n`
    const serviceCgroup =
      listener === null
        ? `0::/system.slice/system-ssh.slice/ssh@${unitInstance++}-10.0.0.1:22-${host}:${socket.remotePort}.service\n`
        : listener.cgroup
    // 9.2's `sshd -i` before the banner exchange: alone, titled `[accepted]` (every other
    // per-connection pre-auth connection; the others are at the user prompt, as a listener's).
    if (perConnection && !authenticated && perConnectionPreauth++ % 2 === 0) {
      sshdPids += 1
      add(connectionParent, {
        comm: prog,
        cmdline: title(`${prog}: [accepted]`, argvBytes),
        profile: pick(random, prof.monitor),
        cgroup: serviceCgroup,
        fds: sshdFds(),
      })
      return
    }
    // A root login: 9.2 forks no post-auth child for root; the monitor itself turns `root@…`
    // and runs the sessions.
    const tty0 = asRoot && spec.sessions > 0 ? pts++ : -1
    sshdPids += asRoot ? 1 : 2
    const monitor = add(connectionParent, {
      comm: prog,
      cmdline: asRoot
        ? title(`${prog}: root@${tty0 < 0 ? 'notty' : `pts/${tty0}`}`, argvBytes)
        : title(`${prog}: ${user} [priv]`, argvBytes),
      profile: pick(random, prof.monitor),
      cgroup: authenticated ? sessionCgroup : serviceCgroup,
      fds: asRoot && tty0 >= 0 ? [...sshdFds(), [7, '/dev/ptmx']] : sshdFds(),
    })
    if (!authenticated) {
      add(monitor, {
        comm: v10 ? 'sshd-auth' : 'sshd',
        cmdline: v10
          ? title('sshd-auth: unknown [net]', SSHD_AUTH_ARGV)
          : title('sshd: unknown [net]', argvBytes),
        profile: pick(random, prof.net),
        uid: SSHD_UID,
        gid: NOGROUP,
        fds: sshdFds(),
        sameGroup: true,
        seccomp: 2,
      })
      return
    }
    const tty = asRoot ? tty0 : spec.sessions > 0 ? pts++ : -1
    const postauth = asRoot
      ? monitor
      : add(monitor, {
          comm: prog,
          cmdline: title(`${prog}: ${user}@${tty < 0 ? 'notty' : `pts/${tty}`}`, argvBytes),
          profile: pick(random, prof.postauth),
          uid,
          fds: tty < 0 ? sshdFds() : [...sshdFds(), [7, '/dev/ptmx']],
          sameGroup: true,
        })
    sessionsByUser[user] = (sessionsByUser[user] ?? 0) + spec.sessions
    if (tty >= 0) {
      // sshd writes the login with the monitor's pid (glibc's login(3), called in the monitor);
      // its time is set with the start times.
      logins.push(sshdLogin({ pid: monitor.pid, tty, user, host, time: 0 }))
      ptys.push([tty, Math.floor(random() ** 2 * 2 * 86400)])
    }
    const sessions = (from: number, to: number): void => {
      for (let s = from; s < to; s++) {
        sessionPids++
        if (s === 0 && tty >= 0) {
          const pty = `/dev/pts/${tty}`
          add(postauth, {
            comm: 'bash',
            cmdline: argv('-bash'),
            profile: pick(random, prof.shell),
            uid,
            tty: ptsTtyNr(tty),
            fds: [
              [0, pty],
              [1, pty],
              [2, pty],
              [255, pty],
            ],
          })
          continue
        }
        const [comm, args] = pick(random, SESSION_COMMANDS)
        add(postauth, {
          comm,
          cmdline: argv(...args),
          profile: pick(random, prof.command),
          uid,
          fds: [0, 1, 2].map((fd): [number, string] => [fd, `pipe:[${++inode}]`]),
        })
      }
    }
    // Half the connections open their later sessions some units afterwards.
    if (spec.sessions > 1 && random() < 0.5) {
      sessions(0, 1)
      const at = unit + int(random, 1, 200)
      deferred.set(at, [...(deferred.get(at) ?? []), () => sessions(1, spec.sessions)])
    } else {
      sessions(0, spec.sessions)
    }
  }

  // Unrelated families of processes, each spawned whole with a size planned beforehand.
  const worker = (parent: Proc, p: Omit<NewProc, 'sameGroup'>): Proc =>
    add(parent, { ...p, sameGroup: true })
  const families: { weight: number; sizes: [number, number]; spawn: (size: number) => void }[] = [
    { weight: 10, sizes: [1, 1], spawn: () => kthread() },
    {
      weight: 6,
      sizes: [1, 1],
      spawn: () => {
        const daemon = pick(random, DAEMONS)
        service(init, daemon, daemon[0] === 'unattended-upgr' ? 'python' : 'daemon')
      },
    },
    {
      weight: 2,
      sizes: [6, 60],
      spawn: (size) => {
        const postmaster = service(
          init,
          [
            'postgres',
            ['/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql/15/main'],
            'system-postgresql.slice/postgresql@15-main.service',
          ],
          'postgres',
        )
        postmaster.uid = 106
        postmaster.gid = 113
        for (let i = 1; i < size; i++) {
          let what = POSTGRES_AUX[i - 1]
          if (what === undefined) {
            const client = [10, 0, int(random, 1, 9), int(random, 2, 250)]
            const port = int(random, 32768, 60999)
            const state = pick(random, ['idle', 'idle', 'idle in transaction', 'SELECT'])
            what = `app appdb ${client.join('.')}(${port}) ${state}`
            sockets4.push(established(SERVER_V4, 5432, client, port, 106, ++inode))
          }
          worker(postmaster, {
            comm: 'postgres',
            cmdline: title(`postgres: 15/main: ${what}`, 120),
            profile: pick(random, prof.postgres),
            uid: 106,
            gid: 113,
          })
        }
      },
    },
    {
      weight: 3,
      sizes: [3, 9],
      spawn: (size) => {
        const nginx = 'nginx: master process /usr/sbin/nginx -g daemon on; master_process on;'
        const master = service(init, ['nginx', [nginx], 'nginx.service'], 'web')
        for (let i = 1; i < size; i++) {
          const cmdline = argv('nginx: worker process')
          worker(master, { comm: 'nginx', cmdline, profile: pick(random, prof.web), uid: 33 })
        }
        for (let i = 0; i < size * 2; i++) {
          const client = [203, 0, 113, int(random, 1, 254)]
          const s = established(SERVER_V4, 443, client, int(random, 1024, 65535), 33, ++inode)
          if (random() < 0.3) s.state = 6 // TIME_WAIT
          sockets4.push(s)
        }
      },
    },
    {
      weight: 3,
      sizes: [3, 17],
      spawn: (size) => {
        const args = ['/usr/bin/python3', '/usr/local/bin/gunicorn', '--workers', String(size - 1)]
        args.push('--bind', '127.0.0.1:8000', 'app.wsgi:application')
        const master = service(init, ['gunicorn', args, 'app.service'], 'python')
        master.uid = master.gid = 999
        for (let i = 1; i < size; i++) {
          const cmdline = argv(...args)
          worker(master, {
            comm: 'gunicorn',
            cmdline,
            profile: pick(random, prof.python),
            uid: 999,
          })
        }
      },
    },
    {
      weight: 2,
      sizes: [4, 31],
      spawn: (size) => {
        const fpm = 'php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)'
        const master = service(init, ['php-fpm8.2', [fpm], 'php8.2-fpm.service'], 'web')
        for (let i = 1; i < size; i++) {
          const cmdline = title('php-fpm: pool www', 60)
          worker(master, { comm: 'php-fpm8.2', cmdline, profile: pick(random, prof.web), uid: 33 })
        }
      },
    },
    {
      // A container: its shim, a JVM, and health checks.
      weight: 3,
      sizes: [2, 4],
      spawn: (size) => {
        const id = hex(int(random, 0, 0x7fffffff), 8)
          .toLowerCase()
          .repeat(8)
        const shim = service(
          init,
          [
            'containerd-shim-runc-v2',
            ['/usr/bin/containerd-shim-runc-v2', '-namespace', 'moby', '-id', id],
            'containerd.service',
          ],
          'daemon',
        )
        const app = add(shim, {
          comm: 'java',
          cmdline: argv('java', '-Xmx2g', '-jar', '/app/service.jar'),
          profile: pick(random, prof.java),
          uid: 1001,
          cgroup: `0::/system.slice/docker-${id}.scope\n`,
        })
        for (let i = 2; i < size; i++) {
          const cmdline = argv('/bin/sh', '-c', '/app/healthcheck.sh')
          worker(app, { comm: 'sh', cmdline, profile: pick(random, prof.command), uid: 1001 })
        }
      },
    },
    {
      // A local user's tmux, its shells and what runs in them.
      weight: 2,
      sizes: [3, 8],
      spawn: (size) => {
        const uid = 2000 + int(random, 0, 9)
        const server = add(init, {
          comm: 'tmux: server',
          cmdline: argv('tmux', 'new-session', '-d'),
          profile: pick(random, prof.shell),
          uid,
          cgroup: `0::/user.slice/user-${uid}.slice/user@${uid}.service/app.slice/tmux.scope\n`,
        })
        let shell = server
        for (let i = 1; i < size; i++) {
          const tty = ptsTtyNr(1000 + (i & 7))
          if (i % 2 === 1) {
            const profile = pick(random, prof.shell)
            shell = add(server, { comm: 'bash', cmdline: argv('-bash'), profile, uid, tty })
          } else {
            const [comm, ...args] = pick(random, [
              ['vim', 'notes.md'],
              ['top'],
              ['less', '/var/log/syslog'],
              ['watch', '-n', '5', 'df', '-h'],
            ])
            const profile = pick(random, prof.command)
            worker(shell, { comm, cmdline: argv(comm, ...args), profile, uid, tty })
          }
        }
      },
    },
    {
      // A cron job: CRON, sh -c, the job.
      weight: 2,
      sizes: [3, 3],
      spawn: () => {
        const cron = service(
          init,
          ['cron', ['/usr/sbin/CRON', '-f', '-P'], 'cron.service'],
          'daemon',
        )
        const job = '/usr/local/bin/backup.sh >/dev/null 2>&1'
        const sh = add(cron, {
          comm: 'sh',
          cmdline: argv('/bin/sh', '-c', job),
          profile: pick(random, prof.command),
        })
        worker(sh, {
          comm: 'sleep',
          cmdline: argv('sleep', '300'),
          profile: pick(random, prof.command),
        })
      },
    },
  ]
  const totalWeight = families.reduce((s, f) => s + f.weight, 0)

  /** Connections and families of `share` unrelated processes, shuffled. */
  const unitsFor = (share: number, connections: number, authenticated: boolean): (() => void)[] => {
    const units: (() => void)[] = []
    for (let i = 0; i < connections; i++) units.push(() => connection(authenticated))
    for (let left = share; left > 0;) {
      let r = random() * totalWeight
      const f = families.find((x) => (r -= x.weight) < 0) ?? families[0]!
      const size = int(random, f.sizes[0], f.sizes[1])
      // A family too big for what is left: a kernel thread instead.
      if (size > left) {
        units.push(() => kthread())
        left--
      } else {
        units.push(() => f.spawn(size))
        left -= size
      }
    }
    return shuffle(random, units)
  }
  const runUnits = (units: (() => void)[]): void => {
    for (const run of units) {
      run()
      for (const open of deferred.get(unit) ?? []) open()
      deferred.delete(unit++)
    }
  }
  // 2% of the unrelated processes are recent, among the pre-auth connections.
  const tailShare = Math.min(budget, Math.max(Math.ceil(budget * 0.02), spec.preauth > 0 ? 5 : 0))
  runUnits(unitsFor(budget - tailShare, spec.connections, true))
  for (const [, opens] of [...deferred].sort((a, b) => a[0] - b[0]))
    for (const open of opens) open()
  deferred.clear()
  const tailStart = procs.length
  runUnits(unitsFor(tailShare, spec.preauth, false))

  // Start times, monotonic in creation order: boot in the first 30 s, the rest from 10 min after
  // boot to 5 min before now, the recent tail (pre-auth connections) in the last minute.
  const spread = (from: number, to: number, t0: number, t1: number): void => {
    const step = (t1 - t0) / Math.max(1, to - from)
    for (let i = from; i < to; i++) {
      procs[i]!.starttime = Math.floor(t0 + (i - from) * step + random() * step * 0.5)
    }
  }
  const now = uptime * TICKS
  spread(0, bootCount, 50, 30 * TICKS)
  spread(bootCount, tailStart, 600 * TICKS, now - 300 * TICKS)
  spread(tailStart, procs.length, now - 60 * TICKS, now - TICKS)

  // Login times: a second after the monitor started, plus the allowance for the frozen uptime.
  const bootEpoch = buildEpoch - uptime
  for (const login of logins) {
    const monitor = byPid.get(login.pid!)!
    login.time = Math.floor(bootEpoch + monitor.starttime / TICKS) + 1 + LOGIN_TIME_AHEAD_SECONDS
  }

  const authenticated = spec.connections
  return {
    procs,
    listener,
    netHolder: listener ?? init,
    full,
    sockets4,
    sockets6,
    logins,
    ptys,
    sshdPids,
    sessionPids,
    expected: {
      authenticated,
      preauth: spec.preauth,
      sessions: authenticated * spec.sessions,
      ptySessions: spec.sessions > 0 ? authenticated : 0,
      startups: listener === null ? null : startups,
      maxStartups: listener === null ? null : { begin: MAX_STARTUPS_BEGIN, full },
      multiplexed: spec.sessions >= 2 ? authenticated : 0,
      sessionsMax: authenticated > 0 ? spec.sessions : 0,
      establishedConnections: authenticated + spec.preauth,
      sessionsByUser: Object.fromEntries(
        Object.entries(sessionsByUser).sort(([a], [b]) =>
          a.localeCompare(b, 'en', { numeric: true }),
        ),
      ),
    },
  }
}

function listening(local: readonly number[], port: number, uid: number, inode: number): Socket {
  const any = new Array<number>(local.length).fill(0)
  return { local, localPort: port, remote: any, remotePort: 0, state: 10, uid, inode }
}

function established(
  local: readonly number[],
  localPort: number,
  remote: readonly number[],
  remotePort: number,
  uid: number,
  inode: number,
): Socket {
  return { local, localPort, remote, remotePort, state: 1, uid, inode }
}

function devNull(): [number, string][] {
  return [
    [0, '/dev/null'],
    [1, '/dev/null'],
    [2, '/dev/null'],
  ]
}

/** RFC 5952 text of 16 bytes (the longest run of zero words shortened). */
function formatV6(b: readonly number[]): string {
  const words: number[] = []
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!)
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLen && j - i > 1) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hexs = words.map((w) => w.toString(16))
  if (bestStart < 0) return hexs.join(':')
  return `${hexs.slice(0, bestStart).join(':')}::${hexs.slice(bestStart + bestLen).join(':')}`
}

// ---------------------------------------------------------------------------------------------
// Writing

function writeProcess(
  w: Writer,
  root: string,
  p: Proc,
  random: Random,
  uptimeTicks: number,
  fdDirs: Map<string, number>,
): void {
  const dir = `${root}/${p.pid}`
  mkdirSync(`${dir}/task`, { recursive: true })
  const age = Math.max(1, uptimeTicks - p.starttime)
  // CPU time: a small share of the process's life, more for kernel threads and daemons.
  const busy = p.kthread ? 0.0005 : p.comm.startsWith('sshd') ? 0.00002 : 0.0002
  const cpuTicks = Math.floor(age * busy * random())
  const utime = Math.floor(cpuTicks * 0.6)
  const stime = cpuTicks - utime
  const cpu = int(random, 0, CPUS - 1)
  const minflt = p.kthread ? 0 : 200 + Math.floor(p.profile.rssKb / 4) + int(random, 0, 500)
  const voluntary = Math.floor(age / 200) + int(random, 0, 50)
  const nonvoluntary = Math.floor(voluntary / 20)

  w.file(`${dir}/stat`, statLine(p, cpu, utime, stime, minflt), false)
  w.file(`${dir}/status`, statusFile(p, voluntary, nonvoluntary), false)
  w.file(`${dir}/cmdline`, p.cmdline)
  w.file(`${dir}/comm`, `${p.comm}\n`)
  w.file(`${dir}/io`, p.profile.io)
  w.file(`${dir}/limits`, p.profile.limits)
  w.file(`${dir}/wchan`, p.kthread && p.state === 'S' ? 'smpboot_thread_fn' : p.profile.wchan)
  w.file(`${dir}/cgroup`, p.cgroup)
  w.file(`${dir}/smaps_rollup`, p.profile.smaps)
  // Linux writes each child's pid followed by a space (fs/proc/array.c children_seq_show), in
  // task/<tid>/children; task/<pid> is a link to the process's own directory.
  w.file(`${dir}/children`, p.children.map((c) => `${c} `).join(''))
  w.symlink(`${dir}/task/${p.pid}`, '..')
  // fd/: the first process with a set of links gets the directory, the next ones a link to it.
  const fds = p.fds.map(([fd, target]) => `${fd} ${target}`).join('\n')
  const first = fdDirs.get(fds)
  if (first !== undefined) {
    w.symlink(`${dir}/fd`, `../${first}/fd`)
    return
  }
  fdDirs.set(fds, p.pid)
  mkdirSync(`${dir}/fd`)
  for (const [fd, target] of p.fds) w.symlink(`${dir}/fd/${fd}`, target)
}

function cpuLine(name: string, scale: number): string {
  // user nice system idle iowait irq softirq steal guest guest_nice
  const f = [0.06, 0.001, 0.03, 0.9, 0.004, 0, 0.002, 0.003, 0, 0].map((x) => Math.floor(x * scale))
  return `${name} ${f.join(' ')}\n`
}

function writeTop(root: string, uptime: number, buildEpoch: number, plan: Plan): void {
  const perCpu = uptime * TICKS
  let stat = cpuLine('cpu ', perCpu * CPUS)
  for (let c = 0; c < CPUS; c++) stat += cpuLine(`cpu${c}`, perCpu)
  const maxPid = plan.procs[plan.procs.length - 1]!.pid
  stat +=
    `intr ${uptime * 4000}${' 0'.repeat(63)}\nctxt ${uptime * 9000}\nbtime ${buildEpoch - uptime}\n` +
    `processes ${maxPid + 123456}\nprocs_running 2\nprocs_blocked 0\n` +
    `softirq ${uptime * 3000} 0 ${uptime * 900} 3 ${uptime * 200} ${uptime * 150} 0 12 ${uptime * 1100} 0 ${uptime * 640}\n`
  writeFileSync(join(root, 'stat'), stat)
  writeFileSync(join(root, 'uptime'), `${uptime}.00 ${Math.floor(uptime * CPUS * 0.9)}.00\n`)
  writeFileSync(join(root, 'loadavg'), `0.42 0.51 0.48 2/${plan.procs.length} ${maxPid}\n`)
  writeFileSync(join(root, 'meminfo'), MEMINFO)
  mkdirSync(join(root, 'sys', 'kernel'), { recursive: true })
  writeFileSync(join(root, 'sys', 'kernel', 'pid_max'), `${PID_MAX}\n`)
  writeFileSync(join(root, 'sys', 'kernel', 'threads-max'), '254644\n')
}

const MEMINFO = Object.entries({
  MemTotal: 32_780_000,
  MemFree: 9_120_000,
  MemAvailable: 20_400_000,
  Buffers: 412_000,
  Cached: 10_800_000,
  SwapCached: 0,
  Active: 12_300_000,
  Inactive: 8_900_000,
  SwapTotal: 0,
  SwapFree: 0,
  Dirty: 1_200,
  Writeback: 0,
  AnonPages: 11_200_000,
  Mapped: 820_000,
  Shmem: 160_000,
  Slab: 1_400_000,
  SReclaimable: 1_100_000,
  SUnreclaim: 300_000,
  KernelStack: 64_000,
  PageTables: 210_000,
  CommitLimit: 16_390_000,
  Committed_AS: 24_800_000,
  VmallocTotal: 34_359_738_367,
  VmallocUsed: 62_000,
  VmallocChunk: 0,
  HugePages_Total: -1,
  Hugepagesize: 2048,
})
  .map(([k, v]) =>
    v < 0
      ? `${`${k}:`.padEnd(16)}${'0'.padStart(8)}\n`
      : `${`${k}:`.padEnd(16)}${String(v).padStart(8)} kB\n`,
  )
  .join('')

function writeRootfs(rootfs: string, plan: Plan, buildEpoch: number, full: number): string {
  mkdirSync(join(rootfs, 'run'), { recursive: true })
  mkdirSync(join(rootfs, 'dev', 'pts'), { recursive: true })
  mkdirSync(join(rootfs, 'etc', 'ssh'), { recursive: true })
  const nowSeconds = buildEpoch
  for (const [n, idle] of plan.ptys) {
    const path = join(rootfs, 'dev', 'pts', String(n))
    writeFileSync(path, '')
    const atime = nowSeconds - idle
    utimesSync(path, atime, atime)
  }
  // glibc's records: boot time, run level, a getty, old logins (DEAD_PROCESS), then sshd's.
  const records: UtmpFields[] = [
    {
      type: 2,
      line: '~',
      id: '~~',
      user: 'reboot',
      host: '6.1.0-28-amd64',
      time: buildEpoch - 30 * 86400,
    },
    {
      type: 1,
      pid: 53,
      line: '~',
      id: '~~',
      user: 'runlevel',
      host: '6.1.0-28-amd64',
      time: buildEpoch - 30 * 86400 + 5,
    },
    {
      type: 6,
      pid: 612,
      line: 'tty1',
      id: 'tty1',
      user: 'LOGIN',
      time: buildEpoch - 30 * 86400 + 6,
    },
  ]
  for (let i = 0; i < Math.min(200, plan.logins.length); i++) {
    records.push({
      type: 8,
      pid: 40000 + i,
      line: `pts/${plan.ptys.length + i}`,
      id: `/${plan.ptys.length + i}`.slice(-4),
      time: buildEpoch - 86400 - i * 60,
    })
  }
  records.push(...plan.logins)
  const utmp = join(rootfs, 'run', 'utmp')
  writeFileSync(utmp, encodeUtmp(records))
  writeFileSync(
    join(rootfs, 'etc', 'ssh', 'sshd_config'),
    `Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\n` +
      `MaxSessions 10\nMaxStartups ${MAX_STARTUPS_BEGIN}:30:${full}\nLoginGraceTime 120\nClientAliveInterval 300\nClientAliveCountMax 3\n` +
      `AcceptEnv LANG LC_*\nSubsystem sftp /usr/lib/openssh/sftp-server\n`,
  )
  return utmp
}

function ensureEmpty(dir: string): void {
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      mkdirSync(dir, { recursive: true })
      return
    }
    throw err
  }
  if (entries.length > 0) throw new Error(`${dir} is not empty: remove it first`)
}

/**
 * Writes the tree under `root` (created; it must be absent or empty) and its rootfs beside it,
 * and says what the exporter should report for it.
 */
export function buildProcfs(root: string, spec: TreeSpec): BuiltTree {
  const started = performance.now()
  const buildEpoch = Math.floor(Date.now() / 1000)
  const uptime = spec.uptimeSeconds ?? 30 * 86400
  const p = plan(spec, buildEpoch)
  root = resolve(root)
  const rootfs = resolve(spec.rootfs ?? join(root, '..', 'rootfs'))
  ensureEmpty(root)
  ensureEmpty(rootfs)

  const w = new Writer()
  const random = mulberry32((spec.seed ?? 1) ^ 0x5eed)
  const fdDirs = new Map<string, number>()
  for (const proc of p.procs) writeProcess(w, root, proc, random, uptime * TICKS, fdDirs)
  const net = join(root, String(p.netHolder.pid), 'net')
  mkdirSync(net)
  writeFileSync(join(net, 'tcp'), netTcpFile(p.sockets4, 4, random))
  writeFileSync(join(net, 'tcp6'), netTcpFile(p.sockets6, 6, random))
  symlinkSync(`${p.netHolder.pid}/net`, join(root, 'net'))
  writeTop(root, uptime, buildEpoch, p)
  const utmpPath = writeRootfs(rootfs, p, buildEpoch, p.full)

  return {
    root,
    rootfs,
    utmpPath,
    version: spec.version,
    mode: spec.mode ?? 'daemon',
    processes: p.procs.length,
    listenerPid: p.listener?.pid ?? 0,
    holderPid: p.listener === null ? p.netHolder.pid : null,
    sshdPids: p.sshdPids,
    sessionPids: p.sessionPids,
    maxPid: p.procs[p.procs.length - 1]!.pid,
    buildMs: Math.round(performance.now() - started),
    expected: p.expected,
  }
}

function main(args: readonly string[]): void {
  const usage =
    'usage: node bench/procfs-builder.ts --connections N --sessions S --preauth P --unrelated B --version 9.2|10.0 --out DIR [--mode daemon|per_connection] [--seed N] [--first-pid N]\n'
  let values
  try {
    values = parseArgs({
      args: [...args],
      options: {
        connections: { type: 'string' },
        sessions: { type: 'string', default: '3' },
        preauth: { type: 'string', default: '0' },
        unrelated: { type: 'string', default: '20000' },
        version: { type: 'string', default: '9.2' },
        mode: { type: 'string', default: 'daemon' },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        'first-pid': { type: 'string', default: '1000' },
      },
      strict: true,
    }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}`)
    process.exitCode = 2
    return
  }
  if (values.connections === undefined || values.out === undefined) {
    process.stderr.write(usage)
    process.exitCode = 2
    return
  }
  const version = values.version
  if (version !== '9.2' && version !== '10.0') {
    process.stderr.write(`--version must be 9.2 or 10.0\n${usage}`)
    process.exitCode = 2
    return
  }
  const mode = values.mode
  if (mode !== 'daemon' && mode !== 'per_connection') {
    process.stderr.write(`--mode must be daemon or per_connection\n${usage}`)
    process.exitCode = 2
    return
  }
  const out = resolve(values.out)
  const tree = buildProcfs(join(out, 'proc'), {
    connections: Number(values.connections),
    sessions: Number(values.sessions),
    preauth: Number(values.preauth),
    unrelated: Number(values.unrelated),
    version,
    mode,
    seed: Number(values.seed),
    firstPid: Number(values['first-pid']),
    rootfs: join(out, 'rootfs'),
  })
  process.stdout.write(`${JSON.stringify(tree, null, 2)}\n`)
}

// import.meta.main needs Node 24.2; the engines field allows 22.18.
if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2))
