/**
 * Helpers for tests that run a whole embedded broker (shard workers are compiled JS: `npm test`
 * builds first).
 */
import type { Broker } from '../../src/start-broker.js'
import { decodeRecords, iterateBatches } from '../../src/records/record-batch.js'
import { decompress } from '../../src/records/compression.js'

export interface ReadRecord {
  offset: number
  key: string | null
  value: string | null
}

/** Reads a partition from `fromOffset` to its high watermark through the core's fetch path. */
export async function readPartition(broker: Broker, topic: string, partition: number, fromOffset = 0): Promise<ReadRecord[]> {
  const records: ReadRecord[] = []
  let offset = fromOffset
  // Bounded: each round reads at least one batch or stops at the high watermark.
  for (let round = 0; round < 100_000; round++) {
    const [result] = await broker.cluster.fetch([{ topic, partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }], {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
    })
    if (result.errorCode !== 0) throw new Error(`fetch ${topic}-${partition}@${offset} failed with error ${result.errorCode}`)
    if (result.records === null) break
    for (const batch of iterateBatches(result.records)) {
      for (const record of decodeRecords(result.records.subarray(batch.pos, batch.pos + batch.size), 0, decompress)) {
        if (record.offset < offset) continue
        records.push({ offset: record.offset, key: record.key?.toString() ?? null, value: record.value?.toString() ?? null })
        offset = record.offset + 1
      }
    }
    if (offset >= result.highWatermark) break
  }
  return records
}

/** Waits for a condition an event will make true, polling on the event loop (never a fixed sleep). */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
