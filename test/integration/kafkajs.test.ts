/**
 * kafkajs 2.2.4 against Partita over TCP, with kafkajs' default settings except shorter group
 * timings: metadata, keyed produce over partitions (murmur2 placement, order per key),
 * idempotent produce, all four codecs read back by kcat, groups that split and rebalance,
 * offsets by timestamp, and admin errors with their Kafka codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CompressionCodecs, CompressionTypes, Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs'
import { defaultPartition } from '../../src/client/partitioner.js'
import { compressAsync, decompress } from '../../src/records/compression.js'
import { CompressionType, compressionOf } from '../../src/records/record-batch.js'
import { TEST_BROKERS, errorTypes, eventually, kcat, startTestBroker, storedBatches, tempDataDir, type Broker } from './harness.js'

// kafkajs ships gzip only; snappy, lz4 and zstd are plug-ins. Ours are Kafka's exact formats.
for (const [kafkajsType, kafkaType] of [
  [CompressionTypes.Snappy, CompressionType.SNAPPY],
  [CompressionTypes.LZ4, CompressionType.LZ4],
  [CompressionTypes.ZSTD, CompressionType.ZSTD],
] as const) {
  CompressionCodecs[kafkajsType] = () => ({
    compress: (encoder: { buffer: Buffer }) => compressAsync(kafkaType, encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(kafkaType, buffer),
  })
}

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let kafka: Kafka

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir)
  kafka = new Kafka({ clientId: 'partita-it', brokers: broker.bootstrapServers.split(","), logLevel: logLevel.NOTHING })
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

async function createTopic(topic: string, numPartitions: number, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions, configEntries }] })).toBe(true)
  } finally {
    await admin.disconnect()
  }
}

interface Received {
  partition: number
  offset: number
  key: string
  value: string
}

/** A kafkajs group consumer with short timings that records what it receives and its assignments. */
async function startConsumer(groupId: string, topic: string) {
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
  const received: Received[] = []
  const assignments: number[][] = []
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assignments.push([...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b))
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }: EachMessagePayload) => {
      received.push({ partition, offset: Number(message.offset), key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' })
    },
  })
  return { consumer, received, assignments }
}

describe('kafkajs', () => {
  it('reads cluster and topic metadata', async () => {
    await createTopic('kj-meta', 3)
    const admin = kafka.admin()
    await admin.connect()
    try {
      const cluster = await admin.describeCluster()
      expect(cluster.brokers.sort((a, b) => a.nodeId - b.nodeId)).toEqual(broker.ports.map((port, nodeId) => ({ nodeId, host: '127.0.0.1', port })))
      expect(cluster.controller).toBe(0)
      const { topics } = await admin.fetchTopicMetadata({ topics: ['kj-meta'] })
      expect(topics).toHaveLength(1)
      // Each partition led by the first of its replicas, every replica in sync.
      for (const p of topics[0].partitions) {
        expect(p.replicas).toHaveLength(TEST_BROKERS)
        expect([p.leader, [...p.isr].sort()]).toEqual([p.replicas[0], [...p.replicas].sort()])
      }
      expect(await admin.listTopics()).toContain('kj-meta')
    } finally {
      await admin.disconnect()
    }
  })

  it('places keys on the murmur2 partition and keeps order per key through a group consumer', async () => {
    const topic = 'kj-keyed'
    await createTopic(topic, 4)
    const producer = kafka.producer()
    await producer.connect()
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`)
    const sent: Array<{ key: string; value: string }> = []
    // Three rounds of sends, so each key has several values that must come back in order.
    for (let round = 0; round < 3; round++) {
      const messages = keys.map((key) => ({ key, value: `${key}#${round}` }))
      sent.push(...messages)
      const metadata = await producer.send({ topic, messages })
      expect(metadata.every((m) => m.errorCode === 0)).toBe(true)
    }
    await producer.disconnect()

    const { consumer, received } = await startConsumer('kj-keyed-group', topic)
    try {
      await eventually(() => (received.length >= sent.length ? true : undefined), 'all keyed messages')
    } finally {
      await consumer.disconnect()
    }
    expect(received).toHaveLength(sent.length)
    for (const key of keys) {
      const mine = received.filter((r) => r.key === key)
      expect(mine.map((r) => r.value)).toEqual([0, 1, 2].map((round) => `${key}#${round}`))
      expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([defaultPartition(key, 4)]))
    }
    expect(new Set(received.map((r) => r.partition)).size).toBeGreaterThan(1)
  })

  it('produces idempotently: batches carry a producer id and consecutive sequences, each record stored once', async () => {
    const topic = 'kj-idempotent'
    await createTopic(topic, 1)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    for (let i = 0; i < 5; i++) {
      await producer.send({ topic, messages: [{ key: 'k', value: `v${i}a` }, { key: 'k', value: `v${i}b` }] })
    }
    await producer.disconnect()
    const batches = await storedBatches(broker, topic, 0)
    expect(batches).toHaveLength(5)
    expect(batches[0].producerId).toBeGreaterThanOrEqual(0)
    expect(batches.map((b) => b.producerId)).toEqual(Array(5).fill(batches[0].producerId))
    expect(batches.map((b) => b.baseSequence)).toEqual([0, 2, 4, 6, 8])
    const out = await kcat(broker.bootstrapServers, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%s\n'])
    expect(out.trim().split('\n')).toEqual(Array.from({ length: 5 }, (_, i) => [`v${i}a`, `v${i}b`]).flat())
  })

  it('stores gzip, snappy, lz4 and zstd batches as sent, and kcat reads them back', async () => {
    const codecs = [
      ['gzip', CompressionTypes.GZIP, CompressionType.GZIP],
      ['snappy', CompressionTypes.Snappy, CompressionType.SNAPPY],
      ['lz4', CompressionTypes.LZ4, CompressionType.LZ4],
      ['zstd', CompressionTypes.ZSTD, CompressionType.ZSTD],
    ] as const
    const producer = kafka.producer()
    await producer.connect()
    try {
      for (const [name, kafkajsType, kafkaType] of codecs) {
        const topic = `kj-codec-${name}`
        await createTopic(topic, 1)
        const values = Array.from({ length: 20 }, (_, i) => `${name}-value-${i}-${'x'.repeat(50)}`)
        await producer.send({ topic, compression: kafkajsType, messages: values.map((value, i) => ({ key: `k${i}`, value })) })
        const batches = await storedBatches(broker, topic, 0)
        expect(batches.map((b) => compressionOf(b.attributes))).toEqual([kafkaType])
        const out = await kcat(broker.bootstrapServers, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%k=%s\n'])
        expect(out.trim().split('\n')).toEqual(values.map((value, i) => `k${i}=${value}`))
      }
    } finally {
      await producer.disconnect()
    }
  })

  it('splits partitions between two group members and gives them all to the one left', async () => {
    const topic = 'kj-group'
    await createTopic(topic, 4)
    const groupId = 'kj-split-group'
    const a = await startConsumer(groupId, topic)
    await eventually(() => (a.assignments.at(-1)?.length === 4 ? true : undefined), 'first member owning all partitions')
    const b = await startConsumer(groupId, topic)
    try {
      await eventually(
        () => (a.assignments.at(-1)?.length === 2 && b.assignments.at(-1)?.length === 2 ? true : undefined),
        'both members owning two partitions',
      )
      expect([...a.assignments.at(-1)!, ...b.assignments.at(-1)!].sort()).toEqual([0, 1, 2, 3])

      const producer = kafka.producer()
      await producer.connect()
      // One message per partition, so each member must get exactly its own partitions' messages.
      await producer.send({ topic, messages: [0, 1, 2, 3].map((partition) => ({ partition, value: `first-${partition}` })) })
      await eventually(() => (a.received.length + b.received.length >= 4 ? true : undefined), 'first messages')
      expect(a.received.map((r) => r.partition).sort()).toEqual(a.assignments.at(-1))
      expect(b.received.map((r) => r.partition).sort()).toEqual(b.assignments.at(-1))

      await b.consumer.disconnect()
      await eventually(() => (a.assignments.at(-1)?.length === 4 ? true : undefined), 'the remaining member owning all partitions')
      await producer.send({ topic, messages: [0, 1, 2, 3].map((partition) => ({ partition, value: `second-${partition}` })) })
      await producer.disconnect()
      await eventually(
        () => (a.received.filter((r) => r.value.startsWith('second')).length >= 4 ? true : undefined),
        'second messages on the remaining member',
      )
      // The first messages were committed before the rebalance, so none is read twice.
      expect(a.received.filter((r) => r.value.startsWith('first')).length).toBe(a.assignments.at(-2)!.length)
    } finally {
      await a.consumer.disconnect()
      await b.consumer.disconnect()
    }
  })

  it('finds offsets by timestamp', async () => {
    const topic = 'kj-times'
    await createTopic(topic, 1)
    const base = Date.now() - 60_000
    const producer = kafka.producer()
    await producer.connect()
    for (let i = 0; i < 4; i++) {
      await producer.send({ topic, messages: [{ value: `t${i}`, timestamp: String(base + i * 1_000) }] })
    }
    await producer.disconnect()
    const admin = kafka.admin()
    await admin.connect()
    try {
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base + 1_000)).toEqual([{ partition: 0, offset: '1' }])
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base + 1_500)).toEqual([{ partition: 0, offset: '2' }])
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base - 1)).toEqual([{ partition: 0, offset: '0' }])
      // Past the last record there is no offset; kafkajs reports the high watermark then.
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base + 10_000)).toEqual([{ partition: 0, offset: '4' }])
      const [offsets] = await admin.fetchTopicOffsets(topic)
      expect([offsets.low, offsets.high]).toEqual(['0', '4'])
    } finally {
      await admin.disconnect()
    }
  })

  it('reports admin errors with their Kafka codes and keeps working after them', async () => {
    const admin = kafka.admin({ retry: { retries: 0 } })
    await admin.connect()
    const attempt = async (topic: string, numPartitions: number, replicationFactor: number): Promise<string[]> => {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor }] })
      } catch (error) {
        return errorTypes(error)
      }
      return ['no error']
    }
    try {
      expect(await attempt('bad/name', 1, 1)).toContain('INVALID_TOPIC_EXCEPTION')
      expect(await attempt('..', 1, 1)).toContain('INVALID_TOPIC_EXCEPTION')
      expect(await attempt('x'.repeat(250), 1, 1)).toContain('INVALID_TOPIC_EXCEPTION')
      expect(await attempt('kj-zero-partitions', 0, 1)).toContain('INVALID_PARTITIONS')
      expect(await attempt('kj-rf-too-high', 1, TEST_BROKERS + 1)).toContain('INVALID_REPLICATION_FACTOR')
      expect(await attempt('kj-fine', 1, 1)).toEqual(['no error'])
      expect(await admin.listTopics()).not.toContain('bad/name')
    } finally {
      await admin.disconnect()
    }
  })

  it('refuses a message over message.max.bytes with MESSAGE_TOO_LARGE', async () => {
    const topic = 'kj-too-large'
    await createTopic(topic, 1, [{ name: 'max.message.bytes', value: '10000' }])
    const producer = kafka.producer({ retry: { retries: 0 } })
    await producer.connect()
    try {
      const error = await producer.send({ topic, messages: [{ value: 'x'.repeat(20_000) }] }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(errorTypes(error)).toContain('MESSAGE_TOO_LARGE')
      await producer.send({ topic, messages: [{ value: 'small' }] })
    } finally {
      await producer.disconnect()
    }
    expect((await storedBatches(broker, topic, 0)).map((b) => b.recordCount)).toEqual([1])
  })
})
