/**
 * JoinGroup v0-6. v0 has no rebalance timeout (Kafka uses the session timeout for both); from v4
 * a member without an id first gets MEMBER_ID_REQUIRED with its new id (KIP-394). Protocol
 * type and name are not nullable before v7, so an absent one is written as an empty string.
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const joinGroupHandler = defineHandler({
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, request, version) {
    const response = await ctx.core.groups.joinGroup({
      groupId: request.groupId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      clientId: ctx.clientId ?? '',
      clientHost: ctx.clientHost,
      requireKnownMemberId: version >= 4,
    })
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      generationId: response.generationId,
      protocolType: response.protocolType,
      protocolName: response.protocolName ?? '',
      leader: response.leader,
      memberId: response.memberId,
      members: response.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
    }
  },
})
