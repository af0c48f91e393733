/**
 * Loading a coordinator's internal partition (readInternalPartition) over a scripted replica: a
 * load is whole only once the high watermark has reached the log end.
 */
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { readInternalPartition } from '../../src/broker/internal-log.js'
import type { LocalReply, PartitionAccess } from '../../src/broker/local-partitions.js'
import { encodeBatch } from '../../src/records/record-batch.js'

/** A replica holding `batches` (one record each, from offset 0) with the given high watermark and log end. */
function replica(values: string[], highWatermark: number): PartitionAccess {
  const records = Buffer.concat(values.map((value, i) => encodeBatch({ baseOffset: i, baseTimestamp: 0, records: [{ key: Buffer.from('k'), value: Buffer.from(value) }] })))
  const access = {
    async request(_topic: string, _partition: number, message: { op: string; fetchOffset?: number }): Promise<LocalReply<unknown>> {
      if (message.op === 'listOffsets') return { message: { errorCode: ErrorCode.NONE, offset: 0 } }
      // Like the replica: a consumer read stops at the high watermark.
      const visible = message.fetchOffset! < highWatermark ? records.subarray(0, sizeOfFirst(records, highWatermark)) : undefined
      return { message: { errorCode: ErrorCode.NONE, highWatermark, lastStableOffset: highWatermark, logStartOffset: 0, logEndOffset: values.length }, payload: message.fetchOffset === 0 ? visible : undefined }
    },
    tell() {},
  }
  return access as unknown as PartitionAccess
}

/** Bytes of the first `count` one-record batches. */
function sizeOfFirst(records: Buffer, count: number): number {
  let pos = 0
  for (let i = 0; i < count; i++) pos += 12 + records.readInt32BE(pos + 8)
  return pos
}

async function load(access: PartitionAccess): Promise<string[]> {
  const values: string[] = []
  await readInternalPartition(access, '__consumer_offsets', 0, 0, () => false, (_h, records) => values.push(...records.map((r) => r.value!.toString())))
  return values
}

describe('loading an internal partition', () => {
  it('reads every record up to the high watermark once it has reached the log end', async () => {
    expect(await load(replica(['a', 'b', 'c'], 3))).toEqual(['a', 'b', 'c'])
  })

  it('answers a load in progress while records lie past the high watermark (a synced-again tail after a kill), rather than a load that misses them', async () => {
    const refused = await load(replica(['a', 'b', 'c'], 1)).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(KafkaError)
    expect((refused as KafkaError).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  })
})
