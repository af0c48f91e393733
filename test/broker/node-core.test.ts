import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import type { ReplicaFetchBatch, ReplicaFetchEntry } from '../../src/actors/partition/replica-fetcher.js'
import { batchOf, startTestServer, type TestServer } from '../server/helpers.js'

let ts: TestServer | null = null

afterEach(async () => {
  await ts?.close()
  ts = null
})

function fetchEntry(topic: string, partition: number, fetchOffset: number): ReplicaFetchEntry {
  return { topic, partition, request: { type: 'fetch', leaderId: 0, leaderEpoch: 0, replicaId: 1, fetchOffset, maxBytes: 1024 * 1024, maxWaitMs: 5_000, minBytes: 1 } }
}

function batchOfEntries(entries: ReplicaFetchEntry[], maxWaitMs: number): ReplicaFetchBatch {
  return { op: 'replicaFetch', fromShard: 1, batchId: 1, maxWaitMs, entries }
}

describe("a node's replica fetch batches", () => {
  it('parks a batch until one of its partitions gets records, then answers every partition, the records concatenated in order', async () => {
    ts = await startTestServer()
    const [created] = await ts.core.createTopics([{ name: 'r', numPartitions: 3, replicationFactor: 1, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    const startedMs = Date.now()
    const answered = ts.core.replicaFetch(batchOfEntries([fetchEntry('r', 0, 0), fetchEntry('r', 1, 0), fetchEntry('r', 2, 0)], 5_000))
    const records = batchOf(['one', 'two'])
    await ts.core.produce([{ topic: 'r', partition: 1, records }], 1, 1_000)
    const { reply, payload } = await answered
    // Released by partition 1's records, long before the 5 s wait.
    expect(Date.now() - startedMs).toBeLessThan(4_000)
    expect(reply.results.map((r) => r.result.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE])
    expect(reply.results.map((r) => r.recordsBytes)).toEqual([0, records.length, 0])
    expect(payload.length).toBe(records.length)
  })

  it('answers at once when a partition is not led here, with that partition’s error and the others’ state', async () => {
    ts = await startTestServer()
    await ts.core.createTopics([{ name: 'r', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    await ts.core.produce([{ topic: 'r', partition: 0, records: batchOf(['a']) }], 1, 1_000)
    const startedMs = Date.now()
    const { reply, payload } = await ts.core.replicaFetch(batchOfEntries([fetchEntry('r', 0, 1), fetchEntry('nowhere', 0, 0)], 5_000))
    expect(Date.now() - startedMs).toBeLessThan(4_000)
    expect(reply.results.map((r) => r.result.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER])
    expect(payload.length).toBe(0)
  })

  it('answers a parked batch at once when its signal aborts (a follower joined the asking fetcher)', async () => {
    ts = await startTestServer()
    await ts.core.createTopics([{ name: 'r', numPartitions: 2, replicationFactor: 1, configs: {} }], false)
    const controller = new AbortController()
    const startedMs = Date.now()
    const answered = ts.core.replicaFetch(batchOfEntries([fetchEntry('r', 0, 0), fetchEntry('r', 1, 0)], 5_000), controller.signal)
    controller.abort()
    const { reply } = await answered
    expect(Date.now() - startedMs).toBeLessThan(4_000)
    expect(reply.results.map((r) => [r.result.errorCode, r.recordsBytes])).toEqual([
      [ErrorCode.NONE, 0],
      [ErrorCode.NONE, 0],
    ])
  })
})
