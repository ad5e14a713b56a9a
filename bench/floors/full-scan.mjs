/*
 * full-scan.mjs: full-scan.c in Node, one run: the floor of a one-shot read of the host for a
 * program on Node, as `sshd-exporter sessions` is. bench/sessions.ts times it from spawn to exit.
 * It reads what full-scan.c reads (every <pid>/stat with one open, read and close into one
 * buffer; the cmdline of live sshd, sshd-session and sshd-auth processes), counts the same, and
 * loads nothing else. Plain JavaScript: Node 24 starts a .ts file some 50 ms later (it loads
 * its type stripper), which would raise the floor.
 *
 * Usage: node bench/floors/full-scan.mjs <procfs root>
 * Prints {"processes":…,"sshd":…,"sessions":…,"connections":…} on one line.
 */
import { Buffer } from 'node:buffer'
import { closeSync, openSync, readdirSync, readSync } from 'node:fs'

const root = process.argv[2]
if (root === undefined) {
  process.stderr.write('usage: node full-scan.mjs <procfs root>\n')
  process.exit(2)
}

const buf = Buffer.allocUnsafe(4096)
const SPACE = 0x20
const OPEN = 0x28
const CLOSE = 0x29
const SSHD_COMMS = new Set(['sshd', 'sshd-session', 'sshd-auth'])

/** Bytes read from the file into buf, or -1 when it is gone. */
function readOnce(path) {
  let fd
  try {
    fd = openSync(path, 'r')
  } catch {
    return -1
  }
  try {
    return readSync(fd, buf, 0, buf.length, null)
  } catch {
    return -1
  } finally {
    closeSync(fd)
  }
}

/** As is_postauth_title in procread.h. */
function isPostauthTitle(title) {
  const colon = title.indexOf(': ')
  const prog = colon < 0 ? '' : title.slice(0, colon)
  if (!SSHD_COMMS.has(prog)) return false
  const t = title.slice(colon + 2).trimEnd()
  if (t === '' || t.startsWith('[')) return false
  for (const suffix of [' [net]', ' [priv]', ' [pam]', ' [postauth]', '@internal-sftp']) {
    if (t.endsWith(suffix)) return false
  }
  return !t.includes('[listener]')
}

let processes = 0
const ppids = []
const sshd = new Map()
for (const name of readdirSync(root)) {
  const c = name.charCodeAt(0)
  if (c < 48 || c > 57) continue
  const n = readOnce(`${root}/${name}/stat`)
  if (n <= 0) continue
  const open = buf.indexOf(OPEN)
  const close = buf.lastIndexOf(CLOSE, n - 1)
  if (open < 1 || close < open + 1 || buf[close + 1] !== SPACE || buf[close + 3] !== SPACE) {
    continue
  }
  let ppid = 0
  for (let i = close + 4; i < n && buf[i] !== SPACE; i++) ppid = ppid * 10 + buf[i] - 48
  processes++
  ppids.push(ppid)
  const state = buf[close + 2]
  if (state === 0x5a || state === 0x58) continue // Z, X
  if (!SSHD_COMMS.has(buf.toString('latin1', open + 1, close))) continue
  const m = readOnce(`${root}/${name}/cmdline`)
  if (m < 0) continue
  const nul = buf.indexOf(0)
  const title = buf.toString('latin1', 0, nul >= 0 && nul < m ? nul : m)
  sshd.set(Number(name), {
    ppid,
    children: 0,
    listener: title.includes('[listener]'),
    postauth: isPostauthTitle(title),
  })
}

for (const ppid of ppids) {
  const parent = sshd.get(ppid)
  if (parent !== undefined) parent.children++
}
let sessions = 0
let connections = 0
for (const s of sshd.values()) {
  if (s.postauth) sessions += s.children
  if (!s.listener) {
    const parent = sshd.get(s.ppid)
    if (parent === undefined || parent.listener) connections++
  }
}
process.stdout.write(`${JSON.stringify({ processes, sshd: sshd.size, sessions, connections })}\n`)
