/**
 * What the Kafka handlers ask of the broker node they run on: Kafka's operations as plain data,
 * never a socket. The one implementation is the broker node on a shard (src/broker/node-core.ts):
 * partitions it hosts are called directly, admin requests go to the controller, and groups to the
 * coordinator this node runs for them.
 */
import type { OffsetCommitPartitionResult, OffsetDeleteResult, TxnOffsetCommitRequest } from '../actors/group/types.js'
import type { DescribedTxn, EndTxnAnswer, ListedTxn } from '../actors/txn-coordinator.js'
import type { TxnPartition } from '../actors/txn/txn-records.js'
import type { DescribeProducersResult } from '../actors/partition/replica-types.js'
import type { ElectLeadersResult, KafkaOperations, OngoingReassignment, ReassignmentInput, ReassignmentResult } from '../metadata/operations.js'
import type { FetchSessionCache } from './fetch-sessions.js'

export type { GroupOperations } from '../metadata/operations.js'

/** FindCoordinator's answer for one key. */
export interface CoordinatorResult {
  key: string
  errorCode: number
  errorMessage: string | null
  nodeId: number
  host: string
  port: number
}

/** OffsetForLeaderEpoch for one partition: the epoch a client last saw, and the leader epoch it thinks current (-1: unchecked). */
export interface EpochEndOffsetInput {
  topic: string
  partition: number
  leaderEpoch: number
  currentLeaderEpoch: number
}

export interface EpochEndOffsetAnswer {
  errorCode: number
  /** The largest epoch at or below the one asked for, and where it ended; -1, -1 when unknown. */
  leaderEpoch: number
  endOffset: number
}

/** DescribeLogDirs: this broker's one log directory and the replicas in it. */
export interface LogDirDescription {
  logDir: string
  partitions: Array<{ topic: string; partition: number; sizeBytes: number; offsetLag: number }>
  /** The file system's size and the bytes still free for the broker; -1 when unknown. */
  totalBytes: number
  usableBytes: number
}

/** WriteTxnMarkers for one producer: the partitions (led by this broker) to mark. */
export interface TxnMarkerEntry {
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  commit: boolean
  partitions: TxnPartition[]
}

export interface TxnMarkerResult {
  producerId: number
  partitions: Array<TxnPartition & { errorCode: number }>
}

/** The transaction coordinators this broker runs (one per __transaction_state partition it leads). */
export interface TxnOperations {
  /**
   * AddPartitionsToTxn / AddOffsetsToTxn: one error code for the whole set. `connection` is the
   * client connection's ordinal (HandlerContext.connectionOrdinal): a request on one older than
   * the producer has used since is fenced, as a delayed one.
   */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnPartition[], connection?: number): Promise<number>
  /** EndTxn below v5; `connection` as for addPartitions. */
  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, connection?: number): Promise<number>
  /** EndTxn v5 (KIP-890): ends the transaction under a bumped epoch and answers the producer id and epoch to go on with. */
  endTxnBumpingEpoch(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<EndTxnAnswer>
  describe(transactionalIds: string[]): DescribedTxn[]
  list(): { errorCode: number; transactions: ListedTxn[] }
}

export interface BrokerCore extends KafkaOperations {
  /** Transactions: the coordinators this broker runs. */
  readonly txns: TxnOperations
  /** WriteTxnMarkers: COMMIT/ABORT markers to partitions this broker leads (the coordinators' internal path). */
  writeTxnMarkers(entries: TxnMarkerEntry[]): Promise<TxnMarkerResult[]>
  /** TxnOffsetCommit, at the group's coordinator; the offsets count once the transaction commits. */
  commitTxnOffsets(request: TxnOffsetCommitRequest): Promise<OffsetCommitPartitionResult[]>
  /** Whether this broker's metadata knows the partition. */
  hasPartition(topic: string, partition: number): boolean
  /** The partition of __consumer_offsets that holds a group (AddOffsetsToTxn adds it to the transaction). */
  offsetsPartitionOf(groupId: string): number
  /** This broker's id. */
  readonly nodeId: number
  /** This broker's incremental fetch sessions (KIP-227), used by the Fetch handler. */
  readonly fetchSessions: FetchSessionCache
  /** FindCoordinator: keyType 0 = group, 1 = transaction. */
  findCoordinator(key: string, keyType: number): Promise<CoordinatorResult>
  /** DescribeLogDirs: the replicas this broker hosts (of the topics asked for; null: all). */
  describeLogDirs(topics: Array<{ topic: string; partitions: number[] }> | null): Promise<LogDirDescription>
  /** DescribeProducers, answered by each partition's leader. */
  describeProducers(partitions: Array<{ topic: string; partition: number }>): Promise<DescribeProducersResult[]>
  /** ElectLeaders (0 preferred, 1 unclean; null: every partition), decided by the controller. */
  electLeaders(electionType: 0 | 1, partitions: Array<{ topic: string; partition: number }> | null): Promise<ElectLeadersResult[]>
  /** AlterPartitionReassignments (KIP-455), decided by the controller. */
  alterReassignments(inputs: ReassignmentInput[]): Promise<ReassignmentResult[]>
  /** ListPartitionReassignments, from the controller (null: every running one). */
  listReassignments(topics: Array<{ topic: string; partitions: number[] }> | null): Promise<OngoingReassignment[]>
  /** OffsetDelete, at the group's coordinator. */
  deleteOffsets(groupId: string, partitions: Array<{ topic: string; partition: number }>): Promise<OffsetDeleteResult>
  /** OffsetForLeaderEpoch, answered by each partition's leader from its leader-epoch cache. */
  epochEndOffsets(inputs: EpochEndOffsetInput[]): Promise<EpochEndOffsetAnswer[]>
}
