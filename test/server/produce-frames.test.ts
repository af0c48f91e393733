/**
 * A produce's record sets are views of its request frame. Once the produce is answered nothing
 * reads them again, so the connection frees a frame that is a buffer of its own (a large request,
 * copied together from its socket reads) at once, instead of leaving it to the collector; a
 * small one that is a view of a socket read is left alone. Node 20 cannot free an ArrayBuffer,
 * so there nothing changes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { batchOf, fetchedValues, overrideCore, startTestServer, type TestServer } from './helpers.js'

const canFree = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'

let ts: TestServer | undefined

afterEach(async () => {
  await ts?.close()
  ts = undefined
})

/** Starts a server that keeps each record set its core was asked to produce. */
async function serverSeeingRecords(): Promise<{ seen: Buffer[] }> {
  const seen: Buffer[] = []
  ts = await startTestServer(
    {},
    {
      wrapCore: (core) =>
        overrideCore(core, 'produce', (produce) => async (inputs, acks, timeoutMs) => {
          for (const input of inputs) seen.push(input.records)
          return produce(inputs, acks, timeoutMs)
        }),
    },
  )
  const [created] = await ts.core.createTopics([{ name: 'frames', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
  expect(created.errorCode).toBe(ErrorCode.NONE)
  return { seen }
}

async function produce(values: string[], acks: number): Promise<void> {
  const client = await ts!.connect()
  const answer = await client.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks,
    timeoutMs: 1000,
    topicData: [{ name: 'frames', partitionData: [{ index: 0, records: batchOf(values) }] }],
  })
  expect(answer.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE)
}

async function storedValues(): Promise<string[]> {
  return fetchedValues(await ts!.connect(), 'frames')
}

describe('produce request frames', () => {
  it('frees a large produce frame once it is answered, and its records stay stored', async () => {
    const { seen } = await serverSeeingRecords()
    // About 400 KB: more than one socket read, so the frame is a copy of its own.
    const values = Array.from({ length: 4000 }, (_, i) => `${i}`.padStart(100, 'v'))
    await produce(values, 1)
    expect(seen).toHaveLength(1)
    // Freed, every view of the frame (the record set included) reads as empty.
    if (canFree) expect([seen[0].buffer.byteLength, seen[0].length]).toEqual([0, 0])
    else expect(seen[0].length).toBeGreaterThan(400_000)
    expect(await storedValues()).toEqual(values)
  })

  it('leaves a small produce frame, a view of its socket read, to the collector', async () => {
    const { seen } = await serverSeeingRecords()
    await produce(['small'], 1)
    expect(seen).toHaveLength(1)
    expect(seen[0].buffer.byteLength).toBeGreaterThan(0)
    expect(seen[0].length).toBeGreaterThan(0)
    expect(await storedValues()).toEqual(['small'])
  })
})
