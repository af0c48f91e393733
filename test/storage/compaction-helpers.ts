import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { compactionFileName } from '../../src/storage/compaction-recovery.js'
import type { CompactionSegmentRef } from '../../src/storage/compaction-task.js'
import { compress, decompress } from '../../src/records/compression.js'
import {
  type BatchHeader,
  decodeRecords,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  validateBatch,
} from '../../src/records/record-batch.js'

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
}

export interface TestRecord {
  key: string | null
  /** null makes a tombstone. */
  value: string | null
  timestampMs: number
}

export interface TestBatch {
  baseOffset: number
  records: TestRecord[]
  compression?: number
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  partitionLeaderEpoch?: number
  isControl?: boolean
  /** Stamps the batch as LogAppendTime with this maxTimestamp. */
  logAppendTimeMs?: number
}

export function batchBytes(batch: TestBatch): Buffer {
  const baseTimestamp = batch.records.length > 0 ? batch.records[0].timestampMs : 0
  return encodeBatch({
    records: batch.records.map((r, i) => ({
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      timestampDelta: r.timestampMs - baseTimestamp,
      offsetDelta: i,
    })),
    baseOffset: batch.baseOffset,
    baseTimestamp,
    partitionLeaderEpoch: batch.partitionLeaderEpoch ?? 3,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    isControl: batch.isControl,
    logAppendTime: batch.logAppendTimeMs !== undefined,
    maxTimestamp: batch.logAppendTimeMs,
    compression: batch.compression,
    compress,
  })
}

/** Writes one segment file from batches; returns its reference as the log would pass it. */
export function writeSegment(dir: string, baseOffset: number, batches: TestBatch[]): CompactionSegmentRef {
  const filePath = path.join(dir, compactionFileName(baseOffset, '.log'))
  fs.writeFileSync(filePath, Buffer.concat(batches.map(batchBytes)))
  // Derived files the log would have: compaction must delete them for the swapped segments.
  fs.writeFileSync(path.join(dir, compactionFileName(baseOffset, '.index')), Buffer.alloc(8, 1))
  fs.writeFileSync(path.join(dir, compactionFileName(baseOffset, '.timeindex')), Buffer.alloc(12, 1))
  return { baseOffset, path: filePath }
}

export interface ReadRecord {
  offset: number
  key: string | null
  value: string | null
  timestampMs: number
}

export interface ReadBatch {
  header: BatchHeader
  records: ReadRecord[]
}

/** Every batch of every `.log` in dir, base order, each CRC-checked and decoded. */
export function readBatches(dir: string): ReadBatch[] {
  const bases = fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
  const out: ReadBatch[] = []
  for (const name of bases) {
    const buf = fs.readFileSync(path.join(dir, name))
    const iterator = iterateBatches(buf)
    let step = iterator.next()
    // Bounded by the file's batches.
    while (step.done !== true) {
      const { pos, size } = step.value
      validateBatch(buf, pos, pos + size, { fromProducer: false })
      const header = readBatchHeader(buf, pos)
      const records = decodeRecords(buf.subarray(pos, pos + size), 0, (t, b) => decompress(t, b)).map((r) => ({
        offset: r.offset,
        key: r.key === null ? null : r.key.toString(),
        value: r.value === null ? null : r.value.toString(),
        timestampMs: r.timestampMs,
      }))
      out.push({ header, records })
      step = iterator.next()
    }
    if (step.value !== 0) throw new Error(`${name} has ${step.value} trailing bytes`)
  }
  return out
}

export function readRecords(dir: string): ReadRecord[] {
  return readBatches(dir).flatMap((b) => b.records)
}

/** The reference model: the records a full compaction keeps (latest per key; null keys kept). */
export function latestPerKey(records: ReadRecord[]): ReadRecord[] {
  const latest = new Map<string, number>()
  for (const r of records) if (r.key !== null) latest.set(r.key, r.offset)
  return records.filter((r) => r.key === null || latest.get(r.key) === r.offset)
}

export function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).sort()
}
