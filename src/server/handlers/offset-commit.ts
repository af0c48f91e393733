/**
 * OffsetCommit v0-8. v0 (once kept in ZooKeeper) has no generation or member, so it is a simple
 * commit; v1's per-partition commit timestamp is ignored, as Kafka 3.x ignores it (offsets expire
 * by offsets.retention.minutes). A generation of -1 with an empty member id is a "simple consumer" commit
 * outside any group membership; the coordinator decides. The retention time (v2-4) is ignored,
 * as Kafka has ignored it since 2.1 in favour of offsets.retention.minutes.
 */
import type { OffsetCommitPartition } from '../../actors/group/types.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const offsetCommitHandler = defineHandler({
  apiKey: ApiKey.OffsetCommit,
  minVersion: 0,
  maxVersion: 8,
  async handle(ctx, request, version) {
    const offsets: OffsetCommitPartition[] = []
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        offsets.push({
          topic: topic.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
          metadata: p.committedMetadata,
        })
      }
    }
    const results = await ctx.core.groups.commitOffsets({
      groupId: request.groupId,
      generationId: request.generationIdOrMemberEpoch,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      offsets,
    })
    const items = results.map((r) => ({ topic: r.topic, item: { partitionIndex: r.partition, errorCode: r.errorCode } }))
    return { throttleTimeMs: 0, topics: groupByTopic(items).map(({ name, items: partitions }) => ({ name, partitions })) }
  },
})
