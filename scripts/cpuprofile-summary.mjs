#!/usr/bin/env node
// Summarises V8 .cpuprofile files (node --cpu-prof; each worker thread writes its own), to see
// where a shard's time goes under a bench load:
//   BENCH_BROKER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:protocol:phase -- small
//   node scripts/cpuprofile-summary.mjs [--top=40] [--inclusive] /tmp/prof/*.cpuprofile
// Per file: the share of busy samples (idle left out) by function, self time by default, or
// inclusive time (each sample counted once for every distinct function on its stack), then self
// time by file. Native calls (writeBuffer is fs.writeSync, writev a socket write) count as their
// own functions. The profile spans the thread's whole life, start-up included, so run a load long
// enough that start-up is a small share.
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
const top = Number(args.find((a) => a.startsWith('--top='))?.slice('--top='.length) ?? 40)
const inclusive = args.includes('--inclusive')
const files = args.filter((a) => !a.startsWith('--'))
if (files.length === 0) {
  console.error('usage: node scripts/cpuprofile-summary.mjs [--top=N] [--inclusive] FILE.cpuprofile...')
  process.exit(2)
}

const short = (url) => url.replace(/^.*\/dist\//, '').replace(/^.*\/node_modules\//, 'node_modules/')
const nameOf = (node) => `${node.callFrame.functionName || '(anonymous)'} ${short(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`
const percent = (count, total) => `${((count / total) * 100).toFixed(1).padStart(5)}%`

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const samplesOf = new Map()
  for (const id of profile.samples) samplesOf.set(id, (samplesOf.get(id) ?? 0) + 1)

  const byFunction = new Map()
  const byFile = new Map()
  let busy = 0
  let idle = 0
  for (const [id, count] of samplesOf) {
    const node = byId.get(id)
    if (node.callFrame.functionName === '(idle)') {
      idle += count
      continue
    }
    busy += count
    const where = short(node.callFrame.url) || node.callFrame.functionName
    byFile.set(where, (byFile.get(where) ?? 0) + count)
    if (!inclusive) {
      byFunction.set(nameOf(node), (byFunction.get(nameOf(node)) ?? 0) + count)
      continue
    }
    const seen = new Set()
    // Bounded by the stack's depth: each step goes to a parent, and the root has none.
    for (let at = id; at !== undefined; at = parentOf.get(at)) {
      const name = nameOf(byId.get(at))
      if (seen.has(name)) continue
      seen.add(name)
      byFunction.set(name, (byFunction.get(name) ?? 0) + count)
    }
  }
  console.log(`== ${file}: ${busy + idle} samples, ${percent(idle, busy + idle).trim()} idle; shares below are of the ${busy} busy ones`)
  console.log(inclusive ? '-- inclusive time by function' : '-- self time by function')
  for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${percent(count, busy)}  ${name}`)
  console.log('-- self time by file')
  for (const [name, count] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, Math.min(top, 25))) console.log(`${percent(count, busy)}  ${name}`)
}
