/**
 * The group coordinators a broker node runs (on its shard's thread): one per partition of
 * `__consumer_offsets` that this broker leads, as Kafka places them. When the metadata image says
 * this broker has become a partition's leader, its coordinator loads the partition's records
 * (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and serves its groups; when leadership moves away, the
 * coordinator closes and its members find the new one (NOT_COORDINATOR). Records are written to
 * the partition through the local replica with acks=all, so a commit is acknowledged only once
 * every in-sync replica holds it.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import type { Clock, TimerHandle } from '../common/clock.js'
import { GroupCoordinator, type GroupLog } from '../actors/group-coordinator.js'
import { decodeRecord, encodeKey, encodeValue, groupPartition, type GroupRecord } from '../actors/group/group-records.js'
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
  OffsetDeleteResult,
  TxnOffsetCommitRequest,
} from '../actors/group/types.js'
import type { BrokerConfig } from '../metadata/broker-config.js'
import type { MetadataImage } from '../metadata/image.js'
import { OFFSETS_TOPIC } from '../metadata/topic-names.js'
import type { GroupOperations } from '../server/core.js'
import { decodeTxnMarker } from '../records/control-batch.js'
import { isControlBatch, TRANSACTIONAL_BIT } from '../records/record-batch.js'
import { CoordinatorSlots, type CoordinatorSlot } from './coordinator-slots.js'
import { appendInternal, readInternalPartition } from './internal-log.js'
import type { PartitionAccess } from './local-partitions.js'
import type { TxnVerification } from './txn-verification.js'
import type { GroupSnapshot } from './node-metrics.js'

/** How long a commit waits for the in-sync replicas of its __consumer_offsets partition. */
const APPEND_TIMEOUT_MS = 5_000

type Slot = CoordinatorSlot<GroupCoordinator>

export interface GroupCoordinatorsDeps {
  nodeId: number
  config: BrokerConfig
  image: MetadataImage
  clock: Clock
  partitions: PartitionAccess
  log: { warn(message: string): void }
}

export class GroupCoordinators implements GroupOperations {
  readonly #deps: GroupCoordinatorsDeps
  readonly #slots: CoordinatorSlots<GroupCoordinator>

  /** The next expired-offsets pass (offsets.retention.check.interval.ms), while any coordinator runs here. */
  #expiryTimer: TimerHandle | null = null

  constructor(deps: GroupCoordinatorsDeps) {
    this.#deps = deps
    this.#slots = new CoordinatorSlots({
      topic: OFFSETS_TOPIC,
      nodeId: deps.nodeId,
      image: deps.image,
      clock: deps.clock,
      log: deps.log,
      contents: 'groups',
      create: (partition) => this.#create(partition),
      load: (slot) => this.#load(slot),
    })
  }

  /** Looks for expired offsets in every group this node coordinates; returns how many expired. */
  async expireOffsets(): Promise<number> {
    let expired = 0
    for (const slot of this.#slots.values()) expired += await slot.coordinator.expireOffsets()
    return expired
  }

  #armExpiry(): void {
    if (this.#expiryTimer !== null || this.#slots.size === 0) return
    this.#expiryTimer = this.#deps.clock.setTimeout(() => {
      this.#expiryTimer = null
      void this.expireOffsets()
        .catch((error: unknown) => this.#deps.log.warn(`offset expiry failed: ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => this.#armExpiry())
    }, this.#deps.config.offsetsRetentionCheckIntervalMs)
  }

  /** The partition of __consumer_offsets that holds `groupId`. */
  partitionOf(groupId: string): number {
    const topic = this.#deps.image.topics.get(OFFSETS_TOPIC)
    return groupPartition(groupId, topic?.partitions.length ?? this.#deps.config.offsetsTopicNumPartitions)
  }

  /**
   * After every metadata change: drop offsets of `removedTopics` (deleted, or replaced under a new
   * id: MetadataImage.apply), start coordinators for partitions now led here, stop the others.
   */
  onImage(removedTopics: readonly string[] = []): void {
    if (removedTopics.length > 0) this.#dropTopicOffsets(new Set(removedTopics))
    this.#slots.follow()
    this.#armExpiry()
  }

  /** Every coordinator here drops its groups' offsets of topics deleted (or deleted and created again). */
  #dropTopicOffsets(gone: ReadonlySet<string>): void {
    for (const slot of this.#slots.values()) void slot.coordinator.dropTopicOffsets((topic) => gone.has(topic))
  }

  /** Resolves once every coordinator this node runs has loaded its partition. */
  async whenLoaded(): Promise<void> {
    await this.#slots.whenLoaded()
  }

  /** Every loaded group this node coordinates, with its committed offsets (for metrics and status). */
  snapshot(): GroupSnapshot[] {
    const groups: GroupSnapshot[] = []
    for (const slot of this.#slots.values()) {
      if (!slot.coordinator.isOpen) continue
      for (const listed of slot.coordinator.listGroups().groups) {
        const [described] = slot.coordinator.describeGroups([listed.groupId])
        const offsets = slot.coordinator
          .fetchOffsets({ groupId: listed.groupId, topics: null })
          .topics.flatMap((t) => t.partitions.filter((p) => p.offset >= 0).map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })))
        groups.push({ group: listed.groupId, state: listed.groupState, members: described?.members.length ?? 0, offsets })
      }
    }
    return groups
  }

  close(): void {
    if (this.#expiryTimer !== null) this.#deps.clock.clearTimeout(this.#expiryTimer)
    this.#expiryTimer = null
    this.#slots.close()
  }

  #create(partition: number): GroupCoordinator {
    const log: GroupLog = { append: (records, txn) => this.#append(partition, records, txn) }
    const config = this.#deps.config
    return new GroupCoordinator({
      clock: this.#deps.clock,
      log,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    })
  }

  /** Reads the partition from its start to its high watermark and replays every record. */
  async #load(slot: Slot): Promise<void> {
    const { records, pending } = await this.#readAll(slot)
    if (slot.closed) return
    slot.coordinator.load(records, pending)
    // Offsets of topics deleted while their tombstones could not be written (or before this load).
    await slot.coordinator.dropTopicOffsets((topic) => !this.#deps.image.topics.has(topic))
  }

  /**
   * The partition's records in log order, as the coordinator applies them. Transactional offset
   * commits (TxnOffsetCommit) count only once their producer's COMMIT marker follows; an ABORT
   * drops them; those still undecided come back as `pending`, to be settled by a later marker.
   */
  async #readAll(slot: Slot): Promise<{ records: GroupRecord[]; pending: Map<number, GroupRecord[]> }> {
    const records: GroupRecord[] = []
    const pending = new Map<number, GroupRecord[]>()
    await readInternalPartition(this.#partitions(), OFFSETS_TOPIC, slot.partition, slot.leaderEpoch, () => slot.closed, (header, batchRecords, batch) => {
      if (isControlBatch(header.attributes)) {
        const marker = decodeTxnMarker(batch, 0)
        const held = pending.get(header.producerId)
        pending.delete(header.producerId)
        if (marker?.commit === true && held !== undefined) records.push(...held)
        return
      }
      const transactional = (header.attributes & TRANSACTIONAL_BIT) !== 0
      for (const record of batchRecords) {
        if (record.key === null) continue
        const decoded = decodeRecord(record.key, record.value)
        if (decoded === null) continue
        if (!transactional) records.push(decoded)
        else (pending.get(header.producerId) ?? pending.set(header.producerId, []).get(header.producerId)!).push(decoded)
      }
    })
    return { records, pending }
  }

  async #append(partition: number, records: GroupRecord[], txn?: { producerId: number; producerEpoch: number }): Promise<void> {
    const entries = records.map((r) => ({ key: encodeKey(r), value: encodeValue(r) }))
    await appendInternal(this.#partitions(), OFFSETS_TOPIC, partition, entries, this.#deps.clock.nowMs(), { timeoutMs: APPEND_TIMEOUT_MS, txn })
  }

  /**
   * A transaction marker was written to `partition` of __consumer_offsets (this node leads it):
   * the producer's pending transactional offsets there become committed, or are dropped.
   */
  completeTxn(partition: number, producerId: number, commit: boolean): void {
    const slot = this.#slots.get(partition)
    if (slot === undefined || !slot.coordinator.isOpen) return
    slot.coordinator.completeTxn(producerId, commit)
  }

  #partitions(): PartitionAccess {
    return this.#deps.partitions
  }

  /**
   * The coordinator of a group if this node runs it and has loaded it, else the error a client
   * must see: NOT_COORDINATOR (look again), COORDINATOR_LOAD_IN_PROGRESS (retry shortly).
   */
  async #route(groupId: string): Promise<GroupCoordinator | number> {
    if (!this.#deps.image.topics.has(OFFSETS_TOPIC)) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    const slot = this.#slots.get(this.partitionOf(groupId))
    if (slot === undefined) return ErrorCode.NOT_COORDINATOR
    if (!slot.coordinator.isOpen) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    return slot.coordinator
  }

  // ---- GroupApi: each call goes to the group's coordinator, or answers why it cannot ----------

  async joinGroup(request: JoinGroupRequest): Promise<JoinGroupResponse> {
    const c = await this.#route(request.groupId)
    if (typeof c === 'number') return { errorCode: c, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: request.memberId, members: [] }
    return c.joinGroup(request)
  }

  async syncGroup(request: SyncGroupRequest): Promise<SyncGroupResponse> {
    const c = await this.#route(request.groupId)
    if (typeof c === 'number') return { errorCode: c, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) }
    return c.syncGroup(request)
  }

  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse> {
    const c = await this.#route(request.groupId)
    return typeof c === 'number' ? { errorCode: c } : c.heartbeat(request)
  }

  async leaveGroup(request: LeaveGroupRequest): Promise<LeaveGroupResponse> {
    const c = await this.#route(request.groupId)
    return typeof c === 'number' ? { errorCode: c, members: [] } : c.leaveGroup(request)
  }

  /**
   * A partition this node's image does not know gets UNKNOWN_TOPIC_OR_PARTITION and is not stored,
   * as Kafka's KafkaApis answers before the coordinator sees the request; the rest go on.
   */
  async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    const isKnown = request.offsets.map((o) => this.#deps.image.partition(o.topic, o.partition) !== undefined)
    const known = request.offsets.filter((_, i) => isKnown[i])
    const c = await this.#route(request.groupId)
    let answers: OffsetCommitPartitionResult[]
    if (typeof c === 'number') answers = known.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: c }))
    else answers = known.length > 0 ? await c.commitOffsets({ ...request, offsets: known }) : []
    // The coordinator answers its offsets in the order given, so answers line up with `known`.
    let next = 0
    return request.offsets.map((o, i) =>
      isKnown[i] ? answers[next++] : { topic: o.topic, partition: o.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    )
  }

  /** OffsetDelete: partitions this node's image does not know answer UNKNOWN_TOPIC_OR_PARTITION, as in Kafka. */
  async deleteOffsets(groupId: string, partitions: Array<{ topic: string; partition: number }>): Promise<OffsetDeleteResult> {
    const c = await this.#route(groupId)
    if (typeof c === 'number') return { errorCode: c, partitions: [] }
    // Looked up once: the image may change while the coordinator writes its tombstones (a topic
    // created or deleted meanwhile), and the answers must line up with what was asked of it. Looking
    // again afterwards answered a partition created meanwhile with an answer that did not exist,
    // and the handler threw (found by the fuzzer: OffsetDelete v0 "failed in the broker").
    const isKnown = partitions.map((p) => this.#deps.image.partition(p.topic, p.partition) !== undefined)
    const answer = await c.deleteOffsets(groupId, partitions.filter((_, i) => isKnown[i]))
    if (answer.errorCode !== ErrorCode.NONE) return answer
    let next = 0
    return {
      errorCode: ErrorCode.NONE,
      partitions: partitions.map((p, i) => (isKnown[i] ? answer.partitions[next++] : { ...p, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })),
    }
  }

  /**
   * TxnOffsetCommit: offsets written now, visible once the producer's transaction commits. Written
   * only once the transaction coordinator confirms the group's partition of __consumer_offsets is
   * in the producer's transaction (AddOffsetsToTxn put it there; txn-verification.ts), as Kafka
   * verifies since KIP-890: an unannounced write would open a transaction no marker ends, whose
   * offsets would stay pending for good.
   */
  async commitTxnOffsets(request: TxnOffsetCommitRequest, verification: TxnVerification): Promise<OffsetCommitPartitionResult[]> {
    const isKnown = request.offsets.map((o) => this.#deps.image.partition(o.topic, o.partition) !== undefined)
    const known = request.offsets.filter((_, i) => isKnown[i])
    const c = await this.#route(request.groupId)
    const refuse = (errorCode: number): OffsetCommitPartitionResult[] => known.map((o) => ({ topic: o.topic, partition: o.partition, errorCode }))
    let answers: OffsetCommitPartitionResult[]
    if (typeof c === 'number') answers = refuse(c)
    else if (known.length === 0) answers = []
    else {
      const { transactionalId, producerId, producerEpoch } = request
      const appended = await verification.appendAdmitted(transactionalId, producerId, producerEpoch, OFFSETS_TOPIC, this.partitionOf(request.groupId), () =>
        c.commitTxnOffsets({ ...request, offsets: known }),
      )
      answers = typeof appended === 'number' ? refuse(appended) : appended
    }
    let next = 0
    return request.offsets.map((o, i) =>
      isKnown[i] ? answers[next++] : { topic: o.topic, partition: o.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    )
  }

  async fetchOffsets(request: OffsetFetchRequest): Promise<OffsetFetchResponse> {
    const c = await this.#route(request.groupId)
    return typeof c === 'number' ? { errorCode: c, topics: [] } : c.fetchOffsets(request)
  }

  async describeGroups(groupIds: string[]): Promise<DescribedGroup[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const c = await this.#route(groupId)
        if (typeof c === 'number') return { errorCode: c, groupId, groupState: 'Dead' as const, protocolType: '', protocolData: '', members: [] }
        return c.describeGroups([groupId])[0]
      }),
    )
  }

  async listGroups(request: ListGroupsRequest): Promise<ListGroupsResponse> {
    const groups: ListGroupsResponse['groups'] = []
    for (const slot of this.#slots.values()) {
      if (!slot.coordinator.isOpen) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groups: [] }
      groups.push(...slot.coordinator.listGroups(request).groups)
    }
    return { errorCode: ErrorCode.NONE, groups }
  }

  async deleteGroups(groupIds: string[]): Promise<DeleteGroupResult[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const c = await this.#route(groupId)
        if (typeof c === 'number') return { groupId, errorCode: c }
        const [result] = await c.deleteGroups([groupId])
        return result
      }),
    )
  }
}
