import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { FrameReader } from '../../src/protocol/frame-reader.js'
import { ApiKey, decodeResponse, encodeRequest } from '../../src/protocol/index.js'
import { batchBaseOffset, encodeBatch, iterateBatches } from '../../src/records/record-batch.js'
import { startCeilingProcess, type ServerProcess } from '../../bench/protocol/servers.js'

/** Spawns the compiled ceiling in dist/, so `npm run build` first (npm test does). */
describe("the producer's Kafka-speaking ceiling", () => {
  let ceiling: ServerProcess
  let client: KafkaClient

  beforeAll(async () => {
    ceiling = await startCeilingProcess('kafka', 3)
    client = await KafkaClient.connect({ bootstrapServers: ceiling.bootstrap })
  })

  afterAll(async () => {
    await client?.close()
    await ceiling?.stop()
  })

  const batchOf = (count: number): Buffer =>
    encodeBatch({ records: Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })), baseTimestamp: Date.now() })

  it('describes every topic asked about with the partitions it was started with, all led by itself', async () => {
    const metadata = await client.metadata(['any-topic'])
    const topic = metadata.topics.find((t) => t.name === 'any-topic')!
    expect(topic.partitions.map((p) => [p.partition, p.leader])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ])
  })

  it('describes a topic created with a partition count with that many, and forgets it once deleted', async () => {
    const created = await client.createTopics([{ name: 'made', numPartitions: 5, replicationFactor: 1 }])
    expect(created.topics.map((t) => [t.name, t.errorCode])).toEqual([['made', ErrorCode.NONE]])
    expect((await client.metadata(['made'])).topics[0].partitions).toHaveLength(5)
    const deleted = await client.deleteTopics(['made'])
    expect(deleted.responses.map((r) => [r.name, r.errorCode])).toEqual([['made', ErrorCode.NONE]])
    expect((await client.metadata(['made'])).topics[0].partitions).toHaveLength(3)
  })

  it('acks each produce with the offsets a log would have given, per partition', async () => {
    const first = await client.produce([{ topic: 't', partition: 1, records: batchOf(5) }], { acks: -1 })
    const second = await client.produce([{ topic: 't', partition: 1, records: Buffer.concat([batchOf(2), batchOf(3)]) }], { acks: -1 })
    const other = await client.produce([{ topic: 't', partition: 2, records: batchOf(4) }], { acks: -1 })
    expect([first[0], second[0], other[0]].map((r) => [r.errorCode, r.baseOffset])).toEqual([
      [ErrorCode.NONE, 0],
      [ErrorCode.NONE, 5],
      [ErrorCode.NONE, 0],
    ])
  })

  it('answers a transactional producer id at once, a new one each time', async () => {
    const a = await client.initProducerId({ transactionalId: 'tx' })
    const b = await client.initProducerId({ transactionalId: 'tx' })
    expect([a.errorCode, b.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.NONE])
    expect(b.producerId).toBeGreaterThan(a.producerId)
  })

  it('answers a waiting fetch once a produce lands on its partition, in request order, with the offsets it gave', async () => {
    // One write carries a fetch that must wait and then the produce that wakes it, on one connection.
    const fetch = encodeRequest(ApiKey.Fetch, 11, 1, 'test', {
      replicaId: -1,
      maxWaitMs: 30_000,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'waits', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    })
    const produce = encodeRequest(ApiKey.Produce, 7, 2, 'test', {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: 'waits', partitionData: [{ index: 0, records: Buffer.concat([batchOf(2), batchOf(3)]) }] }],
    })
    const [port] = ceiling.bootstrap.split(':').slice(1).map(Number)
    const socket = net.connect(port, '127.0.0.1')
    const reader = new FrameReader(1 << 24)
    const answers: Buffer[] = []
    const both = new Promise<void>((resolve, reject) => {
      socket.on('error', reject)
      socket.on('data', (chunk: Buffer) => {
        reader.push(chunk)
        for (let frame = reader.next(); frame !== null; frame = reader.next()) answers.push(frame)
        if (answers.length === 2) resolve()
      })
    })
    socket.write(Buffer.concat([fetch, produce]))
    await both
    socket.destroy()
    expect(answers.map((frame) => frame.readInt32BE(0))).toEqual([1, 2])
    const fetched = decodeResponse(ApiKey.Fetch, 11, answers[0]).body.responses[0].partitions[0]
    // Answered with what the produce brought, not at once with nothing.
    expect([fetched.errorCode, fetched.highWatermark, fetched.logStartOffset]).toEqual([ErrorCode.NONE, 5, 0])
    const records = fetched.records!
    expect([...iterateBatches(records)].map((span) => batchBaseOffset(records, span.pos))).toEqual([0, 2])
  })

  it('lists the log start and end of a partition', async () => {
    await client.produce([{ topic: 'listed', partition: 2, records: batchOf(7) }], { acks: 1 })
    const [earliest] = await client.listOffsets([{ topic: 'listed', partition: 2, timestamp: -2 }])
    const [latest] = await client.listOffsets([{ topic: 'listed', partition: 2, timestamp: -1 }])
    expect([earliest.offset, latest.offset]).toEqual([0, 7])
  })
})
