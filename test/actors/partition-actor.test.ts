/**
 * A partition actor on a real shard, driven through the actor host as the supervisor drives it:
 * how a produce's compressed batches are validated, on the shard or on its CPU pool, and that the
 * two paths keep arrival order; and that cancelling a parked fetch answers every entry of it.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PARTITION_ACTOR_KIND, type OpenPartition } from '../../src/actors/partition-messages.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { INLINE_DECOMPRESSED_BYTES_MAX } from '../../src/records/batch-validation.js'
import { compress, DECOMPRESSED_BYTES_MAX_DEFAULT } from '../../src/records/compression.js'
import { CompressionType, encodeBatch, type RecordInput } from '../../src/records/record-batch.js'
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../src/storage/log-config.js'
import { partitionHostPerTest } from './partition-host.js'

const startHost = partitionHostPerTest()

/** One partition actor on shard 0, and a produce that returns its answer. */
async function partition(config: Partial<LogConfig> = {}) {
  const { host, dir } = await startHost()
  const init: OpenPartition = { topic: 't', partition: 0, dir: join(dir, 't-0'), config: { ...DEFAULT_LOG_CONFIG, ...config }, brokerId: 0, housekeepingIntervalMs: 60_000, openFilesMax: 64 }
  await host.spawn(0, PARTITION_ACTOR_KIND, 't/0', init)
  await host.request(0, 't/0', { op: 'becomeLeader', leaderEpoch: 0, replicas: [0], isr: [0] })
  return {
    produce: async (records: Buffer) => (await host.request(0, 't/0', { op: 'produce', acks: 1, timeoutMs: 5_000 }, records)).message as { errorCode: number; baseOffset: number },
    logEnd: async () => ((await host.request(0, 't/0', { op: 'stats' })).message as { logEndOffset: number }).logEndOffset,
  }
}

function gzipBatch(input: RecordInput[], lastOffsetDelta?: number): Buffer {
  return encodeBatch({ baseTimestamp: Date.now(), records: input, compression: CompressionType.GZIP, compress, lastOffsetDelta })
}

function keyed(count: number, valueBytes = 10): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(valueBytes, 0x61), offsetDelta: i }))
}

describe('a compressed produce on a partition actor', () => {
  it('appends a small compressed batch checked on the shard', async () => {
    const { produce, logEnd } = await partition()
    expect(await produce(gzipBatch(keyed(3)))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(await logEnd()).toBe(3)
  })

  it('refuses a small compressed batch that claims more records than it holds with CORRUPT_MESSAGE, and stores nothing', async () => {
    const { produce, logEnd } = await partition()
    expect(await produce(gzipBatch(keyed(2), 4))).toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1 })
    expect(await logEnd()).toBe(0)
  })

  it('refuses a keyless compressed record on a compacted topic with INVALID_RECORD', async () => {
    const { produce, logEnd } = await partition({ cleanupPolicy: 'compact' })
    const keyless = gzipBatch([{ key: null, value: Buffer.from('v'), offsetDelta: 0 }])
    expect(await produce(keyless)).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD })
    expect(await logEnd()).toBe(0)
  })

  it('appends a batch that inflates past the inline bound, checked on the CPU pool, before a small one sent after it', async () => {
    const { produce, logEnd } = await partition()
    const inflating = gzipBatch(keyed(4, INLINE_DECOMPRESSED_BYTES_MAX / 2))
    const [big, small] = await Promise.all([produce(inflating), produce(gzipBatch(keyed(1)))])
    expect(big).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(small).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 4 })
    expect(await logEnd()).toBe(5)
  })

  it('refuses a batch that inflates past the broker bound with RECORD_LIST_TOO_LARGE', async () => {
    const { produce, logEnd } = await partition()
    const bomb = gzipBatch([{ key: Buffer.from('k'), value: Buffer.alloc(DECOMPRESSED_BYTES_MAX_DEFAULT + 1), offsetDelta: 0 }])
    expect(await produce(bomb)).toMatchObject({ errorCode: ErrorCode.RECORD_LIST_TOO_LARGE })
    expect(await logEnd()).toBe(0)
  })
})

describe('a parked fetch on a partition actor', () => {
  it('answers every entry of a fetch that names the partition twice once that fetch is cancelled', async () => {
    const { host, dir } = await startHost()
    const init: OpenPartition = { topic: 't', partition: 0, dir: join(dir, 't-0'), config: DEFAULT_LOG_CONFIG, brokerId: 0, housekeepingIntervalMs: 60_000, openFilesMax: 64 }
    await host.spawn(0, PARTITION_ACTOR_KIND, 't/0', init)
    await host.request(0, 't/0', { op: 'becomeLeader', leaderEpoch: 0, replicas: [0], isr: [0] })
    // Nothing to read at offset 0 yet, so both park for their ten minutes.
    const entry = { op: 'fetch', fetchId: 7, replicaId: -1, fetchOffset: 0, maxBytes: 1024, maxWaitMs: 600_000, minBytes: 1, currentLeaderEpoch: -1, isolationLevel: 0 } as const
    const first = host.request(0, 't/0', entry)
    const second = host.request(0, 't/0', entry)
    host.tell(0, 't/0', { op: 'cancelFetch', fetchId: 7 })
    const answers = await Promise.all([first, second])
    expect(answers.map((a) => (a.message as { errorCode: number }).errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE])
  })
})
