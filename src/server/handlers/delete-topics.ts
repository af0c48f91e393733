/**
 * DeleteTopics v0-1: by name (topic ids arrive in v6). The core reads timeoutMs (a deletion made
 * with 0 or below answers REQUEST_TIMED_OUT, as Kafka does).
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const deleteTopicsHandler = defineHandler({
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const results = await ctx.core.deleteTopics(request.topicNames, request.timeoutMs)
    return { throttleTimeMs: 0, responses: results.map((r) => ({ name: r.name, errorCode: r.errorCode })) }
  },
})
