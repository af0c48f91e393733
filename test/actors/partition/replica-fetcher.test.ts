import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../src/common/clock.js'
import { ErrorCode } from '../../../src/common/error-codes.js'
import {
  REPLICA_FETCH_PARTITIONS_MAX,
  REPLICA_FETCH_SERVER_ID,
  ReplicaFetchers,
  type FollowingReplica,
  type ReplicaFetchBatch,
  type ReplicaFetchReply,
} from '../../../src/actors/partition/replica-fetcher.js'
import type { FollowerFetchRequest, FollowerFetchResponse } from '../../../src/actors/partition/replica-types.js'

/** A follower replica that asks from its log end and records every answer it is given. */
class FakeFollower implements FollowingReplica {
  logEndOffset = 0
  following = true
  backoffMs = 0
  readonly applied: FollowerFetchResponse[] = []

  nextFollowerFetch(): FollowerFetchRequest | null {
    if (!this.following) return null
    return { type: 'fetch', leaderId: 0, leaderEpoch: 1, replicaId: 1, fetchOffset: this.logEndOffset, maxBytes: 1024, maxWaitMs: 500, minBytes: 1 }
  }

  applyLeaderFetch(response: FollowerFetchResponse): number {
    this.applied.push(response)
    if (response.request.type === 'fetch' && response.result.errorCode === ErrorCode.NONE) this.logEndOffset += (response.result as { records: Buffer | null }).records?.length ?? 0
    return this.backoffMs
  }
}

interface Asked {
  shard: number
  id: string
  batch: ReplicaFetchBatch
  answer(reply: ReplicaFetchReply, payload?: Buffer): void
  fail(error: Error): void
}

/** ReplicaFetchers over a fake cross-shard transport: each request waits until the test answers it. */
function harness(): { fetchers: ReplicaFetchers; clock: ManualClock; asked: Asked[]; told: unknown[]; next(): Promise<Asked> } {
  const clock = new ManualClock()
  const asked: Asked[] = []
  const told: unknown[] = []
  const waiters: Array<() => void> = []
  const fetchers = new ReplicaFetchers({
    shard: 1,
    clock,
    request: (shard, id, message) =>
      new Promise((resolve, reject) => {
        asked.push({ shard, id, batch: message as ReplicaFetchBatch, answer: (reply, payload) => resolve({ message: reply, payload }), fail: reject })
        waiters.splice(0).forEach((wake) => wake())
      }),
    send: (_shard, _id, message) => told.push(message),
    crashOnInvariantViolation: () => undefined,
  })
  let taken = 0
  const next = async (): Promise<Asked> => {
    // Bounded: a request the fetcher never makes fails the test by its timeout, not a hang here.
    while (asked.length <= taken) await new Promise<void>((wake) => waiters.push(wake))
    return asked[taken++]
  }
  return { fetchers, clock, asked, told, next }
}

const ok = { errorCode: ErrorCode.NONE, highWatermark: 0, lastStableOffset: 0, logStartOffset: 0, logEndOffset: 10 }

describe('replica fetchers', () => {
  it('asks for every follower of one leader shard in one request, and gives each its own records', async () => {
    const h = harness()
    const a = new FakeFollower()
    const b = new FakeFollower()
    h.fetchers.follow(0, 't', 0, a)
    h.fetchers.follow(0, 't', 1, b)
    const first = await h.next()
    expect(first.shard).toBe(0)
    expect(first.id).toBe(REPLICA_FETCH_SERVER_ID)
    // The first follower's request left before the second joined; the second's joining cancelled it.
    expect(first.batch.entries.map((e) => e.partition)).toEqual([0])
    expect(h.told).toEqual([{ op: 'cancelReplicaFetch', fromShard: 1, batchId: first.batch.batchId }])
    first.answer({ results: [{ result: ok, recordsBytes: 0 }] })
    const second = await h.next()
    expect(second.batch.entries.map((e) => [e.topic, e.partition])).toEqual([['t', 0], ['t', 1]])
    second.answer({ results: [{ result: ok, recordsBytes: 3 }, { result: ok, recordsBytes: 5 }] }, Buffer.from('aaabbbbb'))
    const third = await h.next()
    expect(a.applied.at(-1)?.result).toMatchObject({ records: Buffer.from('aaa') })
    expect(b.applied.at(-1)?.result).toMatchObject({ records: Buffer.from('bbbbb') })
    expect(third.batch.entries.map((e) => (e.request.type === 'fetch' ? e.request.fetchOffset : -1))).toEqual([3, 5])
    expect(h.asked).toHaveLength(3)
  })

  it('keeps separate requests for followers of different leader shards', async () => {
    const h = harness()
    h.fetchers.follow(0, 't', 0, new FakeFollower())
    h.fetchers.follow(2, 't', 1, new FakeFollower())
    const [x, y] = [await h.next(), await h.next()]
    expect([x.shard, y.shard].sort()).toEqual([0, 2])
    expect(h.told).toEqual([])
  })

  it('leaves a follower that got an error out of the batches until its backoff has passed', async () => {
    const h = harness()
    const slow = new FakeFollower()
    const fast = new FakeFollower()
    h.fetchers.follow(0, 't', 0, fast)
    ;(await h.next()).answer({ results: [{ result: ok, recordsBytes: 0 }] })
    h.fetchers.follow(0, 't', 1, slow)
    slow.backoffMs = 1_000
    const both = await h.next()
    expect(both.batch.entries).toHaveLength(2)
    both.answer({ results: [{ result: ok, recordsBytes: 0 }, { result: { ...ok, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }, recordsBytes: 0 }] })
    const alone = await h.next()
    expect(alone.batch.entries.map((e) => e.partition)).toEqual([0])
    h.clock.advance(1_000)
    alone.answer({ results: [{ result: ok, recordsBytes: 0 }] })
    const again = await h.next()
    expect(again.batch.entries.map((e) => e.partition).sort()).toEqual([0, 1])
  })

  it('drops the answer of a follower that stopped following while its batch was out, and stops asking for it', async () => {
    const h = harness()
    const leaving = new FakeFollower()
    const staying = new FakeFollower()
    const membership = h.fetchers.follow(0, 't', 0, leaving)
    ;(await h.next()).answer({ results: [{ result: ok, recordsBytes: 0 }] })
    h.fetchers.follow(0, 't', 1, staying)
    const batch = await h.next()
    expect(batch.batch.entries).toHaveLength(2)
    const answersBefore = leaving.applied.length
    membership.stop()
    batch.answer({ results: [{ result: ok, recordsBytes: 2 }, { result: ok, recordsBytes: 0 }] }, Buffer.from('zz'))
    const next = await h.next()
    expect(leaving.applied).toHaveLength(answersBefore)
    expect(next.batch.entries.map((e) => e.partition)).toEqual([1])
  })

  it('asks a leader shard that could not be reached again, and ends once no follower is left', async () => {
    const h = harness()
    const follower = new FakeFollower()
    h.fetchers.follow(0, 't', 0, follower)
    ;(await h.next()).fail(new Error('shard 0 died'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(h.asked).toHaveLength(1)
    h.clock.advance(50)
    const retry = await h.next()
    follower.following = false
    retry.answer({ results: [{ result: ok, recordsBytes: 0 }] })
    await new Promise((resolve) => setImmediate(resolve))
    expect(h.asked).toHaveLength(2)
  })

  it('holds at most REPLICA_FETCH_PARTITIONS_MAX partitions in a batch, and the rest take their turn next', async () => {
    const h = harness()
    const count = REPLICA_FETCH_PARTITIONS_MAX + 10
    h.fetchers.follow(0, 't', 0, new FakeFollower())
    const first = await h.next()
    for (let p = 1; p < count; p++) h.fetchers.follow(0, 't', p, new FakeFollower())
    first.answer({ results: [{ result: ok, recordsBytes: 0 }] })
    const full = await h.next()
    expect(full.batch.entries).toHaveLength(REPLICA_FETCH_PARTITIONS_MAX)
    full.answer({ results: full.batch.entries.map(() => ({ result: ok, recordsBytes: 0 })) })
    const rest = await h.next()
    const seen = new Set([...full.batch.entries, ...rest.batch.entries].map((e) => e.partition))
    expect(seen.size).toBe(count)
  })
})
