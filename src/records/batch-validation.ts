/**
 * Validation that is CPU work with no state, so the partition actor runs it on the CPU pool (see
 * batch-validation-task.ts) rather than on its shard:
 * - compressed batches, as Kafka's LogValidator checks them: the header's CRC says the bytes
 *   arrived as sent, but only decompressing shows that the records inside are well formed, as
 *   many as the header claims, with dense offset deltas, and keyed where the topic is compacted;
 * - the CRC and framing of every batch of a large produce, so the shard's append can skip them.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { decompress } from './compression.js'
import {
  ATTRIBUTES_OFFSET,
  CompressionType,
  compressionOf,
  decodeRecords,
  isControlBatch,
  iterateBatches,
  readBatchHeader,
  validateBatch,
} from './record-batch.js'

/** A produce at least this large has its CRCs checked on the CPU pool instead of the shard. */
export const CRC_OFFLOAD_BYTES_MIN = 256 * 1024

/**
 * A smaller compressed produce is checked on the shard itself while its batches inflate to at most
 * this much: a trip to the CPU pool (a copy, two messages between threads and a wake-up of each)
 * costs more than inflating a few hundred KiB, and a shard whose produces are all small never
 * starts the pool's threads. A batch that would inflate further is checked on the pool, as before.
 */
export const INLINE_DECOMPRESSED_BYTES_MAX = 512 * 1024

export interface BatchValidationInput {
  records: Uint8Array
  /** Compacted topics refuse records without a key (INVALID_RECORD). */
  requireKeys: boolean
  /** The largest a batch may inflate to (a compressed bomb is refused before it fills memory). */
  decompressedBytesMax: number
  /** Also check every batch's CRC and framing (large produces). */
  checkCrc: boolean
}

export interface BatchValidationVerdict {
  errorCode: number
  errorMessage: string | null
}

/**
 * Where a produce's records are checked before their append:
 * - none: uncompressed and small, so the append's own checks suffice
 * - here: a small compressed produce, already checked on the calling thread (`verdict`)
 * - pool: a produce of CRC_OFFLOAD_BYTES_MIN or more, or one whose compressed batches inflate past
 *   INLINE_DECOMPRESSED_BYTES_MAX: the CPU pool checks it against the full bound
 */
export type ValidationPlan = { where: 'none' } | { where: 'here'; verdict: BatchValidationVerdict } | { where: 'pool'; checkCrc: boolean }

export function planValidation(records: Buffer, requireKeys: boolean): ValidationPlan {
  const checkCrc = records.length >= CRC_OFFLOAD_BYTES_MIN
  if (checkCrc) return { where: 'pool', checkCrc }
  if (!hasCompressedBatch(records)) return { where: 'none' }
  const verdict = validateCompressedBatches({ records, requireKeys, decompressedBytesMax: INLINE_DECOMPRESSED_BYTES_MAX, checkCrc: false })
  return verdict.errorCode === ErrorCode.RECORD_LIST_TOO_LARGE ? { where: 'pool', checkCrc } : { where: 'here', verdict }
}

/** True when any batch in `records` is compressed, so it needs the deep check. */
export function hasCompressedBatch(records: Buffer): boolean {
  for (const { pos } of iterateBatches(records)) {
    if (compressionOf(records.readInt16BE(pos + ATTRIBUTES_OFFSET)) !== CompressionType.NONE) return true
  }
  return false
}

export function validateCompressedBatches(input: BatchValidationInput): BatchValidationVerdict {
  const records = Buffer.from(input.records.buffer, input.records.byteOffset, input.records.byteLength)
  try {
    if (input.checkCrc) {
      for (let pos = 0; pos < records.length; ) pos += validateBatch(records, pos, records.length, { fromProducer: true })
    }
    for (const { pos } of iterateBatches(records)) {
      const header = readBatchHeader(records, pos)
      if (compressionOf(header.attributes) === CompressionType.NONE || isControlBatch(header.attributes)) continue
      const decoded = decodeRecords(records, pos, (type, bytes) => decompress(type, bytes, input.decompressedBytesMax))
      if (decoded.length === 0 || header.lastOffsetDelta + 1 !== decoded.length) {
        throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `compressed batch claims ${header.lastOffsetDelta + 1} records, holds ${decoded.length}`)
      }
      for (let i = 0; i < decoded.length; i++) {
        if (decoded[i].offset !== header.baseOffset + i) {
          throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `compressed record ${i} has offset delta ${decoded[i].offset - header.baseOffset}`)
        }
        if (input.requireKeys && decoded[i].key === null) {
          throw new KafkaError(ErrorCode.INVALID_RECORD, 'Compacted topic cannot accept message without key')
        }
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null }
  } catch (error) {
    if (error instanceof KafkaError) return { errorCode: error.errorCode, errorMessage: error.message }
    return { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: error instanceof Error ? error.message : String(error) }
  }
}
