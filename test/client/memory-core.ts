/**
 * In-memory Kafka operations for the client tests: batches per partition in arrays, Kafka's offset
 * stamping, idempotent-producer dedup and gap checks (one producer's last batch per partition),
 * long-poll fetches woken by produces, and a real GroupCoordinator for groups. Faults are injected
 * per partition (`failNextProduce`) so retries and resends can be observed.
 */
import { GroupCoordinator } from '../../src/actors/group-coordinator.js'
import type {
  Acks,
  AlterConfigOp,
  GroupOperations,
  KafkaOperations,
  BrokerNode,
  ClusterMetadata,
  ConfigResource,
  CreateTopicInput,
  CreateTopicResult,
  DeleteRecordsInput,
  DeleteRecordsResult,
  DescribeConfigsResult,
  FetchInput,
  FetchOptions,
  FetchResult,
  InitProducerIdResult,
  ListOffsetsInput,
  ListOffsetsResult,
  ProduceInput,
  ProduceResult,
  TopicErrorResult,
  TopicMetadata,
} from '../../src/metadata/operations.js'
import { SystemClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { decompress } from '../../src/records/compression.js'
import {
  decodeRecords,
  iterateBatches,
  readBatchHeader,
  recomputeCrc,
  setBaseOffset,
  validateBatch,
} from '../../src/records/record-batch.js'
import { MemoryGroupLog } from '../actors/group-helpers.js'

const ZERO_UUID = '00000000-0000-0000-0000-000000000000'

interface StoredBatch {
  baseOffset: number
  lastOffset: number
  bytes: Buffer
}

interface ProducerEntry {
  epoch: number
  lastSequence: number
  lastBaseSequence: number
  lastBaseOffset: number
}

class MemoryPartition {
  batches: StoredBatch[] = []
  nextOffset = 0
  logStartOffset = 0
  producers = new Map<number, ProducerEntry>()
  waiters = new Set<() => void>()
}

interface MemoryTopic {
  name: string
  topicId: string
  partitions: MemoryPartition[]
  configs: Record<string, string>
}

export interface ProduceCall {
  topic: string
  partition: number
  records: Buffer
  acks: Acks
}

export class MemoryCore implements KafkaOperations {
  readonly clusterId = 'memory-cluster'
  readonly coordinator: GroupCoordinator
  readonly groups: GroupOperations
  readonly topics = new Map<string, MemoryTopic>()
  /** Every produce input as received, in order (copies). */
  readonly produceCalls: ProduceCall[] = []
  autoCreateTopics = true
  #nextProducerId = 1000
  readonly #faults = new Map<string, number[]>()
  #fetchCount = 0

  private constructor(coordinator: GroupCoordinator) {
    this.coordinator = coordinator
    this.groups = {
      joinGroup: async (request) => coordinator.joinGroup(request),
      syncGroup: async (request) => coordinator.syncGroup(request),
      heartbeat: async (request) => coordinator.heartbeat(request),
      leaveGroup: async (request) => coordinator.leaveGroup(request),
      commitOffsets: async (request) => coordinator.commitOffsets(request),
      fetchOffsets: async (request) => coordinator.fetchOffsets(request),
      describeGroups: async (groupIds) => coordinator.describeGroups(groupIds),
      listGroups: async (request) => coordinator.listGroups(request),
      deleteGroups: async (groupIds) => coordinator.deleteGroups(groupIds),
    }
  }

  static async create(options: { minSessionTimeoutMs?: number } = {}): Promise<MemoryCore> {
    const coordinator = new GroupCoordinator({
      clock: new SystemClock(),
      log: new MemoryGroupLog(),
      initialRebalanceDelayMs: 0,
      minSessionTimeoutMs: options.minSessionTimeoutMs ?? 100,
    })
    coordinator.load([])
    return new MemoryCore(coordinator)
  }

  async close(): Promise<void> {
    this.coordinator.close()
    for (const topic of this.topics.values()) for (const p of topic.partitions) for (const w of p.waiters) w()
  }

  get fetchCount(): number {
    return this.#fetchCount
  }

  /** The next produce attempts to `topic`-`partition` answer these error codes, in order. */
  failNextProduce(topic: string, partition: number, ...errorCodes: number[]): void {
    this.#faults.set(`${topic}\0${partition}`, errorCodes)
  }

  /** Every record stored in a partition, decoded. */
  records(topic: string, partition: number): ReturnType<typeof decodeRecords> {
    const p = this.#partition(topic, partition)
    if (p === undefined) return []
    return p.batches.flatMap((b) => decodeRecords(b.bytes, 0, decompress))
  }

  brokers(): BrokerNode[] {
    return [{ nodeId: 0, host: 'localhost', port: 0, rack: null }]
  }

  controllerId(): number {
    return 0
  }

  async metadata(topics: string[] | null, allowAutoCreate: boolean): Promise<ClusterMetadata> {
    const names = topics ?? [...this.topics.keys()]
    const out: TopicMetadata[] = []
    for (const name of names) {
      if (!this.topics.has(name) && topics !== null && allowAutoCreate && this.autoCreateTopics) this.#create(name, 1, {})
      const topic = this.topics.get(name)
      if (topic === undefined) {
        out.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, isInternal: false, partitions: [] })
        continue
      }
      out.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: topic.topicId,
        isInternal: false,
        partitions: topic.partitions.map((_, i) => ({
          errorCode: ErrorCode.NONE,
          partitionIndex: i,
          leaderId: 0,
          leaderEpoch: 0,
          replicaNodes: [0],
          isrNodes: [0],
          offlineReplicas: [],
        })),
      })
    }
    return { clusterId: this.clusterId, controllerId: 0, brokers: this.brokers(), topics: out }
  }

  async produce(inputs: ProduceInput[], acks: Acks, _timeoutMs: number): Promise<ProduceResult[]> {
    return inputs.map((input) => {
      this.produceCalls.push({ topic: input.topic, partition: input.partition, records: Buffer.from(input.records), acks })
      const fault = this.#faults.get(`${input.topic}\0${input.partition}`)
      if (fault !== undefined && fault.length > 0) return produceError(fault.shift()!)
      if (!this.topics.has(input.topic) && this.autoCreateTopics) this.#create(input.topic, 1, {})
      const p = this.#partition(input.topic, input.partition)
      if (p === undefined) return produceError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      return this.#append(p, Buffer.from(input.records))
    })
  }

  #append(p: MemoryPartition, records: Buffer): ProduceResult {
    let firstOffset = -1
    for (const span of iterateBatches(records)) {
      try {
        validateBatch(records, span.pos, span.pos + span.size, { fromProducer: true })
      } catch {
        return produceError(ErrorCode.CORRUPT_MESSAGE)
      }
      const bytes = Buffer.from(records.subarray(span.pos, span.pos + span.size))
      const header = readBatchHeader(bytes, 0)
      if (header.producerId >= 0) {
        const entry = p.producers.get(header.producerId)
        const fresh = entry === undefined || header.producerEpoch > entry.epoch
        if (!fresh && header.producerEpoch < entry!.epoch) return produceError(ErrorCode.INVALID_PRODUCER_EPOCH)
        if (!fresh && header.baseSequence === entry!.lastBaseSequence) {
          // A resend of the last batch: answer with where it went, append nothing.
          return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: entry!.lastBaseOffset, logAppendTimeMs: -1, logStartOffset: p.logStartOffset }
        }
        const expected = fresh ? 0 : entry!.lastSequence + 1
        if (header.baseSequence !== expected) return produceError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
        p.producers.set(header.producerId, {
          epoch: header.producerEpoch,
          lastBaseSequence: header.baseSequence,
          lastSequence: header.baseSequence + header.lastOffsetDelta,
          lastBaseOffset: p.nextOffset,
        })
      }
      setBaseOffset(bytes, 0, p.nextOffset)
      recomputeCrc(bytes, 0)
      if (firstOffset < 0) firstOffset = p.nextOffset
      p.batches.push({ baseOffset: p.nextOffset, lastOffset: p.nextOffset + header.lastOffsetDelta, bytes })
      p.nextOffset += header.lastOffsetDelta + 1
    }
    for (const wake of p.waiters) wake()
    p.waiters.clear()
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: firstOffset, logAppendTimeMs: -1, logStartOffset: p.logStartOffset }
  }

  async fetch(inputs: FetchInput[], options: FetchOptions): Promise<FetchResult[]> {
    this.#fetchCount++
    const read = (): FetchResult[] => inputs.map((input) => this.#read(input))
    let results = read()
    const hasData = results.some((r) => r.records !== null || r.errorCode !== ErrorCode.NONE)
    if (hasData || options.maxWaitMs <= 0) return results
    await new Promise<void>((resolve) => {
      const partitions = inputs.map((i) => this.#partition(i.topic, i.partition)).filter((p) => p !== undefined)
      const done = (): void => {
        clearTimeout(timer)
        for (const p of partitions) p.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, options.maxWaitMs)
      for (const p of partitions) p.waiters.add(done)
      // As the real core does: an aborted fetch answers at once with what is there.
      if (options.signal?.aborted === true) done()
      options.signal?.addEventListener('abort', done, { once: true })
    })
    results = read()
    return results
  }

  #read(input: FetchInput): FetchResult {
    const base = { topic: input.topic, partition: input.partition }
    const p = this.#partition(input.topic, input.partition)
    if (p === undefined) {
      return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: null }
    }
    const marks = { highWatermark: p.nextOffset, lastStableOffset: p.nextOffset, logStartOffset: p.logStartOffset }
    if (input.fetchOffset < p.logStartOffset || input.fetchOffset > p.nextOffset) {
      return { ...base, ...marks, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: null }
    }
    const chunks: Buffer[] = []
    let bytes = 0
    for (const batch of p.batches) {
      if (batch.lastOffset < input.fetchOffset) continue
      // At least one whole batch even when larger than the limit (KIP-74).
      if (chunks.length > 0 && bytes + batch.bytes.length > input.partitionMaxBytes) break
      chunks.push(batch.bytes)
      bytes += batch.bytes.length
    }
    return { ...base, ...marks, errorCode: ErrorCode.NONE, records: chunks.length === 0 ? null : Buffer.concat(chunks) }
  }

  async listOffsets(inputs: ListOffsetsInput[]): Promise<ListOffsetsResult[]> {
    return inputs.map((input) => {
      const p = this.#partition(input.topic, input.partition)
      if (p === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1, leaderEpoch: -1 }
      if (input.timestamp === -2) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: p.logStartOffset, leaderEpoch: 0 }
      if (input.timestamp === -1) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: p.nextOffset, leaderEpoch: 0 }
      const record = this.records(input.topic, input.partition).find((r) => r.timestampMs >= input.timestamp && r.offset >= p.logStartOffset)
      if (record === undefined) return { errorCode: ErrorCode.NONE, timestamp: -1, offset: -1, leaderEpoch: 0 }
      return { errorCode: ErrorCode.NONE, timestamp: record.timestampMs, offset: record.offset, leaderEpoch: 0 }
    })
  }

  async createTopics(inputs: CreateTopicInput[], validateOnly: boolean): Promise<CreateTopicResult[]> {
    return inputs.map((input) => {
      const fail = (errorCode: number): CreateTopicResult => ({ name: input.name, errorCode, errorMessage: null, numPartitions: -1, replicationFactor: -1, topicId: ZERO_UUID })
      if (this.topics.has(input.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS)
      const partitions = input.numPartitions === -1 ? 1 : input.numPartitions
      if (partitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS)
      if (input.replicationFactor !== -1 && input.replicationFactor !== 1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR)
      const topicId = validateOnly ? ZERO_UUID : this.#create(input.name, partitions, input.configs).topicId
      return { name: input.name, errorCode: ErrorCode.NONE, errorMessage: null, numPartitions: partitions, replicationFactor: 1, topicId }
    })
  }

  async deleteTopics(names: string[]): Promise<TopicErrorResult[]> {
    return names.map((name) => {
      const existed = this.topics.delete(name)
      return { name, errorCode: existed ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null }
    })
  }

  async createPartitions(inputs: Array<{ name: string; count: number }>, validateOnly: boolean): Promise<TopicErrorResult[]> {
    return inputs.map(({ name, count }) => {
      const topic = this.topics.get(name)
      if (topic === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null }
      if (count <= topic.partitions.length) return { name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `already ${topic.partitions.length}` }
      if (!validateOnly) while (topic.partitions.length < count) topic.partitions.push(new MemoryPartition())
      return { name, errorCode: ErrorCode.NONE, errorMessage: null }
    })
  }

  async describeConfigs(resources: Array<ConfigResource & { configNames: string[] | null }>): Promise<DescribeConfigsResult[]> {
    return resources.map((r) => {
      const topic = this.topics.get(r.resourceName)
      const base = { resourceType: r.resourceType, resourceName: r.resourceName }
      if (topic === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null, configs: [] }
      const all = { 'cleanup.policy': 'delete', 'retention.ms': '604800000', ...topic.configs }
      const names = r.configNames ?? Object.keys(all)
      const configs = names.map((name) => ({
        name,
        value: all[name as keyof typeof all] ?? null,
        readOnly: false,
        source: name in topic.configs ? 1 : 5,
        isDefault: !(name in topic.configs),
        isSensitive: false,
      }))
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs }
    })
  }

  async alterConfigs(
    resources: Array<ConfigResource & { configs: AlterConfigOp[] }>,
    incremental: boolean,
    validateOnly: boolean,
  ): Promise<Array<ConfigResource & { errorCode: number; errorMessage: string | null }>> {
    return resources.map((r) => {
      const topic = this.topics.get(r.resourceName)
      const base = { resourceType: r.resourceType, resourceName: r.resourceName }
      if (topic === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null }
      if (!validateOnly) {
        const next: Record<string, string> = incremental ? { ...topic.configs } : {}
        for (const op of r.configs) {
          if (op.op === 1 || op.value === null) delete next[op.name]
          else next[op.name] = op.value
        }
        topic.configs = next
      }
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null }
    })
  }

  async deleteRecords(inputs: DeleteRecordsInput[], _timeoutMs: number): Promise<DeleteRecordsResult[]> {
    return inputs.map((input) => {
      const p = this.#partition(input.topic, input.partition)
      if (p === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, lowWatermark: -1 }
      const offset = input.offset === -1 ? p.nextOffset : input.offset
      if (offset < 0 || offset > p.nextOffset) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 }
      p.logStartOffset = Math.max(p.logStartOffset, offset)
      p.batches = p.batches.filter((b) => b.lastOffset >= p.logStartOffset)
      return { errorCode: ErrorCode.NONE, lowWatermark: p.logStartOffset }
    })
  }

  async initProducerId(transactionalId: string | null, producerId: number, producerEpoch: number, _transactionTimeoutMs: number): Promise<InitProducerIdResult> {
    if (transactionalId !== null) return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 }
    if (producerId >= 0) return { errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 1 }
    return { errorCode: ErrorCode.NONE, producerId: this.#nextProducerId++, producerEpoch: 0 }
  }

  #create(name: string, partitions: number, configs: Record<string, string>): MemoryTopic {
    const topic: MemoryTopic = {
      name,
      topicId: `00000000-0000-0000-0000-${String(this.topics.size + 1).padStart(12, '0')}`,
      partitions: Array.from({ length: partitions }, () => new MemoryPartition()),
      configs: { ...configs },
    }
    this.topics.set(name, topic)
    return topic
  }

  #partition(topic: string, partition: number): MemoryPartition | undefined {
    return this.topics.get(topic)?.partitions[partition]
  }
}

function produceError(errorCode: number): ProduceResult {
  return { errorCode, errorMessage: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
}
