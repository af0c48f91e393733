/**
 * EndTxn v0-5: commit or abort the producer's transaction. The coordinator answers once its
 * Prepare* record is durable (the markers follow, holding back the producer's next operation). v4 only lets the broker answer
 * TRANSACTION_ABORTABLE (which Partita never needs to). v5 is KIP-890 part 2, sent only by clients
 * that finalized transaction.version 2: the transaction ends under a bumped epoch, answered for
 * the next one, so a delayed EndTxn of an earlier transaction is fenced instead of ending a later one.
 */
import { ApiKey } from '../../protocol/index.js'
import { fencedCodeFor } from './txn-errors.js'
import { defineHandler } from './types.js'

export const endTxnHandler = defineHandler({
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request, version) {
    if (version >= 5) {
      const answer = await ctx.core.txns.endTxnBumpingEpoch(request.transactionalId, request.producerId, request.producerEpoch, request.committed)
      return { throttleTimeMs: 0, ...answer }
    }
    const errorCode = await ctx.core.txns.endTxn(request.transactionalId, request.producerId, request.producerEpoch, request.committed, ctx.connectionOrdinal)
    return { throttleTimeMs: 0, errorCode: fencedCodeFor(errorCode, version, 2), producerId: -1, producerEpoch: -1 }
  },
})
