/**
 * Transactions with real clients: confluent-kafka (librdkafka) commits and aborts, fencing and
 * abandonment; kafkajs's consume-transform-produce with sendOffsets; and a coordinator's state
 * surviving a restart of the brokers (it is reloaded from __transaction_state).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { createTopicOn, eventually, runPython, startTestBroker, tempDataDir, type Broker } from './harness.js'

const SCRIPT = 'confluent_txn.py'
/** Short, so an abandoned transaction is aborted within a test's time. */
const ABORT_CHECK_INTERVAL_MS = 200

let data: ReturnType<typeof tempDataDir>
let broker: Broker

const options = { transactionStateLogNumPartitions: 4, transactionAbortTimedOutCleanupIntervalMs: ABORT_CHECK_INTERVAL_MS }

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir, options)
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

interface Read {
  values: string[]
  complete: boolean
}

function read(topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<Read> {
  return runPython<Read>(SCRIPT, ['read', broker.bootstrapServers, topic, isolation])
}

describe('confluent-kafka transactions', () => {
  it('commits and aborts: read_committed sees exactly the committed records, read_uncommitted both', async () => {
    await createTopicOn(broker, 'txn-ca', 2)
    const txns = [
      { values: ['c1', 'c2', 'c3'], commit: true },
      { values: ['a1', 'a2'], commit: false },
      { values: ['c4'], commit: true },
      { values: ['a3'], commit: false },
    ]
    expect(await runPython(SCRIPT, ['produce', broker.bootstrapServers, 'txn-ca', 'ca-1', JSON.stringify(txns)])).toEqual({ ok: true })
    const committed = await read('txn-ca', 'read_committed')
    expect(committed.complete).toBe(true)
    expect(committed.values.sort()).toEqual(['c1', 'c2', 'c3', 'c4'])
    const uncommitted = await read('txn-ca', 'read_uncommitted')
    expect(uncommitted.values.sort()).toEqual(['a1', 'a2', 'a3', 'c1', 'c2', 'c3', 'c4'])
  })

  it('fences the first producer when a second one starts with the same transactional id', async () => {
    await createTopicOn(broker, 'txn-fence', 1)
    const result = await runPython<{ errors: Array<{ name: string; fatal: boolean }> }>(SCRIPT, ['fence', broker.bootstrapServers, 'txn-fence', 'fence-1'])
    expect(result.errors).toEqual([{ name: '_FENCED', fatal: true }])
    // The zombie's open transaction was aborted when the second producer fenced it.
    expect((await read('txn-fence', 'read_committed')).values).toEqual(['winner'])
    expect((await read('txn-fence', 'read_uncommitted')).values).toEqual(['zombie-1', 'winner'])
  })

  it('aborts a transaction its producer abandoned once transaction.timeout.ms passes, so read_committed consumers move on', async () => {
    const TIMEOUT_MS = 8_000
    await createTopicOn(broker, 'txn-abandon', 1)
    const abandonedAt = Date.now()
    await runPython(SCRIPT, ['abandon', broker.bootstrapServers, 'txn-abandon', 'abandon-1', String(TIMEOUT_MS)])
    await runPython(SCRIPT, ['produce', broker.bootstrapServers, 'txn-abandon', 'abandon-2', JSON.stringify([{ values: ['after'], commit: true }])])
    // Held back by the open transaction until it times out and is aborted.
    const before = await read('txn-abandon', 'read_committed')
    const [{ offset: lso }] = await broker.cluster.listOffsets([{ topic: 'txn-abandon', partition: 0, timestamp: -1, isolationLevel: 1 }])
    await eventually(async () => ((await read('txn-abandon', 'read_committed')).values.includes('after') ? true : undefined), 'the abandoned transaction to be aborted', 30_000)
    expect(before.values).toEqual([])
    expect(lso).toBe(0)
    // Aborted once its timeout passed, found by the next check (plus a python consumer's start-up).
    expect(Date.now() - abandonedAt).toBeLessThan(TIMEOUT_MS + 10_000)
    const [{ offset: lsoAfter }] = await broker.cluster.listOffsets([{ topic: 'txn-abandon', partition: 0, timestamp: -1, isolationLevel: 1 }])
    expect(lsoAfter).toBeGreaterThan(2)
    expect((await read('txn-abandon', 'read_uncommitted')).values).toEqual(['abandoned', 'after'])
  })
})

describe('kafkajs transactions', () => {
  it('consume-transform-produce with sendOffsets: output and committed offsets move together, an aborted batch leaves neither', async () => {
    await createTopicOn(broker, 'txn-in', 1)
    await createTopicOn(broker, 'txn-out', 1)
    const kafka = new Kafka({ clientId: 'txn-it', brokers: broker.bootstrapServers.split(','), logLevel: logLevel.NOTHING })
    const plain = kafka.producer()
    await plain.connect()
    await plain.send({ topic: 'txn-in', messages: Array.from({ length: 10 }, (_, i) => ({ value: `in-${i}` })) })
    await plain.disconnect()

    const producer = kafka.producer({ transactionalId: 'ctp-1', maxInFlightRequests: 1, idempotent: true })
    await producer.connect()
    const consumer = { consumerGroupId: 'ctp-group', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '6' }] }] }
    // Records 0-5 are copied and their offsets committed in one transaction.
    const first = await producer.transaction()
    await first.send({ topic: 'txn-out', messages: Array.from({ length: 6 }, (_, i) => ({ value: `out-${i}` })) })
    await first.sendOffsets(consumer)
    await first.commit()
    // Records 6-9 are copied, then the transaction aborts: neither the copies nor the offsets count.
    const second = await producer.transaction()
    await second.send({ topic: 'txn-out', messages: Array.from({ length: 4 }, (_, i) => ({ value: `out-${6 + i}` })) })
    await second.sendOffsets({ ...consumer, topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '10' }] }] })
    await second.abort()
    await producer.disconnect()

    const admin = kafka.admin()
    await admin.connect()
    const offsets = await admin.fetchOffsets({ groupId: 'ctp-group', topics: ['txn-in'] })
    await admin.disconnect()
    expect(offsets).toEqual([{ topic: 'txn-in', partitions: [{ partition: 0, offset: '6', metadata: null }] }])
    const committed = await read('txn-out', 'read_committed')
    expect(committed.values).toEqual(['out-0', 'out-1', 'out-2', 'out-3', 'out-4', 'out-5'])
  })
})

describe('transaction state across a restart', () => {
  it('reloads an open transaction from __transaction_state, so the next producer of its id aborts it', async () => {
    await createTopicOn(broker, 'txn-restart', 1)
    // Long enough that only the next producer, not the timeout, can end it.
    await runPython(SCRIPT, ['abandon', broker.bootstrapServers, 'txn-restart', 'restart-1', '600000'])
    await broker.close()
    broker = await startTestBroker(data.dir, options)
    await runPython(SCRIPT, ['produce', broker.bootstrapServers, 'txn-restart', 'restart-1', JSON.stringify([{ values: ['next'], commit: true }])])
    expect((await read('txn-restart', 'read_committed')).values).toEqual(['next'])
    expect((await read('txn-restart', 'read_uncommitted')).values).toEqual(['abandoned', 'next'])
  })
})
