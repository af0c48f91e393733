/**
 * DescribeProducers v0 (KIP-664): the idempotent producers whose sequence state each partition's
 * leader keeps, with their epoch, last sequence and last timestamp. Transactions are not offered,
 * so no producer has an open transaction (coordinator epoch and transaction start are -1).
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const describeProducersHandler = defineHandler({
  apiKey: ApiKey.DescribeProducers,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const partitions = request.topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })))
    const results = await ctx.core.describeProducers(partitions)
    const items = results.map((r, i) => ({
      topic: partitions[i].topic,
      item: {
        partitionIndex: partitions[i].partition,
        errorCode: r.errorCode,
        errorMessage: r.errorCode === ErrorCode.NONE ? null : `DescribeProducers failed for ${partitions[i].topic}-${partitions[i].partition}`,
        activeProducers: r.producers.map((p) => ({
          producerId: p.producerId,
          producerEpoch: p.producerEpoch,
          lastSequence: p.lastSequence,
          lastTimestamp: p.lastTimestampMs,
          coordinatorEpoch: -1,
          currentTxnStartOffset: -1,
        })),
      },
    }))
    return { throttleTimeMs: 0, topics: groupByTopic(items).map(({ name, items: ps }) => ({ name, partitions: ps })) }
  },
})
