/**
 * One group-commit fsync as a shard makes it (realFileSystem.syncPath: the file opened and closed
 * on the calling thread, only the fdatasync on libuv's pool) beside the way it was made before
 * (open, fdatasync and close each a trip through the pool), each after a 2 KB append, interleaved
 * in one run so both see the same disk and the same load. A timer takes 0.2 ms of the thread
 * every millisecond meanwhile, as a shard's other work would: every pool trip waits for a turn of
 * the event loop on its way back.
 */
import fs, { promises as fsp } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { realFileSystem } from '../src/storage/file-system.js'

const APPEND_BYTES = 2048
const SYNCS_EACH = Number(process.env.BENCH_SYNCS ?? 3000)
const BUSY_EVERY_MS = 1
const BUSY_FOR_MS = 0.2

/** The baseline: the three-trip way syncPath worked before. */
async function threeTrips(filePath: string): Promise<void> {
  const handle = await fsp.open(filePath, 'r')
  try {
    await handle.datasync()
  } finally {
    await handle.close()
  }
}

function line(label: string, latenciesMs: number[]): string {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  const at = (p: number): string => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(3)
  return `${label.padEnd(46)} p50 ${at(0.5)} ms p99 ${at(0.99)} ms p99.9 ${at(0.999)} ms max ${sorted.at(-1)!.toFixed(3)} ms (${sorted.length} syncs)`
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'partita-sync-path-'))
  const file = path.join(dir, 'segment.log')
  const fd = fs.openSync(file, 'w')
  const append = Buffer.alloc(APPEND_BYTES, 1)
  const busy = setInterval(() => {
    const endMs = performance.now() + BUSY_FOR_MS
    // Bounded by the clock: 0.2 ms.
    while (performance.now() < endMs);
  }, BUSY_EVERY_MS)
  const before = `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`
  const ways = { now: [] as number[], before: [] as number[] }
  let position = 0
  try {
    for (let i = 0; i < SYNCS_EACH; i++) {
      // Alternating which goes first, so neither always follows the other's journal commit.
      for (const way of i % 2 === 0 ? (['now', 'before'] as const) : (['before', 'now'] as const)) {
        position += fs.writeSync(fd, append, 0, append.length, position)
        const startMs = performance.now()
        await (way === 'now' ? realFileSystem.syncPath(file, true) : threeTrips(file))
        ways[way].push(performance.now() - startMs)
      }
    }
  } finally {
    clearInterval(busy)
    fs.closeSync(fd)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`group-commit fsync of a ${APPEND_BYTES} B append, in ${tmpdir()} (${before})`)
  console.log(line('now: open/close on the thread, fdatasync pool', ways.now))
  console.log(line('before: open, fdatasync, close on the pool', ways.before))
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
}

await main()
