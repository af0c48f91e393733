/** Heartbeat v0-4: keeps a member's session alive and tells it when to rejoin. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const heartbeatHandler = defineHandler({
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const response = await ctx.core.groups.heartbeat({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
    })
    return { throttleTimeMs: 0, errorCode: response.errorCode }
  },
})
