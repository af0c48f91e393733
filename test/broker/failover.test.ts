/**
 * Failover for real: three logical brokers, each on its own shard worker, replication factor 3,
 * acks=all. One broker's worker is killed while producing; a new leader is elected and every
 * acknowledged record is read back exactly once and in order per key.
 */
import { describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'
import { eventually, readPartition } from './helpers.js'

describe('failover', () => {
  it('elects a new leader and loses no acknowledged record when a broker dies mid-stream', async () => {
    await using broker = await startBroker({ brokers: 3, port: 0, replicaLagTimeMaxMs: 2_000 })
    await broker.admin.createTopic({ name: 'orders', partitions: 4, replicationFactor: 3 })
    const producer = broker.producer({ acks: 'all', idempotent: true, retry: { retries: 50, initialRetryTime: 20 } })
    await producer.connect()

    const before = await broker.admin.fetchTopicMetadata({ topics: ['orders'] })
    const victim = before.topics[0].partitions[0].leader
    const acked = new Map<string, string[]>()
    const total = 400
    for (let i = 0; i < total; i++) {
      if (i === total / 2) broker.faults.killBroker(victim)
      const key = `k${i % 8}`
      const value = `v${i}`
      await producer.send({ topic: 'orders', messages: [{ key, value }] })
      acked.set(key, [...(acked.get(key) ?? []), value])
    }

    const after = await eventually(async () => {
      const meta = await broker.admin.fetchTopicMetadata({ topics: ['orders'] })
      return meta.topics[0].partitions[0].leader !== victim ? meta : undefined
    })
    expect(after.topics[0].partitions[0].leader).not.toBe(-1)

    const seen = new Map<string, string[]>()
    for (let partition = 0; partition < 4; partition++) {
      for (const record of await readPartition(broker, 'orders', partition)) {
        seen.set(record.key!, [...(seen.get(record.key!) ?? []), record.value!])
      }
    }
    for (const [key, values] of acked) expect(seen.get(key)).toEqual(values)
    await producer.disconnect()
  })

  it('brings the killed broker back as a follower that rejoins the in-sync set', async () => {
    await using broker = await startBroker({ brokers: 3, port: 0 })
    await broker.admin.createTopic({ name: 'events', partitions: 1, replicationFactor: 3 })
    const producer = broker.producer({ acks: 'all', retry: { retries: 50, initialRetryTime: 20 } })
    await producer.send({ topic: 'events', messages: [{ key: 'a', value: '1' }] })
    const leader = (await broker.admin.fetchTopicMetadata({ topics: ['events'] })).topics[0].partitions[0].leader
    broker.faults.killBroker(leader)
    await producer.send({ topic: 'events', messages: [{ key: 'a', value: '2' }] })
    const back = await eventually(async () => {
      const partition = (await broker.admin.fetchTopicMetadata({ topics: ['events'] })).topics[0].partitions[0]
      return partition.isr.length === 3 ? partition : undefined
    })
    expect(back.leader).not.toBe(leader)
    expect((await readPartition(broker, 'events', 0)).map((r) => r.value)).toEqual(['1', '2'])
  })
})
