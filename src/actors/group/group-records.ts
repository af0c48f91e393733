/**
 * The records a group coordinator keeps in its partition of `__consumer_offsets`, in Kafka's own
 * formats, so tools that read that topic (Burrow, kafka-console-consumer's offsets formatter)
 * understand them. Each record is a key and a value (a null value is a tombstone, which
 * compaction eventually removes with the key):
 *
 *   offset commit   key   version 1: int16 version, string group, string topic, int32 partition
 *                   value version 3: int16 version, int64 offset, int32 leader epoch,
 *                                    string metadata, int64 commit timestamp
 *   group metadata  key   version 2: int16 version, string group
 *                   value version 3: int16 version, string protocol type, int32 generation,
 *                                    nullable string protocol, nullable string leader,
 *                                    int64 state timestamp, array of members (string member id,
 *                                    nullable string instance id, string client id, string client
 *                                    host, int32 rebalance timeout, int32 session timeout,
 *                                    bytes subscription, bytes assignment)
 *
 * Strings are int16-length-prefixed, bytes int32-length-prefixed, arrays int32-counted (the
 * non-flexible encodings). Older value versions are read too (v0-v2 offsets, v0-v2 groups); the
 * flexible versions (offset value v4, group value v4, which only Kafka 3.x's new coordinator
 * writes) are read by skipping their tagged fields.
 */
import { ownedBytes } from '../../common/owned-bytes.js'
import { Reader } from '../../protocol/reader.js'
import { Writer } from '../../protocol/writer.js'

export interface OffsetValue {
  offset: number
  leaderEpoch: number
  metadata: string
  commitTimestampMs: number
}

export interface GroupMemberValue {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs: number
  sessionTimeoutMs: number
  subscription: Buffer
  assignment: Buffer
}

export interface GroupValue {
  protocolType: string
  generation: number
  protocol: string | null
  leader: string | null
  currentStateTimestampMs: number
  members: GroupMemberValue[]
}

export type GroupRecord =
  | { type: 'offset'; groupId: string; topic: string; partition: number; value: OffsetValue | null }
  | { type: 'group'; groupId: string; value: GroupValue | null }

const OFFSET_KEY_VERSION = 1
const GROUP_KEY_VERSION = 2
const OFFSET_VALUE_VERSION = 3
const GROUP_VALUE_VERSION = 3

export function encodeKey(record: GroupRecord): Buffer {
  const w = new Writer(64)
  if (record.type === 'offset') {
    w.int16(OFFSET_KEY_VERSION)
    w.string(record.groupId)
    w.string(record.topic)
    w.int32(record.partition)
  } else {
    w.int16(GROUP_KEY_VERSION)
    w.string(record.groupId)
  }
  return w.toBuffer()
}

/** The value bytes, or null for a tombstone. */
export function encodeValue(record: GroupRecord): Buffer | null {
  if (record.value === null) return null
  const w = new Writer(128)
  if (record.type === 'offset') {
    const v = record.value
    w.int16(OFFSET_VALUE_VERSION)
    w.int64(v.offset)
    w.int32(v.leaderEpoch)
    w.string(v.metadata)
    w.int64(v.commitTimestampMs)
    return w.toBuffer()
  }
  const v = record.value
  w.int16(GROUP_VALUE_VERSION)
  w.string(v.protocolType)
  w.int32(v.generation)
  w.nullableString(v.protocol)
  w.nullableString(v.leader)
  w.int64(v.currentStateTimestampMs)
  w.int32(v.members.length)
  for (const m of v.members) {
    w.string(m.memberId)
    w.nullableString(m.groupInstanceId)
    w.string(m.clientId)
    w.string(m.clientHost)
    w.int32(m.rebalanceTimeoutMs)
    w.int32(m.sessionTimeoutMs)
    w.bytes(m.subscription)
    w.bytes(m.assignment)
  }
  return w.toBuffer()
}

/**
 * The record a key and value hold, or null for keys of other kinds (transaction markers and the
 * like never appear here, but a future key version must not stop a coordinator from loading).
 */
export function decodeRecord(key: Buffer, value: Buffer | null): GroupRecord | null {
  const k = new Reader(key)
  const keyVersion = k.int16()
  if (keyVersion === 0 || keyVersion === 1) {
    const groupId = k.string()
    const topic = k.string()
    const partition = k.int32()
    return { type: 'offset', groupId, topic, partition, value: value === null ? null : decodeOffsetValue(value) }
  }
  if (keyVersion === GROUP_KEY_VERSION) {
    const groupId = k.string()
    return { type: 'group', groupId, value: value === null ? null : decodeGroupValue(value) }
  }
  return null
}

function decodeOffsetValue(bytes: Buffer): OffsetValue {
  const r = new Reader(bytes)
  const version = r.int16()
  const flexible = version >= 4
  const str = (): string => (flexible ? r.compactString() : r.string())
  const offset = r.int64()
  const leaderEpoch = version >= 3 ? r.int32() : -1
  const metadata = str()
  const commitTimestampMs = r.int64()
  // v1 also carried an expire timestamp, which Kafka no longer honours.
  if (version === 1) r.int64()
  if (flexible) r.skipTaggedFields()
  return { offset, leaderEpoch, metadata, commitTimestampMs }
}

function decodeGroupValue(bytes: Buffer): GroupValue {
  const r = new Reader(bytes)
  const version = r.int16()
  const flexible = version >= 4
  const str = (): string => (flexible ? r.compactString() : r.string())
  const nullableStr = (): string | null => (flexible ? r.compactNullableString() : r.nullableString())
  const bytesField = (): Buffer => (flexible ? r.compactBytes() : r.bytes())
  const protocolType = str()
  const generation = r.int32()
  const protocol = nullableStr()
  const leader = nullableStr()
  const currentStateTimestampMs = version >= 2 ? r.int64() : -1
  const count = flexible ? r.uvarint() - 1 : r.int32()
  const members: GroupMemberValue[] = []
  // Bounded by the value's bytes: every member reads at least its fixed fields or throws.
  for (let i = 0; i < count; i++) {
    const memberId = str()
    const groupInstanceId = version >= 3 ? nullableStr() : null
    const clientId = str()
    const clientHost = str()
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : -1
    const sessionTimeoutMs = r.int32()
    // A loaded group keeps these for as long as it lives (see ownedBytes).
    const subscription = ownedBytes(bytesField())
    const assignment = ownedBytes(bytesField())
    if (flexible) r.skipTaggedFields()
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs, sessionTimeoutMs, subscription, assignment })
  }
  if (flexible) r.skipTaggedFields()
  return { protocolType, generation, protocol, leader, currentStateTimestampMs, members }
}

/**
 * Kafka's placement of a group on a partition of __consumer_offsets: the Java String.hashCode of
 * the group id, made non-negative (Utils.abs maps Integer.MIN_VALUE to 0), modulo the count.
 */
export function groupPartition(groupId: string, partitionCount: number): number {
  let hash = 0
  for (let i = 0; i < groupId.length; i++) hash = (Math.imul(31, hash) + groupId.charCodeAt(i)) | 0
  const nonNegative = hash === -2147483648 ? 0 : Math.abs(hash)
  return nonNegative % partitionCount
}
