/**
 * CreatePartitions v0-1: grows a topic to `count` partitions, placing the new ones as the client
 * assigned them when it did (the controller checks them as Kafka does).
 * The core reads timeoutMs (a change made with 0 or below answers REQUEST_TIMED_OUT, as Kafka does).
 */
import type { CreatePartitionsInput } from '../../metadata/operations.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const createPartitionsHandler = defineHandler({
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const inputs: CreatePartitionsInput[] = request.topics.map((topic) => {
      const input: CreatePartitionsInput = { name: topic.name, count: topic.count }
      if (topic.assignments !== null) input.assignments = topic.assignments.map((a) => a.brokerIds)
      return input
    })
    const results = inputs.length > 0 ? await ctx.core.createPartitions(inputs, request.validateOnly, request.timeoutMs) : []
    return {
      throttleTimeMs: 0,
      results: results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorCode === ErrorCode.NONE ? null : r.errorMessage })),
    }
  },
})
