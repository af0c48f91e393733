/**
 * The followers' side of replication, batched per leader shard (runs on a shard worker thread:
 * each shard keeps one ReplicaFetchers, as module state of the partition actors).
 *
 * Kafka's replica fetcher sends one Fetch per source broker for every partition it follows there.
 * Here too: all the follower replicas on this shard whose leaders live on one shard share one
 * fetcher, with one cross-shard request in flight. A loop per partition cost a ring round trip per
 * partition per long-poll: 2,000 idle followers made 4,000 cross-shard requests a second, a third of
 * a core with no record moving, and their garbage grew each shard's young generation to its cap.
 */
import type { Clock } from '../../common/clock.js'
import type { EpochEndOffsetResult, FetchPartitionResult, FollowerFetchRequest, FollowerFetchResponse } from './replica-types.js'

/**
 * The actor on every shard that answers ReplicaFetch batches for the partitions led there: the
 * broker node, which asks its sibling partition actors directly.
 */
export const REPLICA_FETCH_SERVER_ID = 'broker'

/** Partitions one batch asks about; more followers take turns (see LeaderFetcher.#cursor). */
export const REPLICA_FETCH_PARTITIONS_MAX = 1_000
/** Kafka's replica.fetch.response.max.bytes: what one batch's answer holds, shared by its partitions. */
export const REPLICA_FETCH_RESPONSE_BYTES_MAX = 10 * 1024 * 1024
/** How long a fetcher waits before asking a leader shard it could not reach again. */
const UNREACHABLE_RETRY_MS = 50

/** One partition of a batch, and what its follower asks. */
export interface ReplicaFetchEntry {
  topic: string
  partition: number
  request: FollowerFetchRequest
}

/** A follower shard's batch to one leader shard (a request to REPLICA_FETCH_SERVER_ID). */
export interface ReplicaFetchBatch {
  op: 'replicaFetch'
  /** The asking shard and its batch number: together they name the batch for cancelReplicaFetch. */
  fromShard: number
  batchId: number
  /** The longest any partition of the batch waits; the batch returns once one has data or an error. */
  maxWaitMs: number
  entries: ReplicaFetchEntry[]
}

/** Answers a parked batch at once with what is there (a tell): a new follower joined the fetcher. */
export interface CancelReplicaFetch {
  op: 'cancelReplicaFetch'
  fromShard: number
  batchId: number
}

/** One entry's answer; a fetch's records are the next `recordsBytes` bytes of the reply's payload. */
export type ReplicaFetchResult = Omit<FetchPartitionResult, 'records'> | EpochEndOffsetResult
export interface ReplicaFetchReply {
  results: Array<{ result: ReplicaFetchResult; recordsBytes: number }>
}

/** What a fetcher needs of a follower replica (PartitionReplica's follower side). */
export interface FollowingReplica {
  nextFollowerFetch(): FollowerFetchRequest | null
  /** Returns how long to wait before this replica's next request (an error's backoff), or 0. */
  applyLeaderFetch(response: FollowerFetchResponse): number
}

export interface ReplicaFetchersDeps {
  /** This shard's number, named in each batch. */
  shard: number
  clock: Clock
  /** Cross-shard: a request to an actor on another shard. */
  request(shard: number, id: string, message: unknown): Promise<{ message: unknown; payload?: Buffer }>
  /** Cross-shard: a tell. */
  send(shard: number, id: string, message: unknown): void
  /** Ends the shard on a broken invariant; any other error is retried. */
  crashOnInvariantViolation(error: unknown): void
}

/** A follower's membership in a fetcher; stop() ends it (a role change or a close). */
export interface Following {
  stop(): void
}

interface Member {
  readonly replica: FollowingReplica
  readonly topic: string
  readonly partition: number
  /** No request for this replica before this time (an error answer's backoff). */
  pausedUntilMs: number
  active: boolean
}

/** Every follower replica on this shard, by the shard its leader lives on. */
export class ReplicaFetchers {
  readonly #deps: ReplicaFetchersDeps
  readonly #byLeaderShard = new Map<number, LeaderFetcher>()
  #nextBatchId = 1

  constructor(deps: ReplicaFetchersDeps) {
    this.#deps = deps
  }

  /** Starts fetching for `replica` of topic-partition from its leader on `leaderShard`. */
  follow(leaderShard: number, topic: string, partition: number, replica: FollowingReplica): Following {
    let fetcher = this.#byLeaderShard.get(leaderShard)
    if (fetcher === undefined) {
      fetcher = new LeaderFetcher(leaderShard, this.#deps, () => this.#nextBatchId++)
      this.#byLeaderShard.set(leaderShard, fetcher)
    }
    const member: Member = { replica, topic, partition, pausedUntilMs: 0, active: true }
    fetcher.add(member)
    const owner = fetcher
    return {
      stop: () => {
        member.active = false
        owner.remove(member)
      },
    }
  }
}

/** The followers of one leader shard: one batch in flight at a time. */
class LeaderFetcher {
  readonly #leaderShard: number
  readonly #deps: ReplicaFetchersDeps
  readonly #nextBatchId: () => number
  readonly #members = new Set<Member>()
  /** Where the next batch starts when more followers wait than one batch holds. */
  #cursor = 0
  #running = false
  /** The batch parked at the leader now, if any. */
  #inFlightBatchId: number | null = null

  constructor(leaderShard: number, deps: ReplicaFetchersDeps, nextBatchId: () => number) {
    this.#leaderShard = leaderShard
    this.#deps = deps
    this.#nextBatchId = nextBatchId
  }

  add(member: Member): void {
    this.#members.add(member)
    if (!this.#running) {
      void this.#run()
      return
    }
    // A new follower (a partition created, a leader moved) would otherwise wait out the parked
    // batch's long-poll, and an acks=all produce to it with it.
    if (this.#inFlightBatchId !== null) {
      const cancel: CancelReplicaFetch = { op: 'cancelReplicaFetch', fromShard: this.#deps.shard, batchId: this.#inFlightBatchId }
      this.#deps.send(this.#leaderShard, REPLICA_FETCH_SERVER_ID, cancel)
    }
  }

  remove(member: Member): void {
    this.#members.delete(member)
  }

  async #run(): Promise<void> {
    this.#running = true
    try {
      while (this.#members.size > 0) await this.#round()
    } finally {
      this.#running = false
    }
  }

  /** One batch: every member not backing off asks, and each answer is applied to its replica. */
  async #round(): Promise<void> {
    const nowMs = this.#deps.clock.nowMs()
    const asked = this.#nextEntries(nowMs)
    if (asked.length === 0) {
      const wakeMs = Math.min(...[...this.#members].map((m) => m.pausedUntilMs))
      if (Number.isFinite(wakeMs)) await this.#sleep(Math.max(1, wakeMs - nowMs))
      return
    }
    const batchId = this.#nextBatchId()
    const batch: ReplicaFetchBatch = {
      op: 'replicaFetch',
      fromShard: this.#deps.shard,
      batchId,
      maxWaitMs: Math.max(...asked.map(({ entry }) => (entry.request.type === 'fetch' ? entry.request.maxWaitMs : 0))),
      entries: asked.map(({ entry }) => entry),
    }
    let reply: { message: unknown; payload?: Buffer }
    this.#inFlightBatchId = batchId
    try {
      reply = await this.#deps.request(this.#leaderShard, REPLICA_FETCH_SERVER_ID, batch)
    } catch (error) {
      // The leader's shard may be down; the supervisor will name new leaders. Until then, retry.
      this.#deps.crashOnInvariantViolation(error)
      await this.#sleep(UNREACHABLE_RETRY_MS)
      return
    } finally {
      this.#inFlightBatchId = null
    }
    this.#apply(asked, reply.message as ReplicaFetchReply, reply.payload)
  }

  /** The next batch's members and requests, in turns of at most REPLICA_FETCH_PARTITIONS_MAX. */
  #nextEntries(nowMs: number): Array<{ member: Member; entry: ReplicaFetchEntry }> {
    const members = [...this.#members]
    const asked: Array<{ member: Member; entry: ReplicaFetchEntry }> = []
    for (let i = 0; i < members.length && asked.length < REPLICA_FETCH_PARTITIONS_MAX; i++) {
      const member = members[(this.#cursor + i) % members.length]
      if (member.pausedUntilMs > nowMs) continue
      const request = member.replica.nextFollowerFetch()
      if (request === null) {
        // No longer following (its role changed; the actor stops the membership too).
        this.#members.delete(member)
        continue
      }
      asked.push({ member, entry: { topic: member.topic, partition: member.partition, request } })
    }
    this.#cursor = members.length === 0 ? 0 : (this.#cursor + asked.length) % members.length
    return asked
  }

  #apply(asked: Array<{ member: Member; entry: ReplicaFetchEntry }>, reply: ReplicaFetchReply, payload: Buffer | undefined): void {
    let position = 0
    for (let i = 0; i < asked.length; i++) {
      const { member, entry } = asked[i]
      const { result, recordsBytes } = reply.results[i]
      const records = recordsBytes > 0 && payload !== undefined ? payload.subarray(position, position + recordsBytes) : null
      position += recordsBytes
      if (!member.active) continue
      const response = (entry.request.type === 'fetch' ? { request: entry.request, result: { ...result, records } } : { request: entry.request, result }) as FollowerFetchResponse
      try {
        const backoffMs = member.replica.applyLeaderFetch(response)
        if (backoffMs > 0) member.pausedUntilMs = this.#deps.clock.nowMs() + backoffMs
      } catch (error) {
        // A broker fault on this replica (its disk); the others go on. A bug ends the shard.
        this.#deps.crashOnInvariantViolation(error)
        member.pausedUntilMs = this.#deps.clock.nowMs() + UNREACHABLE_RETRY_MS
      }
    }
  }

  #sleep(delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => this.#deps.clock.setTimeout(resolve, delayMs))
  }
}
