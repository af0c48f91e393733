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
} from '../actors/group/types.js'
import type { BrokerConfig } from '../metadata/broker-config.js'
import type { MetadataImage } from '../metadata/image.js'
import { OFFSETS_TOPIC } from '../metadata/topic-names.js'
import type { GroupOperations } from '../server/core.js'
import { decodeRecords, encodeBatch, iterateBatches } from '../records/record-batch.js'
import { decompress } from '../records/compression.js'
import type { PartitionAccess } from './local-partitions.js'
import type { GroupSnapshot } from './node-metrics.js'

/** How long a commit waits for the in-sync replicas of its __consumer_offsets partition. */
const APPEND_TIMEOUT_MS = 5_000
/** One read of a partition being loaded. */
const LOAD_READ_BYTES = 1024 * 1024
/** Pause before trying a load again (the replica may not have heard it leads yet). */
const LOAD_RETRY_MS = 50
/** Reads a load may take before it gives up and tries again from the start. */
const LOAD_READS_MAX = 1_000_000

interface Slot {
  leaderEpoch: number
  coordinator: GroupCoordinator
  /** Resolves once the partition is loaded (the coordinator then answers). */
  loaded: Promise<void>
  closed: boolean
}

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
  readonly #slots = new Map<number, Slot>()

  /** The next expired-offsets pass (offsets.retention.check.interval.ms), while any coordinator runs here. */
  #expiryTimer: TimerHandle | null = null

  constructor(deps: GroupCoordinatorsDeps) {
    this.#deps = deps
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

  /** After every metadata change: start coordinators for partitions now led here, stop the others. */
  onImage(): void {
    const topic = this.#deps.image.topics.get(OFFSETS_TOPIC)
    const led = new Map<number, number>()
    for (const p of topic?.partitions ?? []) if (p.leader === this.#deps.nodeId) led.set(p.partition, p.leaderEpoch)
    for (const [partition, slot] of this.#slots) {
      if (led.get(partition) !== slot.leaderEpoch) this.#stop(partition, slot)
    }
    for (const [partition, leaderEpoch] of led) if (!this.#slots.has(partition)) this.#start(partition, leaderEpoch)
    this.#armExpiry()
  }

  /** Resolves once every coordinator this node runs has loaded its partition. */
  async whenLoaded(): Promise<void> {
    await Promise.all([...this.#slots.values()].map((slot) => slot.loaded))
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
    for (const [partition, slot] of this.#slots) this.#stop(partition, slot)
  }

  #start(partition: number, leaderEpoch: number): void {
    const log: GroupLog = { append: (records) => this.#append(partition, records) }
    const config = this.#deps.config
    const coordinator = new GroupCoordinator({
      clock: this.#deps.clock,
      log,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    })
    const slot: Slot = { leaderEpoch, coordinator, loaded: Promise.resolve(), closed: false }
    slot.loaded = this.#load(partition, slot)
    this.#slots.set(partition, slot)
  }

  #stop(partition: number, slot: Slot): void {
    slot.closed = true
    slot.coordinator.close()
    if (this.#slots.get(partition) === slot) this.#slots.delete(partition)
  }

  /** Reads the partition from its start to its high watermark and replays every record. */
  async #load(partition: number, slot: Slot): Promise<void> {
    // Bounded: each pass either loads, stops (leadership moved), or waits and retries.
    for (let attempt = 0; !slot.closed; attempt++) {
      try {
        const records = await this.#readAll(partition, slot)
        if (slot.closed) return
        slot.coordinator.load(records)
        return
      } catch (error) {
        if (attempt % 100 === 99) this.#deps.log.warn(`loading groups of ${OFFSETS_TOPIC}-${partition} keeps failing: ${error instanceof Error ? error.message : String(error)}`)
        await new Promise<void>((resolve) => this.#deps.clock.setTimeout(resolve, LOAD_RETRY_MS))
      }
    }
  }

  async #readAll(partition: number, slot: Slot): Promise<GroupRecord[]> {
    const records: GroupRecord[] = []
    const start = await this.#partitions().request(OFFSETS_TOPIC, partition, { op: 'listOffsets', timestamp: -2 })
    if (start.message.errorCode !== ErrorCode.NONE) throw new KafkaError(start.message.errorCode, 'not ready to load')
    let offset = start.message.offset
    for (let reads = 0; reads < LOAD_READS_MAX && !slot.closed; reads++) {
      const reply = await this.#partitions().request(
        OFFSETS_TOPIC,
        partition,
        { op: 'fetch', fetchId: -1, replicaId: -1, fetchOffset: offset, maxBytes: LOAD_READ_BYTES, maxWaitMs: 0, minBytes: 0, currentLeaderEpoch: slot.leaderEpoch },
      )
      const result = reply.message
      if (result.errorCode !== ErrorCode.NONE) throw new KafkaError(result.errorCode, `reading ${OFFSETS_TOPIC}-${partition} at ${offset}`)
      const bytes = reply.payload
      if (bytes === undefined || bytes.length === 0) {
        if (offset >= result.highWatermark) return records
        throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `no records below the high watermark at ${offset}`)
      }
      for (const { pos, size } of iterateBatches(bytes)) {
        for (const record of decodeRecords(bytes.subarray(pos, pos + size), 0, decompress)) {
          if (record.offset < offset || record.key === null) continue
          const decoded = decodeRecord(record.key, record.value)
          if (decoded !== null) records.push(decoded)
          offset = record.offset + 1
        }
      }
      if (offset >= result.highWatermark) return records
    }
    throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'load stopped')
  }

  async #append(partition: number, records: GroupRecord[]): Promise<void> {
    const nowMs = this.#deps.clock.nowMs()
    const batch = encodeBatch({ baseTimestamp: nowMs, records: records.map((r) => ({ key: encodeKey(r), value: encodeValue(r) })) })
    const reply = await this.#partitions().request(OFFSETS_TOPIC, partition, { op: 'produce', acks: -1, timeoutMs: APPEND_TIMEOUT_MS }, batch)
    if (reply.message.errorCode !== ErrorCode.NONE) throw new KafkaError(reply.message.errorCode, reply.message.errorMessage ?? undefined)
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
    const known = partitions.filter((p) => this.#deps.image.partition(p.topic, p.partition) !== undefined)
    const answer = await c.deleteOffsets(groupId, known)
    if (answer.errorCode !== ErrorCode.NONE) return answer
    let next = 0
    return {
      errorCode: ErrorCode.NONE,
      partitions: partitions.map((p) =>
        this.#deps.image.partition(p.topic, p.partition) !== undefined ? answer.partitions[next++] : { ...p, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ),
    }
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
