/**
 * TxnOffsetCommit v0-3: offsets a transactional producer commits for a group, at the group's
 * coordinator, which first verifies with the transaction coordinator that the group's partition of
 * __consumer_offsets is in the producer's transaction (AddOffsetsToTxn; KIP-890), else answers
 * INVALID_TXN_STATE. They are written now and visible once the transaction's COMMIT marker
 * reaches that partition (an ABORT drops them). v3 (KIP-447) carries the
 * member's generation, checked as an OffsetCommit's; -1 skips the check.
 */
import { ApiKey } from '../../protocol/index.js'
import { fencedCodeFor } from './txn-errors.js'
import { defineHandler, groupByTopic } from './types.js'

export const txnOffsetCommitHandler = defineHandler({
  apiKey: ApiKey.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request, version) {
    const offsets = request.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: version >= 2 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
      })),
    )
    const results = await ctx.core.commitTxnOffsets({
      groupId: request.groupId,
      transactionalId: request.transactionalId,
      producerId: request.producerId,
      producerEpoch: request.producerEpoch,
      generationId: version >= 3 ? request.generationId : -1,
      memberId: version >= 3 ? request.memberId : '',
      groupInstanceId: version >= 3 ? request.groupInstanceId : null,
      offsets,
      connection: ctx.connectionOrdinal,
    })
    return {
      throttleTimeMs: 0,
      topics: groupByTopic(results.map((r) => ({ topic: r.topic, item: r }))).map(({ name, items }) => ({
        name,
        partitions: items.map((r) => ({ partitionIndex: r.partition, errorCode: fencedCodeFor(r.errorCode, version, 3) })),
      })),
    }
  },
})
