/**
 * Record batches larger than a shard-to-shard ring (8 MiB) replicate: a follower's fetch answer
 * then crosses the ring as fragments. Before, it could never be written, the followers retried
 * forever, and an acks=all produce waited until the lagging followers left the ISR.
 */
import { describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'
import { eventually, readPartition } from './helpers.js'

const RECORD_BYTES = 9 * 1024 * 1024

describe('large messages', () => {
  it('replicates a 9 MiB record to every follower of a three-broker topic and acknowledges it with acks=all', async () => {
    // A lag time past the request timeout: only replication, not an ISR shrink, can answer the produce.
    await using broker = await startBroker({ brokers: 3, port: 0, replicaLagTimeMaxMs: 120_000 })
    await broker.admin.createTopic({ name: 'big', partitions: 1, replicationFactor: 3, configs: { 'max.message.bytes': String(16 * 1024 * 1024) } })
    const producer = broker.producer({ acks: 'all', retry: { retries: 0 } })
    const value = Buffer.alloc(RECORD_BYTES, 'v')
    await producer.send({ topic: 'big', messages: [{ key: 'k', value }], timeout: 20_000 })

    const metadata = await broker.admin.fetchTopicMetadata({ topics: ['big'] })
    const { leader, isr } = metadata.topics[0].partitions[0]
    expect([...isr].sort()).toEqual([0, 1, 2])

    // A follower's copy is whole: it serves the record once it leads.
    broker.faults.killBroker(leader)
    await eventually(async () => {
      const now = await broker.admin.fetchTopicMetadata({ topics: ['big'] })
      const next = now.topics[0].partitions[0].leader
      return next !== leader && next >= 0 ? next : undefined
    })
    const records = await eventually(async () => {
      const read = await readPartition(broker, 'big', 0).catch(() => [])
      return read.length === 1 ? read : undefined
    })
    expect(records[0].value!.length).toBe(RECORD_BYTES)
    expect(records[0].value).toBe(value.toString())
    await producer.disconnect()
  })
})
