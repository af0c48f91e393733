/**
 * Issue 9's "wrong answers", asked by real clients of a three-broker cluster: confluent-kafka's
 * AdminClient (topic configs, replica assignments), its consumer (a commit for a topic that does
 * not exist), kafkajs's admin (replica assignments) and kafka-python's acks=0 producer closing at
 * once. Each answer must be Kafka 3.x's, and each refusal must leave nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { errorTypes, runPython, startTestBroker, tempDataDir, type Broker } from './harness.js'

const SCRIPT = 'confluent_conformance.py'
const BROKERS = 3

let data: ReturnType<typeof tempDataDir>
let broker: Broker

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir, { brokers: BROKERS, defaultReplicationFactor: 1 })
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

describe('confluent-kafka AdminClient', () => {
  it('is refused an unknown topic config with INVALID_CONFIG, and has every Kafka 3.x key it sets described back', async () => {
    const result = await runPython<{
      unknown: number
      topicsAfterUnknown: string[]
      created: number
      described: Record<string, string>
      altered: number
      afterAlter: Record<string, string>
    }>(SCRIPT, ['configs', broker.bootstrapServers, 'cfg'])
    expect(result.unknown).toBe(40)
    expect(result.topicsAfterUnknown).not.toContain('cfg-unknown')
    expect(result.created).toBe(0)
    expect(result.described).toEqual({ 'message.format.version': '2.8', preallocate: 'true', 'segment.jitter.ms': '5', 'retention.ms': '3600000' })
    expect(result.altered).toBe(0)
    // AlterConfigs replaces the whole set: what it did not name returns to the default.
    expect(result.afterAlter).toEqual({ 'message.format.version': '2.8', 'min.cleanable.dirty.ratio': '0.2', preallocate: 'false' })
  })

  it("describes a broker, sets a dynamic log default for that broker alone and is refused a read-only key", async () => {
    const result = await runPython<{
      before: Record<string, { value: string; readOnly: boolean; source: number }>
      readOnly: number
      altered: number
      after: { value: string; readOnly: boolean; source: number }
    }>(SCRIPT, ['broker-configs', broker.bootstrapServers, 'brokercfg'])
    expect(result.before['log.retention.ms']).toEqual({ value: '604800000', readOnly: false, source: 5 })
    expect(result.before['num.partitions']).toMatchObject({ readOnly: true, source: 4 })
    expect(result.readOnly).toBe(42)
    expect(result.altered).toBe(0)
    expect(result.after).toEqual({ value: '60000', readOnly: false, source: 2 })
  })

  it('creates topics and partitions exactly as assigned and refuses bad assignments with INVALID_REPLICA_ASSIGNMENT', async () => {
    const result = await runPython<{
      refused: Record<string, number>
      topicsAfterRefused: string[]
      created: number
      badGrow: number
      grown: number
      replicas: number[][]
      leaders: number[]
    }>(SCRIPT, ['assignments', broker.bootstrapServers, 'placed'])
    expect(result.refused).toEqual({ unknownBroker: 39, uneven: 39, duplicate: 39 })
    expect(result.topicsAfterRefused.filter((t) => t.startsWith('placed'))).toEqual([])
    expect(result.created).toBe(0)
    expect(result.badGrow).toBe(39)
    expect(result.grown).toBe(0)
    expect(result.replicas).toEqual([
      [2, 0],
      [1, 2],
      [0, 1],
      [1, 0],
    ])
    expect(result.leaders).toEqual([2, 1, 0, 1])
  })
})

describe('confluent-kafka consumer', () => {
  it('is told UNKNOWN_TOPIC_OR_PARTITION when it commits for a topic that does not exist', async () => {
    const [created] = await broker.cluster.createTopics([{ name: 'committed', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    expect(created.errorCode).toBe(0)
    const result = await runPython<Record<string, number>>(SCRIPT, ['commit-unknown', broker.bootstrapServers, 'committed'])
    expect(result).toEqual({ committed: 0, 'no-such-topic-committed': 3 })
    const metadata = await broker.cluster.metadata(null, false)
    expect(metadata.topics.map((t) => t.name)).not.toContain('no-such-topic-committed')
  })
})

describe('kafkajs admin', () => {
  it('creates a topic with replicaAssignment exactly as given', async () => {
    const kafka = new Kafka({ clientId: 'conformance', brokers: broker.bootstrapServers.split(','), logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      const created = await admin.createTopics({
        topics: [
          {
            topic: 'kjs-assigned',
            replicaAssignment: [
              { partition: 0, replicas: [1, 2] },
              { partition: 1, replicas: [2, 0] },
            ],
          },
        ],
      })
      expect(created).toBe(true)
      const { topics } = await admin.fetchTopicMetadata({ topics: ['kjs-assigned'] })
      const partitions = [...topics[0].partitions].sort((a, b) => a.partitionId - b.partitionId)
      expect(partitions.map((p) => [p.replicas, p.leader])).toEqual([
        [[1, 2], 1],
        [[2, 0], 2],
      ])
      const refused = await admin.createTopics({ topics: [{ topic: 'kjs-bad', replicaAssignment: [{ partition: 0, replicas: [0, 5] }] }] }).catch((e: unknown) => e)
      expect(errorTypes(refused)).toContain('INVALID_REPLICA_ASSIGNMENT')
    } finally {
      await admin.disconnect()
    }
  })
})

describe('kafka-python acks=0 producer', () => {
  it('has every record stored when it closes right after sending', async () => {
    const [created] = await broker.cluster.createTopics([{ name: 'fire', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    expect(created.errorCode).toBe(0)
    const count = 20_000
    await runPython<{ sent: number }>('kafka_python_client.py', ['produce-acks0-close', broker.bootstrapServers, 'fire', String(count)], 60_000)
    // The close may reach the broker before the last produces have run; they still run.
    const deadline = Date.now() + 20_000
    let latest = -1
    // Bounded by the deadline; each round asks the partition once.
    while (latest < count && Date.now() < deadline) {
      const [offsets] = await broker.cluster.listOffsets([{ topic: 'fire', partition: 0, timestamp: -1 }])
      latest = offsets.offset
      if (latest < count) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(latest).toBe(count)
  })
})
