/**
 * Reading and writing the internal topics a coordinator keeps its state in (`__consumer_offsets`,
 * `__transaction_state`) through the local leader replica: a load reads the partition from its
 * start to its high watermark, batch by batch; an append writes one batch with acks=all.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { decompress } from '../records/compression.js'
import { decodeRecords, iterateBatches, readBatchHeader, type BatchHeader, type DecodedRecord, encodeBatch } from '../records/record-batch.js'
import type { PartitionAccess } from './local-partitions.js'

/** One read of a partition being loaded. */
const LOAD_READ_BYTES = 1024 * 1024
/** Reads a load may take before it gives up (and is tried again from the start). */
const LOAD_READS_MAX = 1_000_000

/**
 * Feeds every batch of the partition, from its log start to its high watermark, to `onBatch`
 * (with its decoded records at or past the read position). Throws a KafkaError when the replica
 * cannot be read yet (not leader yet, load in progress), for the caller to retry.
 */
export async function readInternalPartition(
  partitions: PartitionAccess,
  topic: string,
  partition: number,
  leaderEpoch: number,
  isStopped: () => boolean,
  onBatch: (header: BatchHeader, records: DecodedRecord[], batch: Buffer) => void,
): Promise<void> {
  const start = await partitions.request(topic, partition, { op: 'listOffsets', timestamp: -2 })
  if (start.message.errorCode !== ErrorCode.NONE) throw new KafkaError(start.message.errorCode, 'not ready to load')
  let offset = start.message.offset
  for (let reads = 0; reads < LOAD_READS_MAX && !isStopped(); reads++) {
    const reply = await partitions.request(topic, partition, {
      op: 'fetch',
      fetchId: -1,
      replicaId: -1,
      fetchOffset: offset,
      maxBytes: LOAD_READ_BYTES,
      maxWaitMs: 0,
      minBytes: 0,
      currentLeaderEpoch: leaderEpoch,
    })
    const result = reply.message
    if (result.errorCode !== ErrorCode.NONE) throw new KafkaError(result.errorCode, `reading ${topic}-${partition} at ${offset}`)
    const bytes = reply.payload
    if (bytes === undefined || bytes.length === 0) {
      if (offset >= result.highWatermark) return loadedTo(result, topic, partition)
      throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `no records below the high watermark at ${offset}`)
    }
    for (const { pos, size } of iterateBatches(bytes)) {
      const batch = bytes.subarray(pos, pos + size)
      const header = readBatchHeader(batch, 0)
      const last = header.baseOffset + header.lastOffsetDelta
      if (last < offset) continue
      onBatch(header, decodeRecords(batch, 0, decompress).filter((r) => r.offset >= offset), batch)
      offset = last + 1
    }
    if (offset >= result.highWatermark) return loadedTo(result, topic, partition)
  }
  if (!isStopped()) throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'load stopped')
}

/**
 * A load is whole only once the high watermark has reached the log end. While a coordinator loads,
 * nothing writes to its partition but transaction markers, so records past the high watermark at
 * the end of a load were mostly written before it: after a kill, a tail that survived in the page
 * cache counts only once the group commit has synced it again (partita.fsync.mode=acks-all), and
 * on a new leader a tail counts once the followers hold it. A load that stopped short of them
 * would miss the last committed offsets or transactions (a kill -9 then re-ran whole committed
 * transactions), so it answers a load in progress, and is tried again.
 */
function loadedTo(result: { highWatermark: number; logEndOffset: number }, topic: string, partition: number): void {
  if (result.logEndOffset > result.highWatermark) {
    throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, `${topic}-${partition} holds records past its high watermark ${result.highWatermark} (log end ${result.logEndOffset})`)
  }
}

export interface InternalAppendOptions {
  timeoutMs: number
  /** A transactional batch of this producer (TxnOffsetCommit), held pending until its marker. */
  txn?: { producerId: number; producerEpoch: number }
  /** The leader epoch the writing coordinator loaded under: a write under another is refused. */
  leaderEpoch?: number
}

/** Appends one batch of key/value records with acks=all; throws a KafkaError when refused. */
export async function appendInternal(
  partitions: PartitionAccess,
  topic: string,
  partition: number,
  records: Array<{ key: Buffer; value: Buffer | null }>,
  nowMs: number,
  options: InternalAppendOptions,
): Promise<void> {
  const batch = encodeBatch({
    baseTimestamp: nowMs,
    records,
    producerId: options.txn?.producerId ?? -1,
    producerEpoch: options.txn?.producerEpoch ?? -1,
    isTransactional: options.txn !== undefined,
  })
  const reply = await partitions.request(topic, partition, { op: 'produce', acks: -1, timeoutMs: options.timeoutMs, origin: 'coordinator', leaderEpoch: options.leaderEpoch }, batch)
  if (reply.message.errorCode !== ErrorCode.NONE) throw new KafkaError(reply.message.errorCode, reply.message.errorMessage ?? undefined)
}
