// readSshdConfig: reads sshd_config and every file its Includes reach under a root as if the
// root were a chroot (`..` and absolute symlinks never leave it: sources/rootfs.ts), then
// parses them with parse.ts. Each file is read whole and capped (1 MiB and 1000 files by
// default); a directory reads as empty and a FIFO does not block. An included file that cannot
// be used is a ConfigProblem and is skipped; the main file failing throws an SshdConfigError
// (`NOT_FOUND` when there is none).

import { constants } from 'node:fs'
import { lstat, open, readdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { isNotFound } from '../../errors.ts'
import { readInto } from '../read-into.ts'
import { resolveInRoot as resolveHostPath } from '../rootfs.ts'
import {
  byteOrder,
  hasMagic,
  includePattern,
  matchComponent,
  normalizeSlashes,
  unescapeGlob,
} from './glob.ts'
import { parseLine } from './lexer.ts'
import { isNoFile, parseSshdConfigFiles, type SshdConfigOptions } from './parse.ts'
import { type SshdConfigSemantics, semanticsFor } from './semantics.ts'
import {
  type ConfigProblem,
  SshdConfigError,
  type SshdConfigErrorCode,
  type SshdConfigFiles,
} from './values.ts'

const DEFAULT_MAX_FILE_BYTES = 1024 * 1024
const DEFAULT_MAX_FILES = 1000

type ReadResult = { text: string } | { code: SshdConfigErrorCode; message: string }

function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? String(error)
}

/** The host path of `path` inside `root` (sources/rootfs.ts), or why there is none. */
function resolveInRoot(root: string, path: string): string | { code: string } {
  try {
    return resolveHostPath(root, path) ?? { code: 'ENOENT' }
  } catch (error) {
    return { code: errno(error) }
  }
}

/** A whole file, at most `cap` bytes; a directory reads as empty (as sshd reads it). */
async function readInRoot(root: string, path: string, cap: number): Promise<ReadResult> {
  const host = resolveInRoot(root, path)
  if (typeof host !== 'string') {
    const code = isNotFound(host) ? 'NOT_FOUND' : 'UNREADABLE'
    return { code, message: `cannot open: ${host.code}` }
  }
  let handle: Awaited<ReturnType<typeof open>>
  try {
    // O_NONBLOCK: a FIFO reads as empty instead of hanging; O_NOFOLLOW: the path is resolved.
    handle = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = isNotFound(error) ? 'NOT_FOUND' : 'UNREADABLE'
    return { code, message: `cannot open: ${errno(error)}` }
  }
  try {
    // One byte past the cap tells a file that is too big.
    const buffer = Buffer.allocUnsafe(cap + 1)
    const length = await readInto(handle, buffer, 0, buffer.length)
    if (length > cap) return { code: 'TOO_BIG', message: `larger than ${cap} bytes; skipped` }
    const bytes = buffer.subarray(0, length)
    if (bytes.includes(0)) return { code: 'BINARY', message: 'contains NUL bytes; skipped' }
    return { text: bytes.toString('utf8') }
  } catch (error) {
    const code = errno(error)
    if (code === 'EISDIR') return { text: '' }
    return { code: 'UNREADABLE', message: `cannot read: ${code}` }
  } finally {
    await handle.close()
  }
}

/** glob(3) of an Include pattern under the root: paths inside the root, as sshd names them. */
async function globInRoot(
  root: string,
  pattern: string,
  problems: ConfigProblem[],
): Promise<string[]> {
  const components = pattern.split('/').filter(Boolean)
  let candidates = ['']
  let lastLiteral = true
  for (const component of components) {
    if (!hasMagic(component)) {
      const name = unescapeGlob(component)
      candidates = candidates.map((c) => `${c}/${name}`)
      lastLiteral = true
      continue
    }
    lastLiteral = false
    const next: string[] = []
    for (const dir of candidates) {
      const host = resolveInRoot(root, dir || '/')
      if (typeof host !== 'string') continue
      let names: string[]
      try {
        names = await readdir(host)
      } catch (error) {
        if (!isNotFound(error)) {
          problems.push({ file: dir || '/', message: `cannot list directory: ${errno(error)}` })
        }
        continue
      }
      for (const name of names) {
        if (name !== '.' && name !== '..' && matchComponent(component, name)) {
          next.push(`${dir}/${name}`)
        }
      }
    }
    candidates = next
  }
  if (lastLiteral) {
    const exists: string[] = []
    for (const path of candidates) if (await entryExists(root, path)) exists.push(path)
    candidates = exists
  }
  return candidates.sort(byteOrder)
}

/** Whether the last component exists as a directory entry (glob lstat()s: a broken link does). */
async function entryExists(root: string, path: string): Promise<boolean> {
  const slash = path.lastIndexOf('/')
  const name = path.slice(slash + 1)
  if (name === '.' || name === '..') return typeof resolveInRoot(root, path) === 'string'
  const parent = resolveInRoot(root, path.slice(0, slash) || '/')
  if (typeof parent !== 'string') return false
  try {
    await lstat(parent === '/' ? `/${name}` : `${parent}/${name}`)
    return true
  } catch {
    return false
  }
}

/** The Include patterns of a file, as the parser will see them. */
function includePatterns(text: string, sshdir: string, semantics: SshdConfigSemantics): string[] {
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const d = parseLine(raw)
    if (d === undefined || d.error !== undefined || d.keyword.toLowerCase() !== 'include') continue
    const keyword = semantics.includeRelativeToKeyword ? d.keyword : null
    for (const arg of d.args) {
      const pattern = includePattern(arg, sshdir, keyword)
      if (typeof pattern === 'string') out.push(pattern)
    }
  }
  return out
}

/**
 * Reads `file` (a path inside `rootfs`, default /etc/ssh/sshd_config) and everything it
 * includes, under `rootfs` as a chroot, and parses them as sshd does. An included file that
 * cannot be used (unreadable, too big, binary) is a problem and is skipped; the main file
 * failing throws an SshdConfigError (`NOT_FOUND` when there is none). `none` (sshd -f none)
 * reads no file. An -o Include in `options.commandLine` reads nothing: sshd refuses it.
 */
export async function readSshdConfig(
  rootfs: string,
  file = '/etc/ssh/sshd_config',
  options: SshdConfigOptions = {},
): Promise<SshdConfigFiles> {
  const root = resolve(rootfs)
  if (isNoFile(file)) return parseSshdConfigFiles(file, new Map(), options)
  const main = normalizeSlashes(file)
  const sshdir = normalizeSlashes(options.sshdir ?? '/etc/ssh')
  const cap = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES
  const semantics = semanticsFor(options.opensshVersion)
  const first = await readInRoot(root, main, cap)
  if (!('text' in first)) throw new SshdConfigError(first.code, main, first.message)

  const files = new Map([[main, first.text]])
  const problems: ConfigProblem[] = []
  const failed = new Set<string>()
  const globbed = new Set<string>()
  const queue = [first.text]
  let capped = false
  for (let text = queue.shift(); text !== undefined; text = queue.shift()) {
    for (const pattern of includePatterns(text, sshdir, semantics)) {
      if (globbed.has(pattern)) continue
      globbed.add(pattern)
      for (const path of await globInRoot(root, pattern, problems)) {
        if (files.has(path) || failed.has(path)) continue
        if (files.size >= maxFiles) {
          if (!capped)
            problems.push({ file: path, message: `more than ${maxFiles} files; skipped` })
          capped = true
          break
        }
        const read = await readInRoot(root, path, cap)
        if ('text' in read) {
          files.set(path, read.text)
          queue.push(read.text)
        } else {
          failed.add(path)
          problems.push({ file: path, message: read.message })
        }
      }
    }
  }
  const parsed = parseSshdConfigFiles(main, files, { ...options, sshdir })
  return { ...parsed, problems: [...problems, ...parsed.problems] }
}
