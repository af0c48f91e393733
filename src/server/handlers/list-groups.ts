/** ListGroups v0-2: every group the coordinator knows, with its protocol type. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const listGroupsHandler = defineHandler({
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx) {
    const response = await ctx.core.groups.listGroups({})
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      groups: response.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })),
    }
  },
})
