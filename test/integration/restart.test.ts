/**
 * Broker restarts under real clients: group commits survive a restart on the same data directory,
 * and kafkajs clients with their default retries ride through a restart on the same port while
 * producing and consuming.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Kafka, logLevel, type Consumer } from 'kafkajs'
import { ApiKey } from '../../src/protocol/index.js'
import { eventually, freeConsecutivePorts, RawConnection, runPython, startTestBroker, TEST_BROKERS, tempDataDir, type Broker } from './harness.js'

const dirs: Array<ReturnType<typeof tempDataDir>> = []
const brokers: Broker[] = []

afterEach(async () => {
  for (const broker of brokers.splice(0)) await broker.close()
  for (const dir of dirs.splice(0)) dir.remove()
})

async function start(dataDir: string, port = 0): Promise<Broker> {
  const broker = await startTestBroker(dataDir, { port })
  brokers.push(broker)
  return broker
}

async function stop(broker: Broker): Promise<void> {
  brokers.splice(brokers.indexOf(broker), 1)
  await broker.close()
}

function client(broker: Broker): Kafka {
  return new Kafka({ clientId: 'partita-it', brokers: broker.bootstrapServers.split(","), logLevel: logLevel.NOTHING })
}

async function consumeInto(kafka: Kafka, groupId: string, topic: string, into: string[]): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => void into.push(message.value?.toString() ?? '') })
  return consumer
}

describe('broker restarts', () => {
  it('resumes a kafkajs group after its committed offsets once the broker restarts on the same data', async () => {
    const data = tempDataDir()
    dirs.push(data)
    const first = await start(data.dir)
    const topic = 'rs-commits'
    const [created] = await first.cluster.createTopics([{ name: topic, numPartitions: 2, replicationFactor: -1, configs: {} }], false)
    expect(created.errorCode).toBe(0)
    const producer = client(first).producer()
    await producer.connect()
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `before-${i}` })) })
    await producer.disconnect()
    const before: string[] = []
    const consumer = await consumeInto(client(first), 'rs-group', topic, before)
    await eventually(() => (before.length >= 10 ? true : undefined), 'the first ten messages')
    await consumer.disconnect()
    await stop(first)

    const second = await start(data.dir)
    expect(second.port).not.toBe(null)
    const kafka = client(second)
    const again = kafka.producer()
    await again.connect()
    await again.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `after-${i}` })) })
    await again.disconnect()
    const after: string[] = []
    const resumed = await consumeInto(kafka, 'rs-group', topic, after)
    await eventually(() => (after.length >= 5 ? true : undefined), 'the five new messages')
    await resumed.disconnect()
    expect(before.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `before-${i}`).sort())
    expect(after.sort()).toEqual(Array.from({ length: 5 }, (_, i) => `after-${i}`).sort())
  })

  it('resumes a kafka-python group after its committed offsets once the broker restarts', async () => {
    const data = tempDataDir()
    dirs.push(data)
    const first = await start(data.dir)
    const topic = 'rs-kp'
    await first.cluster.createTopics([{ name: topic, numPartitions: 2, replicationFactor: -1, configs: {} }], false)
    const script = 'kafka_python_client.py'
    await runPython(script, ['produce', first.bootstrapServers, topic, '6', '3'])
    const read = await runPython<{ records: Array<{ offset: number; value: string }> }>(script, ['consume', first.bootstrapServers, topic, 'rs-kp-group', '6'])
    expect(read.records).toHaveLength(6)
    await stop(first)

    const second = await start(data.dir)
    await runPython(script, ['produce', second.bootstrapServers, topic, '3', '3'])
    const resumed = await runPython<{ records: Array<{ value: string }> }>(script, ['consume', second.bootstrapServers, topic, 'rs-kp-group', '3'])
    // The second run's values are key-N#0..2 again; the first run's would make this six.
    expect(resumed.records.map((r) => r.value).sort()).toEqual(['key-0#0', 'key-1#1', 'key-2#2'])
  })

  it('drops its connections before it closes any log, so a fetch parked at shutdown gets no answer from a closing partition', async () => {
    // Answered NOT_LEADER_OR_FOLLOWER, kafkajs goes rediscovering leaders and its group
    // coordinator from a broker on its way down; one FindCoordinator cut by the close then
    // crashes its consumer for good. A dropped connection it simply reconnects.
    const data = tempDataDir()
    dirs.push(data)
    const broker = await start(data.dir)
    const topic = 'rs-parked'
    await broker.cluster.createTopics([{ name: topic, numPartitions: 1, replicationFactor: -1, configs: {} }], false)
    const meta = await broker.cluster.metadata([topic], false)
    const connection = await RawConnection.open(broker.ports[meta.topics[0].partitions[0].leaderId])
    // minBytes no partition can reach and the longest wait: only the shutdown can end this fetch.
    const parked = connection.request(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 2_147_483_647,
      minBytes: 1 << 30,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    })
    // The answer's error code, or the connection's fate: handled from the start, as it may come first.
    const outcome = parked.then(
      (response) => `answered with error code ${response.responses[0].partitions[0].errorCode}`,
      (error: Error) => error.message,
    )
    // A round trip through the same partition's mailbox: the fetch is parked there by now.
    await broker.cluster.listOffsets([{ topic, partition: 0, timestamp: -1 }])
    await stop(broker)
    expect(await outcome).toBe('connection closed')
  })

  it('keeps an idempotent kafkajs producer and a group consumer going through a restart on the same port', async () => {
    const data = tempDataDir()
    dirs.push(data)
    // Every broker comes back on its own port (base + id), so all of them must be free again.
    const first = await start(data.dir, await freeConsecutivePorts(TEST_BROKERS))
    const port = first.port
    const topic = 'rs-through'
    await first.cluster.createTopics([{ name: topic, numPartitions: 2, replicationFactor: -1, configs: {} }], false)
    const kafka = client(first)
    const received: string[] = []
    const consumer = await consumeInto(kafka, 'rs-through-group', topic, received)
    const producer = kafka.producer({ idempotent: true })
    await producer.connect()
    const total = 30
    let restarted: Promise<Broker> | null = null
    let sentBeforeRestarted = -1
    let sent = 0
    for (let i = 0; i < total; i++) {
      if (i === 10) {
        // Restart in the background: the producer's next sends meet a closed port, then a new broker.
        restarted = (async () => {
          await stop(first)
          const second = await start(data.dir, port)
          sentBeforeRestarted = sent
          return second
        })()
      }
      await producer.send({ topic, messages: [{ key: `k${i % 4}`, value: `m${i}` }] })
      sent++
    }
    const second = await restarted!
    expect(second).not.toBe(first)
    expect(second.port).toBe(port)
    // Some sends went to the restarted broker, not all before the old one closed.
    expect(sentBeforeRestarted).toBeGreaterThanOrEqual(10)
    expect(sentBeforeRestarted).toBeLessThan(total - 1)
    await producer.disconnect()
    await eventually(() => (new Set(received).size >= total ? true : undefined), 'every message through the consumer', 40_000)
    await consumer.disconnect()
    expect(new Set(received)).toEqual(new Set(Array.from({ length: total }, (_, i) => `m${i}`)))

    // Idempotence across the restart: every value is stored exactly once.
    const stored: string[] = []
    const reader = kafka.consumer({ groupId: 'rs-through-reader', sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 })
    await reader.connect()
    await reader.subscribe({ topics: [topic], fromBeginning: true })
    await reader.run({ eachMessage: async ({ message }) => void stored.push(message.value?.toString() ?? '') })
    await eventually(() => (stored.length >= total ? true : undefined), 'every stored message')
    await reader.disconnect()
    expect(stored.sort()).toEqual(Array.from({ length: total }, (_, i) => `m${i}`).sort())
  })
})
