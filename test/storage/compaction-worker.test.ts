import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { CpuPool } from '../../src/runtime/cpu-pool.js'
import { TaskCompactor, type CompactionTaskInput, type CompactionTaskOutcome } from '../../src/storage/compaction.js'
import { compress, decompress } from '../../src/records/compression.js'
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js'
import { PartitionLog } from '../../src/storage/log.js'
import { CompressionType, decodeRecords, encodeBatch, iterateBatches } from '../../src/records/record-batch.js'
import { latestPerKey, readRecords, tempDir, writeSegment } from './compaction-helpers.js'

// These tests load the compiled task from dist/: run `npm run build` first.

const T0 = 1_700_000_000_000
const dirs: string[] = []
const pools: CpuPool[] = []

afterEach(async () => {
  for (const p of pools.splice(0)) await p.close()
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

function newDir(): string {
  const dir = tempDir()
  dirs.push(dir)
  return dir
}

/** A compactor on a CPU pool of one worker thread, as a shard has (storage builds no pool). */
function newCompactor(): TaskCompactor {
  const pool = new CpuPool({ maxThreads: 1 })
  pools.push(pool)
  return new TaskCompactor((filename, task) => pool.runTask<CompactionTaskInput, CompactionTaskOutcome>(filename, task))
}

function batch(key: string, value: string | null, timestampMs: number, compression: number = CompressionType.NONE): Buffer {
  return encodeBatch({
    records: [{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) }],
    baseTimestamp: timestampMs,
    compression,
    compress,
  })
}

interface LogRecord {
  offset: number
  key: string
  value: string | null
}

function readAll(log: PartitionLog): LogRecord[] {
  const out: LogRecord[] = []
  let offset = log.logStartOffset
  // Bounded: each read advances offset past at least one batch, or stops.
  while (offset < log.logEndOffset) {
    const result = log.read(offset, 1 << 20)
    if (result.batchCount === 0) break
    for (const { pos, size } of iterateBatches(result.records)) {
      for (const r of decodeRecords(result.records.subarray(pos, pos + size), 0, (t, b) => decompress(t, b))) {
        out.push({ offset: r.offset, key: r.key!.toString(), value: r.value === null ? null : r.value.toString() })
      }
    }
    expect(result.nextOffset).toBeGreaterThan(offset)
    offset = result.nextOffset
  }
  return out
}

describe('compaction on a worker thread', () => {
  it('compacts a log directory through the task compactor on a worker thread', async () => {
    const dir = newDir()
    const segments = [0, 1, 2].map((s) =>
      writeSegment(dir, s * 4, [
        {
          baseOffset: s * 4,
          compression: CompressionType.GZIP,
          records: [0, 1, 2, 3].map((i) => ({ key: `k${(s * 4 + i) % 3}`, value: `v${s * 4 + i}`, timestampMs: T0 })),
        },
      ]),
    )
    const before = readRecords(dir)
    const result = await newCompactor().run({ dir, segments, nowMs: T0 + 1, deleteRetentionMs: 1000, minCompactionLagMs: 0 })
    expect(result.cleanedBaseOffsets).toEqual([0, 4, 8])
    expect(readRecords(dir)).toEqual(latestPerKey(before))
    expect(readRecords(dir).map((r) => r.offset)).toEqual([9, 10, 11])
  })

  it('reports a corrupt segment as an error from the worker', async () => {
    const dir = newDir()
    const seg = writeSegment(dir, 0, [{ baseOffset: 0, records: [{ key: 'a', value: '1', timestampMs: T0 }] }])
    const bytes = fs.readFileSync(seg.path)
    bytes[bytes.length - 1] ^= 0x01
    fs.writeFileSync(seg.path, bytes)
    const failure = newCompactor().compact({ dir, segments: [seg], nowMs: T0, deleteRetentionMs: 0, minCompactionLagMs: 0 })
    await expect(failure).rejects.toThrow(/CRC/)
    await expect(failure).rejects.toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE })
    expect(fs.readFileSync(seg.path)).toEqual(bytes)
  })

  it('compacts a PartitionLog with cleanup.policy=compact during housekeeping, and reopens to the same records', async () => {
    const dir = newDir()
    const clock = new ManualClock(T0)
    const config: LogConfig = { ...DEFAULT_LOG_CONFIG, cleanupPolicy: 'compact', segmentBytes: 300, deleteRetentionMs: 10_000 }
    const compactor = newCompactor()
    let log = await PartitionLog.open(dir, config, { clock, compactor, decompress: (t, b) => decompress(t, b) })
    for (let i = 0; i < 30; i++) {
      // Offset 20 is a tombstone for k2, the last record of k2.
      const key = i > 20 && i % 6 === 2 ? 'k6' : `k${i % 6}`
      const value = i === 20 ? null : `v${i}`
      log.append(batch(key, value, clock.nowMs(), i % 2 === 0 ? CompressionType.GZIP : CompressionType.NONE), { leaderEpoch: 0, assignOffsets: true })
      clock.advance(1)
    }
    expect(log.segments().length).toBeGreaterThan(3)
    const before = readAll(log)
    const activeBase = log.activeSegmentBaseOffset
    expect(activeBase).toBeGreaterThan(20)
    const segmentsBefore = log.segments().length
    const housekeeping = await log.housekeeping()
    expect(housekeeping.compactedSegments).toBeGreaterThan(0)
    // Fully overwritten segments (other than the first) are gone from disk and from the log.
    expect(log.segments().length).toBeLessThan(segmentsBefore)

    // Latest per key over the non-active segments; the active segment is never touched.
    const cleanedPart = latestPerKey(before.filter((r) => r.offset < activeBase).map((r) => ({ ...r, timestampMs: 0 }))).map(({ offset, key, value }) => ({ offset, key, value }))
    const expected = [...cleanedPart, ...before.filter((r) => r.offset >= activeBase)]
    expect(expected.length).toBeLessThan(before.length)
    expect(readAll(log)).toEqual(expected)
    expect(readAll(log).some((r) => r.offset === 20 && r.value === null)).toBe(true)

    // Appends still work after the reload, and a reopen rebuilds the deleted indexes.
    log.append(batch('k0', 'after', clock.nowMs()), { leaderEpoch: 0, assignOffsets: true })
    await log.close()
    log = await PartitionLog.open(dir, config, { clock, compactor, decompress: (t, b) => decompress(t, b) })
    expect(readAll(log)).toEqual([...expected, { offset: 30, key: 'k0', value: 'after' }])

    // Past delete.retention.ms after the cleaning that stamped it, the tombstone goes, and no
    // older k2 value comes back.
    clock.advance(10_001)
    await log.housekeeping()
    const final = readAll(log)
    expect(final.some((r) => r.offset === 20)).toBe(false)
    expect(final.some((r) => r.key === 'k2' && r.offset < 20)).toBe(false)
    await log.close()
  })
})
