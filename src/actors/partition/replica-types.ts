/**
 * The plain-data shapes a partition replica takes and returns. They cross threads (the glue
 * copies them through mailboxes and rings), so they hold numbers, arrays and Buffers only.
 */
import type { Clock } from '../../common/clock.js'
import type { PartitionLogOptions } from '../../storage/log.js'
import type { LogConfig } from '../../storage/log-config.js'
import type { HighWatermarkBook } from './high-watermark-book.js'

export type ReplicaRole = 'none' | 'leader' | 'follower'

export interface ReplicaConfig extends LogConfig {
  /** replica.lag.time.max.ms: how long an ISR follower may go without catching up. Default 30000. */
  replicaLagTimeMaxMs?: number
  /** producer.id.expiration.ms: idle producers' state is dropped after this. Default one day. */
  producerIdExpirationMs?: number
}

export interface FollowerFetchSettings {
  maxBytes: number
  maxWaitMs: number
  minBytes: number
  /** replica.fetch.backoff.ms: the pause applyLeaderFetch asks for after an error answer. */
  errorBackoffMs: number
}

export interface PartitionReplicaOptions {
  topic: string
  partition: number
  /** The partition's own directory (the log's files and the replica's checkpoints). */
  dir: string
  config: ReplicaConfig
  clock: Clock
  /** This broker's id: the replica's identity in replica lists and the ISR. */
  brokerId: number
  /** Called (synchronously) with the new ISR whenever this leader shrinks or expands it. */
  onIsrChange?: (isr: number[]) => void
  /**
   * Whether a controller stores the ISR changes onIsrChange reports and says so (isrStored): a
   * follower dropped from the ISR then holds the high watermark back until the smaller ISR is
   * stored. Without one (false, the default) a removal counts at once.
   */
  isrChangesStored?: boolean
  /**
   * Called when this follower's copy reached the disk further than its last fetch told the
   * leader, so the leader (waiting with acks=all for the followers' disks) hears of it now and not
   * only with the next fetch, which the leader may hold parked until new records arrive.
   */
  onFollowerSynced?: (report: FollowerSyncedReport) => void
  /** Bound on parked long-poll fetches (consumer and follower); default 1000. */
  fetchWaitersMax?: number
  /** Bound on acks=-1 produces awaiting their answer (the disk, then the ISR); default 10000. */
  produceWaitersMax?: number
  /** Passed to PartitionLog.open (compactor, decompress, fsync); the clock is the replica's. */
  logOptions?: Omit<PartitionLogOptions, 'clock'>
  /** Where the high watermark is checkpointed (the broker's book); default: memory only. */
  highWatermarks?: HighWatermarkBook
  /** What this replica asks of its leader while following; defaults 1 MiB, 500 ms, 1 byte, 1000 ms backoff. */
  followerFetch?: Partial<FollowerFetchSettings>
  /** How long a log taken offline by a disk failure waits before it tries the disk again; default 1000 ms. */
  storageRetryBackoffMs?: number
  /**
   * Runs `wake` once the current turn of the thread's event loop is over (default setImmediate):
   * a leader answers its followers' parked fetches there, once for every append of the turn.
   */
  deferFollowerWake?: (wake: () => void) => void
}

/** A follower's news for its leader: its copy is on disk up to durableOffset. */
export interface FollowerSyncedReport {
  replicaId: number
  leaderEpoch: number
  durableOffset: number
}

export interface ProduceResult {
  errorCode: number
  errorMessage: string | null
  baseOffset: number
  /** -1 unless the topic uses LogAppendTime (and for duplicates, as in Kafka). */
  logAppendTimeMs: number
  logStartOffset: number
}

export interface FetchRequest {
  /** -1 for a consumer; a broker id for a follower replica. */
  replicaId: number
  fetchOffset: number
  maxBytes: number
  maxWaitMs: number
  minBytes: number
  /** The leader epoch the fetcher believes current (Fetch v9+); -1 or absent skips the check. */
  currentLeaderEpoch?: number
  /** Aborting answers a parked fetch at once with what is available (e.g. its connection closed). */
  signal?: AbortSignal
  /** 1 = read_committed: records below the last stable offset only, with the aborted transactions. Default 0. */
  isolationLevel?: number
  /**
   * A follower's: where its copy is on disk (its fetchOffset unless the topic syncs for acks=all).
   * The leader counts only this toward the high watermark. Absent: the fetchOffset.
   */
  replicaDurableOffset?: number
}

/** An aborted transaction a read_committed consumer must drop the records of (Fetch v4+). */
export interface FetchAbortedTxn {
  producerId: number
  firstOffset: number
}

/** WriteTxnMarkers, one partition: the coordinator ends a producer's transaction here. */
export interface TxnMarkerRequest {
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  commit: boolean
}

export interface FetchPartitionResult {
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** The leader's log end offset: followers use it to check they never run ahead. */
  logEndOffset: number
  /** Whole batches, or null when none. */
  records: Buffer | null
  /** read_committed: the aborted transactions overlapping the records; null otherwise. */
  abortedTransactions?: FetchAbortedTxn[] | null
}

export interface EpochEndOffsetResult {
  errorCode: number
  epoch: number
  endOffset: number
}

export interface ListOffsetsPartitionResult {
  errorCode: number
  timestamp: number
  offset: number
  leaderEpoch: number
}

export interface DeleteRecordsPartitionResult {
  errorCode: number
  lowWatermark: number
}

/** What a follower asks of its leader next: where its log ends for an epoch, or records. */
export type FollowerFetchRequest =
  | { type: 'epochEndOffset'; leaderId: number; leaderEpoch: number; epoch: number }
  | ({ type: 'fetch'; leaderId: number; leaderEpoch: number } & Omit<FetchRequest, 'signal'>)

/** The leader's answer, paired with the request it answers (stale answers are ignored). */
export type FollowerFetchResponse =
  | { request: Extract<FollowerFetchRequest, { type: 'epochEndOffset' }>; result: EpochEndOffsetResult }
  | { request: Extract<FollowerFetchRequest, { type: 'fetch' }>; result: FetchPartitionResult }

/** DescribeProducers (KIP-664): one idempotent producer this leader has state for. */
export interface ActiveProducer {
  producerId: number
  producerEpoch: number
  lastSequence: number
  lastTimestampMs: number
}

export interface DescribeProducersResult {
  errorCode: number
  producers: ActiveProducer[]
}

export interface ReplicaStats {
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  lastStableOffset: number
  isr: number[]
  leaderEpoch: number
  role: ReplicaRole
  leaderId: number
  sizeBytes: number
  producerCount: number
  /** A follower whose log ends below the leader's log start and so cannot catch up. */
  /** This follower fell below the leader's log start and restarted its log there. */
  followerRestartedAtLeaderStart: boolean
}
