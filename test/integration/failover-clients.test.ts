/**
 * Real librdkafka clients (confluent-kafka) against three brokers, each its own endpoint, while
 * brokers die: the AdminClient's topic lifecycle, and an idempotent acks=all producer with a
 * group consumer running on while the partition's leader is killed twice. Clients fail over as
 * they do with Kafka (a connection drops, metadata is refreshed, the new leader answers), and
 * the log ends up holding every produced value exactly once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeRecords, iterateBatches } from '../../src/records/record-batch.js'
import { decompress } from '../../src/records/compression.js'
import { eventually, runPython, startTestBroker, tempDataDir, type Broker } from './harness.js'

const SCRIPT = 'confluent_client.py'

let data: ReturnType<typeof tempDataDir>
let broker: Broker

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir, { brokers: 3, defaultReplicationFactor: 3, replicaLagTimeMaxMs: 3_000 })
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

async function leaderOf(topic: string): Promise<number> {
  const meta = await broker.cluster.metadata([topic], false)
  return meta.topics[0].partitions[0].leaderId
}

/** Every value stored in partition 0, in offset order. */
async function storedValues(topic: string): Promise<number[]> {
  const values: number[] = []
  let offset = 0
  // Bounded: each read moves past at least one batch, up to the high watermark.
  for (let reads = 0; reads < 10_000; reads++) {
    const [result] = await broker.cluster.fetch([{ topic, partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20 }], {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
    })
    expect(result.errorCode).toBe(0)
    if (result.records === null) break
    for (const { pos, size } of iterateBatches(result.records)) {
      for (const record of decodeRecords(result.records.subarray(pos, pos + size), 0, decompress)) {
        if (record.offset < offset) continue
        values.push(Number(record.value!.toString()))
        offset = record.offset + 1
      }
    }
    if (offset >= result.highWatermark) break
  }
  return values
}

describe('librdkafka clients and three brokers', () => {
  it('creates, describes and deletes a replicated topic with confluent-kafka\'s AdminClient', async () => {
    const result = await runPython<{ replicas: Record<string, number[]>; isrs: Record<string, number[]> }>(SCRIPT, [
      'admin-lifecycle',
      broker.bootstrapServers,
      'admin-3',
      '3',
      '3',
    ])
    expect(Object.keys(result.replicas).sort()).toEqual(['0', '1', '2'])
    for (const replicas of Object.values(result.replicas)) expect(replicas).toEqual([0, 1, 2])
    for (const isr of Object.values(result.isrs)) expect(isr).toEqual([0, 1, 2])
  })

  it('keeps an idempotent acks=all producer and a group consumer going while the leader is killed twice, storing each value once', async () => {
    const topic = 'failover'
    const count = 2_000
    const [created] = await broker.cluster.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }], false)
    expect(created.errorCode).toBe(0)
    const consumer = runPython<{ distinct: number; received: number; errors: string[] }>(SCRIPT, ['consume-all', broker.bootstrapServers, topic, 'failover-group', String(count), '90'], 100_000)
    const producer = runPython<{ delivered: number; distinct: number; errors: string[]; undelivered: number }>(
      SCRIPT,
      ['produce-paced', broker.bootstrapServers, topic, String(count), '200'],
      100_000,
    )
    for (let kill = 0; kill < 2; kill++) {
      // Let some records flow to the current leader first.
      const before = (await storedValues(topic)).length
      await eventually(async () => ((await storedValues(topic)).length > before + 200 ? true : undefined), 'records flowing', 30_000)
      const victim = await leaderOf(topic)
      const back = broker.faults.recovered(victim)
      broker.faults.killBroker(victim)
      await eventually(async () => {
        const leader = await leaderOf(topic)
        return leader !== -1 && leader !== victim ? leader : undefined
      }, 'a new leader', 30_000)
      await back
    }
    const produced = await producer
    expect(produced.errors).toEqual([])
    expect(produced.undelivered).toBe(0)
    expect(produced.delivered).toBe(count)
    expect(await storedValues(topic)).toEqual(Array.from({ length: count }, (_, i) => i))
    const consumed = await consumer
    expect(consumed.distinct).toBe(count)
  }, 120_000)
})
