/**
 * One broker node's answers to the Kafka handlers (runs on the node's shard thread). Reads come
 * from the node's metadata image; partition work goes straight to the replicas on this shard
 * (PartitionAccess); groups go to the coordinators this node runs; admin requests are forwarded
 * to the controller on the main thread, as Kafka brokers forward them to theirs (KIP-590).
 */
import type { OffsetDeleteResult } from '../actors/group/types.js'
import type { DescribeProducersResult } from '../actors/partition/replica-types.js'
import { statfsSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { timerDelayMs } from '../common/timers.js'
import { transactionalProducerOf } from '../records/record-batch.js'
import type { BrokerConfig } from '../metadata/broker-config.js'
import type { ControllerReplies, ControllerRequest } from '../metadata/controller-messages.js'
import type { MetadataImage, TopicState } from '../metadata/image.js'
import type {
  Acks,
  AlterConfigOp,
  ClusterMetadata,
  ConfigResource,
  CreatePartitionsInput,
  CreateTopicInput,
  CreateTopicResult,
  DeleteRecordsInput,
  DeleteRecordsResult,
  DescribeConfigsResult,
  ElectLeadersResult,
  OngoingReassignment,
  ReassignmentInput,
  ReassignmentResult,
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
} from '../metadata/operations.js'
import { describeBrokerConfigs, describeTopicConfigs } from '../metadata/topic-configs.js'
import { OFFSETS_TOPIC, TXN_STATE_TOPIC, isInternalTopic, topicNameProblem } from '../metadata/topic-names.js'
import { FetchSessionCache } from '../server/fetch-sessions.js'
import type { BrokerCore, CoordinatorResult, EpochEndOffsetAnswer, EpochEndOffsetInput, LogDirDescription } from '../server/core.js'
import type { OffsetCommitPartitionResult, TxnOffsetCommitRequest } from '../actors/group/types.js'
import type { TxnMarkerEntry, TxnMarkerResult } from '../server/core.js'
import type { GroupCoordinators } from './group-coordinators.js'
import type { TxnCoordinators } from './txn-coordinators.js'
import { TxnVerification } from './txn-verification.js'
import type { LocalReply, PartitionAccess } from './local-partitions.js'
import type { NodeMetrics } from './node-metrics.js'

const RESOURCE_TOPIC = 2
const RESOURCE_BROKER = 4
const KEY_TYPE_GROUP = 0
/** Verification codes a producer of Produce v9 or below does not retry; it retries NOT_ENOUGH_REPLICAS (Kafka's mapping). */
const RETRIED_AS_NOT_ENOUGH_REPLICAS: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.CONCURRENT_TRANSACTIONS,
])
const KEY_TYPE_TRANSACTION = 1
/**
 * A partition's share of one fetch response: a batch larger than the share still comes whole
 * (KIP-74), which bounds a response near the request's maxBytes.
 */
const FETCH_PARTITION_BYTES_MAX = 4 * 1024 * 1024
const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000'

export interface NodeCoreDeps {
  nodeId: number
  config: BrokerConfig
  image: MetadataImage
  partitions: PartitionAccess
  groups: GroupCoordinators
  txns: TxnCoordinators
  /** Counts records and bytes in and out per topic, per request (absent: nothing is counted). */
  metrics?: NodeMetrics
  /**
   * Asks the controller; resolves once this node's image holds the answer's effect. Rejects with
   * PARTITA_REQUEST_TIMEOUT when no answer came within `timeoutMs` (default: the runtime's request
   * timeout); the controller goes on with the request regardless.
   */
  askController<K extends ControllerRequest['op']>(request: Extract<ControllerRequest, { op: K }>, timeoutMs?: number): Promise<ControllerReplies[K]>
}

export class NodeCore implements BrokerCore {
  readonly nodeId: number
  readonly groups: GroupCoordinators
  readonly fetchSessions: FetchSessionCache
  readonly txns: TxnCoordinators
  readonly txnVerification: TxnVerification
  readonly #config: BrokerConfig
  readonly #image: MetadataImage
  readonly #partitions: PartitionAccess
  readonly #ask: NodeCoreDeps['askController']
  readonly #metrics: NodeMetrics | undefined
  #nextFetchId = 1
  /** Auto-creation in flight per topic, so concurrent first requests ask the controller once. */
  readonly #creating = new Map<string, Promise<void>>()

  constructor(deps: NodeCoreDeps) {
    this.nodeId = deps.nodeId
    this.groups = deps.groups
    this.txns = deps.txns
    this.txnVerification = new TxnVerification(deps.image, (request) => deps.txns.verifyAnywhere(request), deps.config.transactionPartitionVerificationEnable, deps.nodeId)
    this.#config = deps.config
    this.#image = deps.image
    this.#partitions = deps.partitions
    this.#ask = deps.askController
    this.#metrics = deps.metrics
    this.fetchSessions = new FetchSessionCache({ slotsMax: deps.config.maxIncrementalFetchSessionCacheSlots })
  }

  // ---- metadata and coordinators ----------------------------------------------------------

  async metadata(topics: string[] | null, allowAutoCreate: boolean): Promise<ClusterMetadata> {
    const image = this.#image
    const names = topics ?? [...image.topics.keys()]
    // Kafka answers a topic whose auto-creation was refused with the refusal's code (for example
    // INVALID_REPLICATION_FACTOR when default.replication.factor exceeds the brokers).
    const refused = new Map<string, number>()
    if (topics !== null && allowAutoCreate) {
      await Promise.all(
        names
          .filter((name) => !image.topics.has(name))
          .map((name) =>
            this.#autoCreate(name).catch((error: unknown) => {
              if (error instanceof KafkaError) refused.set(name, error.errorCode)
            }),
          ),
      )
    }
    const live = new Set(image.liveBrokers)
    return {
      clusterId: image.clusterId,
      controllerId: image.controllerId(),
      // Kafka lists the brokers that are alive; their partitions' offline replicas say the rest.
      brokers: image.brokers.filter((b) => live.has(b.nodeId)),
      topics: names.map((name) => {
        const topic = image.topics.get(name)
        if (topic !== undefined) return topicMetadata(topic, live)
        const refusal = refused.get(name)
        return refusal === undefined ? missingTopic(name) : { ...missingTopic(name), errorCode: refusal }
      }),
    }
  }

  async findCoordinator(key: string, keyType: number): Promise<CoordinatorResult> {
    const none = (errorCode: number, errorMessage: string | null = null): CoordinatorResult => ({ key, errorCode, errorMessage, nodeId: -1, host: '', port: -1 })
    if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) return none(ErrorCode.INVALID_REQUEST, `Unknown coordinator key type ${keyType}`)
    const topic = keyType === KEY_TYPE_GROUP ? OFFSETS_TOPIC : TXN_STATE_TOPIC
    if (!this.#image.topics.has(topic)) {
      try {
        await this.#autoCreate(topic)
      } catch (error) {
        return none(ErrorCode.COORDINATOR_NOT_AVAILABLE, error instanceof Error ? error.message : null)
      }
    }
    const partition = keyType === KEY_TYPE_GROUP ? this.groups.partitionOf(key) : this.txns.partitionOf(key)
    const state = this.#image.partition(topic, partition)
    const endpoint = state === undefined || !this.#image.isLive(state.leader) ? undefined : this.#image.endpoint(state.leader)
    if (endpoint === undefined) return none(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    return { key, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: endpoint.nodeId, host: endpoint.host, port: endpoint.port }
  }

  hasPartition(topic: string, partition: number): boolean {
    return this.#image.partition(topic, partition) !== undefined
  }

  offsetsPartitionOf(groupId: string): number {
    return this.groups.partitionOf(groupId)
  }

  commitTxnOffsets(request: TxnOffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    return this.groups.commitTxnOffsets(request, this.txnVerification)
  }

  /**
   * WriteTxnMarkers: each marker goes to this broker's leader replica of its partition; a marker
   * that lands in __consumer_offsets settles the producer's pending transactional offsets there.
   */
  async writeTxnMarkers(entries: TxnMarkerEntry[]): Promise<TxnMarkerResult[]> {
    return Promise.all(
      entries.map(async (entry) => ({
        producerId: entry.producerId,
        partitions: await Promise.all(
          entry.partitions.map(async ({ topic, partition }) => {
            try {
              this.#checkPartition(topic, partition)
              const { producerId, producerEpoch, coordinatorEpoch, commit } = entry
              // Before the marker is sent: a write of the ended transaction verified meanwhile no longer holds.
              this.txnVerification.markerWritten(producerId, topic, partition)
              const reply = await this.#partitions.request(topic, partition, { op: 'writeTxnMarker', producerId, producerEpoch, coordinatorEpoch, commit })
              if (reply.message.errorCode === ErrorCode.NONE && topic === OFFSETS_TOPIC) this.groups.completeTxn(partition, producerId, commit)
              return { topic, partition, errorCode: reply.message.errorCode }
            } catch (error) {
              return { topic, partition, errorCode: errorCodeOf(error) }
            }
          }),
        ),
      })),
    )
  }

  async #autoCreate(name: string): Promise<void> {
    const internal = isInternalTopic(name)
    if (!internal && (!this.#config.autoCreateTopics || topicNameProblem(name) !== null)) return
    let creating = this.#creating.get(name)
    if (creating === undefined) {
      creating = this.#ask({ op: 'ensureTopic', name })
        .then((result) => {
          if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new KafkaError(result.errorCode, result.errorMessage ?? undefined)
        })
        .finally(() => this.#creating.delete(name))
      this.#creating.set(name, creating)
    }
    await creating
  }

  // ---- partitions: produce, fetch, offsets ------------------------------------------------

  async produce(inputs: ProduceInput[], acks: Acks, timeoutMs: number): Promise<ProduceResult[]> {
    // Most produces carry one partition (a client sends each leader its own partitions' batches).
    if (inputs.length === 1) return [await this.#producePartition(inputs[0], acks, timeoutMs)]
    return Promise.all(inputs.map((input) => this.#producePartition(input, acks, timeoutMs)))
  }

  async #producePartition(input: ProduceInput, acks: Acks, timeoutMs: number): Promise<ProduceResult> {
    try {
      // Only auto-creation waits before the append: an existing topic's produce reaches its
      // partition in the order requests arrived, as do fetches and offset lookups.
      if (!this.#image.topics.has(input.topic)) await this.#autoCreate(input.topic)
      this.#checkPartition(input.topic, input.partition)
      if (isInternalTopic(input.topic)) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${input.topic}`)
      const txn = transactionalProducerOf(input.records)
      const reply = await (txn === null ? this.#append(input, acks, timeoutMs) : this.#appendTransactional(input, acks, timeoutMs, txn))
      if (reply.message.errorCode === ErrorCode.NONE) this.#metrics?.produced(input.topic, input.records)
      return reply.message
    } catch (error) {
      return { errorCode: errorCodeOf(error), errorMessage: messageOf(error), baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
    }
  }

  #append(input: ProduceInput, acks: Acks, timeoutMs: number): Promise<LocalReply<ProduceResult>> {
    return this.#partitions.request(input.topic, input.partition, { op: 'produce', acks, timeoutMs }, input.records)
  }

  /**
   * Appends once the producer's transaction holds the partition (txn-verification.ts), else
   * throws. Codes a producer of Produce v9 or below would not retry come back as
   * NOT_ENOUGH_REPLICAS, which it does retry without refreshing metadata, as Kafka's broker answers them.
   */
  async #appendTransactional(input: ProduceInput, acks: Acks, timeoutMs: number, txn: { producerId: number; producerEpoch: number }): Promise<LocalReply<ProduceResult>> {
    const appended = await this.txnVerification.appendAdmitted(input.transactionalId ?? null, txn.producerId, txn.producerEpoch, input.topic, input.partition, () =>
      this.#append(input, acks, timeoutMs),
    )
    if (typeof appended !== 'number') return appended
    if (RETRIED_AS_NOT_ENOUGH_REPLICAS.has(appended)) throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, `Unable to verify the partition is in the transaction: error ${appended}`)
    throw new KafkaError(appended, `Unable to verify the partition is in the transaction (error ${appended})`)
  }

  /**
   * Fetch with Kafka's long-poll: every partition is asked at once and each parks until it has
   * data or maxWait passes. As soon as the answers so far hold minBytes, the parked ones are
   * cancelled (they answer at once with what they have), so the response is never late.
   */
  async fetch(inputs: FetchInput[], options: FetchOptions): Promise<FetchResult[]> {
    const fetchId = this.#nextFetchId++
    let bytes = 0
    let released = false
    const pending = new Set<number>()
    // Partitions are read in parallel, so the response's byte budget is shared out evenly; each
    // still returns at least one whole batch (KIP-74), which bounds a response near maxBytes.
    const shareBytes = Math.max(1, Math.floor(options.maxBytes / Math.max(1, inputs.length)))
    const release = (): void => {
      if (released) return
      released = true
      for (const index of pending) this.#partitions.tell(inputs[index].topic, inputs[index].partition, { op: 'cancelFetch', fetchId })
    }
    if (options.signal?.aborted === true) released = true
    options.signal?.addEventListener('abort', release, { once: true })
    const results = inputs.map(async (input, index): Promise<FetchResult> => {
      pending.add(index)
      const result = await this.#fetchPartition(input, options, fetchId, released ? 0 : options.maxWaitMs, shareBytes)
      pending.delete(index)
      bytes += result.records?.length ?? 0
      if (result.errorCode !== ErrorCode.NONE || bytes >= Math.max(1, options.minBytes)) release()
      return result
    })
    try {
      return await Promise.all(results)
    } finally {
      options.signal?.removeEventListener('abort', release)
    }
  }

  async #fetchPartition(input: FetchInput, options: FetchOptions, fetchId: number, maxWaitMs: number, shareBytes: number): Promise<FetchResult> {
    const base = { topic: input.topic, partition: input.partition }
    try {
      this.#checkPartition(input.topic, input.partition)
      const reply = await this.#partitions.request(input.topic, input.partition, {
        op: 'fetch',
        fetchId,
        replicaId: -1,
        fetchOffset: input.fetchOffset,
        maxBytes: Math.min(input.partitionMaxBytes, shareBytes, FETCH_PARTITION_BYTES_MAX),
        maxWaitMs,
        minBytes: options.minBytes,
        currentLeaderEpoch: -1,
        isolationLevel: options.isolationLevel,
      })
      const result = reply.message
      if (reply.payload !== undefined && reply.payload.length > 0) this.#metrics?.fetched(input.topic, reply.payload)
      return {
        ...base,
        errorCode: result.errorCode,
        highWatermark: result.highWatermark,
        lastStableOffset: result.lastStableOffset,
        logStartOffset: result.logStartOffset,
        records: reply.payload !== undefined && reply.payload.length > 0 ? reply.payload : null,
        abortedTransactions: result.abortedTransactions ?? null,
      }
    } catch (error) {
      return { ...base, errorCode: errorCodeOf(error), highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: null }
    }
  }

  async listOffsets(inputs: ListOffsetsInput[]): Promise<ListOffsetsResult[]> {
    return Promise.all(
      inputs.map(async (input) => {
        try {
          this.#checkPartition(input.topic, input.partition)
          return (await this.#partitions.request(input.topic, input.partition, { op: 'listOffsets', timestamp: input.timestamp, isolationLevel: input.isolationLevel ?? 0 })).message
        } catch (error) {
          return { errorCode: errorCodeOf(error), timestamp: -1, offset: -1, leaderEpoch: -1 }
        }
      }),
    )
  }

  /**
   * Each replica's size on disk and, for a follower, how far its log end trails the high
   * watermark it knows (Kafka's offsetLag of a current log). Replicas that do not answer (being
   * opened or closed) are left out, as Kafka leaves out logs it is not serving.
   */
  async describeLogDirs(topics: Array<{ topic: string; partitions: number[] }> | null): Promise<LogDirDescription> {
    const logDir = join(this.#config.dataDir, `broker-${this.nodeId}`)
    const wanted: Array<{ topic: string; partition: number }> = []
    const asked = topics === null ? null : new Map(topics.map((t) => [t.topic, new Set(t.partitions)]))
    for (const state of this.#image.topics.values()) {
      for (const p of state.partitions) {
        if (!p.replicas.includes(this.nodeId)) continue
        if (asked !== null && asked.get(state.name)?.has(p.partition) !== true) continue
        wanted.push({ topic: state.name, partition: p.partition })
      }
    }
    const described = await Promise.all(
      wanted.map(async ({ topic, partition }) => {
        try {
          const { message } = await this.#partitions.request(topic, partition, { op: 'stats' })
          return { topic, partition, sizeBytes: message.sizeBytes, offsetLag: Math.max(0, message.highWatermark - message.logEndOffset) }
        } catch {
          return null
        }
      }),
    )
    let totalBytes = -1
    let usableBytes = -1
    try {
      // The broker's directory lives in the data directory, on the same file system.
      const fs = statfsSync(this.#config.dataDir)
      totalBytes = fs.blocks * fs.bsize
      usableBytes = fs.bavail * fs.bsize
    } catch {
      // The file system cannot be asked: sizes stay unknown (-1), as Kafka reports them.
    }
    return { logDir, partitions: described.filter((d) => d !== null), totalBytes, usableBytes }
  }

  async describeProducers(partitions: Array<{ topic: string; partition: number }>): Promise<DescribeProducersResult[]> {
    return Promise.all(
      partitions.map(async ({ topic, partition }) => {
        try {
          this.#checkPartition(topic, partition)
          return (await this.#partitions.request(topic, partition, { op: 'describeProducers' })).message
        } catch (error) {
          return { errorCode: errorCodeOf(error), producers: [] }
        }
      }),
    )
  }

  electLeaders(electionType: 0 | 1, partitions: Array<{ topic: string; partition: number }> | null): Promise<ElectLeadersResult[]> {
    return this.#ask({ op: 'electLeaders', electionType, partitions })
  }

  alterReassignments(inputs: ReassignmentInput[]): Promise<ReassignmentResult[]> {
    return this.#ask({ op: 'alterReassignments', inputs })
  }

  listReassignments(topics: Array<{ topic: string; partitions: number[] }> | null): Promise<OngoingReassignment[]> {
    return this.#ask({ op: 'listReassignments', topics })
  }

  deleteOffsets(groupId: string, partitions: Array<{ topic: string; partition: number }>): Promise<OffsetDeleteResult> {
    return this.groups.deleteOffsets(groupId, partitions)
  }

  async epochEndOffsets(inputs: EpochEndOffsetInput[]): Promise<EpochEndOffsetAnswer[]> {
    return Promise.all(
      inputs.map(async (input) => {
        try {
          this.#checkPartition(input.topic, input.partition)
          const request = { op: 'epochEndOffset' as const, epoch: input.leaderEpoch, currentLeaderEpoch: input.currentLeaderEpoch }
          const { message } = await this.#partitions.request(input.topic, input.partition, request)
          return { errorCode: message.errorCode, leaderEpoch: message.epoch, endOffset: message.endOffset }
        } catch (error) {
          return { errorCode: errorCodeOf(error), leaderEpoch: -1, endOffset: -1 }
        }
      }),
    )
  }

  async deleteRecords(inputs: DeleteRecordsInput[]): Promise<DeleteRecordsResult[]> {
    return Promise.all(
      inputs.map(async (input) => {
        try {
          this.#checkPartition(input.topic, input.partition)
          return (await this.#partitions.request(input.topic, input.partition, { op: 'deleteRecords', offset: input.offset })).message
        } catch (error) {
          return { errorCode: errorCodeOf(error), lowWatermark: -1 }
        }
      }),
    )
  }

  #checkPartition(topic: string, partition: number): void {
    const state = this.#image.topics.get(topic)
    if (state === undefined || !Number.isInteger(partition) || partition < 0 || partition >= state.partitions.length) {
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition: ${topic}-${partition}`)
    }
  }

  // ---- admin: forwarded to the controller, configs described from the image ----------------

  async createTopics(inputs: CreateTopicInput[], validateOnly: boolean, timeoutMs?: number): Promise<CreateTopicResult[]> {
    const results = await this.#askAdminChange({ op: 'createTopics', inputs, validateOnly }, timeoutMs)
    if (results === TIMED_OUT) {
      return inputs.map((input) => ({ name: input.name, ...adminTimeout(timeoutMs), numPartitions: -1, replicationFactor: -1, topicId: NO_TOPIC_ID }))
    }
    return results.map((r) => ({ ...r, errorCode: adminChangeErrorCode(r.errorCode, timeoutMs, validateOnly) }))
  }

  async deleteTopics(names: string[], timeoutMs?: number): Promise<TopicErrorResult[]> {
    const results = await this.#askAdminChange({ op: 'deleteTopics', names }, timeoutMs)
    if (results === TIMED_OUT) return names.map((name) => ({ name, ...adminTimeout(timeoutMs) }))
    return results.map((r) => ({ ...r, errorCode: adminChangeErrorCode(r.errorCode, timeoutMs, false) }))
  }

  async createPartitions(inputs: CreatePartitionsInput[], validateOnly: boolean, timeoutMs?: number): Promise<TopicErrorResult[]> {
    const results = await this.#askAdminChange({ op: 'createPartitions', inputs, validateOnly }, timeoutMs)
    if (results === TIMED_OUT) return inputs.map((input) => ({ name: input.name, ...adminTimeout(timeoutMs) }))
    return results.map((r) => ({ ...r, errorCode: adminChangeErrorCode(r.errorCode, timeoutMs, validateOnly) }))
  }

  /**
   * A topic admin change asked of the controller, waiting up to the request's own timeoutMs (any
   * int32, clamped to what a timer holds) rather than the runtime's request timeout: a creation of
   * 20,000 partitions outlasts the latter, and the runtime's timeout used to fail the request in
   * the handler, which closed the client's connection while the controller went on and made the
   * change. A timeout of 0 or below (answered REQUEST_TIMED_OUT after the decision, as Kafka does)
   * and the embedded callers' absent one wait as the runtime does. TIMED_OUT when no answer came.
   */
  async #askAdminChange<K extends 'createTopics' | 'deleteTopics' | 'createPartitions'>(
    request: Extract<ControllerRequest, { op: K }>,
    timeoutMs: number | undefined,
  ): Promise<ControllerReplies[K] | typeof TIMED_OUT> {
    try {
      return await this.#ask(request, timeoutMs === undefined || timeoutMs <= 0 ? undefined : timerDelayMs(timeoutMs))
    } catch (error) {
      if ((error as { code?: unknown }).code === 'PARTITA_REQUEST_TIMEOUT') return TIMED_OUT
      throw error
    }
  }

  alterConfigs(
    resources: Array<ConfigResource & { configs: AlterConfigOp[] }>,
    incremental: boolean,
    validateOnly: boolean,
  ): Promise<Array<ConfigResource & { errorCode: number; errorMessage: string | null }>> {
    return this.#ask({ op: 'alterConfigs', resources, incremental, validateOnly })
  }

  /** A transactional id goes to its transaction coordinator; an idempotent producer's id comes from the controller. */
  initProducerId(transactionalId: string | null, producerId: number, producerEpoch: number, transactionTimeoutMs: number): Promise<InitProducerIdResult> {
    if (transactionalId !== null) return this.txns.initProducerId(transactionalId, transactionTimeoutMs, producerId, producerEpoch)
    return this.#ask({ op: 'initProducerId', transactionalId, producerId, producerEpoch, transactionTimeoutMs })
  }

  async describeConfigs(resources: Array<ConfigResource & { configNames: string[] | null }>): Promise<DescribeConfigsResult[]> {
    return resources.map((resource) => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
      if (resource.resourceType === RESOURCE_TOPIC) {
        const topic = this.#image.topics.get(resource.resourceName)
        if (topic === undefined) {
          return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${resource.resourceName} does not exist`, configs: [] }
        }
        const configs = describeTopicConfigs(topic.configs, this.#config, resource.configNames, this.#image.brokerConfigs, this.nodeId)
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs }
      }
      if (resource.resourceType === RESOURCE_BROKER) {
        // Kafka describes its own id or the cluster default (empty name) and refuses other names.
        const name = resource.resourceName
        if (name !== '' && name !== String(this.nodeId)) {
          const errorMessage = `Unexpected broker id, expected ${this.nodeId} or empty string, but received ${name}`
          return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage, configs: [] }
        }
        const configs = describeBrokerConfigs(this.#config, resource.configNames, this.#image.brokerConfigs, name === '' ? null : this.nodeId)
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs }
      }
      return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${resource.resourceType}`, configs: [] }
    })
  }
}

function topicMetadata(topic: TopicState, live: Set<number>): TopicMetadata {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: isInternalTopic(topic.name),
    partitions: topic.partitions.map((p) => ({
      errorCode: p.leader === -1 || !live.has(p.leader) ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: live.has(p.leader) ? p.leader : -1,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: [...p.replicas],
      isrNodes: [...p.isr],
      offlineReplicas: p.replicas.filter((id) => !live.has(id)),
    })),
  }
}

function missingTopic(name: string): TopicMetadata {
  const errorCode = topicNameProblem(name) === null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION
  return { errorCode, name, topicId: NO_TOPIC_ID, isInternal: false, partitions: [] }
}

/** Kafka errors keep their code; anything else is a broker fault the client cannot act on. */
/** The controller did not answer a topic admin change in time; it goes on with it. */
const TIMED_OUT = Symbol('timed out')

/** Kafka's answer for an admin change not confirmed within the request's timeout: the change goes on and completes. */
function adminTimeout(timeoutMs: number | undefined): { errorCode: number; errorMessage: string } {
  const within = timeoutMs === undefined || timeoutMs <= 0 ? "the controller's request timeout" : `${timeoutMs} ms`
  return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `The change was not confirmed within ${within}; it goes on and completes` }
}

/**
 * A topic admin change's error code under the request's timeoutMs (CreateTopics, DeleteTopics,
 * CreatePartitions). Kafka makes the change, then waits up to timeoutMs for it to reach every
 * broker; with a timeout of 0 or below it does not wait and answers REQUEST_TIMED_OUT for each
 * change it made (AdminManager's "timeout <= 0 ... return immediately"; librdkafka hides the code
 * when its operation timeout is 0). Here a change is on every broker once the controller answers.
 */
function adminChangeErrorCode(errorCode: number, timeoutMs: number | undefined, validateOnly: boolean): number {
  return errorCode === ErrorCode.NONE && !validateOnly && timeoutMs !== undefined && timeoutMs <= 0 ? ErrorCode.REQUEST_TIMED_OUT : errorCode
}

function errorCodeOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const { errorCode } = error as { errorCode?: number }
    if (typeof errorCode === 'number') return errorCode
  }
  return ErrorCode.UNKNOWN_SERVER_ERROR
}

function messageOf(error: unknown): string | null {
  return error instanceof Error ? error.message : null
}
