/**
 * librdkafka 2.0.2 against Partita over TCP, through kcat and confluent-kafka-python, with
 * librdkafka's defaults plus the named settings: metadata, keyed produce (murmur2_random
 * placement; the default consistent_random keeps each key on one partition), idempotent produce,
 * librdkafka's built-in codecs read back by kafkajs, and a group that splits and rebalances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { defaultPartition } from '../../src/client/partitioner.js'
import { CompressionType, compressionOf } from '../../src/records/record-batch.js'
import { decompress } from '../../src/records/compression.js'
import { createTopicOn, TEST_BROKERS, eventually, kcat, runPython, startTestBroker, storedBatches, tempDataDir, type Broker } from './harness.js'
import { CompressionCodecs, CompressionTypes } from 'kafkajs'

const SCRIPT = 'confluent_client.py'

// kafkajs reads gzip itself; snappy, lz4 and zstd need plug-in decoders.
for (const [kafkajsType, kafkaType] of [
  [CompressionTypes.Snappy, CompressionType.SNAPPY],
  [CompressionTypes.LZ4, CompressionType.LZ4],
  [CompressionTypes.ZSTD, CompressionType.ZSTD],
] as const) {
  CompressionCodecs[kafkajsType] = () => ({
    compress: () => Promise.reject(new Error('not used')),
    decompress: async (buffer: Buffer) => decompress(kafkaType, buffer),
  })
}

let data: ReturnType<typeof tempDataDir>
let broker: Broker

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir)
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

interface ProduceResult {
  reports: Array<{ key: string; partition: number; offset: number }>
  errors: string[]
  undelivered: number
}

interface Record {
  partition: number
  offset: number
  key: string | null
  value: string
}

describe('kcat', () => {
  it('reads metadata as JSON', async () => {
    await createTopicOn(broker, 'kc-meta', 2)
    const meta = JSON.parse(await kcat(broker.bootstrapServers, ['-L', '-J', '-t', 'kc-meta'])) as {
      brokers: Array<{ id: number; name: string }>
      topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number; replicas: unknown[]; isrs: unknown[] }> }>
    }
    expect(meta.brokers.sort((a, b) => a.id - b.id)).toEqual(broker.ports.map((port, id) => ({ id, name: `127.0.0.1:${port}` })))
    expect(meta.topics).toHaveLength(1)
    expect(meta.topics[0].topic).toBe('kc-meta')
    for (const p of meta.topics[0].partitions) {
      expect(p.replicas).toHaveLength(TEST_BROKERS)
      expect(p.leader).toBe((p.replicas[0] as { id: number }).id)
      expect(p.isrs).toHaveLength(TEST_BROKERS)
    }
    expect(meta.topics[0].partitions.map((p) => p.partition)).toEqual([0, 1])
  })

  it('produces keyed records with murmur2_random and reads them back in order per key', async () => {
    const topic = 'kc-keyed'
    await createTopicOn(broker, topic, 3)
    const lines = Array.from({ length: 30 }, (_, i) => `key-${i % 5}:value-${i}`)
    await kcat(broker.bootstrapServers, ['-P', '-t', topic, '-K:', '-X', 'partitioner=murmur2_random'], { input: lines.join('\n') + '\n' })
    const out = await kcat(broker.bootstrapServers, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%p %k %s\n'])
    const read = out.trim().split('\n').map((line) => line.split(' '))
    expect(read).toHaveLength(30)
    for (let k = 0; k < 5; k++) {
      const key = `key-${k}`
      const mine = read.filter(([, readKey]) => readKey === key)
      expect(mine.map(([, , value]) => value)).toEqual(lines.filter((l) => l.startsWith(`${key}:`)).map((l) => l.split(':')[1]))
      expect(new Set(mine.map(([partition]) => Number(partition)))).toEqual(new Set([defaultPartition(key, 3)]))
    }
  })

  // librdkafka before 2.11.1 compresses gzip, snappy and lz4 only if the broker's Produce range
  // overlaps v0..v0 (rdkafka_msgset_writer.c, compr_req); otherwise it silently sends them
  // uncompressed. zstd needs Produce v7 and Fetch v10 instead.
  it.each([
    ['snappy', CompressionType.SNAPPY],
    ['lz4', CompressionType.LZ4],
    ['zstd', CompressionType.ZSTD],
    ['gzip', CompressionType.GZIP],
  ] as const)('stores %s batches from kcat compressed, and kafkajs reads them back', async (codec, kafkaType) => {
    const topic = `kc-codec-${codec}`
    await createTopicOn(broker, topic, 1)
    const values = Array.from({ length: 20 }, (_, i) => `${codec}-${i}-${'y'.repeat(60)}`)
    await kcat(broker.bootstrapServers, ['-P', '-t', topic, '-z', codec], { input: values.join('\n') + '\n' })
    const batches = await storedBatches(broker, topic, 0)
    expect(batches.length).toBeGreaterThan(0)
    expect(new Set(batches.map((b) => compressionOf(b.attributes)))).toEqual(new Set([kafkaType]))

    const kafka = new Kafka({ clientId: 'partita-it', brokers: broker.bootstrapServers.split(","), logLevel: logLevel.NOTHING })
    const consumer = kafka.consumer({ groupId: `kc-codec-${codec}-reader`, sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
    const got: string[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value?.toString() ?? '')
        },
      })
      await eventually(() => (got.length >= values.length ? true : undefined), `${codec} records through kafkajs`, 15_000)
    } finally {
      await consumer.disconnect()
    }
    expect(got).toEqual(values)
  })
})

describe('confluent-kafka-python', () => {
  it('reads metadata', async () => {
    await createTopicOn(broker, 'ck-meta', 3)
    const meta = await runPython<{ brokers: unknown[]; controller: number; topics: { [name: string]: number[] } }>(SCRIPT, [
      'metadata',
      broker.bootstrapServers,
    ])
    expect((meta.brokers as Array<{ id: number }>).sort((a, b) => a.id - b.id)).toEqual(broker.ports.map((port, id) => ({ id, host: '127.0.0.1', port })))
    expect(meta.controller).toBe(0)
    expect(meta.topics['ck-meta']).toEqual([0, 1, 2])
  })

  it('keeps each key on one partition in order with the default partitioner, a group reads them back', async () => {
    const topic = 'ck-keyed'
    await createTopicOn(broker, topic, 4)
    const produced = await runPython<ProduceResult>(SCRIPT, ['produce', broker.bootstrapServers, topic, '20', '5', '{}'])
    expect(produced.errors).toEqual([])
    expect(produced.reports).toHaveLength(20)
    const consumed = await runPython<{ records: Record[]; errors: string[] }>(SCRIPT, ['consume', broker.bootstrapServers, topic, 'ck-group', '20'])
    expect(consumed.records).toHaveLength(20)
    for (let k = 0; k < 5; k++) {
      const key = `key-${k}`
      expect(new Set(produced.reports.filter((r) => r.key === key).map((r) => r.partition)).size).toBe(1)
      const values = consumed.records.filter((r) => r.key === key).map((r) => r.value)
      expect(values).toEqual([0, 1, 2, 3].map((round) => `${key}#${k + round * 5}`))
    }
    // The group committed the end of every partition it read.
    const ends = new Map<number, number>()
    for (const r of produced.reports) ends.set(r.partition, Math.max(ends.get(r.partition) ?? 0, r.offset + 1))
    const committed = await broker.admin.fetchOffsets({ groupId: 'ck-group', topics: [topic] })
    expect(committed[0].partitions.filter((p) => ends.has(p.partition)).map((p) => [p.partition, Number(p.offset)])).toEqual(
      [...ends.entries()].sort((a, b) => a[0] - b[0]),
    )
  })

  it('places keys on the murmur2 partition with partitioner=murmur2_random', async () => {
    const topic = 'ck-murmur'
    await createTopicOn(broker, topic, 4)
    const produced = await runPython<ProduceResult>(SCRIPT, [
      'produce',
      broker.bootstrapServers,
      topic,
      '20',
      '10',
      JSON.stringify({ partitioner: 'murmur2_random' }),
    ])
    expect(produced.errors).toEqual([])
    expect(produced.reports).toHaveLength(20)
    for (const r of produced.reports) expect(r.partition).toBe(defaultPartition(r.key, 4))
  })

  it('produces idempotently with enable.idempotence', async () => {
    const topic = 'ck-idempotent'
    await createTopicOn(broker, topic, 1)
    const result = await runPython<ProduceResult>(SCRIPT, [
      'produce',
      broker.bootstrapServers,
      topic,
      '30',
      '3',
      JSON.stringify({ 'enable.idempotence': true }),
    ])
    expect(result.errors).toEqual([])
    expect(result.reports.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    const batches = await storedBatches(broker, topic, 0)
    expect(batches[0].producerId).toBeGreaterThanOrEqual(0)
    let sequence = 0
    for (const batch of batches) {
      expect(batch.producerId).toBe(batches[0].producerId)
      expect(batch.baseSequence).toBe(sequence)
      sequence += batch.recordCount
    }
    expect(sequence).toBe(30)
  })

  it('splits partitions between two members and gives them all to the one left', async () => {
    const topic = 'ck-group'
    await createTopicOn(broker, topic, 4)
    const result = await runPython<{ split: number[][]; first: number[][]; after: number[]; second: number[]; duplicates: number }>(
      SCRIPT,
      ['group-split', broker.bootstrapServers, topic, 'ck-split-group'],
      60_000,
    )
    expect([...result.split[0], ...result.split[1]].sort()).toEqual([0, 1, 2, 3])
    expect(result.first).toEqual(result.split)
    expect(result.after).toEqual([0, 1, 2, 3])
    expect(result.second).toEqual([0, 1, 2, 3])
    expect(result.duplicates).toBe(0)
  })
})
