/**
 * Partition replicas in memory, for a broker node tested without threads: the supervisor spawns
 * and talks to them through the ActorHost interface, and the node's core reaches them through
 * PartitionAccess. Each partition is an array of batches. It assigns offsets by rewriting base
 * offsets (as a leader does), parks fetches that find nothing until a produce, a cancel or
 * maxWaitMs, and answers listOffsets and deleteRecords. No replication: the "leader" is the whole
 * log, and the high watermark is its end.
 */
import { partitionActorId, type OpenPartition, type PartitionReplies, type PartitionRequest } from '../../src/actors/partition-messages.js'
import type { ActiveProducer, FetchPartitionResult, ProduceResult, ReplicaConfig } from '../../src/actors/partition/replica-types.js'
import type { LocalReply, PartitionAccess } from '../../src/broker/local-partitions.js'
import type { ActorHost } from '../../src/controller/supervisor.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { encodeTxnMarkerBatch } from '../../src/records/control-batch.js'
import { batchMaxTimestamp, iterateBatches, readBatchHeader, setBaseOffset, LAST_OFFSET_DELTA_OFFSET } from '../../src/records/record-batch.js'

interface StoredBatch {
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
  bytes: Buffer
}

interface PartitionReply {
  message: unknown
  payload?: Buffer
}

interface ParkedFetch {
  fetchId: number
  wake: () => void
}

class MemoryPartition {
  readonly batches: StoredBatch[] = []
  logStartOffset = 0
  nextOffset = 0
  readonly parked = new Set<ParkedFetch>()
  /** The config the supervisor last pushed (updateConfig), if any. */
  config: ReplicaConfig | null = null

  /** The idempotent producers of the stored batches, last batch wins, as a leader's producer state keeps them. */
  producers(): ActiveProducer[] {
    const byId = new Map<number, ActiveProducer>()
    for (const { bytes } of this.batches) {
      const h = readBatchHeader(bytes, 0)
      if (h.producerId < 0) continue
      byId.set(h.producerId, { producerId: h.producerId, producerEpoch: h.producerEpoch, lastSequence: h.baseSequence + h.lastOffsetDelta, lastTimestampMs: h.maxTimestamp })
    }
    return [...byId.values()]
  }

  append(records: Buffer): ProduceResult {
    // The records are a view of the request frame: copy so the log owns its bytes.
    const copy = Buffer.from(records)
    const baseOffset = this.nextOffset
    let batches = 0
    for (const span of iterateBatches(copy)) {
      const bytes = copy.subarray(span.pos, span.pos + span.size)
      const lastOffsetDelta = bytes.readInt32BE(LAST_OFFSET_DELTA_OFFSET)
      setBaseOffset(bytes, 0, this.nextOffset)
      this.batches.push({ baseOffset: this.nextOffset, lastOffset: this.nextOffset + lastOffsetDelta, maxTimestamp: batchMaxTimestamp(bytes, 0), bytes })
      this.nextOffset += lastOffsetDelta + 1
      batches++
    }
    if (batches === 0) return { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: 'no record batch', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
    for (const fetch of this.parked) fetch.wake()
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset, logAppendTimeMs: -1, logStartOffset: this.logStartOffset }
  }

  read(fetchOffset: number, maxBytes: number): Buffer | null {
    const out: Buffer[] = []
    let bytes = 0
    for (const batch of this.batches) {
      if (batch.lastOffset < fetchOffset) continue
      if (out.length > 0 && bytes + batch.bytes.length > maxBytes) break
      out.push(batch.bytes)
      bytes += batch.bytes.length
    }
    return out.length === 0 ? null : Buffer.concat(out)
  }

  async fetch(message: Extract<PartitionRequest, { op: 'fetch' }>): Promise<PartitionReply> {
    const result = (records: Buffer | null): PartitionReply => {
      const answer: Omit<FetchPartitionResult, 'records'> = {
        errorCode: ErrorCode.NONE,
        highWatermark: this.nextOffset,
        lastStableOffset: this.nextOffset,
        logStartOffset: this.logStartOffset,
        logEndOffset: this.nextOffset,
      }
      return { message: answer, payload: records ?? undefined }
    }
    if (message.fetchOffset < this.logStartOffset || message.fetchOffset > this.nextOffset) {
      return { message: { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: this.nextOffset, lastStableOffset: this.nextOffset, logStartOffset: this.logStartOffset, logEndOffset: this.nextOffset } }
    }
    const records = this.read(message.fetchOffset, message.maxBytes)
    if (records !== null || message.maxWaitMs <= 0) return result(records)
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => fetch.wake(), message.maxWaitMs)
      const fetch: ParkedFetch = {
        fetchId: message.fetchId,
        wake: () => {
          clearTimeout(timer)
          this.parked.delete(fetch)
          resolve()
        },
      }
      this.parked.add(fetch)
    })
    return result(this.read(message.fetchOffset, message.maxBytes))
  }

  cancel(fetchId: number): void {
    for (const fetch of this.parked) if (fetch.fetchId === fetchId) fetch.wake()
  }

  listOffset(timestamp: number): { errorCode: number; timestamp: number; offset: number; leaderEpoch: number } {
    if (timestamp === -2) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: this.logStartOffset, leaderEpoch: 0 }
    if (timestamp === -1) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: this.nextOffset, leaderEpoch: 0 }
    const batch = this.batches.find((b) => b.maxTimestamp >= timestamp && b.lastOffset >= this.logStartOffset)
    if (batch === undefined) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: -1, leaderEpoch: -1 }
    return { errorCode: ErrorCode.NONE, timestamp: batch.maxTimestamp, offset: Math.max(batch.baseOffset, this.logStartOffset), leaderEpoch: 0 }
  }

  deleteRecords(offset: number): { errorCode: number; lowWatermark: number } {
    const target = offset === -1 ? this.nextOffset : offset
    if (target < 0 || target > this.nextOffset) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 }
    this.logStartOffset = Math.max(this.logStartOffset, target)
    while (this.batches.length > 0 && this.batches[0].lastOffset < this.logStartOffset) this.batches.shift()
    return { errorCode: ErrorCode.NONE, lowWatermark: this.logStartOffset }
  }
}

/**
 * The memory partitions as a node's partition access, and (`host`) as the supervisor's actor
 * host: spawn opens one, role changes are accepted, close removes it. One log per partition,
 * shared by the brokers that host it (reassignments move it); it goes with the last of them.
 */
export class MemoryPartitions implements PartitionAccess {
  readonly host: ActorHost
  readonly #partitions = new Map<string, MemoryPartition>()
  /** The brokers hosting each partition's replica. */
  readonly #hosts = new Map<string, Set<number>>()

  constructor(brokerCount = 1) {
    this.host = {
      shardCount: brokerCount,
      spawn: async (shard, _kind, _id, init) => {
        const open = init as OpenPartition
        const id = partitionActorId(open.topic, open.partition)
        if (!this.#partitions.has(id)) this.#partitions.set(id, new MemoryPartition())
        this.#hosts.set(id, (this.#hosts.get(id) ?? new Set<number>()).add(shard))
      },
      request: async (shard, id, message, payload) => {
        const request = message as PartitionRequest
        const hosts = this.#hosts.get(id)
        if (request.op !== 'close' || hosts === undefined) return this.#handle(id, request, payload)
        hosts.delete(shard)
        if (hosts.size > 0) return { message: { ok: true } }
        this.#hosts.delete(id)
        return this.#handle(id, request, payload)
      },
      tell: () => {},
      killShard: () => {},
      restartShard: async () => {},
    }
  }

  /** Produce requests seen, for tests that check what reached the log. */
  produceCount = 0
  /** Every transaction marker written, in order. */
  readonly markers: Array<{ id: string; commit: boolean; producerId: number }> = []

  /** The brokers that host the partition's replica, in id order. */
  hostsOf(topic: string, partition: number): number[] {
    return [...(this.#hosts.get(partitionActorId(topic, partition)) ?? [])].sort((a, b) => a - b)
  }

  partition(topic: string, partition: number): MemoryPartition | undefined {
    return this.#partitions.get(partitionActorId(topic, partition))
  }

  async request<M extends PartitionRequest>(topic: string, partition: number, message: M, payload?: Buffer): Promise<LocalReply<PartitionReplies[M['op']]>> {
    const reply = await this.#handle(partitionActorId(topic, partition), message, payload)
    return reply as LocalReply<PartitionReplies[M['op']]>
  }

  tell(topic: string, partition: number, message: PartitionRequest): void {
    if (message.op === 'cancelFetch') this.partition(topic, partition)?.cancel(message.fetchId)
  }

  /** Answers one request to a partition actor, as its replica would. */
  async #handle(id: string, message: PartitionRequest, payload?: Buffer): Promise<PartitionReply> {
    const p = this.#partitions.get(id)
    if (p === undefined) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `no replica for ${id}`)
    switch (message.op) {
      case 'produce':
        this.produceCount++
        return { message: p.append(payload ?? Buffer.alloc(0)) }
      case 'fetch':
        return p.fetch(message)
      case 'listOffsets':
        return { message: p.listOffset(message.timestamp) }
      case 'deleteRecords':
        return { message: p.deleteRecords(message.offset) }
      case 'epochEndOffset':
        return { message: { errorCode: ErrorCode.NONE, epoch: 0, endOffset: p.nextOffset } }
      case 'close':
        for (const fetch of p.parked) fetch.wake()
        this.#partitions.delete(id)
        return { message: { ok: true } }
      case 'describeProducers':
        return { message: { errorCode: ErrorCode.NONE, producers: p.producers() } }
      case 'writeTxnMarker':
        this.markers.push({ id, commit: message.commit, producerId: message.producerId })
        return { message: p.append(encodeTxnMarkerBatch(message, 0)) }
      case 'stats': {
        const sizeBytes = p.batches.reduce((sum, b) => sum + b.bytes.length, 0)
        const stats = { logStartOffset: p.logStartOffset, logEndOffset: p.nextOffset, highWatermark: p.nextOffset, isr: [], leaderEpoch: 0 }
        return { message: { ...stats, role: 'leader' as const, leaderId: 0, sizeBytes, producerCount: 0, followerRestartedAtLeaderStart: false } }
      }
      case 'updateConfig':
        p.config = message.config
        return { message: { ok: true } }
      case 'becomeLeader':
      case 'becomeFollower':
      case 'removeFromIsr':
        return { message: { ok: true } }
      default:
        throw new Error(`the memory partitions do not answer ${message.op}`)
    }
  }
}
