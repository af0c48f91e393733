/** DeleteRecords v0-1: moves each partition's log start up to the offset given (-1: the high watermark). */
import type { DeleteRecordsInput } from '../../metadata/operations.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const deleteRecordsHandler = defineHandler({
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const inputs: DeleteRecordsInput[] = []
    for (const topic of request.topics) {
      for (const p of topic.partitions) inputs.push({ topic: topic.name, partition: p.partitionIndex, offset: p.offset })
    }
    const results = await ctx.core.deleteRecords(inputs, request.timeoutMs)
    const items = results.map((r, i) => ({
      topic: inputs[i].topic,
      item: { partitionIndex: inputs[i].partition, lowWatermark: r.lowWatermark, errorCode: r.errorCode },
    }))
    return { throttleTimeMs: 0, topics: groupByTopic(items).map(({ name, items: partitions }) => ({ name, partitions })) }
  },
})
