/**
 * The sshd binary, run only for `sshd -T` (effective configuration) and
 * `sshd -V` (version): at start-up and then at most once per time to live,
 * never per scrape, always with a time limit.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { SSHD_FLAVORS } from './proctitle.ts'

/** The listener's names, in the order they are looked for: `sshd`, then `sshd.pam`, `sshd.krb5`. */
const LISTENER_NAMES: readonly string[] = SSHD_FLAVORS.map((flavor) => `sshd${flavor}`)

/**
 * The first executable `sshd` on PATH or in /usr/sbin (`sbin`), else the first of Alpine's
 * flavoured builds (`sshd.pam`, then `sshd.krb5`) there; null when none is.
 */
export function findSshdBinary(path = process.env.PATH ?? '', sbin = '/usr/sbin'): string | null {
  const dirs = [...path.split(delimiter).filter(Boolean), sbin]
  for (const name of LISTENER_NAMES) {
    for (const dir of dirs) {
      const file = join(dir, name)
      try {
        accessSync(file, constants.X_OK)
        return file
      } catch {
        // not here
      }
    }
  }
  return null
}

/** `OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL …` -> `9.2`; null when not recognised. */
export function parseSshdVersion(text: string): string | null {
  const m = /OpenSSH_(\d+\.\d+)/.exec(text)
  return m === null ? null : m[1]!
}

export interface SshdRunOptions {
  timeoutMs: number
  /** `-f <file>`: the configuration to test instead of sshd's default. */
  configFile?: string | null
  /**
   * A listener's own command line, as sources/sshd-argv.ts sshdCommandLineArgs gives it; passed
   * after `-T` (and after `-f configFile`, so its own -f wins, as getopt's last -f does).
   */
  args?: readonly string[]
}

/** The version of the binary (`sshd -V` prints it on stderr and exits 1). */
export async function sshdVersion(binary: string, timeoutMs: number): Promise<string | null> {
  const { execa } = await import('execa')
  const r = await execa(binary, ['-V'], { reject: false, timeout: timeoutMs, stdin: 'ignore' })
  return parseSshdVersion(`${r.stderr}\n${r.stdout}`)
}

/**
 * `sshd -T` output. Throws with sshd's own message when it fails (not root,
 * no host keys, a Match it cannot evaluate without -C).
 */
export async function runSshdT(binary: string, options: SshdRunOptions): Promise<string> {
  const args = ['-T']
  if (options.configFile) args.push('-f', options.configFile)
  if (options.args !== undefined) args.push(...options.args)
  // Loaded when sshd is first run: a host that never runs it never loads execa.
  const { execa } = await import('execa')
  const r = await execa(binary, args, {
    reject: false,
    timeout: options.timeoutMs,
    stdin: 'ignore',
    maxBuffer: 1024 * 1024,
  })
  if (r.exitCode !== 0 || r.timedOut) {
    const why = r.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : (r.stderr.trim().split('\n').at(-1) ?? `exit code ${r.exitCode}`)
    throw new Error(`${binary} -T failed: ${why}`)
  }
  return r.stdout
}
