/**
 * WriteTxnMarkers v0-1: COMMIT/ABORT markers for partitions this broker leads. Coordinators here
 * reach other brokers' partitions through their node actors; this API is the same path on the
 * wire, for tools (and Kafka's own admin) that write markers to abort a hanging transaction.
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler, groupByTopic } from './types.js'

export const writeTxnMarkersHandler = defineHandler({
  apiKey: ApiKey.WriteTxnMarkers,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const results = await ctx.core.writeTxnMarkers(
      request.markers.map((m) => ({
        producerId: m.producerId,
        producerEpoch: m.producerEpoch,
        coordinatorEpoch: m.coordinatorEpoch,
        commit: m.transactionResult,
        partitions: m.topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition }))),
      })),
    )
    return {
      markers: results.map((r) => ({
        producerId: r.producerId,
        topics: groupByTopic(r.partitions.map((p) => ({ topic: p.topic, item: p }))).map(({ name, items }) => ({
          name,
          partitions: items.map((p) => ({ partitionIndex: p.partition, errorCode: p.errorCode })),
        })),
      })),
    }
  },
})
