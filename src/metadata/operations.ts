/**
 * Kafka's operations as plain objects: what a broker node answers and what the embedded clients
 * ask. Kafka-aware but wire-agnostic: plain objects in, plain objects out, Kafka error codes in
 * `errorCode` fields. Each broker node implements them on its own shard (`src/broker/node-core.ts`,
 * behind the TCP edge's `BrokerCore`); the embedded clients reach them over the wire
 * (`src/client/wire-cluster.ts`).
 */
import type {
  DeleteGroupResult,
  DescribedGroup,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  OffsetCommitPartitionResult,
  OffsetCommitRequest,
  OffsetFetchRequest,
  OffsetFetchResponse,
  SyncGroupRequest,
  SyncGroupResponse,
} from '../actors/group/types.js'
import type { ProduceResult as ReplicaProduceResult } from '../actors/partition/replica-types.js'

export type Acks = -1 | 0 | 1

export interface BrokerNode {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

export interface PartitionMetadata {
  errorCode: number
  partitionIndex: number
  leaderId: number
  leaderEpoch: number
  replicaNodes: number[]
  isrNodes: number[]
  offlineReplicas: number[]
}

export interface TopicMetadata {
  errorCode: number
  name: string
  topicId: string // UUID string (Metadata v10+), all-zero when unknown
  isInternal: boolean
  partitions: PartitionMetadata[]
}

export interface ClusterMetadata {
  clusterId: string
  controllerId: number
  brokers: BrokerNode[]
  topics: TopicMetadata[]
}

export interface ProduceInput {
  topic: string
  partition: number
  /** One or more concatenated v2 record batches, byte for byte as the producer sent them. */
  records: Buffer
  /** Produce v3+'s transactional id; a transactional batch is verified with its coordinator first (absent: null). */
  transactionalId?: string | null
}

/** A partition's produce answer, exactly as its leader replica gives it. */
export type ProduceResult = ReplicaProduceResult

export interface FetchInput {
  topic: string
  partition: number
  fetchOffset: number
  partitionMaxBytes: number
}

export interface FetchOptions {
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  /** 0 read_uncommitted (up to the high watermark), 1 read_committed (up to the last stable offset, with the aborted transactions). */
  isolationLevel: 0 | 1
  /** Aborting answers the fetch at once with what is there (its connection closed, its consumer stopped). */
  signal?: AbortSignal
}

export interface FetchResult {
  topic: string
  partition: number
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** Whole batches, or null when none. */
  records: Buffer | null
  /** read_committed: the aborted transactions overlapping the records. */
  abortedTransactions?: Array<{ producerId: number; firstOffset: number }> | null
}

export interface ListOffsetsInput {
  topic: string
  partition: number
  /** -2 earliest, -1 latest, otherwise a timestamp in ms. */
  timestamp: number
  /** 1 = read_committed: the latest offset is the last stable offset. Default 0. */
  isolationLevel?: number
}

export interface ListOffsetsResult {
  errorCode: number
  timestamp: number
  offset: number
  leaderEpoch: number
}

export interface CreateTopicInput {
  name: string
  /** -1 = the broker default (num.partitions). */
  numPartitions: number
  /** -1 = the broker default (default.replication.factor). */
  replicationFactor: number
  configs: Record<string, string>
  /**
   * Replicas per partition as the client assigned them (partition order; the first replica leads),
   * with numPartitions and replicationFactor both -1. Absent: the broker places them.
   */
  assignments?: Array<{ partitionIndex: number; brokerIds: number[] }>
}

export interface CreatePartitionsInput {
  name: string
  /** The partition count the topic grows to. */
  count: number
  /** The added partitions' replicas as the client assigned them; absent: the broker places them. */
  assignments?: number[][]
}

export interface CreateTopicResult {
  name: string
  errorCode: number
  errorMessage: string | null
  numPartitions: number
  replicationFactor: number
  topicId: string
}

export interface TopicErrorResult {
  name: string
  errorCode: number
  errorMessage: string | null
}

/** ElectLeaders' answer for one partition. */
export interface ElectLeadersResult {
  topic: string
  partition: number
  errorCode: number
  errorMessage: string | null
}

/** AlterPartitionReassignments: one partition's target replicas, or null to cancel its reassignment. */
export interface ReassignmentInput {
  topic: string
  partition: number
  replicas: number[] | null
}

/** AlterPartitionReassignments' answer for one partition. */
export interface ReassignmentResult {
  topic: string
  partition: number
  errorCode: number
  errorMessage: string | null
}

/** A running reassignment as ListPartitionReassignments shows it. */
export interface OngoingReassignment {
  topic: string
  partition: number
  /** The union of the original and the target replicas. */
  replicas: number[]
  addingReplicas: number[]
  removingReplicas: number[]
}

export interface ConfigEntry {
  name: string
  value: string | null
  readOnly: boolean
  /** DescribeConfigs v1+ source: 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG. */
  source: number
  isDefault: boolean
  isSensitive: boolean
}

export interface ConfigResource {
  /** 2 = topic, 4 = broker. */
  resourceType: number
  resourceName: string
}

export interface DescribeConfigsResult {
  resourceType: number
  resourceName: string
  errorCode: number
  errorMessage: string | null
  configs: ConfigEntry[]
}

export interface AlterConfigOp {
  name: string
  value: string | null
  /** IncrementalAlterConfigs: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT. AlterConfigs replaces all (use 'replace'). */
  op: 0 | 1 | 2 | 3
}

export interface DeleteRecordsInput {
  topic: string
  partition: number
  /** -1 = up to the high watermark. */
  offset: number
}

export interface DeleteRecordsResult {
  errorCode: number
  lowWatermark: number
}

export interface InitProducerIdResult {
  errorCode: number
  producerId: number
  producerEpoch: number
}

/**
 * The group APIs. On a broker node each goes to the coordinator of its group (the leader of the
 * group's __consumer_offsets partition), and a node that is not it answers NOT_COORDINATOR; a
 * client sends each to its group's coordinator.
 */
export interface GroupOperations {
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResponse>
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResponse>
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse>
  leaveGroup(request: LeaveGroupRequest): Promise<LeaveGroupResponse>
  commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]>
  fetchOffsets(request: OffsetFetchRequest): Promise<OffsetFetchResponse>
  describeGroups(groupIds: string[]): Promise<DescribedGroup[]>
  /** The groups this node coordinates (a client asks every broker to list them all). */
  listGroups(request: ListGroupsRequest): Promise<ListGroupsResponse>
  deleteGroups(groupIds: string[]): Promise<DeleteGroupResult[]>
}

/** Kafka's operations on a cluster: what a broker node answers and what the embedded clients ask. */
export interface KafkaOperations {
  /** null topics = all topics. autoCreate follows auto.create.topics.enable and the request's flag. */
  metadata(topics: string[] | null, allowAutoCreate: boolean): Promise<ClusterMetadata>

  /** acks=0 still resolves (the server sends no response); timeoutMs bounds acks=-1. */
  produce(inputs: ProduceInput[], acks: Acks, timeoutMs: number): Promise<ProduceResult[]>
  fetch(inputs: FetchInput[], options: FetchOptions): Promise<FetchResult[]>
  listOffsets(inputs: ListOffsetsInput[]): Promise<ListOffsetsResult[]>
  deleteRecords(inputs: DeleteRecordsInput[], timeoutMs: number): Promise<DeleteRecordsResult[]>

  /**
   * Topic admin changes. `timeoutMs` is the request's own (CreateTopics, DeleteTopics,
   * CreatePartitions): how long to wait for the change. At 0 or below the change is made and
   * answered REQUEST_TIMED_OUT, as Kafka does; absent, the embedded caller waits as long as it takes.
   */
  createTopics(inputs: CreateTopicInput[], validateOnly: boolean, timeoutMs?: number): Promise<CreateTopicResult[]>
  deleteTopics(names: string[], timeoutMs?: number): Promise<TopicErrorResult[]>
  createPartitions(inputs: CreatePartitionsInput[], validateOnly: boolean, timeoutMs?: number): Promise<TopicErrorResult[]>
  describeConfigs(resources: Array<ConfigResource & { configNames: string[] | null }>): Promise<DescribeConfigsResult[]>
  alterConfigs(
    resources: Array<ConfigResource & { configs: AlterConfigOp[] }>,
    incremental: boolean,
    validateOnly: boolean,
  ): Promise<Array<ConfigResource & { errorCode: number; errorMessage: string | null }>>

  /**
   * A transactional id gets an error until transactions land (a later issue), after the checks
   * Kafka makes first (an empty id, a transaction timeout outside transaction.max.timeout.ms).
   */
  initProducerId(transactionalId: string | null, producerId: number, producerEpoch: number, transactionTimeoutMs: number): Promise<InitProducerIdResult>

  readonly groups: GroupOperations
}
