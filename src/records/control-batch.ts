/**
 * Kafka's control batches: the COMMIT/ABORT markers a transaction coordinator writes into each
 * partition a transaction touched. A control batch is a v2 batch with the transactional and
 * control attributes set, the producer's id and epoch, base sequence -1, and one record whose
 * key is `version int16 (0) | type int16 (0 = ABORT, 1 = COMMIT)` and whose value is
 * `version int16 (0) | coordinatorEpoch int32` (Kafka's EndTransactionMarker).
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { decodeRecords, encodeBatch, isControlBatch, readBatchHeader, TRANSACTIONAL_BIT } from './record-batch.js'

export const ControlType = { ABORT: 0, COMMIT: 1 } as const
const CONTROL_KEY_VERSION = 0
const MARKER_VALUE_VERSION = 0
const CONTROL_KEY_BYTES = 4
const MARKER_VALUE_BYTES = 6

export interface TxnMarker {
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  commit: boolean
}

/** One control batch holding the marker, at base offset 0 (the leader's append stamps it). */
export function encodeTxnMarkerBatch(marker: TxnMarker, timestampMs: number): Buffer {
  const key = Buffer.alloc(CONTROL_KEY_BYTES)
  key.writeInt16BE(CONTROL_KEY_VERSION, 0)
  key.writeInt16BE(marker.commit ? ControlType.COMMIT : ControlType.ABORT, 2)
  const value = Buffer.alloc(MARKER_VALUE_BYTES)
  value.writeInt16BE(MARKER_VALUE_VERSION, 0)
  value.writeInt32BE(marker.coordinatorEpoch, 2)
  return encodeBatch({
    records: [{ key, value }],
    baseTimestamp: timestampMs,
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    baseSequence: -1,
    isTransactional: true,
    isControl: true,
  })
}

/** The control type of a control batch's record key (ABORT 0, COMMIT 1), read without decoding the batch. */
export function controlTypeOfKey(key: Buffer): number {
  if (key.length < CONTROL_KEY_BYTES) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `control record key of ${key.length} bytes`)
  const version = key.readInt16BE(0)
  if (version < 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `control record key version ${version}`)
  return key.readInt16BE(2)
}

/**
 * The marker a control batch at `pos` carries, or null when the batch is not a transaction marker
 * (not a control batch, or another control type). Control batches are never compressed.
 */
export function decodeTxnMarker(buf: Buffer, pos: number): TxnMarker | null {
  const header = readBatchHeader(buf, pos)
  if (!isControlBatch(header.attributes) || (header.attributes & TRANSACTIONAL_BIT) === 0) return null
  const [record] = decodeRecords(buf, pos)
  if (record === undefined || record.key === null) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'control batch without a keyed record')
  const type = controlTypeOfKey(record.key)
  if (type !== ControlType.ABORT && type !== ControlType.COMMIT) return null
  const value = record.value
  const coordinatorEpoch = value !== null && value.length >= MARKER_VALUE_BYTES ? value.readInt32BE(2) : -1
  return { producerId: header.producerId, producerEpoch: header.producerEpoch, coordinatorEpoch, commit: type === ControlType.COMMIT }
}
