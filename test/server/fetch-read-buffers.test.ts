/**
 * A consumer fetch's records are read into a buffer lent by the thread's pool (src/common/buffer-pool.ts)
 * and written to the socket without a copy; the connection gives the buffer back once the socket
 * has written the response, never before, so the next read can reuse it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fetchReadBuffers } from '../../src/common/buffer-pool.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { batchOf, fetchedValues, overrideCore, startTestServer, type TestServer } from './helpers.js'

let ts: TestServer | undefined

afterEach(async () => {
  vi.restoreAllMocks()
  await ts?.close()
  ts = undefined
})

describe('fetch read buffers', () => {
  it('gives a fetch read buffer back to its pool once the socket has written the response, with every byte delivered', async () => {
    const lent: Buffer[] = []
    ts = await startTestServer(
      {},
      {
        // The in-memory partitions read into plain buffers: this copies each answer into a lent one, as the log does.
        wrapCore: (core) =>
          overrideCore(core, 'fetch', (fetch) => async (...args) => {
            const results = await fetch(...args)
            return results.map((result) => {
              if (result.records === null) return result
              const records = fetchReadBuffers.take(result.records.length)
              result.records.copy(records)
              lent.push(records)
              return { ...result, records }
            })
          }),
      },
    )
    const [created] = await ts.core.createTopics([{ name: 'pooled', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    // About 100 KiB of values: a read the pool serves.
    const values = Array.from({ length: 1000 }, (_, i) => `${i}`.padStart(100, 'v'))
    const [produced] = await ts.core.produce([{ topic: 'pooled', partition: 0, records: batchOf(values) }], 1, 1000)
    expect(produced.errorCode).toBe(ErrorCode.NONE)

    const givenBack = new Promise<Buffer>((resolve) => {
      const give = fetchReadBuffers.give.bind(fetchReadBuffers)
      vi.spyOn(fetchReadBuffers, 'give').mockImplementation((view) => {
        const wasLent = fetchReadBuffers.isLent(view)
        give(view)
        if (wasLent) resolve(view)
      })
    })
    const client = await ts.connect()
    const received = await fetchedValues(client, 'pooled')
    expect(received).toEqual(values)

    expect(lent).toHaveLength(1)
    const back = await givenBack
    expect(back.buffer).toBe(lent[0].buffer)
    expect(fetchReadBuffers.isLent(lent[0])).toBe(false)
    expect(fetchReadBuffers.take(lent[0].length).buffer).toBe(lent[0].buffer)
  })
})
