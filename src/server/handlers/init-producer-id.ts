/**
 * InitProducerId v0-3: an idempotent producer's id and epoch. From v3 a producer that knows its id
 * asks for an epoch bump (KIP-360). A transactional id gets the core's error until transactions
 * exist; its transaction timeout is checked first, as Kafka does.
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const initProducerIdHandler = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request, version) {
    const producerId = version >= 3 ? request.producerId : -1
    const producerEpoch = version >= 3 ? request.producerEpoch : -1
    const result = await ctx.core.initProducerId(request.transactionalId, producerId, producerEpoch, request.transactionTimeoutMs)
    return { throttleTimeMs: 0, errorCode: result.errorCode, producerId: result.producerId, producerEpoch: result.producerEpoch }
  },
})
