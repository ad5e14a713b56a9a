// sshd's own command line: what it sets, read with sshd's getopt(3) (OpenSSH's BSD getopt: no
// permutation, parsing stops at the first non-option or `--`); the argv of a listener recovered
// from its process title; and the arguments that make `sshd -T` evaluate the same configuration.
// -o, -p, -g, -d and -q override sshd_config: sshd-config/parse.ts applies them (its
// `commandLine` option) as sshd.c main() does. -f names the file; a relative one is relative to
// the listener's working directory, `none` means no file. Nothing here throws: what sshd would
// refuse, or what this module does not know, is a problem.

import type { SshdCommandLine } from './sshd-config/parse.ts'
import type { SshdLogLevel } from './sshd-config/values.ts'

/** What a sshd command line sets. It is an `SshdCommandLine` for readSshdConfig. */
export type SshdArgv = SshdCommandLine & {
  /** argv[0]. */
  program: string
  /** `-f` (the last one wins). */
  configFile?: string
  /** `-4` or `-6` (the last one wins; each overrides AddressFamily). */
  addressFamily?: 'inet' | 'inet6'
  /** `-E`: sshd logs to this file, not to syslog. */
  logFile?: string
  /** `-i` (or 9.2's `-R`, a re-executed connection): one connection, not a listener. */
  inetd: boolean
  /** `-t`, `-T`, `-G` (10.0) or `-V`: the process checks or prints and exits; not a listener. */
  test: boolean
  /** What sshd would refuse, or what this parser does not know. */
  problems: string[]
}

// sshd.c main(), getopt(): "C:E:b:c:f:g:h:k:o:p:u:46DQRTdeiqrtV" at V_9_2_P1; V_10_0_P1 adds G.
const WITH_ARGUMENT = new Set('CEbcfghkopu')
const FLAGS = new Set('46DGQRTdeiqrtV')
/** log.h LogLevel order: -d steps through it (sshd.c main, case 'd'). */
const LEVELS: readonly SshdLogLevel[] = [
  'QUIET',
  'FATAL',
  'ERROR',
  'INFO',
  'VERBOSE',
  'DEBUG', // SYSLOG_LEVEL_DEBUG1: `sshd -T` names it DEBUG
  'DEBUG2',
  'DEBUG3',
]
const REFUSED = 'sshd refuses to start with this'

/** sshd's a2port(): strtonum(0..65535), 0 refused; a service name is not resolved here. */
function parsePortArgument(text: string): number | string {
  if (/^[\t\n\v\f\r ]*[+-]?\d+$/.test(text)) {
    const port = Number(text)
    return port >= 1 && port <= 65535 ? port : `-p "${text}": bad port number (${REFUSED})`
  }
  return `-p "${text}": a service name, not resolved here; port unknown`
}

/** Parses argv (argv[0] is the program) as sshd's getopt loop does. */
export function parseSshdArgv(argv: readonly string[]): SshdArgv {
  const out: SshdArgv = {
    program: argv[0] ?? '',
    options: [],
    ports: [],
    inetd: false,
    test: false,
    problems: [],
  }
  let debug = false
  let level = -1
  let i = 1
  for (; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      i++
      break
    }
    if (!arg.startsWith('-') || arg === '-') break
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!
      if (c === '-' && j === arg.length - 1) {
        // getopt_internal: a `-` closing a cluster ends the options (`-D-`).
        i = argv.length
        out.problems.push(`"${arg}": options end at its last "-"`)
        break
      }
      if (WITH_ARGUMENT.has(c)) {
        let value: string
        if (j + 1 < arg.length) value = arg.slice(j + 1)
        else if (i + 1 < argv.length) value = argv[++i]!
        else {
          out.problems.push(`option -${c} requires an argument (${REFUSED})`)
          break
        }
        option(out, c, value)
        break
      }
      if (!FLAGS.has(c)) {
        out.problems.push(`unknown option -${c} (${REFUSED})`)
        continue
      }
      switch (c) {
        case '4':
          out.addressFamily = 'inet'
          break
        case '6':
          out.addressFamily = 'inet6'
          break
        case 'd':
          // The first -d sets DEBUG1 whatever came before; each further one steps up to DEBUG3.
          if (!debug) level = LEVELS.indexOf('DEBUG')
          else if (level < LEVELS.length - 1) level++
          debug = true
          break
        case 'q':
          level = 0
          break
        case 'i':
        case 'R':
          out.inetd = true
          break
        case 't':
        case 'T':
        case 'G':
        case 'V':
          out.test = true
          break
        // D, e, r, Q: nothing we report.
      }
    }
  }
  if (level >= 0) out.logLevel = LEVELS[level]!
  if (i < argv.length) out.problems.push(`extra argument "${argv[i]!}" (${REFUSED})`)
  return out
}

function option(out: SshdArgv, c: string, value: string): void {
  switch (c) {
    case 'f':
      out.configFile = value
      break
    case 'o':
      ;(out.options as string[]).push(value)
      break
    case 'p': {
      const port = parsePortArgument(value)
      if (typeof port === 'string') {
        out.problems.push(port)
        break
      }
      out.optionsBeforePorts ??= out.options.length
      ;(out.ports as number[]).push(port)
      break
    }
    case 'g':
      out.loginGraceTime = value
      break
    case 'E':
      out.logFile = value
      break
    // C, b, c, h, k, u: host keys, certificates, test specs, utmp length: nothing we report.
  }
}

/**
 * The arguments that make `sshd -T` evaluate what this command line sets: -f, -o (with -p at
 * its place among them), -g, -4/-6. -d and -q become a first `-o LogLevel=`, which wins as they
 * do. Never -D, -i, -d, -e, -E or anything that runs or logs.
 */
export function sshdCommandLineArgs(parsed: SshdArgv): string[] {
  const args: string[] = []
  if (parsed.configFile !== undefined) args.push('-f', parsed.configFile)
  if (parsed.logLevel !== undefined) args.push('-o', `LogLevel=${parsed.logLevel}`)
  const before = parsed.optionsBeforePorts ?? parsed.options.length
  const ports = parsed.ports.flatMap((port) => ['-p', String(port)])
  parsed.options.forEach((line, index) => {
    if (index === before) args.push(...ports)
    args.push('-o', line)
  })
  if (before >= parsed.options.length) args.push(...ports)
  if (parsed.loginGraceTime !== undefined) args.push('-g', parsed.loginGraceTime)
  if (parsed.addressFamily !== undefined) {
    args.push(parsed.addressFamily === 'inet' ? '-4' : '-6')
  }
  return args
}

const C_ESCAPES: Record<string, number> = { n: 10, r: 13, b: 8, a: 7, v: 11, t: 9, f: 12, s: 32 }

/** Undoes setproctitle's strnvis(VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL): `\\`, `\t`, `\303`. */
function unvis(word: string): string {
  if (!word.includes('\\')) return word
  const bytes: number[] = []
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i)
    if (c !== 0x5c || i + 1 === word.length) {
      bytes.push(...Buffer.from(word[i]!, 'utf8'))
      continue
    }
    const next = word[i + 1]!
    const octal = /^[0-7]{3}/.exec(word.slice(i + 1, i + 4))
    if (octal !== null) {
      bytes.push(parseInt(octal[0], 8) & 0xff)
      i += 3
    } else if (next === '\\') {
      bytes.push(0x5c)
      i++
    } else if (C_ESCAPES[next] !== undefined) {
      bytes.push(C_ESCAPES[next])
      i++
    } else {
      bytes.push(c)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

/**
 * The argv of a listener from its process title, `<progname>: <argv joined by spaces> [listener]
 * N of B-F startups` (sshd.c prepare_proctitle and server_accept_loop; setproctitle.c adds the
 * progname and vis-encodes). null when the title is not of that form.
 *
 * Spaces inside an argument are lost in a title. sshd stops at the first word that is not an
 * option and then exits ("Extra argument"), so in a running listener's title each word after an
 * option's argument that does not start with `-` continues that argument: it is joined back with
 * one space (`-o ClientAliveInterval 30` gives `ClientAliveInterval 30`). Limit: a continuing
 * word that starts with `-` (`-o "Banner -x"`) reads as an option.
 *
 * setproctitle cuts the title to the size of sshd's original argv and environment (a listener
 * started with an empty environment): without its ` [listener]` the title was cut, so its last
 * argument is dropped (an option left without its argument shows as a parseSshdArgv problem),
 * and what followed the cut is unknown. A title that would exceed 1023
 * bytes is never set: /proc/<pid>/cmdline keeps the original argv, NUL-separated.
 */
export function titleArgv(title: string): string[] | null {
  const colon = title.indexOf(': ')
  if (colon <= 0) return null
  const progname = unvis(title.slice(0, colon))
  let text = title.slice(colon + 2)
  // The argv ends where ` [listener]` starts, whether or not the count after it was cut.
  const end = text.lastIndexOf(' [listener]')
  const cut = end < 0
  if (!cut) text = text.slice(0, end)
  const argv = joinArguments(text.split(' ').map(unvis))
  if (cut) argv.pop()
  const program = argv[0]
  if (program === undefined) return null
  if (program.slice(program.lastIndexOf('/') + 1) !== progname) return null
  return argv
}

/** Words back to arguments: see titleArgv. */
function joinArguments(words: readonly string[]): string[] {
  const argv: string[] = []
  // `continue`: the last argument (argv[0], an option's argument) takes words not starting with
  // `-`; `argument`: the next word is an option's argument; `done`: options have ended.
  let state: 'continue' | 'argument' | 'option' | 'done' = 'continue'
  for (const word of words) {
    if (argv.length === 0 || state === 'argument' || state === 'done') {
      argv.push(word)
      if (state === 'argument') state = 'continue'
      continue
    }
    if (state === 'continue' && !word.startsWith('-')) {
      argv[argv.length - 1] += ` ${word}`
      continue
    }
    argv.push(word)
    state = 'option'
    if (word === '--' || word === '-' || !word.startsWith('-')) state = 'done'
    for (let j = 1; state === 'option' && j < word.length; j++) {
      if (WITH_ARGUMENT.has(word[j]!)) state = j + 1 < word.length ? 'continue' : 'argument'
    }
  }
  return argv
}
