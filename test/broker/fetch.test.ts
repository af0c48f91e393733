/**
 * A broker node's fetch long-poll: it parks until data arrives, and a cancelled fetch (its
 * connection closed) answers at once instead of holding a waiter slot for its whole max wait.
 */
import { describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'
import { encodeBatch } from '../../src/records/record-batch.js'
import { startTestServer } from '../server/helpers.js'

const LONG_WAIT_MS = 60_000

function oneRecord(value: string): Buffer {
  return encodeBatch({ baseTimestamp: Date.now(), records: [{ key: Buffer.from('k'), value: Buffer.from(value) }] })
}

describe('core fetch', () => {
  it('wakes a parked long-poll when a record arrives', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1 })
    await broker.admin.createTopic({ name: 'waits', partitions: 1 })
    const parked = broker.cluster.fetch([{ topic: 'waits', partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }], {
      maxWaitMs: LONG_WAIT_MS,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
    })
    await broker.cluster.produce([{ topic: 'waits', partition: 0, records: oneRecord('hello') }], 1, 5_000)
    const [result] = await parked
    expect(result.records).not.toBeNull()
    expect(result.highWatermark).toBe(1)
  })

  it('answers a parked fetch at once, empty, when its signal aborts (its connection closed)', async () => {
    const ts = await startTestServer()
    try {
      await ts.core.createTopics([{ name: 'idle', numPartitions: 2, replicationFactor: 1, configs: {} }], false)
      const controller = new AbortController()
      const startedMs = Date.now()
      const parked = ts.core.fetch(
        [0, 1].map((partition) => ({ topic: 'idle', partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 })),
        { maxWaitMs: LONG_WAIT_MS, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, signal: controller.signal },
      )
      controller.abort()
      const results = await parked
      expect(results.map((r) => [r.errorCode, r.records])).toEqual([
        [0, null],
        [0, null],
      ])
      // Not a speed target: without the cancellation this would wait out the full minute.
      expect(Date.now() - startedMs).toBeLessThan(LONG_WAIT_MS / 2)
    } finally {
      await ts.close()
    }
  })
})
