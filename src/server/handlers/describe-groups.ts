/** DescribeGroups v0-4. An unknown group is reported as Dead with NONE, as Kafka does. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const describeGroupsHandler = defineHandler({
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const groups = await ctx.core.groups.describeGroups(request.groups)
    return {
      throttleTimeMs: 0,
      groups: groups.map((g) => ({
        errorCode: g.errorCode,
        groupId: g.groupId,
        groupState: g.groupState,
        protocolType: g.protocolType,
        protocolData: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.memberMetadata,
          memberAssignment: m.memberAssignment,
        })),
      })),
    }
  },
})
