import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import type { PartitionLog } from '../../src/storage/log.js'
import { expiredBySize, expiredByTime } from '../../src/storage/retention.js'
import { batch, openLog, removeDir, smallConfig, tempDir } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})
function dir(): string {
  const d = tempDir()
  dirs.push(d)
  return d
}

function appendAt(log: PartitionLog, clock: ManualClock, n: number, stepMs: number): void {
  for (let i = 0; i < n; i++) {
    log.append(batch(3, clock.nowMs()), { leaderEpoch: 0, assignOffsets: true })
    clock.advance(stepMs)
  }
}

describe('retention', () => {
  it('deletes whole old segments by time, moves the log start and keeps it across reopen', async () => {
    const d = dir()
    const clock = new ManualClock()
    const config = smallConfig({ segmentBytes: 600, retentionMs: 6_000 })
    const log = await openLog(d, config, clock)
    appendAt(log, clock, 12, 1000) // batches at t0 .. t0+11s, about four per segment
    const before = log.segments()
    expect(before.length).toBeGreaterThanOrEqual(3)
    // Now t0+12s: only segments whose newest batch is older than t0+6s are expired.
    const result = await log.housekeeping()
    const expected = before.slice(0, -1).filter((s) => clock.nowMs() - s.maxTimestampMs > 6_000)
    expect(result.deletedSegments).toBe(expected.length)
    expect(result.deletedSegments).toBeGreaterThan(0)
    expect(log.logStartOffset).toBe(before[expected.length].baseOffset)
    expect(log.segments()[0].baseOffset).toBe(log.logStartOffset)
    await log.close()
    const again = await openLog(d, config, clock)
    expect(again.logStartOffset).toBe(before[expected.length].baseOffset)
    expect(again.read(again.logStartOffset, 1).firstOffset).toBe(again.logStartOffset)
    await again.close()
  })

  it('never deletes the active segment but rolls it once older than segment.ms so it can go later', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 1 << 20, segmentMs: 5_000, retentionMs: 60_000 }), clock)
    appendAt(log, clock, 2, 1000)
    expect((await log.housekeeping()).rolled).toBe(false)
    clock.advance(3_003) // the first batch's timestamp is t0 + 2 (its last record's)
    const rolled = await log.housekeeping()
    expect(rolled).toMatchObject({ rolled: true, deletedSegments: 0 })
    expect(log.activeSegmentBaseOffset).toBe(6)
    expect(log.logEndOffset).toBe(6)
    clock.advance(60_000)
    const deleted = await log.housekeeping()
    expect(deleted.deletedSegments).toBe(1)
    expect(log.logStartOffset).toBe(6)
    expect(log.segments().map((s) => s.baseOffset)).toEqual([6])
    // An empty active segment is never rolled or deleted.
    clock.advance(1_000_000)
    expect(await log.housekeeping()).toMatchObject({ rolled: false, deletedSegments: 0 })
    await log.close()
  })

  it('trims the oldest segments while what remains stays at or above retention.bytes', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 600, retentionMs: -1 }), clock)
    appendAt(log, clock, 16, 10)
    const sizes = log.segments().map((s) => s.sizeBytes)
    const total = sizes.reduce((a, b) => a + b, 0)
    const limit = total - sizes[0] - sizes[1] + 1 // room to drop exactly one segment
    log.updateConfig({ ...log.config, retentionBytes: limit })
    const result = await log.housekeeping()
    expect(result.deletedSegments).toBe(1)
    expect(log.sizeBytes).toBe(total - sizes[0])
    expect(log.sizeBytes).toBeGreaterThanOrEqual(limit)
    await log.close()
  })

  it('applies no retention deletion to a compact-only topic', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 600, retentionMs: 1, cleanupPolicy: 'compact' }), clock)
    appendAt(log, clock, 12, 1000)
    expect((await log.housekeeping()).deletedSegments).toBe(0)
    await log.close()
  })

  it('selects only a prefix and never the last segment', () => {
    const segs = [
      { baseOffset: 0, sizeBytes: 10, maxTimestampMs: 1 },
      { baseOffset: 5, sizeBytes: 10, maxTimestampMs: 100 },
      { baseOffset: 9, sizeBytes: 10, maxTimestampMs: 2 },
      { baseOffset: 12, sizeBytes: 10, maxTimestampMs: 3 },
    ]
    expect(expiredByTime(segs, 50, 10)).toBe(1)
    expect(expiredByTime(segs, 1000, 10)).toBe(3)
    expect(expiredByTime(segs, 1000, -1)).toBe(0)
    expect(expiredBySize(segs, 15)).toBe(2)
    expect(expiredBySize(segs, 0)).toBe(3)
    expect(expiredBySize(segs, -1)).toBe(0)
  })
})
