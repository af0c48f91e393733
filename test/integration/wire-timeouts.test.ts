/**
 * Every timeout a request carries, at its int32 extremes, against a real broker over raw frames:
 * each gets Kafka's answer, the connection stays open, and no timer is handed a delay it cannot
 * hold (Node would print a TimeoutOverflowWarning and fire it after 1 ms).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { encodeBatch } from '../../src/records/record-batch.js'
import { RawConnection, eventually, startTestBroker, tempDataDir, type Broker } from './harness.js'

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1
const EXTREMES = [INT32_MIN, -1, 0, 1, INT32_MAX]
/** An admin change may outlast 1 ms, which is its own test; a timeout it surely meets stands in for 1. */
const ADMIN_TIMEOUTS = [INT32_MIN, -1, 0, 30_000, INT32_MAX]
const TOPIC = 'wire-timeouts'

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let connection: RawConnection
const warnings: string[] = []
const onWarning = (warning: Error): void => {
  warnings.push(`${warning.name}: ${warning.message}`)
}

beforeAll(async () => {
  process.on('warning', onWarning)
  data = tempDataDir()
  // One broker: the raw connection talks to the leader of every partition.
  broker = await startTestBroker(data.dir, { autoCreateTopics: false, brokers: 1, defaultReplicationFactor: 1 })
  const [created] = await broker.cluster.createTopics([{ name: TOPIC, numPartitions: 2, replicationFactor: -1, configs: {} }], false)
  expect(created.errorCode).toBe(ErrorCode.NONE)
  connection = await RawConnection.open(broker.port)
  // Group requests need __consumer_offsets, which a client's first FindCoordinator creates.
  await eventually(async () => {
    const found = await connection.request(ApiKey.FindCoordinator, 1, { key: 'timeouts', keyType: 0 })
    return found.errorCode === ErrorCode.NONE ? true : undefined
  }, 'the group coordinator')
})

afterAll(async () => {
  connection?.close()
  await broker?.close()
  data?.remove()
  process.off('warning', onWarning)
})

afterEach(async () => {
  // Proof the connection survived everything the test sent, then that no timer overflowed.
  const versions = await connection.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'partita-it', clientSoftwareVersion: '1' })
  expect(versions.errorCode).toBe(ErrorCode.NONE)
  expect(connection.closed).toBe(false)
  expect(warnings.splice(0)).toEqual([])
})

function batch(value: string): Buffer {
  return encodeBatch({ baseTimestamp: Date.now(), records: [{ key: Buffer.from('k'), value: Buffer.from(value) }] })
}

async function produce(on: RawConnection, value: string, acks: number, timeoutMs: number, partition = 0) {
  const response = await on.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks,
    timeoutMs,
    topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: batch(value) }] }],
  })
  return response.responses[0].partitionResponses[0]
}

function fetchRequest(maxWaitMs: number, fetchOffset: number, minBytes: number, partition = 0) {
  return {
    replicaId: -1,
    maxWaitMs,
    minBytes,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  }
}

async function logEnd(partition: number): Promise<number> {
  const [result] = await broker.cluster.listOffsets([{ topic: TOPIC, partition, timestamp: -1 }])
  expect(result.errorCode).toBe(ErrorCode.NONE)
  return result.offset
}

async function topicExists(name: string): Promise<boolean> {
  return (await broker.cluster.metadata([name], false)).topics[0].errorCode === ErrorCode.NONE
}

describe('timeouts from the wire', () => {
  it('appends a produce whatever its timeout, acks=-1 and acks=1 alike, with one replica in sync', async () => {
    // Counted from the answers, not re-read: an acks=1 record is visible only once it is on disk.
    let next = await logEnd(1)
    for (const acks of [-1, 1]) {
      for (const timeoutMs of EXTREMES) {
        const answer = await produce(connection, `acks ${acks} timeout ${timeoutMs}`, acks, timeoutMs, 1)
        expect(answer.errorCode).toBe(ErrorCode.NONE)
        expect(answer.baseOffset).toBe(next++)
      }
    }
  })

  it('answers a fetch with a max wait of 1 ms or less at once, with nothing to read', async () => {
    const end = await logEnd(0)
    for (const maxWaitMs of [INT32_MIN, -1, 0, 1]) {
      const response = await connection.request(ApiKey.Fetch, 11, fetchRequest(maxWaitMs, end, 1))
      const partition = response.responses[0].partitions[0]
      expect(partition.errorCode).toBe(ErrorCode.NONE)
      expect(partition.records?.length ?? 0).toBe(0)
    }
  })

  it('keeps a fetch with a max wait of 2^31-1 ms parked until records arrive', async () => {
    const end = await logEnd(0)
    const waiting = connection.request(ApiKey.Fetch, 11, fetchRequest(INT32_MAX, end, 1))
    const producer = await RawConnection.open(broker.port)
    try {
      expect((await produce(producer, 'wakes the long poll', 1, 1_000)).errorCode).toBe(ErrorCode.NONE)
    } finally {
      producer.close()
    }
    const partition = (await waiting).responses[0].partitions[0]
    expect(partition.errorCode).toBe(ErrorCode.NONE)
    expect(partition.records!.length).toBeGreaterThan(0)
    expect(partition.highWatermark).toBe(end + 1)
  })

  it('releases a fetch parked for 2^31-1 ms when its connection closes, leaving the partition serving', async () => {
    const end = await logEnd(0)
    const parking = await RawConnection.open(broker.port)
    // minBytes no partition can reach: only the close can end this fetch before 24.8 days.
    const parked = parking.request(ApiKey.Fetch, 11, fetchRequest(INT32_MAX, 0, 1 << 30)).catch(() => 'closed')
    // A round trip through the same partition's mailbox: the fetch is parked there by now.
    await logEnd(0)
    parking.close()
    expect(await parked).toBe('closed')
    // The partition still answers reads and appends, and a later long-poll still wakes on records.
    const waiting = connection.request(ApiKey.Fetch, 11, fetchRequest(INT32_MAX, end, 1))
    const producer = await RawConnection.open(broker.port)
    try {
      expect((await produce(producer, 'after the close', 1, 1_000)).errorCode).toBe(ErrorCode.NONE)
    } finally {
      producer.close()
    }
    expect((await waiting).responses[0].partitions[0].highWatermark).toBe(end + 1)
  })

  it('refuses a JoinGroup session timeout at any int32 extreme with INVALID_SESSION_TIMEOUT', async () => {
    for (const version of [0, 3, 6]) {
      for (const sessionTimeoutMs of EXTREMES) {
        const response = await connection.request(ApiKey.JoinGroup, version, {
          groupId: 'timeouts',
          sessionTimeoutMs,
          rebalanceTimeoutMs: 10_000,
          memberId: '',
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
        })
        expect(response.errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
      }
    }
  })

  it('takes any JoinGroup rebalance timeout: 0 or below stands for the session timeout, 2^31-1 fits a timer', async () => {
    for (const [i, rebalanceTimeoutMs] of EXTREMES.entries()) {
      const groupId = `rebalance-${i}`
      const response = await connection.request(ApiKey.JoinGroup, 3, {
        groupId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs,
        memberId: '',
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      })
      expect(response.errorCode).toBe(ErrorCode.NONE)
      // The sole member leads generation 1 at once (no initial delay in these tests).
      expect(response).toMatchObject({ generationId: 1, leader: response.memberId })
    }
  })

  it('checks a transactional InitProducerId timeout against transaction.max.timeout.ms first, and ignores an idempotent one', async () => {
    for (const transactionTimeoutMs of EXTREMES) {
      const idempotent = await connection.request(ApiKey.InitProducerId, 3, { transactionalId: null, transactionTimeoutMs, producerId: -1, producerEpoch: -1 })
      expect(idempotent.errorCode).toBe(ErrorCode.NONE)
      expect(idempotent.producerId).toBeGreaterThanOrEqual(0)
    }
    for (const transactionTimeoutMs of [INT32_MIN, -1, 0, 900_001, INT32_MAX]) {
      const response = await connection.request(ApiKey.InitProducerId, 3, { transactionalId: 'tx', transactionTimeoutMs })
      expect(response.errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    }
    // A valid timeout passes the check: the broker then looks for the id's coordinator (no
    // __transaction_state until a FindCoordinator creates it, so COORDINATOR_NOT_AVAILABLE, which clients retry).
    for (const transactionTimeoutMs of [1, 900_000]) {
      const response = await connection.request(ApiKey.InitProducerId, 3, { transactionalId: 'tx', transactionTimeoutMs })
      expect([ErrorCode.NONE, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]).toContain(response.errorCode)
    }
    // Kafka refuses an empty transactional id before it looks at the timeout.
    const empty = await connection.request(ApiKey.InitProducerId, 0, { transactionalId: '', transactionTimeoutMs: -1 })
    expect(empty.errorCode).toBe(ErrorCode.INVALID_REQUEST)
  })

  it('creates, grows and deletes topics whatever the timeout, answering REQUEST_TIMED_OUT at 0 or below as Kafka does', async () => {
    for (const [i, timeoutMs] of ADMIN_TIMEOUTS.entries()) {
      const name = `admin-timeout-${i}`
      const expected = timeoutMs <= 0 ? ErrorCode.REQUEST_TIMED_OUT : ErrorCode.NONE
      const created = await connection.request(ApiKey.CreateTopics, 4, { topics: [{ name, numPartitions: 1, replicationFactor: -1 }], timeoutMs })
      expect(created.topics[0]).toMatchObject({ name, errorCode: expected, errorMessage: null })
      expect(await topicExists(name)).toBe(true)
      const again = await connection.request(ApiKey.CreateTopics, 4, { topics: [{ name, numPartitions: 1, replicationFactor: -1 }], timeoutMs })
      expect(again.topics[0].errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS)

      const grown = await connection.request(ApiKey.CreatePartitions, 1, { topics: [{ name, count: 2, assignments: null }], timeoutMs, validateOnly: false })
      expect(grown.results[0].errorCode).toBe(expected)
      expect((await broker.cluster.metadata([name], false)).topics[0].partitions).toHaveLength(2)

      const deleted = await connection.request(ApiKey.DeleteTopics, 1, { topicNames: [name, `${name}-never`], timeoutMs })
      expect(deleted.responses.map((r) => r.errorCode)).toEqual([expected, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
      expect(await topicExists(name)).toBe(false)
    }
  })

  it('answers REQUEST_TIMED_OUT when a creation outlasts its timeoutMs, keeps the connection, and completes the creation', async () => {
    // Opening 400 partition logs takes the broker far longer than 1 ms; Kafka's answer is the
    // timeout, and the change goes on. The runtime's own 30 s request timeout used to fail the
    // request instead, closing the connection, when a creation took longer than that.
    const name = 'slow-creation'
    const created = await connection.request(ApiKey.CreateTopics, 4, { topics: [{ name, numPartitions: 400, replicationFactor: 1 }], timeoutMs: 1 })
    expect(created.topics[0]).toMatchObject({ name, errorCode: ErrorCode.REQUEST_TIMED_OUT })
    expect(created.topics[0].errorMessage).toContain('goes on and completes')
    expect(connection.closed).toBe(false)
    await eventually(async () => ((await broker.cluster.metadata([name], false)).topics[0].partitions.length === 400 ? true : undefined), 'the slow creation')
    const grown = await connection.request(ApiKey.CreatePartitions, 1, { topics: [{ name, count: 800, assignments: null }], timeoutMs: 1, validateOnly: false })
    expect(grown.results[0].errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT)
    await eventually(async () => ((await broker.cluster.metadata([name], false)).topics[0].partitions.length === 800 ? true : undefined), 'the slow growth')
    const deleted = await connection.request(ApiKey.DeleteTopics, 1, { topicNames: [name], timeoutMs: 1 })
    expect(deleted.responses[0].errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT)
    await eventually(async () => ((await topicExists(name)) ? undefined : true), 'the slow deletion')
  })

  it('answers a validate-only admin request with NONE whatever the timeout, and changes nothing', async () => {
    for (const timeoutMs of ADMIN_TIMEOUTS) {
      const created = await connection.request(ApiKey.CreateTopics, 4, {
        topics: [{ name: 'dry-run', numPartitions: 1, replicationFactor: -1 }],
        timeoutMs,
        validateOnly: true,
      })
      expect(created.topics[0].errorCode).toBe(ErrorCode.NONE)
      expect(await topicExists('dry-run')).toBe(false)
      const grown = await connection.request(ApiKey.CreatePartitions, 1, { topics: [{ name: TOPIC, count: 3, assignments: null }], timeoutMs, validateOnly: true })
      expect(grown.results[0].errorCode).toBe(ErrorCode.NONE)
      expect((await broker.cluster.metadata([TOPIC], false)).topics[0].partitions).toHaveLength(2)
    }
  })

  it('deletes records whatever the timeout, which sets no timer', async () => {
    for (const timeoutMs of EXTREMES) {
      const offset = await logEnd(1)
      // acks=all: the record must be below the high watermark, which waits for the disk.
      expect((await produce(connection, 'to delete', -1, 1_000, 1)).errorCode).toBe(ErrorCode.NONE)
      const response = await connection.request(ApiKey.DeleteRecords, 1, { topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, offset: offset + 1 }] }], timeoutMs })
      expect(response.topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, lowWatermark: offset + 1 })
    }
  })

  it('commits offsets whatever the retention time (OffsetCommit v2-4), which sets no timer', async () => {
    for (const retentionTimeMs of [Number.MIN_SAFE_INTEGER, INT32_MIN, -1, 0, 1, INT32_MAX, Number.MAX_SAFE_INTEGER]) {
      const response = await connection.request(ApiKey.OffsetCommit, 2, {
        groupId: 'retention',
        generationIdOrMemberEpoch: -1,
        memberId: '',
        retentionTimeMs,
        topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }],
      })
      expect(response.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE)
    }
  })
})
