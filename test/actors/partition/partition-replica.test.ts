import { afterEach, describe, expect, it } from 'vitest'
import { fetchReadBuffers } from '../../../src/common/buffer-pool.js'
import { ErrorCode } from '../../../src/common/error-codes.js'
import { decodeRecords, iterateBatches } from '../../../src/records/record-batch.js'
import type { PartitionReplica } from '../../../src/actors/partition/partition-replica.js'
import { batch, cluster, pumpOnce, pumpUntilCaughtUp, type Cluster } from './replica-harness.js'

function values(records: Buffer | null): string[] {
  if (records === null) return []
  const out: string[] = []
  for (const { pos } of iterateBatches(records)) {
    for (const r of decodeRecords(records, pos)) out.push(r.value!.toString())
  }
  return out
}

async function consume(replica: PartitionReplica, fetchOffset: number, maxWaitMs = 0) {
  return replica.fetch({ replicaId: -1, fetchOffset, maxBytes: 1 << 20, maxWaitMs, minBytes: 1 })
}

/** Settles promise continuations queued by synchronous completions. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

let c: Cluster
afterEach(async () => {
  await c?.close()
})

describe('partition replica: leader', () => {
  it('answers acks=1 at once, but acks=-1 only after the follower has fetched past the records', async () => {
    c = cluster()
    const leader = await c.open(1)
    const follower = await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    follower.becomeFollower({ leaderId: 1, leaderEpoch: 1 })

    const one = await leader.produce(batch('a', 2), 1, 30_000)
    expect(one).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(leader.highWatermark).toBe(0)

    let all: Awaited<ReturnType<PartitionReplica['produce']>> | null = null
    void leader.produce(batch('b', 1), -1, 30_000).then((r) => (all = r))
    await settle()
    expect(all).toBeNull()
    // An empty follower has no epoch to truncate by: its first turn fetches offsets 0..2.
    expect(follower.nextFollowerFetch()).toMatchObject({ type: 'fetch', fetchOffset: 0 })
    await pumpOnce(follower, leader)
    expect(follower.logEndOffset).toBe(3)
    await settle()
    expect(all).toBeNull() // the leader learns the follower has them only on its next fetch
    await pumpOnce(follower, leader)
    await settle()
    expect(all).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 })
    expect(leader.highWatermark).toBe(3)
  })

  it('assigns a produced batch its offsets whatever base offset the producer wrote, even one past 2^53', async () => {
    // Found by the fuzzer: base + lastOffsetDelta lost the delta in float64 and the log's span
    // disagreed with the batch's own count, failing an assertion that killed the shard.
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    const records = batch('far', 2)
    records.writeBigInt64BE(2n ** 62n, 0)
    // The base offset lies outside the CRC, so the batch is still intact.
    expect(await leader.produce(records, 1, 1000)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(await leader.produce(batch('next'), 1, 1000)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 })
    expect(leader.logEndOffset).toBe(3)
  })

  it('refuses acks=-1 with NOT_ENOUGH_REPLICAS before appending when the ISR is below min.insync.replicas', async () => {
    c = cluster()
    const leader = await c.open(1, { minInsyncReplicas: 2 })
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1] })
    const result = await leader.produce(batch('a'), -1, 1000)
    expect(result.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)
    expect(leader.logEndOffset).toBe(0)
    // acks=1 is not subject to min.insync.replicas.
    expect((await leader.produce(batch('a'), 1, 1000)).errorCode).toBe(ErrorCode.NONE)
  })

  it('drops a follower lagging beyond replica.lag.time.max.ms from the ISR, and acks=-1 then completes', async () => {
    c = cluster()
    const leader = await c.open(1, { replicaLagTimeMaxMs: 10_000 })
    await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    let result: Awaited<ReturnType<PartitionReplica['produce']>> | null = null
    void leader.produce(batch('a'), -1, 60_000).then((r) => (result = r))
    c.clock.advance(9_000)
    await settle()
    expect(result).toBeNull()
    expect(leader.stats().isr).toEqual([1, 2])
    c.clock.advance(6_000) // the lag check runs every 5 s; past 10 s without catching up
    await settle()
    expect(leader.stats().isr).toEqual([1])
    expect(c.isrChanges).toEqual([{ brokerId: 1, isr: [1] }])
    expect(result).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(leader.highWatermark).toBe(1)
  })

  it('times out acks=-1 with REQUEST_TIMED_OUT and keeps the records', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    const pending = leader.produce(batch('a'), -1, 1_000)
    c.clock.advance(1_000)
    expect((await pending).errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT)
    expect(leader.logEndOffset).toBe(1)
  })

  it('times out acks=-1 at once but keeps the records when timeoutMs is 0 or below, as Kafka does', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    const pending = [0, -1, -(2 ** 31)].map((timeoutMs, i) => leader.produce(batch(`t${i}`), -1, timeoutMs))
    c.clock.advance(0)
    for (const answer of await Promise.all(pending)) expect(answer.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT)
    expect(leader.logEndOffset).toBe(3)
  })

  it('answers acks=-1 at once whatever its timeout when the ISR is the leader alone', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    for (const [i, timeoutMs] of [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1].entries()) {
      expect(await leader.produce(batch(`t${i}`), -1, timeoutMs)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: i })
    }
  })

  it("answers a follower's parked fetch once a turn with every batch appended in it, and the acks=-1 produces on the follower's next fetch", async () => {
    c = cluster()
    const wakes: Array<() => void> = []
    const leader = await c.open(1, {}, { deferFollowerWake: (wake) => wakes.push(wake) })
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    const followerFetch = (fetchOffset: number) =>
      leader.fetch({ replicaId: 2, fetchOffset, maxBytes: 1 << 20, maxWaitMs: 500, minBytes: 1, currentLeaderEpoch: 1 })
    let parked: Awaited<ReturnType<typeof followerFetch>> | null = null
    void followerFetch(0).then((r) => (parked = r))
    const acks: number[] = []
    void leader.produce(batch('a'), -1, 30_000).then((r) => acks.push(r.baseOffset))
    void leader.produce(batch('b'), -1, 30_000).then((r) => acks.push(r.baseOffset))
    await settle()
    // Both appends happened in this turn; the follower hears of them once, when it is over.
    expect(parked).toBeNull()
    expect(wakes).toHaveLength(1)
    wakes.shift()!()
    await settle()
    expect(values(parked!.records)).toEqual(['a-0', 'b-0'])
    expect(acks).toEqual([])
    // The next fetch says the follower holds both: the HW moves and both produces are answered.
    void followerFetch(2)
    await settle()
    expect(leader.highWatermark).toBe(2)
    expect(acks).toEqual([0, 1])
    expect(wakes).toHaveLength(0)
  })

  it('keeps a long-poll of 2^31-1 ms parked until records arrive', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    let answer: Awaited<ReturnType<typeof consume>> | null = null
    void consume(leader, 0, 2 ** 31 - 1).then((r) => (answer = r))
    c.clock.advance(1_000_000)
    await settle()
    expect(answer).toBeNull()
    await leader.produce(batch('late'), 1, 1000)
    await settle()
    expect(answer).not.toBeNull()
    expect(values(answer!.records)).toEqual(['late-0'])
  })

  it('releases acks=-1 waiters when the supervisor removes a dead follower from the ISR', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3] })
    const pending = leader.produce(batch('a'), -1, 60_000)
    leader.removeFromIsr(2)
    leader.removeFromIsr(3)
    expect(await pending).toMatchObject({ errorCode: ErrorCode.NONE })
    expect(c.isrChanges.map((x) => x.isr)).toEqual([[1, 3], [1]])
  })

  it('lets a follower dropped from the ISR hold the high watermark back until the controller has stored the smaller ISR', async () => {
    c = cluster()
    const leader = await c.open(1, { replicaLagTimeMaxMs: 10_000 }, { isrChangesStored: true })
    await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    let result: Awaited<ReturnType<PartitionReplica['produce']>> | null = null
    void leader.produce(batch('a'), -1, 60_000).then((r) => (result = r))
    c.clock.advance(15_000) // follower 2 never fetched: the lag check drops it
    await settle()
    expect(c.isrChanges).toEqual([{ brokerId: 1, isr: [1] }])
    // Until the controller stores [1], it may still elect broker 2, which lacks the record.
    expect(result).toBeNull()
    expect(leader.highWatermark).toBe(0)
    leader.isrStored(0, [1]) // an answer about an older epoch changes nothing
    await settle()
    expect(result).toBeNull()
    c.clock.advance(5_000) // the next lag check reports the unstored removal again
    expect(c.isrChanges).toEqual([{ brokerId: 1, isr: [1] }, { brokerId: 1, isr: [1] }])
    leader.isrStored(1, [1])
    await settle()
    expect(result).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(leader.highWatermark).toBe(1)
  })

  it('answers NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrinks below the minimum while acks=-1 waits', async () => {
    c = cluster()
    const leader = await c.open(1, { minInsyncReplicas: 2 })
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3] })
    const pending = leader.produce(batch('a'), -1, 60_000)
    leader.removeFromIsr(2)
    leader.removeFromIsr(3)
    expect((await pending).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    expect(leader.logEndOffset).toBe(1)
  })

  it('wakes a long-polling consumer on append, and answers an idle one with no records at maxWaitMs', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    const waiting = consume(leader, 0, 500)
    let done = false
    void waiting.then(() => (done = true))
    c.clock.advance(100)
    await settle()
    expect(done).toBe(false)
    await leader.produce(batch('a', 2), 1, 1000)
    const woken = await waiting
    expect(values(woken.records)).toEqual(['a-0', 'a-1'])
    expect(woken.highWatermark).toBe(2)

    const idle = consume(leader, 2, 500)
    c.clock.advance(499)
    await settle()
    let idleDone = false
    void idle.then(() => (idleDone = true))
    await settle()
    expect(idleDone).toBe(false)
    c.clock.advance(1)
    expect(await idle).toMatchObject({ errorCode: ErrorCode.NONE, records: null, highWatermark: 2 })
  })

  it('answers a cancelled long-poll at once', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    const controller = new AbortController()
    const waiting = leader.fetch({ replicaId: -1, fetchOffset: 0, maxBytes: 1000, maxWaitMs: 60_000, minBytes: 1, signal: controller.signal })
    controller.abort()
    expect(await waiting).toMatchObject({ errorCode: ErrorCode.NONE, records: null })
  })

  it('never lets consumers read past the high watermark', async () => {
    c = cluster()
    const leader = await c.open(1)
    const follower = await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    follower.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    await leader.produce(batch('a', 3), 1, 1000)
    expect(await consume(leader, 0)).toMatchObject({ errorCode: ErrorCode.NONE, records: null, highWatermark: 0 })
    expect(leader.listOffsets(-1).offset).toBe(0)
    await pumpUntilCaughtUp(follower, leader)
    await leader.produce(batch('b', 1), 1, 1000)
    const read = await consume(leader, 0)
    expect(read.highWatermark).toBe(3)
    expect(values(read.records)).toEqual(['a-0', 'a-1', 'a-2'])
    expect(await consume(leader, 3)).toMatchObject({ errorCode: ErrorCode.NONE, records: null })
    // Beyond the log end is out of range; between HW and log end is merely empty.
    expect((await consume(leader, 5)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
  })

  it('refuses produce and consumer fetch on a follower with NOT_LEADER_OR_FOLLOWER', async () => {
    c = cluster()
    const follower = await c.open(2)
    follower.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    expect((await follower.produce(batch('a'), 1, 1000)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect((await consume(follower, 0)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
  })

  it('lists offsets and deletes records within the high watermark', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 3, replicas: [1], isr: [1] })
    await leader.produce(batch('a', 2, { timestampMs: 1000 }), 1, 1000)
    await leader.produce(batch('b', 2, { timestampMs: 2000 }), 1, 1000)
    expect(leader.listOffsets(-2)).toMatchObject({ offset: 0, leaderEpoch: 3 })
    expect(leader.listOffsets(-1)).toMatchObject({ offset: 4 })
    expect(leader.listOffsets(1500)).toMatchObject({ offset: 2, timestamp: 2000 })
    expect(leader.listOffsets(5000)).toMatchObject({ offset: -1 })
    expect(leader.deleteRecords(5).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(leader.deleteRecords(2)).toEqual({ errorCode: ErrorCode.NONE, lowWatermark: 2 })
    expect((await consume(leader, 0)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    expect(leader.deleteRecords(-1)).toEqual({ errorCode: ErrorCode.NONE, lowWatermark: 4 })
  })
})

describe('partition replica: idempotent producers', () => {
  const pid = { producerId: 42, producerEpoch: 0 }

  it('stores a duplicate once and answers it with the original offset; refuses gaps and stale epochs', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    expect(await leader.produce(batch('a', 2, { ...pid, baseSequence: 0 }), 1, 1000)).toMatchObject({ baseOffset: 0 })
    expect(await leader.produce(batch('b', 1, { ...pid, baseSequence: 2 }), 1, 1000)).toMatchObject({ baseOffset: 2 })
    const dup = await leader.produce(batch('a', 2, { ...pid, baseSequence: 0 }), 1, 1000)
    expect(dup).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(leader.logEndOffset).toBe(3)
    const gap = await leader.produce(batch('c', 1, { ...pid, baseSequence: 5 }), 1, 1000)
    expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    await leader.produce(batch('d', 1, { producerId: 42, producerEpoch: 1, baseSequence: 0 }), 1, 1000)
    const stale = await leader.produce(batch('e', 1, { ...pid, baseSequence: 3 }), 1, 1000)
    expect(stale.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect(leader.logEndOffset).toBe(4)
  })

  it('refuses a damaged copy of a stored batch as corrupt rather than as a duplicate', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    expect(await leader.produce(batch('a', 2, { ...pid, baseSequence: 0 }), 1, 1000)).toMatchObject({ errorCode: ErrorCode.NONE })
    const damaged = batch('a', 2, { ...pid, baseSequence: 0 })
    damaged[damaged.length - 1] ^= 0xff
    expect((await leader.produce(damaged, 1, 1000)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(leader.logEndOffset).toBe(2)
  })

  it('keeps producer state across a restart, from the snapshot and from the log alone', async () => {
    c = cluster()
    let leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    await leader.produce(batch('a', 1, { ...pid, baseSequence: 0 }), 1, 1000)
    await leader.close()
    // Written after the snapshot: only replay can know of it.
    leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 2, replicas: [1], isr: [1] })
    await leader.produce(batch('b', 1, { ...pid, baseSequence: 1 }), 1, 1000)
    await leader.close()

    for (const withSnapshot of [true, false]) {
      if (!withSnapshot) {
        const { rmSync } = await import('node:fs')
        const { join } = await import('node:path')
        rmSync(join(c.root, 'broker-1', 'topic-0', 'producer-state.snapshot'))
      }
      leader = await c.open(1)
      leader.becomeLeader({ leaderEpoch: 3, replicas: [1], isr: [1] })
      expect(await leader.produce(batch('a', 1, { ...pid, baseSequence: 0 }), 1, 1000)).toMatchObject({ baseOffset: 0 })
      expect(await leader.produce(batch('b', 1, { ...pid, baseSequence: 1 }), 1, 1000)).toMatchObject({ baseOffset: 1 })
      expect((await leader.produce(batch('c', 1, { ...pid, baseSequence: 3 }), 1, 1000)).errorCode).toBe(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      )
      expect(leader.logEndOffset).toBe(2)
      await leader.close()
    }
  })
})

describe('partition replica: three replicas and a leader change', () => {
  it('truncates the old leader’s unreplicated tail by epoch and converges byte for byte', async () => {
    c = cluster()
    const [r1, r2, r3] = [await c.open(1), await c.open(2), await c.open(3)]
    const pid = { producerId: 7, producerEpoch: 0 }
    r1.becomeLeader({ leaderEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3] })
    r2.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    r3.becomeFollower({ leaderId: 1, leaderEpoch: 1 })

    const acked = r1.produce(batch('a', 2, { ...pid, baseSequence: 0 }), -1, 30_000)
    await pumpUntilCaughtUp(r2, r1)
    await pumpUntilCaughtUp(r3, r1)
    await pumpOnce(r2, r1)
    expect(await acked).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(r1.highWatermark).toBe(2)

    // An unreplicated tail on the leader: acks=1, then the leader dies before anyone fetches it.
    await r1.produce(batch('lost', 3), 1, 30_000)
    expect(r1.logEndOffset).toBe(5)

    // Broker 2 is elected with a newer epoch and takes writes of its own.
    r2.becomeLeader({ leaderEpoch: 2, replicas: [1, 2, 3], isr: [2, 3] })
    r3.becomeFollower({ leaderId: 2, leaderEpoch: 2 })
    await r2.produce(batch('new', 2), 1, 30_000)
    await pumpUntilCaughtUp(r3, r2)

    // The old leader comes back as a follower: KIP-101 truncation, then replication.
    r1.becomeFollower({ leaderId: 2, leaderEpoch: 2 })
    const request = r1.nextFollowerFetch()
    expect(request).toMatchObject({ type: 'epochEndOffset', epoch: 1 })
    await pumpOnce(r1, r2)
    expect(r1.logEndOffset).toBe(2) // the 'lost' tail is gone
    await pumpUntilCaughtUp(r1, r2)
    await pumpOnce(r3, r2)
    expect(r2.stats().isr).toEqual([1, 2, 3])

    const all = async (r: PartitionReplica) => r.log.read(0, 1 << 20).records
    const bytes2 = await all(r2)
    expect(values(bytes2)).toEqual(['a-0', 'a-1', 'new-0', 'new-1'])
    expect(Buffer.compare((await all(r1))!, bytes2!)).toBe(0)
    expect(Buffer.compare((await all(r3))!, bytes2!)).toBe(0)
    expect(r1.highWatermark).toBe(r2.highWatermark)

    // Producer state moved with the leadership: the first batch is still a duplicate on broker 2,
    // and on broker 1 after it rebuilt its state from the truncated log.
    const dup = await r2.produce(batch('a', 2, { ...pid, baseSequence: 0 }), -1, 30_000)
    expect(dup).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(r2.logEndOffset).toBe(4)
    r1.becomeLeader({ leaderEpoch: 3, replicas: [1, 2, 3], isr: [1, 2, 3] })
    const dupOn1 = await r1.produce(batch('a', 2, { ...pid, baseSequence: 0 }), 1, 30_000)
    expect(dupOn1).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(r1.logEndOffset).toBe(4)
  })

  it('answers epochEndOffset from the leader-epoch cache', async () => {
    c = cluster()
    const r1 = await c.open(1)
    r1.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    await r1.produce(batch('a', 2), 1, 1000)
    r1.becomeLeader({ leaderEpoch: 4, replicas: [1], isr: [1] })
    await r1.produce(batch('b', 1), 1, 1000)
    expect(r1.epochEndOffset(1)).toEqual({ errorCode: ErrorCode.NONE, epoch: 1, endOffset: 2 })
    expect(r1.epochEndOffset(3)).toEqual({ errorCode: ErrorCode.NONE, epoch: 1, endOffset: 2 })
    expect(r1.epochEndOffset(4)).toEqual({ errorCode: ErrorCode.NONE, epoch: 4, endOffset: 3 })
  })
})

describe('partition replica: upkeep and follower details', () => {
  it('starts a new leadership at the high watermark it recorded before a restart', async () => {
    c = cluster()
    let leader = await c.open(1)
    const follower = await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    follower.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    await leader.produce(batch('a', 3), 1, 1000)
    await pumpUntilCaughtUp(follower, leader)
    expect(leader.highWatermark).toBe(3)
    await leader.close()
    c.replicas.delete(1)
    leader = await c.open(1)
    expect(leader.highWatermark).toBe(3)
    leader.becomeLeader({ leaderEpoch: 2, replicas: [1, 2], isr: [1, 2] })
    // The follower's position is unknown to the new leadership, yet committed records stay readable.
    expect(values((await consume(leader, 0)).records)).toEqual(['a-0', 'a-1', 'a-2'])
  })

  it('forgets producers idle past producer.id.expiration.ms on housekeeping', async () => {
    c = cluster()
    const leader = await c.open(1, { producerIdExpirationMs: 60_000 })
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    const pid = { producerId: 9, producerEpoch: 0, timestampMs: c.clock.nowMs() }
    await leader.produce(batch('a', 1, { ...pid, baseSequence: 0 }), 1, 1000)
    expect((await leader.produce(batch('b', 1, { ...pid, baseSequence: 5 }), 1, 1000)).errorCode).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    )
    c.clock.advance(59_999)
    await leader.housekeeping()
    expect(leader.stats().producerCount).toBe(1)
    c.clock.advance(1)
    await leader.housekeeping()
    expect(leader.stats().producerCount).toBe(0)
    // Unknown again, so any sequence is accepted (KIP-360).
    expect((await leader.produce(batch('b', 1, { ...pid, baseSequence: 5 }), 1, 1000)).errorCode).toBe(ErrorCode.NONE)
  })

  it('moves a follower’s log start with the leader’s and adopts its high watermark', async () => {
    c = cluster()
    const leader = await c.open(1)
    const follower = await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    follower.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    await leader.produce(batch('a', 4), 1, 1000)
    await pumpUntilCaughtUp(follower, leader)
    expect(leader.deleteRecords(3)).toEqual({ errorCode: ErrorCode.NONE, lowWatermark: 3 })
    await pumpOnce(follower, leader)
    expect(follower.stats()).toMatchObject({ logStartOffset: 3, highWatermark: 4, logEndOffset: 4, role: 'follower' })
  })

  it('ignores a leader answer to a request from an earlier leadership', async () => {
    c = cluster()
    const leader = await c.open(1)
    const follower = await c.open(2)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    follower.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    await leader.produce(batch('a', 2), 1, 1000)
    const request = follower.nextFollowerFetch()!
    expect(request.type).toBe('fetch')
    const result = await leader.fetch(request as Extract<typeof request, { type: 'fetch' }>)
    follower.becomeFollower({ leaderId: 3, leaderEpoch: 2 })
    follower.applyLeaderFetch({ request: request as Extract<typeof request, { type: 'fetch' }>, result })
    expect(follower.logEndOffset).toBe(0)
  })

  it('fences epoch and fetch requests that carry another leader epoch', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 5, replicas: [1, 2], isr: [1, 2] })
    expect(leader.epochEndOffset(4, 4).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect(leader.epochEndOffset(4, 6).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
    const fetch = { replicaId: 2, fetchOffset: 0, maxBytes: 1000, maxWaitMs: 0, minBytes: 1 }
    expect((await leader.fetch({ ...fetch, currentLeaderEpoch: 4 })).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect((await leader.fetch({ ...fetch, currentLeaderEpoch: 6 })).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
    expect((await leader.fetch({ ...fetch, replicaId: 7 })).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect((await leader.fetch({ ...fetch, currentLeaderEpoch: 5 })).errorCode).toBe(ErrorCode.NONE)
  })

  it('answers waiting produces and fetches with NOT_LEADER_OR_FOLLOWER when leadership moves', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    const produce = leader.produce(batch('a'), -1, 60_000)
    const fetch = consume(leader, 1, 60_000)
    leader.becomeFollower({ leaderId: 2, leaderEpoch: 2 })
    expect((await produce).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect((await fetch).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
  })
})

describe('partition replica: edges', () => {
  it('holds a fetch until minBytes are available', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    const one = batch('a')
    const waiting = leader.fetch({ replicaId: -1, fetchOffset: 0, maxBytes: 1 << 20, maxWaitMs: 1000, minBytes: one.length + 1 })
    let done = false
    void waiting.then(() => (done = true))
    await leader.produce(one, 1, 1000)
    await settle()
    expect(done).toBe(false)
    await leader.produce(batch('b'), 1, 1000)
    expect(values((await waiting).records)).toEqual(['a-0', 'b-0'])
  })

  it("reads consumer and follower fetches alike into buffers lent by the fetch pool (the follower's comes back once the ring copied it)", async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1] })
    // About 100 KiB: a read the pool serves.
    await leader.produce(batch('x'.repeat(100), 1000), 1, 1000)
    const consumer = await leader.fetch({ replicaId: -1, fetchOffset: 0, maxBytes: 1 << 20, maxWaitMs: 0, minBytes: 1 })
    expect(consumer.errorCode).toBe(ErrorCode.NONE)
    expect(fetchReadBuffers.isLent(consumer.records!)).toBe(true)
    fetchReadBuffers.give(consumer.records!)
    // The follower's answer crosses to another shard; the shard's ring gives it back once copied.
    const follower = await leader.fetch({ replicaId: 2, fetchOffset: 0, maxBytes: 1 << 20, maxWaitMs: 0, minBytes: 1, currentLeaderEpoch: 1 })
    expect(follower.errorCode).toBe(ErrorCode.NONE)
    expect(follower.records!.length).toBe(consumer.records!.length)
    expect(fetchReadBuffers.isLent(follower.records!)).toBe(true)
    fetchReadBuffers.give(follower.records!)
  })

  it('answers bytes that are not whole batches with CORRUPT_MESSAGE and stores nothing', async () => {
    c = cluster()
    const leader = await c.open(1)
    leader.becomeLeader({ leaderEpoch: 1, replicas: [1], isr: [1] })
    const good = batch('a')
    expect((await leader.produce(good.subarray(0, good.length - 1), 1, 1000)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    const flipped = Buffer.from(good)
    flipped[flipped.length - 1] ^= 0xff
    expect((await leader.produce(flipped, 1, 1000)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(leader.logEndOffset).toBe(0)
  })

  it('drops a whole diverged history when the leader’s epochs all postdate the follower’s', async () => {
    c = cluster()
    const r1 = await c.open(1)
    const r2 = await c.open(2)
    // Broker 2 led epoch 1 alone and wrote 3 records; broker 1 then leads epoch 2 with no history
    // in common (as after an unclean election).
    r2.becomeLeader({ leaderEpoch: 1, replicas: [2], isr: [2] })
    await r2.produce(batch('x', 3), 1, 1000)
    r1.becomeLeader({ leaderEpoch: 2, replicas: [1, 2], isr: [1] })
    await r1.produce(batch('y', 1), 1, 1000)
    r2.becomeFollower({ leaderId: 1, leaderEpoch: 2 })
    // Epoch 1 is older than anything broker 1 knows: it ends where broker 1's first epoch starts (0).
    expect(r1.epochEndOffset(1, 2)).toEqual({ errorCode: ErrorCode.NONE, epoch: 1, endOffset: 0 })
    await pumpUntilCaughtUp(r2, r1)
    expect(values(r2.log.read(0, 1 << 20).records)).toEqual(['y-0'])
  })

  it('cuts a follower back to the leader’s end when a fetch says it is ahead', async () => {
    c = cluster()
    const r1 = await c.open(1)
    const r2 = await c.open(2)
    r1.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    r2.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    for (const name of ['a', 'b', 'c']) await r1.produce(batch(name), 1, 1000)
    await pumpUntilCaughtUp(r2, r1)
    const request = r2.nextFollowerFetch()!
    expect(request).toMatchObject({ type: 'fetch', fetchOffset: 3 })
    // As if the leader had lost its last record in a crash and come back: it ends at 2.
    r2.applyLeaderFetch({
      request: request as Extract<typeof request, { type: 'fetch' }>,
      result: { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: 2, lastStableOffset: 2, logStartOffset: 0, logEndOffset: 2, records: null },
    })
    expect(r2.stats()).toMatchObject({ logEndOffset: 2, highWatermark: 2 })
  })

  it('restarts a follower whose log ends below the leader’s log start at that start, then catches up', async () => {
    c = cluster()
    const r1 = await c.open(1)
    const r2 = await c.open(2)
    r1.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1] })
    await r1.produce(batch('z', 4), 1, 1000)
    expect(r1.deleteRecords(3).lowWatermark).toBe(3)
    r2.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    await pumpOnce(r2, r1)
    expect(r2.stats()).toMatchObject({ followerRestartedAtLeaderStart: true, logStartOffset: 3, logEndOffset: 3 })
    await pumpUntilCaughtUp(r2, r1)
    expect(r2.stats()).toMatchObject({ logStartOffset: 3, logEndOffset: 4 })
    expect(r2.log.read(3, 1 << 20).records).toEqual(r1.log.read(3, 1 << 20).records)
  })

  it('asks the follower loop to back off after an error answer only', async () => {
    c = cluster()
    const r1 = await c.open(1)
    const r2 = await c.open(2)
    r2.becomeFollower({ leaderId: 1, leaderEpoch: 1 })
    const request = r2.nextFollowerFetch() as Extract<ReturnType<PartitionReplica['nextFollowerFetch']>, { type: 'fetch' }>
    // Broker 1 has not been told it leads yet.
    expect(r2.applyLeaderFetch({ request, result: await r1.fetch(request) })).toBe(1000)
    r1.becomeLeader({ leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] })
    expect(r2.applyLeaderFetch({ request, result: await r1.fetch(request) })).toBe(0)
  })
})
