/**
 * The broker core (main thread): topic metadata and admin, and the fan-out of produce, fetch and
 * offset requests to the partition actors through the supervisor's router. The TCP server and the
 * embedded client both call it; it never touches a socket and never touches a log file.
 */
import { randomUUID } from 'node:crypto'
import type { PartitionRequest } from '../actors/partition-messages.js'
import type {
  DeleteRecordsPartitionResult,
  FetchPartitionResult,
  ListOffsetsPartitionResult,
  EpochEndOffsetResult,
} from '../actors/partition/replica-types.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { logConfigFromKafka } from '../storage/log-config.js'
import { brokerTopicDefaults, type BrokerConfig } from '../metadata/broker-config.js'
import { describeBrokerConfigs, describeTopicConfigs, applyConfigOps } from '../metadata/topic-configs.js'
import type { GroupCoordinatorApi } from './group-api.js'
import type { MetadataStore, TopicState } from '../controller/metadata-store.js'
import { assignReplicas } from '../controller/placement.js'
import type { PartitionRouter } from './router.js'
import { topicNameProblem } from '../metadata/topic-names.js'
import type {
  Acks,
  AlterConfigOp,
  BrokerCore,
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
} from './types.js'

const RESOURCE_TOPIC = 2
const RESOURCE_BROKER = 4
/**
 * A partition's share of one fetch response. Replies cross the shard ring as one message, so a
 * share stays well under the ring's message limit (8 MiB); a batch larger than the share still
 * comes whole (KIP-74).
 */
const FETCH_PARTITION_BYTES_MAX = 4 * 1024 * 1024

export interface CoreDeps {
  config: BrokerConfig
  store: MetadataStore
  router: PartitionRouter
  groups: GroupCoordinatorApi
  /** The port clients reach, once the listener is up (metadata advertises it). */
  advertisedPort: () => number
}

export class Core implements BrokerCore {
  readonly groups: GroupCoordinatorApi
  readonly #config: BrokerConfig
  readonly #store: MetadataStore
  readonly #router: PartitionRouter
  readonly #advertisedPort: () => number
  #nextFetchId = 1
  /** Auto-creation in flight per topic, so concurrent first requests create it once. */
  readonly #creating = new Map<string, Promise<void>>()

  constructor(deps: CoreDeps) {
    this.#config = deps.config
    this.#store = deps.store
    this.#router = deps.router
    this.groups = deps.groups
    this.#advertisedPort = deps.advertisedPort
  }

  get clusterId(): string {
    return this.#store.clusterId
  }

  brokers(): BrokerNode[] {
    const nodes: BrokerNode[] = []
    for (let id = 0; id < this.#config.brokers; id++) {
      nodes.push({ nodeId: id, host: this.#config.advertisedHost, port: this.#advertisedPort(), rack: null })
    }
    return nodes
  }

  /** The controller is the lowest live broker, as a client would see a KRaft controller. */
  controllerId(): number {
    const live = this.#router.liveBrokerIds()
    return live.length > 0 ? Math.min(...live) : 0
  }

  async metadata(topics: string[] | null, allowAutoCreate: boolean): Promise<ClusterMetadata> {
    const names = topics ?? this.#store.topics().map((t) => t.name)
    const result: TopicMetadata[] = []
    for (const name of names) {
      let topic = this.#store.topic(name)
      if (topic === undefined && topics !== null && allowAutoCreate && this.#config.autoCreateTopics) {
        const problem = topicNameProblem(name)
        if (problem === null) topic = await this.#autoCreate(name)
      }
      result.push(topic === undefined ? missingTopic(name) : this.#topicMetadata(topic))
    }
    return { clusterId: this.clusterId, controllerId: this.controllerId(), brokers: this.brokers(), topics: result }
  }

  async produce(inputs: ProduceInput[], acks: Acks, timeoutMs: number): Promise<ProduceResult[]> {
    return Promise.all(inputs.map((input) => this.#producePartition(input, acks, timeoutMs)))
  }

  async #producePartition(input: ProduceInput, acks: Acks, timeoutMs: number): Promise<ProduceResult> {
    try {
      // Only auto-creation waits before routing: an existing topic's produce reaches its partition
      // in the order requests arrived, as do fetches and offset lookups.
      if (this.#store.topic(input.topic) === undefined) await this.#autoCreateIfAllowed(input.topic)
      this.#partition(input.topic, input.partition)
      const message: PartitionRequest = { op: 'produce', acks, timeoutMs }
      const reply = await this.#router.requestLeader(input.topic, input.partition, message, input.records)
      return reply.message as ProduceResult
    } catch (error) {
      return { errorCode: errorCodeOf(error), errorMessage: messageOf(error), baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
    }
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
      for (const index of pending) {
        const input = inputs[index]
        this.#router.tellLeader(input.topic, input.partition, { op: 'cancelFetch', fetchId })
      }
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
      this.#partition(input.topic, input.partition)
      const message: PartitionRequest = {
        op: 'fetch',
        fetchId,
        replicaId: -1,
        fetchOffset: input.fetchOffset,
        maxBytes: Math.min(input.partitionMaxBytes, shareBytes, FETCH_PARTITION_BYTES_MAX),
        maxWaitMs,
        minBytes: options.minBytes,
        currentLeaderEpoch: -1,
      }
      const reply = await this.#router.requestLeader(input.topic, input.partition, message)
      const result = reply.message as FetchPartitionResult
      return {
        ...base,
        errorCode: result.errorCode,
        highWatermark: result.highWatermark,
        lastStableOffset: result.lastStableOffset,
        logStartOffset: result.logStartOffset,
        records: reply.payload !== undefined && reply.payload.length > 0 ? reply.payload : null,
      }
    } catch (error) {
      return { ...base, errorCode: errorCodeOf(error), highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: null }
    }
  }

  async listOffsets(inputs: ListOffsetsInput[]): Promise<ListOffsetsResult[]> {
    return Promise.all(
      inputs.map(async (input) => {
        try {
          this.#partition(input.topic, input.partition)
          const reply = await this.#router.requestLeader(input.topic, input.partition, { op: 'listOffsets', timestamp: input.timestamp })
          return reply.message as ListOffsetsPartitionResult
        } catch (error) {
          return { errorCode: errorCodeOf(error), timestamp: -1, offset: -1, leaderEpoch: -1 }
        }
      }),
    )
  }

  /** OffsetsForLeaderEpoch for clients that validate their position after a leader change. */
  async epochEndOffset(topic: string, partition: number, epoch: number, currentLeaderEpoch = -1): Promise<EpochEndOffsetResult> {
    try {
      this.#partition(topic, partition)
      const reply = await this.#router.requestLeader(topic, partition, { op: 'epochEndOffset', epoch, currentLeaderEpoch })
      return reply.message as EpochEndOffsetResult
    } catch (error) {
      return { errorCode: errorCodeOf(error), epoch: -1, endOffset: -1 }
    }
  }

  async deleteRecords(inputs: DeleteRecordsInput[]): Promise<DeleteRecordsResult[]> {
    return Promise.all(
      inputs.map(async (input) => {
        try {
          this.#partition(input.topic, input.partition)
          const reply = await this.#router.requestLeader(input.topic, input.partition, { op: 'deleteRecords', offset: input.offset })
          return reply.message as DeleteRecordsPartitionResult
        } catch (error) {
          return { errorCode: errorCodeOf(error), lowWatermark: -1 }
        }
      }),
    )
  }

  async createTopics(inputs: CreateTopicInput[], validateOnly: boolean): Promise<CreateTopicResult[]> {
    const results: CreateTopicResult[] = []
    const seen = new Set<string>()
    for (const input of inputs) {
      if (seen.has(input.name)) {
        results.push(createFailure(input, ErrorCode.INVALID_REQUEST, `Topic ${input.name} appears twice in the request`))
        continue
      }
      seen.add(input.name)
      try {
        const topic = this.#planTopic(input)
        if (!validateOnly) await this.#createTopic(topic)
        results.push({
          name: input.name,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          numPartitions: topic.partitions.length,
          replicationFactor: topic.partitions[0].replicas.length,
          topicId: topic.topicId,
        })
      } catch (error) {
        results.push(createFailure(input, errorCodeOf(error), messageOf(error)))
      }
    }
    return results
  }

  async deleteTopics(names: string[]): Promise<TopicErrorResult[]> {
    const results: TopicErrorResult[] = []
    for (const name of names) {
      const topic = this.#store.topic(name)
      if (topic === undefined) {
        results.push({ name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${name} does not exist` })
        continue
      }
      this.#store.deleteTopic(name)
      await this.#router.closeTopic(topic, true)
      results.push({ name, errorCode: ErrorCode.NONE, errorMessage: null })
    }
    return results
  }

  async createPartitions(inputs: Array<{ name: string; count: number }>, validateOnly: boolean): Promise<TopicErrorResult[]> {
    const results: TopicErrorResult[] = []
    for (const input of inputs) {
      const topic = this.#store.topic(input.name)
      if (topic === undefined) {
        results.push({ name: input.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${input.name} does not exist` })
        continue
      }
      const current = topic.partitions.length
      if (!Number.isInteger(input.count) || input.count <= current) {
        const why = `Topic currently has ${current} partitions, ${input.count} would not be an increase`
        results.push({ name: input.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: why })
        continue
      }
      try {
        const rf = topic.partitions[0].replicas.length
        const assignments = assignReplicas(this.#brokerIds(), input.count - current, rf, current)
        this.#checkBrokerPartitions(assignments)
        if (!validateOnly) await this.#addPartitions(topic, assignments)
        results.push({ name: input.name, errorCode: ErrorCode.NONE, errorMessage: null })
      } catch (error) {
        results.push({ name: input.name, errorCode: errorCodeOf(error), errorMessage: messageOf(error) })
      }
    }
    return results
  }

  /** Adds partitions to a topic; if any replica cannot be opened, none of them stays. */
  async #addPartitions(topic: TopicState, assignments: number[][]): Promise<void> {
    const current = topic.partitions.length
    const added = assignments.map((replicas, i) => ({ partition: current + i, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] }))
    const grown: TopicState = { ...topic, partitions: [...topic.partitions, ...added] }
    this.#store.putTopic(grown)
    try {
      await this.#router.openPartitions(grown, current)
    } catch (error) {
      await this.#router.closeTopic(grown, true, current)
      this.#store.putTopic({ ...grown, partitions: grown.partitions.slice(0, current) })
      throw refusal(error, `adding ${assignments.length} partitions to ${topic.name}`)
    }
  }

  /**
   * max.broker.partitions (KIP-578): the replicas one broker may host. A request that would pass it
   * is refused whole with POLICY_VIOLATION, before anything is created.
   */
  #checkBrokerPartitions(assignments: number[][]): void {
    const adding = new Map<number, number>()
    for (const replicas of assignments) for (const id of replicas) adding.set(id, (adding.get(id) ?? 0) + 1)
    const hosted = new Map<number, number>()
    for (const topic of this.#store.topics()) {
      for (const state of topic.partitions) for (const id of state.replicas) hosted.set(id, (hosted.get(id) ?? 0) + 1)
    }
    for (const [brokerId, count] of adding) {
      const total = (hosted.get(brokerId) ?? 0) + count
      if (total > this.#config.maxBrokerPartitions) {
        throw new KafkaError(
          ErrorCode.POLICY_VIOLATION,
          `Broker ${brokerId} would host ${total} partition replicas, above max.broker.partitions=${this.#config.maxBrokerPartitions}`,
        )
      }
    }
  }

  async describeConfigs(resources: Array<ConfigResource & { configNames: string[] | null }>): Promise<DescribeConfigsResult[]> {
    return resources.map((resource) => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
      if (resource.resourceType === RESOURCE_TOPIC) {
        const topic = this.#store.topic(resource.resourceName)
        if (topic === undefined) {
          return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${resource.resourceName} does not exist`, configs: [] }
        }
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: describeTopicConfigs(topic.configs, this.#config, resource.configNames) }
      }
      if (resource.resourceType === RESOURCE_BROKER) {
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: describeBrokerConfigs(this.#config, resource.configNames) }
      }
      return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${resource.resourceType}`, configs: [] }
    })
  }

  async alterConfigs(
    resources: Array<ConfigResource & { configs: AlterConfigOp[] }>,
    incremental: boolean,
    validateOnly: boolean,
  ): Promise<Array<ConfigResource & { errorCode: number; errorMessage: string | null }>> {
    const results: Array<ConfigResource & { errorCode: number; errorMessage: string | null }> = []
    for (const resource of resources) {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
      try {
        if (resource.resourceType !== RESOURCE_TOPIC) {
          throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Only topic configs can be altered; broker configs are static')
        }
        const topic = this.#store.topic(resource.resourceName)
        if (topic === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${resource.resourceName} does not exist`)
        const configs = applyConfigOps(topic.configs, resource.configs, incremental)
        logConfigFromKafka(configs, this.#logDefaults())
        if (!validateOnly) {
          topic.configs = configs
          this.#store.putTopic(topic)
          await this.#router.updateTopicConfig(topic)
        }
        results.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null })
      } catch (error) {
        results.push({ ...base, errorCode: errorCodeOf(error), errorMessage: messageOf(error) })
      }
    }
    return results
  }

  async initProducerId(transactionalId: string | null, producerId: number, producerEpoch: number): Promise<InitProducerIdResult> {
    if (transactionalId !== null) {
      // Transactions arrive in a later round; until then a transactional producer is told plainly.
      return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 }
    }
    if (producerId >= 0) {
      // KIP-360: a producer that knows its id asks for a bumped epoch to reset its sequences.
      if (producerEpoch >= 32_766) return { errorCode: ErrorCode.NONE, producerId: this.#store.nextProducerId(), producerEpoch: 0 }
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 1 }
    }
    return { errorCode: ErrorCode.NONE, producerId: this.#store.nextProducerId(), producerEpoch: 0 }
  }

  #logDefaults() {
    return logConfigFromKafka(brokerTopicDefaults(this.#config))
  }

  #planTopic(input: CreateTopicInput): TopicState {
    const problem = topicNameProblem(input.name)
    if (problem !== null) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem)
    if (this.#store.topic(input.name) !== undefined) {
      throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${input.name}' already exists.`)
    }
    const partitions = input.numPartitions === -1 ? this.#config.numPartitions : input.numPartitions
    if (!Number.isInteger(partitions) || partitions <= 0) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0 (or -1 for the default), got ${partitions}`)
    }
    const rf = input.replicationFactor === -1 ? this.#config.defaultReplicationFactor : input.replicationFactor
    if (!Number.isInteger(rf) || rf <= 0 || rf > this.#config.brokers) {
      throw new KafkaError(
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `Replication factor: ${rf} larger than available brokers: ${this.#config.brokers}.`,
      )
    }
    logConfigFromKafka(input.configs, this.#logDefaults())
    const start = this.#store.topics().length
    const assignments = assignReplicas(this.#brokerIds(), partitions, rf, 0, start)
    this.#checkBrokerPartitions(assignments)
    return {
      name: input.name,
      topicId: randomUUID(),
      configs: { ...input.configs },
      partitions: assignments.map((replicas, partition) => ({ partition, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] })),
    }
  }

  /** Creates the topic whole or not at all: a replica that cannot be opened undoes the rest. */
  async #createTopic(topic: TopicState): Promise<void> {
    this.#store.putTopic(topic)
    try {
      await this.#router.openPartitions(topic, 0)
    } catch (error) {
      await this.#router.closeTopic(topic, true)
      this.#store.deleteTopic(topic.name)
      throw refusal(error, `creating topic ${topic.name}`)
    }
  }

  async #autoCreate(name: string): Promise<TopicState | undefined> {
    let creating = this.#creating.get(name)
    if (creating === undefined) {
      creating = (async () => {
        if (this.#store.topic(name) !== undefined) return
        const topic = this.#planTopic({ name, numPartitions: -1, replicationFactor: -1, configs: {} })
        await this.#createTopic(topic)
      })().finally(() => this.#creating.delete(name))
      this.#creating.set(name, creating)
    }
    await creating
    return this.#store.topic(name)
  }

  async #autoCreateIfAllowed(topicName: string): Promise<void> {
    if (this.#config.autoCreateTopics && topicNameProblem(topicName) === null) await this.#autoCreate(topicName)
  }

  #partition(topicName: string, partition: number): void {
    const topic = this.#store.topic(topicName)
    if (topic === undefined || !Number.isInteger(partition) || partition < 0 || partition >= topic.partitions.length) {
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition: ${topicName}-${partition}`)
    }
  }

  #topicMetadata(topic: TopicState): TopicMetadata {
    const live = new Set(this.#router.liveBrokerIds())
    return {
      errorCode: ErrorCode.NONE,
      name: topic.name,
      topicId: topic.topicId,
      isInternal: false,
      partitions: topic.partitions.map((p) => ({
        errorCode: p.leader === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p.partition,
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: [...p.replicas],
        isrNodes: [...p.isr],
        offlineReplicas: p.replicas.filter((id) => !live.has(id)),
      })),
    }
  }

  #brokerIds(): number[] {
    return Array.from({ length: this.#config.brokers }, (_, id) => id)
  }
}

function missingTopic(name: string): TopicMetadata {
  const errorCode = topicNameProblem(name) === null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION
  return { errorCode, name, topicId: '00000000-0000-0000-0000-000000000000', isInternal: false, partitions: [] }
}

function createFailure(input: CreateTopicInput, errorCode: number, errorMessage: string | null): CreateTopicResult {
  return { name: input.name, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, topicId: '00000000-0000-0000-0000-000000000000' }
}

/**
 * What a client is told when replicas could not be opened: a resource limit (open files, disk
 * space, shard memory) is a POLICY_VIOLATION naming it, as the request asked for more than the
 * broker can hold; anything else keeps its own code.
 */
function refusal(error: unknown, what: string): KafkaError {
  const message = `${what} failed: ${messageOf(error) ?? String(error)}`
  const code = (error as { code?: unknown }).code
  if (code === 'PARTITA_RESOURCE_LIMIT') return new KafkaError(ErrorCode.POLICY_VIOLATION, message)
  return new KafkaError(errorCodeOf(error), message)
}

/** Kafka errors keep their code; a shard that died mid-request reads as a leader change. */
export function errorCodeOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const { errorCode, code } = error as { errorCode?: number; code?: string }
    if (typeof errorCode === 'number') return errorCode
    if (code === 'PARTITA_SHARD_DIED' || code === 'PARTITA_ACTOR_NOT_FOUND') return ErrorCode.NOT_LEADER_OR_FOLLOWER
    if (code === 'PARTITA_REQUEST_TIMEOUT') return ErrorCode.REQUEST_TIMED_OUT
  }
  return ErrorCode.UNKNOWN_SERVER_ERROR
}

function messageOf(error: unknown): string | null {
  return error instanceof Error ? error.message : null
}
