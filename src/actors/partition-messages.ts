/**
 * The messages the main thread (broker core, supervisor) and other replicas send to a partition
 * actor, and their replies. They cross threads as msgpackr-encoded control objects; record bytes
 * travel beside them as the frame's raw payload, never inside the control object.
 */
import type {
  DeleteRecordsPartitionResult,
  EpochEndOffsetResult,
  FetchPartitionResult,
  ListOffsetsPartitionResult,
  ProduceResult,
  ReplicaConfig,
  ReplicaStats,
  DescribeProducersResult,
  TxnMarkerRequest,
  FollowerSyncedReport,
} from './partition/replica-types.js'

export interface OpenPartition {
  topic: string
  /**
   * The topic incarnation's id: a directory left by an earlier topic of the same name (deleted
   * while this broker was down) is emptied instead of read as this one's. Absent: not checked.
   */
  topicId?: string
  partition: number
  dir: string
  config: ReplicaConfig
  brokerId: number
  /** log.retention.check.interval.ms: how often retention, rolling and compaction run. */
  housekeepingIntervalMs: number
  /** Files this shard's logs may hold open at once (its share of the process's limit). */
  openFilesMax: number
  /** The log directory's clean-shutdown marker named this log: open it without recovery. */
  cleanShutdown?: boolean
}

export type PartitionRequest =
  /** payload: the records. Reply: ProduceResult. */
  | {
      op: 'produce'
      acks: -1 | 0 | 1
      timeoutMs: number
      /** 'coordinator': a coordinator's own write to its internal topic, whose batches carry no sequences (as Kafka's AppendOrigin.Coordinator). */
      origin?: 'client' | 'coordinator'
      /** A coordinator's write: the leader epoch it loaded under; under any other the produce is refused (FENCED_LEADER_EPOCH). */
      leaderEpoch?: number
    }
  /** Reply: FetchPartitionResult without records; payload: the records. */
  | {
      op: 'fetch'
      fetchId: number
      replicaId: number
      fetchOffset: number
      maxBytes: number
      maxWaitMs: number
      minBytes: number
      currentLeaderEpoch: number
      /** 1 = read_committed; absent or 0 = read_uncommitted. */
      isolationLevel?: number
      /** A follower's: where its copy is on disk (see FetchRequest.replicaDurableOffset). */
      replicaDurableOffset?: number
    }
  /** Answers the parked fetch with this id at once, with whatever is available. */
  | { op: 'cancelFetch'; fetchId: number }
  | { op: 'epochEndOffset'; epoch: number; currentLeaderEpoch: number }
  | { op: 'listOffsets'; timestamp: number; isolationLevel?: number }
  /** The transaction coordinator ends a producer's transaction here (WriteTxnMarkers). */
  | ({ op: 'writeTxnMarker' } & TxnMarkerRequest)
  | { op: 'deleteRecords'; offset: number }
  | { op: 'becomeLeader'; leaderEpoch: number; replicas: number[]; isr: number[] }
  /** The leader's actor address, so the follower fetches from it directly. */
  | { op: 'becomeFollower'; leaderId: number; leaderEpoch: number; leaderShard: number; leaderActorId: string }
  | { op: 'removeFromIsr'; brokerId: number }
  | { op: 'isrStored'; leaderEpoch: number; isr: number[] }
  /** A follower's copy reached its disk further than its (parked) fetch said: told to the leader, one way. */
  | ({ op: 'followerSynced' } & FollowerSyncedReport)
  | { op: 'updateConfig'; config: ReplicaConfig }
  | { op: 'stats' }
  | { op: 'describeProducers' }
  | { op: 'housekeeping' }
  /** Closes the replica; with deleteData its directory goes too (topic deletion). */
  | { op: 'close'; deleteData: boolean }

interface Done {
  ok: true
}

/** The reply to each request, by its op (record bytes travel beside it as the payload). */
export interface PartitionReplies {
  produce: ProduceResult
  /** The records are the payload. */
  fetch: Omit<FetchPartitionResult, 'records'>
  cancelFetch: never
  epochEndOffset: EpochEndOffsetResult
  listOffsets: ListOffsetsPartitionResult
  writeTxnMarker: { errorCode: number; errorMessage: string | null }
  deleteRecords: DeleteRecordsPartitionResult
  becomeLeader: Done
  becomeFollower: Done
  removeFromIsr: Done
  isrStored: Done
  followerSynced: never
  updateConfig: Done
  stats: ReplicaStats
  describeProducers: DescribeProducersResult
  housekeeping: Done
  close: Done
}

/** Events a partition actor emits to the main thread. */
export type PartitionEvent = { event: 'isrChange'; topic: string; partition: number; leaderEpoch: number; isr: number[] }

/** The actor kind of partition replicas. */
export const PARTITION_ACTOR_KIND = 'partition'

/** The actor id of a topic partition's replica on its shard: unique per shard, readable in logs. */
export function partitionActorId(topic: string, partition: number): string {
  return `${topic}/${partition}`
}
