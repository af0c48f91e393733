/**
 * OffsetDelete v0 (KIP-496): deletes a group's committed offsets for some partitions, at the
 * group's coordinator. A group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR)
 * is answered at the top with no partitions, as Kafka answers it; otherwise each partition has its
 * own code (GROUP_SUBSCRIBED_TO_TOPIC, UNKNOWN_TOPIC_OR_PARTITION).
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const offsetDeleteHandler = defineHandler({
  apiKey: ApiKey.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const partitions = request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })))
    const answer = await ctx.core.deleteOffsets(request.groupId, partitions)
    if (answer.errorCode !== ErrorCode.NONE) return { errorCode: answer.errorCode, throttleTimeMs: 0, topics: [] }
    const items = answer.partitions.map((p) => ({ topic: p.topic, item: { partitionIndex: p.partition, errorCode: p.errorCode } }))
    return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics: groupByTopic(items).map(({ name, items: ps }) => ({ name, partitions: ps })) }
  },
})
