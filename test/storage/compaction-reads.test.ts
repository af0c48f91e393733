import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { InlineCompactor } from '../../src/storage/compaction.js'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { type Compactor, PartitionLog } from '../../src/storage/log.js'
import { batch, removeDir, smallConfig, tempDir } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

describe('reads while a compaction swaps files', () => {
  it('serve the pre-compaction bytes until the log reloads, even when their fds were evicted meanwhile', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const files = new FileHandleCache({ openFilesMax: 2 })
    const clock = new ManualClock()
    const inline = new InlineCompactor()
    const offsets: number[] = []
    let during: Buffer[] = []
    // Runs the real compaction (its files are swapped in when it returns), then reads every
    // batch through the log with no fd left in the cache, as other partitions would leave it.
    const compactor: Compactor = {
      async compact(input) {
        await inline.compact(input)
        files.closeAll()
        during = offsets.map((o) => log.read(o, 1).records)
      },
    }
    const config = smallConfig({ segmentBytes: 600, cleanupPolicy: 'compact' })
    const log = await PartitionLog.open(dir, config, { clock, files, compactor, fsync: false })
    // Every batch holds keys k0..k2: each one supersedes all before it.
    for (let i = 0; i < 12; i++) {
      offsets.push(log.append(batch(3, clock.nowMs(), { tag: i }), { leaderEpoch: 0, assignOffsets: true }).baseOffset)
    }
    expect(log.segments().length).toBeGreaterThan(2)
    const before = offsets.map((o) => log.read(o, 1).records)

    const result = await log.housekeeping()
    expect(result.compactedSegments).toBeGreaterThan(0)
    expect(during).toEqual(before)
    // After the reload the log serves the compacted files: the superseded first batch is gone.
    expect(log.read(0, 1).firstOffset).toBeGreaterThan(0)
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.reading'))).toEqual([])
    await log.close()
  })
})
