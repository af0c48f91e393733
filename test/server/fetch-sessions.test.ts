import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import type { FetchInput, FetchResult } from '../../src/metadata/operations.js'
import { FetchSessionCache, nextEpoch, SESSION_EVICTION_MS, type FetchContext, type FetchSessionRequest } from '../../src/server/fetch-sessions.js'

function inputs(topic: string, count: number, fetchOffset = 0): FetchInput[] {
  return Array.from({ length: count }, (_, partition) => ({ topic, partition, fetchOffset, partitionMaxBytes: 1024 }))
}

/** What a partition answers: hw 10 and log start 0 unless said otherwise, records when given. */
function result(input: FetchInput, over: Partial<FetchResult> = {}): FetchResult {
  return { topic: input.topic, partition: input.partition, errorCode: ErrorCode.NONE, highWatermark: 10, lastStableOffset: 10, logStartOffset: 0, records: null, ...over }
}

function request(over: Partial<FetchSessionRequest>): FetchSessionRequest {
  return { version: 12, sessionId: 0, sessionEpoch: 0, privileged: false, partitions: [], forgotten: [], ...over }
}

/** A cache with a manual clock and ids 1, 2, 3, ... */
function cache(slotsMax: number): { sessions: FetchSessionCache; clock: { now: number } } {
  const clock = { now: 1_000_000 }
  let id = 0
  return { sessions: new FetchSessionCache({ slotsMax, nowMs: () => clock.now, nextId: () => ++id }), clock }
}

function ok(context: FetchContext): Exclude<FetchContext, { kind: 'error' }> {
  if (context.kind === 'error') throw new Error(`unexpected session error ${context.errorCode}`)
  return context
}

/** Opens a session over `count` partitions of `topic` with a full fetch; returns its id. */
function open(sessions: FetchSessionCache, topic: string, count: number, privileged = false): number {
  const context = ok(sessions.newContext(request({ partitions: inputs(topic, count), privileged })))
  expect(context.kind).toBe('full')
  return sessions.respond(context, context.inputs.map((i) => result(i))).sessionId
}

describe('fetch sessions (KIP-227)', () => {
  it('opens a session on a full fetch with epoch 0 and answers every partition', () => {
    const { sessions } = cache(10)
    const context = ok(sessions.newContext(request({ partitions: inputs('t', 3) })))
    const answer = sessions.respond(context, context.inputs.map((i) => result(i)))
    expect(answer.sessionId).toBe(1)
    expect(answer.results.map((r) => r.partition)).toEqual([0, 1, 2])
    expect(sessions.stats()).toMatchObject({ sessions: 1, partitions: 3 })
  })

  it('fetches every session partition on an incremental fetch and answers only those that changed', () => {
    const { sessions } = cache(10)
    const id = open(sessions, 't', 3)
    // Partition 1 moved on: the client names it with its new offset, and nothing else.
    const context = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 1, partitions: [{ topic: 't', partition: 1, fetchOffset: 5, partitionMaxBytes: 1024 }] })))
    expect(context.kind).toBe('incremental')
    expect(context.inputs.map((i) => [i.partition, i.fetchOffset])).toEqual([
      [0, 0],
      [1, 5],
      [2, 0],
    ])
    const records = Buffer.from('batch')
    const answer = sessions.respond(
      context,
      context.inputs.map((i) => result(i, i.partition === 0 ? { records } : i.partition === 2 ? { highWatermark: 11 } : {})),
    )
    expect(answer.sessionId).toBe(id)
    expect(answer.results.map((r) => r.partition)).toEqual([0, 2])
  })

  it('answers a partition with an error every time, and again once the error clears', () => {
    const { sessions } = cache(10)
    const id = open(sessions, 't', 1)
    const fetchAt = (epoch: number, over: Partial<FetchResult>) => {
      const context = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: epoch })))
      return sessions.respond(context, context.inputs.map((i) => result(i, over))).results.length
    }
    expect(fetchAt(1, {})).toBe(0)
    expect(fetchAt(2, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1 })).toBe(1)
    expect(fetchAt(3, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1 })).toBe(1)
    expect(fetchAt(4, {})).toBe(1)
    expect(fetchAt(5, {})).toBe(0)
  })

  it('moves partitions that returned records to the back of the fetch order', () => {
    const { sessions } = cache(10)
    const id = open(sessions, 't', 3)
    const context = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 1 })))
    sessions.respond(context, context.inputs.map((i) => result(i, i.partition === 0 ? { records: Buffer.from('b') } : {})))
    const next = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 2 })))
    expect(next.inputs.map((i) => i.partition)).toEqual([1, 2, 0])
  })

  it('drops forgotten partitions and closes a session left with none', () => {
    const { sessions } = cache(10)
    const id = open(sessions, 't', 2)
    const forgetOne = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 1, forgotten: [{ topic: 't', partition: 0 }] })))
    expect(forgetOne.inputs.map((i) => i.partition)).toEqual([1])
    const forgetAll = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 2, forgotten: [{ topic: 't', partition: 1 }] })))
    expect(forgetAll.kind).toBe('sessionless')
    expect(sessions.respond(forgetAll, []).sessionId).toBe(0)
    expect(sessions.has(id)).toBe(false)
  })

  it('answers FETCH_SESSION_ID_NOT_FOUND for an unknown session and INVALID_FETCH_SESSION_EPOCH for a wrong epoch, changing nothing', () => {
    const { sessions } = cache(10)
    const id = open(sessions, 't', 2)
    expect(sessions.newContext(request({ sessionId: id + 100, sessionEpoch: 1 }))).toEqual({ kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND })
    expect(sessions.newContext(request({ sessionId: id, sessionEpoch: 2, forgotten: [{ topic: 't', partition: 0 }] }))).toEqual({
      kind: 'error',
      errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH,
    })
    // The refused request forgot nothing and did not move the epoch.
    const context = ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 1 })))
    expect(context.inputs.map((i) => i.partition)).toEqual([0, 1])
  })

  it('refuses a replayed epoch, so two requests racing on one session cannot both use it', () => {
    const { sessions } = cache(10)
    const id = open(sessions, 't', 1)
    ok(sessions.newContext(request({ sessionId: id, sessionEpoch: 1 })))
    expect(sessions.newContext(request({ sessionId: id, sessionEpoch: 1 }))).toEqual({ kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH })
  })

  it('closes the named session on a full fetch: epoch -1 opens none, epoch 0 a new one', () => {
    const { sessions } = cache(10)
    const first = open(sessions, 't', 1)
    const final = ok(sessions.newContext(request({ sessionId: first, sessionEpoch: -1, partitions: inputs('t', 1) })))
    expect(final.kind).toBe('sessionless')
    expect(sessions.respond(final, final.inputs.map((i) => result(i))).sessionId).toBe(0)
    expect(sessions.has(first)).toBe(false)
    const second = open(sessions, 't', 1)
    const reopened = ok(sessions.newContext(request({ sessionId: second, sessionEpoch: 0, partitions: inputs('t', 1) })))
    const third = sessions.respond(reopened, reopened.inputs.map((i) => result(i))).sessionId
    expect(sessions.has(second)).toBe(false)
    expect(sessions.has(third)).toBe(true)
  })

  it('never opens a session below Fetch v7, whatever the request says', () => {
    const { sessions } = cache(10)
    const context = ok(sessions.newContext(request({ version: 6, partitions: inputs('t', 1) })))
    expect(sessions.respond(context, context.inputs.map((i) => result(i))).sessionId).toBe(0)
    expect(sessions.stats().sessions).toBe(0)
  })

  it('opens no session once the slots are full of young sessions no larger than the new one', () => {
    const { sessions, clock } = cache(2)
    open(sessions, 'a', 5)
    open(sessions, 'b', 5)
    clock.now += 1_000
    expect(open(sessions, 'c', 5)).toBe(0)
    expect(sessions.stats()).toMatchObject({ sessions: 2, evictions: 0 })
  })

  it('evicts the least recently used session once it has been idle longer than the eviction time', () => {
    const { sessions, clock } = cache(2)
    const a = open(sessions, 'a', 5)
    const b = open(sessions, 'b', 5)
    clock.now += SESSION_EVICTION_MS - 1
    ok(sessions.newContext(request({ sessionId: a, sessionEpoch: 1 })))
    clock.now += 2
    const c = open(sessions, 'c', 1)
    expect(c).not.toBe(0)
    expect(sessions.has(b)).toBe(false)
    expect(sessions.has(a)).toBe(true)
    expect(sessions.stats().evictions).toBe(1)
  })

  it('lets a larger session evict a smaller one that has lived past the eviction time, but not a young one', () => {
    const { sessions, clock } = cache(2)
    const small = open(sessions, 'small', 2)
    const big = open(sessions, 'big', 9)
    clock.now += SESSION_EVICTION_MS + 1
    // Both used just now (not stale), and both older than the eviction time at that use.
    ok(sessions.newContext(request({ sessionId: small, sessionEpoch: 1 })))
    ok(sessions.newContext(request({ sessionId: big, sessionEpoch: 1 })))
    expect(open(sessions, 'equal', 2)).toBe(0)
    const larger = open(sessions, 'larger', 3)
    expect(larger).not.toBe(0)
    expect(sessions.has(small)).toBe(false)
    expect(sessions.has(big)).toBe(true)
    // The new session is young: a still larger one cannot take its slot, and big is worth more.
    expect(open(sessions, 'huge', 5)).toBe(0)
  })

  it("lets a follower's session evict a young consumer session, and never the reverse", () => {
    const { sessions } = cache(1)
    const consumer = open(sessions, 'c', 50)
    const follower = open(sessions, 'f', 1, true)
    expect(follower).not.toBe(0)
    expect(sessions.has(consumer)).toBe(false)
    expect(open(sessions, 'c', 50)).toBe(0)
  })

  it('opens no session at all with zero slots', () => {
    const { sessions } = cache(0)
    expect(open(sessions, 't', 1)).toBe(0)
  })

  it('steps epochs as Kafka does, wrapping to 1 after the largest int32', () => {
    expect(nextEpoch(1)).toBe(2)
    expect(nextEpoch(2_147_483_647)).toBe(1)
    expect(nextEpoch(-1)).toBe(-1)
  })
})
