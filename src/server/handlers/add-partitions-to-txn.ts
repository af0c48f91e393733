/**
 * AddPartitionsToTxn v0-3: a transactional producer names the partitions it is about to write to
 * (starting its transaction), at its transaction coordinator. Partitions of topics this broker's
 * metadata does not know answer UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED,
 * as Kafka does; otherwise every partition gets the coordinator's one answer.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { fencedCodeFor } from './txn-errors.js'
import { defineHandler } from './types.js'

export const addPartitionsToTxnHandler = defineHandler({
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request, version) {
    const topics = request.v3AndBelowTopics
    const known = (name: string, partition: number): boolean => ctx.core.hasPartition(name, partition)
    const anyUnknown = topics.some((t) => t.partitions.some((p) => !known(t.name, p)))
    let code: number
    if (anyUnknown) code = ErrorCode.OPERATION_NOT_ATTEMPTED
    else {
      const partitions = topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })))
      code = fencedCodeFor(await ctx.core.txns.addPartitions(request.v3AndBelowTransactionalId, request.v3AndBelowProducerId, request.v3AndBelowProducerEpoch, partitions, ctx.connectionOrdinal), version, 2)
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      resultsByTransaction: [],
      resultsByTopicV3AndBelow: topics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((p) => ({
          partitionIndex: p,
          partitionErrorCode: anyUnknown && !known(t.name, p) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code,
        })),
      })),
    }
  },
})
