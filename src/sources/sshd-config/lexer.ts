// One sshd_config line split as servconf.c process_server_config_line splits it: the keyword
// with misc.c strdelim (`Keyword value`, `Keyword=value`, `Keyword = value`), the arguments
// with misc.c argv_split (quotes group, `\` escapes, `#` where an argument could start ends
// the line). parseLine gives a Directive, one with `error` when sshd refuses the line, or
// undefined for a blank line or a comment. Pure.

export type Directive = { keyword: string; args: string[]; error?: string }

const DELIMITERS = ' \t\r\n"='
const WHITESPACE = ' \t\r\n'

/** misc.c strdelim: one token, then past whitespace and at most one `=`. next -1: no rest. */
function strdelim(s: string, from: number): { token: string; next: number } | undefined {
  let i = from
  while (i < s.length && !DELIMITERS.includes(s[i]!)) i++
  if (i === s.length) return { token: s.slice(from), next: -1 }
  let token = s.slice(from, i)
  if (s[i] === '"') {
    const close = s.indexOf('"', i + 1)
    if (close === -1) return undefined
    token += s.slice(i + 1, close)
    i = close
  }
  const equals = s[i] === '='
  let j = i + 1
  while (j < s.length && WHITESPACE.includes(s[j]!)) j++
  if (!equals && s[j] === '=') {
    j++
    while (j < s.length && WHITESPACE.includes(s[j]!)) j++
  }
  return { token, next: j }
}

/** misc.c argv_split: blanks separate, quotes group, `\` escapes quotes, `\`, blank; `#` ends. */
function argvSplit(s: string): string[] | undefined {
  const out: string[] = []
  let i = 0
  while (i < s.length) {
    const c = s[i]
    if (c === ' ' || c === '\t') {
      i++
      continue
    }
    if (c === '#') break
    let quote = ''
    let arg = ''
    for (; i < s.length; i++) {
      const ch = s[i]!
      if (ch === '\\') {
        const next = s[i + 1]
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          arg += next
          i++
        } else {
          arg += ch
        }
      } else if (quote === '' && (ch === ' ' || ch === '\t')) {
        break
      } else if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch
      } else if (quote !== '' && ch === quote) {
        quote = ''
      } else {
        arg += ch
      }
    }
    if (quote !== '') return undefined
    out.push(arg)
  }
  return out
}

/** One physical line as servconf.c splits it; undefined for blank lines and comments. */
export function parseLine(raw: string): Directive | undefined {
  let start = 0
  while (start < raw.length && ' \t\r'.includes(raw[start]!)) start++
  let end = raw.length
  while (end > start + 1 && ' \t\r\n\f'.includes(raw[end - 1]!)) end--
  const line = raw.slice(start, end)
  if (line === '') return undefined
  let tok = strdelim(line, 0)
  if (tok !== undefined && tok.token === '' && tok.next !== -1) tok = strdelim(line, tok.next)
  if (tok === undefined || tok.token === '' || tok.token.startsWith('#')) return undefined
  const keyword = tok.token
  const rest = tok.next === -1 ? '' : line.slice(tok.next)
  if (rest === '') return { keyword, args: [], error: 'no argument after keyword' }
  const args = argvSplit(rest)
  if (args === undefined) return { keyword, args: [], error: 'invalid quotes' }
  return { keyword, args }
}
