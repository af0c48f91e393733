/**
 * The records a transaction coordinator keeps in its partition of `__transaction_state`, in
 * Kafka's own format (TransactionLogKey / TransactionLogValue), so the topic reads as Kafka's:
 *
 *   key   version 0: int16 version, string transactionalId
 *   value version 0: int16 version, int64 producerId, int16 producerEpoch, int32 timeoutMs,
 *                    int8 state, nullable array of { string topic, array of int32 partition },
 *                    int64 lastUpdateTimestampMs, int64 startTimestampMs
 *
 * A null value is a tombstone: the transactional id expired. Strings are int16-length-prefixed,
 * arrays int32-counted. The flexible value v1 (Kafka 4's, with tagged fields) is read too.
 */
import { Reader } from '../../protocol/reader.js'
import { Writer } from '../../protocol/writer.js'

/** Kafka's TransactionState ids, as stored. */
export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const
export type TxnStateName = keyof typeof TxnState
const STATE_NAMES = Object.keys(TxnState) as TxnStateName[]

export interface TxnPartition {
  topic: string
  partition: number
}

export interface TxnValue {
  producerId: number
  producerEpoch: number
  timeoutMs: number
  state: TxnStateName
  partitions: TxnPartition[]
  lastUpdateTimestampMs: number
  startTimestampMs: number
}

export interface TxnRecord {
  transactionalId: string
  value: TxnValue | null
}

const KEY_VERSION = 0
const VALUE_VERSION = 0

export function encodeTxnKey(transactionalId: string): Buffer {
  const w = new Writer(32)
  w.int16(KEY_VERSION)
  w.string(transactionalId)
  return w.toBuffer()
}

export function encodeTxnValue(value: TxnValue | null): Buffer | null {
  if (value === null) return null
  const w = new Writer(64)
  w.int16(VALUE_VERSION)
  w.int64(value.producerId)
  w.int16(value.producerEpoch)
  w.int32(value.timeoutMs)
  w.int8(TxnState[value.state])
  const byTopic = new Map<string, number[]>()
  for (const p of value.partitions) {
    const list = byTopic.get(p.topic)
    if (list === undefined) byTopic.set(p.topic, [p.partition])
    else list.push(p.partition)
  }
  w.int32(byTopic.size)
  for (const [topic, partitions] of byTopic) {
    w.string(topic)
    w.int32(partitions.length)
    for (const p of partitions) w.int32(p)
  }
  w.int64(value.lastUpdateTimestampMs)
  w.int64(value.startTimestampMs)
  return w.toBuffer()
}

/** The record a key and value hold, or null for a key of another version (skipped on load). */
export function decodeTxnRecord(key: Buffer, value: Buffer | null): TxnRecord | null {
  const k = new Reader(key)
  if (k.int16() !== KEY_VERSION) return null
  const transactionalId = k.string()
  return { transactionalId, value: value === null ? null : decodeTxnValue(value) }
}

function decodeTxnValue(bytes: Buffer): TxnValue {
  const r = new Reader(bytes)
  const version = r.int16()
  const flexible = version >= 1
  const producerId = r.int64()
  const producerEpoch = r.int16()
  const timeoutMs = r.int32()
  const stateId = r.int8()
  const state = STATE_NAMES[stateId]
  if (state === undefined) throw new Error(`unknown transaction state ${stateId}`)
  const partitions: TxnPartition[] = []
  const topics = flexible ? r.uvarint() - 1 : r.int32()
  // Bounded by the value's bytes: each entry reads its fields or throws.
  for (let i = 0; i < topics; i++) {
    const topic = flexible ? r.compactString() : r.string()
    const count = flexible ? r.uvarint() - 1 : r.int32()
    for (let j = 0; j < count; j++) partitions.push({ topic, partition: r.int32() })
    if (flexible) r.skipTaggedFields()
  }
  const lastUpdateTimestampMs = r.int64()
  const startTimestampMs = r.int64()
  if (flexible) r.skipTaggedFields()
  return { producerId, producerEpoch, timeoutMs, state, partitions, lastUpdateTimestampMs, startTimestampMs }
}
