/**
 * Paths under an injected root (`--path.rootfs`) resolved as if the root were
 * `/`, the way a chroot would: `..` stops at the root and absolute symlinks
 * (such as the usual /var/run -> /run) restart there, so nothing read through
 * a host's mounted root ever leaves it.
 */
import { lstatSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { isNotFound } from '../errors.ts'

/** As Linux: more links than this in one path is ELOOP. */
const MAX_SYMLINKS = 40

/**
 * The host path of `path` (absolute, inside the root) with every symlink followed as if the
 * root were `/`: absolute targets restart at the root, `..` stops there. null when a component
 * does not exist (or is not a directory where one is needed). Throws ELOOP after 40 links.
 */
export function resolveInRoot(root: string, path: string): string | null {
  const pending = path.split('/').reverse()
  const resolved: string[] = []
  let links = 0
  while (pending.length > 0) {
    const name = pending.pop()!
    if (name === '' || name === '.') continue
    if (name === '..') {
      resolved.pop()
      continue
    }
    const host = join(root, ...resolved, name)
    let isLink: boolean
    try {
      isLink = lstatSync(host).isSymbolicLink()
    } catch (err) {
      if (isNotFound(err)) return null
      throw err
    }
    if (!isLink) {
      resolved.push(name)
      continue
    }
    if (++links > MAX_SYMLINKS) {
      throw Object.assign(new Error(`ELOOP: too many symbolic links under ${root}: ${path}`), {
        code: 'ELOOP',
      })
    }
    const target = readlinkSync(host)
    if (target.startsWith('/')) resolved.length = 0
    const parts = target.split('/')
    for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!)
  }
  return join(root, ...resolved)
}
