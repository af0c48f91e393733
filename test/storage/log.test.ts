import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { realFileSystem, type FileSystem } from '../../src/storage/file-system.js'
import { PartitionLog } from '../../src/storage/log.js'
import { decodeRecords, readBatchHeader, validateBatch } from '../../src/records/record-batch.js'
import { batch, openLog, removeDir, smallConfig, snapshotDir, tempDir } from './helpers.js'

const dirs: string[] = []
function dir(): string {
  const d = tempDir()
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof KafkaError) return error.errorCode
    throw error
  }
  return undefined
}

/** Appends `n` batches of 3 records each; returns the stamped bytes of each batch. */
function appendMany(log: PartitionLog, n: number, clock: ManualClock, epoch = 0): Buffer[] {
  const out = []
  for (let i = 0; i < n; i++) {
    const b = batch(3, clock.nowMs(), { tag: i })
    log.append(b, { leaderEpoch: epoch, assignOffsets: true })
    out.push(Buffer.from(b))
  }
  return out
}

describe('PartitionLog append and read', () => {
  it('finds a batch near the log end without reading the file to look for it, and the rest as before', async () => {
    const clock = new ManualClock()
    let reads = 0
    const counting: FileSystem = { ...realFileSystem, readSync: (...args) => (reads++, realFileSystem.readSync(...args)) }
    const log = await PartitionLog.open(dir(), smallConfig({ segmentBytes: 1 << 20 }), { clock, files: new FileHandleCache({ fs: counting }) })
    const stamped = appendMany(log, 40, clock)
    reads = 0
    // The last batch, as a follower or a consumer at the tail asks for it: one read, of the batch.
    const tail = log.read(117, 1 << 20)
    expect(tail.records.equals(stamped[39])).toBe(true)
    expect(reads).toBe(1)
    // From inside a recent batch, and past the end.
    expect(log.read(112, 1 << 20).records.equals(Buffer.concat(stamped.slice(37)))).toBe(true)
    expect(log.read(120, 1 << 20).records.length).toBe(0)
    // Far behind: found by walking from the index, as before.
    expect(log.read(4, 1).records.equals(stamped[1])).toBe(true)
    // A cut forgets what it removed, and the batches appended after it are found again.
    log.truncateTo(111)
    expect(log.read(108, 1 << 20).records.equals(stamped[36])).toBe(true)
    const after = appendMany(log, 2, clock)
    expect(log.read(111, 1 << 20).records.equals(Buffer.concat(after))).toBe(true)
    expect(log.read(114, 1 << 20).records.equals(after[1])).toBe(true)
    await log.close()
  })

  it('assigns offsets from the log end and stamps base offset and leader epoch', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig(), clock)
    const first = log.append(batch(3, clock.nowMs()), { leaderEpoch: 5, assignOffsets: true })
    const second = log.append(batch(2, clock.nowMs()), { leaderEpoch: 5, assignOffsets: true })
    expect(first).toMatchObject({ baseOffset: 0, lastOffset: 2, batchCount: 1, logAppendTimeMs: -1 })
    expect(second).toMatchObject({ baseOffset: 3, lastOffset: 4 })
    expect(log.logEndOffset).toBe(5)
    const read = log.read(3, 1 << 20)
    expect(readBatchHeader(read.records, 0)).toMatchObject({ baseOffset: 3, partitionLeaderEpoch: 5 })
    expect(decodeRecords(read.records).map((r) => r.offset)).toEqual([3, 4])
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 5, startOffset: 0 }])
    await log.close()
  })

  it('appends several batches of one request as a unit', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig(), clock)
    const result = log.append(Buffer.concat([batch(2, 100), batch(3, 200)]), { leaderEpoch: 0, assignOffsets: true })
    expect(result).toMatchObject({ baseOffset: 0, lastOffset: 4, batchCount: 2, firstTimestampMs: 100, maxTimestampMs: 202 })
    expect(log.read(0, 1 << 20).batchCount).toBe(2)
    await log.close()
  })

  it('returns whole batches from the one holding the offset, at least one even past maxBytes (KIP-74)', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 1 << 20 }), clock)
    const stamped = appendMany(log, 10, clock)
    const all = log.read(0, 1 << 20)
    expect(all.records.equals(Buffer.concat(stamped))).toBe(true)
    expect(all).toMatchObject({ batchCount: 10, firstOffset: 0, nextOffset: 30 })
    const one = log.read(4, 1)
    expect(one.records.equals(stamped[1])).toBe(true)
    const two = log.read(4, stamped[1].length + stamped[2].length + 10)
    expect(two.batchCount).toBe(2)
    await log.close()
  })

  it('answers OFFSET_OUT_OF_RANGE below the start or past the end, and nothing at the end', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig(), clock)
    appendMany(log, 2, clock)
    expect(codeOf(() => log.read(-1, 100))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(codeOf(() => log.read(7, 100))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(log.read(6, 100)).toMatchObject({ batchCount: 0, nextOffset: 6 })
    expect(log.read(6, 100).records.length).toBe(0)
    await log.close()
  })

  it('never returns a batch at or past maxOffset (the high watermark)', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 1 << 20 }), clock)
    appendMany(log, 4, clock)
    expect(log.read(0, 1 << 20, { maxOffset: 6 })).toMatchObject({ batchCount: 2, nextOffset: 6 })
    expect(log.read(6, 1 << 20, { maxOffset: 6 }).batchCount).toBe(0)
    expect(log.read(0, 1 << 20, { maxOffset: 7 }).batchCount).toBe(3)
    await log.close()
  })

  it('rolls a new segment when a batch would pass segment.bytes, and reads across segments', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 600 }), clock)
    const stamped = appendMany(log, 12, clock)
    const segments = log.segments()
    expect(segments.length).toBeGreaterThanOrEqual(3)
    for (const s of segments) expect(s.sizeBytes).toBeLessThanOrEqual(600)
    expect(segments.map((s) => s.baseOffset)).toEqual([...segments.map((s) => s.baseOffset)].sort((a, b) => a - b))
    expect(log.activeSegmentBaseOffset).toBe(segments[segments.length - 1].baseOffset)
    for (let i = 0; i < stamped.length; i++) {
      expect(log.read(i * 3 + 1, 1).records.equals(stamped[i])).toBe(true)
    }
    expect(fs.readdirSync(log.dir).filter((n) => n.endsWith('.log')).sort()[1]).toBe(
      String(segments[1].baseOffset).padStart(20, '0') + '.log',
    )
    await log.close()
  })

  it('rolls on segment.ms measured from the first batch timestamp', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 1 << 20, segmentMs: 1000 }), clock)
    appendMany(log, 2, clock)
    clock.advance(1000)
    appendMany(log, 1, clock)
    expect(log.segments().length).toBe(1)
    clock.advance(1)
    appendMany(log, 1, clock)
    expect(log.segments().map((s) => s.baseOffset)).toEqual([0, 9])
    await log.close()
  })

  it('finds the first offset at or after a timestamp, agreeing with a scan', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 700, indexIntervalBytes: 100 }), clock)
    // Timestamps not monotonic across batches, as CreateTime allows.
    const times = [100, 300, 200, 500, 400, 700, 600, 900, 800, 1000, 950, 1200]
    const all: Array<{ offset: number; ts: number }> = []
    for (const t of times) {
      const r = log.append(batch(3, t), { leaderEpoch: 0, assignOffsets: true })
      for (let i = 0; i < 3; i++) all.push({ offset: r.baseOffset + i, ts: t + i })
    }
    for (let t = 0; t <= 1300; t += 7) {
      const expected = all.find((r) => r.ts >= t)
      const found = log.offsetForTimestamp(t)
      expect(found).toEqual(expected === undefined ? null : { offset: expected.offset, timestampMs: expected.ts })
    }
    await log.close()
  })

  it('stamps LogAppendTime and recomputes the CRC', async () => {
    const clock = new ManualClock(5_000)
    const log = await openLog(dir(), smallConfig({ messageTimestampType: 'LogAppendTime' }), clock)
    const result = log.append(batch(2, 1), { leaderEpoch: 0, assignOffsets: true })
    expect(result.logAppendTimeMs).toBe(5_000)
    const read = log.read(0, 1000).records
    expect(validateBatch(read, 0, read.length, { fromProducer: false })).toBe(read.length)
    expect(decodeRecords(read).map((r) => r.timestampMs)).toEqual([5_000, 5_000])
    await log.close()
  })

  it('reads the same bytes, offsets and indexes after a clean close and reopen', async () => {
    const d = dir()
    const clock = new ManualClock()
    const config = smallConfig({ segmentBytes: 900 })
    const log = await openLog(d, config, clock)
    appendMany(log, 20, clock)
    const before = { bytes: log.read(0, 1 << 20).records, end: log.logEndOffset, segments: log.segments(), indexes: log.indexEntries() }
    const everything = log.segments().map((s) => log.read(s.baseOffset, 1 << 20).records)
    await log.close()
    // The marker is the log directory's now (the caller writes it); a log writes none of its own.
    expect(fs.existsSync(path.join(d, 'clean-shutdown'))).toBe(false)
    const again = await openLog(d, config, clock)
    expect(again.logEndOffset).toBe(before.end)
    expect(again.segments()).toEqual(before.segments)
    expect(again.indexEntries()).toEqual(before.indexes)
    expect(again.read(0, 1 << 20).records.equals(before.bytes)).toBe(true)
    expect(again.segments().map((s) => again.read(s.baseOffset, 1 << 20).records)).toEqual(everything)
    // Appends continue where the log ended.
    expect(again.append(batch(1, clock.nowMs()), { leaderEpoch: 0, assignOffsets: true }).baseOffset).toBe(before.end)
    await again.close()
  })

  it('rebuilds missing or damaged index files to the same entries', async () => {
    const d = dir()
    const clock = new ManualClock()
    const config = smallConfig({ segmentBytes: 900, indexIntervalBytes: 100 })
    const log = await openLog(d, config, clock)
    appendMany(log, 20, clock)
    const indexes = log.indexEntries()
    await log.close()
    const names = fs.readdirSync(d)
    const index = names.filter((n) => n.endsWith('.index'))
    const timeIndex = names.filter((n) => n.endsWith('.timeindex'))
    fs.rmSync(path.join(d, index[0]))
    fs.writeFileSync(path.join(d, index[1]), Buffer.from([1, 2, 3]))
    fs.writeFileSync(path.join(d, timeIndex[2]), Buffer.alloc(24))
    const again = await openLog(d, config, clock)
    expect(again.indexEntries()).toEqual(indexes)
    await again.close()
  })

  it('moves the log start with deleteRecordsBefore, deleting whole segments below it, and keeps it', async () => {
    const d = dir()
    const clock = new ManualClock()
    const log = await openLog(d, smallConfig({ segmentBytes: 600 }), clock)
    appendMany(log, 12, clock)
    const second = log.segments()[1]
    expect(log.deleteRecordsBefore(second.baseOffset + 1)).toBe(second.baseOffset + 1)
    expect(log.segments()[0].baseOffset).toBe(second.baseOffset)
    expect(codeOf(() => log.read(second.baseOffset, 100))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(log.read(second.baseOffset + 1, 1).firstOffset).toBe(second.baseOffset)
    expect(codeOf(() => log.deleteRecordsBefore(log.logEndOffset + 1))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    await log.close()
    const again = await openLog(d, smallConfig({ segmentBytes: 600 }), clock)
    expect(again.logStartOffset).toBe(second.baseOffset + 1)
    await again.close()
  })

  it('keeps a follower batch its own offsets and learns the leader epochs from it', async () => {
    const clock = new ManualClock()
    const leader = await openLog(dir(), smallConfig(), clock)
    leader.append(batch(2, 1), { leaderEpoch: 3, assignOffsets: true })
    leader.append(batch(2, 2), { leaderEpoch: 4, assignOffsets: true })
    const follower = await openLog(dir(), smallConfig(), clock)
    const fetched = leader.read(0, 1 << 20).records
    const result = follower.append(Buffer.from(fetched), { leaderEpoch: 4, assignOffsets: false })
    expect(result).toMatchObject({ baseOffset: 0, lastOffset: 3, batchCount: 2 })
    expect(follower.read(0, 1 << 20).records.equals(fetched)).toBe(true)
    expect(follower.leaderEpochs.entries()).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 4, startOffset: 2 },
    ])
    expect(() => follower.append(Buffer.from(fetched), { leaderEpoch: 4, assignOffsets: false })).toThrow(/below the expected/)
    await leader.close()
    await follower.close()
  })
})

describe('PartitionLog.approximateBytesBetween', () => {
  it('bounds the bytes between two offsets from above, within an index interval at each end, reading nothing', async () => {
    const d = dir()
    const clock = new ManualClock()
    const log = await openLog(d, smallConfig({ segmentBytes: 4_000, indexIntervalBytes: 256 }), clock)
    appendMany(log, 60, clock)
    const end = log.logEndOffset
    expect(log.approximateBytesBetween(end, end)).toBe(0)
    for (const [from, to] of [
      [0, end],
      [10, 40],
      [37, 38],
      [0, 3],
    ]) {
      let actual = 0
      // Reads stop at a segment's end: read on until `to`.
      for (let offset = from; offset < to; ) {
        const read = log.read(offset, 1 << 30, { maxOffset: to })
        if (read.batchCount === 0) break
        actual += read.records.length
        offset = read.nextOffset
      }
      const estimate = log.approximateBytesBetween(from, to)
      expect(estimate).toBeGreaterThanOrEqual(actual - 512)
      expect(estimate).toBeLessThanOrEqual(actual + 2 * 256 + 512)
    }
    await log.close()
  })
})

describe('PartitionLog truncation and leader epochs', () => {
  it('truncates to an offset across segments, drops later epochs and keeps it after reopen', async () => {
    const d = dir()
    const clock = new ManualClock()
    const config = smallConfig({ segmentBytes: 600 })
    const log = await openLog(d, config, clock)
    const stamped = [...appendMany(log, 6, clock, 1), ...appendMany(log, 6, clock, 2)]
    expect(log.leaderEpochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 18 },
    ])
    expect(log.leaderEpochs.endOffsetFor(1)).toEqual({ epoch: 1, endOffset: 18 })
    expect(log.leaderEpochs.endOffsetFor(2)).toEqual({ epoch: 2, endOffset: 36 })
    log.truncateTo(15)
    expect(log.logEndOffset).toBe(15)
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 1, startOffset: 0 }])
    expect(log.leaderEpochs.endOffsetFor(1)).toEqual({ epoch: 1, endOffset: 15 })
    expect(log.read(12, 1).records.equals(stamped[4])).toBe(true)
    expect(codeOf(() => log.read(16, 1))).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    const next = log.append(batch(1, clock.nowMs()), { leaderEpoch: 3, assignOffsets: true })
    expect(next.baseOffset).toBe(15)
    await log.close()
    const again = await openLog(d, config, clock)
    expect(again.logEndOffset).toBe(16)
    expect(again.leaderEpochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 15 },
    ])
    await again.close()
  })

  it('truncates fully when the target is at or below the first segment', async () => {
    const clock = new ManualClock()
    const log = await openLog(dir(), smallConfig({ segmentBytes: 600 }), clock)
    appendMany(log, 6, clock, 1)
    log.truncateTo(0)
    expect(log.logEndOffset).toBe(0)
    expect(log.segments().length).toBe(1)
    expect(log.leaderEpochs.entries()).toEqual([])
    await log.close()
  })

  it('re-derives the leader epochs of unflushed batches from the batches after a crash', async () => {
    const d = dir()
    const clock = new ManualClock()
    const config = smallConfig({ segmentBytes: 600 })
    const log = await openLog(d, config, clock)
    appendMany(log, 2, clock, 1)
    await log.flush()
    appendMany(log, 3, clock, 4)
    expect(log.leaderEpochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 6 },
    ])
    // Simulate a crash: no close; the checkpoint on disk knows epoch 1 only.
    expect(fs.readFileSync(path.join(d, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n1 0\n')
    const again = await openLog(d, config, clock)
    expect(again.logEndOffset).toBe(15)
    expect(again.leaderEpochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 6 },
    ])
    await again.close()
  })

  it('truncates after a crash mid-log and recovers to the same end', async () => {
    const d = dir()
    const clock = new ManualClock()
    const config = smallConfig({ segmentBytes: 600 })
    const log = await openLog(d, config, clock)
    appendMany(log, 8, clock)
    log.truncateTo(10)
    expect(log.logEndOffset).toBe(9)
    await log.flush()
    // Simulate a crash: no close, no marker.
    const again = await openLog(d, config, clock)
    expect(again.logEndOffset).toBe(9)
    await again.close()
  })
})

describe('PartitionLog rejects bad input and stays unchanged', () => {
  async function withLog(config = smallConfig({ segmentBytes: 4000 })): Promise<{ log: PartitionLog; check: (fn: () => unknown, code: number) => void }> {
    const d = dir()
    const clock = new ManualClock()
    const log = await openLog(d, config, clock)
    appendMany(log, 3, clock)
    await log.flush()
    const check = (fn: () => unknown, code: number): void => {
      const end = log.logEndOffset
      const files = snapshotDir(d)
      expect(codeOf(fn)).toBe(code)
      expect(log.logEndOffset).toBe(end)
      expect(snapshotDir(d)).toEqual(files)
    }
    return { log, check }
  }
  const append = (log: PartitionLog, b: Buffer) => () => log.append(b, { leaderEpoch: 0, assignOffsets: true })

  it('CORRUPT_MESSAGE for a bad CRC, bad magic, truncated batch or trailing garbage, even after good batches', async () => {
    const { log, check } = await withLog()
    const flipped = batch(2, 1)
    flipped[flipped.length - 1] ^= 1
    check(append(log, Buffer.concat([batch(2, 1), flipped])), ErrorCode.CORRUPT_MESSAGE)
    const magic = batch(2, 1)
    magic[16] = 1
    check(append(log, magic), ErrorCode.CORRUPT_MESSAGE)
    check(append(log, batch(2, 1).subarray(0, 70)), ErrorCode.CORRUPT_MESSAGE)
    check(append(log, Buffer.concat([batch(2, 1), Buffer.from([1, 2, 3])])), ErrorCode.CORRUPT_MESSAGE)
    check(append(log, Buffer.alloc(0)), ErrorCode.CORRUPT_MESSAGE)
    await log.close()
  })

  it('MESSAGE_TOO_LARGE for a batch over max.message.bytes', async () => {
    const { log, check } = await withLog(smallConfig({ segmentBytes: 4000, maxMessageBytes: 300 }))
    check(append(log, Buffer.concat([batch(1, 1), batch(5, 1, { valueBytes: 100 })])), ErrorCode.MESSAGE_TOO_LARGE)
    await log.close()
  })

  it('RECORD_LIST_TOO_LARGE for a request bigger than a segment', async () => {
    const { log, check } = await withLog(smallConfig({ segmentBytes: 1000 }))
    const many = Buffer.concat(Array.from({ length: 8 }, () => batch(3, 1, { valueBytes: 40 })))
    check(append(log, many), ErrorCode.RECORD_LIST_TOO_LARGE)
    await log.close()
  })

  it('INVALID_RECORD for a keyless record on a compacted topic', async () => {
    const { log, check } = await withLog(smallConfig({ segmentBytes: 4000, cleanupPolicy: 'compact' }))
    check(append(log, Buffer.concat([batch(2, 1), batch(2, 1, { keyless: true })])), ErrorCode.INVALID_RECORD)
    expect(log.append(batch(2, 1), { leaderEpoch: 0, assignOffsets: true }).baseOffset).toBe(9)
    await log.close()
  })

  it('OFFSET_OUT_OF_RANGE for reads outside the log, with nothing changed', async () => {
    const { log, check } = await withLog()
    check(() => log.read(10, 100), ErrorCode.OFFSET_OUT_OF_RANGE)
    check(() => log.deleteRecordsBefore(10), ErrorCode.OFFSET_OUT_OF_RANGE)
    await log.close()
  })

  it('serves a batch whose records rotted on disk as stored (its CRC tells the consumer), and refuses broken framing with KAFKA_STORAGE_ERROR', async () => {
    const d = dir()
    const clock = new ManualClock()
    const log = await openLog(d, smallConfig({ segmentBytes: 600 }), clock)
    appendMany(log, 10, clock)
    await log.close()
    const first = path.join(d, '00000000000000000000.log')
    const bytes = fs.readFileSync(first)
    // A record byte of the first batch: the read does not check CRCs again (Kafka checks them once,
    // at produce), so the batch comes back as stored, and a consumer's check catches it.
    bytes[80] ^= 0xff
    fs.writeFileSync(first, bytes)
    const rotted = await openLog(d, smallConfig({ segmentBytes: 600 }), clock)
    const read = rotted.read(0, 1 << 20).records
    expect(() => validateBatch(read, 0, read.length, { fromProducer: false })).toThrow(/CRC/)
    await rotted.close()
    // The first batch's magic byte: the framing itself is broken, and the read refuses it.
    bytes[16] = 7
    fs.writeFileSync(first, bytes)
    const again = await openLog(d, smallConfig({ segmentBytes: 600 }), clock)
    expect(codeOf(() => again.read(0, 1 << 20))).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    await again.close()
  })
})
