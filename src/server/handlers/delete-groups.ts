/** DeleteGroups v0-1: removes Empty groups and their committed offsets. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const deleteGroupsHandler = defineHandler({
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const results = await ctx.core.groups.deleteGroups(request.groupsNames)
    return { throttleTimeMs: 0, results: results.map((r) => ({ groupId: r.groupId, errorCode: r.errorCode })) }
  },
})
