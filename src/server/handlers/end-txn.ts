/**
 * EndTxn v0-3: commit or abort the producer's transaction. The coordinator answers once every
 * partition of the transaction holds its marker.
 */
import { ApiKey } from '../../protocol/index.js'
import { fencedCodeFor } from './txn-errors.js'
import { defineHandler } from './types.js'

export const endTxnHandler = defineHandler({
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request, version) {
    const errorCode = await ctx.core.txns.endTxn(request.transactionalId, request.producerId, request.producerEpoch, request.committed)
    return { throttleTimeMs: 0, errorCode: fencedCodeFor(errorCode, version, 2), producerId: -1, producerEpoch: -1 }
  },
})
