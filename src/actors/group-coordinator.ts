/**
 * The consumer group coordinator: Kafka's classic GroupCoordinator for the groups of one
 * partition of `__consumer_offsets`. It lives on the shard of the broker that leads that
 * partition (one instance per partition led), and moves with its leadership. No sockets and no
 * codec: the TCP handlers map JoinGroup/SyncGroup/Heartbeat/LeaveGroup/OffsetCommit/OffsetFetch/
 * DescribeGroups/ListGroups/DeleteGroups onto these methods. Every timer goes through the
 * injected Clock.
 *
 * Group states and transitions follow Kafka: Empty -> PreparingRebalance (members join) ->
 * CompletingRebalance (generation bumped, leader computes assignments) -> Stable (assignments
 * handed out); a join, leave or session expiry sends a Stable group back to PreparingRebalance.
 * Committed offsets and group metadata (members and assignments included) are written to the
 * partition in Kafka's record formats (group/group-records.ts) and acknowledged once replicated;
 * a coordinator that takes over loads them, so members of a Stable group carry on heartbeating
 * with their ids, as they do when a Kafka coordinator moves.
 */
import { randomUUID } from 'node:crypto'
import { assert } from '../common/assert.js'
import type { Clock } from '../common/clock.js'
import { ErrorCode } from '../common/error-codes.js'
import { ownedBytes } from '../common/owned-bytes.js'
import { timerDelayMs } from '../common/timers.js'
import { Group, type CommittedOffset, type Member } from './group/group.js'
import { NewestConnections } from './txn/newest-connections.js'
import { subscribedTopics } from './group/consumer-subscription.js'
import type { GroupRecord, GroupValue } from './group/group-records.js'
import type {
  DeleteGroupResult,
  DescribedGroup,
  GroupCoordinatorOptions,
  GroupProtocol,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupMemberResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  OffsetCommitPartitionResult,
  OffsetCommitRequest,
  TxnOffsetCommitRequest,
  OffsetFetchRequest,
  OffsetFetchResponse,
  OffsetFetchTopicResult,
  SyncGroupRequest,
  SyncGroupResponse,
  OffsetDeleteResult,
} from './group/types.js'

export * from './group/types.js'

const defaults = {
  initialRebalanceDelayMs: 3_000,
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  groupMaxSize: 2_147_483_647,
  offsetMetadataMaxBytes: 4_096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
}

/**
 * Where a coordinator keeps its records: its partition of __consumer_offsets. An append resolves
 * once the records are replicated (acks=all) and rejects when they could not be, for instance
 * because this broker no longer leads the partition.
 */
export interface GroupLog {
  /** `txn`: one transactional batch of that producer (TxnOffsetCommit), pending until its marker. */
  append(records: GroupRecord[], txn?: { producerId: number; producerEpoch: number }): Promise<void>
}

/**
 * The rebalance timeout a member gets. Kafka checks only the session timeout (against
 * group.min/max.session.timeout.ms, INVALID_SESSION_TIMEOUT otherwise) and takes the rebalance
 * timeout as sent; any int32 above 0 fits a timer as it is. One of 0 or below (a v1+ client that
 * left the field at its -1 default) would end every rebalance at once, so the session timeout
 * stands in for it, as it does for v0, which has no rebalance timeout at all.
 */
function rebalanceTimeoutOf(request: JoinGroupRequest): number {
  return request.rebalanceTimeoutMs > 0 ? timerDelayMs(request.rebalanceTimeoutMs) : request.sessionTimeoutMs
}

/** The protocols of a JoinGroup, with metadata the member state owns (see ownedBytes). */
function ownedProtocols(protocols: GroupProtocol[]): GroupProtocol[] {
  return protocols.map((p) => ({ name: p.name, metadata: ownedBytes(p.metadata) }))
}

function joinError(errorCode: number, memberId: string): JoinGroupResponse {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] }
}

function syncError(errorCode: number): SyncGroupResponse {
  return { errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) }
}

export class GroupCoordinator {
  readonly #clock: Clock
  readonly #config: typeof defaults
  readonly #log: GroupLog
  readonly #groups = new Map<string, Group>()
  /** Transactional offsets written but not yet decided, per producer id, in log order. */
  readonly #pendingTxnOffsets = new Map<number, GroupRecord[]>()
  /**
   * The newest connection each producer's pending offsets came on, under its epoch (see
   * commitTxnOffsets); kept while the producer has pending offsets here, so one per open transaction.
   */
  readonly #txnOffsetConnections = new NewestConnections<number>()
  #isOpen = false

  constructor(options: GroupCoordinatorOptions & { log: GroupLog }) {
    this.#clock = options.clock
    this.#config = {
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? defaults.initialRebalanceDelayMs,
      minSessionTimeoutMs: options.minSessionTimeoutMs ?? defaults.minSessionTimeoutMs,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? defaults.maxSessionTimeoutMs,
      groupMaxSize: options.groupMaxSize ?? defaults.groupMaxSize,
      offsetMetadataMaxBytes: options.offsetMetadataMaxBytes ?? defaults.offsetMetadataMaxBytes,
      offsetsRetentionMs: options.offsetsRetentionMs ?? defaults.offsetsRetentionMs,
    }
    this.#log = options.log
  }

  /**
   * Replays the partition's records, oldest first (later records win, tombstones remove), then
   * starts answering requests; members of restored groups get a fresh session to heartbeat in.
   */
  load(records: Iterable<GroupRecord>, pendingTxnOffsets: ReadonlyMap<number, GroupRecord[]> = new Map()): void {
    assert(!this.#isOpen, 'group coordinator loaded twice')
    for (const record of records) this.#replay(record)
    for (const [producerId, pending] of pendingTxnOffsets) this.#pendingTxnOffsets.set(producerId, [...pending])
    for (const group of this.#groups.values()) for (const member of group.members.values()) this.#scheduleSessionExpiry(group, member)
    this.#isOpen = true
  }

  get isOpen(): boolean {
    return this.#isOpen
  }

  /**
   * Stops every timer and answers every waiting JoinGroup/SyncGroup with NOT_COORDINATOR (clients
   * then look for the coordinator again): this broker no longer leads the partition.
   */
  close(): void {
    if (!this.#isOpen) return
    this.#isOpen = false
    for (const group of this.#groups.values()) {
      this.#clearGroupTimers(group)
      for (const member of group.members.values()) {
        member.joinWaiter?.(joinError(ErrorCode.NOT_COORDINATOR, member.memberId))
        member.joinWaiter = null
        member.syncWaiter?.(syncError(ErrorCode.NOT_COORDINATOR))
        member.syncWaiter = null
      }
    }
    this.#groups.clear()
  }

  // ---------------------------------------------------------------- JoinGroup

  /** Resolves when the rebalance this join takes part in completes (or at once with an error). */
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResponse> {
    const fail = (errorCode: number, memberId = request.memberId): Promise<JoinGroupResponse> => Promise.resolve(joinError(errorCode, memberId))
    if (!this.#isOpen) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID)
    // Kafka's GroupCoordinator refuses a session timeout outside group.min/max.session.timeout.ms
    // (so -1, 0 and 2^31-1 alike) before anything else about the member; the bounds keep every
    // session timer within what a timer holds.
    if (request.sessionTimeoutMs < this.#config.minSessionTimeoutMs || request.sessionTimeoutMs > this.#config.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
    }
    const isUnknownMember = request.memberId === ''
    let group = this.#groups.get(request.groupId)
    if (group === undefined) {
      if (!isUnknownMember) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
      group = new Group(request.groupId)
      this.#groups.set(request.groupId, group)
    }
    if (!this.#acceptJoiningMember(group, request)) {
      const member = group.members.get(request.memberId)
      if (member !== undefined) this.#removeMemberAndUpdateGroup(group, member)
      this.#dropIfUnused(group)
      return fail(ErrorCode.GROUP_MAX_SIZE_REACHED)
    }
    const target = group
    return new Promise<JoinGroupResponse>((resolve) => {
      if (isUnknownMember) this.#newMemberJoin(target, request, resolve)
      else this.#currentMemberJoin(target, request, resolve)
      if (target.state === 'PreparingRebalance') this.#tryCompleteJoin(target)
      this.#dropIfUnused(target)
    })
  }

  // Kafka's acceptJoiningMember: while preparing, count members that already rejoined.
  #acceptJoiningMember(group: Group, request: JoinGroupRequest): boolean {
    const max = this.#config.groupMaxSize
    const member = group.members.get(request.memberId)
    const instanceId = request.groupInstanceId ?? null
    if (instanceId !== null && group.staticMembers.has(instanceId)) return true
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true
      case 'PreparingRebalance':
        return (member !== undefined && member.joinWaiter !== null) || group.numMembersAwaitingJoin() < max
      default:
        return member !== undefined || group.members.size < max
    }
  }

  #newMemberJoin(group: Group, request: JoinGroupRequest, resolve: (response: JoinGroupResponse) => void): void {
    if (group.state === 'Dead') return resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, ''))
    if (!group.supportsProtocols(request.protocolType, request.protocols, '')) {
      return resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ''))
    }
    const instanceId = request.groupInstanceId ?? null
    const memberId = `${instanceId ?? request.clientId}-${randomUUID()}`
    if (instanceId !== null) {
      const oldId = group.staticMembers.get(instanceId)
      const old = oldId === undefined ? undefined : group.members.get(oldId)
      if (old !== undefined) return this.#replaceStaticMember(group, old, request, memberId, resolve)
      return this.#addMemberAndRebalance(group, request, memberId, resolve)
    }
    if (request.requireKnownMemberId) {
      // KIP-394: the id is reserved for one session timeout; the member must rejoin with it.
      const timer = this.#clock.setTimeout(() => this.#expirePendingMember(group, memberId), request.sessionTimeoutMs)
      group.pendingMembers.set(memberId, timer)
      return resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId))
    }
    this.#addMemberAndRebalance(group, request, memberId, resolve)
  }

  #currentMemberJoin(group: Group, request: JoinGroupRequest, resolve: (response: JoinGroupResponse) => void): void {
    const memberId = request.memberId
    if (group.state === 'Dead') return resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, memberId))
    if (!group.supportsProtocols(request.protocolType, request.protocols, memberId)) {
      return resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId))
    }
    const pendingTimer = group.pendingMembers.get(memberId)
    if (pendingTimer !== undefined) {
      this.#clock.clearTimeout(pendingTimer)
      group.pendingMembers.delete(memberId)
      return this.#addMemberAndRebalance(group, request, memberId, resolve)
    }
    const member = group.members.get(memberId)
    if (member === undefined) return resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId))
    if (group.isStaticMemberFenced(memberId, request.groupInstanceId)) return resolve(joinError(ErrorCode.FENCED_INSTANCE_ID, memberId))
    switch (group.state) {
      case 'PreparingRebalance':
        return this.#updateMemberAndRebalance(group, member, request, resolve)
      case 'CompletingRebalance':
        // The member's JoinGroup response was lost: answer again unless its protocols changed.
        if (this.#sameProtocols(member, request)) return resolve(this.#joinResponse(group, member, group.leaderId === memberId))
        return this.#updateMemberAndRebalance(group, member, request, resolve)
      case 'Stable':
        // A follower rejoining unchanged gets the current generation; the leader's rejoin (or a
        // change of metadata) means the assignment must be computed again.
        if (group.leaderId === memberId || !this.#sameProtocols(member, request)) return this.#updateMemberAndRebalance(group, member, request, resolve)
        return resolve(this.#joinResponse(group, member, false))
      default:
        return resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId))
    }
  }

  #sameProtocols(member: Member, request: JoinGroupRequest): boolean {
    if (member.protocols.length !== request.protocols.length) return false
    return member.protocols.every((p, i) => p.name === request.protocols[i].name && p.metadata.equals(request.protocols[i].metadata))
  }

  #addMemberAndRebalance(group: Group, request: JoinGroupRequest, memberId: string, resolve: (response: JoinGroupResponse) => void): void {
    const member: Member = {
      memberId,
      groupInstanceId: request.groupInstanceId ?? null,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: rebalanceTimeoutOf(request),
      protocolType: request.protocolType,
      protocols: ownedProtocols(request.protocols),
      assignment: Buffer.alloc(0),
      joinWaiter: resolve,
      syncWaiter: null,
      sessionTimer: null,
      sessionDeadlineMs: 0,
    }
    // KIP-134: a join during the first rebalance of a new group extends the initial delay.
    if (group.state === 'PreparingRebalance' && group.generationId === 0) group.newMemberAdded = true
    group.addMember(member)
    this.#scheduleSessionExpiry(group, member)
    this.#maybePrepareRebalance(group)
  }

  #updateMemberAndRebalance(group: Group, member: Member, request: JoinGroupRequest, resolve: (response: JoinGroupResponse) => void): void {
    // A second JoinGroup from the same member supersedes the first, whose client has given up on it.
    member.joinWaiter?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId))
    member.protocols = ownedProtocols(request.protocols)
    member.sessionTimeoutMs = request.sessionTimeoutMs
    member.rebalanceTimeoutMs = rebalanceTimeoutOf(request)
    member.joinWaiter = resolve
    this.#maybePrepareRebalance(group)
  }

  // KIP-345: a static member restarting gets a new member id and fences its old incarnation. A
  // Stable group whose protocol choice does not change keeps its assignment: no rebalance.
  #replaceStaticMember(group: Group, old: Member, request: JoinGroupRequest, memberId: string, resolve: (response: JoinGroupResponse) => void): void {
    old.joinWaiter?.(joinError(ErrorCode.FENCED_INSTANCE_ID, old.memberId))
    old.syncWaiter?.(syncError(ErrorCode.FENCED_INSTANCE_ID))
    if (old.sessionTimer !== null) this.#clock.clearTimeout(old.sessionTimer)
    const oldMetadata = group.metadataFor(old, group.protocolName)
    const member: Member = {
      ...old,
      memberId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: rebalanceTimeoutOf(request),
      protocols: ownedProtocols(request.protocols),
      joinWaiter: null,
      syncWaiter: null,
      sessionTimer: null,
      sessionDeadlineMs: 0,
    }
    group.replaceMember(old.memberId, member)
    this.#scheduleSessionExpiry(group, member)
    const unchanged = group.protocolName !== null && group.selectProtocol() === group.protocolName && group.metadataFor(member, group.protocolName).equals(oldMetadata)
    if (group.state === 'Stable' && unchanged) return resolve(this.#joinResponse(group, member, false))
    member.joinWaiter = resolve
    this.#maybePrepareRebalance(group)
  }

  #joinResponse(group: Group, member: Member, withMembers: boolean): JoinGroupResponse {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: withMembers
        ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: group.metadataFor(m, group.protocolName) }))
        : [],
    }
  }

  #maybePrepareRebalance(group: Group): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance' || group.state === 'Empty') this.#prepareRebalance(group)
  }

  #prepareRebalance(group: Group): void {
    if (group.state === 'CompletingRebalance') {
      // The assignment being computed is for a generation that will not happen.
      for (const member of group.members.values()) {
        member.assignment = Buffer.alloc(0)
        member.syncWaiter?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
        member.syncWaiter = null
      }
    }
    this.#clearTimer(group, 'syncTimer')
    const wasEmpty = group.state === 'Empty'
    group.transitionTo('PreparingRebalance')
    if (wasEmpty) {
      // KIP-134: give the other members of a starting group time to join the first generation.
      const delayMs = this.#config.initialRebalanceDelayMs
      group.initialDelayRemainingMs = Math.max(group.rebalanceTimeoutMs() - delayMs, 0)
      group.joinTimer = this.#clock.setTimeout(() => this.#onInitialDelay(group), delayMs)
    } else {
      group.joinTimer = this.#clock.setTimeout(() => this.#completeJoin(group), group.rebalanceTimeoutMs())
    }
    // Everyone may already be in (a lone leader rejoining, or the last member leaving).
    this.#tryCompleteJoin(group)
  }

  #onInitialDelay(group: Group): void {
    group.joinTimer = null
    const remainingMs = group.initialDelayRemainingMs
    assert(remainingMs !== null, `group ${group.groupId}: initial delay fired outside one`)
    if (group.newMemberAdded && remainingMs > 0) {
      group.newMemberAdded = false
      const delayMs = Math.min(this.#config.initialRebalanceDelayMs, remainingMs)
      group.initialDelayRemainingMs = Math.max(remainingMs - delayMs, 0)
      group.joinTimer = this.#clock.setTimeout(() => this.#onInitialDelay(group), delayMs)
      return
    }
    this.#completeJoin(group)
  }

  #tryCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.initialDelayRemainingMs !== null) return
    if (group.hasAllMembersJoined()) this.#completeJoin(group)
  }

  // Kafka's onCompleteJoin: drop dynamic members that did not rejoin, bump the generation, elect
  // the protocol, and answer every waiting JoinGroup (the leader with all members' metadata).
  #completeJoin(group: Group): void {
    if (this.#groups.get(group.groupId) !== group || group.state !== 'PreparingRebalance') return
    this.#clearTimer(group, 'joinTimer')
    group.initialDelayRemainingMs = null
    group.newMemberAdded = false
    for (const member of [...group.members.values()]) {
      if (member.joinWaiter === null && member.groupInstanceId === null) this.#removeMember(group, member)
    }
    const leader = group.members.get(group.leaderId ?? '')
    if (leader !== undefined && leader.joinWaiter === null) {
      // A static leader that has not rejoined hands leadership to one that has.
      const joined = [...group.members.values()].find((m) => m.joinWaiter !== null)
      if (joined === undefined) {
        group.joinTimer = this.#clock.setTimeout(() => this.#completeJoin(group), group.rebalanceTimeoutMs())
        return
      }
      group.leaderId = joined.memberId
    }
    group.generationId++
    if (group.members.size === 0) {
      group.protocolName = null
      group.transitionTo('Empty')
      group.emptySinceMs = this.#clock.nowMs()
      // The emptied group's new generation is recorded; a Stable one's once its assignment is in.
      this.#storeGroup(group)
    } else {
      group.protocolName = group.selectProtocol()
      group.transitionTo('CompletingRebalance')
      const generationId = group.generationId
      group.syncTimer = this.#clock.setTimeout(() => this.#onSyncTimeout(group, generationId), group.rebalanceTimeoutMs())
    }
    for (const member of group.members.values()) {
      const waiter = member.joinWaiter
      if (waiter === null) continue
      member.joinWaiter = null
      this.#scheduleSessionExpiry(group, member)
      waiter(this.#joinResponse(group, member, member.memberId === group.leaderId))
    }
  }

  // The leader never sent its assignment (or followers never synced): drop those that did not
  // sync and start over, as Kafka's pending-sync timeout does.
  #onSyncTimeout(group: Group, generationId: number): void {
    group.syncTimer = null
    if (this.#groups.get(group.groupId) !== group || group.state !== 'CompletingRebalance' || group.generationId !== generationId) return
    for (const member of [...group.members.values()]) if (member.syncWaiter === null) this.#removeMemberAndUpdateGroup(group, member)
  }

  // ---------------------------------------------------------------- SyncGroup

  /** Resolves with this member's assignment once the leader's SyncGroup has supplied them. */
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResponse> {
    const fail = (errorCode: number): Promise<SyncGroupResponse> => Promise.resolve(syncError(errorCode))
    if (!this.#isOpen) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID)
    const group = this.#groups.get(request.groupId)
    if (group === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    if (group.state === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) return fail(ErrorCode.FENCED_INSTANCE_ID)
    const member = group.members.get(request.memberId)
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    if (request.generationId !== group.generationId) return fail(ErrorCode.ILLEGAL_GENERATION)
    const typeMismatch = request.protocolType != null && request.protocolType !== group.protocolType
    const nameMismatch = request.protocolName != null && request.protocolName !== group.protocolName
    if (typeMismatch || nameMismatch) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    switch (group.state) {
      case 'Empty':
        return fail(ErrorCode.UNKNOWN_MEMBER_ID)
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS)
      case 'Stable':
        this.#scheduleSessionExpiry(group, member)
        return Promise.resolve(this.#syncResponse(group, member))
      default:
        break
    }
    return new Promise<SyncGroupResponse>((resolve) => {
      member.syncWaiter?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
      member.syncWaiter = resolve
      this.#scheduleSessionExpiry(group, member)
      if (member.memberId === group.leaderId) this.#completeSync(group, request)
    })
  }

  #syncResponse(group: Group, member: Member): SyncGroupResponse {
    return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment }
  }

  // The leader's assignments arrived: hand each member its own (empty if the leader left it out).
  #completeSync(group: Group, request: SyncGroupRequest): void {
    const assignments = new Map(request.assignments.map((a) => [a.memberId, a.assignment]))
    this.#clearTimer(group, 'syncTimer')
    group.transitionTo('Stable')
    for (const member of group.members.values()) {
      const assignment = assignments.get(member.memberId)
      member.assignment = assignment === undefined ? Buffer.alloc(0) : ownedBytes(assignment)
    }
    this.#storeGroup(group)
    for (const member of group.members.values()) {
      const waiter = member.syncWaiter
      if (waiter === null) continue
      member.syncWaiter = null
      this.#scheduleSessionExpiry(group, member)
      waiter(this.#syncResponse(group, member))
    }
  }

  // ---------------------------------------------------------------- Heartbeat, LeaveGroup, sessions

  heartbeat(request: HeartbeatRequest): HeartbeatResponse {
    if (!this.#isOpen) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }
    if (request.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID }
    const group = this.#groups.get(request.groupId)
    if (group === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID }
    if (group.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) return { errorCode: ErrorCode.FENCED_INSTANCE_ID }
    const member = group.members.get(request.memberId)
    if (member === undefined || group.state === 'Empty') return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID }
    if (this.#expiredByTheClock(group, member)) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID }
    if (request.generationId !== group.generationId) return { errorCode: ErrorCode.ILLEGAL_GENERATION }
    this.#scheduleSessionExpiry(group, member)
    // While preparing, the member must rejoin; the heartbeat still counts towards its session.
    if (group.state === 'PreparingRebalance') return { errorCode: ErrorCode.REBALANCE_IN_PROGRESS }
    return { errorCode: ErrorCode.NONE }
  }

  leaveGroup(request: LeaveGroupRequest): LeaveGroupResponse {
    if (!this.#isOpen) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] }
    if (request.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] }
    const group = this.#groups.get(request.groupId)
    const members: LeaveGroupMemberResponse[] = []
    if (group !== undefined && group.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] }
    for (const leaving of request.members) {
      const instanceId = leaving.groupInstanceId ?? null
      const result = (errorCode: number): void => {
        members.push({ memberId: leaving.memberId, groupInstanceId: instanceId, errorCode })
      }
      if (group === undefined) {
        result(ErrorCode.UNKNOWN_MEMBER_ID)
        continue
      }
      let memberId = leaving.memberId
      if (instanceId !== null) {
        const current = group.staticMembers.get(instanceId)
        if (current === undefined) {
          result(ErrorCode.UNKNOWN_MEMBER_ID)
          continue
        }
        if (memberId !== '' && memberId !== current) {
          result(ErrorCode.FENCED_INSTANCE_ID)
          continue
        }
        memberId = current
      }
      const pendingTimer = group.pendingMembers.get(memberId)
      if (pendingTimer !== undefined) {
        this.#clock.clearTimeout(pendingTimer)
        group.pendingMembers.delete(memberId)
        this.#tryCompleteJoin(group)
        result(ErrorCode.NONE)
        continue
      }
      const member = group.members.get(memberId)
      if (member === undefined) {
        result(ErrorCode.UNKNOWN_MEMBER_ID)
        continue
      }
      this.#removeMemberAndUpdateGroup(group, member)
      result(ErrorCode.NONE)
    }
    return { errorCode: ErrorCode.NONE, members }
  }

  #scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer !== null) this.#clock.clearTimeout(member.sessionTimer)
    member.sessionDeadlineMs = this.#clock.nowMs() + member.sessionTimeoutMs
    member.sessionTimer = this.#clock.setTimeout(() => this.#onSessionExpiry(group, member), member.sessionTimeoutMs)
  }

  /**
   * Removes a member whose session ran out by the clock before its expiry timer fired, and says
   * so. Only the event loop's order kept the timer from firing first (a broker resuming from a
   * freeze reads the waiting heartbeat or auto-commit before it runs overdue timers): a late sign
   * of life does not bring the member back.
   */
  #expiredByTheClock(group: Group, member: Member): boolean {
    if (!this.#sessionOverdue(member)) return false
    this.#removeMemberAndUpdateGroup(group, member)
    return true
  }

  /** Past its deadline, as #onSessionExpiry judges it (a member waiting in a join or sync is alive). */
  #sessionOverdue(member: Member): boolean {
    return this.#clock.nowMs() > member.sessionDeadlineMs && member.joinWaiter === null && member.syncWaiter === null
  }

  // A member waiting in JoinGroup or SyncGroup is alive by definition (Kafka's shouldKeepAlive);
  // the rebalance and sync timeouts bound how long that can last.
  #onSessionExpiry(group: Group, member: Member): void {
    member.sessionTimer = null
    if (this.#groups.get(group.groupId) !== group || group.members.get(member.memberId) !== member) return
    if (member.joinWaiter !== null || member.syncWaiter !== null) return this.#scheduleSessionExpiry(group, member)
    this.#removeMemberAndUpdateGroup(group, member)
  }

  #expirePendingMember(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return
    if (this.#groups.get(group.groupId) !== group) return
    this.#tryCompleteJoin(group)
    this.#dropIfUnused(group)
  }

  #removeMember(group: Group, member: Member): void {
    if (member.sessionTimer !== null) this.#clock.clearTimeout(member.sessionTimer)
    member.sessionTimer = null
    group.removeMember(member.memberId)
  }

  #removeMemberAndUpdateGroup(group: Group, member: Member): void {
    member.joinWaiter?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId))
    member.joinWaiter = null
    member.syncWaiter?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    member.syncWaiter = null
    this.#removeMember(group, member)
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.#prepareRebalance(group)
    else if (group.state === 'PreparingRebalance') this.#tryCompleteJoin(group)
  }

  // ---------------------------------------------------------------- Offsets

  /** Commits offsets; resolves once they are in the log, with one error code per partition. */
  async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    const errorCode = this.#validateCommit(request)
    const results = request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode }))
    if (errorCode !== ErrorCode.NONE) return results
    const group = this.#groups.get(request.groupId)
    assert(group !== undefined, `commit validated for missing group ${request.groupId}`)
    const nowMs = this.#clock.nowMs()
    const records: GroupRecord[] = []
    for (const [i, o] of request.offsets.entries()) {
      const metadata = o.metadata ?? ''
      if (Buffer.byteLength(metadata) > this.#config.offsetMetadataMaxBytes) {
        results[i].errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE
        continue
      }
      const value = { offset: o.offset, leaderEpoch: o.leaderEpoch ?? -1, metadata, commitTimestampMs: nowMs }
      records.push({ type: 'offset', groupId: group.groupId, topic: o.topic, partition: o.partition, value })
    }
    if (records.length === 0) return results
    try {
      await this.#log.append(records)
    } catch {
      // Not replicated: the client retries against whoever coordinates the group now.
      for (const result of results) if (result.errorCode === ErrorCode.NONE) result.errorCode = ErrorCode.NOT_COORDINATOR
      return results
    }
    // Applied once durable, so a fetch never returns an offset a failover could take back.
    for (const record of records) this.#replay(record)
    return results
  }

  /**
   * TxnOffsetCommit: the offsets go to the log in the producer's transactional batch now and count
   * once its COMMIT marker arrives (completeTxn); an ABORT drops them. A generation given (KIP-447)
   * is checked as a member's commit would be; -1 skips the check, as Kafka does.
   *
   * A commit of transaction N that a client sent on a connection it then gave up (a timeout) can
   * reach here after N ended and N+1 committed newer offsets on the client's new connection; under
   * the same epoch it would put N's older offsets over N+1's. A client sends on one connection to
   * a broker at a time, so a commit on an older connection than the producer's pending offsets
   * came on is fenced (PRODUCER_FENCED), as the transaction coordinator fences its requests. One
   * that arrives before N+1 commits anything is harmless: N+1's own commit comes after it.
   */
  async commitTxnOffsets(request: TxnOffsetCommitRequest): Promise<OffsetCommitPartitionResult[]> {
    if (!Number.isSafeInteger(request.producerId) || request.producerId < 0 || request.producerEpoch < 0) {
      return request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING }))
    }
    const withGeneration = request.generationId >= 0 || request.memberId !== ''
    const errorCode = withGeneration ? this.#validateCommit(request) : this.#validateCommit({ ...request, generationId: -1, memberId: '', groupInstanceId: null }, true)
    const results = request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode }))
    if (errorCode !== ErrorCode.NONE) return results
    if (this.#txnOffsetConnections.isAbandoned(request.producerId, request.producerId, request.producerEpoch, request.connection)) {
      for (const result of results) result.errorCode = ErrorCode.PRODUCER_FENCED
      return results
    }
    const nowMs = this.#clock.nowMs()
    const records: GroupRecord[] = []
    for (const [i, o] of request.offsets.entries()) {
      const metadata = o.metadata ?? ''
      if (Buffer.byteLength(metadata) > this.#config.offsetMetadataMaxBytes) {
        results[i].errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE
        continue
      }
      records.push({ type: 'offset', groupId: request.groupId, topic: o.topic, partition: o.partition, value: { offset: o.offset, leaderEpoch: o.leaderEpoch ?? -1, metadata, commitTimestampMs: nowMs } })
    }
    if (records.length === 0) return results
    try {
      await this.#log.append(records, { producerId: request.producerId, producerEpoch: request.producerEpoch })
    } catch (error) {
      const code = typeof (error as { errorCode?: unknown }).errorCode === 'number' ? (error as { errorCode: number }).errorCode : ErrorCode.NOT_COORDINATOR
      // A fenced producer's epoch is refused by the partition; the rest mean "ask the coordinator again".
      const answer = code === ErrorCode.INVALID_PRODUCER_EPOCH ? ErrorCode.INVALID_PRODUCER_EPOCH : ErrorCode.NOT_COORDINATOR
      for (const result of results) if (result.errorCode === ErrorCode.NONE) result.errorCode = answer
      return results
    }
    const pending = this.#pendingTxnOffsets.get(request.producerId) ?? this.#pendingTxnOffsets.set(request.producerId, []).get(request.producerId)!
    pending.push(...records)
    // Noted only once its offsets are pending, so an entry goes with them at the marker.
    this.#txnOffsetConnections.note(request.producerId, request.producerId, request.producerEpoch, request.connection)
    return results
  }

  /** A marker for `producerId` reached this partition: its pending offsets commit or vanish. */
  completeTxn(producerId: number, commit: boolean): void {
    const pending = this.#pendingTxnOffsets.get(producerId)
    this.#pendingTxnOffsets.delete(producerId)
    this.#txnOffsetConnections.delete(producerId)
    if (!commit || pending === undefined) return
    for (const record of pending) this.#replay(record)
  }

  #hasPendingTxnOffset(groupId: string, topic: string, partition: number): boolean {
    // Bounded by the open transactions' offsets on this partition of __consumer_offsets.
    for (const records of this.#pendingTxnOffsets.values()) {
      if (records.some((r) => r.type === 'offset' && r.groupId === groupId && r.topic === topic && r.partition === partition)) return true
    }
    return false
  }

  // Kafka's validateOffsetCommit, plus creating the group for a generation-less first commit.
  #validateCommit(request: OffsetCommitRequest, transactional = false): number {
    if (!this.#isOpen) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (request.groupId === '') return ErrorCode.INVALID_GROUP_ID
    const generationLess = request.generationId < 0 && request.memberId === '' && (request.groupInstanceId ?? null) === null
    let group = this.#groups.get(request.groupId)
    if (group === undefined) {
      // Either a group that only stores offsets, or a member of a generation this coordinator
      // never saw (it lost its state): only the first may create the group.
      if (!generationLess) return ErrorCode.ILLEGAL_GENERATION
      group = new Group(request.groupId)
      this.#groups.set(request.groupId, group)
    }
    if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE
    // A transactional producer without the member's generation (KIP-447 lets it send -1) commits
    // for whatever group state there is, as Kafka's TxnOffsetCommit does.
    if (generationLess) return group.state === 'Empty' || transactional ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID
    const member = group.members.get(request.memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    if (this.#expiredByTheClock(group, member)) return ErrorCode.UNKNOWN_MEMBER_ID
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    // The member has its new generation but not yet its assignment: it must not commit for it.
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS
    // A commit is a sign of life; in PreparingRebalance it is accepted (the generation is still
    // current), so an eager consumer can commit before it gives up its partitions and rejoins.
    this.#scheduleSessionExpiry(group, member)
    return ErrorCode.NONE
  }


  /** Committed offsets for the partitions asked (all the group has when `topics` is null). */
  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResponse {
    if (!this.#isOpen) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] }
    if (request.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] }
    const offsets = this.#groups.get(request.groupId)?.offsets ?? new Map<string, Map<number, CommittedOffset>>()
    const asked = request.topics ?? [...offsets.keys()].sort().map((topic) => ({ topic, partitions: [...(offsets.get(topic)?.keys() ?? [])].sort((a, b) => a - b) }))
    const topics: OffsetFetchTopicResult[] = asked.map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.map((partition) => {
        const committed = offsets.get(topic)?.get(partition)
        if (request.requireStable === true && this.#hasPendingTxnOffset(request.groupId, topic, partition)) {
          return { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }
        }
        return {
          partition,
          offset: committed?.offset ?? -1,
          leaderEpoch: committed?.leaderEpoch ?? -1,
          metadata: committed === undefined ? '' : committed.metadata,
          errorCode: ErrorCode.NONE,
        }
      }),
    }))
    return { errorCode: ErrorCode.NONE, topics }
  }

  // ---------------------------------------------------------------- Describe, list, delete

  describeGroups(groupIds: string[]): DescribedGroup[] {
    return groupIds.map((groupId) => {
      const dead: DescribedGroup = { errorCode: ErrorCode.NONE, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] }
      if (!this.#isOpen) return { ...dead, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }
      if (groupId === '') return { ...dead, errorCode: ErrorCode.INVALID_GROUP_ID }
      const group = this.#groups.get(groupId)
      if (group === undefined) return dead
      // As Kafka: metadata and assignments only once Stable, when they are consistent.
      const stable = group.state === 'Stable'
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: group.state,
        protocolType: group.protocolType ?? '',
        protocolData: stable ? (group.protocolName ?? '') : '',
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable ? group.metadataFor(m, group.protocolName) : Buffer.alloc(0),
          memberAssignment: stable ? m.assignment : Buffer.alloc(0),
        })),
      }
    })
  }

  listGroups(request: ListGroupsRequest = {}): ListGroupsResponse {
    if (!this.#isOpen) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] }
    const filter = new Set((request.statesFilter ?? []).map((s) => s.toLowerCase()))
    const groups = [...this.#groups.values()]
      .filter((g) => g.state !== 'Dead' && (filter.size === 0 || filter.has(g.state.toLowerCase())))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state }))
    return { errorCode: ErrorCode.NONE, groups }
  }

  /** Deletes Empty groups with their offsets; resolves once the deletions are in the log. */
  async deleteGroups(groupIds: string[]): Promise<DeleteGroupResult[]> {
    const tombstones: GroupRecord[] = []
    const results = groupIds.map((groupId): DeleteGroupResult => {
      if (!this.#isOpen) return { groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }
      if (groupId === '') return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID }
      const group = this.#groups.get(groupId)
      if (group === undefined || group.state === 'Dead') return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND }
      if (group.state !== 'Empty') return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP }
      group.transitionTo('Dead')
      this.#clearGroupTimers(group)
      this.#groups.delete(groupId)
      // Kafka deletes a group as tombstones: one per committed offset, and one for its metadata.
      for (const [topic, partitions] of group.offsets) {
        for (const partition of partitions.keys()) tombstones.push({ type: 'offset', groupId, topic, partition, value: null })
      }
      tombstones.push({ type: 'group', groupId, value: null })
      return { groupId, errorCode: ErrorCode.NONE }
    })
    if (tombstones.length > 0) {
      try {
        await this.#log.append(tombstones)
      } catch {
        for (const result of results) if (result.errorCode === ErrorCode.NONE) result.errorCode = ErrorCode.NOT_COORDINATOR
      }
    }
    return results
  }

  /**
   * OffsetDelete (KIP-496): removes a group's committed offsets for partitions it no longer
   * consumes, as tombstones. An Empty group loses any it names; a live consumer group keeps those
   * of topics a member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC); a live group of another protocol
   * type is refused whole (NON_EMPTY_GROUP), since its subscriptions cannot be read.
   */
  async deleteOffsets(groupId: string, partitions: ReadonlyArray<{ topic: string; partition: number }>): Promise<OffsetDeleteResult> {
    const refuse = (errorCode: number): OffsetDeleteResult => ({ errorCode, partitions: [] })
    if (!this.#isOpen) return refuse(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (groupId === '') return refuse(ErrorCode.INVALID_GROUP_ID)
    const group = this.#groups.get(groupId)
    if (group === undefined || group.state === 'Dead') return refuse(ErrorCode.GROUP_ID_NOT_FOUND)
    let subscribed = new Set<string>()
    if (group.state !== 'Empty') {
      if (group.protocolType !== 'consumer') return refuse(ErrorCode.NON_EMPTY_GROUP)
      for (const member of group.members.values()) {
        const topics = subscribedTopics(group.metadataFor(member, group.protocolName))
        // A subscription it cannot read might name any topic: keep every offset of the group.
        if (topics === null) subscribed = new Set(partitions.map((p) => p.topic))
        else for (const topic of topics) subscribed.add(topic)
      }
    }
    const tombstones: GroupRecord[] = []
    const results = partitions.map(({ topic, partition }) => {
      if (subscribed.has(topic)) return { topic, partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }
      if (group.offsets.get(topic)?.has(partition) === true) tombstones.push({ type: 'offset', groupId, topic, partition, value: null })
      return { topic, partition, errorCode: ErrorCode.NONE }
    })
    if (tombstones.length > 0) {
      try {
        await this.#log.append(tombstones)
      } catch {
        return refuse(ErrorCode.NOT_COORDINATOR)
      }
      for (const record of tombstones) this.#replay(record)
    }
    return { errorCode: ErrorCode.NONE, partitions: results }
  }

  /**
   * A topic was deleted (or deleted and created again): every group's committed offsets of it go,
   * and pending transactional ones, as Kafka's cleanupGroupMetadata removes them, so a group never
   * resumes a new topic of the same name at the old topic's offsets. They leave memory at once and
   * the log as tombstones; tombstones that fail to replicate are written again when a coordinator
   * loads the partition and finds offsets of a topic that no longer exists. Returns how many
   * committed offsets went.
   */
  async dropTopicOffsets(isDropped: (topic: string) => boolean): Promise<number> {
    if (!this.#isOpen) return 0
    const tombstones: GroupRecord[] = []
    // Bounded by the groups' offsets, each visited once.
    for (const group of this.#groups.values()) {
      for (const [topic, partitions] of group.offsets) {
        if (!isDropped(topic)) continue
        for (const partition of partitions.keys()) tombstones.push({ type: 'offset', groupId: group.groupId, topic, partition, value: null })
      }
    }
    for (const [producerId, pending] of this.#pendingTxnOffsets) {
      const kept = pending.filter((r) => r.type !== 'offset' || !isDropped(r.topic))
      if (kept.length !== pending.length) this.#pendingTxnOffsets.set(producerId, kept)
    }
    if (tombstones.length === 0) return 0
    for (const record of tombstones) this.#replay(record)
    try {
      await this.#log.append(tombstones)
    } catch {
      // Gone from memory already; the next load finds them again and drops them then.
    }
    return tombstones.length
  }

  /**
   * offsets.retention.minutes (KIP-211): an Empty group's committed offsets expire once the group
   * has been empty that long (counted from each commit when it is not known when the group
   * emptied, as for a group that only ever committed). A group left with no offsets and no
   * members is deleted, as Kafka deletes it. Groups with members keep their offsets. Returns how
   * many offsets expired.
   */
  async expireOffsets(): Promise<number> {
    if (!this.#isOpen) return 0
    const nowMs = this.#clock.nowMs()
    const tombstones: GroupRecord[] = []
    const deleted: Group[] = []
    for (const group of this.#groups.values()) {
      if (group.state !== 'Empty' || group.members.size > 0) continue
      let kept = 0
      for (const [topic, partitions] of group.offsets) {
        for (const [partition, committed] of partitions) {
          const sinceMs = group.emptySinceMs ?? committed.commitTimestampMs
          if (nowMs - sinceMs >= this.#config.offsetsRetentionMs) tombstones.push({ type: 'offset', groupId: group.groupId, topic, partition, value: null })
          else kept++
        }
      }
      if (kept === 0 && group.pendingMembers.size === 0) deleted.push(group)
    }
    for (const group of deleted) tombstones.push({ type: 'group', groupId: group.groupId, value: null })
    if (tombstones.length === 0) return 0
    try {
      await this.#log.append(tombstones)
    } catch {
      return 0 // not replicated: the next pass, here or at the next coordinator, tries again
    }
    let expired = 0
    for (const record of tombstones) {
      if (record.type !== 'offset') continue
      this.#replay(record)
      expired++
    }
    for (const group of deleted) {
      // A member may have joined while the tombstones were written: then the group stays.
      if (this.#groups.get(group.groupId) !== group || group.state !== 'Empty' || group.members.size > 0) continue
      group.transitionTo('Dead')
      this.#clearGroupTimers(group)
      this.#groups.delete(group.groupId)
    }
    return expired
  }

  // ---------------------------------------------------------------- Housekeeping

  #clearTimer(group: Group, which: 'joinTimer' | 'syncTimer'): void {
    const timer = group[which]
    if (timer !== null) this.#clock.clearTimeout(timer)
    group[which] = null
  }

  #clearGroupTimers(group: Group): void {
    this.#clearTimer(group, 'joinTimer')
    this.#clearTimer(group, 'syncTimer')
    for (const timer of group.pendingMembers.values()) this.#clock.clearTimeout(timer)
    group.pendingMembers.clear()
    for (const member of group.members.values()) {
      if (member.sessionTimer !== null) this.#clock.clearTimeout(member.sessionTimer)
      member.sessionTimer = null
    }
  }

  // A group that a failed or id-only join created, with nothing worth keeping, is forgotten.
  #dropIfUnused(group: Group): void {
    const unused = group.state === 'Empty' && group.generationId === 0 && group.members.size === 0 && group.pendingMembers.size === 0 && group.offsets.size === 0
    if (unused && this.#groups.get(group.groupId) === group) this.#groups.delete(group.groupId)
  }

  /**
   * Records the group's generation, protocol and members with their assignments. Nobody waits
   * for it: it lets a coordinator that takes over keep the group Stable, and a lost one only
   * means its members rejoin, as they would after a crash.
   */
  #storeGroup(group: Group): void {
    const value: GroupValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestampMs: this.#clock.nowMs(),
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: group.metadataFor(m, group.protocolName),
        assignment: m.assignment,
      })),
    }
    this.#log.append([{ type: 'group', groupId: group.groupId, value }]).catch(() => undefined)
  }

  /** Applies one record, as written or as loaded: later records win, tombstones remove. */
  #replay(record: GroupRecord): void {
    if (record.type === 'group' && record.value === null) {
      this.#groups.delete(record.groupId)
      return
    }
    let group = this.#groups.get(record.groupId)
    if (group === undefined) {
      if (record.value === null) return
      group = new Group(record.groupId)
      this.#groups.set(record.groupId, group)
    }
    if (record.type === 'offset') {
      let partitions = group.offsets.get(record.topic)
      if (record.value === null) {
        partitions?.delete(record.partition)
        if (partitions?.size === 0) group.offsets.delete(record.topic)
        return
      }
      if (partitions === undefined) {
        partitions = new Map<number, CommittedOffset>()
        group.offsets.set(record.topic, partitions)
      }
      const { offset, leaderEpoch, metadata, commitTimestampMs } = record.value
      partitions.set(record.partition, { offset, leaderEpoch, metadata, commitTimestampMs })
      return
    }
    // Loading a group's metadata restores it as it was: a live group keeps its members, whose
    // sessions restart (load() arms them), and Stable state, so they need not rejoin.
    if (group.members.size > 0 || group.state !== 'Empty') return
    const value = record.value!
    group.generationId = value.generation
    group.protocolType = value.protocolType === '' ? null : value.protocolType
    group.protocolName = value.protocol
    group.leaderId = value.leader
    for (const m of value.members) {
      group.addMember({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: value.protocolType,
        protocols: value.protocol === null ? [] : [{ name: value.protocol, metadata: m.subscription }],
        assignment: m.assignment,
        joinWaiter: null,
        syncWaiter: null,
        sessionTimer: null,
      sessionDeadlineMs: 0,
      })
    }
    group.leaderId = value.leader
    if (group.members.size > 0) group.restoreStable()
  }
}
