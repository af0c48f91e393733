/**
 * Metadata v0-9. A null topic list asks for every topic (and so does an empty one in v0, where the
 * list was not nullable yet); auto-creation follows the request's flag from v4 and is implied
 * before. Leaders, replicas, in-sync and offline replicas come from the core as they are.
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const metadataHandler = defineHandler({
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, request, version) {
    const names = request.topics === null || (version === 0 && request.topics.length === 0) ? null : request.topics.map((t) => t.name ?? '')
    const allowAutoCreate = version >= 4 ? request.allowAutoTopicCreation : true
    const metadata = await ctx.core.metadata(names, allowAutoCreate)
    return {
      throttleTimeMs: 0,
      brokers: metadata.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
      clusterId: metadata.clusterId,
      controllerId: metadata.controllerId,
      topics: metadata.topics.map((t) => ({
        errorCode: t.errorCode,
        name: t.name,
        isInternal: t.isInternal,
        partitions: t.partitions.map((p) => ({
          errorCode: p.errorCode,
          partitionIndex: p.partitionIndex,
          leaderId: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicaNodes: p.replicaNodes,
          isrNodes: p.isrNodes,
          offlineReplicas: p.offlineReplicas,
        })),
      })),
    }
  },
})
