/**
 * What a partition leader knows about its followers: each one's log end offset (learned from the
 * offsets it fetches at), when it was last caught up, and the in-sync replica set that follows
 * from that. Pure bookkeeping (times are passed in), so the ISR rules are testable on their own.
 *
 * The rules are Kafka's (Partition.scala / Replica.scala):
 * - A follower's fetch at offset N says its log ends at N. If N reached the leader's log end at
 *   that moment, it was caught up then; if N reached the leader's log end as of the follower's
 *   previous fetch, it was caught up at that previous fetch.
 * - A follower rejoins the ISR when its log end reaches the high watermark and the start of the
 *   leader's current epoch.
 * - A follower in the ISR leaves it when it has not been caught up for more than
 *   replica.lag.time.max.ms (and is not simply at the leader's log end right now).
 * - The high watermark candidate is the smallest log end offset across the ISR; a follower
 *   whose log end is not known yet (no fetch since this leader took over) holds it back.
 *   Partita's addition: a follower's log end counts only as far as the follower says its copy
 *   is on disk, so with partita.fsync.mode=acks-all an acks=all answer means on every ISR disk.
 * - A follower dropped from the ISR still holds the high watermark back until the controller has
 *   stored the smaller ISR (Kafka's "maximal ISR", KIP-497): until then the controller may elect
 *   that follower, and records only the smaller ISR held must not have been acknowledged.
 */
import { assert } from '../../common/assert.js'

export interface FollowerState {
  brokerId: number
  /** -1 until the follower's first fetch under this leadership. */
  logEndOffset: number
  /** Where the follower's copy is on disk, as it last said; never above logEndOffset. */
  durableOffset: number
  lastCaughtUpTimeMs: number
  lastFetchLeaderLogEndOffset: number
  lastFetchTimeMs: number
}

export class LeaderState {
  readonly brokerId: number
  readonly replicas: readonly number[]
  readonly #followers = new Map<number, FollowerState>()
  readonly #isr = new Set<number>()
  /** Followers dropped from the ISR whose removal the controller has not stored yet. */
  readonly #removalsUnstored = new Set<number>()
  readonly #removalsNeedStore: boolean

  /**
   * `removalsNeedStore`: a removed follower counts toward the high watermark until isrStored
   * says the controller stored an ISR without it (false: there is no controller to wait for).
   */
  constructor(brokerId: number, replicas: readonly number[], isr: readonly number[], nowMs: number, removalsNeedStore = false) {
    this.#removalsNeedStore = removalsNeedStore
    assert(replicas.includes(brokerId), `leader ${brokerId} must be one of the replicas ${replicas.join(',')}`)
    this.brokerId = brokerId
    this.replicas = [...replicas]
    // The leader is in its own ISR by definition (the supervisor elects it from the ISR).
    this.#isr.add(brokerId)
    for (const id of isr) if (replicas.includes(id)) this.#isr.add(id)
    for (const id of replicas) {
      if (id === brokerId) continue
      this.#followers.set(id, {
        brokerId: id,
        logEndOffset: -1,
        durableOffset: -1,
        // In-sync followers get a fresh lag window from the moment of election, as in Kafka.
        lastCaughtUpTimeMs: this.#isr.has(id) ? nowMs : 0,
        lastFetchLeaderLogEndOffset: -1,
        lastFetchTimeMs: nowMs,
      })
    }
  }

  isFollower(brokerId: number): boolean {
    return this.#followers.has(brokerId)
  }

  follower(brokerId: number): FollowerState | undefined {
    return this.#followers.get(brokerId)
  }

  inIsr(brokerId: number): boolean {
    return this.#isr.has(brokerId)
  }

  get isrSize(): number {
    return this.#isr.size
  }

  /** The ISR in replica-assignment order, as Kafka reports it. */
  isr(): number[] {
    return this.replicas.filter((id) => this.#isr.has(id))
  }

  recordFetch(brokerId: number, fetchOffset: number, nowMs: number, leaderLogEndOffset: number, durableOffset = fetchOffset): void {
    const follower = this.#followers.get(brokerId)
    assert(follower !== undefined, `broker ${brokerId} is not a follower of this partition`)
    if (fetchOffset >= leaderLogEndOffset) {
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, nowMs)
    } else if (fetchOffset >= follower.lastFetchLeaderLogEndOffset && follower.lastFetchLeaderLogEndOffset >= 0) {
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, follower.lastFetchTimeMs)
    }
    follower.logEndOffset = fetchOffset
    follower.durableOffset = Math.min(durableOffset, fetchOffset)
    follower.lastFetchLeaderLogEndOffset = leaderLogEndOffset
    follower.lastFetchTimeMs = nowMs
  }

  /** A follower says its copy is on disk up to `durableOffset`, between two fetches. */
  recordDurable(brokerId: number, durableOffset: number): void {
    const follower = this.#followers.get(brokerId)
    assert(follower !== undefined, `broker ${brokerId} is not a follower of this partition`)
    // A report that crossed a later fetch (or a truncation) on the way must not move it back.
    follower.durableOffset = Math.max(follower.durableOffset, Math.min(durableOffset, follower.logEndOffset))
  }

  /** Adds the follower back to the ISR if it qualifies; true when the ISR changed. */
  maybeExpand(brokerId: number, highWatermark: number, epochStartOffset: number): boolean {
    const follower = this.#followers.get(brokerId)
    if (follower === undefined || this.#isr.has(brokerId)) return false
    if (follower.logEndOffset < highWatermark || follower.logEndOffset < epochStartOffset) return false
    this.#isr.add(brokerId)
    this.#removalsUnstored.delete(brokerId)
    return true
  }

  /** Followers in the ISR that have lagged too long; the caller removes them. */
  laggingFollowers(nowMs: number, lagTimeMaxMs: number, leaderLogEndOffset: number): number[] {
    const lagging: number[] = []
    for (const follower of this.#followers.values()) {
      if (!this.#isr.has(follower.brokerId)) continue
      if (follower.logEndOffset === leaderLogEndOffset) continue
      if (nowMs - follower.lastCaughtUpTimeMs > lagTimeMaxMs) lagging.push(follower.brokerId)
    }
    return lagging
  }

  /** Removes a follower from the ISR; true when it was in it. The leader itself never leaves. */
  remove(brokerId: number): boolean {
    if (brokerId === this.brokerId || !this.#isr.delete(brokerId)) return false
    if (this.#removalsNeedStore) this.#removalsUnstored.add(brokerId)
    return true
  }

  /** Whether some removal from the ISR still waits for the controller to store it. */
  get removalsUnstored(): boolean {
    return this.#removalsUnstored.size > 0
  }

  /** The controller stored `storedIsr`: the removals it reflects stop holding the HW back. */
  isrStored(storedIsr: readonly number[]): void {
    for (const id of this.#removalsUnstored) if (!storedIsr.includes(id)) this.#removalsUnstored.delete(id)
  }

  /**
   * The smallest durable log end across the ISR and the removals not yet stored, or -1 while some
   * member's is unknown.
   */
  highWatermarkCandidate(leaderDurableOffset: number): number {
    let candidate = leaderDurableOffset
    for (const members of [this.#isr, this.#removalsUnstored]) {
      for (const id of members) {
        if (id === this.brokerId) continue
        const follower = this.#followers.get(id)!
        if (follower.logEndOffset < 0) return -1
        candidate = Math.min(candidate, follower.durableOffset)
      }
    }
    return candidate
  }
}
