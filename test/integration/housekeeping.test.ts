/**
 * Retention and compaction seen by real clients: topics created by kafkajs with small segment and
 * retention settings, a broker that runs housekeeping every 100 ms, and the result read back by
 * kafkajs, kcat and kafka-python.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { ApiKey } from '../../src/protocol/index.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { eventually, kcat, RawConnection, runPython, startTestBroker, storedBatches, tempDataDir, type Broker } from './harness.js'

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let kafka: Kafka

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir, { retentionCheckIntervalMs: 100 })
  kafka = new Kafka({ clientId: 'partita-it', brokers: broker.bootstrapServers.split(","), logLevel: logLevel.NOTHING })
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

async function createTopic(topic: string, configs: Record<string, string>): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }))
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] })).toBe(true)
    // The configs reached the topic: DescribeConfigs reports them back.
    const described = await admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: Object.keys(configs) }], includeSynonyms: false })
    const entries = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]))
    expect(entries).toEqual(configs)
  } finally {
    await admin.disconnect()
  }
}

async function offsets(topic: string): Promise<{ low: number; high: number }> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const [partition] = await admin.fetchTopicOffsets(topic)
    return { low: Number(partition.low), high: Number(partition.high) }
  } finally {
    await admin.disconnect()
  }
}

describe('housekeeping seen by clients', () => {
  it('moves the log start past records older than retention.ms, and they can no longer be read', async () => {
    const topic = 'hk-retention'
    await createTopic(topic, { 'retention.ms': '60000', 'segment.ms': '100' })
    const producer = kafka.producer()
    await producer.connect()
    const hourAgo = Date.now() - 3_600_000
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `old-${i}`, timestamp: String(hourAgo + i) })) })
    await eventually(async () => ((await offsets(topic)).low === 5 ? true : undefined), 'the log start to pass the old records')
    await producer.send({ topic, messages: [{ value: 'new-0' }, { value: 'new-1' }] })
    await producer.disconnect()
    expect(await offsets(topic)).toEqual({ low: 5, high: 7 })

    // kafka-python sees the same log start; kcat reading from the beginning gets only the new records.
    const python = await runPython<{ beginning: number; end: number }>('kafka_python_client.py', ['offsets-for-times', broker.bootstrapServers, topic])
    expect([python.beginning, python.end]).toEqual([5, 7])
    const out = await kcat(broker.bootstrapServers, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%o:%s\n'])
    expect(out.trim().split('\n')).toEqual(['5:new-0', '6:new-1'])

    // Fetching a deleted offset directly is OFFSET_OUT_OF_RANGE, with the new log start in the answer.
    const connection = await RawConnection.open(broker.port!)
    try {
      const response = await connection.request(ApiKey.Fetch, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 2, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      })
      expect(response.responses[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset: 5, highWatermark: 7 })
    } finally {
      connection.close()
    }
  })

  it('compacts a topic to the last value of each key', async () => {
    const topic = 'hk-compact'
    await createTopic(topic, { 'cleanup.policy': 'compact', 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01' })
    const producer = kafka.producer()
    await producer.connect()
    const keys = ['a', 'b', 'c', 'd']
    for (let round = 0; round < 3; round++) {
      await producer.send({ topic, messages: keys.map((key) => ({ key, value: `${key}-${round}` })) })
    }
    await producer.disconnect()
    // Housekeeping rolls the active segment after segment.ms, then compacts the closed ones.
    await eventually(
      async () => ((await storedBatches(broker, topic, 0)).reduce((n, b) => n + b.recordCount, 0) === keys.length ? true : undefined),
      'compaction to leave one record per key',
    )
    const out = await kcat(broker.bootstrapServers, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%o %k=%s\n'])
    expect(out.trim().split('\n')).toEqual(['8 a=a-2', '9 b=b-2', '10 c=c-2', '11 d=d-2'])
    // Offsets are kept: the log still ends at 12 and starts at 0.
    expect(await offsets(topic)).toEqual({ low: 0, high: 12 })

    const seen: string[] = []
    const consumer = kafka.consumer({ groupId: 'hk-compact-reader', sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(`${message.offset} ${message.key?.toString()}=${message.value?.toString()}`) })
    await eventually(() => (seen.length >= keys.length ? true : undefined), 'kafkajs to read the compacted topic')
    await consumer.disconnect()
    expect(seen).toEqual(['8 a=a-2', '9 b=b-2', '10 c=c-2', '11 d=d-2'])
  })
})
