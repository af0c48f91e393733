#!/usr/bin/env node
// What grew between two V8 heap snapshots of one thread, to tell a leak from memory the allocators
// keep. Take them from a running broker with node's own flag, which `partita start` extends to
// every shard (src/cli/heap-snapshots.ts):
//   node dist/bench/fuzz/main.js --frames 4000000 --seed 1 --broker-node-args "--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/snaps"
//   kill -USR2 <broker pid>    (once after the warm-up, once near the end)
//   node scripts/heap-snapshot-diff.mjs [--top=N] BEFORE.heapsnapshot AFTER.heapsnapshot
// Prints the total self size of each, then the kinds of node whose self size grew most: objects by
// constructor, closures by name, strings, numbers, code and native memory (ArrayBuffer contents)
// each as one kind.
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
const top = Number(args.find((a) => a.startsWith('--top='))?.slice('--top='.length) ?? 30)
const files = args.filter((a) => !a.startsWith('--'))
if (files.length !== 2) {
  console.error('usage: node scripts/heap-snapshot-diff.mjs [--top=N] BEFORE.heapsnapshot AFTER.heapsnapshot')
  process.exit(2)
}

/** Count and self size by kind of node. */
function kinds(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'))
  const fields = snapshot.meta.node_fields
  const types = snapshot.meta.node_types[0]
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f))
  const byKind = new Map()
  let totalBytes = 0
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]]
    const named = type === 'object' || type === 'closure' || type === 'native'
    const kind = named ? `${type} ${String(strings[nodes[i + nameAt]]).slice(0, 80)}` : type.endsWith('string') ? 'string' : type
    const entry = byKind.get(kind) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += nodes[i + sizeAt]
    totalBytes += nodes[i + sizeAt]
    byKind.set(kind, entry)
  }
  return { byKind, totalBytes }
}

const mib = (bytes) => (bytes / 1048576).toFixed(2)
const before = kinds(files[0])
const after = kinds(files[1])
console.log(`self size ${mib(before.totalBytes)} -> ${mib(after.totalBytes)} MiB`)
const rows = new Set([...before.byKind.keys(), ...after.byKind.keys()])
const growth = [...rows].map((kind) => {
  const a = before.byKind.get(kind) ?? { count: 0, bytes: 0 }
  const b = after.byKind.get(kind) ?? { count: 0, bytes: 0 }
  return { kind, bytes: b.bytes - a.bytes, count: b.count - a.count, countAfter: b.count }
})
growth.sort((x, y) => y.bytes - x.bytes)
console.log('  MiB grown   count grown   count after  kind')
for (const g of growth.slice(0, top)) console.log(`${mib(g.bytes).padStart(11)} ${String(g.count).padStart(13)} ${String(g.countAfter).padStart(13)}  ${g.kind}`)
