/**
 * The sshd binary, run only for `sshd -T` (effective configuration) and
 * `sshd -V` (version): at start-up and then at most once per time to live,
 * never per scrape, always with a time limit.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { execa } from 'execa'

/** `sshd` on PATH, else /usr/sbin/sshd; null when neither is executable. */
export function findSshdBinary(path = process.env.PATH ?? ''): string | null {
  const candidates = [...path.split(delimiter).filter(Boolean), '/usr/sbin']
  for (const dir of candidates) {
    const file = join(dir, 'sshd')
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
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
