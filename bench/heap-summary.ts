/**
 * A heap snapshot (bench/memory.ts --snapshot, or v8.writeHeapSnapshot) summed up: self size by
 * constructor, the code and data each script (module) retains, and the objects that retain the
 * most. Investigation only.
 *
 *   node bench/heap-summary.ts /tmp/mem-snap/after.heapsnapshot [--top 20]
 *
 * Retained sizes come from the dominator tree (Cooper, Harvey and Kennedy's iteration over a
 * reverse postorder from the root), weak edges left out, as DevTools computes them. A script's
 * code: the retained sizes of its SharedFunctionInfos (bytecode, feedback metadata, scope info);
 * its data: the retained size of its module's or closures' contexts that no other script shares.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[]
      node_types: [string[], ...unknown[]]
      edge_fields: string[]
      edge_types: [string[], ...unknown[]]
    }
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '20' } },
})
const top = Number(values.top)
const file = positionals[0]
if (file === undefined) throw new Error('usage: node bench/heap-summary.ts FILE.heapsnapshot')
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
const meta = snap.snapshot.meta
const NF = meta.node_fields.length
const EF = meta.edge_fields.length
const [nType, nName, nSelf, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
  meta.node_fields.indexOf(f),
) as [number, number, number, number]
const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) =>
  meta.edge_fields.indexOf(f),
) as [number, number, number]
const nodeTypes = meta.node_types[0]
const edgeTypes = meta.edge_types[0]
const WEAK = edgeTypes.indexOf('weak')
const SHORTCUT = edgeTypes.indexOf('shortcut')
const count = snap.nodes.length / NF
const firstEdge = new Uint32Array(count + 1)
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e
  e += snap.nodes[i * NF + nEdges]! * EF
  firstEdge[i + 1] = e
}
const type = (i: number): string => nodeTypes[snap.nodes[i * NF + nType]!]!
const name = (i: number): string => snap.strings[snap.nodes[i * NF + nName]!]!
const self = (i: number): number => snap.nodes[i * NF + nSelf]!
function* children(i: number): Generator<[number, number, number]> {
  for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
    yield [snap.edges[e + eType]!, snap.edges[e + eName]!, snap.edges[e + eTo]! / NF]
  }
}
const strong = (t: number): boolean => t !== WEAK && t !== SHORTCUT

// Reverse postorder from the root (node 0), iteratively.
const order = new Int32Array(count).fill(-1)
const post: number[] = []
{
  const stack: [number, Generator<[number, number, number]>][] = [[0, children(0)]]
  order[0] = 0
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    const next = top[1].next()
    if (next.done) {
      post.push(top[0])
      stack.pop()
      continue
    }
    const [t, , to] = next.value
    if (!strong(t) || order[to] !== -1) continue
    order[to] = 0
    stack.push([to, children(to)])
  }
}
const rpoIndex = new Int32Array(count).fill(-1)
post.forEach((n, k) => (rpoIndex[n] = post.length - 1 - k))
const rpo = [...post].reverse()
const preds: number[][] = Array.from({ length: count }, () => [])
for (const n of rpo) {
  for (const [t, , to] of children(n)) if (strong(t) && rpoIndex[to] !== -1) preds[to]!.push(n)
}
const idom = new Int32Array(count).fill(-1)
idom[0] = 0
const intersect = (a: number, b: number): number => {
  while (a !== b) {
    while (rpoIndex[a]! > rpoIndex[b]!) a = idom[a]!
    while (rpoIndex[b]! > rpoIndex[a]!) b = idom[b]!
  }
  return a
}
for (let changed = true; changed;) {
  changed = false
  for (const n of rpo) {
    if (n === 0) continue
    let d = -1
    for (const p of preds[n]!) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d)
    if (d !== idom[n]) {
      idom[n] = d
      changed = true
    }
  }
}
const retained = new Float64Array(count)
for (const n of post) retained[n]! += self(n)
for (const n of post) if (n !== 0 && idom[n]! >= 0) retained[idom[n]!]! += retained[n]!

const MB = (n: number): string => (n / 2 ** 20).toFixed(2)
let total = 0
for (let i = 0; i < count; i++) total += self(i)
console.log(`${file}: ${count} nodes, ${MB(total)} MB self in all\n`)

// By constructor (object's class name; the node type for the rest).
const byCtor = new Map<string, { n: number; self: number }>()
for (let i = 0; i < count; i++) {
  const t = type(i)
  const key =
    t === 'object' || t === 'closure'
      ? name(i)
      : `(${t}) ${t === 'hidden' || t === 'code' || t === 'array' ? name(i).slice(0, 40) : ''}`
  const c = byCtor.get(key) ?? { n: 0, self: 0 }
  c.n++
  c.self += self(i)
  byCtor.set(key, c)
}
console.log('| constructor / type | count | self MB |\n| --- | ---: | ---: |')
for (const [k, c] of [...byCtor].sort((a, b) => b[1].self - a[1].self).slice(0, top)) {
  console.log(`| ${k.replace(/\|/g, '/')} | ${c.n} | ${MB(c.self)} |`)
}

// By script: SharedFunctionInfos point to their Script ('script' edge); a Script's 'name' edge
// to its URL string, 'source' to its source.
const edgeName = (t: number, n: number): string =>
  edgeTypes[t] === 'element' || edgeTypes[t] === 'hidden' ? String(n) : snap.strings[n]!
const scriptUrl = new Map<number, string>()
const code = new Map<string, { fns: number; code: number; source: number }>()
const moduleOf = (url: string): string => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) return m[1]!
  if (url.includes('/dist/')) return 'the exporter (dist/)'
  if (url.startsWith('node:') || !url.includes('/')) return `node internals`
  return url
}
for (let i = 0; i < count; i++) {
  if (type(i) !== 'code') continue
  let url: string | null = null
  let source = -1
  for (const [t, n, to] of children(i)) {
    const en = edgeName(t, n)
    if (en === 'name' && type(to) === 'string') url = name(to)
    if (en === 'source' && type(to).includes('string')) source = retained[to]!
  }
  if (url === null || source < 0) continue
  scriptUrl.set(i, url)
  const c = code.get(moduleOf(url)) ?? { fns: 0, code: 0, source: 0 }
  c.source += source
  code.set(moduleOf(url), c)
}
for (let i = 0; i < count; i++) {
  if (type(i) !== 'code') continue
  for (const [t, n, to] of children(i)) {
    if (edgeName(t, n) !== 'script' || !scriptUrl.has(to)) continue
    const c = code.get(moduleOf(scriptUrl.get(to)!))!
    c.fns++
    c.code += retained[i]!
  }
}
console.log(
  '\n| module | functions | code MB (SFIs retained) | source MB |\n| --- | ---: | ---: | ---: |',
)
for (const [k, c] of [...code].sort((a, b) => b[1].code + b[1].source - a[1].code - a[1].source)) {
  if (c.code + c.source < 2 ** 14) continue
  console.log(`| ${k} | ${c.fns} | ${MB(c.code)} | ${MB(c.source)} |`)
}

// The nodes that retain the most, other than the roots' synthetic ones.
console.log(
  '\n| node | type | retained MB | self MB | dominated by |\n| --- | --- | ---: | ---: | --- |',
)
const biggest = [...Array(count).keys()]
  .filter((i) => type(i) !== 'synthetic' && retained[i]! > 2 ** 17)
  .sort((a, b) => retained[b]! - retained[a]!)
  .slice(0, top * 2)
for (const i of biggest) {
  const d = idom[i]!
  console.log(
    `| ${name(i).slice(0, 60).replace(/\|/g, '/').replace(/\n/g, ' ')} | ${type(i)} | ${MB(retained[i]!)} | ${MB(self(i))} | ${d >= 0 ? name(d).slice(0, 40).replace(/\n/g, ' ') : ''} |`,
  )
}
