/**
 * Record sets for generated Produce requests: mostly whole, valid v2 batches (sometimes
 * compressed, sometimes idempotent), and otherwise batches broken inside while the request around
 * them stays well-formed: wrong record counts, CRCs, lengths, offset deltas, magic bytes or
 * compression bits, cut short, or followed by junk. The protocol layer passes such a record set
 * through untouched, so these reach the broker's batch validation.
 */
import { compress } from '../../src/records/compression.js'
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  CompressionType,
  CRC_OFFSET,
  encodeBatch,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordInput,
} from '../../src/records/record-batch.js'
import type { Rng } from './rng.js'

const COMPRESSIONS = [CompressionType.NONE, CompressionType.NONE, CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD]

/** Keys never collide with the known records' (`known-...`), so compaction cannot supersede them. */
function record(rng: Rng, index: number): RecordInput {
  const key = rng.chance(0.9) ? Buffer.from(`fz-key-${rng.next().toString(36)}-${index}`) : null
  const value = rng.chance(0.95) ? rng.bytes(rng.between(0, 64)) : null
  const headers = rng.chance(0.1) ? [{ key: `h${rng.below(4)}`, value: rng.chance(0.8) ? rng.bytes(rng.below(8)) : null }] : undefined
  return { key, value, headers, timestampDelta: rng.chance(0.9) ? index : rng.int32() }
}

function timestamp(rng: Rng, baseMs: number): number {
  switch (rng.below(8)) {
    case 0:
      return -1
    case 1:
      // Far from now, yet with room for the record deltas inside a safe integer.
      return rng.pick([0, 2 ** 52, -(2 ** 52), baseMs + 365 * 86_400_000])
    default:
      return baseMs + rng.between(-60_000, 60_000)
  }
}

/** One valid batch of 1-5 records. */
export function validBatch(rng: Rng, baseTimestampMs: number): Buffer {
  const records = Array.from({ length: rng.between(1, 5) }, (_, i) => record(rng, i))
  const idempotent = rng.chance(0.2)
  return encodeBatch({
    records,
    baseTimestamp: timestamp(rng, baseTimestampMs),
    producerId: idempotent ? rng.between(0, 5) : -1,
    producerEpoch: idempotent ? rng.between(0, 2) : -1,
    baseSequence: idempotent ? rng.pick([0, 1, rng.between(0, 100), 2 ** 31 - 1]) : -1,
    compression: rng.pick(COMPRESSIONS),
    compress,
    logAppendTime: rng.chance(0.05),
    isTransactional: rng.chance(0.03),
    isControl: rng.chance(0.02),
  })
}

type Damage = 'count' | 'crc' | 'length' | 'offsetDelta' | 'magic' | 'compression' | 'cut' | 'junk' | 'empty'

/** Breaks one field of a batch (in place where it can, else into a new buffer). */
function damage(rng: Rng, batch: Buffer): Buffer {
  const kind = rng.pick<Damage>(['count', 'crc', 'length', 'offsetDelta', 'magic', 'compression', 'cut', 'junk', 'empty'])
  const out = Buffer.from(batch)
  switch (kind) {
    case 'count':
      out.writeInt32BE(rng.pick([-1, 0, 2 ** 31 - 1, out.readInt32BE(RECORD_COUNT_OFFSET) + rng.pick([-1, 1, 1000])]), RECORD_COUNT_OFFSET)
      return out
    case 'crc':
      out.writeUInt32BE(rng.next(), CRC_OFFSET)
      return out
    case 'length':
      out.writeInt32BE(rng.pick([-1, 0, 1, 2 ** 31 - 1, out.readInt32BE(BATCH_LENGTH_OFFSET) + rng.pick([-1, 1, 100])]), BATCH_LENGTH_OFFSET)
      return out
    case 'offsetDelta':
      out.writeInt32BE(rng.pick([-1, 2 ** 31 - 1, out.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + rng.pick([-1, 1, 5])]), LAST_OFFSET_DELTA_OFFSET)
      return out
    case 'magic':
      out.writeInt8(rng.pick([0, 1, 3, -1]), MAGIC_OFFSET)
      return out
    case 'compression':
      out.writeInt16BE((out.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | rng.between(1, 7), ATTRIBUTES_OFFSET)
      return out
    case 'cut':
      return out.subarray(0, rng.below(out.length))
    case 'junk':
      return Buffer.concat([out, rng.bytes(rng.between(1, 40))])
    case 'empty':
      return out.subarray(0, rng.below(RECORDS_OFFSET))
  }
}

/** A Produce record set: one or more batches, each possibly damaged, or null. */
export function recordSet(rng: Rng, baseTimestampMs: number): Buffer | null {
  if (rng.chance(0.03)) return null
  const batches = Array.from({ length: rng.chance(0.85) ? 1 : rng.between(2, 3) }, () => validBatch(rng, baseTimestampMs))
  if (rng.chance(0.25)) {
    const at = rng.below(batches.length)
    batches[at] = damage(rng, batches[at])
  }
  return Buffer.concat(batches)
}
