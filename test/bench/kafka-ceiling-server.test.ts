import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { encodeBatch } from '../../src/records/record-batch.js'
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
})
