/**
 * The on-disk form of a partition's producer state (`<logDir>/producer-state.snapshot`), so a
 * restart replays only the log tail written after it. Big-endian, CRC-32C protected:
 *
 *   version int16 (3) | crc uint32 of every byte after it | coveredOffset int64 | count int32 |
 *   count x { producerId int64 | epoch int16 | lastTimestampMs int64 | currentTxnFirstOffset int64 |
 *             coordinatorEpoch int32 | batchCount int8 |
 *             batchCount x { firstSeq int32 | lastSeq int32 | firstOffset int64 |
 *                            lastOffset int64 | timestampMs int64 } }
 *
 * `coveredOffset` is the log end offset the state reflects: replay resumes there. Unlike Kafka's
 * snapshot (which keeps one batch per producer), all five retained batches are kept, so duplicate
 * detection is as good after a restart as before it. `currentTxnFirstOffset` is where the
 * producer's open transaction began (-1: none), as Kafka's snapshot records it, so the last stable
 * offset is right after a restart that replays only the tail. `coordinatorEpoch` is that of the
 * producer's last marker (Kafka's snapshot keeps it too), so a coordinator that moved stays fenced
 * across a restart. Versions 1 (no transactions) and 2 (no coordinator epoch) still load, with
 * no open transaction and coordinator epoch -1 respectively.
 */
import { crc32c } from '../../records/crc32c.js'
import { readInt64, writeInt64 } from '../../records/record-batch.js'
import { BATCHES_RETAINED, type ProducerEntry, type ProducerState } from './producer-state.js'

const VERSION = 3
const VERSION_WITHOUT_COORDINATOR_EPOCH = 2
const VERSION_WITHOUT_TXNS = 1
const HEADER_BYTES = 2 + 4 + 8 + 4
const ENTRY_BYTES = 8 + 2 + 8 + 8 + 4 + 1
const ENTRY_BYTES_V2 = 8 + 2 + 8 + 8 + 1
const ENTRY_BYTES_V1 = 8 + 2 + 8 + 1
const BATCH_BYTES = 4 + 4 + 8 + 8 + 8

export interface DecodedSnapshot {
  coveredOffset: number
  entries: ProducerEntry[]
}

export function encodeProducerSnapshot(state: ProducerState, coveredOffset: number): Buffer {
  let size = HEADER_BYTES
  for (const entry of state.entries()) size += ENTRY_BYTES + entry.batches.length * BATCH_BYTES
  const buf = Buffer.alloc(size)
  buf.writeInt16BE(VERSION, 0)
  writeInt64(buf, 6, coveredOffset)
  buf.writeInt32BE(state.size, 14)
  let pos = HEADER_BYTES
  for (const entry of state.entries()) {
    writeInt64(buf, pos, entry.producerId)
    buf.writeInt16BE(entry.epoch, pos + 8)
    writeInt64(buf, pos + 10, entry.lastTimestampMs)
    writeInt64(buf, pos + 18, entry.currentTxnFirstOffset)
    buf.writeInt32BE(entry.coordinatorEpoch, pos + 26)
    buf.writeInt8(entry.batches.length, pos + 30)
    pos += ENTRY_BYTES
    for (const b of entry.batches) {
      buf.writeInt32BE(b.firstSeq, pos)
      buf.writeInt32BE(b.lastSeq, pos + 4)
      writeInt64(buf, pos + 8, b.firstOffset)
      writeInt64(buf, pos + 16, b.lastOffset)
      writeInt64(buf, pos + 24, b.timestampMs)
      pos += BATCH_BYTES
    }
  }
  buf.writeUInt32BE(crc32c(buf, 6), 2)
  return buf
}

/** Decodes a snapshot, or returns null when it is torn, corrupt or of an unknown version. */
export function decodeProducerSnapshot(buf: Buffer): DecodedSnapshot | null {
  if (buf.length < HEADER_BYTES) return null
  const version = buf.readInt16BE(0)
  if (version !== VERSION && version !== VERSION_WITHOUT_COORDINATOR_EPOCH && version !== VERSION_WITHOUT_TXNS) return null
  const entryBytes = version === VERSION ? ENTRY_BYTES : version === VERSION_WITHOUT_COORDINATOR_EPOCH ? ENTRY_BYTES_V2 : ENTRY_BYTES_V1
  if (buf.readUInt32BE(2) !== crc32c(buf, 6)) return null
  const coveredOffset = readInt64(buf, 6)
  const count = buf.readInt32BE(14)
  if (coveredOffset < 0 || count < 0) return null
  const entries: ProducerEntry[] = []
  let pos = HEADER_BYTES
  // Bounded by count, and every step checks the remaining length.
  for (let i = 0; i < count; i++) {
    if (pos + entryBytes > buf.length) return null
    const batchCount = buf.readInt8(pos + entryBytes - 1)
    if (batchCount < 0 || batchCount > BATCHES_RETAINED) return null
    const entry: ProducerEntry = {
      producerId: readInt64(buf, pos),
      epoch: buf.readInt16BE(pos + 8),
      lastTimestampMs: readInt64(buf, pos + 10),
      batches: [],
      currentTxnFirstOffset: version === VERSION_WITHOUT_TXNS ? -1 : readInt64(buf, pos + 18),
      coordinatorEpoch: version === VERSION ? buf.readInt32BE(pos + 26) : -1,
    }
    if (entry.currentTxnFirstOffset < -1 || entry.currentTxnFirstOffset >= coveredOffset) return null
    pos += entryBytes
    if (pos + batchCount * BATCH_BYTES > buf.length) return null
    for (let b = 0; b < batchCount; b++) {
      entry.batches.push({
        firstSeq: buf.readInt32BE(pos),
        lastSeq: buf.readInt32BE(pos + 4),
        firstOffset: readInt64(buf, pos + 8),
        lastOffset: readInt64(buf, pos + 16),
        timestampMs: readInt64(buf, pos + 24),
      })
      pos += BATCH_BYTES
    }
    entries.push(entry)
  }
  if (pos !== buf.length) return null
  return { coveredOffset, entries }
}
