/**
 * Error answers over the wire for requests no well-behaved client sends, built with our own
 * protocol codecs on a plain socket: each comes back with Kafka's error code on the partition, and
 * the connection stays open for the next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKey } from '../../src/protocol/index.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { encodeBatch, RECORDS_OFFSET } from '../../src/records/record-batch.js'
import { RawConnection, startTestBroker, tempDataDir, type Broker } from './harness.js'

const TOPIC = 'wire-errors'
const SMALL_TOPIC = 'wire-errors-small'
const MESSAGE_MAX_BYTES = 10_000

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let connection: RawConnection

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir, { messageMaxBytes: MESSAGE_MAX_BYTES })
  const [created] = await broker.cluster.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: -1, configs: {} }], false)
  expect(created.errorCode).toBe(0)
  connection = await connectionToLeader(TOPIC)
})

/** A raw connection to the broker that leads partition 0 of `topic`, where its produce must go. */
async function connectionToLeader(topic: string): Promise<RawConnection> {
  const meta = await broker.cluster.metadata([topic], false)
  return RawConnection.open(broker.ports[meta.topics[0].partitions[0].leaderId])
}

afterAll(async () => {
  connection?.close()
  await broker?.close()
  data?.remove()
})

function batch(values: string[]): Buffer {
  return encodeBatch({ baseTimestamp: Date.now(), records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v) })) })
}

/** Produces one record set with Produce v7 and returns the partition's answer. */
async function produce(records: Buffer, acks = -1, alter?: (frame: Buffer) => void) {
  const response = await connection.request(
    ApiKey.Produce,
    7,
    { transactionalId: null, acks, timeoutMs: 5_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] },
    alter,
  )
  return response.responses[0].partitionResponses[0]
}

/** The partition's log end offset, by ListOffsets v5 on the same connection. */
async function logEnd(): Promise<number> {
  const response = await connection.request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  })
  const partition = response.topics[0].partitions[0]
  expect(partition.errorCode).toBe(ErrorCode.NONE)
  return partition.offset
}

/** A request that must succeed on the same connection: proof it was not closed. */
async function stillOpen(): Promise<void> {
  const versions = await connection.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'partita-it', clientSoftwareVersion: '1' })
  expect(versions.errorCode).toBe(ErrorCode.NONE)
  expect(connection.closed).toBe(false)
}

describe('errors over the wire', () => {
  it('appends a good batch first (so the errors below are about the request, not the topic)', async () => {
    const answer = await produce(batch(['one']))
    expect(answer.errorCode).toBe(ErrorCode.NONE)
    expect(answer.baseOffset).toBe(0)
  })

  it('refuses acks outside -1, 0 and 1 with INVALID_REQUIRED_ACKS', async () => {
    for (const acks of [2, -2, 5]) {
      const answer = await produce(batch(['bad acks']), acks)
      expect(answer.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS)
      await stillOpen()
    }
  })

  it('refuses a batch with a flipped byte with CORRUPT_MESSAGE', async () => {
    const records = batch(['a value whose bytes will not match the crc'])
    const answer = await produce(records, -1, (frame) => {
      // The record set is the frame's tail: flip a byte inside the records, after the CRC.
      const at = frame.length - records.length + RECORDS_OFFSET + 3
      frame[at] ^= 0xff
    })
    expect(answer.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    await stillOpen()
  })

  it('refuses a batch over the topic max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    const [created] = await broker.cluster.createTopics(
      [{ name: SMALL_TOPIC, numPartitions: 1, replicationFactor: -1, configs: { 'max.message.bytes': '5000' } }],
      false,
    )
    expect(created.errorCode).toBe(0)
    const leader = await connectionToLeader(SMALL_TOPIC)
    try {
      const response = await leader.request(ApiKey.Produce, 7, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5_000,
        topicData: [{ name: SMALL_TOPIC, partitionData: [{ index: 0, records: batch(['x'.repeat(6_000)]) }] }],
      })
      expect(response.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
      expect(leader.closed).toBe(false)
    } finally {
      leader.close()
    }
  })

  it('refuses a batch over the broker message.max.bytes with MESSAGE_TOO_LARGE', async () => {
    const answer = await produce(batch(['x'.repeat(MESSAGE_MAX_BYTES + 1)]))
    expect(answer.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    await stillOpen()
  })

  it('answers a fetch outside the log with OFFSET_OUT_OF_RANGE', async () => {
    const end = await logEnd()
    for (const fetchOffset of [end + 1, end + 1_000, -5]) {
      const response = await connection.request(ApiKey.Fetch, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      })
      const partition = response.responses[0].partitions[0]
      expect(partition.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
      expect(partition.highWatermark).toBe(end)
      await stillOpen()
    }
  })

  it('stored only the good batch', async () => {
    expect(await logEnd()).toBe(1)
  })
})
