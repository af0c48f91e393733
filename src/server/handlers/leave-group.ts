/**
 * LeaveGroup v0-4. v0-2 carry one member id and answer with one error code: the top-level error,
 * or when that is NONE, the member's own (an unknown member must hear UNKNOWN_MEMBER_ID).
 * v3+ carry a batch of members (KIP-345) and answer per member.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const leaveGroupHandler = defineHandler({
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request, version) {
    const members =
      version >= 3
        ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: request.memberId, groupInstanceId: null }]
    const response = await ctx.core.groups.leaveGroup({ groupId: request.groupId, members })
    if (version < 3) {
      const errorCode = response.errorCode !== ErrorCode.NONE ? response.errorCode : (response.members[0]?.errorCode ?? ErrorCode.NONE)
      return { throttleTimeMs: 0, errorCode }
    }
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      members: response.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })),
    }
  },
})
