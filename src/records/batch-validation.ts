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
