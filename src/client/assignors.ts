/**
 * Client-side pieces of Kafka's consumer protocol: the "range" and "roundrobin" partition
 * assignors, computed as the Java client does (and as kafkajs's round robin does when members
 * share one subscription), and the ConsumerProtocolSubscription / ConsumerProtocolAssignment
 * encodings carried opaquely in JoinGroup metadata and SyncGroup assignments. Hand-written: the
 * formats are tiny, non-flexible (classic int16/int32 lengths) and fixed.
 */
import { assert } from '../common/assert.js'

export interface AssignorMember {
  memberId: string
  /** Static members (KIP-345) sort by instance id, ahead of dynamic ones, as in Java. */
  groupInstanceId?: string | null
  topics: string[]
}

/** memberId -> topic -> partitions, each list ascending; every member has an entry. */
export type GroupAssignment = Record<string, Record<string, number[]>>

export type PartitionCounts = Record<string, number>

// Java's MemberInfo order: static members by instance id first, then dynamic by member id.
function compareMembers(a: AssignorMember, b: AssignorMember): number {
  const aStatic = a.groupInstanceId ?? null
  const bStatic = b.groupInstanceId ?? null
  if (aStatic !== null && bStatic !== null) return compareStrings(aStatic, bStatic)
  if (aStatic !== null) return -1
  if (bStatic !== null) return 1
  return compareStrings(a.memberId, b.memberId)
}

// UTF-16 code unit order, as Java's String.compareTo and JavaScript's default sort use.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function emptyAssignment(members: AssignorMember[]): GroupAssignment {
  const assignment: GroupAssignment = {}
  for (const member of members) assignment[member.memberId] = {}
  return assignment
}

function give(assignment: GroupAssignment, memberId: string, topic: string, partition: number): void {
  const topics = assignment[memberId]
  ;(topics[topic] ??= []).push(partition)
}

/**
 * Range: per topic, the subscribed members in order each take a contiguous run of partitions;
 * the first `partitions % members` take one extra.
 */
export function rangeAssign(members: AssignorMember[], partitionCounts: PartitionCounts): GroupAssignment {
  const assignment = emptyAssignment(members)
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings)
  for (const topic of topics) {
    const count = partitionCounts[topic]
    if (count === undefined) continue
    const subscribers = members.filter((m) => m.topics.includes(topic)).sort(compareMembers)
    const perMember = Math.floor(count / subscribers.length)
    const extra = count % subscribers.length
    subscribers.forEach((member, i) => {
      const start = perMember * i + Math.min(i, extra)
      const length = perMember + (i < extra ? 1 : 0)
      for (let p = start; p < start + length; p++) give(assignment, member.memberId, topic, p)
    })
  }
  return assignment
}

/**
 * Round robin: all partitions of all subscribed topics, sorted by topic then partition, dealt to
 * the members in order, skipping a member not subscribed to the partition's topic.
 */
export function roundRobinAssign(members: AssignorMember[], partitionCounts: PartitionCounts): GroupAssignment {
  const assignment = emptyAssignment(members)
  if (members.length === 0) return assignment
  const sorted = [...members].sort(compareMembers)
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings)
  let next = 0
  for (const topic of topics) {
    const count = partitionCounts[topic] ?? 0
    for (let partition = 0; partition < count; partition++) {
      // Bounded: some member subscribes to `topic` (it came from a subscription), so at most one lap.
      let tries = 0
      while (!sorted[next % sorted.length].topics.includes(topic)) {
        next++
        assert(++tries <= sorted.length, `no member subscribes to ${topic}`)
      }
      give(assignment, sorted[next % sorted.length].memberId, topic, partition)
      next++
    }
  }
  return assignment
}

// ---------------------------------------------------------------- Consumer protocol encodings

export interface TopicPartitions {
  topic: string
  partitions: number[]
}

export interface ConsumerSubscription {
  /** 0 or 1 when encoding; any version decodes (newer fields are read as far as v1 goes). */
  version: number
  topics: string[]
  userData: Buffer | null
  /** v1+ (cooperative rebalancing); empty for v0. */
  ownedPartitions: TopicPartitions[]
}

export interface ConsumerAssignment {
  version: number
  assignedPartitions: TopicPartitions[]
  userData: Buffer | null
}

class Writer {
  readonly #chunks: Buffer[] = []

  int16(value: number): this {
    const b = Buffer.alloc(2)
    b.writeInt16BE(value)
    this.#chunks.push(b)
    return this
  }

  int32(value: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32BE(value)
    this.#chunks.push(b)
    return this
  }

  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8')
    assert(bytes.length <= 0x7fff, 'string longer than an int16 length allows')
    this.int16(bytes.length)
    this.#chunks.push(bytes)
    return this
  }

  bytes(value: Buffer | null): this {
    if (value === null) return this.int32(-1)
    this.int32(value.length)
    this.#chunks.push(value)
    return this
  }

  topicPartitions(list: TopicPartitions[]): this {
    this.int32(list.length)
    for (const { topic, partitions } of list) {
      this.string(topic)
      this.int32(partitions.length)
      for (const p of partitions) this.int32(p)
    }
    return this
  }

  done(): Buffer {
    return Buffer.concat(this.#chunks)
  }
}

class Reader {
  #offset = 0
  readonly #buf: Buffer

  constructor(buf: Buffer) {
    this.#buf = buf
  }

  get remaining(): number {
    return this.#buf.length - this.#offset
  }

  #need(bytes: number): void {
    if (bytes < 0 || this.#offset + bytes > this.#buf.length) throw new RangeError('consumer protocol data is truncated')
  }

  int16(): number {
    this.#need(2)
    const v = this.#buf.readInt16BE(this.#offset)
    this.#offset += 2
    return v
  }

  int32(): number {
    this.#need(4)
    const v = this.#buf.readInt32BE(this.#offset)
    this.#offset += 4
    return v
  }

  string(): string {
    const length = this.int16()
    this.#need(length)
    const v = this.#buf.toString('utf8', this.#offset, this.#offset + length)
    this.#offset += length
    return v
  }

  bytes(): Buffer | null {
    const length = this.int32()
    if (length === -1) return null
    this.#need(length)
    const v = Buffer.from(this.#buf.subarray(this.#offset, this.#offset + length))
    this.#offset += length
    return v
  }

  // An array count must fit in what is left (each element is at least one byte), which bounds loops.
  count(): number {
    const n = this.int32()
    if (n < 0 || n > this.remaining) throw new RangeError(`bad array length ${n} in consumer protocol data`)
    return n
  }

  topicPartitions(): TopicPartitions[] {
    const list: TopicPartitions[] = []
    for (let i = this.count(); i > 0; i--) {
      const topic = this.string()
      const partitions: number[] = []
      for (let j = this.count(); j > 0; j--) partitions.push(this.int32())
      list.push({ topic, partitions })
    }
    return list
  }
}

/** JoinGroup metadata for protocol type "consumer"; kafkajs writes v0 fields with empty user data. */
export function encodeSubscription(subscription: { version?: number; topics: string[]; userData?: Buffer | null; ownedPartitions?: TopicPartitions[] }): Buffer {
  const version = subscription.version ?? 0
  assert(version === 0 || version === 1, `subscription version ${version} is not written here`)
  const writer = new Writer().int16(version)
  writer.int32(subscription.topics.length)
  for (const topic of subscription.topics) writer.string(topic)
  writer.bytes(subscription.userData === undefined ? Buffer.alloc(0) : subscription.userData)
  if (version >= 1) writer.topicPartitions(subscription.ownedPartitions ?? [])
  return writer.done()
}

export function decodeSubscription(data: Buffer): ConsumerSubscription {
  const reader = new Reader(data)
  const version = reader.int16()
  const topics: string[] = []
  for (let i = reader.count(); i > 0; i--) topics.push(reader.string())
  const userData = reader.bytes()
  // v1 fields are "ignorable": a v1+ writer (kafkajs among them) may leave them out.
  const ownedPartitions = version >= 1 && reader.remaining > 0 ? reader.topicPartitions() : []
  return { version, topics, userData, ownedPartitions }
}

/** SyncGroup assignment for protocol type "consumer". */
export function encodeAssignment(assignment: { version?: number; assignedPartitions: TopicPartitions[]; userData?: Buffer | null }): Buffer {
  const version = assignment.version ?? 0
  assert(version === 0 || version === 1, `assignment version ${version} is not written here`)
  return new Writer()
    .int16(version)
    .topicPartitions(assignment.assignedPartitions)
    .bytes(assignment.userData === undefined ? Buffer.alloc(0) : assignment.userData)
    .done()
}

/** An empty buffer (a member the leader assigned nothing) decodes to no partitions. */
export function decodeAssignment(data: Buffer): ConsumerAssignment {
  if (data.length === 0) return { version: 0, assignedPartitions: [], userData: null }
  const reader = new Reader(data)
  const version = reader.int16()
  const assignedPartitions = reader.topicPartitions()
  const userData = reader.bytes()
  return { version, assignedPartitions, userData }
}

/** A member's share of a GroupAssignment as the list the assignment encoding carries. */
export function toTopicPartitions(topics: Record<string, number[]>): TopicPartitions[] {
  return Object.keys(topics)
    .sort(compareStrings)
    .map((topic) => ({ topic, partitions: [...topics[topic]].sort((a, b) => a - b) }))
}
