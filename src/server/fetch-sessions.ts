/**
 * Incremental fetch sessions (KIP-227), with Kafka's rules (FetchSession.scala). A client that
 * sends session id 0 and epoch 0 gets a full fetch and, when the cache has room, a new session;
 * later requests name that session with the next epoch and carry only the partitions whose fetch
 * state changed (plus the ones to forget), and the answer holds only partitions with something new:
 * records, a moved high watermark or log start, or an error. That is what makes a consumer of
 * thousands of partitions cheap to serve when few of them move.
 *
 * - Epoch -1 (FINAL) closes the named session and fetches without one; epoch 0 (INITIAL) closes
 *   it and opens a new one. Any other epoch must be the session's: an unknown id answers
 *   FETCH_SESSION_ID_NOT_FOUND (70), a wrong epoch INVALID_FETCH_SESSION_EPOCH (71), both with
 *   nothing fetched and nothing changed, and the client falls back to a full fetch.
 * - The cache holds at most `max.incremental.fetch.session.cache.slots` sessions. When it is full,
 *   a new session first takes the slot of the session least recently used if that one has been idle
 *   longer than the eviction time (Kafka's 120 s); otherwise it may take the slot of the least
 *   valuable evictable session (unprivileged before follower sessions, then fewer partitions),
 *   which must be strictly less valuable than the new one. Sessions younger than the eviction
 *   time are evictable only by followers, and followers' only by older followers' rules (as
 *   Kafka's evictableByAll / evictableByPrivileged). With no slot the fetch is answered as a
 *   full fetch with session id 0, which tells the client to keep sending full requests.
 *
 * One cache per broker node, used only on its shard's thread: no locking. Its work per request is
 * bounded by the request's partitions and the session's, and by the slot count when evicting.
 */
import { randomInt } from 'node:crypto'
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import type { FetchInput, FetchResult } from '../metadata/operations.js'

/** Kafka's FetchMetadata constants. */
export const INVALID_SESSION_ID = 0
export const INITIAL_EPOCH = 0
export const FINAL_EPOCH = -1
/** Fetch v7 is the first that carries a session id and epoch. */
export const FIRST_SESSION_VERSION = 7
/** Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: a session idle this long may be evicted by anyone. */
export const SESSION_EVICTION_MS = 120_000
const SESSION_ID_MAX = 2_147_483_647

export interface FetchSessionRequest {
  version: number
  sessionId: number
  sessionEpoch: number
  /** A follower's fetch (replica id >= 0): its sessions are worth more when slots run out. */
  privileged: boolean
  /** The partitions named in the request, in request order. */
  partitions: FetchInput[]
  /** ForgottenTopicsData, flattened. */
  forgotten: Array<{ topic: string; partition: number }>
}

/** What the broker fetches for one request, and how its answer is shaped afterwards. */
export type FetchContext =
  | { kind: 'error'; errorCode: number }
  | { kind: 'sessionless'; inputs: FetchInput[] }
  | { kind: 'full'; inputs: FetchInput[]; privileged: boolean }
  | { kind: 'incremental'; inputs: FetchInput[]; session: FetchSession }

interface CachedPartition {
  input: FetchInput
  /** What the client was last told; -1 makes the next answer include the partition. */
  highWatermark: number
  logStartOffset: number
}

export interface FetchSession {
  readonly id: number
  readonly privileged: boolean
  readonly creationMs: number
  lastUsedMs: number
  /** The epoch the next request must carry. */
  epoch: number
  /** In fetch order: partitions that returned records move to the back, so each gets its turn at the byte budget. */
  readonly partitions: Map<string, CachedPartition>
  /** Set at each use, as Kafka sets its evictable maps in touch(). */
  evictableByAll: boolean
  evictableByPrivileged: boolean
  /** The partition count at the last use, which is what eviction compares. */
  sizeAtTouch: number
}

export interface FetchSessionCacheOptions {
  slotsMax: number
  nowMs?: () => number
  /** Session ids, for deterministic tests; default a random positive int32. */
  nextId?: () => number
  evictionMs?: number
}

export interface FetchSessionStats {
  sessions: number
  partitions: number
  evictions: number
  sessionsCreated: number
}

/** A partition's key in a fetch's maps (the session's, and the request's own: handlers/fetch.ts). */
export function keyOf(topic: string, partition: number): string {
  return `${partition}:${topic}`
}

/** Kafka's FetchMetadata.nextEpoch: 1 after the last int32, never 0 or -1 again. */
export function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH
  return epoch === SESSION_ID_MAX ? 1 : epoch + 1
}

export class FetchSessionCache {
  readonly #slotsMax: number
  readonly #nowMs: () => number
  readonly #nextId: () => number
  readonly #evictionMs: number
  readonly #sessions = new Map<number, FetchSession>()
  #evictions = 0
  #created = 0

  constructor(options: FetchSessionCacheOptions) {
    assert(Number.isInteger(options.slotsMax) && options.slotsMax >= 0, 'slotsMax must be a non-negative integer')
    this.#slotsMax = options.slotsMax
    this.#nowMs = options.nowMs ?? Date.now
    this.#nextId = options.nextId ?? (() => randomInt(1, SESSION_ID_MAX))
    this.#evictionMs = options.evictionMs ?? SESSION_EVICTION_MS
  }

  stats(): FetchSessionStats {
    let partitions = 0
    for (const s of this.#sessions.values()) partitions += s.partitions.size
    return { sessions: this.#sessions.size, partitions, evictions: this.#evictions, sessionsCreated: this.#created }
  }

  has(sessionId: number): boolean {
    return this.#sessions.has(sessionId)
  }

  /** Kafka's FetchManager.newContext: decides what to fetch, before anything is read. */
  newContext(request: FetchSessionRequest): FetchContext {
    if (request.version < FIRST_SESSION_VERSION) return { kind: 'sessionless', inputs: request.partitions }
    const full = request.sessionEpoch === INITIAL_EPOCH || request.sessionEpoch === FINAL_EPOCH
    if (full) {
      // Any session named in a full fetch is closed, whether or not a new one follows.
      if (request.sessionId !== INVALID_SESSION_ID) this.#sessions.delete(request.sessionId)
      if (request.sessionEpoch === FINAL_EPOCH) return { kind: 'sessionless', inputs: request.partitions }
      return { kind: 'full', inputs: request.partitions, privileged: request.privileged }
    }
    const session = this.#sessions.get(request.sessionId)
    if (session === undefined) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND }
    if (session.epoch !== request.sessionEpoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH }
    for (const input of request.partitions) {
      const key = keyOf(input.topic, input.partition)
      const cached = session.partitions.get(key)
      if (cached === undefined) session.partitions.set(key, { input, highWatermark: -1, logStartOffset: -1 })
      else cached.input = input
    }
    for (const { topic, partition } of request.forgotten) session.partitions.delete(keyOf(topic, partition))
    if (session.partitions.size === 0) {
      this.#sessions.delete(session.id)
      return { kind: 'sessionless', inputs: [] }
    }
    this.#touch(session)
    session.epoch = nextEpoch(session.epoch)
    return { kind: 'incremental', inputs: [...session.partitions.values()].map((p) => p.input), session }
  }

  /**
   * Shapes the fetched results into the answer: the session id to send and the partitions to
   * include. A full fetch opens its session here, from what the client is now told.
   */
  respond(context: Exclude<FetchContext, { kind: 'error' }>, results: FetchResult[]): { sessionId: number; results: FetchResult[] } {
    assert(results.length === context.inputs.length, 'one fetch result per input')
    if (context.kind === 'sessionless') return { sessionId: INVALID_SESSION_ID, results }
    if (context.kind === 'full') return { sessionId: this.#maybeCreate(context, results), results }
    const { session } = context
    const answered: FetchResult[] = []
    for (const result of results) {
      const key = keyOf(result.topic, result.partition)
      const cached = session.partitions.get(key)
      // Forgotten by a later request while this one long-polled: not the client's concern any more.
      if (cached === undefined) continue
      if (!mustRespond(cached, result)) continue
      answered.push(result)
      if (result.records !== null && result.records.length > 0) {
        session.partitions.delete(key)
        session.partitions.set(key, cached)
      }
    }
    return { sessionId: session.id, results: answered }
  }

  #maybeCreate(context: Extract<FetchContext, { kind: 'full' }>, results: FetchResult[]): number {
    if (this.#slotsMax === 0) return INVALID_SESSION_ID
    const now = this.#nowMs()
    const size = context.inputs.length
    if (this.#sessions.size >= this.#slotsMax && !this.#tryEvict(context.privileged, size, now)) return INVALID_SESSION_ID
    let id = this.#nextId()
    // Bounded: the cache holds at most slotsMax of the 2^31 - 1 ids.
    for (let attempt = 0; this.#sessions.has(id) || id <= 0; attempt++) {
      assert(attempt < 1000, 'no free fetch session id')
      id = this.#nextId()
    }
    const partitions = new Map<string, CachedPartition>()
    context.inputs.forEach((input, i) => {
      const cached: CachedPartition = { input, highWatermark: -1, logStartOffset: -1 }
      mustRespond(cached, results[i])
      partitions.set(keyOf(input.topic, input.partition), cached)
    })
    const session: FetchSession = {
      id,
      privileged: context.privileged,
      creationMs: now,
      lastUsedMs: now,
      epoch: nextEpoch(INITIAL_EPOCH),
      partitions,
      evictableByAll: false,
      evictableByPrivileged: false,
      sizeAtTouch: 0,
    }
    this.#sessions.set(id, session)
    this.#touch(session, now)
    this.#created++
    return id
  }

  #touch(session: FetchSession, now = this.#nowMs()): void {
    session.lastUsedMs = now
    // Map order is the last-used order: the first entry is the least recently used.
    this.#sessions.delete(session.id)
    this.#sessions.set(session.id, session)
    const old = now - session.creationMs > this.#evictionMs
    session.sizeAtTouch = session.partitions.size
    session.evictableByPrivileged = !session.privileged || old
    session.evictableByAll = old
  }

  /** Kafka's FetchSessionCache.tryEvict: a stale session first, else a less valuable evictable one. */
  #tryEvict(privileged: boolean, size: number, now: number): boolean {
    const leastRecent = this.#sessions.values().next()
    if (leastRecent.done === true) return false
    if (now - leastRecent.value.lastUsedMs > this.#evictionMs) {
      this.#evict(leastRecent.value)
      return true
    }
    let victim: FetchSession | undefined
    for (const s of this.#sessions.values()) {
      if (!(privileged ? s.evictableByPrivileged : s.evictableByAll)) continue
      if (victim === undefined || compareValue(s, victim) < 0) victim = s
    }
    // The new session (id 0 in Kafka's key) must be worth at least as much as the least valuable one.
    if (victim === undefined || compareValue({ privileged, sizeAtTouch: size, id: 0 }, victim) < 0) return false
    this.#evict(victim)
    return true
  }

  #evict(session: FetchSession): void {
    this.#sessions.delete(session.id)
    this.#evictions++
  }
}

/** Kafka's EvictableKey order: unprivileged first, then fewer partitions, then lower id. */
function compareValue(a: { privileged: boolean; sizeAtTouch: number; id: number }, b: { privileged: boolean; sizeAtTouch: number; id: number }): number {
  if (a.privileged !== b.privileged) return a.privileged ? 1 : -1
  if (a.sizeAtTouch !== b.sizeAtTouch) return a.sizeAtTouch - b.sizeAtTouch
  return a.id - b.id
}

/**
 * Kafka's CachedPartition.maybeUpdateResponseData: a partition is answered when it has records,
 * when its high watermark or log start moved since the client was last told, or with an error
 * (which forgets the high watermark, so the partition is answered again once the error clears).
 */
function mustRespond(cached: CachedPartition, result: FetchResult): boolean {
  let respond = result.records !== null && result.records.length > 0
  if (cached.highWatermark !== result.highWatermark) {
    respond = true
    cached.highWatermark = result.highWatermark
  }
  if (cached.logStartOffset !== result.logStartOffset) {
    respond = true
    cached.logStartOffset = result.logStartOffset
  }
  if (result.errorCode !== ErrorCode.NONE) {
    cached.highWatermark = -1
    respond = true
  }
  return respond
}
