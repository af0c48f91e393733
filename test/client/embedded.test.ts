import { describe, expect, it } from 'vitest'
import { startBroker } from '../../src/index.js'
import { defaultPartition } from '../../src/client/partitioner.js'
import { until } from './helpers.js'

const groupTimings = { heartbeatInterval: 50, sessionTimeout: 6_000, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200 }

describe('the embedded client against a real broker', () => {
  it('creates a replicated topic, produces idempotently by key, consumes in a group and resumes from commits', async () => {
    await using broker = await startBroker({ port: 0, brokers: 3, groupInitialRebalanceDelayMs: 0 })
    expect(await broker.admin.createTopic({ name: 'orders', partitions: 4, replicationFactor: 3 })).toBe(true)
    const producer = broker.producer({ acks: 'all', idempotent: true })
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `customer-${i % 7}`, value: `order-${i}`, headers: { n: String(i) } }))
    const metadata = await producer.send({ topic: 'orders', messages })
    expect(metadata.every((m) => m.errorCode === 0)).toBe(true)
    const offsets = await broker.admin.fetchTopicOffsets('orders')
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(40)

    const seen: Array<{ partition: number; key: string; value: string }> = []
    const consumer = broker.consumer({ groupId: 'billing', ...groupTimings })
    await consumer.subscribe({ topics: ['orders'], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ partition, message }) => void seen.push({ partition, key: message.key!.toString(), value: message.value!.toString() }) })
    await until(() => seen.length === 40, '40 messages', 20_000)
    for (const s of seen) expect(s.partition).toBe(defaultPartition(s.key, 4))
    for (let k = 0; k < 7; k++) {
      const values = seen.filter((s) => s.key === `customer-${k}`).map((s) => Number(s.value.slice(6)))
      expect(values).toEqual([...values].sort((a, b) => a - b))
    }
    await consumer.disconnect()

    await producer.send({ topic: 'orders', messages: [{ key: 'late', value: 'order-40' }] })
    const resumed: string[] = []
    const again = broker.consumer({ groupId: 'billing', ...groupTimings })
    await again.subscribe({ topics: ['orders'], fromBeginning: true })
    await again.run({ eachMessage: async ({ message }) => void resumed.push(message.value!.toString()) })
    await until(() => resumed.length === 1, 'the one new message', 20_000)
    expect(resumed).toEqual(['order-40'])
    await again.disconnect()
    await producer.disconnect()
    const [group] = (await broker.admin.describeGroups(['billing'])).groups
    expect(group.state).toBe('Empty')
  }, 60_000)
})
