/**
 * ListOffsets v1-5 (v0 has the older multi-offset shape, which modern clients never send):
 * -2 earliest, -1 latest, otherwise the first offset whose timestamp is at or after the one given.
 */
import type { ListOffsetsInput } from '../../metadata/operations.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const listOffsetsHandler = defineHandler({
  apiKey: ApiKey.ListOffsets,
  minVersion: 1,
  maxVersion: 5,
  async handle(ctx, request) {
    const inputs: ListOffsetsInput[] = []
    for (const topic of request.topics) {
      for (const p of topic.partitions) inputs.push({ topic: topic.name, partition: p.partitionIndex, timestamp: p.timestamp })
    }
    const results = await ctx.core.listOffsets(inputs)
    const items = results.map((r, i) => ({ topic: inputs[i].topic, item: { ...r, partitionIndex: inputs[i].partition } }))
    return {
      throttleTimeMs: 0,
      topics: groupByTopic(items).map(({ name, items: partitions }) => ({
        name,
        partitions: partitions.map((r) => ({
          partitionIndex: r.partitionIndex,
          errorCode: r.errorCode,
          timestamp: r.timestamp,
          offset: r.offset,
          leaderEpoch: r.leaderEpoch,
        })),
      })),
    }
  },
})
