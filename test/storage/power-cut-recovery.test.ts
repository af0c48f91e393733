/**
 * Recovery after a power cut that kept a newer segment's records but lost the tail of an older
 * one: nothing orders two files' unsynced writes, so the disk can hold records past a hole. The
 * log a restart serves must be a prefix of what was written, as the power-cut simulation checks
 * (`npm run sim -- --seed 29` found this with the shared generator).
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import type { CleanupPolicy } from '../../src/storage/log-config.js'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { PartitionLog } from '../../src/storage/log.js'
import { SimFileSystem } from '../../src/storage/sim-file-system.js'
import { batch, smallConfig } from './helpers.js'

const DIR = '/data/t-0'
const leader = { leaderEpoch: 0, assignOffsets: true }

/**
 * Segment 0 holds a (flushed) then b (never synced); segment 1 holds c. The power cut loses b's
 * write and keeps c's: made deterministic by cutting b off by hand and syncing the rest first.
 */
async function segmentTailLost(cleanupPolicy: CleanupPolicy): Promise<{ disk: SimFileSystem; reopen: () => Promise<PartitionLog> }> {
  const disk = new SimFileSystem(7)
  const config = smallConfig({ segmentBytes: 600, cleanupPolicy })
  const clock = new ManualClock()
  const log = await PartitionLog.open(DIR, config, { clock, files: new FileHandleCache({ fs: disk }) })
  expect(log.append(batch(2, clock.nowMs()), leader).lastOffset).toBe(1)
  await log.flush()
  const keptBytes = log.segments()[0].sizeBytes
  expect(log.append(batch(3, clock.nowMs(), { valueBytes: 100 }), leader).baseOffset).toBe(2)
  expect(log.append(batch(2, clock.nowMs(), { valueBytes: 150 }), leader).baseOffset).toBe(5)
  const [older, newer] = log.segments()
  expect(newer.baseOffset).toBe(5)
  const olderFd = disk.openSync(older.path, 'r+')
  disk.ftruncateSync(olderFd, keptBytes)
  disk.fsyncSync(olderFd)
  const newerFd = disk.openSync(newer.path, 'r')
  disk.fsyncSync(newerFd)
  const dirFd = disk.openSync(DIR, 'r')
  disk.fsyncSync(dirFd)
  disk.powerCut()
  return { disk, reopen: () => PartitionLog.open(DIR, config, { clock, files: new FileHandleCache({ fs: disk }) }) }
}

function offsetsOf(log: PartitionLog): number[] {
  const offsets: number[] = []
  // Bounded: each read returns at least one batch.
  for (let at = log.logStartOffset; at < log.logEndOffset; ) {
    const { records } = log.read(at, 1 << 20)
    for (let pos = 0; pos < records.length; pos += 12 + records.readInt32BE(pos + 8)) {
      const base = Number(records.readBigInt64BE(pos))
      const last = base + records.readInt32BE(pos + 23)
      for (let o = base; o <= last; o++) offsets.push(o)
      at = last + 1
    }
  }
  return offsets
}

describe('recovery after a power cut that lost an older segment\'s tail and kept a newer segment', () => {
  it('cuts the log at the hole, dropping the newer segment, so offsets stay dense and the next append fills the hole', async () => {
    const { disk, reopen } = await segmentTailLost('delete')
    const log = await reopen()
    expect(offsetsOf(log)).toEqual([0, 1])
    expect(log.logEndOffset).toBe(2)
    expect(log.segments().map((s) => s.baseOffset)).toEqual([0])
    expect(disk.existsSync(path.join(DIR, '00000000000000000005.log'))).toBe(false)
    expect(log.append(batch(1, 0), leader).baseOffset).toBe(2)
  })

  it('keeps a compacted log\'s gap between segments, which compaction makes on purpose', async () => {
    const { reopen } = await segmentTailLost('compact')
    const log = await reopen()
    expect(offsetsOf(log)).toEqual([0, 1, 5, 6])
  })
})
