/**
 * One replica of one partition: the Kafka-aware state machine a partition actor wraps. It lives
 * on a shard worker thread, which alone owns its log; the actor glue (mailbox, rings, addresses)
 * delivers calls to it one at a time and carries its answers back. Nothing here knows of threads:
 * time comes from an injected Clock, replication is plain method calls the glue routes between
 * shards.
 *
 * Replication is Kafka's, pull-based:
 * - The leader stamps appends with its leader epoch, learns each follower's log end offset from
 *   the offsets the follower fetches at, keeps the in-sync replica set (ISR) and advances the
 *   high watermark (HW) to the smallest log end offset across the ISR. Consumers read below the
 *   HW only; acks=-1 produces complete when the HW passes their records.
 * - A follower first truncates its log by leader epoch (KIP-101/KIP-279: it asks the leader where
 *   its latest epoch ended and cuts anything past that), then fetches from its log end, appends
 *   what it gets with the leader's offsets, and adopts the leader's HW and log start offset.
 *   The glue runs the loop: `nextFollowerFetch()` -> the leader's `fetch()`/`epochEndOffset()`
 *   -> `applyLeaderFetch()`.
 *
 * Invariants (asserted, on in production): logStartOffset <= HW <= logEndOffset; the HW never
 * decreases while leader; a follower's log end never passes the leader's reported log end.
 */
import * as path from 'node:path'
import { assert } from '../../common/assert.js'
import { fetchReadBuffers } from '../../common/buffer-pool.js'
import type { TimerHandle } from '../../common/clock.js'
import { ErrorCode } from '../../common/error-codes.js'
import { KafkaError } from '../../common/errors.js'
import { phaseTrace } from '../../common/phase-trace.js'
import { PartitionLog, type AppendOptions } from '../../storage/log.js'
import { encodeTxnMarkerBatch } from '../../records/control-batch.js'
import { BATCH_HEADER_SIZE, batchBaseOffset, batchSize, isControlBatch, iterateBatches, LOG_OVERHEAD, readBatchHeader, validateBatch } from '../../records/record-batch.js'
import { MemoryHighWatermarkBook, type HighWatermarkBook } from './high-watermark-book.js'
import { DelayedOperations } from './delayed-operations.js'
import { LeaderState } from './leader-state.js'
import { applyBatch, ProducerStateStore } from './producer-state-store.js'
import type { ProducerBatchHeader } from './producer-state.js'
import type {
  ActiveProducer,
  DescribeProducersResult,
  DeleteRecordsPartitionResult,
  EpochEndOffsetResult,
  FetchPartitionResult,
  FetchRequest,
  FollowerFetchRequest,
  FollowerSyncedReport,
  FollowerFetchResponse,
  FollowerFetchSettings,
  ListOffsetsPartitionResult,
  PartitionReplicaOptions,
  ProduceResult,
  ReplicaConfig,
  ReplicaRole,
  ReplicaStats,
  TxnMarkerRequest,
} from './replica-types.js'

export * from './replica-types.js'

const DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000
const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000
const DEFAULT_FETCH_WAITERS_MAX = 1000
const DEFAULT_PRODUCE_WAITERS_MAX = 10_000
const DEFAULT_STORAGE_RETRY_BACKOFF_MS = 1000
const DEFAULT_FOLLOWER_FETCH: FollowerFetchSettings = { maxBytes: 1024 * 1024, maxWaitMs: 500, minBytes: 1, errorBackoffMs: 1000 }
const CONSUMER_REPLICA_ID = -1
/** Kafka's ListOffsets sentinels. */
const LATEST_TIMESTAMP = -1
const EARLIEST_TIMESTAMP = -2
const READ_COMMITTED = 1
/** Kafka writes markers with acks=all and the coordinator's request timeout; ours is its default. */
const TXN_MARKER_TIMEOUT_MS = 30_000

/**
 * An acks=all append not answered yet. A storage recovery cuts the log back to what is on disk;
 * an append above the cut is gone, and the records appended after the recovery reuse its
 * offsets, so the high watermark passing them says nothing about this one: it is marked `cut`
 * and answered KAFKA_STORAGE_ERROR.
 */
interface PendingAck {
  lastOffset: number
  leaderEpoch: number
  cut: boolean
}

interface FollowerPhase {
  leaderId: number
  /** True until the KIP-101 truncation for this leadership has been done. */
  needsTruncation: boolean
  /** The leader's log starts past our log end: we cannot catch up (see #applyOutOfRange). */
  /** The log was emptied and restarted at the leader's log start, having fallen below it. */
  restartedAtLeaderStart: boolean
  /** The durable offset the leader last heard from us (in a fetch or a synced report). */
  reportedDurableOffset: number
}

export class PartitionReplica {
  readonly topic: string
  readonly partition: number
  readonly brokerId: number
  readonly #dir: string
  readonly #clock: PartitionReplicaOptions['clock']
  readonly #onIsrChange: (isr: number[]) => void
  readonly #isrChangesStored: boolean
  readonly #onFollowerSynced: (report: FollowerSyncedReport) => void
  readonly #log: PartitionLog
  readonly #producers: ProducerStateStore
  /** Consumers' long-polls: they wait on the HW (or LSO), and are answered as soon as it moves. */
  readonly #fetchWaiters: DelayedOperations<FetchPartitionResult>
  /** Followers' long-polls: they wait on the log end, and are answered once a turn (see #wakeFollowersSoon). */
  readonly #followerFetchWaiters: DelayedOperations<FetchPartitionResult>
  readonly #deferFollowerWake: (wake: () => void) => void
  #followerWakeScheduled = false
  readonly #produceWaiters: DelayedOperations<ProduceResult>
  /** Every acks=all append from its append to its answer (awaiting the disk, then the ISR). */
  readonly #pendingAcks = new Set<PendingAck>()
  readonly #pendingAcksMax: number
  readonly #followerFetch: FollowerFetchSettings
  #config: ReplicaConfig
  #role: ReplicaRole = 'none'
  #leaderEpoch = -1
  #highWatermark: number
  /** When the HW last moved (phaseTrace's clock), for the diagnostics only. */
  #hwMovedAtMs = 0
  #leader: LeaderState | null = null
  /** The log end offset when this leadership began: followers must reach it to rejoin the ISR. */
  #epochStartOffset = 0
  #follower: FollowerPhase | null = null
  #isrTimer: TimerHandle | null = null
  #closed = false
  readonly #storageRetryBackoffMs: number
  /** When an offline log may next try its disk again. */
  #storageRetryAtMs = 0
  /** What produces wait on before they may append (see #awaitPreparation), and how many still wait. */
  #preparation: Promise<ProduceResult | null> | null = null
  #preparationWaiters = 0
  /** The high watermark the checkpoint file holds (the one read at open, then each written). */
  /** Stops the broker's book reading this replica's high watermark. */
  readonly #untrackHighWatermark: (forget: boolean) => Promise<void>

  private constructor(options: PartitionReplicaOptions, log: PartitionLog, producers: ProducerStateStore, hw: number, book: HighWatermarkBook) {
    this.topic = options.topic
    this.partition = options.partition
    this.brokerId = options.brokerId
    this.#dir = options.dir
    this.#clock = options.clock
    this.#config = options.config
    this.#onIsrChange = options.onIsrChange ?? (() => {})
    this.#isrChangesStored = options.isrChangesStored ?? false
    this.#onFollowerSynced = options.onFollowerSynced ?? (() => {})
    this.#log = log
    this.#producers = producers
    this.#fetchWaiters = new DelayedOperations(options.clock, options.fetchWaitersMax ?? DEFAULT_FETCH_WAITERS_MAX)
    this.#followerFetchWaiters = new DelayedOperations(options.clock, options.fetchWaitersMax ?? DEFAULT_FETCH_WAITERS_MAX)
    this.#deferFollowerWake = options.deferFollowerWake ?? ((wake) => void setImmediate(wake))
    this.#pendingAcksMax = options.produceWaitersMax ?? DEFAULT_PRODUCE_WAITERS_MAX
    this.#produceWaiters = new DelayedOperations(options.clock, this.#pendingAcksMax)
    this.#followerFetch = { ...DEFAULT_FOLLOWER_FETCH, ...options.followerFetch }
    this.#highWatermark = hw
    this.#storageRetryBackoffMs = options.storageRetryBackoffMs ?? DEFAULT_STORAGE_RETRY_BACKOFF_MS
    this.#untrackHighWatermark = book.track(this.topic, this.partition, () => this.#highWatermark)
    this.#checkInvariants()
  }

  /** Opens (recovering) the log, loads producer state and the recorded high watermark. */
  static async open(options: PartitionReplicaOptions): Promise<PartitionReplica> {
    const log = await PartitionLog.open(options.dir, options.config, { ...options.logOptions, clock: options.clock })
    const producers = await ProducerStateStore.load(options.dir, log, log.files)
    const book = options.highWatermarks ?? new MemoryHighWatermarkBook()
    const recorded = book.recorded(options.topic, options.partition)
    // Recovery may have cut the log below the recorded HW, or retention moved its start past it.
    const hw = Math.min(Math.max(recorded ?? log.logStartOffset, log.logStartOffset), log.logEndOffset)
    return new PartitionReplica(options, log, producers, hw, book)
  }

  // ---- roles ----------------------------------------------------------------------------------

  get role(): ReplicaRole {
    return this.#role
  }

  get leaderEpoch(): number {
    return this.#leaderEpoch
  }

  get highWatermark(): number {
    return this.#highWatermark
  }

  /**
   * The last stable offset (KIP-98): below it every transaction is decided, so read_committed
   * consumers read up to it. The first offset of the oldest open transaction, capped by the HW.
   */
  get lastStableOffset(): number {
    const unstable = this.#producers.state.firstUnstableOffset()
    // A transaction whose start retention deleted still holds consumers at the log start, as in Kafka.
    return unstable === null ? this.#highWatermark : Math.min(Math.max(unstable, this.#log.logStartOffset), this.#highWatermark)
  }

  get logEndOffset(): number {
    return this.#log.logEndOffset
  }

  get logStartOffset(): number {
    return this.#log.logStartOffset
  }

  /** The log, for the glue's read-only needs (size, config); appends go through the replica. */
  get log(): PartitionLog {
    return this.#log
  }

  becomeLeader(input: { leaderEpoch: number; replicas: number[]; isr: number[] }): void {
    this.#assertOpen()
    assert(input.leaderEpoch >= this.#leaderEpoch, `leader epoch ${input.leaderEpoch} is older than ${this.#leaderEpoch}`)
    this.#abortWaiters()
    const nowMs = this.#clock.nowMs()
    this.#role = 'leader'
    this.#follower = null
    this.#leaderEpoch = input.leaderEpoch
    this.#epochStartOffset = this.#log.logEndOffset
    // The epoch enters the leader-epoch cache with its first append (the log records where each
    // epoch's first batch lands), not here: a broker taking over thousands of partitions writes no
    // checkpoint for the ones nobody writes to, and a follower asking where an older epoch ended
    // still gets this log's end, where the new epoch will begin.
    this.#leader = new LeaderState(this.brokerId, input.replicas, input.isr, nowMs, this.#isrChangesStored)
    const isr = this.#leader.isr()
    if (isr.length !== input.isr.length || isr.some((id, i) => id !== input.isr[i])) this.#onIsrChange(isr)
    this.#armIsrTimer()
    // A lone in-sync leader has nothing to wait for: its HW is its log end (once on disk).
    this.#maybeAdvanceHighWatermark()
    if (this.#log.durableOffset < this.#log.logEndOffset) this.#requestSync()
    this.#checkInvariants()
  }

  becomeFollower(input: { leaderId: number; leaderEpoch: number }): void {
    this.#assertOpen()
    assert(input.leaderEpoch >= this.#leaderEpoch, `leader epoch ${input.leaderEpoch} is older than ${this.#leaderEpoch}`)
    assert(input.leaderId !== this.brokerId, 'a replica cannot follow itself')
    this.#abortWaiters()
    this.#disarmIsrTimer()
    this.#role = 'follower'
    this.#leader = null
    this.#leaderEpoch = input.leaderEpoch
    this.#follower = { leaderId: input.leaderId, needsTruncation: true, restartedAtLeaderStart: false, reportedDurableOffset: -1 }
  }

  /** Stops serving (partition moved away or deleted): waiters are answered NOT_LEADER_OR_FOLLOWER. */
  becomeNone(): void {
    this.#abortWaiters()
    this.#disarmIsrTimer()
    this.#role = 'none'
    this.#leader = null
    this.#follower = null
  }

  // ---- produce --------------------------------------------------------------------------------

  /**
   * `checked` says what the caller verified off this thread (on the CPU pool): every batch's CRC
   * (large produces), the keys of every compressed batch (compacted topics).
   */
  async produce(
    records: Buffer,
    acks: -1 | 0 | 1,
    timeoutMs: number,
    options: Pick<AppendOptions, 'crcChecked' | 'compressedKeysChecked'> & { fromCoordinator?: boolean; leaderEpoch?: number } = {},
  ): Promise<ProduceResult> {
    // Read field by field: a rest pattern would copy the options into a fresh object per produce.
    const fromCoordinator = options.fromCoordinator ?? false
    const leaderEpoch = options.leaderEpoch
    // Before any check: nothing may come between the checks below and the append.
    if (this.#log.cleanMarkerPresent || this.#log.failure !== null || this.#preparationWaiters > 0) {
      // Every produce arriving until all the step's waiters have resumed waits on the same step,
      // so they resume, and append, in arrival order: none overtakes an earlier one (two separate
      // fsyncs could end in either order). From here to the append nothing awaits.
      this.#preparation ??= this.#prepareForAppend()
      const preparation = this.#preparation
      this.#preparationWaiters++
      let refused: ProduceResult | null
      try {
        refused = await preparation
      } finally {
        if (--this.#preparationWaiters === 0) this.#preparation = null
      }
      if (refused !== null) return refused
    }
    if (this.#role !== 'leader' || this.#leader === null) return this.#produceError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    // A coordinator loaded under another leadership of its partition is stale: its state must not land.
    if (leaderEpoch !== undefined && leaderEpoch !== this.#leaderEpoch) return this.#produceError(ErrorCode.FENCED_LEADER_EPOCH)
    if (acks !== -1 && acks !== 0 && acks !== 1) return this.#produceError(ErrorCode.INVALID_REQUIRED_ACKS)
    if (acks === -1 && this.#leader.isrSize < this.#config.minInsyncReplicas) {
      return this.#produceError(
        ErrorCode.NOT_ENOUGH_REPLICAS,
        `ISR size ${this.#leader.isrSize} is below min.insync.replicas ${this.#config.minInsyncReplicas}`,
      )
    }
    if (acks === -1 && this.#pendingAcks.size >= this.#pendingAcksMax) {
      // Refused before appending: a bounded purgatory must not turn into silent unacked writes.
      // Produces still waiting for the disk count too: each joins the purgatory after its sync.
      return this.#produceError(ErrorCode.REQUEST_TIMED_OUT, 'too many produce requests waiting for replication')
    }
    const headers = batchHeaders(records)
    if (headers === null) return this.#produceError(ErrorCode.CORRUPT_MESSAGE, 'records are not whole v2 batches')
    if (headers.some((h) => isControlBatch(h.attributes ?? 0))) {
      return this.#produceError(ErrorCode.INVALID_RECORD, 'clients may not write control batches; transaction markers come from the coordinator')
    }

    // A coordinator's transactional writes carry a producer id and epoch but no sequences.
    const check = fromCoordinator ? ({ kind: 'append' } as const) : this.#producers.state.check(headers)
    if (check.kind === 'error') return this.#produceError(check.errorCode, check.message)
    let baseOffset: number
    let lastOffset: number
    let logAppendTimeMs = -1
    if (check.kind === 'duplicate') {
      // The sequence check read only headers; a damaged copy of a stored batch is still damaged.
      const corrupt = firstCorruptBatch(records)
      if (corrupt !== null) return this.#produceError(ErrorCode.CORRUPT_MESSAGE, corrupt)
      // Answered with the original offsets and not stored again, as Kafka does.
      baseOffset = check.batch.firstOffset
      lastOffset = check.batch.lastOffset
    } else {
      // acks=0/1: nobody waits for the disk, so the sync may wait for a lazy round (acks=-1 asks
      // urgently below, in the same turn).
      const appended = this.#appendAsLeader(records, headers, options, acks !== -1)
      if ('errorCode' in appended) return appended
      baseOffset = appended.baseOffset
      lastOffset = appended.lastOffset
      logAppendTimeMs = appended.logAppendTimeMs
    }
    const done = (): ProduceResult => ({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset,
      logAppendTimeMs,
      logStartOffset: this.#log.logStartOffset,
    })
    if (acks !== -1) return done()
    const pending = this.#trackAck(lastOffset)
    try {
      if (this.#log.syncsForAcks) {
        // The request's timeout bounds the wait for the ISR (as in Kafka), not for our own disk: a
        // lone leader answers a zero timeout once its fdatasync is done. A failure is seen below.
        await this.#log.syncData().catch(() => undefined)
      }
      return await this.#awaitReplication(pending, timeoutMs, done)
    } finally {
      this.#pendingAcks.delete(pending)
    }
  }

  /** Starts tracking an acks=all append (or a duplicate of a stored batch) ending at `lastOffset`. */
  #trackAck(lastOffset: number): PendingAck {
    const pending: PendingAck = { lastOffset, leaderEpoch: this.#leaderEpoch, cut: false }
    this.#pendingAcks.add(pending)
    return pending
  }

  /** The leader's log was cut back to `end`: appends above it are lost, and answered so now. */
  #afterLeaderCut(end: number): void {
    for (const pending of this.#pendingAcks) if (pending.lastOffset >= end) pending.cut = true
    this.#produceWaiters.poke()
  }

  /**
   * The asynchronous step a log may need before it takes an append: retire its clean-shutdown
   * marker (a durable unlink), or recover from a disk failure. Returns the refusal to answer, or
   * null to go on.
   */
  async #prepareForAppend(): Promise<ProduceResult | null> {
    try {
      await this.#log.retireCleanMarker()
    } catch (error) {
      if (error instanceof KafkaError) return this.#produceError(error.errorCode, error.message)
      throw error
    }
    if (this.#log.failure !== null && !(await this.#maybeRecoverStorage())) {
      return this.#produceError(ErrorCode.KAFKA_STORAGE_ERROR, `the partition is offline: ${this.#log.failure?.message ?? 'disk failure'}`)
    }
    return null
  }

  #appendAsLeader(
    records: Buffer,
    headers: ProducerBatchHeader[],
    checked: Pick<AppendOptions, 'crcChecked' | 'compressedKeysChecked'>,
    lazySync: boolean,
  ): { baseOffset: number; lastOffset: number; logAppendTimeMs: number } | ProduceResult {
    let result
    try {
      const append: AppendOptions = {
        leaderEpoch: this.#leaderEpoch,
        assignOffsets: true,
        crcChecked: checked.crcChecked,
        compressedKeysChecked: checked.compressedKeysChecked,
      }
      result = this.#log.append(records, append)
    } catch (error) {
      if (error instanceof KafkaError) return this.#produceError(error.errorCode, error.message)
      throw error
    }
    // Offsets were assigned densely from the append's base offset, batch after batch.
    let next = result.baseOffset
    const appendTimeMs = this.#config.messageTimestampType === 'LogAppendTime' ? result.logAppendTimeMs : -1
    for (const header of headers) {
      // The headers were read for this append alone, so they take its offsets in place.
      header.baseOffset = next
      next = header.baseOffset + header.lastOffsetDelta + 1
      if (appendTimeMs >= 0) header.maxTimestamp = appendTimeMs
      this.#producers.state.update(header)
    }
    assert(next === result.lastOffset + 1, `append covered ${result.baseOffset}..${result.lastOffset}, headers ${next - 1}`)
    this.#afterLeaderAppend(lazySync)
    return { baseOffset: result.baseOffset, lastOffset: result.lastOffset, logAppendTimeMs: appendTimeMs }
  }

  /** `lazySync`: no producer waits for the disk (acks=0/1), so the sync may wait for a lazy round. */
  #afterLeaderAppend(lazySync = false): void {
    // A consumer parked here waits for these records: it gets an urgent sync, as it did before.
    this.#requestSync(lazySync && this.#fetchWaiters.size === 0)
    const hw = this.#highWatermark
    this.#maybeAdvanceHighWatermark()
    // A flush in the append (flush.messages) can carry earlier produces' records to disk.
    if (this.#highWatermark > hw) this.#produceWaiters.poke()
    // Consumers long-poll on the HW (moved above if the ISR is just us); followers on the log end.
    this.#fetchWaiters.poke()
    this.#wakeFollowersSoon()
    this.#checkInvariants()
  }

  /**
   * Answers the followers' parked fetches once the current turn is over, with everything appended
   * in it, instead of on each append: produces of many requests land in one turn, and each
   * follower then gets them in one answer, one ring message, one file write and one next fetch
   * instead of one each. acks=-1 waits at most that turn longer; consumers are not delayed.
   */
  #wakeFollowersSoon(): void {
    if (this.#followerWakeScheduled || this.#followerFetchWaiters.size === 0) return
    this.#followerWakeScheduled = true
    this.#deferFollowerWake(() => {
      this.#followerWakeScheduled = false
      if (!this.#closed) this.#followerFetchWaiters.poke()
    })
  }

  /** Re-checks every parked fetch, consumers' and followers', now. */
  #pokeFetchWaiters(): void {
    this.#fetchWaiters.poke()
    this.#followerFetchWaiters.poke()
  }

  #awaitReplication(pending: PendingAck, timeoutMs: number, done: () => ProduceResult): Promise<ProduceResult> {
    const requiredOffset = pending.lastOffset + 1
    const tryComplete = (): ProduceResult | undefined => {
      if (this.#role !== 'leader' || this.#leaderEpoch !== pending.leaderEpoch) {
        return this.#produceError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
      }
      if (pending.cut) {
        return this.#produceError(ErrorCode.KAFKA_STORAGE_ERROR, 'the disk failed before the records were known to be on it, and they were cut off')
      }
      if (this.#highWatermark < requiredOffset) {
        // Never acknowledged: the disk failed before the records were known to be on it.
        if (this.#log.failure !== null) return this.#produceError(ErrorCode.KAFKA_STORAGE_ERROR, this.#log.failure.message)
        return undefined
      }
      // Kafka: replicated, but the ISR shrank below the minimum meanwhile.
      if (this.#leader!.isrSize < this.#config.minInsyncReplicas) {
        return this.#produceError(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
      }
      return done()
    }
    const now = tryComplete()
    if (now !== undefined) return Promise.resolve(now)
    const handle = this.#produceWaiters.wait(
      {
        tryComplete,
        onExpire: () => ({ ...done(), errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: 'timed out waiting for the ISR' }),
        onAbort: () => this.#produceError(ErrorCode.NOT_LEADER_OR_FOLLOWER),
      },
      timeoutMs,
    )
    assert(handle !== null, 'produce waiter room was checked before appending')
    return handle.promise
  }

  #produceError(errorCode: number, errorMessage: string | null = null): ProduceResult {
    return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: this.#log.logStartOffset }
  }

  // ---- transaction markers --------------------------------------------------------------------

  /**
   * WriteTxnMarkers for this partition: appends the COMMIT or ABORT control batch that ends the
   * producer's transaction here, and answers once the ISR holds it (markers are written with
   * acks=all, as Kafka's coordinator does). A marker of an epoch older than the producer's is a
   * zombie coordinator's and is refused with INVALID_PRODUCER_EPOCH.
   */
  async writeTxnMarker(marker: TxnMarkerRequest, timeoutMs = TXN_MARKER_TIMEOUT_MS): Promise<{ errorCode: number; errorMessage: string | null }> {
    const refuse = (errorCode: number, errorMessage: string | null = null): { errorCode: number; errorMessage: string | null } => ({ errorCode, errorMessage })
    if (this.#role !== 'leader' || this.#leader === null) return refuse(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    // Bad input from the wire (WriteTxnMarkers) is refused here, never met by the encoder's asserts.
    if (!Number.isSafeInteger(marker.producerId) || marker.producerId < 0 || !Number.isInteger(marker.producerEpoch) || marker.producerEpoch < 0 || marker.producerEpoch > 32_767) {
      return refuse(ErrorCode.INVALID_REQUEST, 'a marker needs a producer id (0 to 2^53) and an epoch (0 to 32767)')
    }
    const entry = this.#producers.state.get(marker.producerId)
    if (entry !== undefined && marker.producerEpoch < entry.epoch) {
      return refuse(ErrorCode.INVALID_PRODUCER_EPOCH, `marker epoch ${marker.producerEpoch} is older than producer ${marker.producerId}'s ${entry.epoch}`)
    }
    // A coordinator whose partition has since moved (Kafka's check in appendEndTxnMarker).
    if (entry !== undefined && marker.coordinatorEpoch < entry.coordinatorEpoch) {
      return refuse(ErrorCode.TRANSACTION_COORDINATOR_FENCED, `marker coordinator epoch ${marker.coordinatorEpoch} is older than ${entry.coordinatorEpoch}, producer ${marker.producerId}'s last`)
    }
    if (this.#pendingAcks.size >= this.#pendingAcksMax) return refuse(ErrorCode.REQUEST_TIMED_OUT, 'too many produce requests waiting for replication')
    const batch = encodeTxnMarkerBatch(marker, this.#clock.nowMs())
    let appended
    try {
      appended = this.#log.append(batch, { leaderEpoch: this.#leaderEpoch, assignOffsets: true })
    } catch (error) {
      if (error instanceof KafkaError) return refuse(error.errorCode, error.message)
      throw error
    }
    applyBatch(this.#producers.state, this.#log, batch, 0, appended.baseOffset)
    this.#afterLeaderAppend()
    const pending = this.#trackAck(appended.lastOffset)
    let result
    try {
      result = await this.#awaitReplication(pending, timeoutMs, () => ({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        baseOffset: appended.baseOffset,
        logAppendTimeMs: -1,
        logStartOffset: this.#log.logStartOffset,
      }))
    } finally {
      this.#pendingAcks.delete(pending)
    }
    return refuse(result.errorCode, result.errorMessage)
  }

  // ---- fetch (leader side) --------------------------------------------------------------------

  async fetch(request: FetchRequest): Promise<FetchPartitionResult> {
    const fromFollower = request.replicaId !== CONSUMER_REPLICA_ID
    if (this.#role !== 'leader' || this.#leader === null) return this.#fetchError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    if (request.currentLeaderEpoch !== undefined && request.currentLeaderEpoch >= 0) {
      if (request.currentLeaderEpoch < this.#leaderEpoch) return this.#fetchError(ErrorCode.FENCED_LEADER_EPOCH)
      if (request.currentLeaderEpoch > this.#leaderEpoch) return this.#fetchError(ErrorCode.UNKNOWN_LEADER_EPOCH)
    }
    if (fromFollower && !this.#leader.isFollower(request.replicaId)) {
      return this.#fetchError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    }
    const logEnd = this.#log.logEndOffset
    if (request.fetchOffset < this.#log.logStartOffset || request.fetchOffset > logEnd) {
      return this.#outOfRange()
    }
    if (fromFollower) this.#onFollowerFetch(request.replicaId, request.fetchOffset, request.replicaDurableOffset ?? request.fetchOffset)

    const leaderEpoch = this.#leaderEpoch
    const tryRead = (force: boolean): FetchPartitionResult | undefined => {
      if (this.#role !== 'leader' || this.#leaderEpoch !== leaderEpoch) return this.#fetchError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
      if (request.fetchOffset < this.#log.logStartOffset) return this.#outOfRange()
      // A parked fetch is tried on every append to its partition: it reads only once what it may
      // see (the HW for a consumer, the log end for a follower) holds about minBytes, judged from
      // segment positions without touching the file.
      if (!force) {
        const visibleEnd = fromFollower ? this.#log.logEndOffset : this.#consumerVisibleEnd(request)
        if (visibleEnd <= request.fetchOffset) return undefined
        if (request.minBytes > 1 && this.#log.approximateBytesBetween(request.fetchOffset, visibleEnd) < request.minBytes) return undefined
      }
      const result = this.#read(request, fromFollower)
      const bytes = result.records?.length ?? 0
      if (force || result.errorCode !== ErrorCode.NONE || bytes >= Math.max(1, request.minBytes)) return result
      return undefined
    }
    const immediate = tryRead(request.maxWaitMs <= 0 || request.signal?.aborted === true)
    if (immediate !== undefined) return immediate
    const handle = (fromFollower ? this.#followerFetchWaiters : this.#fetchWaiters).wait(
      {
        tryComplete: () => {
          const done = tryRead(false)
          if (done !== undefined && phaseTrace !== null && !fromFollower) phaseTrace.since('hw.toFetchWake', this.#hwMovedAtMs)
          return done
        },
        onExpire: () => tryRead(true)!,
        onAbort: () => this.#fetchError(ErrorCode.NOT_LEADER_OR_FOLLOWER),
      },
      request.maxWaitMs,
    )
    // Full purgatory: answer now with whatever there is (possibly nothing), as a zero wait would.
    if (handle === null) return tryRead(true)!
    // A consumer parking behind records still waiting for a lazy sync (acks=1) has them synced
    // now instead of after the group commit's delay.
    if (!fromFollower) this.#requestSync()
    request.signal?.addEventListener('abort', () => handle.cancel(), { once: true })
    return handle.promise
  }

  /** Consumers see committed records only (up to the HW), read_committed ones stable records only (up to the LSO). */
  #consumerVisibleEnd(request: FetchRequest): number {
    return request.isolationLevel === READ_COMMITTED ? this.lastStableOffset : this.#highWatermark
  }

  #read(request: FetchRequest, fromFollower: boolean): FetchPartitionResult {
    // Followers replicate everything the leader has.
    const maxOffset = fromFollower ? this.#log.logEndOffset : this.#consumerVisibleEnd(request)
    let records: Buffer | null = null
    let nextOffset = request.fetchOffset
    if (request.fetchOffset < maxOffset) {
      try {
        // The read's last holder gives its buffer back: a consumer's connection once its socket
        // wrote it, the shard's ring once it copied a follower's answer to the follower's shard.
        const read = this.#log.read(request.fetchOffset, request.maxBytes, { maxOffset, buffers: fetchReadBuffers })
        records = read.records
        nextOffset = read.nextOffset
      } catch (error) {
        if (error instanceof KafkaError) return this.#fetchError(error.errorCode)
        throw error
      }
    }
    const readCommitted = !fromFollower && request.isolationLevel === READ_COMMITTED
    return {
      errorCode: ErrorCode.NONE,
      highWatermark: this.#highWatermark,
      lastStableOffset: this.lastStableOffset,
      logStartOffset: this.#log.logStartOffset,
      logEndOffset: this.#log.logEndOffset,
      records: records !== null && records.length > 0 ? records : null,
      abortedTransactions: readCommitted
        ? this.#log.abortedTxnsIn(request.fetchOffset, nextOffset).map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }))
        : null,
    }
  }

  /** Out of range, with the log's bounds so a follower can tell which side it fell off. */
  #outOfRange(): FetchPartitionResult {
    return {
      ...this.#fetchError(ErrorCode.OFFSET_OUT_OF_RANGE),
      highWatermark: this.#highWatermark,
      logStartOffset: this.#log.logStartOffset,
      logEndOffset: this.#log.logEndOffset,
    }
  }

  #fetchError(errorCode: number): FetchPartitionResult {
    return {
      errorCode,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      logEndOffset: -1,
      records: null,
    }
  }

  /** A follower fetching at N has a log ending at N: update its state, the ISR and the HW. */
  #onFollowerFetch(brokerId: number, fetchOffset: number, durableOffset: number): void {
    const leader = this.#leader!
    leader.recordFetch(brokerId, fetchOffset, this.#clock.nowMs(), this.#log.logEndOffset, durableOffset)
    let isrChanged = leader.maybeExpand(brokerId, this.#highWatermark, this.#epochStartOffset)
    isrChanged = this.#shrinkLaggingIsr() || isrChanged
    if (isrChanged) this.#onIsrChange(leader.isr())
    this.#maybeAdvanceHighWatermark()
    // In the same turn: the acks=-1 produces and consumer long-polls this HW move releases. Other
    // followers wait on the log end, which a fetch does not move.
    this.#produceWaiters.poke()
    this.#fetchWaiters.poke()
    this.#checkInvariants()
  }

  /**
   * Leader side of a follower's synced report (onFollowerSynced on its replica): its copy is on
   * disk further than its parked fetch said, which may let the HW, and acks=all answers, move.
   */
  followerSynced(report: FollowerSyncedReport): void {
    const leader = this.#leader
    if (this.#role !== 'leader' || leader === null || this.#closed) return
    // A report from an older leadership, or from a replica no longer assigned, is stale.
    if (report.leaderEpoch !== this.#leaderEpoch || !leader.isFollower(report.replicaId)) return
    leader.recordDurable(report.replicaId, report.durableOffset)
    this.#maybeAdvanceHighWatermark()
    this.#produceWaiters.poke()
    this.#fetchWaiters.poke()
    this.#checkInvariants()
  }

  // ---- ISR ------------------------------------------------------------------------------------

  /** The supervisor knows `brokerId` is gone: drop it from the ISR now rather than after the lag time. */
  removeFromIsr(brokerId: number): void {
    if (this.#role !== 'leader' || this.#leader === null) return
    if (!this.#leader.remove(brokerId)) return
    this.#onIsrChange(this.#leader.isr())
    this.#afterIsrShrink()
  }

  /**
   * Runs the lag check now (the timer also runs it every half lag time). A removal the controller
   * has not stored by then is reported again: its report, or the answer, may have been lost.
   */
  checkIsr(): void {
    if (this.#role !== 'leader' || this.#leader === null) return
    if (!this.#shrinkLaggingIsr()) {
      if (this.#leader.removalsUnstored) this.#onIsrChange(this.#leader.isr())
      return
    }
    this.#onIsrChange(this.#leader.isr())
    this.#afterIsrShrink()
  }

  /**
   * The controller stored `isr` for `leaderEpoch`: followers it no longer lists stop holding the
   * high watermark back (see LeaderState), which may release acks=all produces.
   */
  isrStored(leaderEpoch: number, isr: readonly number[]): void {
    if (this.#role !== 'leader' || this.#leader === null || leaderEpoch !== this.#leaderEpoch) return
    this.#leader.isrStored(isr)
    this.#afterIsrShrink()
  }

  #shrinkLaggingIsr(): boolean {
    const leader = this.#leader!
    const lagging = leader.laggingFollowers(this.#clock.nowMs(), this.#lagTimeMaxMs, this.#log.logEndOffset)
    for (const id of lagging) leader.remove(id)
    return lagging.length > 0
  }

  #afterIsrShrink(): void {
    // A smaller ISR may let the HW move, releasing acks=-1 produces and consumer long-polls.
    this.#maybeAdvanceHighWatermark()
    this.#produceWaiters.poke()
    this.#pokeFetchWaiters()
    this.#checkInvariants()
  }

  get #lagTimeMaxMs(): number {
    return this.#config.replicaLagTimeMaxMs ?? DEFAULT_REPLICA_LAG_TIME_MAX_MS
  }

  #armIsrTimer(): void {
    this.#disarmIsrTimer()
    if (this.#leader === null || this.#leader.replicas.length <= 1) return
    const intervalMs = Math.max(1, Math.floor(this.#lagTimeMaxMs / 2))
    this.#isrTimer = this.#clock.setTimeout(() => {
      this.#isrTimer = null
      if (this.#role !== 'leader' || this.#closed) return
      this.checkIsr()
      this.#armIsrTimer()
    }, intervalMs)
  }

  #disarmIsrTimer(): void {
    if (this.#isrTimer !== null) this.#clock.clearTimeout(this.#isrTimer)
    this.#isrTimer = null
  }

  #maybeAdvanceHighWatermark(): void {
    if (this.#leader === null) return
    // With partita.fsync.mode=acks-all the leader counts only what is on its disk, so acks=all
    // answers, and consumers see, only records a power cut cannot take back.
    const candidate = this.#leader.highWatermarkCandidate(this.#log.durableOffset)
    if (candidate > this.#highWatermark) {
      this.#highWatermark = candidate
      if (phaseTrace !== null) this.#hwMovedAtMs = phaseTrace.now()
    }
  }

  // ---- epochs (KIP-101) -----------------------------------------------------------------------

  /**
   * Leader side of OffsetsForLeaderEpoch: where `epoch` ended in this log (the largest epoch <= it
   * and the start of the next one; the log end for the current epoch). `currentLeaderEpoch` is the
   * asker's view of the current epoch, fenced as Kafka does so a replica that has not yet learnt
   * of a newer leadership cannot answer for it.
   */
  epochEndOffset(epoch: number, currentLeaderEpoch = -1): EpochEndOffsetResult {
    const refuse = (errorCode: number): EpochEndOffsetResult => ({ errorCode, epoch: -1, endOffset: -1 })
    if (this.#role !== 'leader') return refuse(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch < this.#leaderEpoch) return refuse(ErrorCode.FENCED_LEADER_EPOCH)
    if (currentLeaderEpoch > this.#leaderEpoch) return refuse(ErrorCode.UNKNOWN_LEADER_EPOCH)
    // The cache answers the latest epoch (ours) with the log end: it has not ended yet.
    const found = this.#log.leaderEpochs.endOffsetFor(epoch)
    return { errorCode: ErrorCode.NONE, epoch: found.epoch, endOffset: found.endOffset }
  }

  // ---- follower side --------------------------------------------------------------------------

  /** The follower loop's next request to its leader, or null when this replica is not following. */
  nextFollowerFetch(): FollowerFetchRequest | null {
    if (this.#role !== 'follower' || this.#follower === null || this.#closed) return null
    const { leaderId } = this.#follower
    if (this.#follower.needsTruncation) {
      const latest = this.#log.leaderEpochs.latestEpoch()
      if (latest >= 0) {
        return { type: 'epochEndOffset', leaderId, leaderEpoch: this.#leaderEpoch, epoch: latest }
      }
      // No epoch recorded: nothing was ever appended under a leader, or only below the HW.
      this.#truncateTo(this.#highWatermark)
      this.#follower.needsTruncation = false
    }
    this.#follower.reportedDurableOffset = this.#log.durableOffset
    return {
      type: 'fetch',
      leaderId,
      leaderEpoch: this.#leaderEpoch,
      replicaId: this.brokerId,
      fetchOffset: this.#log.logEndOffset,
      replicaDurableOffset: this.#log.durableOffset,
      currentLeaderEpoch: this.#leaderEpoch,
      maxBytes: this.#followerFetch.maxBytes,
      maxWaitMs: this.#followerFetch.maxWaitMs,
      minBytes: this.#followerFetch.minBytes,
    }
  }

  /**
   * Applies the leader's answer to a request from nextFollowerFetch(). Stale answers are dropped.
   * Returns how long the loop should wait before its next request: 0 normally, the fetch backoff
   * (Kafka's replica.fetch.backoff.ms) after an error answer, so a refusing or lagging leader is
   * not asked again in a tight loop.
   */
  applyLeaderFetch(response: FollowerFetchResponse): number {
    const follower = this.#follower
    if (this.#role !== 'follower' || follower === null || this.#closed) return 0
    if (response.request.leaderEpoch !== this.#leaderEpoch || response.request.leaderId !== follower.leaderId) return 0
    const errorCode = response.result.errorCode
    if (response.request.type === 'epochEndOffset') {
      this.#applyEpochEndOffset(response.request.epoch, response.result as EpochEndOffsetResult)
    } else {
      this.#applyFetch(response.request.fetchOffset, response.result as FetchPartitionResult)
    }
    this.#checkInvariants()
    return errorCode === ErrorCode.NONE ? 0 : this.#followerFetch.errorBackoffMs
  }

  #applyEpochEndOffset(requestedEpoch: number, result: EpochEndOffsetResult): void {
    if (result.errorCode !== ErrorCode.NONE) return // retried on the next loop turn
    const logEnd = this.#log.logEndOffset
    let target: number
    if (result.endOffset < 0) {
      // The leader knows nothing of our epochs (KIP-279): fall back to the high watermark.
      target = this.#highWatermark
    } else if (result.epoch === requestedEpoch) {
      target = Math.min(result.endOffset, logEnd)
    } else {
      // The leader's largest epoch <= ours is older: cut where that epoch ends in OUR log too.
      const own = this.#log.leaderEpochs.endOffsetFor(result.epoch)
      const ownEnd = own.epoch === result.epoch && own.endOffset >= 0 ? own.endOffset : logEnd
      target = Math.min(result.endOffset, ownEnd, logEnd)
    }
    this.#truncateTo(target)
    this.#follower!.needsTruncation = false
  }

  #applyFetch(fetchOffset: number, result: FetchPartitionResult): void {
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      this.#applyOutOfRange(fetchOffset, result)
      return
    }
    if (result.errorCode !== ErrorCode.NONE) return
    if (fetchOffset !== this.#log.logEndOffset) return // our log moved since the request: stale
    if (result.records !== null && result.records.length > 0) {
      try {
        this.#appendAsFollower(result.records)
      } catch (error) {
        // Nothing was written (the log validates every batch first); the next turn fetches the
        // same offset again. Broker faults still propagate to the glue.
        if (error instanceof KafkaError) return
        throw error
      }
    }
    const logEnd = this.#log.logEndOffset
    assert(
      result.logEndOffset < 0 || logEnd <= result.logEndOffset,
      `follower log end ${logEnd} passed the leader's ${result.logEndOffset}`,
    )
    if (result.logStartOffset > this.#log.logStartOffset) {
      this.#log.deleteRecordsBefore(Math.min(result.logStartOffset, logEnd))
    }
    this.#highWatermark = Math.max(this.#log.logStartOffset, Math.min(result.highWatermark, logEnd))
  }

  #applyOutOfRange(fetchOffset: number, result: FetchPartitionResult): void {
    if (fetchOffset !== this.#log.logEndOffset) return // stale
    if (result.logEndOffset >= 0 && fetchOffset > result.logEndOffset) {
      // Ahead of the leader (an unclean election, or an answer raced a truncation): cut back to
      // the leader's end, as Kafka's fetcher does.
      this.#truncateTo(result.logEndOffset)
      return
    }
    if (result.logStartOffset > fetchOffset) {
      // Below the leader's log start (retention or DeleteRecords moved on while this replica was
      // away): nothing here can be continued, so the log restarts empty at the leader's start,
      // as Kafka's fetcher does, and the producer state is rebuilt from what is left (nothing).
      this.#log.truncateFullyAndStartAt(result.logStartOffset)
      this.#producers.afterTruncation(this.#log, result.logStartOffset)
      this.#highWatermark = Math.min(Math.max(this.#highWatermark, result.logStartOffset), this.#log.logEndOffset)
      this.#follower!.restartedAtLeaderStart = true
    }
  }

  #appendAsFollower(records: Buffer): void {
    const firstOffset = batchBaseOffset(records, 0)
    if (firstOffset < this.#log.logEndOffset && this.#log.logEndOffset === this.#log.logStartOffset) {
      // An empty log restarted at the leader's log start gets the batch holding that offset,
      // which begins earlier: restart at the batch's base instead, as Kafka's fetcher does on an
      // unexpected append offset; the leader's log start is applied again after the append.
      this.#log.truncateFullyAndStartAt(firstOffset)
    }
    // The log records where each new leader epoch starts from the batches' stamps (KIP-101). The
    // batches' CRCs are not checked again: the leader, in this process, checked each once when it
    // was produced, and it reached us through shared memory, not a network.
    this.#log.append(records, { leaderEpoch: this.#leaderEpoch, assignOffsets: false, crcChecked: true })
    for (const { pos } of iterateBatches(records)) applyBatch(this.#producers.state, this.#log, records, pos)
    // A follower's copy goes to disk in its own shard's group commit; the leader counts it toward
    // the HW once the follower says it is there (#reportSynced).
    this.#requestSync()
  }

  /**
   * Puts what the log holds past its durable offset into the shard's next group commit; once on
   * disk, the HW may advance and waiting produces and fetches are tried again. A failed sync took
   * the log offline: the waiters see that and answer KAFKA_STORAGE_ERROR. `lazy`: nobody waits on
   * it yet (an acks=0/1 append), so it may wait for the group commit's next lazy round.
   */
  #requestSync(lazy = false): void {
    if (!this.#log.syncsForAcks || this.#log.durableOffset >= this.#log.logEndOffset) return
    // A request whose round has not started covers this append too (the round syncs up to the
    // log end as it starts), and its settle below moves the HW: no promise per acks=1 produce.
    if (lazy && this.#log.syncRequested) return
    const requestedMs = phaseTrace?.now() ?? 0
    const settle = (): void => {
      phaseTrace?.since('append.durable', requestedMs)
      if (this.#closed) return
      this.#reportSynced()
      this.#maybeAdvanceHighWatermark()
      this.#produceWaiters.poke()
      this.#pokeFetchWaiters()
      this.#checkInvariants()
    }
    this.#log.syncData(lazy).then(settle, settle)
  }

  /** As a follower, tells the leader its copy is on disk further than it last said. */
  #reportSynced(): void {
    const follower = this.#follower
    if (this.#role !== 'follower' || follower === null) return
    const durableOffset = this.#log.durableOffset
    if (durableOffset <= follower.reportedDurableOffset) return
    follower.reportedDurableOffset = durableOffset
    this.#onFollowerSynced({ replicaId: this.brokerId, leaderEpoch: this.#leaderEpoch, durableOffset })
  }

  /**
   * Tries the disk again once the backoff has passed since the last failure: cuts the log back
   * to what is on disk and rebuilds the producer state from it. True when the log is back.
   */
  async #maybeRecoverStorage(): Promise<boolean> {
    if (this.#log.failure === null) return true
    const nowMs = this.#clock.nowMs()
    if (nowMs < this.#storageRetryAtMs) return false
    this.#storageRetryAtMs = nowMs + this.#storageRetryBackoffMs
    try {
      const end = await this.#log.recoverFromFailure()
      this.#producers.afterTruncation(this.#log, end)
    } catch (error) {
      if (error instanceof KafkaError) return false
      throw error
    }
    this.#highWatermark = Math.min(this.#highWatermark, this.#log.logEndOffset)
    this.#afterLeaderCut(this.#log.logEndOffset)
    this.#checkInvariants()
    return true
  }

  #truncateTo(offset: number): void {
    const target = Math.max(offset, this.#log.logStartOffset)
    if (target < this.#log.logEndOffset) {
      this.#log.truncateTo(target)
      this.#producers.afterTruncation(this.#log, target)
    }
    this.#highWatermark = Math.min(this.#highWatermark, this.#log.logEndOffset)
  }

  // ---- offsets, deletion, upkeep --------------------------------------------------------------

  /** ListOffsets; `isolationLevel` 1 (read_committed) answers the LSO as the latest offset and finds nothing past it. */
  listOffsets(timestamp: number, isolationLevel = 0): ListOffsetsPartitionResult {
    if (this.#role !== 'leader') return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, timestamp: -1, offset: -1, leaderEpoch: -1 }
    const answer = (offset: number, timestampMs: number): ListOffsetsPartitionResult => ({
      errorCode: ErrorCode.NONE,
      timestamp: timestampMs,
      offset,
      leaderEpoch: this.#leaderEpoch,
    })
    if (timestamp === EARLIEST_TIMESTAMP) return answer(this.#log.logStartOffset, -1)
    const visibleEnd = isolationLevel === READ_COMMITTED ? this.lastStableOffset : this.#highWatermark
    if (timestamp === LATEST_TIMESTAMP) return answer(visibleEnd, -1)
    if (timestamp < 0) return { errorCode: ErrorCode.INVALID_REQUEST, timestamp: -1, offset: -1, leaderEpoch: -1 }
    const found = this.#log.offsetForTimestamp(timestamp)
    // Records above the HW are not committed (above the LSO not decided), so consumers must not be pointed at them.
    if (found === null || found.offset >= visibleEnd) return answer(-1, -1)
    return answer(found.offset, found.timestampMs)
  }

  /** DeleteRecords: moves the log start to `offset` (-1 = the HW). Answers with the new start. */
  deleteRecords(offset: number): DeleteRecordsPartitionResult {
    if (this.#role !== 'leader') return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 }
    const target = offset === -1 ? this.#highWatermark : offset
    if (target < 0 || target > this.#highWatermark) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 }
    if (target > this.#log.logStartOffset) this.#log.deleteRecordsBefore(target)
    // Consumers long-polling below the new start get OFFSET_OUT_OF_RANGE now.
    this.#pokeFetchWaiters()
    this.#checkInvariants()
    return { errorCode: ErrorCode.NONE, lowWatermark: this.#log.logStartOffset }
  }

  /** Periodic upkeep: retention/compaction, producer expiry, snapshots and checkpoints, ISR lag. */
  async housekeeping(): Promise<void> {
    this.#assertOpen()
    if (!(await this.#maybeRecoverStorage())) return
    // Compaction stays below the last stable offset: an open transaction's data is never cleaned.
    await this.#log.housekeeping(this.lastStableOffset)
    // Retention may have removed segments past the HW on a follower or an idle leader.
    this.#highWatermark = Math.min(Math.max(this.#highWatermark, this.#log.logStartOffset), this.#log.logEndOffset)
    this.#producers.state.removeExpired(this.#clock.nowMs(), this.#config.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS)
    this.checkIsr()
    this.#pokeFetchWaiters()
    this.#writeSnapshot()
    this.#checkInvariants()
  }

  updateConfig(config: ReplicaConfig): void {
    this.#config = config
    this.#log.updateConfig(config)
  }

  async flush(): Promise<void> {
    await this.#log.flush()
  }

  /** Closes the log; `forget` drops the partition's high watermark from the broker's book (the partition is being deleted). */
  async close(forget = false): Promise<void> {
    if (this.#closed) return
    this.becomeNone()
    this.#closed = true
    // The book's last write (after the shard's last replica closes) is off the thread too.
    const untracked = this.#untrackHighWatermark(forget)
    // Off the thread: thousands of replicas close at once when a broker stops.
    if (!forget && this.#producers.snapshotOffset !== this.#log.logEndOffset) {
      // Recovery replays only from the snapshot on: the index entries below it must be on disk first.
      this.#log.syncAbortedTxns()
      await this.#producers.writeSnapshotAsync(this.#log.logEndOffset)
    }
    await this.#log.close()
    await untracked
  }

  /** DescribeProducers: the producers whose sequence state this leader keeps. */
  describeProducers(): DescribeProducersResult {
    if (this.#role !== 'leader') return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, producers: [] }
    const producers: ActiveProducer[] = []
    for (const entry of this.#producers.state.entries()) {
      const last = entry.batches[entry.batches.length - 1]
      producers.push({ producerId: entry.producerId, producerEpoch: entry.epoch, lastSequence: last?.lastSeq ?? -1, lastTimestampMs: entry.lastTimestampMs })
    }
    return { errorCode: ErrorCode.NONE, producers }
  }

  stats(): ReplicaStats {
    return {
      logStartOffset: this.#log.logStartOffset,
      logEndOffset: this.#log.logEndOffset,
      highWatermark: this.#highWatermark,
      lastStableOffset: this.lastStableOffset,
      isr: this.#leader?.isr() ?? [],
      leaderEpoch: this.#leaderEpoch,
      role: this.#role,
      leaderId: this.#role === 'leader' ? this.brokerId : (this.#follower?.leaderId ?? -1),
      sizeBytes: this.#log.sizeBytes,
      producerCount: this.#producers.state.size,
      followerRestartedAtLeaderStart: this.#follower?.restartedAtLeaderStart ?? false,
    }
  }

  /**
   * Writes the producer snapshot when the log rolled a segment since the last one (as Kafka
   * snapshots at each roll), and always at close. It does not wait for the disk: a snapshot that
   * is lost, damaged, or ahead of the recovered log is replaced by replaying the log, so only the
   * replay's length depends on it. The aborted-transaction entries are synced before it, since
   * replay from a surviving snapshot cannot bring back an entry below it.
   */
  #writeSnapshot(): void {
    // Between closes a snapshot is worth its write only once a segment rolled past the last one:
    // recovery then replays the active segment alone instead of the sealed ones too.
    const sealedEnd = this.#log.activeSegmentBaseOffset
    if (this.#producers.snapshotOffset >= sealedEnd || sealedEnd <= this.#log.logStartOffset) return
    // Recovery replays only from the snapshot on: the index entries below it must be on disk first.
    this.#log.syncAbortedTxns()
    this.#producers.writeSnapshot(this.#log.logEndOffset)
  }

  #abortWaiters(): void {
    this.#produceWaiters.abortAll()
    this.#fetchWaiters.abortAll()
    this.#followerFetchWaiters.abortAll()
  }

  #assertOpen(): void {
    assert(!this.#closed, `partition ${this.topic}-${this.partition} is closed`)
  }

  #hwFloor = -1

  #checkInvariants(): void {
    const start = this.#log.logStartOffset
    const end = this.#log.logEndOffset
    const hw = this.#highWatermark
    assert(start <= hw && hw <= end, `need logStart ${start} <= HW ${hw} <= logEnd ${end}`)
    const lso = this.lastStableOffset
    assert(lso <= hw, `need LSO ${lso} <= HW ${hw}`)
    if (this.#role === 'leader') {
      assert(hw >= this.#hwFloor, `HW moved back from ${this.#hwFloor} to ${hw} while leader`)
      this.#hwFloor = hw
    } else {
      this.#hwFloor = -1
    }
  }
}

/** Header fields of each batch, or null when the bytes are not whole batches. */
function batchHeaders(records: Buffer): ProducerBatchHeader[] | null {
  const headers: ProducerBatchHeader[] = []
  // iterateBatches' split, without a generator: this runs once per produced partition.
  let pos = 0
  // Bounded: every step advances pos by at least the header size.
  while (records.length - pos >= LOG_OVERHEAD) {
    const size = batchSize(records, pos)
    if (size < BATCH_HEADER_SIZE || size > records.length - pos) break
    headers.push(readBatchHeader(records, pos))
    pos += size
  }
  if (pos !== records.length || headers.length === 0) return null
  return headers
}

/** The first batch that fails validation (CRC, framing), as a message; null when all pass. */
function firstCorruptBatch(records: Buffer): string | null {
  try {
    for (let pos = 0; pos < records.length; ) pos += validateBatch(records, pos, records.length, { fromProducer: true })
    return null
  } catch (error) {
    if (error instanceof KafkaError) return error.message
    throw error
  }
}
