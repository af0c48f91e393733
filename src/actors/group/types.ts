/**
 * The group coordinator's inputs and outputs: plain objects with Kafka's field names and numeric
 * error codes, so the TCP server maps each request version onto them and the embedded consumer
 * calls them directly. Opaque bytes (protocol metadata, assignments) pass through untouched.
 */
import type { Clock } from '../../common/clock.js'

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface GroupCoordinatorOptions {
  clock: Clock
  /** `group.initial.rebalance.delay.ms`: how long an Empty group waits for more joiners. */
  initialRebalanceDelayMs?: number
  /** `group.min.session.timeout.ms`. */
  minSessionTimeoutMs?: number
  /** `group.max.session.timeout.ms`. */
  maxSessionTimeoutMs?: number
  /** `group.max.size`. */
  groupMaxSize?: number
  /** `offset.metadata.max.bytes`: longer commit metadata gets OFFSET_METADATA_TOO_LARGE. */
  offsetMetadataMaxBytes?: number
  /** `offsets.retention.minutes` in ms: how long an Empty group's offsets outlive it (KIP-211). */
  offsetsRetentionMs?: number
}

export interface GroupProtocol {
  name: string
  metadata: Buffer
}

export interface JoinGroupRequest {
  groupId: string
  sessionTimeoutMs: number
  /** JoinGroup v0 has no rebalance timeout: pass sessionTimeoutMs, as Kafka does. */
  rebalanceTimeoutMs: number
  /** Empty string for a member that does not have one yet. */
  memberId: string
  /** `group.instance.id` (v5+, KIP-345); null or absent for a dynamic member. */
  groupInstanceId?: string | null
  protocolType: string
  protocols: GroupProtocol[]
  clientId: string
  clientHost: string
  /** True for JoinGroup v4+ (KIP-394): a new member first gets MEMBER_ID_REQUIRED and an id. */
  requireKnownMemberId: boolean
}

export interface JoinGroupMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Buffer
}

export interface JoinGroupResponse {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  memberId: string
  /** Every member with its metadata for the chosen protocol, for the leader only; empty otherwise. */
  members: JoinGroupMember[]
}

export interface SyncGroupAssignment {
  memberId: string
  assignment: Buffer
}

export interface SyncGroupRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId?: string | null
  /** SyncGroup v5+; checked against the group's when present. */
  protocolType?: string | null
  protocolName?: string | null
  /** The leader's assignments; empty from followers. */
  assignments: SyncGroupAssignment[]
}

export interface SyncGroupResponse {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  assignment: Buffer
}

export interface HeartbeatRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId?: string | null
}

export interface HeartbeatResponse {
  errorCode: number
}

export interface LeaveGroupMemberRequest {
  memberId: string
  groupInstanceId?: string | null
}

export interface LeaveGroupRequest {
  groupId: string
  /** v0-2 carry one member (the request's member id); v3+ a batch. */
  members: LeaveGroupMemberRequest[]
}

export interface LeaveGroupMemberResponse {
  memberId: string
  groupInstanceId: string | null
  errorCode: number
}

export interface LeaveGroupResponse {
  /** Top-level error; for v0-2 answer with this or, when NONE, with members[0].errorCode. */
  errorCode: number
  members: LeaveGroupMemberResponse[]
}

export interface OffsetCommitPartition {
  topic: string
  partition: number
  offset: number
  /** -1 or absent when unknown (OffsetCommit v6+). */
  leaderEpoch?: number
  metadata?: string | null
}

export interface OffsetCommitRequest {
  groupId: string
  /** -1 for a generation-less ("simple consumer") commit. */
  generationId: number
  /** Empty for a generation-less commit. */
  memberId: string
  groupInstanceId?: string | null
  offsets: OffsetCommitPartition[]
}

/** TxnOffsetCommit (KIP-98, KIP-447): offsets a transactional producer commits with its transaction. */
export interface TxnOffsetCommitRequest extends OffsetCommitRequest {
  transactionalId: string
  producerId: number
  producerEpoch: number
  /** The ordinal of the client connection it came on (connections numbered in accept order); absent for the broker's own calls. */
  connection?: number
}

export interface OffsetCommitPartitionResult {
  topic: string
  partition: number
  errorCode: number
}

/** OffsetDelete's answer: a group-level error (then no partitions), or one per partition. */
export interface OffsetDeleteResult {
  errorCode: number
  partitions: OffsetCommitPartitionResult[]
}

export interface OffsetFetchTopic {
  topic: string
  partitions: number[]
}

export interface OffsetFetchRequest {
  groupId: string
  /** null or absent: every partition the group has committed. */
  topics?: OffsetFetchTopic[] | null
  /** KIP-447: partitions with transactional offsets still pending answer UNSTABLE_OFFSET_COMMIT. */
  requireStable?: boolean
}

export interface OffsetFetchPartitionResult {
  partition: number
  /** -1 when the group has no committed offset for the partition. */
  offset: number
  leaderEpoch: number
  metadata: string | null
  errorCode: number
}

export interface OffsetFetchTopicResult {
  topic: string
  partitions: OffsetFetchPartitionResult[]
}

export interface OffsetFetchResponse {
  errorCode: number
  topics: OffsetFetchTopicResult[]
}

export interface DescribedMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  /** The member's metadata for the chosen protocol; empty unless the group is Stable. */
  memberMetadata: Buffer
  /** The member's assignment; empty unless the group is Stable. */
  memberAssignment: Buffer
}

export interface DescribedGroup {
  errorCode: number
  groupId: string
  groupState: GroupState
  protocolType: string
  /** The chosen protocol name when Stable, empty otherwise (Kafka's `protocolData`). */
  protocolData: string
  members: DescribedMember[]
}

export interface ListGroupsRequest {
  /** ListGroups v4+: only groups in these states (case-insensitive); empty or absent for all. */
  statesFilter?: string[]
}

export interface ListedGroup {
  groupId: string
  protocolType: string
  groupState: GroupState
}

export interface ListGroupsResponse {
  errorCode: number
  groups: ListedGroup[]
}

export interface DeleteGroupResult {
  groupId: string
  errorCode: number
}
