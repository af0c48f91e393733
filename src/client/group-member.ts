/**
 * One consumer's membership in a group, over the coordinator API: the JoinGroup/SyncGroup dance
 * (computing the assignment when this member is the leader), heartbeats, commits and leaving.
 * It keeps the member id and generation; the consumer decides when to rejoin.
 */
import type { KafkaOperations } from '../metadata/operations.js'
import type { OffsetCommitPartition, OffsetCommitPartitionResult } from '../actors/group/types.js'
import { ErrorCode } from '../common/error-codes.js'
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssign,
  roundRobinAssign,
  toTopicPartitions,
  type AssignorMember,
  type GroupAssignment,
  type PartitionCounts,
} from './assignors.js'
import { backoffMs, isRetriable, kafkaError, sleep, type ResolvedRetry } from './retry.js'

/** A custom assignor: a protocol name and the leader's assignment function. */
export interface PartitionAssigner {
  name: string
  assign(members: AssignorMember[], partitionCounts: PartitionCounts): GroupAssignment
}

export type AssignerOption = 'range' | 'roundrobin' | PartitionAssigner

export const PartitionAssigners = {
  range: { name: 'range', assign: rangeAssign } satisfies PartitionAssigner,
  roundRobin: { name: 'roundrobin', assign: roundRobinAssign } satisfies PartitionAssigner,
}

export function resolveAssigner(option: AssignerOption): PartitionAssigner {
  if (option === 'range') return PartitionAssigners.range
  if (option === 'roundrobin') return PartitionAssigners.roundRobin
  return option
}

export interface GroupMemberOptions {
  groupId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  assigners: PartitionAssigner[]
  clientId: string
  allowAutoTopicCreation: boolean
  retry: ResolvedRetry
}

export interface JoinOutcome {
  generationId: number
  memberId: string
  leaderId: string
  isLeader: boolean
  groupProtocol: string
  /** topic -> partitions, ascending. */
  assignment: Record<string, number[]>
  durationMs: number
}

export interface HeartbeatHooks {
  /** True while a beat would be pointless: joining, or a rejoin already due. */
  paused(): boolean
  onAnswer(errorCode: number): void
}

/** Raised when a join is abandoned because the consumer is stopping. */
export class JoinAborted extends Error {
  constructor() {
    super('the consumer stopped while joining its group')
    this.name = 'JoinAborted'
  }
}

/** Join rounds before giving up; each round that fails for a retriable reason backs off first. */
const JOIN_ROUNDS_MAX = 1_000

export class GroupMember {
  memberId = ''
  generationId = -1
  readonly #core: KafkaOperations
  readonly #options: GroupMemberOptions
  #heartbeatTimer: NodeJS.Timeout | null = null
  #heartbeatHooks: HeartbeatHooks | null = null
  #heartbeatIntervalMs = 0
  #lastHeartbeatMs = 0

  constructor(core: KafkaOperations, options: GroupMemberOptions) {
    this.#core = core
    this.#options = options
  }

  get groupId(): string {
    return this.#options.groupId
  }

  /** Joins (or rejoins) and returns this member's assignment for the new generation. */
  async join(topics: string[], signal: AbortSignal): Promise<JoinOutcome> {
    const startedMs = Date.now()
    const groups = this.#core.groups
    let failures = 0
    const backoff = async (errorCode: number, what: string): Promise<void> => {
      if (!isRetriable(errorCode) || failures >= this.#options.retry.retries) throw kafkaError(errorCode, `${what} for group ${this.groupId}`)
      await sleep(backoffMs(this.#options.retry, failures++), signal)
    }
    for (let round = 0; round < JOIN_ROUNDS_MAX; round++) {
      if (signal.aborted) throw new JoinAborted()
      const joined = await abortable(
        groups.joinGroup({
          groupId: this.groupId,
          sessionTimeoutMs: this.#options.sessionTimeoutMs,
          rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: this.#options.assigners.map((a) => ({ name: a.name, metadata: encodeSubscription({ topics }) })),
          clientId: this.#options.clientId,
          clientHost: 'embedded',
          requireKnownMemberId: true,
        }),
        signal,
      )
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = joined.memberId
        continue
      }
      if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = ''
        continue
      }
      if (joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue
      if (joined.errorCode !== ErrorCode.NONE) {
        await backoff(joined.errorCode, 'JoinGroup')
        continue
      }
      this.memberId = joined.memberId
      this.generationId = joined.generationId
      const protocol = joined.protocolName ?? this.#options.assigners[0].name
      const isLeader = joined.leader === joined.memberId
      const assignments = isLeader ? await this.#assign(protocol, joined.members) : []
      const synced = await abortable(
        groups.syncGroup({
          groupId: this.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocolName: protocol,
          assignments,
        }),
        signal,
      )
      if (synced.errorCode === ErrorCode.NONE) {
        this.#lastHeartbeatMs = Date.now()
        const assignment: Record<string, number[]> = {}
        for (const { topic, partitions } of decodeAssignment(synced.assignment).assignedPartitions) {
          assignment[topic] = [...partitions].sort((a, b) => a - b)
        }
        return {
          generationId: this.generationId,
          memberId: this.memberId,
          leaderId: joined.leader,
          isLeader,
          groupProtocol: protocol,
          assignment,
          durationMs: Date.now() - startedMs,
        }
      }
      if (synced.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
      else if (synced.errorCode !== ErrorCode.REBALANCE_IN_PROGRESS && synced.errorCode !== ErrorCode.ILLEGAL_GENERATION) {
        await backoff(synced.errorCode, 'SyncGroup')
      }
    }
    throw kafkaError(ErrorCode.REBALANCE_IN_PROGRESS, `group ${this.groupId}`, `no stable generation after ${JOIN_ROUNDS_MAX} join rounds`)
  }

  // The leader's job: every member's subscription, the partition counts, the chosen assignor.
  async #assign(protocol: string, members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>) {
    const assigner = this.#options.assigners.find((a) => a.name === protocol)
    if (assigner === undefined) throw kafkaError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `group ${this.groupId}`, `no local assignor named ${protocol}`)
    const assignorMembers: AssignorMember[] = members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      topics: decodeSubscription(m.metadata).topics,
    }))
    const topics = [...new Set(assignorMembers.flatMap((m) => m.topics))]
    const metadata = await this.#core.metadata(topics, this.#options.allowAutoTopicCreation)
    const counts: PartitionCounts = {}
    for (const topic of metadata.topics) {
      // A topic that does not exist (yet) is left out, as Java's assignors do.
      if (topic.errorCode === ErrorCode.NONE && topic.partitions.length > 0) counts[topic.name] = topic.partitions.length
    }
    const assignment = assigner.assign(assignorMembers, counts)
    return assignorMembers.map((m) => ({
      memberId: m.memberId,
      assignment: encodeAssignment({ assignedPartitions: toTopicPartitions(assignment[m.memberId] ?? {}) }),
    }))
  }

  /**
   * The heartbeat loop every member runs (the embedded consumer and `partita consume -g`): a beat
   * every `intervalMs` unless `hooks.paused()` (joining, or a rejoin already due), each answer to
   * `hooks.onAnswer`; a request that fails outright counts as COORDINATOR_NOT_AVAILABLE. The timer
   * does not keep the process alive. Runs until stopHeartbeats().
   */
  startHeartbeats(intervalMs: number, hooks: HeartbeatHooks): void {
    this.stopHeartbeats()
    this.#heartbeatHooks = hooks
    this.#heartbeatIntervalMs = intervalMs
    const schedule = (): void => {
      const timer = setTimeout(() => {
        if (this.#heartbeatTimer !== timer) return
        if (!hooks.paused()) this.beat()
        schedule()
      }, intervalMs)
      timer.unref()
      this.#heartbeatTimer = timer
    }
    schedule()
  }

  stopHeartbeats(): void {
    if (this.#heartbeatTimer !== null) clearTimeout(this.#heartbeatTimer)
    this.#heartbeatTimer = null
    this.#heartbeatHooks = null
  }

  /** One beat now, its answer to the running loop's hooks. */
  beat(): void {
    const hooks = this.#heartbeatHooks
    this.#lastHeartbeatMs = Date.now()
    void this.heartbeat().then(
      (errorCode) => hooks?.onAnswer(errorCode),
      () => hooks?.onAnswer(ErrorCode.COORDINATOR_NOT_AVAILABLE),
    )
  }

  /** A beat if the last one (or the join) is an interval old: for long handlers between timer ticks. */
  beatIfDue(): void {
    if (this.#heartbeatHooks === null || this.#heartbeatHooks.paused()) return
    if (Date.now() - this.#lastHeartbeatMs >= this.#heartbeatIntervalMs) this.beat()
  }

  async heartbeat(): Promise<number> {
    if (this.memberId === '' || this.generationId < 0) return ErrorCode.UNKNOWN_MEMBER_ID
    const response = await this.#core.groups.heartbeat({ groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null })
    return response.errorCode
  }

  async commit(offsets: OffsetCommitPartition[]): Promise<OffsetCommitPartitionResult[]> {
    return this.#core.groups.commitOffsets({
      groupId: this.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      offsets,
    })
  }

  /** Committed offsets for these partitions; -1 where the group has none. */
  async committed(assignment: Record<string, number[]>): Promise<Map<string, number>> {
    const topics = Object.entries(assignment).map(([topic, partitions]) => ({ topic, partitions }))
    const out = new Map<string, number>()
    if (topics.length === 0) return out
    // Bounded by the retry count.
    for (let attempt = 0; ; attempt++) {
      const response = await this.#core.groups.fetchOffsets({ groupId: this.groupId, topics })
      if (response.errorCode === ErrorCode.NONE) {
        for (const t of response.topics) for (const p of t.partitions) out.set(partitionKey(t.topic, p.partition), p.errorCode === ErrorCode.NONE ? p.offset : -1)
        return out
      }
      if (!isRetriable(response.errorCode) || attempt >= this.#options.retry.retries) throw kafkaError(response.errorCode, `OffsetFetch for group ${this.groupId}`)
      await sleep(backoffMs(this.#options.retry, attempt))
    }
  }

  /** Leaves the group so the others rebalance at once instead of after the session timeout. */
  async leave(): Promise<void> {
    if (this.memberId === '') return
    const memberId = this.memberId
    this.memberId = ''
    this.generationId = -1
    // Leaving is a courtesy: a member that cannot reach its coordinator is expired in time anyway.
    await this.#core.groups.leaveGroup({ groupId: this.groupId, members: [{ memberId, groupInstanceId: null }] }).catch(() => undefined)
  }

  /** After UNKNOWN_MEMBER_ID the coordinator forgot us: the next join starts afresh. */
  forgetMemberId(): void {
    this.memberId = ''
    this.generationId = -1
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`
}

/** The promise's value, or JoinAborted as soon as the signal aborts (the promise is abandoned). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new JoinAborted())
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new JoinAborted())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}
