/** DescribeTransactions v0 (KIP-664): state, timeout, start, producer and partitions of each transactional id this broker coordinates. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const describeTransactionsHandler = defineHandler({
  apiKey: ApiKey.DescribeTransactions,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    return {
      throttleTimeMs: 0,
      transactionStates: ctx.core.txns.describe(request.transactionalIds).map((t) => ({
        errorCode: t.errorCode,
        transactionalId: t.transactionalId,
        transactionState: t.state,
        transactionTimeoutMs: t.timeoutMs,
        transactionStartTimeMs: t.startTimestampMs,
        producerId: t.producerId,
        producerEpoch: t.producerEpoch,
        topics: groupByTopic(t.partitions.map((p) => ({ topic: p.topic, item: p.partition }))).map(({ name, items }) => ({ topic: name, partitions: items })),
      })),
    }
  },
})
