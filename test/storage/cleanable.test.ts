/**
 * When a compacted log is due for a cleaning: the pure rule (Kafka's dirty ratio, max and min
 * compaction lag), then a log under housekeeping that cleans only what changed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { type CleanableSegment, segmentsToClean } from '../../src/storage/cleanable.js'
import { InlineCompactor } from '../../src/storage/compaction.js'
import { type Compactor, PartitionLog } from '../../src/storage/log.js'
import { logConfigFromKafka } from '../../src/storage/log-config.js'
import { encodeBatch } from '../../src/records/record-batch.js'
import { removeDir, smallConfig, tempDir } from './helpers.js'

const NOW_MS = 1_800_000_000_000
const POLICY = { minCleanableDirtyRatio: 0.5, maxCompactionLagMs: Infinity, minCompactionLagMs: 0 }

/** Sealed segments of 100 offsets and `sizeBytes` each, written at `ageMs` before NOW_MS. */
function segments(sizes: number[], ageMs = 1_000): CleanableSegment[] {
  return sizes.map((sizeBytes, i) => ({
    baseOffset: i * 100,
    nextOffset: (i + 1) * 100,
    sizeBytes,
    maxTimestampMs: NOW_MS - ageMs,
    firstBatchTimestampMs: NOW_MS - ageMs,
    createdMs: NOW_MS - ageMs,
  }))
}

describe('whether a compacted log is due for a cleaning', () => {
  it('cleans a log never cleaned, every sealed segment of it', () => {
    expect(segmentsToClean(segments([10, 10, 10]), 0, NOW_MS, POLICY)).toBe(3)
  })

  it('leaves a log alone when nothing was written since its last cleaning', () => {
    expect(segmentsToClean(segments([10, 10, 10]), 300, NOW_MS, POLICY)).toBe(0)
  })

  it('cleans again only once the dirty part is more than min.cleanable.dirty.ratio of the log', () => {
    expect(segmentsToClean(segments([10, 10, 20]), 200, NOW_MS, POLICY)).toBe(0)
    expect(segmentsToClean(segments([10, 10, 21]), 200, NOW_MS, POLICY)).toBe(3)
    expect(segmentsToClean(segments([10, 10, 1]), 200, NOW_MS, { ...POLICY, minCleanableDirtyRatio: 0.01 })).toBe(3)
  })

  it('cleans a dirty record that waited past max.compaction.lag.ms, whatever the ratio', () => {
    const old = segments([100, 100, 1], 60_000)
    expect(segmentsToClean(old, 200, NOW_MS, { ...POLICY, maxCompactionLagMs: 120_000 })).toBe(0)
    expect(segmentsToClean(old, 200, NOW_MS, { ...POLICY, maxCompactionLagMs: 30_000 })).toBe(3)
  })

  it('cleans a log with no new record once the time the last cleaning named has come', () => {
    expect(segmentsToClean(segments([10, 10]), 200, NOW_MS, POLICY, NOW_MS + 1)).toBe(0)
    expect(segmentsToClean(segments([10, 10]), 200, NOW_MS, POLICY, NOW_MS)).toBe(2)
  })

  it('stops the range at the first segment younger than min.compaction.lag.ms', () => {
    const mixed = [...segments([10, 10], 60_000), ...segments([10], 1_000).map((s) => ({ ...s, baseOffset: 200, nextOffset: 300 }))]
    expect(segmentsToClean(mixed, 0, NOW_MS, { ...POLICY, minCompactionLagMs: 30_000 })).toBe(2)
    expect(segmentsToClean(mixed, 200, NOW_MS, { ...POLICY, minCompactionLagMs: 30_000 })).toBe(0)
  })

  it('reads min.cleanable.dirty.ratio and max.compaction.lag.ms from the topic config, and refuses a ratio outside [0, 1]', () => {
    const config = logConfigFromKafka({ 'min.cleanable.dirty.ratio': '0.2', 'max.compaction.lag.ms': '60000' })
    expect(config).toMatchObject({ minCleanableDirtyRatio: 0.2, maxCompactionLagMs: 60_000 })
    expect(() => logConfigFromKafka({ 'min.cleanable.dirty.ratio': '1.5' })).toThrow(/min.cleanable.dirty.ratio/)
  })
})

/** The real compaction, counting its runs. */
function countingCompactor(): { compactor: Compactor; cleanings: () => number } {
  const inline = new InlineCompactor()
  let cleanings = 0
  const compactor: Compactor = {
    async compact(input) {
      cleanings++
      return inline.compact(input)
    },
  }
  return { compactor, cleanings: () => cleanings }
}

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

describe('a compacted log under housekeeping', () => {
  it('cleans once, then again only after enough new records, and after a truncation below its clean mark', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const clock = new ManualClock(NOW_MS)
    const { compactor, cleanings } = countingCompactor()
    const log = await PartitionLog.open(dir, smallConfig({ segmentBytes: 600, cleanupPolicy: 'compact' }), { clock, compactor, fsync: false })
    // Each batch's keys are new, so a cleaning keeps every record and the log stays as large.
    let written = 0
    const append = (count: number): void => {
      for (let i = 0; i < count; i++, written++) {
        const records = [0, 1, 2].map((r) => ({ key: Buffer.from(`k${written}-${r}`), value: Buffer.alloc(20, r) }))
        log.append(encodeBatch({ baseTimestamp: clock.nowMs(), records }), { leaderEpoch: 0, assignOffsets: true })
      }
    }
    append(12)
    await log.housekeeping()
    expect(cleanings()).toBe(1)
    await log.housekeeping()
    await log.housekeeping()
    expect(cleanings()).toBe(1)
    // A few more batches are little next to the cleaned log; a dozen more make it mostly dirty.
    append(4)
    await log.housekeeping()
    expect(cleanings()).toBe(1)
    append(12)
    await log.housekeeping()
    expect(cleanings()).toBe(2)
    log.truncateTo(1)
    append(12)
    await log.housekeeping()
    expect(cleanings()).toBe(3)
    await log.close()
  })

  it('remembers what it cleaned across a reopen, so a restart does not clean the whole log again', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const clock = new ManualClock(NOW_MS)
    const { compactor, cleanings } = countingCompactor()
    const config = smallConfig({ segmentBytes: 600, cleanupPolicy: 'compact' })
    const first = await PartitionLog.open(dir, config, { clock, compactor, fsync: false })
    for (let i = 0; i < 12; i++) {
      const records = [0, 1, 2].map((r) => ({ key: Buffer.from(`k${i}-${r}`), value: Buffer.alloc(20, r) }))
      first.append(encodeBatch({ baseTimestamp: clock.nowMs(), records }), { leaderEpoch: 0, assignOffsets: true })
    }
    await first.housekeeping()
    expect(cleanings()).toBe(1)
    await first.close()
    const second = await PartitionLog.open(dir, config, { clock, compactor, fsync: false })
    await second.housekeeping()
    expect(cleanings()).toBe(1)
    await second.close()
  })
})
