/**
 * The idempotent producer end to end through the embedded broker: a replayed batch is answered
 * with its first offset and stored once, a gap is refused, and the partition's producer state
 * survives a broker restart.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../../src/start-broker.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { compress } from '../../src/records/compression.js'
import { CompressionType, encodeBatch } from '../../src/records/record-batch.js'
import { readPartition } from './helpers.js'

function batch(producerId: number, baseSequence: number, values: string[]): Buffer {
  return encodeBatch({
    baseTimestamp: Date.now(),
    producerId,
    producerEpoch: 0,
    baseSequence,
    records: values.map((value, i) => ({ key: Buffer.from('k'), value: Buffer.from(value), offsetDelta: i, timestampDelta: 0 })),
  })
}

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('idempotent produce through the broker', () => {
  it('acknowledges a replayed batch with its first offset, stores it once, refuses a gap, and remembers after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partita-idem-'))
    dirs.push(dataDir)
    let producerId: number
    {
      await using broker = await startBroker({ dataDir, port: 0, brokers: 1 })
      await broker.admin.createTopic({ name: 'payments', partitions: 1 })
      const init = await broker.cluster.initProducerId(null, -1, -1, 60_000)
      expect(init.errorCode).toBe(ErrorCode.NONE)
      producerId = init.producerId

      const first = batch(producerId, 0, ['a', 'b'])
      const [sent] = await broker.cluster.produce([{ topic: 'payments', partition: 0, records: Buffer.from(first) }], -1, 5_000)
      expect(sent).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
      const [again] = await broker.cluster.produce([{ topic: 'payments', partition: 0, records: Buffer.from(first) }], -1, 5_000)
      expect(again).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })

      const [gap] = await broker.cluster.produce([{ topic: 'payments', partition: 0, records: batch(producerId, 5, ['x']) }], -1, 5_000)
      expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      expect((await readPartition(broker, 'payments', 0)).map((r) => r.value)).toEqual(['a', 'b'])
    }
    {
      await using broker = await startBroker({ dataDir, port: 0, brokers: 1 })
      const replay = batch(producerId, 0, ['a', 'b'])
      const [again] = await broker.cluster.produce([{ topic: 'payments', partition: 0, records: replay }], -1, 5_000)
      expect(again).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
      const [next] = await broker.cluster.produce([{ topic: 'payments', partition: 0, records: batch(producerId, 2, ['c']) }], -1, 5_000)
      expect(next).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 })
      expect((await readPartition(broker, 'payments', 0)).map((r) => r.value)).toEqual(['a', 'b', 'c'])
      const fresh = await broker.cluster.initProducerId(null, -1, -1, 60_000)
      expect(fresh.producerId).toBeGreaterThan(producerId)
    }
  })
})

describe('compressed produce through the broker', () => {
  it('validates compressed batches off the shard, refusing a lying one and keeping arrival order', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1 })
    await broker.admin.createTopic({ name: 'zipped', partitions: 1 })
    const gzip = (values: string[], lastOffsetDelta?: number): Buffer =>
      encodeBatch({
        baseTimestamp: Date.now(),
        compression: CompressionType.GZIP,
        compress,
        lastOffsetDelta,
        records: values.map((value, i) => ({ key: Buffer.from('k'), value: Buffer.from(value), offsetDelta: i })),
      })
    const plain = encodeBatch({ baseTimestamp: Date.now(), records: [{ key: Buffer.from('k'), value: Buffer.from('plain') }] })
    // Three requests pipelined on one connection: the lying batch waits for its check off the
    // shard, and the plain one behind it still lands after the first.
    const results = await Promise.all(
      [gzip(['a', 'b']), gzip(['x'], 3), plain].map(async (records) => (await broker.cluster.produce([{ topic: 'zipped', partition: 0, records }], -1, 5_000))[0]),
    )
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.CORRUPT_MESSAGE, ErrorCode.NONE])
    expect((await readPartition(broker, 'zipped', 0)).map((r) => r.value)).toEqual(['a', 'b', 'plain'])
  })
})

describe('large produce through the broker', () => {
  it('checks a large produce’s CRCs off the shard: a damaged one is refused and nothing is stored', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1 })
    await broker.admin.createTopic({ name: 'bulk', partitions: 1 })
    const value = Buffer.alloc(1_000, 0x61)
    const big = (): Buffer =>
      encodeBatch({
        baseTimestamp: Date.now(),
        records: Array.from({ length: 300 }, (_, i) => ({ key: Buffer.from('k'), value, offsetDelta: i })),
      })
    const good = big()
    const bad = big()
    bad[bad.length - 1] ^= 0x01
    expect(good.length).toBeGreaterThan(256 * 1024)
    const [refused] = await broker.cluster.produce([{ topic: 'bulk', partition: 0, records: bad }], 1, 5_000)
    expect(refused.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    const [stored] = await broker.cluster.produce([{ topic: 'bulk', partition: 0, records: good }], -1, 5_000)
    expect(stored).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect((await readPartition(broker, 'bulk', 0)).length).toBe(300)
  })
})
