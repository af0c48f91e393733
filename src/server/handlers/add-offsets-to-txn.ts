/**
 * AddOffsetsToTxn v0-3: a transactional producer will commit a group's offsets with its
 * transaction (sendOffsetsToTransaction), so the group's partition of __consumer_offsets joins
 * the transaction and gets its marker.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { OFFSETS_TOPIC } from '../../metadata/topic-names.js'
import { ApiKey } from '../../protocol/index.js'
import { fencedCodeFor } from './txn-errors.js'
import { defineHandler } from './types.js'

export const addOffsetsToTxnHandler = defineHandler({
  apiKey: ApiKey.AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request, version) {
    if (request.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID }
    const partition = ctx.core.offsetsPartitionOf(request.groupId)
    const errorCode = await ctx.core.txns.addPartitions(request.transactionalId, request.producerId, request.producerEpoch, [{ topic: OFFSETS_TOPIC, partition }], ctx.connectionOrdinal)
    return { throttleTimeMs: 0, errorCode: fencedCodeFor(errorCode, version, 2) }
  },
})
