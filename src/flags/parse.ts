/**
 * Command-line flags in node_exporter's style: `--name=value` or `--name value`, `--no-name` for
 * a boolean, `--collector.<name>` / `--no-collector.<name>` for every collector, and an
 * environment variable for every flag (`SSHD_EXPORTER_` and the flag's name in upper case, `.`
 * and `-` as `_`). A flag wins over its variable. The core flags are in core.ts; each collector
 * declares its own. A bad value is an ExporterError naming the flag and what it accepts; the CLI
 * prints it on one line and exits 2.
 */
import { ErrorCode, ExporterError } from '../errors.ts'
import { CORE_FLAGS, type CoreFlags } from './core.ts'
import { envName, flag, type FlagGroup, type FlagSpec } from './spec.ts'

/** What the parser needs of a collector: its name, default state, help and own flags. */
export interface CollectorFlagInfo {
  name: string
  defaultEnabled: boolean
  help: string
  flags?: FlagGroup
}

/** Parsed flags: the core ones, which collectors are on, and each collector's own by its name. */
export type Flags<C = Record<string, unknown>> = CoreFlags & {
  /** Collector name -> enabled. */
  collectors: Record<string, boolean>
  collector: C
}

/** A subcommand's parsed flags: its own under `command`, and the path, collector and log flags. */
export type SubcommandFlags<C, K> = Pick<CoreFlags, 'path' | 'log'> & {
  collectors: Record<string, boolean>
  collector: C
  command: K
}

export type ParseResult<C = Record<string, unknown>> =
  { kind: 'flags'; flags: Flags<C> } | { kind: 'help'; text: string } | { kind: 'version' }

/**
 * A subcommand (`sshd-exporter sessions`): its own flags, under `command` in the result, beside
 * the path, collector and log flags (not the web or scrape ones); `defaults` replaces the default
 * of a core flag by its name (a terminal tool logs warnings only).
 */
export interface SubcommandSpec {
  name: string
  usage: string
  description: string
  flags: FlagGroup
  defaults?: Readonly<Record<string, string>>
}

/** A flag and where its value goes in Flags. */
interface Entry {
  spec: FlagSpec<unknown>
  path: readonly string[]
}

function isSpec(x: FlagSpec<unknown> | FlagGroup): x is FlagSpec<unknown> {
  return typeof x.parse === 'function'
}

function entries(group: FlagGroup, path: readonly string[]): Entry[] {
  return Object.entries(group).flatMap(([key, x]) =>
    isSpec(x) ? [{ spec: x, path: [...path, key] }] : entries(x, [...path, key]),
  )
}

/**
 * Every flag, in --help's order: web and paths, each collector's, scrape and log, the switches;
 * for a subcommand its own first, and no web or scrape flags.
 */
function allFlags(collectors: readonly CollectorFlagInfo[], command?: SubcommandSpec): Entry[] {
  const { web, path, scrape, log } = CORE_FLAGS
  const withDefault = (e: Entry): Entry => {
    const dflt = command?.defaults?.[e.spec.name]
    return dflt === undefined ? e : { ...e, spec: { ...e.spec, default: dflt } }
  }
  return [
    ...(command === undefined
      ? entries({ web, path }, [])
      : [...entries(command.flags, ['command']), ...entries({ path }, []).map(withDefault)]),
    ...collectors.flatMap((c) => entries(c.flags ?? {}, ['collector', c.name]).map(withDefault)),
    ...entries(command === undefined ? { scrape, log } : { log }, []).map(withDefault),
    ...collectors.map((c) => ({
      spec: flag.bool(
        `collector.${c.name}`,
        String(c.defaultEnabled),
        `${c.help} (default: ${c.defaultEnabled ? 'enabled' : 'disabled'})`,
      ),
      path: ['collectors', c.name],
    })),
  ]
}

function setAt(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let at = target
  for (const key of path.slice(0, -1)) {
    at[key] ??= {}
    at = at[key] as Record<string, unknown>
  }
  at[path.at(-1)!] = value
}

function helpText(flags: readonly Entry[], command?: SubcommandSpec): string {
  const lines =
    command === undefined
      ? [
          'usage: sshd-exporter [<flags>]',
          '       sshd-exporter sessions [<flags>]   (the live sessions table; --help for its flags)',
          '',
          'Prometheus exporter for OpenSSH servers: sessions per connection and user,',
          'MaxSessions, MaxStartups, stale sessions and what sshd refused.',
          '',
        ]
      : [`usage: ${command.usage}`, '', command.description, '']
  lines.push(
    'Flags:',
    '  -h, --[no-]help                Show this help.',
    '      --[no-]version             Show the version.',
  )
  for (const { spec: f, path } of flags) {
    const name = f.bool
      ? `--[no-]${f.name}`
      : f.implicit === undefined
        ? `--${f.name}=${f.kind.toUpperCase()}`
        : `--${f.name}[=${f.kind.toUpperCase()}]`
    lines.push(`      ${name}`)
    const dflt = f.default === undefined ? '' : `default: ${f.default}`
    const variable = path[0] === 'command' ? '' : `$${envName(f.name)}`
    const note = [variable, dflt].filter((x) => x !== '').join(', ')
    lines.push(`          ${f.help}${note === '' ? '' : ` (${note})`}`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * Parses argv (without node and the script) and the environment into Flags. Throws an
 * ExporterError for an unknown flag or a bad value.
 */
export function parseFlags<C = Record<string, unknown>>(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  collectors: readonly CollectorFlagInfo[],
  command?: SubcommandSpec,
): ParseResult<C> {
  const flags = allFlags(collectors, command)
  const byName = new Map(flags.map((f) => [f.spec.name, f.spec]))
  const given = new Map<string, string>()

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '-h' || arg === '--help') return { kind: 'help', text: helpText(flags, command) }
    if (arg === '--version') return { kind: 'version' }
    if (!arg.startsWith('--')) {
      throw new ExporterError(
        ErrorCode.FLAG_UNKNOWN,
        `unexpected argument ${JSON.stringify(arg)}: flags start with --, see --help`,
      )
    }
    const eq = arg.indexOf('=')
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1)
    let spec = byName.get(name)
    if (spec === undefined && name.startsWith('no-')) {
      const positive = byName.get(name.slice(3))
      if (positive?.bool && value === undefined) {
        spec = positive
        name = positive.name
        value = 'false'
      }
    }
    if (spec === undefined) {
      const hint = name.startsWith('collector.')
        ? `known collectors: ${collectors.map((c) => c.name).join(', ')}`
        : 'see --help'
      throw new ExporterError(ErrorCode.FLAG_UNKNOWN, `unknown flag --${name}: ${hint}`)
    }
    if (value === undefined) {
      if (spec.bool) {
        value = 'true'
      } else if (spec.implicit !== undefined) {
        // `--watch` alone: its value comes only after `=`, as GNU's optional arguments.
        value = spec.implicit
      } else {
        const next = argv[i + 1]
        if (next === undefined || next.startsWith('--')) {
          throw new ExporterError(
            ErrorCode.FLAG_MISSING_VALUE,
            `--${name} needs a value: expected ${spec.accepts}`,
          )
        }
        value = next
        i++
      }
    }
    given.set(name, value)
  }

  const collector = Object.fromEntries(collectors.map((c) => [c.name, {}]))
  const parsed: Record<string, unknown> = { collectors: {}, collector }
  for (const { spec, path } of flags) {
    const fromFlag = given.get(spec.name)
    // A subcommand's own flags have no variables: an environment must not turn on --watch.
    const fromEnv = path[0] === 'command' ? undefined : env[envName(spec.name)]
    let value: unknown
    if (fromFlag !== undefined) {
      value = spec.parse(fromFlag)
    } else if (fromEnv !== undefined) {
      try {
        value = spec.parse(fromEnv)
      } catch (err) {
        throw new ExporterError(
          ErrorCode.FLAG_INVALID,
          `${envName(spec.name)}: ${(err as Error).message}`,
        )
      }
    } else if (spec.default !== undefined) {
      value = spec.parse(spec.default)
    }
    setAt(parsed, path, value)
  }
  return { kind: 'flags', flags: parsed as Flags<C> }
}
