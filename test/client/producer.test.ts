import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { CompressionTypes } from '../../src/client/messages.js'
import { Producer } from '../../src/client/producer.js'
import { defaultPartition } from '../../src/client/partitioner.js'
import { iterateBatches, readBatchHeader, compressionOf } from '../../src/records/record-batch.js'
import { MemoryCore } from './memory-core.js'

let core: MemoryCore

beforeEach(async () => {
  core = await MemoryCore.create()
  await core.createTopics([{ name: 'orders', numPartitions: 8, replicationFactor: 1, configs: {} }], false)
})

afterEach(async () => {
  await core.close()
})

const fastRetry = { retries: 3, initialRetryTime: 1, maxRetryTime: 5 }

describe('Producer', () => {
  it('puts keyed records on their murmur2 partition, in send order per key', async () => {
    const producer = new Producer(core, { retry: fastRetry })
    const keys = ['alice', 'bob', 'carol', 'dave', 'erin']
    for (let round = 0; round < 3; round++) {
      await producer.send({ topic: 'orders', messages: keys.map((key) => ({ key, value: `${key}-${round}` })) })
    }
    for (const key of keys) {
      const partition = defaultPartition(key, 8)
      const values = core.records('orders', partition).filter((r) => r.key?.toString() === key).map((r) => r.value?.toString())
      expect(values).toEqual([`${key}-0`, `${key}-1`, `${key}-2`])
    }
  })

  it('groups one send into a single batch per partition and reports kafkajs RecordMetadata', async () => {
    const producer = new Producer(core, { retry: fastRetry })
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))
    const metadata = await producer.send({ topic: 'orders', messages })
    const partitions = new Set(messages.map((m) => defaultPartition(m.key, 8)))
    expect(core.produceCalls.length).toBe(partitions.size)
    for (const call of core.produceCalls) expect([...iterateBatches(call.records)].length).toBe(1)
    expect(metadata.map((m) => m.partition).sort()).toEqual([...partitions].sort())
    for (const m of metadata) {
      expect(m).toMatchObject({ topicName: 'orders', errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' })
    }
    const total = [...partitions].reduce((n, p) => n + core.records('orders', p).length, 0)
    expect(total).toBe(40)
  })

  it('keeps keys, values, headers and timestamps as sent', async () => {
    const producer = new Producer(core)
    await producer.send({
      topic: 'orders',
      messages: [
        { key: Buffer.from([1, 2, 3]), value: null, partition: 2, timestamp: '1700000000123', headers: { a: 'x', b: [Buffer.from('y'), 'z'] } },
        { key: null, value: 'second', partition: 2, timestamp: 1700000000100 },
      ],
    })
    const [first, second] = core.records('orders', 2)
    expect(first.key).toEqual(Buffer.from([1, 2, 3]))
    expect(first.value).toBeNull()
    expect(first.timestampMs).toBe(1700000000123)
    expect(first.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['a', 'x'], ['b', 'y'], ['b', 'z']])
    expect(second.offset).toBe(1)
    expect(second.timestampMs).toBe(1700000000100)
  })

  it('sticks unkeyed records of one send to a single partition', async () => {
    const producer = new Producer(core)
    await producer.send({ topic: 'orders', messages: Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })) })
    expect(core.produceCalls.length).toBe(1)
  })

  it('spreads unkeyed records round-robin when asked', async () => {
    const producer = new Producer(core, { partitioner: 'round-robin' })
    await producer.send({ topic: 'orders', messages: Array.from({ length: 16 }, (_, i) => ({ value: `v${i}` })) })
    for (let p = 0; p < 8; p++) expect(core.records('orders', p).length).toBe(2)
  })

  it('uses a kafkajs-style createPartitioner with partition metadata', async () => {
    const seen: number[] = []
    const producer = new Producer(core, {
      createPartitioner: () => ({ partitionMetadata, message }) => {
        seen.push(partitionMetadata.length)
        return Number(message.value?.toString()) % partitionMetadata.length
      },
    })
    await producer.send({ topic: 'orders', messages: [{ value: '3' }, { value: '13' }] })
    expect(seen).toEqual([8, 8])
    expect(core.records('orders', 3).length).toBe(1)
    expect(core.records('orders', 5).length).toBe(1)
  })

  it('compresses batches with the chosen codec', async () => {
    const producer = new Producer(core, { compression: CompressionTypes.GZIP })
    await producer.send({ topic: 'orders', messages: [{ value: 'a'.repeat(1000), partition: 0 }] })
    expect(compressionOf(readBatchHeader(core.produceCalls[0].records, 0).attributes)).toBe(CompressionTypes.GZIP)
    expect(core.produceCalls[0].records.length).toBeLessThan(500)
    expect(core.records('orders', 0)[0].value?.toString()).toBe('a'.repeat(1000))
  })

  it('numbers an idempotent producer\'s batches per partition and advances by record count', async () => {
    const producer = new Producer(core, { idempotent: true })
    await producer.send({ topic: 'orders', messages: [{ value: 'a', partition: 1 }, { value: 'b', partition: 1 }, { value: 'c', partition: 2 }] })
    await producer.send({ topic: 'orders', messages: [{ value: 'd', partition: 1 }, { value: 'e', partition: 2 }] })
    const headers = core.produceCalls.map((c) => ({ partition: c.partition, h: readBatchHeader(c.records, 0) }))
    const seqs = headers.map(({ partition, h }) => [partition, h.producerId, h.producerEpoch, h.baseSequence])
    expect(seqs).toEqual([
      [1, 1000, 0, 0],
      [2, 1000, 0, 0],
      [1, 1000, 0, 2],
      [2, 1000, 0, 1],
    ])
  })

  it('resends the identical bytes after NOT_LEADER_OR_FOLLOWER and the partition keeps one copy', async () => {
    const producer = new Producer(core, { idempotent: true, retry: fastRetry })
    core.failNextProduce('orders', 4, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE)
    const [metadata] = await producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 4 }] })
    expect(metadata.errorCode).toBe(0)
    expect(core.produceCalls.length).toBe(3)
    expect(core.produceCalls[1].records.equals(core.produceCalls[0].records)).toBe(true)
    expect(core.produceCalls[2].records.equals(core.produceCalls[0].records)).toBe(true)
    expect(core.records('orders', 4).length).toBe(1)
  })

  it('lets the partition deduplicate a resend whose first attempt did land', async () => {
    const producer = new Producer(core, { idempotent: true, retry: fastRetry })
    await producer.send({ topic: 'orders', messages: [{ value: 'first', partition: 0 }] })
    // The resend of the same bytes (as after a lost response) is answered without a second copy.
    const again = await core.produce([{ topic: 'orders', partition: 0, records: core.produceCalls[0].records }], -1, 1000)
    expect(again[0]).toMatchObject({ errorCode: 0, baseOffset: 0 })
    await producer.send({ topic: 'orders', messages: [{ value: 'second', partition: 0 }] })
    expect(core.records('orders', 0).map((r) => r.value?.toString())).toEqual(['first', 'second'])
  })

  it('gives up after the retry budget with the last error as a KafkaError', async () => {
    const producer = new Producer(core, { retry: { retries: 2, initialRetryTime: 1 } })
    core.failNextProduce('orders', 0, 6, 6, 6, 6)
    const error = await producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 0 }] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KafkaError)
    expect((error as KafkaError).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect(core.produceCalls.length).toBe(3)
  })

  it('surfaces OUT_OF_ORDER_SEQUENCE_NUMBER at once and recovers with a bumped epoch', async () => {
    const producer = new Producer(core, { idempotent: true, retry: fastRetry })
    core.failNextProduce('orders', 0, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    const error = await producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 0 }] }).catch((e: unknown) => e)
    expect((error as KafkaError).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect(core.produceCalls.length).toBe(1)
    await producer.send({ topic: 'orders', messages: [{ value: 'y', partition: 0 }] })
    const header = readBatchHeader(core.produceCalls[1].records, 0)
    expect([header.producerEpoch, header.baseSequence]).toEqual([1, 0])
    expect(core.records('orders', 0).map((r) => r.value?.toString())).toEqual(['y'])
  })

  it('does not retry a non-retriable error', async () => {
    const producer = new Producer(core, { retry: fastRetry })
    core.failNextProduce('orders', 0, ErrorCode.MESSAGE_TOO_LARGE)
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 0 }] })).rejects.toMatchObject({ errorCode: ErrorCode.MESSAGE_TOO_LARGE })
    expect(core.produceCalls.length).toBe(1)
  })

  it('rejects idempotence without acks all, and unknown partitions', async () => {
    expect(() => new Producer(core, { idempotent: true, acks: 1 })).toThrow(KafkaError)
    const producer = new Producer(core)
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 8 }] })).rejects.toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
  })

  it('passes acks through and refuses sends after disconnect', async () => {
    const producer = new Producer(core, { acks: 1 })
    await producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 0 }], acks: 0 })
    await producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 0 }] })
    expect(core.produceCalls.map((c) => c.acks)).toEqual([0, 1])
    await producer.disconnect()
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x' }] })).rejects.toThrow(/disconnected/)
  })

  it('auto-creates a missing topic, or fails fast when creation is off', async () => {
    await new Producer(core).send({ topic: 'fresh', messages: [{ value: 'x' }] })
    expect(core.records('fresh', 0).length).toBe(1)
    const strict = new Producer(core, { allowAutoTopicCreation: false })
    await expect(strict.send({ topic: 'missing', messages: [{ value: 'x' }] })).rejects.toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
  })

  it('sendBatch writes to several topics in one call, and concurrent idempotent sends stay in sequence', async () => {
    await core.createTopics([{ name: 'audit', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    const producer = new Producer(core, { idempotent: true })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }), async (sizes) => {
        const before = core.records('audit', 0).length
        await Promise.all(
          sizes.map((n, s) =>
            producer.sendBatch({
              topicMessages: [
                { topic: 'audit', messages: Array.from({ length: n }, (_, i) => ({ value: `${s}-${i}` })) },
                { topic: 'orders', messages: [{ key: `k${s}`, value: 'x' }] },
              ],
            }),
          ),
        )
        const added = core.records('audit', 0).slice(before).map((r) => r.value?.toString())
        const expected = sizes.flatMap((n, s) => Array.from({ length: n }, (_, i) => `${s}-${i}`))
        expect(added).toEqual(expected)
      }),
      { seed: 42, numRuns: 20 },
    )
  })
})
