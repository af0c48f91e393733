import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { InlineCompactor } from '../../src/storage/compaction.js'
import { compactionFileName } from '../../src/storage/compaction-recovery.js'
import { type CompactionSegmentRef, compactSegments } from '../../src/storage/compaction-task.js'
import { CompressionType, DELETE_HORIZON_BIT } from '../../src/records/record-batch.js'
import {
  type ReadRecord,
  type TestBatch,
  latestPerKey,
  readBatches,
  readRecords,
  segmentFiles,
  tempDir,
  writeSegment,
} from './compaction-helpers.js'

const T0 = 1_700_000_000_000
const DAY_MS = 86_400_000
const dirs: string[] = []

function newDir(): string {
  const dir = tempDir()
  dirs.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function rec(key: string | null, value: string | null, timestampMs = T0): { key: string | null; value: string | null; timestampMs: number } {
  return { key, value, timestampMs }
}

function compact(dir: string, segments: CompactionSegmentRef[], overrides: Partial<{ nowMs: number; deleteRetentionMs: number; minCompactionLagMs: number; offsetMapKeysMax: number }> = {}) {
  return compactSegments({ dir, segments, nowMs: T0 + 1000, deleteRetentionMs: DAY_MS, minCompactionLagMs: 0, ...overrides })
}

/** Three segments of one-record-per-key updates: offsets 0-9, 10-19, 20-29, keys k0..k3 cycling. */
function updatesLog(dir: string, compression: number = CompressionType.NONE): CompactionSegmentRef[] {
  const segments: CompactionSegmentRef[] = []
  for (let s = 0; s < 3; s++) {
    const batches: TestBatch[] = []
    for (let b = 0; b < 2; b++) {
      const baseOffset = s * 10 + b * 5
      const records = Array.from({ length: 5 }, (_, i) => rec(`k${(baseOffset + i) % 4}`, `v${baseOffset + i}`, T0 + baseOffset + i))
      batches.push({ baseOffset, records, compression })
    }
    segments.push(writeSegment(dir, s * 10, batches))
  }
  return segments
}

describe('compaction', () => {
  it('keeps the latest value per key, each at its original offset', () => {
    const dir = newDir()
    const segments = updatesLog(dir)
    const before = readRecords(dir)
    const result = compact(dir, segments)
    const after = readRecords(dir)
    expect(after).toEqual(latestPerKey(before))
    expect(after.map((r) => r.offset)).toEqual([26, 27, 28, 29])
    expect(result.recordsRead).toBe(30)
    expect(result.recordsKept).toBe(4)
    expect(result.cleanedBaseOffsets).toEqual([0, 10, 20])
  })

  it('keeps base offsets and lastOffsetDelta of rewritten batches and drops emptied ones', () => {
    const dir = newDir()
    const seg = writeSegment(dir, 0, [
      { baseOffset: 0, records: [rec('a', '1'), rec('b', '1'), rec('c', '1')] },
      { baseOffset: 3, records: [rec('a', '2'), rec('b', '2'), rec('d', '1')], partitionLeaderEpoch: 7 },
      { baseOffset: 6, records: [rec('d', '2'), rec('e', '1')] },
    ])
    const tail = writeSegment(dir, 8, [{ baseOffset: 8, records: [rec('d', '3'), rec('e', '2')] }])
    compact(dir, [seg, tail])
    const batches = readBatches(dir)
    expect(batches.map((b) => [b.header.baseOffset, b.header.lastOffsetDelta, b.header.recordCount])).toEqual([
      [0, 2, 1], // only c survives; the batch still spans 0..2
      [3, 2, 2], // a@3, b@4 survive, d@5 does not; lastOffsetDelta stays 2
      [8, 1, 2], // the batch at 6 lost both records and is gone
    ])
    expect(batches[1].header.partitionLeaderEpoch).toBe(7)
    expect(batches[1].records.map((r) => [r.offset, r.key, r.value])).toEqual([
      [3, 'a', '2'],
      [4, 'b', '2'],
    ])
  })

  it('agrees with the latest-per-key model for random update sequences', () => {
    const recordArb = fc.record({ key: fc.option(fc.integer({ min: 0, max: 6 }), { freq: 10 }), tombstone: fc.boolean() })
    const arb = fc.array(fc.array(fc.array(recordArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 })
    fc.assert(
      fc.property(arb, fc.constantFrom(CompressionType.NONE, CompressionType.GZIP), (segmentsSpec, compression) => {
        const dir = newDir()
        let offset = 0
        const segments = segmentsSpec.map((batchesSpec) => {
          const base = offset
          const batches = batchesSpec.map((recordsSpec) => {
            const batch: TestBatch = {
              baseOffset: offset,
              compression,
              records: recordsSpec.map((r, i) => rec(r.key === null ? null : `k${r.key}`, r.tombstone ? null : `v${offset + i}`, T0 + offset + i)),
            }
            offset += recordsSpec.length
            return batch
          })
          return writeSegment(dir, base, batches)
        })
        const before = readRecords(dir)
        compact(dir, segments)
        // Tombstones are within delete.retention.ms, so they stay like any latest record.
        expect(readRecords(dir)).toEqual(latestPerKey(before))
        fs.rmSync(dir, { recursive: true, force: true })
      }),
      { seed: 42, numRuns: 60 },
    )
  })

  it('keeps a tombstone until delete.retention.ms after the cleaning that stamped it, then drops it', () => {
    const dir = newDir()
    const segments = [
      writeSegment(dir, 0, [{ baseOffset: 0, records: [rec('a', '1', T0), rec('b', '1', T0)] }]),
      writeSegment(dir, 2, [{ baseOffset: 2, records: [rec('a', null, T0 + 5), rec('c', '1', T0 + 6)] }]),
    ]
    const retentionMs = 10_000
    const first = T0 + 100
    compact(dir, segments, { nowMs: first, deleteRetentionMs: retentionMs })
    let batches = readBatches(dir)
    expect(readRecords(dir).map((r) => [r.offset, r.key, r.value])).toEqual([
      [1, 'b', '1'],
      [2, 'a', null],
      [3, 'c', '1'],
    ])
    const stamped = batches[1]
    expect(stamped.header.attributes & DELETE_HORIZON_BIT).toBe(DELETE_HORIZON_BIT)
    expect(stamped.header.baseTimestamp).toBe(first + retentionMs)
    // Record timestamps survive the horizon taking the base timestamp's place.
    expect(stamped.records.map((r) => r.timestampMs)).toEqual([T0 + 5, T0 + 6])

    // A later cleaning before the horizon keeps the tombstone and does not move the horizon.
    compact(dir, segments, { nowMs: first + retentionMs - 1, deleteRetentionMs: retentionMs })
    batches = readBatches(dir)
    expect(batches[1].header.baseTimestamp).toBe(first + retentionMs)
    expect(readRecords(dir).some((r) => r.key === 'a')).toBe(true)

    compact(dir, segments, { nowMs: first + retentionMs, deleteRetentionMs: retentionMs })
    expect(readRecords(dir).map((r) => [r.offset, r.key, r.value])).toEqual([
      [1, 'b', '1'],
      [3, 'c', '1'],
    ])
  })

  it('keeps LogAppendTime batches LogAppendTime, with their append time, through a rewrite and a horizon stamp', () => {
    const dir = newDir()
    const appendMs = T0 + 777
    const segments = [
      writeSegment(dir, 0, [{ baseOffset: 0, records: [rec('a', '1'), rec('b', null), rec('a', '2')], logAppendTimeMs: appendMs }]),
    ]
    compact(dir, segments)
    const [only] = readBatches(dir)
    expect(only.header.attributes & 0x08).toBe(0x08)
    expect(only.header.attributes & DELETE_HORIZON_BIT).toBe(DELETE_HORIZON_BIT)
    expect(only.header.maxTimestamp).toBe(appendMs)
    expect(only.records.map((r) => [r.offset, r.key, r.value, r.timestampMs])).toEqual([
      [1, 'b', null, appendMs],
      [2, 'a', '2', appendMs],
    ])
  })

  it('respects min.compaction.lag.ms: young segments are neither cleaned nor mapped', () => {
    const dir = newDir()
    const segments = [
      writeSegment(dir, 0, [{ baseOffset: 0, records: [rec('a', '1', T0), rec('a', '2', T0)] }]),
      writeSegment(dir, 2, [{ baseOffset: 2, records: [rec('b', '1', T0 + 50_000), rec('b', '2', T0 + 50_000)] }]),
      writeSegment(dir, 4, [{ baseOffset: 4, records: [rec('a', '3', T0), rec('b', '3', T0)] }]),
    ]
    // Segment 2 holds records younger than the lag, so cleaning stops before it, even though
    // segment 4 is old: the cleanable range is a prefix, as Kafka's first uncleanable offset is.
    const result = compact(dir, segments, { nowMs: T0 + 60_000, minCompactionLagMs: 30_000 })
    expect(result.cleanedBaseOffsets).toEqual([0])
    expect(readRecords(dir).map((r) => [r.offset, r.key, r.value])).toEqual([
      [1, 'a', '2'], // a@1 is kept: a@4 lies past the cleanable range
      [2, 'b', '1'],
      [3, 'b', '2'],
      [4, 'a', '3'],
      [5, 'b', '3'],
    ])
    // Once old enough, everything is cleaned.
    compact(dir, segments, { nowMs: T0 + 90_000, minCompactionLagMs: 30_000 })
    expect(readRecords(dir).map((r) => r.offset)).toEqual([4, 5])
  })

  for (const [name, type] of Object.entries(CompressionType).filter(([, t]) => t !== CompressionType.NONE)) {
    it(`compacts ${name.toLowerCase()} batches and keeps them ${name.toLowerCase()}`, () => {
      const dir = newDir()
      const plainDir = newDir()
      const segments = updatesLog(dir, type)
      updatesLog(plainDir)
      compact(dir, segments)
      compact(plainDir, [0, 10, 20].map((b) => ({ baseOffset: b, path: path.join(plainDir, compactionFileName(b, '.log')) })))
      const batches = readBatches(dir)
      expect(batches.length).toBeGreaterThan(0)
      for (const b of batches) expect(b.header.attributes & 0x07).toBe(type)
      expect(readRecords(dir)).toEqual(readRecords(plainDir))
      expect(readRecords(dir).map((r) => r.value)).toEqual(['v26', 'v27', 'v28', 'v29'])
    })
  }

  it("keeps an idempotent producer's emptied last batch as an empty header, and drops its earlier ones", () => {
    const dir = newDir()
    const producer = { producerId: 42, producerEpoch: 1 }
    const segments = [
      writeSegment(dir, 0, [
        { baseOffset: 0, records: [rec('a', '1'), rec('b', '1')], ...producer, baseSequence: 0 },
        { baseOffset: 2, records: [rec('a', '2'), rec('b', '2')], ...producer, baseSequence: 2 },
      ]),
      writeSegment(dir, 4, [{ baseOffset: 4, records: [rec('a', '3'), rec('b', '3')] }]),
    ]
    compact(dir, segments)
    const batches = readBatches(dir)
    expect(batches.map((b) => b.header.baseOffset)).toEqual([2, 4])
    const empty = batches[0].header
    expect(empty).toMatchObject({ recordCount: 0, lastOffsetDelta: 1, producerId: 42, producerEpoch: 1, baseSequence: 2 })
  })

  it('keeps control batches and records without keys', () => {
    const dir = newDir()
    const segments = [
      writeSegment(dir, 0, [
        { baseOffset: 0, records: [rec(null, 'x'), rec('a', '1')] },
        { baseOffset: 2, records: [rec(null, 'marker')], isControl: true, producerId: 9, producerEpoch: 0 },
        { baseOffset: 3, records: [rec('a', '2')] },
      ]),
    ]
    compact(dir, segments)
    const batches = readBatches(dir)
    expect(batches.map((b) => [b.header.baseOffset, b.records.map((r) => r.value)])).toEqual([
      [0, ['x']],
      [2, ['marker']],
      [3, ['2']],
    ])
  })

  it('removes segments left empty except the first, and deletes the swapped segments\u2019 stale indexes', () => {
    const dir = newDir()
    const segments = [
      writeSegment(dir, 0, [{ baseOffset: 0, records: [rec('a', '1')] }]),
      writeSegment(dir, 1, [{ baseOffset: 1, records: [rec('a', '2')] }]),
      writeSegment(dir, 2, [{ baseOffset: 2, records: [rec('a', '3')] }]),
    ]
    const result = compact(dir, segments)
    expect(result.removedBaseOffsets).toEqual([1])
    expect(segmentFiles(dir)).toEqual([compactionFileName(0, '.log'), compactionFileName(2, '.log')])
    expect(fs.statSync(path.join(dir, compactionFileName(0, '.log'))).size).toBe(0)
    expect(readRecords(dir).map((r) => r.offset)).toEqual([2])
  })

  it('still keeps the latest value per key when the key map is full (weaker, never wrong)', () => {
    const dir = newDir()
    const segments = updatesLog(dir)
    const before = readRecords(dir)
    compact(dir, segments, { offsetMapKeysMax: 2 })
    const after = readRecords(dir)
    // Every latest record survives, offsets intact; unmapped keys keep their older records.
    expect(after).toEqual(expect.arrayContaining(latestPerKey(before)))
    for (const r of after) expect(before).toContainEqual(r)
    expect(after.length).toBeLessThan(before.length)
    const lastValue = new Map<string, string | null>()
    for (const r of after) lastValue.set(r.key!, r.value)
    expect(Object.fromEntries(lastValue)).toEqual({ k0: 'v28', k1: 'v29', k2: 'v26', k3: 'v27' })
  })

  it('refuses a corrupt batch and leaves the segments untouched', () => {
    const dir = newDir()
    const segments = updatesLog(dir)
    const victim = segments[1].path
    const bytes = fs.readFileSync(victim)
    bytes[bytes.length - 2] ^= 0xff
    fs.writeFileSync(victim, bytes)
    const filesBefore = segmentFiles(dir)
    expect(() => compact(dir, segments)).toThrow(/CRC/)
    expect(segmentFiles(dir)).toEqual(filesBefore)
    expect(fs.readFileSync(victim)).toEqual(bytes)
  })

  it('runs through InlineCompactor with a ManualClock-driven now', async () => {
    const dir = newDir()
    const clock = new ManualClock(T0)
    const segments = updatesLog(dir)
    const compactor = new InlineCompactor()
    await compactor.compact({ dir, segments, nowMs: clock.nowMs(), deleteRetentionMs: DAY_MS, minCompactionLagMs: 60_000 })
    expect(readRecords(dir)).toHaveLength(30)
    clock.advance(60_030)
    await compactor.compact({ dir, segments, nowMs: clock.nowMs(), deleteRetentionMs: DAY_MS, minCompactionLagMs: 60_000 })
    expect(readRecords(dir).map((r: ReadRecord) => r.offset)).toEqual([26, 27, 28, 29])
    await compactor.close()
  })
})
