/**
 * ElectLeaders v0-2 (KIP-183, KIP-460): moves leadership back to each partition's preferred
 * replica (v0, or election type 0), or elects a leader for a leaderless partition from any live
 * replica (type 1, unclean). The controller decides and tells the replicas before the answer; the
 * node's image holds the new leaders when it returns. Named partitions each get a result; with
 * none named, only the partitions whose election was needed are answered, as in Kafka.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const electLeadersHandler = defineHandler({
  apiKey: ApiKey.ElectLeaders,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, request, version) {
    const electionType = version >= 1 ? request.electionType : 0
    if (electionType !== 0 && electionType !== 1) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, replicaElectionResults: [] }
    }
    const partitions = request.topicPartitions === null ? null : request.topicPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })))
    const results = await ctx.core.electLeaders(electionType, partitions)
    const items = results.map((r) => ({ topic: r.topic, item: { partitionId: r.partition, errorCode: r.errorCode, errorMessage: r.errorMessage } }))
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      replicaElectionResults: groupByTopic(items).map(({ name, items: partitionResult }) => ({ topic: name, partitionResult })),
    }
  },
})
