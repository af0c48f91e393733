/** SyncGroup v0-4: the leader hands in assignments, every member gets its own back. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const syncGroupHandler = defineHandler({
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const response = await ctx.core.groups.syncGroup({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    })
    return { throttleTimeMs: 0, errorCode: response.errorCode, assignment: response.assignment }
  },
})
