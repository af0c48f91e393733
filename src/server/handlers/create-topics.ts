/**
 * CreateTopics v0-4. Assignments given by the client are the topic's replicas exactly (the
 * controller checks them as Kafka does). A config with a null value is dropped, meaning "use the
 * default", as Kafka reads it. The core reads timeoutMs (a change made with 0 or
 * below answers REQUEST_TIMED_OUT, as Kafka does).
 */
import type { CreateTopicInput } from '../../metadata/operations.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const createTopicsHandler = defineHandler({
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request, version) {
    const validateOnly = version >= 1 && request.validateOnly
    const inputs: CreateTopicInput[] = request.topics.map((topic) => {
      const configs: Record<string, string> = {}
      for (const c of topic.configs) if (c.value !== null) configs[c.name] = c.value
      const input: CreateTopicInput = { name: topic.name, numPartitions: topic.numPartitions, replicationFactor: topic.replicationFactor, configs }
      if (topic.assignments.length > 0) input.assignments = topic.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: a.brokerIds }))
      return input
    })
    const results = inputs.length > 0 ? await ctx.core.createTopics(inputs, validateOnly, request.timeoutMs) : []
    return {
      throttleTimeMs: 0,
      topics: results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorCode === ErrorCode.NONE ? null : r.errorMessage })),
    }
  },
})
