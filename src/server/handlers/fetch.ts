/**
 * Fetch v4-12 with Kafka's long-poll (the core parks each partition until minBytes or maxWaitMs).
 * There are no incremental fetch sessions: every request is served as a full fetch and answered
 * with session id 0, which tells the client that no session was created, so it keeps sending full
 * requests. Reading from followers is not offered (preferred read replica -1).
 */
import type { FetchInput } from '../../metadata/operations.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

const EMPTY_RECORDS = Buffer.alloc(0)

export const fetchHandler = defineHandler({
  apiKey: ApiKey.Fetch,
  minVersion: 4,
  maxVersion: 12,
  async handle(ctx, request) {
    const inputs: FetchInput[] = []
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        inputs.push({ topic: topic.topic, partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes })
      }
    }
    const results = await ctx.core.fetch(inputs, {
      maxWaitMs: Math.max(0, request.maxWaitMs),
      minBytes: Math.max(0, request.minBytes),
      maxBytes: request.maxBytes,
      isolationLevel: request.isolationLevel === 1 ? 1 : 0,
      signal: ctx.signal,
    })
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: groupByTopic(results.map((r) => ({ topic: r.topic, item: r }))).map(({ name, items }) => ({
        topic: name,
        partitions: items.map((r) => ({
          partitionIndex: r.partition,
          errorCode: r.errorCode,
          highWatermark: r.highWatermark,
          lastStableOffset: r.lastStableOffset,
          logStartOffset: r.logStartOffset,
          // Empty, not null: no transactions are ever aborted, and some clients read null as
          // "field missing" in these versions.
          abortedTransactions: [],
          preferredReadReplica: -1,
          // Kafka answers an empty record set rather than null when there is nothing to send.
          records: r.records ?? EMPTY_RECORDS,
        })),
      })),
    }
  },
})
