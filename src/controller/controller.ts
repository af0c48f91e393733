/**
 * The controller (main thread): what KRaft's active controller does for Kafka. It owns the cluster
 * metadata (the store), decides the admin requests every broker node forwards to it (KIP-590),
 * hands out producer ids, drives the supervisor's placement, elections and restarts, and keeps
 * every node's metadata image current through the image publisher. It carries no record.
 */
import { randomUUID } from 'node:crypto'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { brokerConfigEntries, brokerTopicDefaults, type BrokerConfig } from '../metadata/broker-config.js'
import { DYNAMIC_BROKER_KEYS, applyBrokerConfigOps, brokerResourceId, dynamicFor } from '../metadata/broker-dynamic-configs.js'
import { configKey } from '../metadata/config-keys.js'
import { kafkaBrokerKey } from '../metadata/kafka-broker-keys.js'
import type { ControllerReplies, ControllerReply, ControllerRequest } from '../metadata/controller-messages.js'
import type { TopicState } from '../metadata/image.js'
import type {
  AlterConfigOp,
  ConfigResource,
  CreatePartitionsInput,
  CreateTopicInput,
  CreateTopicResult,
  ElectLeadersResult,
  InitProducerIdResult,
  OngoingReassignment,
  ReassignmentInput,
  ReassignmentResult,
  TopicErrorResult,
} from '../metadata/operations.js'
import { validateTopicConfigs } from '../metadata/topic-config-keys.js'
import { TOPIC_CONFIG_DEFAULTS, applyConfigOps } from '../metadata/topic-configs.js'
import { OFFSETS_TOPIC, TXN_STATE_TOPIC, isInternalTopic, isReservedTopicName, topicNameProblem } from '../metadata/topic-names.js'
import { logConfigFromKafka } from '../storage/log-config.js'
import type { Logger } from '../common/logger.js'
import type { ImagePublisher } from './image-publisher.js'
import type { MetadataStore } from './metadata-store.js'
import { checkAddedAssignments, checkReplicaList, checkTopicAssignments } from './manual-assignment.js'
import { canComplete, cancelReassignment, completeReassignment, isReassigning, startReassignment } from './reassignment.js'
import { assignReplicas } from './placement.js'
import type { Supervisor } from './supervisor.js'

const RESOURCE_TOPIC = 2
const RESOURCE_BROKER = 4

/** Kafka's settings of __consumer_offsets: compacted, 100 MiB segments. */
const OFFSETS_TOPIC_CONFIGS: Record<string, string> = { 'cleanup.policy': 'compact', 'segment.bytes': '104857600', 'compression.type': 'producer' }

export interface ControllerDeps {
  config: BrokerConfig
  store: MetadataStore
  supervisor: Supervisor
  publisher: ImagePublisher
  logger?: Pick<Logger, 'warn'>
}

export class Controller {
  readonly #config: BrokerConfig
  readonly #store: MetadataStore
  readonly #router: Supervisor
  readonly #publisher: ImagePublisher
  readonly #logger: Pick<Logger, 'warn'> | undefined
  /** Admin requests run one at a time, as a controller's event queue does: none sees another half done. */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(deps: ControllerDeps) {
    this.#config = deps.config
    this.#store = deps.store
    this.#router = deps.supervisor
    this.#publisher = deps.publisher
    this.#logger = deps.logger
    this.#publisher.setBrokerConfigs(this.#store.brokerConfigs())
    // A reassignment completes once its target replicas are in sync: an ISR change may be that moment.
    this.#router.onIsrStored((topic, partition) => {
      const state = this.#store.topic(topic)?.partitions[partition]
      if (state !== undefined && canComplete(state)) void this.#enqueue(() => this.#completeIfReady(topic, partition))
    })
  }

  /** Runs `work` after every admin request before it, publishing its effect; never rejects. */
  #enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(work).then(
      () => void this.#publisher.flush(),
      (error: unknown) => this.#logger?.warn(`completing a reassignment failed: ${messageOf(error) ?? String(error)}`),
    )
    this.#queue = run
    return run
  }

  /**
   * After a restart of the controller: reassignments whose target caught up while it was down
   * complete now; the rest complete on a later ISR change.
   */
  resumeReassignments(): Promise<void> {
    return this.#enqueue(async () => {
      for (const topic of this.#store.topics()) {
        for (const state of topic.partitions) if (canComplete(state)) await this.#completeIfReady(topic.name, state.partition)
      }
    })
  }

  async #completeIfReady(topic: string, partition: number): Promise<void> {
    const state = this.#store.topic(topic)?.partitions[partition]
    if (state === undefined || !canComplete(state)) return
    await this.#router.changeReplicas(topic, partition, completeReassignment(state))
  }

  /**
   * AlterPartitionReassignments (KIP-455), partition by partition as Kafka's controller answers
   * it: a target replica list starts (or replaces) a reassignment, null cancels the running one.
   * The answer comes once the added replicas are open; the move completes later (see
   * reassignment.ts), or at once when the target is already in sync.
   */
  async alterReassignments(inputs: ReassignmentInput[]): Promise<ReassignmentResult[]> {
    const results: ReassignmentResult[] = []
    for (const { topic, partition, replicas } of inputs) {
      try {
        const state = this.#store.topic(topic)?.partitions[partition]
        if (state === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${topic}-${partition}.`)
        if (replicas === null) {
          if (!isReassigning(state)) throw new KafkaError(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `No ongoing reassignment for partition ${topic}-${partition}.`)
          await this.#router.changeReplicas(topic, partition, cancelReassignment(state))
        } else {
          checkReplicaList(replicas, this.#brokerIds(), null)
          // The replicas it already has, with none running: nothing to do (no new epoch), as in Kafka.
          const unchanged = !isReassigning(state) && replicas.length === state.replicas.length && replicas.every((id, i) => id === state.replicas[i])
          if (!unchanged) {
            await this.#router.changeReplicas(topic, partition, startReassignment(state, replicas))
            await this.#completeIfReady(topic, partition)
          }
        }
        results.push({ topic, partition, errorCode: ErrorCode.NONE, errorMessage: null })
      } catch (error) {
        results.push({ topic, partition, errorCode: errorCodeOf(error), errorMessage: messageOf(error) })
      }
    }
    return results
  }

  /** ListPartitionReassignments: the running ones (of the partitions asked for); others are left out, as in Kafka. */
  listReassignments(topics: Array<{ topic: string; partitions: number[] }> | null): OngoingReassignment[] {
    const asked = topics === null ? null : new Map(topics.map((t) => [t.topic, new Set(t.partitions)]))
    const ongoing: OngoingReassignment[] = []
    for (const topic of this.#store.topics()) {
      for (const state of topic.partitions) {
        if (!isReassigning(state)) continue
        if (asked !== null && asked.get(topic.name)?.has(state.partition) !== true) continue
        ongoing.push({
          topic: topic.name,
          partition: state.partition,
          replicas: [...state.replicas],
          addingReplicas: [...(state.addingReplicas ?? [])],
          removingReplicas: [...(state.removingReplicas ?? [])],
        })
      }
    }
    return ongoing
  }

  /** Answers a node's request; the delta holding its effect is sent before the answer. */
  handle(request: ControllerRequest): Promise<ControllerReply<unknown>> {
    const run = this.#queue.then(async () => {
      const result = await this.#decide(request)
      return { result, imageVersion: this.#publisher.flush() }
    })
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #decide(request: ControllerRequest): Promise<ControllerReplies[ControllerRequest['op']]> {
    switch (request.op) {
      case 'createTopics':
        return this.createTopics(request.inputs, request.validateOnly)
      case 'deleteTopics':
        return this.deleteTopics(request.names)
      case 'createPartitions':
        return this.createPartitions(request.inputs, request.validateOnly)
      case 'alterConfigs':
        return this.alterConfigs(request.resources, request.incremental, request.validateOnly)
      case 'initProducerId':
        return this.initProducerId(request.transactionalId, request.producerId, request.producerEpoch, request.transactionTimeoutMs)
      case 'ensureTopic':
        return this.ensureTopic(request.name)
      case 'electLeaders':
        return this.electLeaders(request.electionType, request.partitions)
      case 'alterReassignments':
        return this.alterReassignments(request.inputs)
      case 'listReassignments':
        return this.listReassignments(request.topics)
    }
  }

  /** Creates a topic with the broker's defaults (an internal one with its own) unless it exists. */
  async ensureTopic(name: string): Promise<{ errorCode: number; errorMessage: string | null }> {
    if (this.#store.topic(name) !== undefined) return { errorCode: ErrorCode.NONE, errorMessage: null }
    try {
      const topic =
        name === OFFSETS_TOPIC ? this.#planOffsetsTopic() : name === TXN_STATE_TOPIC ? this.#planTxnStateTopic() : this.#planTopic({ name, numPartitions: -1, replicationFactor: -1, configs: {} })
      await this.#createTopic(topic)
      return { errorCode: ErrorCode.NONE, errorMessage: null }
    } catch (error) {
      return { errorCode: errorCodeOf(error), errorMessage: messageOf(error) }
    }
  }

  #planOffsetsTopic(): TopicState {
    const rf = Math.min(this.#config.offsetsTopicReplicationFactor, this.#config.brokers)
    const assignments = assignReplicas(this.#brokerIds(), this.#config.offsetsTopicNumPartitions, rf, 0, this.#store.topics().length)
    return {
      name: OFFSETS_TOPIC,
      topicId: randomUUID(),
      configs: { ...OFFSETS_TOPIC_CONFIGS },
      partitions: assignments.map((replicas, partition) => ({ partition, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] })),
    }
  }

  /** __transaction_state as Kafka creates it: compacted, its own partition count, replication and min ISR. */
  #planTxnStateTopic(): TopicState {
    const rf = Math.min(this.#config.transactionStateLogReplicationFactor, this.#config.brokers)
    const assignments = assignReplicas(this.#brokerIds(), this.#config.transactionStateLogNumPartitions, rf, 0, this.#store.topics().length)
    const minIsr = Math.min(this.#config.transactionStateLogMinIsr, rf)
    return {
      name: TXN_STATE_TOPIC,
      topicId: randomUUID(),
      configs: { ...OFFSETS_TOPIC_CONFIGS, 'min.insync.replicas': String(minIsr) },
      partitions: assignments.map((replicas, partition) => ({ partition, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] })),
    }
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
      if (isInternalTopic(name)) {
        results.push({ name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Internal topic ${name} cannot be deleted` })
        continue
      }
      this.#store.deleteTopic(name)
      await this.#router.closeTopic(topic, true)
      results.push({ name, errorCode: ErrorCode.NONE, errorMessage: null })
    }
    return results
  }

  async createPartitions(inputs: CreatePartitionsInput[], validateOnly: boolean): Promise<TopicErrorResult[]> {
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
        const added = input.count - current
        const assignments =
          input.assignments === undefined
            ? this.#assignWithinLimit(added, rf, current)
            : checkAddedAssignments(input.assignments, added, this.#brokerIds(), rf)
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
    this.#store.putTopic(grown, added.map((p) => p.partition))
    try {
      await this.#router.openPartitions(grown, current)
    } catch (error) {
      await this.#router.closeTopic(grown, true, current)
      this.#store.putTopic({ ...grown, partitions: grown.partitions.slice(0, current) })
      throw refusal(error, `adding ${assignments.length} partitions to ${topic.name}`)
    }
  }

  /**
   * Places `count` new partitions of `rf` replicas (the caller then checks each broker's total,
   * #checkBrokerPartitions). A count no broker set could hold under max.broker.partitions is refused before any placement is built: a CreatePartitions to 2^31-4 partitions
   * made the controller build two billion replica lists on the main thread, which stalled every
   * admin request and ran the process out of memory (found by the fuzzer, seed 7 frame 113).
   */
  #assignWithinLimit(count: number, rf: number, firstPartition: number, startIndex?: number): number[][] {
    const brokerIds = this.#brokerIds()
    const capacity = this.#config.maxBrokerPartitions * brokerIds.length
    if (count * rf > capacity) {
      throw new KafkaError(
        ErrorCode.POLICY_VIOLATION,
        `${count} partitions of ${rf} replicas would pass max.broker.partitions=${this.#config.maxBrokerPartitions} on ${brokerIds.length} brokers`,
      )
    }
    return assignReplicas(brokerIds, count, rf, firstPartition, startIndex)
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

  async alterConfigs(
    resources: Array<ConfigResource & { configs: AlterConfigOp[] }>,
    incremental: boolean,
    validateOnly: boolean,
  ): Promise<Array<ConfigResource & { errorCode: number; errorMessage: string | null }>> {
    const results: Array<ConfigResource & { errorCode: number; errorMessage: string | null }> = []
    for (const resource of resources) {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
      try {
        if (resource.resourceType === RESOURCE_BROKER) {
          await this.#alterBrokerConfigs(resource.resourceName, resource.configs, incremental, validateOnly)
          results.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null })
          continue
        }
        if (resource.resourceType !== RESOURCE_TOPIC) {
          throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resource.resourceType}`)
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

  /**
   * ElectLeaders over the partitions asked for, or every partition when none are named; then, as
   * Kafka does, only the partitions whose election was needed are answered.
   */
  async electLeaders(type: 0 | 1, partitions: Array<{ topic: string; partition: number }> | null): Promise<ElectLeadersResult[]> {
    if (partitions !== null) return this.#router.electLeaders(type, partitions)
    const all = this.#store.topics().flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })))
    const results = await this.#router.electLeaders(type, all)
    return results.filter((r) => r.errorCode !== ErrorCode.ELECTION_NOT_NEEDED)
  }

  async initProducerId(transactionalId: string | null, producerId: number, producerEpoch: number, transactionTimeoutMs: number): Promise<InitProducerIdResult> {
    if (transactionalId !== null) {
      const refused = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1, producerEpoch: -1 })
      // Kafka's TransactionCoordinator checks in this order: an empty id is INVALID_REQUEST, then a
      // timeout outside (0, transaction.max.timeout.ms] is INVALID_TRANSACTION_TIMEOUT. An
      // idempotent producer's (null id) timeout is never looked at.
      if (transactionalId === '') return refused(ErrorCode.INVALID_REQUEST)
      if (transactionTimeoutMs <= 0 || transactionTimeoutMs > this.#config.transactionMaxTimeoutMs) return refused(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
      // Transactions arrive in a later round; until then a transactional producer is told plainly.
      return refused(ErrorCode.INVALID_REQUEST)
    }
    if (producerId >= 0) {
      // KIP-360: a producer that knows its id asks for a bumped epoch to reset its sequences.
      if (producerEpoch >= 32_766) return { errorCode: ErrorCode.NONE, producerId: this.#store.nextProducerId(), producerEpoch: 0 }
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 1 }
    }
    return { errorCode: ErrorCode.NONE, producerId: this.#store.nextProducerId(), producerEpoch: 0 }
  }

  #logDefaults() {
    return logConfigFromKafka(brokerTopicDefaults(this.#config, dynamicFor(this.#store.brokerConfigs(), null)))
  }

  /**
   * Dynamic broker configs at the cluster default (empty name) or one broker's level (see
   * metadata/broker-dynamic-configs.ts): stored, published to every broker, and pushed to every
   * replica, whose log config they are the default of.
   */
  async #alterBrokerConfigs(name: string, ops: AlterConfigOp[], incremental: boolean, validateOnly: boolean): Promise<void> {
    const brokerId = brokerResourceId(name, this.#config.brokers)
    const staticKeys = new Set(Object.keys(brokerConfigEntries(this.#config)))
    const partitaKey = (key: string): boolean => staticKeys.has(key) || configKey(key) !== undefined
    const level = brokerId === null ? '' : String(brokerId)
    const all = this.#store.brokerConfigs()
    // APPEND and SUBTRACT start from what is in force below this level.
    const below = { ...TOPIC_CONFIG_DEFAULTS, ...brokerTopicDefaults(this.#config, brokerId === null ? {} : dynamicFor(all, null)) }
    const belowOf = (key: string): string | undefined =>
      DYNAMIC_BROKER_KEYS[key] !== undefined ? below[DYNAMIC_BROKER_KEYS[key]] : (dynamicFor(all, null)[key] ?? this.#config.kafkaStartValues[key] ?? kafkaBrokerKey(key)?.defaultValue ?? undefined)
    const next = applyBrokerConfigOps(all[level] ?? {}, ops, incremental, { clusterDefault: brokerId === null, resourceName: name }, partitaKey, belowOf)
    if (validateOnly) return
    const updated: Record<string, Record<string, string>> = { ...all, [level]: next }
    if (Object.keys(next).length === 0) delete updated[level]
    this.#store.putBrokerConfigs(updated)
    this.#publisher.setBrokerConfigs(updated)
    for (const topic of this.#store.topics()) await this.#router.updateTopicConfig(topic)
  }

  #planTopic(input: CreateTopicInput): TopicState {
    const problem = topicNameProblem(input.name)
    if (problem !== null) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem)
    if (isReservedTopicName(input.name)) {
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic name "${input.name}" is reserved: names starting with "__" are for internal topics`)
    }
    if (this.#store.topic(input.name) !== undefined) {
      throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${input.name}' already exists.`)
    }
    validateTopicConfigs(input.configs)
    logConfigFromKafka(input.configs, this.#logDefaults())
    const assignments = this.#placeNewTopic(input)
    this.#checkBrokerPartitions(assignments)
    return {
      name: input.name,
      topicId: randomUUID(),
      configs: { ...input.configs },
      partitions: assignments.map((replicas, partition) => ({ partition, replicas, leader: replicas[0], leaderEpoch: 0, isr: [...replicas] })),
    }
  }

  /** The replicas of a new topic's partitions: as the client assigned them, or placed here. */
  #placeNewTopic(input: CreateTopicInput): number[][] {
    if (input.assignments !== undefined && input.assignments.length > 0) {
      // Kafka's own words: a manual assignment fixes both counts, so neither may be given.
      if (input.numPartitions !== -1) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.')
      }
      if (input.replicationFactor !== -1) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replicationFactor was not set to -1.')
      }
      return checkTopicAssignments(input.assignments, this.#brokerIds())
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
    return this.#assignWithinLimit(partitions, rf, 0, this.#store.topics().length)
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

  #brokerIds(): number[] {
    return Array.from({ length: this.#config.brokers }, (_, id) => id)
  }
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
