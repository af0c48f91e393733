/**
 * The transaction coordinators a broker node runs (on its shard's thread): one per partition of
 * `__transaction_state` this broker leads, placed and moved exactly as the group coordinators of
 * `__consumer_offsets` are (see group-coordinators.ts). A coordinator loads its partition when
 * this broker becomes its leader (COORDINATOR_LOAD_IN_PROGRESS meanwhile), writes each state
 * change with acks=all, and stops when leadership moves (NOT_COORDINATOR). Markers go to each
 * partition's leader: this node's own replicas directly, other brokers' through their node actor.
 */
import { ErrorCode } from '../common/error-codes.js'
import type { Clock } from '../common/clock.js'
import { groupPartition } from '../actors/group/group-records.js'
import { type DescribedTxn, type EndTxnAnswer, type InitProducerIdAnswer, type ListedTxn, TxnCoordinator, type TxnMarkersOutcome, type TxnMarkerWrite } from '../actors/txn-coordinator.js'
import { decodeTxnRecord, encodeTxnKey, encodeTxnValue, type TxnPartition, type TxnRecord } from '../actors/txn/txn-records.js'
import type { BrokerConfig } from '../metadata/broker-config.js'
import type { MetadataImage } from '../metadata/image.js'
import { TXN_STATE_TOPIC } from '../metadata/topic-names.js'
import { CoordinatorSlots, type CoordinatorSlot } from './coordinator-slots.js'
import { appendInternal, readInternalPartition } from './internal-log.js'
import type { PartitionAccess } from './local-partitions.js'
import type { TxnMarkerEntry, TxnMarkerResult, TxnOperations } from '../server/core.js'

/** How long a state change waits for the in-sync replicas of its __transaction_state partition. */
const APPEND_TIMEOUT_MS = 5_000

export interface TxnCoordinatorsDeps {
  nodeId: number
  config: BrokerConfig
  image: MetadataImage
  clock: Clock
  partitions: PartitionAccess
  log: { warn(message: string): void }
  allocateProducerId(): Promise<number>
  /** Writes markers at broker `brokerId` (this node's own core when it is this node). */
  sendMarkers(brokerId: number, markers: TxnMarkerEntry[]): Promise<TxnMarkerResult[]>
  /** Asks broker `brokerId`'s coordinators to verify (never this node: it answers itself). */
  verifyAt(brokerId: number, request: TxnVerifyRequest): Promise<number>
}

/** A transactional write to verify (KIP-890 part 1): is `partition` in this producer's open transaction? */
export interface TxnVerifyRequest {
  transactionalId: string
  producerId: number
  producerEpoch: number
  partition: TxnPartition
}

/** What a transaction API answers when this node does not (yet) serve the transactional id. */
export type TxnRoute = TxnCoordinator | number

export class TxnCoordinators implements TxnOperations {
  readonly #deps: TxnCoordinatorsDeps
  readonly #slots: CoordinatorSlots<TxnCoordinator>

  constructor(deps: TxnCoordinatorsDeps) {
    this.#deps = deps
    this.#slots = new CoordinatorSlots({
      topic: TXN_STATE_TOPIC,
      nodeId: deps.nodeId,
      image: deps.image,
      clock: deps.clock,
      log: deps.log,
      contents: 'transactions',
      create: (partition, leaderEpoch) => this.#create(partition, leaderEpoch),
      load: (slot) => this.#load(slot),
    })
  }

  /** The partition of __transaction_state that holds `transactionalId` (Kafka's placement, as for groups). */
  partitionOf(transactionalId: string): number {
    const topic = this.#deps.image.topics.get(TXN_STATE_TOPIC)
    return groupPartition(transactionalId, topic?.partitions.length ?? this.#deps.config.transactionStateLogNumPartitions)
  }

  /** After every metadata change: start coordinators for partitions now led here, stop the others. */
  onImage(): void {
    this.#slots.follow()
  }

  async whenLoaded(): Promise<void> {
    await this.#slots.whenLoaded()
  }

  close(): void {
    this.#slots.close()
  }

  /** The coordinator of `transactionalId` when this node runs it and has loaded it, else the code a client must see. */
  route(transactionalId: string): TxnRoute {
    if (!this.#deps.image.topics.has(TXN_STATE_TOPIC)) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    const slot = this.#slots.get(this.partitionOf(transactionalId))
    if (slot === undefined || slot.coordinator.fenced) return ErrorCode.NOT_COORDINATOR
    if (!slot.coordinator.isOpen) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    return slot.coordinator
  }

  /** Kafka's order: an empty id is INVALID_REQUEST, a timeout outside (0, max] INVALID_TRANSACTION_TIMEOUT, then the coordinator is looked for. */
  async initProducerId(transactionalId: string, timeoutMs: number, producerId: number, producerEpoch: number): Promise<InitProducerIdAnswer> {
    if (transactionalId === '') return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 }
    if (timeoutMs <= 0 || timeoutMs > this.#deps.config.transactionMaxTimeoutMs) return { errorCode: ErrorCode.INVALID_TRANSACTION_TIMEOUT, producerId: -1, producerEpoch: -1 }
    const c = this.route(transactionalId)
    if (typeof c === 'number') return { errorCode: c, producerId: -1, producerEpoch: -1 }
    return c.initProducerId(transactionalId, timeoutMs, producerId, producerEpoch)
  }

  async addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnPartition[], connection?: number): Promise<number> {
    const c = this.route(transactionalId)
    return typeof c === 'number' ? c : c.addPartitions(transactionalId, producerId, producerEpoch, partitions, connection)
  }

  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, connection?: number): Promise<number> {
    const c = this.route(transactionalId)
    return typeof c === 'number' ? c : c.endTxn(transactionalId, producerId, producerEpoch, commit, connection)
  }

  async endTxnBumpingEpoch(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<EndTxnAnswer> {
    const c = this.route(transactionalId)
    return typeof c === 'number' ? { errorCode: c, producerId: -1, producerEpoch: -1 } : c.endTxnBumpingEpoch(transactionalId, producerId, producerEpoch, commit)
  }

  /** This node's answer to a verification; a coordinator elsewhere or loading answers why not. */
  verify(request: TxnVerifyRequest): number {
    if (request.transactionalId === '') return ErrorCode.INVALID_REQUEST
    const c = this.route(request.transactionalId)
    return typeof c === 'number' ? c : c.verify(request.transactionalId, request.producerId, request.producerEpoch, request.partition)
  }

  /**
   * Verifies at whichever broker coordinates the transactional id (this one, or across shards to
   * that broker's node). A fenced epoch comes back as INVALID_PRODUCER_EPOCH, the code producers
   * expect for it here, as Kafka's verifying broker maps it.
   */
  async verifyAnywhere(request: TxnVerifyRequest): Promise<number> {
    if (request.transactionalId === '') return ErrorCode.INVALID_REQUEST
    const state = this.#deps.image.partition(TXN_STATE_TOPIC, this.partitionOf(request.transactionalId))
    if (state === undefined || state.leader < 0 || !this.#deps.image.isLive(state.leader)) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    let code: number
    try {
      code = state.leader === this.#deps.nodeId ? this.verify(request) : await this.#deps.verifyAt(state.leader, request)
    } catch {
      code = ErrorCode.COORDINATOR_NOT_AVAILABLE
    }
    return code === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : code
  }

  describe(transactionalIds: string[]): DescribedTxn[] {
    return transactionalIds.map((id) => {
      const c = this.route(id)
      if (typeof c !== 'number') return c.describe(id)
      return { transactionalId: id, errorCode: c, state: '', timeoutMs: 0, startTimestampMs: -1, producerId: -1, producerEpoch: -1, partitions: [] }
    })
  }

  /** Every transaction this node coordinates; a coordinator still loading answers COORDINATOR_LOAD_IN_PROGRESS. */
  list(): { errorCode: number; transactions: ListedTxn[] } {
    const transactions: ListedTxn[] = []
    for (const slot of this.#slots.values()) {
      if (!slot.coordinator.isOpen) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, transactions: [] }
      transactions.push(...slot.coordinator.list())
    }
    return { errorCode: ErrorCode.NONE, transactions }
  }

  #create(partition: number, leaderEpoch: number): TxnCoordinator {
    const config = this.#deps.config
    return new TxnCoordinator({
      clock: this.#deps.clock,
      log: { append: (records) => this.#append(partition, leaderEpoch, records) },
      allocateProducerId: () => this.#deps.allocateProducerId(),
      writeMarkers: (write) => this.#writeMarkers(write),
      coordinatorEpoch: leaderEpoch,
      maxTimeoutMs: config.transactionMaxTimeoutMs,
      idExpirationMs: config.transactionalIdExpirationMs,
      abortCheckIntervalMs: config.transactionAbortTimedOutCleanupIntervalMs,
      afterAnswers: (run) => void setImmediate(run),
    })
  }

  /** Reads the partition from its start to its high watermark and replays every state change. */
  async #load(slot: CoordinatorSlot<TxnCoordinator>): Promise<void> {
    const records: TxnRecord[] = []
    await readInternalPartition(this.#deps.partitions, TXN_STATE_TOPIC, slot.partition, slot.leaderEpoch, () => slot.closed, (_header, batch) => {
      for (const r of batch) {
        if (r.key === null) continue
        const decoded = decodeTxnRecord(r.key, r.value)
        if (decoded !== null) records.push(decoded)
      }
    })
    if (slot.closed) return
    slot.coordinator.load(records)
  }

  /** Under the leader epoch the coordinator loaded at: a coordinator that moved cannot write stale state. */
  async #append(partition: number, leaderEpoch: number, records: TxnRecord[]): Promise<void> {
    const entries = records.map((r) => ({ key: encodeTxnKey(r.transactionalId), value: encodeTxnValue(r.value) }))
    await appendInternal(this.#deps.partitions, TXN_STATE_TOPIC, partition, entries, this.#deps.clock.nowMs(), { timeoutMs: APPEND_TIMEOUT_MS, leaderEpoch })
  }

  /** Sends each partition's marker to its leader; answers the partitions that failed (to retry), and whether a partition fenced this coordinator. */
  async #writeMarkers(write: TxnMarkerWrite): Promise<TxnMarkersOutcome> {
    const byLeader = new Map<number, TxnPartition[]>()
    const failed: TxnPartition[] = []
    let fenced = false
    for (const p of write.partitions) {
      const state = this.#deps.image.partition(p.topic, p.partition)
      if (state === undefined) continue // the topic was deleted: nothing is left to mark, as in Kafka
      if (state.leader < 0 || !this.#deps.image.isLive(state.leader)) {
        failed.push(p)
        continue
      }
      const list = byLeader.get(state.leader)
      if (list === undefined) byLeader.set(state.leader, [p])
      else list.push(p)
    }
    await Promise.all(
      [...byLeader].map(async ([brokerId, partitions]) => {
        const entry: TxnMarkerEntry = { producerId: write.producerId, producerEpoch: write.producerEpoch, coordinatorEpoch: write.coordinatorEpoch, commit: write.commit, partitions }
        try {
          const [result] = await this.#deps.sendMarkers(brokerId, [entry])
          for (const p of result?.partitions ?? partitions.map((q) => ({ ...q, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR }))) {
            // A marker refused for a stale epoch was superseded by a newer one: nothing to retry.
            // One refused for a stale coordinator epoch: a newer coordinator owns the transaction now.
            if (p.errorCode === ErrorCode.TRANSACTION_COORDINATOR_FENCED) fenced = true
            else if (p.errorCode !== ErrorCode.NONE && p.errorCode !== ErrorCode.INVALID_PRODUCER_EPOCH) failed.push({ topic: p.topic, partition: p.partition })
          }
        } catch {
          failed.push(...partitions)
        }
      }),
    )
    return { retry: failed, fenced }
  }
}
