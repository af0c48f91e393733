/**
 * FindCoordinator v0-4. A group's coordinator is the broker that leads the group's partition of
 * __consumer_offsets (Kafka's placement), which the broker node looks up in its metadata image.
 * Transaction coordinators do not exist yet: key type 1 gets COORDINATOR_NOT_AVAILABLE, which
 * clients retry rather than treat as fatal. v4 batches keys; earlier versions ask for one.
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const findCoordinatorHandler = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request, version) {
    if (version >= 4) {
      const coordinators = await Promise.all(request.coordinatorKeys.map((key) => ctx.core.findCoordinator(key, request.keyType)))
      return { throttleTimeMs: 0, coordinators }
    }
    const c = await ctx.core.findCoordinator(request.key, request.keyType)
    return { throttleTimeMs: 0, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port }
  },
})
