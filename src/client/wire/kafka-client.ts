/**
 * A small Kafka client over the wire protocol: cluster metadata, requests routed by node id to
 * partition leaders and group coordinators, and thin builders for the APIs the CLI, the protocol
 * benchmark and the tests need. It answers with the decoded response bodies (or, for APIs split
 * across leaders, one flat result per partition) and leaves Kafka error codes to the caller, with
 * two exceptions where Kafka's own clients retry: a moved or missing leader (produce, after a
 * metadata refresh, only for errors that prove nothing was written) and a moved or loading group
 * coordinator.
 *
 * Connections are per node id even when nodes share an address (one Partita box has one
 * listener for all its logical brokers): routing stays what it would be against a real cluster.
 */
import { KafkaError, PartitaError } from '../../common/errors.js'
import { ErrorCode, errorName } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import type {
  CreateTopicsResponse,
  DeleteGroupsResponse,
  DeleteTopicsResponse,
  DescribeConfigsResponse,
  DescribeGroupsResponse,
  DescribeLogDirsResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  IncrementalAlterConfigsResponse,
  Input,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupResponse,
  ListGroupsResponseListedGroup,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchResponse,
  RequestApiKey,
  RequestByKey,
  ResponseByKey,
  SyncGroupRequest,
  SyncGroupResponse,
  AlterConfigsResponse,
  CreatePartitionsResponse,
} from '../../protocol/index.js'
import { Connection, type ConnectionOptions, type RequestOptions } from './connection.js'

export interface KafkaClientOptions {
  /** `host:port`, comma-separated or as a list; the first that answers is used. */
  bootstrapServers: string | string[]
  clientId?: string
  connectTimeoutMs?: number
  requestTimeoutMs?: number
  maxInFlight?: number
  /** Attempts for retriable leader and coordinator errors. Default 8. */
  retries?: number
  /** Wait between those attempts, doubling up to 1 s. Default 50 ms. */
  retryBackoffMs?: number
}

export interface BrokerAddress {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

export interface PartitionInfo {
  partition: number
  errorCode: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  offline: number[]
}

export interface TopicInfo {
  name: string
  topicId: string
  errorCode: number
  isInternal: boolean
  /** Sorted by partition. */
  partitions: PartitionInfo[]
}

export interface ClusterMetadata {
  clusterId: string | null
  controllerId: number
  brokers: BrokerAddress[]
  topics: TopicInfo[]
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface ProduceInput extends TopicPartition {
  /** One or more whole v2 record batches. */
  records: Buffer
}

export interface ProduceResult extends TopicPartition {
  errorCode: number
  errorMessage: string | null
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
}

export interface ProduceOptions {
  /** -1 (all in-sync replicas), 1 (the leader) or 0 (no answer at all). Default -1. */
  acks?: -1 | 0 | 1
  timeoutMs?: number
}

export interface FetchInput extends TopicPartition {
  fetchOffset: number
  /** Default 1 MiB. */
  partitionMaxBytes?: number
}

export interface FetchResult extends TopicPartition {
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  records: Buffer | null
}

export interface FetchOptions {
  maxWaitMs?: number
  minBytes?: number
  maxBytes?: number
  /** 0 read_uncommitted (default), 1 read_committed. */
  isolationLevel?: number
}

/** Kafka's special ListOffsets timestamps. */
export const OffsetSpec = { LATEST: -1, EARLIEST: -2 } as const

export interface ListOffsetsInput extends TopicPartition {
  /** A timestamp in ms, or OffsetSpec.LATEST / OffsetSpec.EARLIEST. */
  timestamp: number
}

export interface ListOffsetsResult extends TopicPartition {
  errorCode: number
  offset: number
  timestamp: number
}

export interface NewTopic {
  name: string
  /** -1: the broker's default. */
  numPartitions?: number
  /** -1: the broker's default. */
  replicationFactor?: number
  configs?: Record<string, string>
  /** Replicas per partition as assigned by hand (then numPartitions and replicationFactor are -1). */
  assignments?: Array<{ partitionIndex: number; brokerIds: number[] }>
}

export const ConfigResourceType = { TOPIC: 2, BROKER: 4 } as const

export interface ConfigResource {
  type: number
  name: string
}

/** IncrementalAlterConfigs operations. */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const

export interface ConfigChange {
  name: string
  op: number
  value: string | null
}

const RETRY_BACKOFF_MAX_MS = 1_000
const LEADER_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
])
const COORDINATOR_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
])

/** Splits `host:port` (the port defaulting to Kafka's 9092); throws PARTITA_CONFIG when malformed. */
export function parseHostPort(server: string): { host: string; port: number } {
  // A bare host has no colon; an IPv6 address comes in brackets, as in `[::1]:9092`.
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(server.trim()) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(server.trim())
  const port = match?.[2] === undefined ? 9092 : Number(match[2])
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PartitaError('PARTITA_CONFIG', `bad bootstrap server '${server}', expected host:port`)
  }
  return { host: match[1], port }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

/** Groups items by the node a function picks, keeping their order inside each group. */
function groupBy<T>(items: readonly T[], nodeOf: (item: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>()
  for (const item of items) {
    const node = nodeOf(item)
    const list = out.get(node)
    if (list === undefined) out.set(node, [item])
    else list.push(item)
  }
  return out
}

/** Groups topic-partition items into the [{topic, partitions: [...]}] shape most requests use. */
function byTopic<T extends TopicPartition, P>(items: readonly T[], toPartition: (item: T) => P): { name: string; partitions: P[] }[] {
  const topics = new Map<string, P[]>()
  for (const item of items) {
    const list = topics.get(item.topic)
    if (list === undefined) topics.set(item.topic, [toPartition(item)])
    else list.push(toPartition(item))
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }))
}

export class KafkaClient {
  readonly clientId: string
  readonly #options: KafkaClientOptions
  /** Null for a sibling (see sibling()), which talks to the brokers its parent had learnt of. */
  readonly #bootstrap: Connection | null
  readonly #retries: number
  readonly #retryBackoffMs: number
  readonly #brokers = new Map<number, BrokerAddress>()
  readonly #connections = new Map<number, Promise<Connection>>()
  readonly #leaders = new Map<string, number>()
  readonly #partitionCounts = new Map<string, number>()
  readonly #coordinators = new Map<string, number>()
  #controllerId = -1
  #closed = false

  private constructor(options: KafkaClientOptions, bootstrap: Connection | null) {
    this.#options = options
    this.clientId = options.clientId ?? 'partita'
    this.#bootstrap = bootstrap
    this.#retries = options.retries ?? 8
    this.#retryBackoffMs = options.retryBackoffMs ?? 50
  }

  /** Connects to the first bootstrap server that answers and loads the broker list. */
  static async connect(options: KafkaClientOptions): Promise<KafkaClient> {
    const servers = (Array.isArray(options.bootstrapServers) ? options.bootstrapServers : options.bootstrapServers.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== '')
    if (servers.length === 0) throw new PartitaError('PARTITA_CONFIG', 'no bootstrap server given')
    const addresses = servers.map(parseHostPort)
    let lastError: unknown = null
    for (const address of addresses) {
      try {
        const bootstrap = await Connection.connect(connectionOptions(options, address.host, address.port))
        const client = new KafkaClient(options, bootstrap)
        await client.metadata([])
        return client
      } catch (error) {
        lastError = error
      }
    }
    throw lastError
  }

  /**
   * A client of the same cluster with connections of its own, as a second Kafka client instance
   * has: its requests never queue behind this one's. Answers leave a connection in request
   * order, so a consumer's long poll would otherwise hold every later answer on its connection
   * (a producer's, a heartbeat) until the poll ends. It opens nothing until first used, and
   * starts from the brokers this client knows.
   */
  sibling(): KafkaClient {
    const sibling = new KafkaClient(this.#options, null)
    for (const broker of this.#brokers.values()) sibling.#brokers.set(broker.nodeId, { ...broker })
    sibling.#controllerId = this.#controllerId
    return sibling
  }

  /** The connection to the bootstrap server, for requests any broker can answer. */
  get bootstrap(): Connection {
    if (this.#bootstrap === null) throw new PartitaError('PARTITA_CONNECTION', 'a sibling client has no bootstrap connection of its own')
    return this.#bootstrap
  }

  get controllerId(): number {
    return this.#controllerId
  }

  get brokers(): BrokerAddress[] {
    return [...this.#brokers.values()].sort((a, b) => a.nodeId - b.nodeId)
  }

  /** The connection to node `nodeId`, opened on first use. */
  connectionTo(nodeId: number): Promise<Connection> {
    if (this.#closed) return Promise.reject(new PartitaError('PARTITA_CONNECTION', 'the client is closed'))
    const existing = this.#connections.get(nodeId)
    if (existing !== undefined) return existing.then((c) => (c.closed ? this.#reconnect(nodeId) : c))
    return this.#reconnect(nodeId)
  }

  #reconnect(nodeId: number): Promise<Connection> {
    const broker = this.#brokers.get(nodeId)
    if (broker === undefined) return Promise.reject(new PartitaError('PARTITA_CONNECTION', `no known address for broker ${nodeId}`))
    const opening = Connection.connect(connectionOptions(this.#options, broker.host, broker.port))
    this.#connections.set(nodeId, opening)
    // A failed open must not stick: the next call tries again.
    opening.catch(() => {
      if (this.#connections.get(nodeId) === opening) this.#connections.delete(nodeId)
    })
    return opening
  }

  /** Sends one request to node `nodeId` (or the bootstrap connection for -1). */
  async request<K extends RequestApiKey>(nodeId: number, apiKey: K, body: Input<RequestByKey[K]>, options?: RequestOptions): Promise<ResponseByKey[K]> {
    if (nodeId < 0 && this.#bootstrap === null) return this.#anyBroker((connection) => connection.send(apiKey, body, options))
    const connection = nodeId < 0 ? this.#bootstrap! : await this.connectionTo(nodeId)
    return connection.send(apiKey, body, options)
  }

  /**
   * Sends a request any broker can answer: to the bootstrap server, or when it is gone (the
   * broker was stopped or killed) to each other known broker in turn, as Kafka's clients fail
   * over their metadata requests.
   */
  async #anyBroker<T>(send: (connection: Connection) => Promise<T>): Promise<T> {
    if (this.#bootstrap !== null && !this.#bootstrap.closed) {
      try {
        return await send(this.#bootstrap)
      } catch (error) {
        if (this.#brokers.size === 0 || !isConnectionFailure(error)) throw error
      }
    }
    let lastError: unknown = new PartitaError('PARTITA_CONNECTION', 'no broker is reachable')
    for (const broker of this.brokers) {
      try {
        return await send(await this.connectionTo(broker.nodeId))
      } catch (error) {
        if (!isConnectionFailure(error)) throw error
        lastError = error
      }
    }
    throw lastError
  }

  /** The controller if known, else the bootstrap server: where admin requests go. */
  #adminNode(): number {
    return this.#brokers.has(this.#controllerId) ? this.#controllerId : -1
  }

  // ---------------------------------------------------------------- metadata

  /**
   * Metadata for `topics` (null: every topic; []: brokers only). Also refreshes the broker list
   * and the leaders this client routes by.
   */
  async metadata(topics: string[] | null = null, options: { allowAutoTopicCreation?: boolean } = {}): Promise<ClusterMetadata> {
    const response = await this.#anyBroker((connection) =>
      connection.send(ApiKey.Metadata, {
        topics: topics === null ? null : topics.map((name) => ({ name })),
        allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
      }),
    )
    this.#controllerId = response.controllerId
    for (const b of response.brokers) this.#brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })
    const out: ClusterMetadata = {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: this.brokers,
      topics: response.topics.map((t) => ({
        name: t.name ?? '',
        topicId: t.topicId,
        errorCode: t.errorCode,
        isInternal: t.isInternal,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            errorCode: p.errorCode,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offline: p.offlineReplicas,
          }))
          .sort((a, b) => a.partition - b.partition),
      })),
    }
    for (const topic of out.topics) {
      if (topic.errorCode !== ErrorCode.NONE) continue
      this.#partitionCounts.set(topic.name, topic.partitions.length)
      for (const p of topic.partitions) this.#leaders.set(key(topic.name, p.partition), p.leader)
    }
    return out
  }

  /**
   * Metadata for one topic, waiting (bounded by the retries) while it is being created or its
   * leaders are elected. Throws KafkaError with the topic's error code when it does not settle.
   */
  async topic(name: string, options: { allowAutoTopicCreation?: boolean } = {}): Promise<TopicInfo> {
    let last: TopicInfo | undefined
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) await this.#backoff(attempt)
      const meta = await this.metadata([name], options)
      last = meta.topics.find((t) => t.name === name)
      if (last === undefined) continue
      const settled = last.errorCode === ErrorCode.NONE && last.partitions.length > 0 && last.partitions.every((p) => p.leader >= 0)
      if (settled) return last
      if (!LEADER_ERRORS.has(last.errorCode) && last.errorCode !== ErrorCode.NONE) break
      if (last.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && options.allowAutoTopicCreation !== true) break
    }
    const code = last?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    throw new KafkaError(code === ErrorCode.NONE ? ErrorCode.LEADER_NOT_AVAILABLE : code, `topic '${name}': ${errorName(code === ErrorCode.NONE ? ErrorCode.LEADER_NOT_AVAILABLE : code)}`)
  }

  /** The leader this client last saw for a partition, or -1. */
  leaderFor(topic: string, partition: number): number {
    return this.#leaders.get(key(topic, partition)) ?? -1
  }

  /** The partition count this client last saw for a topic, or undefined. */
  partitionCount(topic: string): number | undefined {
    return this.#partitionCounts.get(topic)
  }

  async #backoff(attempt: number): Promise<void> {
    await sleep(Math.min(RETRY_BACKOFF_MAX_MS, this.#retryBackoffMs * 2 ** (attempt - 1)))
  }

  async #leaderOf(item: TopicPartition): Promise<number> {
    let leader = this.leaderFor(item.topic, item.partition)
    if (leader < 0) {
      await this.metadata([item.topic])
      leader = this.leaderFor(item.topic, item.partition)
    }
    return leader
  }

  async #routeByLeader<T extends TopicPartition>(items: readonly T[]): Promise<Map<number, T[]>> {
    const leaders = new Map<string, number>()
    for (const item of items) leaders.set(key(item.topic, item.partition), await this.#leaderOf(item))
    return groupBy(items, (item) => leaders.get(key(item.topic, item.partition))!)
  }

  // ---------------------------------------------------------------- produce, fetch, offsets

  /**
   * Produces pre-encoded batches, one request per leader, in parallel. Partitions whose leader
   * moved (or is not known yet) are retried after a metadata refresh; other errors come back in
   * the results. With acks=0 the broker does not answer and every result reads errorCode 0 and
   * baseOffset -1.
   */
  async produce(inputs: readonly ProduceInput[], options: ProduceOptions = {}): Promise<ProduceResult[]> {
    const results = new Map<string, ProduceResult>()
    let pending = [...inputs]
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        await this.#backoff(attempt)
        await this.metadata([...new Set(pending.map((p) => p.topic))])
      }
      const routed = await this.#routeByLeader(pending)
      const answers = await Promise.all([...routed].map(([leader, items]) => this.#produceTo(leader, items, options).catch((error: unknown) => unreachable(error, items, produceFailure))))
      const retry: ProduceInput[] = []
      for (const answer of answers.flat()) {
        results.set(key(answer.topic, answer.partition), answer)
        // NETWORK_EXCEPTION is not retried here: the request may have been written before the
        // connection broke, and only the caller knows whether a duplicate is harmless.
        const retriable = LEADER_ERRORS.has(answer.errorCode) && attempt < this.#retries
        if (retriable) retry.push(inputs.find((i) => i.topic === answer.topic && i.partition === answer.partition)!)
      }
      pending = retry
    }
    return inputs.map((i) => results.get(key(i.topic, i.partition))!)
  }

  async #produceTo(leader: number, items: ProduceInput[], options: ProduceOptions): Promise<ProduceResult[]> {
    const acks = options.acks ?? -1
    if (leader < 0) return items.map((i) => produceFailure(i, ErrorCode.LEADER_NOT_AVAILABLE))
    const body = {
      transactionalId: null,
      acks,
      timeoutMs: options.timeoutMs ?? 30_000,
      topicData: byTopic(items, (i) => ({ index: i.partition, records: i.records })).map((t) => ({ name: t.name, partitionData: t.partitions })),
    }
    const connection = await this.connectionTo(leader)
    if (acks === 0) {
      await connection.sendNoResponse(ApiKey.Produce, body)
      return items.map((i) => ({ ...produceFailure(i, ErrorCode.NONE), baseOffset: -1 }))
    }
    const response = await connection.send(ApiKey.Produce, body, { timeoutMs: (options.timeoutMs ?? 30_000) + 5_000 })
    const out: ProduceResult[] = []
    for (const topic of response.responses) {
      for (const p of topic.partitionResponses) {
        out.push({
          topic: topic.name,
          partition: p.index,
          errorCode: p.errorCode,
          errorMessage: p.errorMessage,
          baseOffset: p.baseOffset,
          logAppendTimeMs: p.logAppendTimeMs,
          logStartOffset: p.logStartOffset,
        })
      }
    }
    return out
  }

  /**
   * Fetches from each partition's leader in parallel (one request per leader, no fetch session).
   * A leader error in the results refreshes metadata so the next call routes afresh.
   */
  async fetch(inputs: readonly FetchInput[], options: FetchOptions = {}): Promise<FetchResult[]> {
    const maxWaitMs = options.maxWaitMs ?? 500
    const routed = await this.#routeByLeader(inputs)
    const answers = await Promise.all(
      [...routed].map(async ([leader, items]): Promise<FetchResult[]> => this.#fetchFrom(leader, items, options, maxWaitMs).catch((error: unknown) => unreachable(error, items, fetchFailure))),
    )
    const results = inInputOrder(inputs, answers.flat())
    const moved = results.filter((r) => LEADER_ERRORS.has(r.errorCode) || r.errorCode === ErrorCode.NETWORK_EXCEPTION)
    if (moved.length > 0) await this.metadata([...new Set(moved.map((r) => r.topic))]).catch(() => undefined)
    return results
  }

  async #fetchFrom(leader: number, items: FetchInput[], options: FetchOptions, maxWaitMs: number): Promise<FetchResult[]> {
    if (leader < 0) return items.map((i) => fetchFailure(i, ErrorCode.LEADER_NOT_AVAILABLE))
    const response = await this.request(
      leader,
      ApiKey.Fetch,
      {
        replicaId: -1,
        maxWaitMs,
        minBytes: options.minBytes ?? 1,
        maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
        isolationLevel: options.isolationLevel ?? 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: byTopic(items, (i) => ({
          partition: i.partition,
          currentLeaderEpoch: -1,
          fetchOffset: i.fetchOffset,
          logStartOffset: -1,
          partitionMaxBytes: i.partitionMaxBytes ?? 1024 * 1024,
        })).map((t) => ({ topic: t.name, partitions: t.partitions })),
        forgottenTopicsData: [],
        rackId: '',
      },
      { timeoutMs: maxWaitMs + (this.#options.requestTimeoutMs ?? 30_000) },
    )
    if (response.errorCode !== ErrorCode.NONE) return items.map((i) => fetchFailure(i, response.errorCode))
    return response.responses.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.topic,
        partition: p.partitionIndex,
        errorCode: p.errorCode,
        highWatermark: p.highWatermark,
        lastStableOffset: p.lastStableOffset,
        logStartOffset: p.logStartOffset,
        records: p.records,
      })),
    )
  }

  /** Offsets by timestamp (or earliest/latest), asked of each partition's leader. */
  async listOffsets(inputs: readonly ListOffsetsInput[], options: { isolationLevel?: number } = {}): Promise<ListOffsetsResult[]> {
    const routed = await this.#routeByLeader(inputs)
    const answers = await Promise.all(
      [...routed].map(async ([leader, items]): Promise<ListOffsetsResult[]> => {
        const failure = (i: ListOffsetsInput, errorCode: number): ListOffsetsResult => ({ topic: i.topic, partition: i.partition, errorCode, offset: -1, timestamp: -1 })
        if (leader < 0) return items.map((i) => failure(i, ErrorCode.LEADER_NOT_AVAILABLE))
        try {
          const response = await this.request(leader, ApiKey.ListOffsets, {
            replicaId: -1,
            isolationLevel: options.isolationLevel ?? 0,
            topics: byTopic(items, (i) => ({ partitionIndex: i.partition, currentLeaderEpoch: -1, timestamp: i.timestamp })),
          })
          return response.topics.flatMap((t) =>
            t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode, offset: p.offset, timestamp: p.timestamp })),
          )
        } catch (error) {
          return unreachable(error, items, failure)
        }
      }),
    )
    const results = inInputOrder(inputs, answers.flat())
    const moved = results.filter((r) => LEADER_ERRORS.has(r.errorCode) || r.errorCode === ErrorCode.NETWORK_EXCEPTION)
    if (moved.length > 0) await this.metadata([...new Set(moved.map((r) => r.topic))]).catch(() => undefined)
    return results
  }

  /** Moves each partition's log start up to `offset` (-1: its high watermark), asked of its leader. */
  async deleteRecords(inputs: readonly (TopicPartition & { offset: number })[], options: { timeoutMs?: number } = {}): Promise<Array<TopicPartition & { errorCode: number; lowWatermark: number }>> {
    const routed = await this.#routeByLeader(inputs)
    const answers = await Promise.all(
      [...routed].map(async ([leader, items]) => {
        const failure = (i: TopicPartition, errorCode: number) => ({ topic: i.topic, partition: i.partition, errorCode, lowWatermark: -1 })
        if (leader < 0) return items.map((i) => failure(i, ErrorCode.LEADER_NOT_AVAILABLE))
        try {
          const response = await this.request(leader, ApiKey.DeleteRecords, {
            topics: byTopic(items, (i) => ({ partitionIndex: i.partition, offset: i.offset })),
            timeoutMs: options.timeoutMs ?? 30_000,
          })
          return response.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode, lowWatermark: p.lowWatermark })))
        } catch (error) {
          return unreachable(error, items, failure)
        }
      }),
    )
    const results = inInputOrder(inputs, answers.flat())
    const moved = results.filter((r) => LEADER_ERRORS.has(r.errorCode) || r.errorCode === ErrorCode.NETWORK_EXCEPTION)
    if (moved.length > 0) await this.metadata([...new Set(moved.map((r) => r.topic))]).catch(() => undefined)
    return results
  }

  /** A producer id and epoch (KIP-360: a known id asks for its epoch to be bumped). */
  initProducerId(options: { transactionalId?: string | null; transactionTimeoutMs?: number; producerId?: number; producerEpoch?: number } = {}) {
    return this.#anyBroker((connection) =>
      connection.send(ApiKey.InitProducerId, {
        transactionalId: options.transactionalId ?? null,
        transactionTimeoutMs: options.transactionTimeoutMs ?? 60_000,
        producerId: options.producerId ?? -1,
        producerEpoch: options.producerEpoch ?? -1,
      }),
    )
  }

  // ---------------------------------------------------------------- groups

  /** The node coordinating `groupId` (cached until a request to it says it moved). */
  async findCoordinator(groupId: string): Promise<number> {
    const cached = this.#coordinators.get(groupId)
    if (cached !== undefined) return cached
    for (let attempt = 0; ; attempt++) {
      const response = await this.#anyBroker((connection) => connection.send(ApiKey.FindCoordinator, { key: groupId, keyType: 0 }))
      if (response.errorCode === ErrorCode.NONE) {
        this.#brokers.set(response.nodeId, { nodeId: response.nodeId, host: response.host, port: response.port, rack: null })
        this.#coordinators.set(groupId, response.nodeId)
        return response.nodeId
      }
      if (!COORDINATOR_ERRORS.has(response.errorCode) || attempt >= this.#retries) {
        throw new KafkaError(response.errorCode, `FindCoordinator for group '${groupId}': ${errorName(response.errorCode)}`)
      }
      await this.#backoff(attempt + 1)
    }
  }

  /**
   * Sends a request to the group's coordinator; a coordinator error (read by `errorOf`) forgets
   * the cached coordinator and retries, bounded by the retries.
   */
  async groupRequest<K extends RequestApiKey>(
    groupId: string,
    apiKey: K,
    body: Input<RequestByKey[K]>,
    errorOf: (response: ResponseByKey[K]) => number,
    options?: RequestOptions,
  ): Promise<ResponseByKey[K]> {
    for (let attempt = 0; ; attempt++) {
      const coordinator = await this.findCoordinator(groupId)
      let response: ResponseByKey[K]
      try {
        response = await this.request(coordinator, apiKey, body, options)
      } catch (error) {
        // The coordinator's broker went away: find the group's new one, as for NOT_COORDINATOR.
        if (!isConnectionFailure(error) || attempt >= this.#retries) throw error
        this.#coordinators.delete(groupId)
        await this.#backoff(attempt + 1)
        continue
      }
      const code = errorOf(response)
      if (!COORDINATOR_ERRORS.has(code) || attempt >= this.#retries) return response
      this.#coordinators.delete(groupId)
      await this.#backoff(attempt + 1)
    }
  }

  /** JoinGroup; the request timeout covers the rebalance the broker may hold it for. */
  joinGroup(body: Input<JoinGroupRequest> & { groupId: string }): Promise<JoinGroupResponse> {
    const rebalanceTimeoutMs = body.rebalanceTimeoutMs ?? body.sessionTimeoutMs ?? 30_000
    return this.groupRequest(body.groupId, ApiKey.JoinGroup, body, (r) => r.errorCode, {
      timeoutMs: rebalanceTimeoutMs + (this.#options.requestTimeoutMs ?? 30_000),
    })
  }

  syncGroup(body: Input<SyncGroupRequest> & { groupId: string }): Promise<SyncGroupResponse> {
    return this.groupRequest(body.groupId, ApiKey.SyncGroup, body, (r) => r.errorCode)
  }

  heartbeat(body: Input<HeartbeatRequest> & { groupId: string }): Promise<HeartbeatResponse> {
    return this.groupRequest(body.groupId, ApiKey.Heartbeat, body, (r) => r.errorCode)
  }

  /** Leaves a group (v0-2 name one member at top level, v3+ a list: both are filled). */
  leaveGroup(groupId: string, memberId: string): Promise<LeaveGroupResponse> {
    return this.groupRequest(groupId, ApiKey.LeaveGroup, { groupId, memberId, members: [{ memberId, groupInstanceId: null }] }, (r) => r.errorCode)
  }

  offsetCommit(body: Input<OffsetCommitRequest> & { groupId: string }): Promise<OffsetCommitResponse> {
    return this.groupRequest(body.groupId, ApiKey.OffsetCommit, body, (r) => r.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.NONE)
  }

  /** Committed offsets of a group: for the given partitions, or all of them (null). */
  offsetFetch(groupId: string, partitions: readonly TopicPartition[] | null): Promise<OffsetFetchResponse> {
    const topics = partitions === null ? null : byTopic(partitions, (p) => p.partition).map((t) => ({ name: t.name, partitionIndexes: t.partitions }))
    return this.groupRequest(groupId, ApiKey.OffsetFetch, { groupId, topics, requireStable: false }, (r) => r.errorCode)
  }

  /** Describes groups, each asked of its own coordinator. */
  async describeGroups(groupIds: readonly string[]): Promise<DescribeGroupsResponse['groups']> {
    const answers = await Promise.all(
      groupIds.map((groupId) =>
        this.groupRequest(groupId, ApiKey.DescribeGroups, { groups: [groupId], includeAuthorizedOperations: false }, (r) => r.groups[0]?.errorCode ?? ErrorCode.NONE),
      ),
    )
    return answers.flatMap((r) => r.groups)
  }

  /**
   * DescribeLogDirs (KIP-113) of broker `nodeId`: its log directories and the size of each
   * replica it hosts (null topics: all). A client asks each broker in turn; each answers for itself.
   */
  async describeLogDirs(nodeId: number, topics: Array<{ topic: string; partitions: number[] }> | null = null): Promise<DescribeLogDirsResponse['results']> {
    const answer = await this.request(nodeId, ApiKey.DescribeLogDirs, { topics })
    if (answer.errorCode !== ErrorCode.NONE) throw new KafkaError(answer.errorCode, `DescribeLogDirs: ${errorName(answer.errorCode)}`)
    return answer.results
  }

  /** Lists the groups of every known broker; a broker's error fails the call as KafkaError. */
  async listGroups(): Promise<ListGroupsResponseListedGroup[]> {
    if (this.#brokers.size === 0) await this.metadata([])
    const answers = await Promise.all(this.brokers.map((b) => this.request(b.nodeId, ApiKey.ListGroups, { statesFilter: [] })))
    const out = new Map<string, ListGroupsResponseListedGroup>()
    for (const answer of answers) {
      if (answer.errorCode !== ErrorCode.NONE) throw new KafkaError(answer.errorCode, `ListGroups: ${errorName(answer.errorCode)}`)
      for (const group of answer.groups) out.set(group.groupId, group)
    }
    return [...out.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
  }

  async deleteGroups(groupIds: readonly string[]): Promise<DeleteGroupsResponse['results']> {
    const answers = await Promise.all(
      groupIds.map((groupId) =>
        this.groupRequest(groupId, ApiKey.DeleteGroups, { groupsNames: [groupId] }, (r) => r.results[0]?.errorCode ?? ErrorCode.NONE),
      ),
    )
    return answers.flatMap((r) => r.results)
  }

  // ---------------------------------------------------------------- topics and configs

  createTopics(topics: readonly NewTopic[], options: { timeoutMs?: number; validateOnly?: boolean } = {}): Promise<CreateTopicsResponse> {
    const timeoutMs = options.timeoutMs ?? 30_000
    return this.request(
      this.#adminNode(),
      ApiKey.CreateTopics,
      {
        topics: topics.map((t) => ({
          name: t.name,
          numPartitions: t.numPartitions ?? -1,
          replicationFactor: t.replicationFactor ?? -1,
          assignments: t.assignments ?? [],
          configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
        timeoutMs,
        validateOnly: options.validateOnly ?? false,
      },
      { timeoutMs: timeoutMs + 5_000 },
    )
  }

  deleteTopics(names: readonly string[], options: { timeoutMs?: number } = {}): Promise<DeleteTopicsResponse> {
    const timeoutMs = options.timeoutMs ?? 30_000
    return this.request(this.#adminNode(), ApiKey.DeleteTopics, { topicNames: [...names], timeoutMs }, { timeoutMs: timeoutMs + 5_000 })
  }

  createPartitions(
    topic: string,
    count: number,
    options: { timeoutMs?: number; validateOnly?: boolean; assignments?: number[][] } = {},
  ): Promise<CreatePartitionsResponse> {
    const timeoutMs = options.timeoutMs ?? 30_000
    return this.request(
      this.#adminNode(),
      ApiKey.CreatePartitions,
      { topics: [{ name: topic, count, assignments: options.assignments?.map((brokerIds) => ({ brokerIds })) ?? null }], timeoutMs, validateOnly: options.validateOnly ?? false },
      { timeoutMs: timeoutMs + 5_000 },
    )
  }

  /** Configs of topics or brokers; `keys` null asks for all of them. */
  describeConfigs(resources: readonly (ConfigResource & { keys?: string[] | null })[]): Promise<DescribeConfigsResponse> {
    return this.request(this.#adminNode(), ApiKey.DescribeConfigs, {
      resources: resources.map((r) => ({ resourceType: r.type, resourceName: r.name, configurationKeys: r.keys ?? null })),
      includeSynonyms: false,
      includeDocumentation: false,
    })
  }

  /** The legacy AlterConfigs: replaces a resource's whole dynamic config with `configs`. */
  alterConfigs(resources: readonly (ConfigResource & { configs: Record<string, string | null> })[], validateOnly = false): Promise<AlterConfigsResponse> {
    return this.request(this.#adminNode(), ApiKey.AlterConfigs, {
      resources: resources.map((r) => ({
        resourceType: r.type,
        resourceName: r.name,
        configs: Object.entries(r.configs).map(([name, value]) => ({ name, value })),
      })),
      validateOnly,
    })
  }

  /** Sets or deletes single config entries, leaving the others as they are. */
  incrementalAlterConfigs(resources: readonly (ConfigResource & { changes: ConfigChange[] })[], validateOnly = false): Promise<IncrementalAlterConfigsResponse> {
    return this.request(this.#adminNode(), ApiKey.IncrementalAlterConfigs, {
      resources: resources.map((r) => ({
        resourceType: r.type,
        resourceName: r.name,
        configs: r.changes.map((c) => ({ name: c.name, configOperation: c.op, value: c.value })),
      })),
      validateOnly,
    })
  }

  /** Closes every connection; waiting requests fail with PARTITA_CONNECTION. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#bootstrap?.close()
    await this.closeConnections()
  }

  /** Closes the connections to the brokers, which the next request opens again. */
  async closeConnections(): Promise<void> {
    const opening = [...this.#connections.values()]
    this.#connections.clear()
    const settled = await Promise.allSettled(opening)
    for (const s of settled) if (s.status === 'fulfilled') s.value.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** A broker that cannot be reached (refused, reset, closed): another broker may answer instead. */
function isConnectionFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'PARTITA_CONNECTION'
}

/**
 * Answers put back in the order of the inputs they answer (requests went out grouped by leader;
 * one partition asked twice, as ListOffsets may, is answered in the order asked). A partition the
 * broker left out of its answer is a broken broker: it throws rather than leave a hole.
 */
function inInputOrder<I extends TopicPartition, R extends TopicPartition & { errorCode: number }>(inputs: readonly I[], answers: readonly R[]): R[] {
  const byKey = new Map<string, R[]>()
  for (const answer of answers) {
    const k = key(answer.topic, answer.partition)
    const queue = byKey.get(k)
    if (queue === undefined) byKey.set(k, [answer])
    else queue.push(answer)
  }
  return inputs.map((input) => {
    const answer = byKey.get(key(input.topic, input.partition))?.shift()
    if (answer === undefined) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `the broker did not answer for ${input.topic}-${input.partition}`)
    return answer
  })
}

/**
 * A request that could not reach its broker: each of its partitions answers NETWORK_EXCEPTION
 * (retriable; the leader may have moved), and anything else is rethrown.
 */
function unreachable<T extends TopicPartition, R>(error: unknown, items: readonly T[], failure: (item: T, errorCode: number) => R): R[] {
  if (!isConnectionFailure(error)) throw error
  return items.map((item) => failure(item, ErrorCode.NETWORK_EXCEPTION))
}

function connectionOptions(options: KafkaClientOptions, host: string, port: number): ConnectionOptions {
  return {
    host,
    port,
    clientId: options.clientId ?? 'partita',
    connectTimeoutMs: options.connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    maxInFlight: options.maxInFlight,
  }
}

function produceFailure(item: TopicPartition, errorCode: number): ProduceResult {
  return { topic: item.topic, partition: item.partition, errorCode, errorMessage: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
}

function fetchFailure(item: TopicPartition, errorCode: number): FetchResult {
  return { topic: item.topic, partition: item.partition, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: null }
}

/** Throws KafkaError for a non-zero code, naming the code and what failed. */
export function throwIfError(errorCode: number, context: string, message?: string | null): void {
  if (errorCode === ErrorCode.NONE) return
  const detail = message !== undefined && message !== null && message !== '' ? ` (${message})` : ''
  throw new KafkaError(errorCode, `${context}: ${errorName(errorCode)}${detail}`)
}
