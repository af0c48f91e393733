/**
 * OffsetForLeaderEpoch v0-4 (KIP-101, KIP-320): a consumer or follower asks where an epoch it
 * saw ended on the current leader, and truncates (or a consumer reports log truncation) when its
 * position is past that. Each partition's leader answers from its leader-epoch cache: the largest
 * epoch at or below the one asked for and the start of the next, or the log end for the current
 * epoch. v2+ carry the leader epoch the client thinks current, which fences a stale client
 * (FENCED_LEADER_EPOCH) or a leader that has not caught up (UNKNOWN_LEADER_EPOCH).
 */
import type { EpochEndOffsetInput } from '../core.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const offsetForLeaderEpochHandler = defineHandler({
  apiKey: ApiKey.OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request, version) {
    const inputs: EpochEndOffsetInput[] = []
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        inputs.push({ topic: topic.topic, partition: p.partition, leaderEpoch: p.leaderEpoch, currentLeaderEpoch: version >= 2 ? p.currentLeaderEpoch : -1 })
      }
    }
    const answers = await ctx.core.epochEndOffsets(inputs)
    const items = answers.map((a, i) => ({ topic: inputs[i].topic, item: { ...a, partition: inputs[i].partition } }))
    return {
      throttleTimeMs: 0,
      topics: groupByTopic(items).map(({ name, items: partitions }) => ({
        topic: name,
        partitions: partitions.map((a) => ({ errorCode: a.errorCode, partition: a.partition, leaderEpoch: a.leaderEpoch, endOffset: a.endOffset })),
      })),
    }
  },
})
