/**
 * Fetch sessions over the wire: raw Fetch requests against a broker node, as librdkafka and the
 * Java consumer send them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { batchOf, startTestServer, type TestServer } from './helpers.js'
import type { WireClient } from './wire-client.js'

let ts: TestServer
let client: WireClient

beforeEach(async () => {
  ts = await startTestServer({ brokers: 1 })
  client = await ts.connect()
  const [created] = await ts.core.createTopics([{ name: 's', numPartitions: 3, replicationFactor: 1, configs: {} }], false)
  expect(created.errorCode).toBe(ErrorCode.NONE)
})

afterEach(async () => {
  await ts.close()
})

async function produce(partition: number, values: string[]): Promise<void> {
  const [result] = await ts.core.produce([{ topic: 's', partition, records: batchOf(values) }], -1, 1000)
  expect(result.errorCode).toBe(ErrorCode.NONE)
}

function fetch(version: number, sessionId: number, sessionEpoch: number, partitions: Array<[number, number]>, forgotten: number[] = []) {
  return client.request(ApiKey.Fetch, version, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    sessionId,
    sessionEpoch,
    topics: partitions.length === 0 ? [] : [{ topic: 's', partitions: partitions.map(([partition, fetchOffset]) => ({ partition, fetchOffset, partitionMaxBytes: 1 << 20 })) }],
    forgottenTopicsData: forgotten.length === 0 ? [] : [{ topic: 's', partitions: forgotten }],
  })
}

function answered(response: Awaited<ReturnType<typeof fetch>>): number[] {
  return response.responses.flatMap((t) => t.partitions.map((p) => p.partitionIndex))
}

describe('Fetch sessions over the wire', () => {
  for (const version of [7, 12]) {
    it(`opens a session on a full fetch and then answers only partitions that changed (v${version})`, async () => {
      await produce(0, ['a'])
      const full = await fetch(version, 0, 0, [
        [0, 0],
        [1, 0],
        [2, 0],
      ])
      expect(full.errorCode).toBe(ErrorCode.NONE)
      expect(full.sessionId).toBeGreaterThan(0)
      expect(answered(full)).toEqual([0, 1, 2])
      // The client consumed partition 0's record and names only it, at its new offset: nothing
      // else moved, so nothing is answered.
      const quiet = await fetch(version, full.sessionId, 1, [[0, 1]])
      expect(quiet).toMatchObject({ errorCode: ErrorCode.NONE, sessionId: full.sessionId })
      expect(answered(quiet)).toEqual([])
      // A record on partition 2, which the session fetches at its cached offset 0.
      await produce(2, ['b'])
      const moved = await fetch(version, full.sessionId, 2, [])
      expect(answered(moved)).toEqual([2])
      expect(moved.responses[0].partitions[0]).toMatchObject({ highWatermark: 1, errorCode: ErrorCode.NONE })
      expect(moved.responses[0].partitions[0].records!.length).toBeGreaterThan(0)
      // The client moves partition 2 past its record: nothing new, so nothing answered.
      expect(answered(await fetch(version, full.sessionId, 3, [[2, 1]]))).toEqual([])
    })
  }

  it('answers FETCH_SESSION_ID_NOT_FOUND with no partitions for a session it does not hold', async () => {
    await produce(0, ['a'])
    const response = await fetch(12, 12345, 1, [[0, 0]])
    expect(response).toMatchObject({ errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] })
    expect(ts.core.fetchSessions.stats().sessions).toBe(0)
  })

  it('answers INVALID_FETCH_SESSION_EPOCH for a wrong epoch and leaves the session as it was', async () => {
    const full = await fetch(12, 0, 0, [
      [0, 0],
      [1, 0],
    ])
    const wrong = await fetch(12, full.sessionId, 5, [], [0])
    expect(wrong).toMatchObject({ errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH, sessionId: 0, responses: [] })
    // Partition 0 was not forgotten: a record there is still answered at the right epoch.
    await produce(0, ['a'])
    expect(answered(await fetch(12, full.sessionId, 1, []))).toEqual([0])
  })

  it('falls back to a full fetch after a session error, as a client does, and gets a new session', async () => {
    const first = await fetch(12, 0, 0, [[0, 0]])
    const refused = await fetch(12, first.sessionId, 7, [])
    expect(refused.errorCode).toBe(ErrorCode.INVALID_FETCH_SESSION_EPOCH)
    const again = await fetch(12, first.sessionId, 0, [[0, 0]])
    expect(again.errorCode).toBe(ErrorCode.NONE)
    expect(again.sessionId).not.toBe(first.sessionId)
    expect(answered(again)).toEqual([0])
    expect(ts.core.fetchSessions.stats().sessions).toBe(1)
  })

  it('closes the session on epoch -1 and answers session id 0', async () => {
    const full = await fetch(12, 0, 0, [[0, 0]])
    const closed = await fetch(12, full.sessionId, -1, [[0, 0]])
    expect(closed).toMatchObject({ errorCode: ErrorCode.NONE, sessionId: 0 })
    expect(answered(closed)).toEqual([0])
    expect((await fetch(12, full.sessionId, 1, [])).errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
  })

  it('opens no session when max.incremental.fetch.session.cache.slots is 0', async () => {
    await ts.close()
    ts = await startTestServer({ brokers: 1, maxIncrementalFetchSessionCacheSlots: 0 })
    client = await ts.connect()
    await ts.core.createTopics([{ name: 's', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    const full = await fetch(12, 0, 0, [[0, 0]])
    expect(full).toMatchObject({ errorCode: ErrorCode.NONE, sessionId: 0 })
    expect(answered(full)).toEqual([0])
  })
})

describe('A Fetch that names a partition twice', () => {
  for (const version of [4, 12]) {
    it(`answers it once, at its first place, from its last entry's offset, as Kafka's map of partitions does (v${version})`, async () => {
      await produce(0, ['a'])
      await produce(0, ['b'])
      await produce(1, ['c'])
      const response = await fetch(version, 0, 0, [
        [0, 0],
        [1, 0],
        [0, 1],
      ])
      expect(response.errorCode).toBe(ErrorCode.NONE)
      expect(answered(response)).toEqual([0, 1])
      const first = response.responses[0].partitions[0]
      expect(first.errorCode).toBe(ErrorCode.NONE)
      // Each produce above was its own batch: read from offset 1, the answer starts at 'b''s batch.
      expect(first.records!.readBigInt64BE(0)).toBe(1n)
    })
  }
})
