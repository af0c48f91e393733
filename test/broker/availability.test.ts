/**
 * Availability with the defaults a new user gets (one broker, replication factor 1): a shard that
 * dies comes back with every partition it led, a producer over TCP resumes, and the same holds
 * after the process starts again on the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { startBroker } from '../../src/start-broker.js'
import { readPartition } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const PARTITIONS = 8

function kafkaFor(bootstrapServers: string): Kafka {
  return new Kafka({ clientId: 'availability', brokers: bootstrapServers.split(","), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 500 } })
}

async function sendOnePerPartition(kafka: Kafka, value: string): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    await producer.send({ topic: 'orders', acks: -1, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value })) })
  } finally {
    await producer.disconnect()
  }
}

describe('availability with one broker and replication factor 1', () => {
  it('leads every partition again after the broker\'s shard dies, and a producer resumes, also after a process restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partita-availability-'))
    dirs.push(dataDir)
    {
      await using broker = await startBroker({ port: 0, dataDir, brokers: 1 })
      await broker.admin.createTopic({ name: 'orders', partitions: PARTITIONS, replicationFactor: 1 })
      const kafka = kafkaFor(broker.bootstrapServers)
      await sendOnePerPartition(kafka, 'before')

      const back = broker.faults.recovered(0)
      broker.faults.killBroker(0)
      const report = await back
      expect(report).toMatchObject({ brokerId: 0, replicas: PARTITIONS, ledAgain: PARTITIONS })

      const meta = await broker.admin.fetchTopicMetadata({ topics: ['orders'] })
      for (const p of meta.topics[0].partitions) expect({ leader: p.leader, isr: p.isr }).toEqual({ leader: 0, isr: [0] })
      await sendOnePerPartition(kafka, 'after')
      for (let partition = 0; partition < PARTITIONS; partition++) {
        expect((await readPartition(broker, 'orders', partition)).map((r) => r.value)).toEqual(['before', 'after'])
      }
    }
    {
      await using broker = await startBroker({ port: 0, dataDir, brokers: 1 })
      const meta = await broker.admin.fetchTopicMetadata({ topics: ['orders'] })
      for (const p of meta.topics[0].partitions) expect({ leader: p.leader, isr: p.isr }).toEqual({ leader: 0, isr: [0] })
      await sendOnePerPartition(kafkaFor(broker.bootstrapServers), 'restarted')
      for (let partition = 0; partition < PARTITIONS; partition++) {
        expect((await readPartition(broker, 'orders', partition)).map((r) => r.value)).toEqual(['before', 'after', 'restarted'])
      }
    }
  })
})
