/**
 * CreatePartitions v0-1: grows a topic to `count` partitions. Manual assignments of the new
 * partitions are refused with INVALID_REQUEST, as in CreateTopics: placement is the broker's.
 * The core reads timeoutMs (a change made with 0 or below answers REQUEST_TIMED_OUT, as Kafka does).
 */
import type { TopicErrorResult } from '../../metadata/operations.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const createPartitionsHandler = defineHandler({
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const results: TopicErrorResult[] = new Array<TopicErrorResult>(request.topics.length)
    const inputs: Array<{ name: string; count: number }> = []
    const inputIndexes: number[] = []
    request.topics.forEach((topic, index) => {
      if (topic.assignments !== null) {
        results[index] = { name: topic.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Manual replica assignment is not supported' }
        return
      }
      inputs.push({ name: topic.name, count: topic.count })
      inputIndexes.push(index)
    })
    const grown = inputs.length > 0 ? await ctx.core.createPartitions(inputs, request.validateOnly, request.timeoutMs) : []
    grown.forEach((result, i) => (results[inputIndexes[i]] = result))
    return {
      throttleTimeMs: 0,
      results: results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorCode === ErrorCode.NONE ? null : r.errorMessage })),
    }
  },
})
