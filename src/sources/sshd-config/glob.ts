// Include arguments as sshd expands them. includePattern makes an argument an absolute glob
// (relative to sshdir; OpenSSH 8.2 puts the keyword itself in place of a relative argument).
// matchComponent matches one path component as glob(3) with no flags does: `*`, `?`, `[...]`,
// `\` escapes, a leading dot only when the pattern names it; results sort in byte order.
// Pure: globKnown matches files already read, read.ts lists directories under the root.

import { REFUSED } from './values.ts'

/**
 * The glob sshd expands for one Include argument, or a reason it cannot be used. `keyword`:
 * the Include keyword as written, which OpenSSH 8.2 puts in place of a relative argument.
 */
export function includePattern(
  arg: string,
  sshdir: string,
  keyword: string | null = null,
): string | { error: string } {
  if (arg === '') return { error: `Include with an empty argument (${REFUSED} line)` }
  if (arg.startsWith('~')) return { error: `Include "${arg}": sshd does not expand ~; skipped` }
  return normalizeSlashes(arg.startsWith('/') ? arg : `${sshdir}/${keyword ?? arg}`)
}

export function normalizeSlashes(path: string): string {
  const out = `/${path.split('/').filter(Boolean).join('/')}`
  return out
}

export function hasMagic(component: string): boolean {
  for (let i = 0; i < component.length; i++) {
    const c = component[i]
    if (c === '\\') i++
    else if (c === '*' || c === '?' || c === '[') return true
  }
  return false
}

export function unescapeGlob(component: string): string {
  return component.replace(/\\(.)/g, '$1')
}

/** One path component against one glob component; a leading `.` must be matched literally. */
export function matchComponent(pattern: string, name: string): boolean {
  if (!hasMagic(pattern)) return unescapeGlob(pattern) === name
  if (name.startsWith('.') && !pattern.startsWith('.') && !pattern.startsWith('\\.')) return false
  let p = 0
  let s = 0
  let starP = -1
  let starS = 0
  while (s < name.length) {
    if (p < pattern.length) {
      const c = pattern[p]!
      if (c === '*') {
        starP = ++p
        starS = s
        continue
      }
      if (c === '?') {
        p++
        s++
        continue
      }
      const bracket = c === '[' ? matchBracket(pattern, p, name[s]!) : undefined
      if (bracket !== undefined) {
        if (bracket.matched) {
          p = bracket.end
          s++
          continue
        }
      } else {
        const escaped = c === '\\' && p + 1 < pattern.length
        if ((escaped ? pattern[p + 1] : c) === name[s]) {
          p += escaped ? 2 : 1
          s++
          continue
        }
      }
    }
    if (starP === -1) return false
    p = starP
    s = ++starS
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

/** `[...]` at pattern[at]; undefined when unterminated (then `[` is literal). */
function matchBracket(
  pattern: string,
  at: number,
  ch: string,
): { matched: boolean; end: number } | undefined {
  let i = at + 1
  const negate = pattern[i] === '!' || pattern[i] === '^'
  if (negate) i++
  let matched = false
  let first = true
  while (i < pattern.length && (first || pattern[i] !== ']')) {
    first = false
    let lo = pattern[i]!
    if (lo === '\\' && i + 1 < pattern.length) lo = pattern[++i]!
    i++
    let hi = lo
    if (pattern[i] === '-' && i + 1 < pattern.length && pattern[i + 1] !== ']') {
      hi = pattern[i + 1]!
      if (hi === '\\' && i + 2 < pattern.length) hi = pattern[++i + 1]!
      i += 2
    }
    if (ch >= lo && ch <= hi) matched = true
  }
  if (i >= pattern.length) return undefined
  return { matched: matched !== negate, end: i + 1 }
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** The known files an Include glob matches, as glob(3) would list them. */
export function globKnown(pattern: string, files: ReadonlyMap<string, string>): string[] {
  const want = pattern.split('/')
  const out: string[] = []
  for (const path of files.keys()) {
    const have = path.split('/')
    if (have.length !== want.length) continue
    let ok = true
    for (let i = 1; ok && i < want.length; i++) ok = matchComponent(want[i]!, have[i]!)
    if (ok) out.push(path)
  }
  return out.sort(byteOrder)
}
