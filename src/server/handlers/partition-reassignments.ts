/**
 * AlterPartitionReassignments v0 and ListPartitionReassignments v0 (KIP-455). The controller
 * decides (see controller/reassignment.ts): each partition gets its own error code, and the
 * top-level code stays NONE as in Kafka, which sets it only for a request it refuses whole
 * (authorization, a controller that moved).
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const alterPartitionReassignmentsHandler = defineHandler({
  apiKey: ApiKey.AlterPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const inputs = request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas })))
    const results = await ctx.core.alterReassignments(inputs)
    const items = results.map((r) => ({ topic: r.topic, item: { partitionIndex: r.partition, errorCode: r.errorCode, errorMessage: r.errorMessage } }))
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      responses: groupByTopic(items).map(({ name, items: partitions }) => ({ name, partitions })),
    }
  },
})

export const listPartitionReassignmentsHandler = defineHandler({
  apiKey: ApiKey.ListPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const asked = request.topics === null ? null : request.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }))
    const ongoing = await ctx.core.listReassignments(asked)
    const items = ongoing.map((r) => ({
      topic: r.topic,
      item: { partitionIndex: r.partition, replicas: r.replicas, addingReplicas: r.addingReplicas, removingReplicas: r.removingReplicas },
    }))
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      topics: groupByTopic(items).map(({ name, items: partitions }) => ({ name, partitions })),
    }
  },
})
