/**
 * A consumer group member over the wire client, for `partita consume --group`: join and sync
 * with the "range" assignor (this member computes the plan when it leads), a background
 * heartbeat that flags a rebalance, committed offsets read and written with the member's
 * generation, and a clean leave. Eager rebalancing only: on a rebalance the caller commits what it
 * has, then joins again and starts from the new assignment's committed offsets.
 */
import { ErrorCode } from '../common/error-codes.js'
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, rangeAssign, toTopicPartitions } from '../client/assignors.js'
import type { KafkaClient, TopicPartition } from '../client/wire/kafka-client.js'
import { check, CliError } from './common.js'

export interface GroupMemberOptions {
  sessionTimeoutMs?: number
  rebalanceTimeoutMs?: number
  /** Join attempts before giving up (each retriable answer is one). Default 20. */
  joinAttemptsMax?: number
}

export interface CommitOffset extends TopicPartition {
  offset: number
}

const PROTOCOL_TYPE = 'consumer'
const ASSIGNOR = 'range'
const REJOIN_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
])

export class GroupMember {
  memberId = ''
  generationId = -1
  /** Set when the coordinator asks for a rejoin (seen on a heartbeat or a commit). */
  needsRejoin = false
  readonly #sessionTimeoutMs: number
  readonly #rebalanceTimeoutMs: number
  readonly #joinAttemptsMax: number
  #heartbeat: NodeJS.Timeout | null = null
  #heartbeatBusy = false
  #heartbeatError: unknown = null

  constructor(
    private readonly client: KafkaClient,
    readonly groupId: string,
    private readonly topics: string[],
    options: GroupMemberOptions = {},
  ) {
    this.#sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000
    this.#rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000
    this.#joinAttemptsMax = options.joinAttemptsMax ?? 20
  }

  /** Joins (or rejoins) the group and returns this member's partitions. */
  async join(): Promise<TopicPartition[]> {
    this.#stopHeartbeat()
    for (let attempt = 0; attempt < this.#joinAttemptsMax; attempt++) {
      const joined = await this.client.joinGroup({
        groupId: this.groupId,
        sessionTimeoutMs: this.#sessionTimeoutMs,
        rebalanceTimeoutMs: this.#rebalanceTimeoutMs,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: PROTOCOL_TYPE,
        protocols: [{ name: ASSIGNOR, metadata: encodeSubscription({ topics: this.topics }) }],
        reason: null,
      })
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = joined.memberId
        continue
      }
      if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = ''
        continue
      }
      if (joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue
      check(joined.errorCode, `join group '${this.groupId}'`)
      this.memberId = joined.memberId
      this.generationId = joined.generationId
      const assignments = joined.leader === joined.memberId ? await this.#plan(joined.members) : []
      const synced = await this.client.syncGroup({
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: PROTOCOL_TYPE,
        protocolName: joined.protocolName ?? ASSIGNOR,
        assignments,
      })
      if (REJOIN_ERRORS.has(synced.errorCode)) {
        if (synced.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
        continue
      }
      check(synced.errorCode, `sync group '${this.groupId}'`)
      this.needsRejoin = false
      this.#startHeartbeat()
      return decodeAssignment(synced.assignment).assignedPartitions.flatMap((tp) => tp.partitions.map((partition) => ({ topic: tp.topic, partition })))
    }
    throw new CliError(`join group '${this.groupId}': no stable generation after ${this.#joinAttemptsMax} attempts`)
  }

  // The leader's share of a rebalance: the range plan over every member's subscription.
  async #plan(members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscribed = members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, topics: decodeSubscription(m.metadata).topics }))
    const topics = [...new Set(subscribed.flatMap((m) => m.topics))]
    const counts: Record<string, number> = {}
    for (const topic of topics) counts[topic] = (await this.client.topic(topic)).partitions.length
    const plan = rangeAssign(subscribed, counts)
    return subscribed.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ assignedPartitions: toTopicPartitions(plan[m.memberId]) }) }))
  }

  /** Committed offsets of `partitions`; -1 where nothing is committed. */
  async committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const response = await this.client.offsetFetch(this.groupId, partitions)
    check(response.errorCode, `fetch offsets of group '${this.groupId}'`)
    const out = new Map<string, number>()
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        check(p.errorCode, `fetch offset of group '${this.groupId}' for ${topic.name}-${p.partitionIndex}`)
        out.set(`${topic.name}-${p.partitionIndex}`, p.committedOffset)
      }
    }
    return out
  }

  /** Commits offsets under this generation; a rebalance answer flags a rejoin instead of failing. */
  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    if (offsets.length === 0) return
    const topics = new Map<string, { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string }[]>()
    for (const o of offsets) {
      const list = topics.get(o.topic) ?? []
      list.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: -1, committedMetadata: '' })
      topics.set(o.topic, list)
    }
    const response = await this.client.offsetCommit({
      groupId: this.groupId,
      generationIdOrMemberEpoch: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    })
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        if (REJOIN_ERRORS.has(p.errorCode)) {
          this.needsRejoin = true
          continue
        }
        check(p.errorCode, `commit offset of group '${this.groupId}' for ${topic.name}-${p.partitionIndex}`)
      }
    }
  }

  /** Stops the heartbeat and leaves, so the others rebalance at once instead of after the session timeout. */
  async leave(): Promise<void> {
    this.#stopHeartbeat()
    if (this.memberId === '') return
    const response = await this.client.leaveGroup(this.groupId, this.memberId)
    if (response.errorCode !== ErrorCode.UNKNOWN_MEMBER_ID) check(response.errorCode, `leave group '${this.groupId}'`)
    this.memberId = ''
  }

  /** An error the heartbeat met that is not a rebalance (thrown to the consume loop). */
  throwIfHeartbeatFailed(): void {
    if (this.#heartbeatError !== null) throw this.#heartbeatError
  }

  #startHeartbeat(): void {
    const intervalMs = Math.max(100, Math.floor(this.#sessionTimeoutMs / 3))
    this.#heartbeat = setInterval(() => void this.#beat(), intervalMs)
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    this.#heartbeat = null
  }

  async #beat(): Promise<void> {
    if (this.#heartbeatBusy || this.needsRejoin) return
    this.#heartbeatBusy = true
    try {
      const response = await this.client.heartbeat({ groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null })
      if (REJOIN_ERRORS.has(response.errorCode)) this.needsRejoin = true
      else check(response.errorCode, `heartbeat to group '${this.groupId}'`)
    } catch (error) {
      this.#heartbeatError ??= error
    } finally {
      this.#heartbeatBusy = false
    }
  }
}
