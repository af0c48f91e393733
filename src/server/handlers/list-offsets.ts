/**
 * ListOffsets v0-5: -2 earliest, -1 latest, otherwise the first offset whose timestamp is at or
 * after the one given. v0 answers a list of offsets (up to maxNumOffsets) instead of one: Kafka
 * lists the log end and segment base offsets below a timestamp; clients of v0 (sarama before
 * 0.10.1, Burrow 1.2) ask for -1 or -2 with one offset, which get Kafka's exact answer here. A
 * timestamp lookup at v0 answers the offset the v1 lookup finds, or none.
 */
import type { ListOffsetsInput, ListOffsetsResult } from '../../metadata/operations.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

function oldStyleOffsets(result: ListOffsetsResult, maxNumOffsets: number): number[] {
  if (result.errorCode !== ErrorCode.NONE || result.offset < 0 || maxNumOffsets <= 0) return []
  return [result.offset]
}

export const listOffsetsHandler = defineHandler({
  apiKey: ApiKey.ListOffsets,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request, version) {
    const inputs: ListOffsetsInput[] = []
    const maxNumOffsets: number[] = []
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        inputs.push({ topic: topic.name, partition: p.partitionIndex, timestamp: p.timestamp, isolationLevel: version >= 2 ? request.isolationLevel : 0 })
        maxNumOffsets.push(p.maxNumOffsets)
      }
    }
    const results = await ctx.core.listOffsets(inputs)
    const items = results.map((r, i) => ({ topic: inputs[i].topic, item: { ...r, partitionIndex: inputs[i].partition, maxNumOffsets: maxNumOffsets[i] } }))
    return {
      throttleTimeMs: 0,
      topics: groupByTopic(items).map(({ name, items: partitions }) => ({
        name,
        partitions: partitions.map((r) => ({
          partitionIndex: r.partitionIndex,
          errorCode: r.errorCode,
          oldStyleOffsets: version === 0 ? oldStyleOffsets(r, r.maxNumOffsets) : [],
          timestamp: r.timestamp,
          offset: r.offset,
          leaderEpoch: r.leaderEpoch,
        })),
      })),
    }
  },
})
