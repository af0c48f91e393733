/**
 * OffsetFetch v0-8. v0 (offsets once kept in ZooKeeper) reads the same committed offsets as v1,
 * as Kafka 3.x does since it keeps them all in __consumer_offsets. v0-1 have no top-level error code, so a group-level error is repeated on every
 * partition asked for, as Kafka does; v2+ answer it at the top; v8 asks for several groups at once
 * (each fetched separately, each with its own error). Null topics (v2+) mean "every committed
 * partition".
 */
import type { OffsetFetchResponse as GroupOffsets } from '../../actors/group/types.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import type { HandlerContext } from './types.js'
import { defineHandler } from './types.js'

type TopicsAsked = Array<{ name: string; partitionIndexes: number[] }> | null

function fetchGroup(ctx: HandlerContext, groupId: string, topics: TopicsAsked, requireStable: boolean): Promise<GroupOffsets> {
  return ctx.core.groups.fetchOffsets({
    groupId,
    requireStable,
    topics: topics === null ? null : topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes })),
  })
}

function topicsOut(offsets: GroupOffsets) {
  return offsets.topics.map((t) => ({
    name: t.topic,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partition,
      committedOffset: p.offset,
      committedLeaderEpoch: p.leaderEpoch,
      metadata: p.metadata,
      errorCode: p.errorCode,
    })),
  }))
}

/** v1 cannot carry a group-level error except per partition. */
function withGroupErrorPerPartition(offsets: GroupOffsets, asked: TopicsAsked) {
  const topics = asked ?? []
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({
      partitionIndex,
      committedOffset: -1,
      committedLeaderEpoch: -1,
      metadata: '',
      errorCode: offsets.errorCode,
    })),
  }))
}

export const offsetFetchHandler = defineHandler({
  apiKey: ApiKey.OffsetFetch,
  minVersion: 0,
  maxVersion: 8,
  async handle(ctx, request, version) {
    if (version >= 8) {
      return {
        throttleTimeMs: 0,
        groups: await Promise.all(
          request.groups.map(async (g) => {
            const offsets = await fetchGroup(ctx, g.groupId, g.topics, request.requireStable)
            return { groupId: g.groupId, topics: topicsOut(offsets), errorCode: offsets.errorCode }
          }),
        ),
      }
    }
    const offsets = await fetchGroup(ctx, request.groupId, request.topics, version >= 7 && request.requireStable)
    if (version < 2 && offsets.errorCode !== ErrorCode.NONE) {
      return { throttleTimeMs: 0, topics: withGroupErrorPerPartition(offsets, request.topics) }
    }
    return { throttleTimeMs: 0, topics: topicsOut(offsets), errorCode: offsets.errorCode }
  },
})
