/**
 * One consumer group's in-memory state, as Kafka's GroupMetadata keeps it: members in join order
 * (the first is the leader), the protocol type and chosen protocol, the generation, and the
 * committed offsets. The coordinator drives its transitions; this file holds the data and the
 * pure rules (protocol support and vote, state transitions).
 */
import { assert } from '../../common/assert.js'
import type { TimerHandle } from '../../common/clock.js'
import type { GroupProtocol, GroupState, JoinGroupResponse, SyncGroupResponse } from './types.js'

export interface Member {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: GroupProtocol[]
  assignment: Buffer
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  joinWaiter: ((response: JoinGroupResponse) => void) | null
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  syncWaiter: ((response: SyncGroupResponse) => void) | null
  sessionTimer: TimerHandle | null
  /** When the session runs out by the clock, whether or not its timer has fired yet. */
  sessionDeadlineMs: number
}

export interface CommittedOffset {
  offset: number
  leaderEpoch: number
  metadata: string | null
  commitTimestampMs: number
}

// Which state each state may be entered from, as Kafka's GroupState.validPreviousStates.
const validPreviousStates: Record<GroupState, GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
}

export class Group {
  readonly groupId: string
  state: GroupState = 'Empty'
  generationId = 0
  protocolType: string | null = null
  protocolName: string | null = null
  leaderId: string | null = null
  /** Insertion-ordered, so "the first member" is well defined. */
  readonly members = new Map<string, Member>()
  /** KIP-394: member ids handed out with MEMBER_ID_REQUIRED, each expiring after a session timeout. */
  readonly pendingMembers = new Map<string, TimerHandle>()
  /** KIP-345: group.instance.id -> the member id currently holding it. */
  readonly staticMembers = new Map<string, string>()
  /** topic -> partition -> committed offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>()
  /** The pending join completion (initial delay or rebalance timeout) while PreparingRebalance. */
  joinTimer: TimerHandle | null = null
  /** Non-null during KIP-134's initial delay: the join completes only on the timer, never early. */
  initialDelayRemainingMs: number | null = null
  newMemberAdded = false
  /** When the group last became Empty (its offsets expire counted from then), or null if not seen. */
  emptySinceMs: number | null = null
  /** Removes members that never sent SyncGroup if the leader's assignment does not come in time. */
  syncTimer: TimerHandle | null = null

  constructor(groupId: string) {
    this.groupId = groupId
  }

  transitionTo(next: GroupState): void {
    assert(validPreviousStates[next].includes(this.state), `group ${this.groupId}: ${this.state} -> ${next}`)
    this.state = next
  }

  /**
   * A group loaded from its stored metadata with members: it was Stable when it was written (only
   * a completed sync stores members), so it is again, with no rebalance in progress.
   */
  restoreStable(): void {
    assert(this.state === 'Empty' && this.members.size > 0, `group ${this.groupId}: restoring a Stable group over ${this.state}`)
    this.state = 'Stable'
  }

  /** The largest rebalance timeout among members: how long a rebalance waits for rejoins. */
  rebalanceTimeoutMs(): number {
    let timeoutMs = 0
    for (const member of this.members.values()) timeoutMs = Math.max(timeoutMs, member.rebalanceTimeoutMs)
    return timeoutMs
  }

  addMember(member: Member): void {
    assert(!this.members.has(member.memberId), `member ${member.memberId} added twice`)
    if (this.members.size === 0) this.protocolType = member.protocolType
    this.members.set(member.memberId, member)
    this.leaderId ??= member.memberId
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId)
  }

  removeMember(memberId: string): void {
    const member = this.members.get(memberId)
    if (member === undefined) return
    this.members.delete(memberId)
    const instanceId = member.groupInstanceId
    if (instanceId !== null && this.staticMembers.get(instanceId) === memberId) this.staticMembers.delete(instanceId)
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null
  }

  /** Puts `replacement` in `oldId`'s place (same position, leadership and instance id). */
  replaceMember(oldId: string, replacement: Member): void {
    assert(this.members.has(oldId), `replacing unknown member ${oldId}`)
    const entries = [...this.members.entries()].map(([id, member]): [string, Member] => (id === oldId ? [replacement.memberId, replacement] : [id, member]))
    this.members.clear()
    for (const [id, member] of entries) this.members.set(id, member)
    if (this.leaderId === oldId) this.leaderId = replacement.memberId
    if (replacement.groupInstanceId !== null) this.staticMembers.set(replacement.groupInstanceId, replacement.memberId)
  }

  /** A static member whose instance id now belongs to another member id is fenced (KIP-345). */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null | undefined): boolean {
    if (groupInstanceId === null || groupInstanceId === undefined) return false
    const current = this.staticMembers.get(groupInstanceId)
    return current !== undefined && current !== memberId
  }

  hasAllMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false
    for (const member of this.members.values()) if (member.joinWaiter === null) return false
    return true
  }

  numMembersAwaitingJoin(): number {
    let count = 0
    for (const member of this.members.values()) if (member.joinWaiter !== null) count++
    return count
  }

  /**
   * Whether a member with these protocols may join: the type must match the group's and at least
   * one protocol must be supported by every other member. `selfId` is left out of the count, so a
   * member may change its own protocols when it rejoins.
   */
  supportsProtocols(protocolType: string, protocols: GroupProtocol[], selfId: string): boolean {
    if (protocolType === '' || protocols.length === 0) return false
    const others = [...this.members.values()].filter((member) => member.memberId !== selfId)
    if (others.length === 0) return true
    if (this.protocolType !== protocolType) return false
    return protocols.some((protocol) => others.every((member) => member.protocols.some((p) => p.name === protocol.name)))
  }

  /**
   * Kafka's vote: among protocols every member supports, each member votes for the first one in
   * its own preference order; the most votes win, ties going to the leader's preference.
   */
  selectProtocol(): string {
    const members = [...this.members.values()]
    assert(members.length > 0, `group ${this.groupId}: protocol vote without members`)
    const leader = this.members.get(this.leaderId ?? '') ?? members[0]
    const candidates = leader.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)))
    assert(candidates.length > 0, `group ${this.groupId}: no protocol common to all members`)
    const votes = new Map<string, number>()
    for (const member of members) {
      const choice = member.protocols.find((p) => candidates.includes(p.name))
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1)
    }
    let best = candidates[0]
    for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name
    return best
  }

  metadataFor(member: Member, protocolName: string | null): Buffer {
    return member.protocols.find((p) => p.name === protocolName)?.metadata ?? Buffer.alloc(0)
  }

  offsetCount(): number {
    let count = 0
    for (const partitions of this.offsets.values()) count += partitions.size
    return count
  }
}
