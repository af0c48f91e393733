/**
 * The transaction coordinator of one partition of `__transaction_state` (KIP-98), as Kafka's
 * TransactionCoordinator runs it: it owns the transactional ids that hash to its partition, keeps
 * each one's producer id, epoch, state and partitions in that partition (so a new leader loads
 * them), fences zombies by bumping the epoch, and ends transactions by writing COMMIT/ABORT
 * markers to every partition a transaction touched.
 *
 * State machine (Kafka's): Empty -> Ongoing (AddPartitions/AddOffsets) -> PrepareCommit or
 * PrepareAbort (EndTxn, timeout, fencing) -> CompleteCommit or CompleteAbort once every marker is
 * written -> Ongoing again with the next transaction. Each change is written to the log (acks=all)
 * before it takes effect in memory, but for Complete* (below). Operations on one transactional id
 * run one at a time.
 *
 * EndTxn answers once its Prepare* record is durable, as Kafka does: the decision is then taken,
 * and a new coordinator would finish it from the log. The markers and the Complete* record follow
 * in the background, still holding the transactional id's turn, so the client's next operation
 * (its next AddPartitionsToTxn, at once) waits behind them for at most COMPLETION_WAIT_MS instead
 * of being answered CONCURRENT_TRANSACTIONS: librdkafka backs off 20 ms after that, several
 * times what the markers take.
 *
 * Complete* is applied once the markers are durable and appended without waiting for it to be:
 * nobody is answered on it, and anything written after it to the same log is durable only once
 * it is. A Complete* that never reaches the log leaves the Prepare* last, which a load finishes
 * again by writing the same markers, harmless for a producer with no open transaction there.
 * The Complete* rides in the append of the transactional id's next operation, ahead of its
 * record, when one waits behind the markers or comes within COMPLETE_HOLD_MS (librdkafka sends
 * its next AddPartitionsToTxn a few ms after EndTxn answers): one batch, one fdatasync and one
 * copy to the followers instead of two in a row, the second of which waited for the first's
 * round (one group-commit round at a time, on the leader and on the follower). The batch keeps
 * the order a load needs (Complete* before the next state, both or neither); past the hold it is
 * appended alone. Holding it widens only the window in which a load finishes the transaction
 * again: the next transaction's partitions are written after it or with it, never before.
 *
 * A client's coordinator requests under one producer id and epoch come on one connection at a
 * time: each client (librdkafka, the Java client, kafkajs, kafka-python, sarama) keeps one
 * connection to a coordinator and opens a new one only after giving the old one up, a request
 * timed out on it among the reasons. A request of transaction N sent on such a connection can
 * still reach the coordinator after the client, on its new connection, has ended N and begun N+1:
 * an EndTxn below v5 carries nothing that ties it to N, so it would end N+1 (the delayed EndTxn
 * Jepsen found in Kafka and Bufstream). So the coordinator remembers the newest connection each
 * producer's AddPartitionsToTxn, AddOffsetsToTxn and EndTxn came on, and fences one that comes on
 * an older connection (PRODUCER_FENCED; the client gave that connection up and is not listening).
 * EndTxn v5 (KIP-890 part 2) needs none of this: its epoch changes with every transaction.
 *
 * Nothing here knows of threads or sockets: a connection is an ordinal the caller passes; the
 * log, the marker writer and producer id allocation are injected, time comes from the Clock.
 */
import { ErrorCode } from '../common/error-codes.js'
import type { Clock, TimerHandle } from '../common/clock.js'
import { phaseTrace } from '../common/phase-trace.js'
import { NewestConnections } from './txn/newest-connections.js'
import { type TxnPartition, type TxnRecord, type TxnStateName, type TxnValue } from './txn/txn-records.js'

/** Kafka's Short.MaxValue - 1: past it a producer gets a new id (epoch 0), as Kafka does. */
const EPOCH_MAX = 32_766
/** How often a marker write that failed (a leader moving) is tried again, and how many times. */
const MARKER_RETRY_MS = 100
const MARKER_ATTEMPTS_MAX = 300
/**
 * How long a client's operation waits for an earlier one on its transactional id (usually the
 * markers of the transaction it just ended) before answering CONCURRENT_TRANSACTIONS, which
 * clients retry. Well under any client's request timeout.
 */
export const COMPLETION_WAIT_MS = 1_000
/**
 * How long a Complete* record waits for the transactional id's next operation to carry it (see
 * the header) before it is appended alone: several times the gap librdkafka leaves between
 * EndTxn's answer and its next AddPartitionsToTxn, short beside any client's timeout.
 */
export const COMPLETE_HOLD_MS = 20

export interface TxnLog {
  /**
   * Appends the records to the coordinator's partition; resolves once the ISR holds them (and
   * they are on disk). Appends reach the log in the order of the calls, so one that resolved
   * means every earlier one that did not fail is durable too.
   */
  append(records: TxnRecord[]): Promise<void>
}

export interface TxnMarkerWrite {
  producerId: number
  producerEpoch: number
  commit: boolean
  coordinatorEpoch: number
  partitions: TxnPartition[]
}

export interface TxnMarkersOutcome {
  /** The partitions whose marker could not be written now (a leader moving): tried again. */
  retry: TxnPartition[]
  /**
   * A partition refused the marker with TRANSACTION_COORDINATOR_FENCED: it took a marker from a
   * newer coordinator epoch, so this coordinator's partition has moved and its state is stale.
   */
  fenced: boolean
}

export interface TxnCoordinatorOptions {
  clock: Clock
  log: TxnLog
  /** A fresh producer id (the controller's allocator). */
  allocateProducerId(): Promise<number>
  /** Writes the markers; resolves with the partitions that failed (retried), and whether a partition fenced this coordinator. */
  writeMarkers(write: TxnMarkerWrite): Promise<TxnMarkersOutcome>
  /** The coordinator's epoch: its partition's leader epoch, stamped in every marker. */
  coordinatorEpoch: number
  /** transaction.max.timeout.ms */
  maxTimeoutMs: number
  /** transactional.id.expiration.ms */
  idExpirationMs: number
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms: how often timed-out transactions are looked for. */
  abortCheckIntervalMs: number
  /**
   * Runs `run` after the answers already settled in this turn are on their way (the broker gives
   * setImmediate): a transaction's markers start only then, so EndTxn's answer does not wait for
   * their sends (a ring message, or a marker's append on this thread). Absent: at once.
   */
  afterAnswers?(run: () => void): void
}

interface TxnMeta {
  producerId: number
  producerEpoch: number
  /** The epoch before the last bump, so a retried InitProducerId (KIP-360) is recognised. */
  lastProducerEpoch: number
  /** The producer id before a new one was allocated at the epoch's end (EndTxn v5), else -1. */
  previousProducerId: number
  /**
   * The last transaction was ended by EndTxn v5 under a bumped epoch, so a retry of that EndTxn
   * comes with the epoch before (in memory only: after a coordinator move such a retry is fenced,
   * and the client recovers with InitProducerId, as KIP-360 lets it).
   */
  endedByBump: boolean
  timeoutMs: number
  state: TxnStateName
  partitions: Map<string, TxnPartition>
  startTimestampMs: number
  lastUpdateTimestampMs: number
}

export interface InitProducerIdAnswer {
  errorCode: number
  producerId: number
  producerEpoch: number
}

export interface EndTxnAnswer {
  errorCode: number
  /** The producer id and epoch for the next transaction (EndTxn v5); -1 on an error. */
  producerId: number
  producerEpoch: number
}

export interface DescribedTxn {
  transactionalId: string
  errorCode: number
  state: TxnStateName | ''
  timeoutMs: number
  startTimestampMs: number
  producerId: number
  producerEpoch: number
  partitions: TxnPartition[]
}

export interface ListedTxn {
  transactionalId: string
  producerId: number
  state: TxnStateName
}

const key = (p: TxnPartition): string => `${p.topic}\u0000${p.partition}`

export class TxnCoordinator {
  readonly #options: TxnCoordinatorOptions
  readonly #txns = new Map<string, TxnMeta>()
  /** The tail of each transactional id's chain of operations (they run one at a time). */
  readonly #locks = new Map<string, Promise<unknown>>()
  /** How many operations wait for their turn, per transactional id (absent: none). */
  readonly #queued = new Map<string, number>()
  /**
   * Complete* records applied in memory and held for the append of the id's next operation (see
   * the header); one per transactional id at most, appended alone by the end of the turn of an
   * operation that wrote nothing, or when its timer (armed when no operation waited) fires.
   */
  readonly #heldCompletes = new Map<string, { meta: TxnMeta; timer: TimerHandle | null }>()
  /** The newest connection each transactional id's requests came on, under the producer id and epoch they carried (see the header); one per id in #txns. */
  readonly #connections = new NewestConnections<string>()
  #open = false
  #closed = false
  /** A partition fenced this coordinator (a newer one runs elsewhere): it answers NOT_COORDINATOR from then on. */
  #fenced = false
  #timer: TimerHandle | null = null

  constructor(options: TxnCoordinatorOptions) {
    this.#options = options
  }

  get isOpen(): boolean {
    return this.#open && !this.#closed
  }

  get fenced(): boolean {
    return this.#fenced
  }

  /** Installs the partition's records (later ones win, tombstones remove), then finishes what was being ended. */
  load(records: Iterable<TxnRecord>): void {
    for (const record of records) this.#apply(record.transactionalId, record.value)
    this.#open = true
    for (const [id, meta] of this.#txns) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') void this.#locked(id, () => this.#complete(id, meta))
    }
    this.#armTimer()
  }

  close(): void {
    this.#closed = true
    // A held Complete* is dropped: the Prepare* stays last, and whoever loads next finishes it.
    for (const { timer } of this.#heldCompletes.values()) if (timer !== null) this.#options.clock.clearTimeout(timer)
    this.#heldCompletes.clear()
    this.#connections.clear()
    if (this.#timer !== null) this.#options.clock.clearTimeout(this.#timer)
    this.#timer = null
  }

  // ---- InitProducerId ---------------------------------------------------------------------

  initProducerId(transactionalId: string, timeoutMs: number, expectedProducerId: number, expectedEpoch: number): Promise<InitProducerIdAnswer> {
    const refuse = (errorCode: number): InitProducerIdAnswer => ({ errorCode, producerId: -1, producerEpoch: -1 })
    if (transactionalId === '') return Promise.resolve(refuse(ErrorCode.INVALID_REQUEST))
    if (timeoutMs <= 0 || timeoutMs > this.#options.maxTimeoutMs) return Promise.resolve(refuse(ErrorCode.INVALID_TRANSACTION_TIMEOUT))
    return this.#locked(transactionalId, refuse(ErrorCode.CONCURRENT_TRANSACTIONS), async () => {
      let meta = this.#txns.get(transactionalId)
      if (meta === undefined) {
        const producerId = await this.#options.allocateProducerId()
        const nowMs = this.#options.clock.nowMs()
        const fresh: TxnMeta = { producerId, producerEpoch: 0, lastProducerEpoch: -1, previousProducerId: -1, endedByBump: false, timeoutMs, state: 'Empty', partitions: new Map(), startTimestampMs: -1, lastUpdateTimestampMs: nowMs }
        if (!(await this.#persist(transactionalId, fresh))) return refuse(ErrorCode.NOT_COORDINATOR)
        return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 }
      }
      if (expectedProducerId >= 0) {
        // KIP-360: a producer that knows its id and epoch asks to continue with a bumped one.
        const current = expectedProducerId === meta.producerId && expectedEpoch === meta.producerEpoch
        const retried = expectedProducerId === meta.producerId && expectedEpoch === meta.lastProducerEpoch && meta.state === 'Empty'
        if (retried) return { errorCode: ErrorCode.NONE, producerId: meta.producerId, producerEpoch: meta.producerEpoch }
        if (!current) return refuse(ErrorCode.PRODUCER_FENCED)
      }
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') {
        if (!(await this.#complete(transactionalId, meta))) return refuse(ErrorCode.CONCURRENT_TRANSACTIONS)
        meta = this.#txns.get(transactionalId)!
      }
      if (meta.state === 'Ongoing') {
        // The earlier producer's transaction is aborted under a bumped epoch, fencing it out.
        if (!(await this.#abortFenced(transactionalId, meta))) return refuse(ErrorCode.CONCURRENT_TRANSACTIONS)
        meta = this.#txns.get(transactionalId)!
      }
      const next = this.#bumped(meta)
      next.timeoutMs = timeoutMs
      next.state = 'Empty'
      next.partitions = new Map()
      next.startTimestampMs = -1
      if (!(await this.#persist(transactionalId, next))) return refuse(ErrorCode.NOT_COORDINATOR)
      return { errorCode: ErrorCode.NONE, producerId: next.producerId, producerEpoch: next.producerEpoch }
    })
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn -----------------------------------------------

  /**
   * Adds partitions to the producer's transaction (starting one); one error code for all of them.
   * `connection` is the ordinal of the client connection the request came on (absent: the broker's own call).
   */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnPartition[], connection?: number): Promise<number> {
    return this.#locked(transactionalId, ErrorCode.CONCURRENT_TRANSACTIONS, async () => {
      const meta = this.#txns.get(transactionalId)
      const invalid = this.#validateProducer(meta, producerId, producerEpoch)
      if (invalid !== ErrorCode.NONE) return invalid
      if (this.#onAbandonedConnection(transactionalId, producerId, producerEpoch, connection)) return ErrorCode.PRODUCER_FENCED
      const m = meta!
      if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort' || m.state === 'PrepareEpochFence') return ErrorCode.CONCURRENT_TRANSACTIONS
      if (m.state === 'Dead') return ErrorCode.INVALID_TXN_STATE
      const fresh = partitions.filter((p) => !m.partitions.has(key(p)))
      if (m.state === 'Ongoing' && fresh.length === 0) return ErrorCode.NONE
      const nowMs = this.#options.clock.nowMs()
      const next: TxnMeta = {
        ...m,
        state: 'Ongoing',
        partitions: m.state === 'Ongoing' ? new Map(m.partitions) : new Map(),
        startTimestampMs: m.state === 'Ongoing' ? m.startTimestampMs : nowMs,
        lastUpdateTimestampMs: nowMs,
      }
      for (const p of partitions) next.partitions.set(key(p), p)
      return (await this.#persist(transactionalId, next)) ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR
    })
  }

  /**
   * KIP-890 part 1: whether `partition` is in the producer's open transaction, asked by the leader
   * of a partition (or the group coordinator of a group) before the producer's first transactional
   * write there, so a write no AddPartitionsToTxn / AddOffsetsToTxn announced never opens a
   * transaction that no marker will end (a "hanging" one, which holds the LSO back for good).
   * Kafka's handleVerifyPartitionsInTransaction, in its order; TRANSACTION_ABORTABLE is answered
   * as INVALID_TXN_STATE, what Kafka's broker hands clients of the versions Partita speaks. It
   * reads the state as it stands without waiting for the id's turn: a marker racing the write
   * is caught where the write lands (see broker/txn-verification.ts).
   */
  verify(transactionalId: string, producerId: number, producerEpoch: number, partition: TxnPartition): number {
    const meta = this.#txns.get(transactionalId)
    const invalid = this.#validateProducer(meta, producerId, producerEpoch)
    if (invalid !== ErrorCode.NONE) return invalid
    const { state, partitions } = meta!
    if (state === 'PrepareCommit' || state === 'PrepareAbort' || state === 'PrepareEpochFence') return ErrorCode.CONCURRENT_TRANSACTIONS
    return state === 'Ongoing' && partitions.has(key(partition)) ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE
  }

  // ---- EndTxn -----------------------------------------------------------------------------

  /** EndTxn below v5; `connection` as for addPartitions. */
  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, connection?: number): Promise<number> {
    return this.#lockedAnswering(transactionalId, ErrorCode.CONCURRENT_TRANSACTIONS, async () => {
      const meta = this.#txns.get(transactionalId)
      const invalid = this.#validateProducer(meta, producerId, producerEpoch)
      if (invalid !== ErrorCode.NONE) return { answer: invalid }
      if (this.#onAbandonedConnection(transactionalId, producerId, producerEpoch, connection)) return { answer: ErrorCode.PRODUCER_FENCED }
      const m = meta!
      const prepare: TxnStateName = commit ? 'PrepareCommit' : 'PrepareAbort'
      const complete: TxnStateName = commit ? 'CompleteCommit' : 'CompleteAbort'
      // A retried EndTxn of a transaction already ended the same way answers as the first did.
      if (m.state === complete) return { answer: ErrorCode.NONE }
      // Its markers could not all be written before (or a load found it prepared): the decision stands.
      if (m.state === prepare) return { answer: ErrorCode.NONE, finishing: this.#complete(transactionalId, m) }
      if (m.state !== 'Ongoing') return { answer: ErrorCode.INVALID_TXN_STATE }
      const next: TxnMeta = { ...m, state: prepare, lastUpdateTimestampMs: this.#options.clock.nowMs() }
      if (!(await this.#persist(transactionalId, next))) return { answer: ErrorCode.NOT_COORDINATOR }
      return { answer: ErrorCode.NONE, finishing: this.#complete(transactionalId, next) }
    })
  }

  /**
   * EndTxn v5 (KIP-890 part 2, for clients that finalized transaction.version 2): ends the
   * transaction under a bumped epoch, which the markers carry and the answer hands back for the
   * next transaction. So an EndTxn delayed from transaction N (on a connection the client has
   * given up on) carries N's epoch and can never end N+1: it is PRODUCER_FENCED. A retry of the
   * same EndTxn (N's epoch, N ended the same way, nothing begun since) answers as the first did.
   * At the epoch's end the transaction ends under its epoch and the next one gets a new producer id.
   */
  endTxnBumpingEpoch(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<EndTxnAnswer> {
    const refuse = (errorCode: number): EndTxnAnswer => ({ errorCode, producerId: -1, producerEpoch: -1 })
    return this.#lockedAnswering(transactionalId, refuse(ErrorCode.CONCURRENT_TRANSACTIONS), async () => {
      const meta = this.#txns.get(transactionalId)
      if (!this.isOpen || this.#fenced) return { answer: refuse(ErrorCode.NOT_COORDINATOR) }
      if (meta === undefined) return { answer: refuse(ErrorCode.INVALID_PRODUCER_ID_MAPPING) }
      const prepare: TxnStateName = commit ? 'PrepareCommit' : 'PrepareAbort'
      const complete: TxnStateName = commit ? 'CompleteCommit' : 'CompleteAbort'
      const answer = (m: TxnMeta): EndTxnAnswer => ({ errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch })
      const isRetry =
        meta.endedByBump &&
        producerEpoch === meta.lastProducerEpoch &&
        (meta.previousProducerId >= 0 ? producerId === meta.previousProducerId : producerId === meta.producerId && meta.producerEpoch === producerEpoch + 1)
      if (isRetry) {
        if (meta.state === complete) return { answer: answer(meta) }
        // Its markers could not all be written before: the prepared state carries the bumped epoch already.
        if (meta.state === prepare) return { answer: answer(meta), finishing: this.#complete(transactionalId, meta) }
        // Transaction N+1 has begun (or N ended the other way): this is a stale EndTxn of N.
        return { answer: refuse(ErrorCode.PRODUCER_FENCED) }
      }
      const invalid = this.#validateProducer(meta, producerId, producerEpoch)
      if (invalid !== ErrorCode.NONE) return { answer: refuse(invalid) }
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return { answer: refuse(ErrorCode.CONCURRENT_TRANSACTIONS) }
      if (meta.state !== 'Ongoing') return { answer: refuse(ErrorCode.INVALID_TXN_STATE) }
      const nowMs = this.#options.clock.nowMs()
      // The markers go out under the bumped epoch; at the epoch's end under the last one, and the
      // completed state then carries a new producer id (allocated by #persist).
      const exhausted = meta.producerEpoch >= EPOCH_MAX
      const next: TxnMeta = exhausted
        ? { ...meta, state: prepare, lastUpdateTimestampMs: nowMs, endedByBump: true, previousProducerId: -1 }
        : { ...meta, state: prepare, producerEpoch: meta.producerEpoch + 1, lastProducerEpoch: meta.producerEpoch, lastUpdateTimestampMs: nowMs, endedByBump: true, previousProducerId: -1 }
      if (!(await this.#persist(transactionalId, next))) return { answer: refuse(ErrorCode.NOT_COORDINATOR) }
      // At the epoch's end the answer names the producer id the completion allocates: it waits for it.
      if (exhausted) return { answer: (await this.#complete(transactionalId, next, true)) ? answer(this.#txns.get(transactionalId)!) : refuse(this.#incompleteCode()) }
      return { answer: answer(next), finishing: this.#complete(transactionalId, next) }
    })
  }

  // ---- Describe / List --------------------------------------------------------------------

  describe(transactionalId: string): DescribedTxn {
    const meta = this.#txns.get(transactionalId)
    if (meta === undefined) {
      return { transactionalId, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, state: '', timeoutMs: 0, startTimestampMs: -1, producerId: -1, producerEpoch: -1, partitions: [] }
    }
    return {
      transactionalId,
      errorCode: ErrorCode.NONE,
      state: meta.state,
      timeoutMs: meta.timeoutMs,
      startTimestampMs: meta.startTimestampMs,
      producerId: meta.producerId,
      producerEpoch: meta.producerEpoch,
      partitions: [...meta.partitions.values()],
    }
  }

  list(): ListedTxn[] {
    return [...this.#txns].map(([transactionalId, m]) => ({ transactionalId, producerId: m.producerId, state: m.state }))
  }

  // ---- timeouts and expiration -----------------------------------------------------------

  /**
   * Aborts every transaction open longer than its timeout, under a bumped epoch (so the
   * abandoning producer is fenced), and removes transactional ids idle past
   * transactional.id.expiration.ms. Returns how many transactions were aborted.
   */
  async abortTimedOut(): Promise<number> {
    const nowMs = this.#options.clock.nowMs()
    let aborted = 0
    const work: Array<Promise<unknown>> = []
    for (const [id, meta] of this.#txns) {
      if (meta.state === 'Ongoing' && meta.startTimestampMs + meta.timeoutMs <= nowMs) {
        work.push(
          this.#locked(id, async () => {
            const current = this.#txns.get(id)
            if (current?.state !== 'Ongoing' || current.startTimestampMs + current.timeoutMs > this.#options.clock.nowMs()) return
            if (await this.#abortFenced(id, current)) aborted++
          }),
        )
      } else if ((meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') && !this.#locks.has(id)) {
        // Its markers could not all be written when it ended (a leader moving): try again, as
        // Kafka's marker channel keeps trying until it can.
        work.push(
          this.#locked(id, async () => {
            const current = this.#txns.get(id)
            if (current?.state === 'PrepareCommit' || current?.state === 'PrepareAbort') await this.#complete(id, current)
          }),
        )
      } else if (isIdle(meta.state) && meta.lastUpdateTimestampMs + this.#options.idExpirationMs <= nowMs) {
        work.push(
          this.#locked(id, async () => {
            const current = this.#txns.get(id)
            if (current === undefined || !isIdle(current.state) || current.lastUpdateTimestampMs + this.#options.idExpirationMs > this.#options.clock.nowMs()) return
            await this.#persist(id, null)
          }),
        )
      }
    }
    await Promise.all(work)
    return aborted
  }

  #armTimer(): void {
    if (this.#closed || this.#timer !== null) return
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = null
      void this.abortTimedOut()
        .catch(() => 0)
        .finally(() => this.#armTimer())
    }, this.#options.abortCheckIntervalMs)
  }

  // ---- internals --------------------------------------------------------------------------

  /** What an EndTxn whose markers could not all be written answers: a fenced coordinator sends the client to the new one. */
  #incompleteCode(): number {
    return this.#fenced ? ErrorCode.NOT_COORDINATOR : ErrorCode.CONCURRENT_TRANSACTIONS
  }

  #validateProducer(meta: TxnMeta | undefined, producerId: number, producerEpoch: number): number {
    if (!this.isOpen || this.#fenced) return ErrorCode.NOT_COORDINATOR
    if (meta === undefined || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== meta.producerEpoch) return ErrorCode.PRODUCER_FENCED
    return ErrorCode.NONE
  }

  /**
   * Whether a request of this (valid) producer id and epoch came on an older connection than the
   * newest one the producer has used, which the client gave up (see the header); a request on a
   * newer one makes it the newest. A call without a connection (the broker's own) is never.
   */
  #onAbandonedConnection(transactionalId: string, producerId: number, producerEpoch: number, connection: number | undefined): boolean {
    if (this.#connections.isAbandoned(transactionalId, producerId, producerEpoch, connection)) return true
    this.#connections.note(transactionalId, producerId, producerEpoch, connection)
    return false
  }

  /** The meta with the next epoch (a new producer id past the epoch's range), lastProducerEpoch remembering the old. */
  #bumped(meta: TxnMeta): TxnMeta {
    const nowMs = this.#options.clock.nowMs()
    if (meta.producerEpoch >= EPOCH_MAX) {
      // Kafka allocates a new id here; the allocation is awaited by the caller via #persist's order.
      return { ...meta, producerId: -1, producerEpoch: 0, lastProducerEpoch: -1, lastUpdateTimestampMs: nowMs }
    }
    return { ...meta, producerEpoch: meta.producerEpoch + 1, lastProducerEpoch: meta.producerEpoch, lastUpdateTimestampMs: nowMs }
  }

  /** Aborts an open transaction under a bumped epoch: the producer that held it is fenced. */
  async #abortFenced(transactionalId: string, meta: TxnMeta): Promise<boolean> {
    let next = this.#bumped(meta)
    if (next.producerId < 0) next = { ...meta, lastUpdateTimestampMs: this.#options.clock.nowMs() } // at the epoch's end: abort without a bump
    next.state = 'PrepareAbort'
    if (!(await this.#persist(transactionalId, next))) return false
    return this.#complete(transactionalId, next)
  }

  /** Writes the markers of a Prepare* transaction, then its Complete* state. False when it could not finish now. */
  async #complete(transactionalId: string, meta: TxnMeta, newProducerId = false): Promise<boolean> {
    const afterAnswers = this.#options.afterAnswers
    if (afterAnswers !== undefined) await new Promise<void>((resolve) => afterAnswers(resolve))
    const commit = meta.state === 'PrepareCommit'
    let pending = [...meta.partitions.values()]
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (this.#closed || this.#fenced || attempt >= MARKER_ATTEMPTS_MAX) return false
      if (attempt > 0) await new Promise<void>((resolve) => this.#options.clock.setTimeout(resolve, MARKER_RETRY_MS))
      const markersAtMs = phaseTrace?.now() ?? 0
      const outcome = await this.#options.writeMarkers({
        producerId: meta.producerId,
        producerEpoch: meta.producerEpoch,
        commit,
        coordinatorEpoch: this.#options.coordinatorEpoch,
        partitions: pending,
      })
      phaseTrace?.since('txn.markers', markersAtMs)
      // Fenced: the newer coordinator finishes this transaction from its own (current) state;
      // completing it here would write this one's stale state over it.
      if (outcome.fenced) {
        this.#fenced = true
        return false
      }
      pending = outcome.retry
    }
    const done: TxnMeta = { ...meta, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: new Map(), lastUpdateTimestampMs: this.#options.clock.nowMs() }
    if (newProducerId) {
      Object.assign(done, { previousProducerId: meta.producerId, lastProducerEpoch: meta.producerEpoch, producerId: -1, producerEpoch: 0 })
      return this.#persist(transactionalId, done)
    }
    return this.#holdComplete(transactionalId, done)
  }

  /**
   * Applies a Complete* state at once and holds its record for the next append (see the header),
   * never waiting for it to be durable: what is written after it is durable only once it is, and
   * if it is lost the Prepare* before it is finished again by whoever loads the log.
   */
  #holdComplete(transactionalId: string, meta: TxnMeta): boolean {
    if (this.#closed || this.#fenced) return false
    this.#txns.set(transactionalId, meta)
    // Nobody waits behind it yet: the next operation has COMPLETE_HOLD_MS to come and carry it.
    const timer = (this.#queued.get(transactionalId) ?? 0) > 0 ? null : this.#options.clock.setTimeout(() => this.#flushHeldComplete(transactionalId), COMPLETE_HOLD_MS)
    this.#heldCompletes.set(transactionalId, { meta, timer })
    return true
  }

  /** The held Complete* of `transactionalId` (if any) as the records to append ahead of the next one. */
  #takeHeldComplete(transactionalId: string): TxnRecord[] {
    const held = this.#heldCompletes.get(transactionalId)
    if (held === undefined) return []
    this.#heldCompletes.delete(transactionalId)
    if (held.timer !== null) this.#options.clock.clearTimeout(held.timer)
    return [{ transactionalId, value: valueOf(held.meta) }]
  }

  /** Appends a held Complete* that no operation took (none came, it wrote nothing, or it gave up waiting), unawaited as ever. */
  #flushHeldComplete(transactionalId: string): void {
    const records = this.#takeHeldComplete(transactionalId)
    if (records.length === 0 || this.#closed || this.#fenced) return
    this.#options.log.append(records).catch(() => {})
  }

  /** Writes the state (null: a tombstone) and applies it once durable; false when the log refused. */
  async #persist(transactionalId: string, meta: TxnMeta | null): Promise<boolean> {
    if (meta !== null && meta.producerId < 0) {
      meta = { ...meta, producerId: await this.#options.allocateProducerId() }
    }
    const value = meta === null ? null : valueOf(meta)
    if (this.#closed || this.#fenced) return false
    const appendAtMs = phaseTrace?.now() ?? 0
    try {
      await this.#options.log.append([...this.#takeHeldComplete(transactionalId), { transactionalId, value }])
      phaseTrace?.since(`txn.persist.${meta?.state ?? 'tombstone'}`, appendAtMs)
    } catch {
      return false
    }
    if (meta === null) {
      this.#txns.delete(transactionalId)
      this.#connections.delete(transactionalId)
    }
    else this.#txns.set(transactionalId, meta)
    return true
  }

  #apply(transactionalId: string, value: TxnValue | null): void {
    if (value === null) {
      this.#txns.delete(transactionalId)
      this.#connections.delete(transactionalId)
      return
    }
    const previous = this.#txns.get(transactionalId)
    this.#txns.set(transactionalId, {
      producerId: value.producerId,
      producerEpoch: value.producerEpoch,
      lastProducerEpoch: previous !== undefined && previous.producerId === value.producerId && previous.producerEpoch < value.producerEpoch ? previous.producerEpoch : -1,
      previousProducerId: -1,
      endedByBump: false,
      timeoutMs: value.timeoutMs,
      state: value.state,
      partitions: new Map(value.partitions.map((p) => [key(p), p])),
      startTimestampMs: value.startTimestampMs,
      lastUpdateTimestampMs: value.lastUpdateTimestampMs,
    })
  }

  /** Runs `fn` after every earlier operation on the same transactional id; a client's operation (`busy` given) waits at most COMPLETION_WAIT_MS. */
  #locked<T>(transactionalId: string, fn: () => Promise<T>): Promise<T>
  #locked<T>(transactionalId: string, busy: T, fn: () => Promise<T>): Promise<T>
  #locked<T>(transactionalId: string, busyOrFn: T | (() => Promise<T>), maybeFn?: () => Promise<T>): Promise<T> {
    if (maybeFn === undefined) {
      const fn = busyOrFn as () => Promise<T>
      return this.#turn(transactionalId, undefined, async () => ({ answer: await fn() }))
    }
    return this.#turn(transactionalId, busyOrFn as T, async () => ({ answer: await maybeFn() }))
  }

  /** A client's operation that may answer before it is done (#turn's `finishing`). */
  #lockedAnswering<T>(transactionalId: string, busy: T, fn: () => Promise<Turn<T>>): Promise<T> {
    return this.#turn(transactionalId, busy, fn)
  }

  /**
   * Runs `fn` after every earlier operation on the same transactional id. `fn` answers, and may go
   * on `finishing` (an EndTxn's markers and Complete*): the id's next operation begins only once
   * that settles. A client's operation (`busy` given) that has not begun within
   * COMPLETION_WAIT_MS answers `busy` (CONCURRENT_TRANSACTIONS, which clients retry) and never runs.
   */
  #turn<T>(transactionalId: string, busy: T | undefined, fn: () => Promise<Turn<T>>): Promise<T> {
    const held = this.#locks.get(transactionalId)
    const previous = held ?? Promise.resolve()
    let gaveUp = false
    let timer: TimerHandle | null = null
    const queuedAtMs = phaseTrace?.now() ?? 0
    if (held !== undefined) this.#queued.set(transactionalId, (this.#queued.get(transactionalId) ?? 0) + 1)
    const start = (): Promise<Turn<T>> => {
      if (held !== undefined) {
        const queued = this.#queued.get(transactionalId)! - 1
        if (queued > 0) this.#queued.set(transactionalId, queued)
        else this.#queued.delete(transactionalId)
      }
      if (busy !== undefined) phaseTrace?.since('txn.turnWait', queuedAtMs)
      if (timer !== null) this.#options.clock.clearTimeout(timer)
      timer = null
      const ran = gaveUp ? Promise.resolve({ answer: busy as T }) : fn()
      // A Complete* held for this operation that it did not append goes out on its own now.
      const flush = (): void => this.#flushHeldComplete(transactionalId)
      void ran.then(flush, flush)
      return ran
    }
    const run = previous.then(start, start)
    const tail = run.then((turn) => turn.finishing).catch(() => undefined)
    this.#locks.set(transactionalId, tail)
    void tail.then(() => {
      if (this.#locks.get(transactionalId) === tail) this.#locks.delete(transactionalId)
    })
    const answer = run.then((turn) => turn.answer)
    if (busy === undefined || held === undefined) return answer
    return new Promise<T>((resolve, reject) => {
      timer = this.#options.clock.setTimeout(() => {
        timer = null
        gaveUp = true
        resolve(busy)
      }, COMPLETION_WAIT_MS)
      answer.then(resolve, reject)
    })
  }
}

/** What an operation answers, and what it goes on doing that the transactional id's next operation waits for. */
interface Turn<T> {
  answer: T
  finishing?: Promise<unknown>
}

function valueOf(meta: TxnMeta): TxnValue {
  return {
    producerId: meta.producerId,
    producerEpoch: meta.producerEpoch,
    timeoutMs: meta.timeoutMs,
    state: meta.state,
    partitions: [...meta.partitions.values()],
    lastUpdateTimestampMs: meta.lastUpdateTimestampMs,
    startTimestampMs: meta.startTimestampMs,
  }
}

function isIdle(state: TxnStateName): boolean {
  return state === 'Empty' || state === 'CompleteCommit' || state === 'CompleteAbort'
}

