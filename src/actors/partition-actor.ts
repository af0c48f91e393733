/**
 * The partition actor: lives on a shard worker thread, which alone owns the replica's log files.
 * It adapts the runtime's mailbox to the PartitionReplica state machine: one message at a time,
 * but replies that wait (acks=-1 produces, long-poll fetches) are sent later, so a parked request
 * never blocks the mailbox. While following, it runs the follower's fetch loop against the
 * leader's actor on another shard, and on its own timer it runs housekeeping (retention, rolling,
 * compaction).
 */
import { rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Clock, TimerHandle } from '../common/clock.js'
import { TaskCompactor, type CompactionTaskInput, type CompactionTaskOutcome } from '../storage/compaction.js'
import { followerFetchCopies } from '../common/buffer-pool.js'
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import type { RequestOptions } from '../runtime/actor.js'
import { compiledUrl } from '../runtime/compiled-url.js'
import { runTask } from '../runtime/cpu-pool.js'
import { planValidation, type BatchValidationInput, type BatchValidationVerdict } from '../records/batch-validation.js'
import { decompress, DECOMPRESSED_BYTES_MAX_DEFAULT } from '../records/compression.js'
import { FileHandleCache } from '../storage/file-handle-cache.js'
import { readPartitionTopicId, writePartitionTopicId } from '../storage/partition-metadata-file.js'
import type { Logger } from '../common/logger.js'
import { FileHighWatermarkBook } from './partition/high-watermark-book.js'
import { PartitionReplica } from './partition/partition-replica.js'
import type { FetchPartitionResult, FollowerFetchRequest, FollowerFetchResponse, FollowerSyncedReport, ProduceResult } from './partition/replica-types.js'
import type { OpenPartition, PartitionEvent, PartitionRequest } from './partition-messages.js'

export interface PartitionActorContext {
  clock: Clock
  /** Where this partition's events go (on a shard: to the main thread's logger). */
  log: Logger
  emit(event: PartitionEvent): void
  request(shard: number, id: string, message: unknown, payload?: Buffer, options?: RequestOptions): Promise<{ message: unknown; payload?: Buffer }>
  /** A one-way message to an actor on any shard; nothing answers it. */
  tell(shard: number, id: string, message: unknown): void
  /** How often housekeeping runs (log.retention.check.interval.ms). */
  housekeepingIntervalMs: number
  /** Ends the shard on a broken invariant; expected failures are answered instead. */
  crashOnInvariantViolation(error: unknown): void
}

export type Reply = (message: unknown, payload?: Buffer) => void

/** Fetches parked at once per partition; each holds a reply and an abort handle. */
const PARKED_FETCHES_MAX = 1_000
/** The CPU-pool task that decompresses and checks compressed batches. */
const VALIDATION_TASK_URL = compiledUrl(import.meta.url, '../records/batch-validation-task.js')
/**
 * The reason a parked fetch is cancelled with. abort() without one builds a DOMException, stack
 * and all, per cancel: about 10 of the 22-26 µs a cancelled fetch's controller cost (create,
 * listen, abort), and a consumer's fetch of several partitions cancels the rest once one has data.
 */
const FETCH_CANCELLED = 'fetch cancelled'
/** How long a follower waits before retrying a leader it could not reach. */
const FOLLOWER_RETRY_MS = 50

/**
 * Compaction runs off the shard on the shard's shared CPU pool, the one that also validates
 * compressed and large batches, so a shard has one pool for all its stateless CPU work.
 */
let sharedCompactor: TaskCompactor | null = null

/**
 * One bounded cache of open files for all the logs of this shard (module state is per thread),
 * sized by the first partition opened here: every partition of a shard gets the same share.
 */
let shardFiles: FileHandleCache | null = null

/** The high-watermark book of each broker directory whose partitions live on this shard. */
const highWatermarkBooks = new Map<string, FileHighWatermarkBook>()

function highWatermarkBookFor(partitionDir: string, clock: Clock, files: FileHandleCache, log: Logger): FileHighWatermarkBook {
  const brokerDir = dirname(partitionDir)
  let book = highWatermarkBooks.get(brokerDir)
  if (book === undefined) highWatermarkBooks.set(brokerDir, (book = new FileHighWatermarkBook(brokerDir, clock, files, log)))
  return book
}

/**
 * Makes the log directory this topic incarnation's before its log opens: one written for another
 * topic id (the same name, deleted while this broker was down and created again) holds records
 * the new topic never had at offsets it will reuse, so it is emptied, as Kafka deletes a stray
 * log whose topic id does not match. Returns the id the directory named.
 */
async function claimLogDir(init: OpenPartition, files: FileHandleCache, log: Logger): Promise<string | null> {
  const stored = await readPartitionTopicId(init.dir, files)
  if (init.topicId === undefined || stored === null || stored === init.topicId) return stored
  log.warn(`${init.topic}-${init.partition}: ${init.dir} holds topic id ${stored}, not ${init.topicId}: an earlier topic of this name, deleted while this broker was down; its records are removed`)
  await rm(init.dir, { recursive: true, force: true })
  return null
}

/** A consumer fetch's cancel handle, and how many of its entries are parked on this partition. */
interface ParkedFetch {
  controller: AbortController
  fetches: number
}

export class PartitionActor {
  readonly #replica: PartitionReplica
  readonly #context: PartitionActorContext
  /**
   * Consumer fetches parked here, by fetchId: one controller for each, shared by every partition
   * entry of that fetch naming this partition (a request may name it twice, as the fuzzer's do).
   * Keyed by fetchId alone, the second entry's controller replaced the first's, which no cancel
   * could then reach: its fetch stayed parked for the request's whole maxWaitMs, up to 24 days,
   * holding its connection's state.
   */
  readonly #parked = new Map<number, ParkedFetch>()
  #housekeepingTimer: TimerHandle | null = null
  #housekeepingRunning = false
  /** Produces waiting behind a compressed batch's validation, and the end of that queue. */
  #producesQueued = 0
  #produceTail: Promise<void> = Promise.resolve()
  /** Bumped on every role change so a stale follower loop stops. */
  #followGeneration = 0
  /** Where the leader's actor lives while this replica follows; null otherwise. */
  #leaderRoute: { shard: number; actorId: string } | null = null
  #closed = false

  private constructor(replica: PartitionReplica, context: PartitionActorContext) {
    this.#replica = replica
    this.#context = context
    this.#armHousekeeping(true)
  }

  static async open(init: OpenPartition, context: PartitionActorContext): Promise<PartitionActor> {
    sharedCompactor ??= new TaskCompactor((filename, task) => runTask<CompactionTaskInput, CompactionTaskOutcome>(filename, task))
    let actor: PartitionActor | null = null
    const files = (shardFiles ??= new FileHandleCache({ openFilesMax: init.openFilesMax }))
    const storedTopicId = await claimLogDir(init, files, context.log)
    const replica = await PartitionReplica.open({
      topic: init.topic,
      partition: init.partition,
      dir: init.dir,
      config: init.config,
      clock: context.clock,
      brokerId: init.brokerId,
      logOptions: { compactor: sharedCompactor, decompress, files, cleanShutdown: init.cleanShutdown === true },
      highWatermarks: highWatermarkBookFor(init.dir, context.clock, files, context.log),
      onIsrChange: (isr) =>
        context.emit({ event: 'isrChange', topic: init.topic, partition: init.partition, leaderEpoch: actor?.leaderEpoch ?? -1, isr }),
      // The supervisor stores each reported ISR and answers isrStored.
      isrChangesStored: true,
      onFollowerSynced: (report) => {
        if (actor !== null) actor.#tellLeaderSynced(report)
      },
    })
    if (init.topicId !== undefined && storedTopicId !== init.topicId) {
      // Advisory, as its header says: a failed write (a full disk) must not fail the open.
      await writePartitionTopicId(init.dir, init.topicId, files).catch((error: unknown) =>
        context.log.warn(`${init.topic}-${init.partition}: could not record topic id ${init.topicId} in ${init.dir}: ${error instanceof Error ? error.message : String(error)}`),
      )
    }
    actor = new PartitionActor(replica, context)
    return actor
  }

  get leaderEpoch(): number {
    return this.#replica.leaderEpoch
  }

  /** Handles one message; replies through `reply`, possibly later. Throws only on broker faults. */
  handle(message: PartitionRequest, payload: Buffer | undefined, reply: Reply, failRequest: (error: unknown) => void): void | Promise<void> {
    // An answer that comes later (a produce, a parked fetch) fails here, outside the mailbox's
    // catch: a broken invariant must still end the shard rather than become one failed request.
    const fail = (error: unknown): void => {
      failRequest(error)
      this.#context.crashOnInvariantViolation(error)
    }
    switch (message.op) {
      case 'produce':
        return this.#produce(message, payload ?? Buffer.alloc(0), reply, fail)
      case 'fetch':
        return this.#fetch(message, reply, fail)
      case 'cancelFetch':
        this.#parked.get(message.fetchId)?.controller.abort(FETCH_CANCELLED)
        return
      case 'epochEndOffset':
        return reply(this.#replica.epochEndOffset(message.epoch, message.currentLeaderEpoch))
      case 'listOffsets':
        return reply(this.#replica.listOffsets(message.timestamp, message.isolationLevel ?? 0))
      case 'writeTxnMarker':
        return this.#writeTxnMarker(message, reply, fail)
      case 'deleteRecords':
        return reply(this.#replica.deleteRecords(message.offset))
      case 'becomeLeader':
        this.#followGeneration++
        this.#leaderRoute = null
        this.#replica.becomeLeader(message)
        return reply({ ok: true })
      case 'becomeFollower':
        this.#replica.becomeFollower(message)
        this.#leaderRoute = { shard: message.leaderShard, actorId: message.leaderActorId }
        this.#follow(message.leaderShard, message.leaderActorId, ++this.#followGeneration)
        return reply({ ok: true })
      case 'removeFromIsr':
        this.#replica.removeFromIsr(message.brokerId)
        return reply({ ok: true })
      case 'isrStored':
        this.#replica.isrStored(message.leaderEpoch, message.isr)
        return reply({ ok: true })
      case 'followerSynced':
        // A tell (see #tellLeaderSynced): nobody waits for an answer.
        this.#replica.followerSynced(message)
        return
      case 'updateConfig':
        this.#replica.updateConfig(message.config)
        return reply({ ok: true })
      case 'stats':
        return reply(this.#replica.stats())
      case 'describeProducers':
        return reply(this.#replica.describeProducers())
      case 'housekeeping':
        return this.#housekeeping().then(() => reply({ ok: true }))
      case 'close':
        return this.close(message.deleteData).then(() => reply({ ok: true }))
    }
  }

  /**
   * Appends keep mailbox order. The append happens synchronously inside replica.produce(), which
   * is not awaited, so an acks=-1 wait for the ISR never holds up the next message. A produce large
   * enough that its CRCs are worth moving off the shard, or whose compressed batches inflate past
   * INLINE_DECOMPRESSED_BYTES_MAX, is first validated on the CPU pool; a smaller compressed one
   * is validated here. While any validation on the pool is pending, later produces queue behind it
   * so they still append (or fail) in arrival order.
   */
  #produce(message: Extract<PartitionRequest, { op: 'produce' }>, records: Buffer, reply: Reply, fail: (error: unknown) => void): void {
    const requireKeys = this.#replica.log.config.cleanupPolicy !== 'delete'
    const plan = planValidation(records, requireKeys)
    // What a validation verified the append need not check again (CRCs, compressed records' keys).
    // One literal of one shape per produce, not a spread of a spread.
    const options = {
      crcChecked: plan.where === 'pool' && plan.checkCrc,
      compressedKeysChecked: plan.where !== 'none' && requireKeys,
      fromCoordinator: message.origin === 'coordinator',
      leaderEpoch: message.leaderEpoch,
    }
    const settle = (verdict: BatchValidationVerdict | null): void => {
      if (verdict !== null && verdict.errorCode !== ErrorCode.NONE) {
        reply({ ...verdict, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: this.#replica.logStartOffset } satisfies ProduceResult)
        return
      }
      void this.#replica.produce(records, message.acks, message.timeoutMs, options).then((result) => reply(result), fail)
    }
    const verdictHere = plan.where === 'here' ? plan.verdict : null
    if (plan.where !== 'pool' && this.#producesQueued === 0) return settle(verdictHere)
    this.#producesQueued++
    this.#produceTail = this.#produceTail
      .then(async () => settle(plan.where === 'pool' ? await this.#validateOffThread(records, plan.checkCrc, requireKeys) : verdictHere))
      .catch(fail)
      .finally(() => this.#producesQueued--)
  }

  /** A marker keeps mailbox order with the produces before it, queued behind their validation too. */
  #writeTxnMarker(message: Extract<PartitionRequest, { op: 'writeTxnMarker' }>, reply: Reply, fail: (error: unknown) => void): void {
    const { op: _op, ...marker } = message
    const write = (): void => void this.#replica.writeTxnMarker(marker).then((result) => reply(result), fail)
    if (this.#producesQueued === 0) return write()
    this.#producesQueued++
    this.#produceTail = this.#produceTail
      .then(write)
      .catch(fail)
      .finally(() => this.#producesQueued--)
  }

  /**
   * Checks the batches on the CPU pool. They travel there in a transfer list, in a copy of their
   * own: a structured clone of a view copies its whole underlying buffer (the request frame it was
   * decoded from), and the original must stay here for the append.
   */
  #validateOffThread(records: Buffer, checkCrc: boolean, requireKeys: boolean): Promise<BatchValidationVerdict> {
    const copy = new Uint8Array(records)
    const input: BatchValidationInput = {
      records: copy,
      requireKeys,
      decompressedBytesMax: DECOMPRESSED_BYTES_MAX_DEFAULT,
      checkCrc,
    }
    return runTask<BatchValidationInput, BatchValidationVerdict>(VALIDATION_TASK_URL, input, [copy.buffer])
  }


  #fetch(message: Extract<PartitionRequest, { op: 'fetch' }>, reply: Reply, fail: (error: unknown) => void): void {
    const wait = message.maxWaitMs > 0 && this.#parked.size < PARKED_FETCHES_MAX
    // Only a consumer's fetch can be cancelled (by its fetchId); a follower's (fetchId -1) parks
    // without an AbortController, which cost about 1% of a shard's time under acks=all.
    const parked = wait && message.fetchId >= 0 ? this.#park(message.fetchId) : null
    this.#replica
      .fetch({
        replicaId: message.replicaId,
        fetchOffset: message.fetchOffset,
        maxBytes: message.maxBytes,
        maxWaitMs: wait ? message.maxWaitMs : 0,
        minBytes: message.minBytes,
        currentLeaderEpoch: message.currentLeaderEpoch,
        isolationLevel: message.isolationLevel ?? 0,
        replicaDurableOffset: message.replicaDurableOffset,
        signal: parked?.controller.signal,
      })
      .then(
        (result) => {
          if (parked !== null) this.#unpark(message.fetchId, parked)
          const { records, ...rest } = result
          reply(rest, records ?? undefined)
        },
        (error: unknown) => {
          if (parked !== null) this.#unpark(message.fetchId, parked)
          fail(error)
        },
      )
  }

  #park(fetchId: number): ParkedFetch {
    let parked = this.#parked.get(fetchId)
    if (parked === undefined) {
      parked = { controller: new AbortController(), fetches: 0 }
      this.#parked.set(fetchId, parked)
    }
    parked.fetches++
    return parked
  }

  #unpark(fetchId: number, parked: ParkedFetch): void {
    parked.fetches--
    assert(parked.fetches >= 0, `fetch ${fetchId} unparked more often than parked`)
    if (parked.fetches === 0) this.#parked.delete(fetchId)
  }

  /**
   * The follower loop: ask the leader what the replica needs next (its epoch's end offset, then
   * records from its log end), apply the answer, repeat, until the role changes.
   */
  #follow(leaderShard: number, leaderActorId: string, generation: number): void {
    const step = async (): Promise<void> => {
      while (!this.#closed && generation === this.#followGeneration) {
        const request = this.#replica.nextFollowerFetch()
        if (request === null) return
        try {
          const response = await this.#askLeader(leaderShard, leaderActorId, request)
          if (generation !== this.#followGeneration || this.#closed) return
          // An error answer (leader not ready, epoch mismatch) asks for a pause before the next try.
          const backoffMs = this.#replica.applyLeaderFetch(response)
          // The replica appended the records (the log wrote them out) or dropped them, and holds
          // no view of them: their buffer, lent from this thread's pool, goes back to it.
          if ('records' in response.result && response.result.records !== null) followerFetchCopies.give(response.result.records)
          if (backoffMs > 0) await this.#sleep(backoffMs)
        } catch (error) {
          // The leader's shard may be down; the supervisor will name a new leader. Until then, retry.
          this.#context.crashOnInvariantViolation(error)
          await this.#sleep(FOLLOWER_RETRY_MS)
        }
      }
    }
    void step()
  }

  /**
   * Cross-shard, one way: tells the leader's actor that this follower's copy is on disk further
   * than its parked fetch said. A tell, not a request: nothing here waits for an answer, and a
   * reply frame per report (a few hundred a second per shard under acks=all) was a fifth of the
   * shard-to-shard frames in an RF 3 run. Best effort: if the leader's shard is gone, the next
   * fetch carries the offset; a broken invariant in the leader's handler still ends its shard.
   */
  #tellLeaderSynced(report: FollowerSyncedReport): void {
    const route = this.#leaderRoute
    if (route === null || this.#closed) return
    const message: PartitionRequest = { op: 'followerSynced', ...report }
    this.#context.tell(route.shard, route.actorId, message)
  }

  #sleep(delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => this.#context.clock.setTimeout(resolve, delayMs))
  }

  async #askLeader(shard: number, id: string, request: FollowerFetchRequest): Promise<FollowerFetchResponse> {
    if (request.type === 'epochEndOffset') {
      const message: PartitionRequest = { op: 'epochEndOffset', epoch: request.epoch, currentLeaderEpoch: request.leaderEpoch }
      const reply = await this.#context.request(shard, id, message)
      return { request, result: reply.message as FollowerFetchResponse['result'] } as FollowerFetchResponse
    }
    const message: PartitionRequest = {
      op: 'fetch',
      fetchId: -1,
      replicaId: request.replicaId,
      fetchOffset: request.fetchOffset,
      maxBytes: request.maxBytes,
      maxWaitMs: request.maxWaitMs,
      minBytes: request.minBytes,
      currentLeaderEpoch: request.currentLeaderEpoch ?? -1,
      replicaDurableOffset: request.replicaDurableOffset,
    }
    // Lent: each answer's records are dropped once appended, and the next answer reuses their
    // memory, which a buffer of their own each would hold until a full mark-compact found it.
    const reply = await this.#context.request(shard, id, message, undefined, { replyPayloadPool: followerFetchCopies })
    const result: FetchPartitionResult = { ...(reply.message as Omit<FetchPartitionResult, 'records'>), records: reply.payload ?? null }
    return { request, result }
  }

  /**
   * The first pass comes at a random point of the first interval: partitions created or reopened
   * together would otherwise all run their housekeeping in the same instant, every interval.
   */
  #armHousekeeping(first = false): void {
    if (this.#closed) return
    const intervalMs = this.#context.housekeepingIntervalMs
    this.#housekeepingTimer = this.#context.clock.setTimeout(() => {
      // A failed pass (a compaction that met a corrupt batch, a full disk) is reported and tried
      // again next interval; letting it reject would end the whole shard.
      void this.#housekeeping()
        .catch((error: unknown) => {
          this.#context.crashOnInvariantViolation(error)
          this.#context.log.warn(`housekeeping of ${this.#replica.log.dir} failed: ${error instanceof Error ? error.message : String(error)}`)
        })
        .finally(() => this.#armHousekeeping())
    }, first ? Math.ceil(intervalMs * Math.random()) : intervalMs)
  }

  async #housekeeping(): Promise<void> {
    if (this.#housekeepingRunning || this.#closed) return
    this.#housekeepingRunning = true
    try {
      await this.#replica.housekeeping()
    } finally {
      this.#housekeepingRunning = false
    }
  }

  async close(deleteData: boolean): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#followGeneration++
    if (this.#housekeepingTimer !== null) this.#context.clock.clearTimeout(this.#housekeepingTimer)
    for (const { controller } of this.#parked.values()) controller.abort(FETCH_CANCELLED)
    await this.#replica.close(deleteData)
    if (deleteData) await rm(this.#replica.log.dir, { recursive: true, force: true })
  }
}
