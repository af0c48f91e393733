/**
 * CreateTopics v0-4. Manual replica assignments are refused with INVALID_REQUEST: placement is the
 * broker's (replicas must land on the shards that host them). A config with a null value is
 * dropped, meaning "use the default", as Kafka reads it. The core reads timeoutMs (a change made
 * with 0 or below answers REQUEST_TIMED_OUT, as Kafka does).
 */
import type { CreateTopicInput, CreateTopicResult } from '../../metadata/operations.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const createTopicsHandler = defineHandler({
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request, version) {
    const validateOnly = version >= 1 && request.validateOnly
    const refused = new Map<number, CreateTopicResult>()
    const inputs: CreateTopicInput[] = []
    const inputIndexes: number[] = []
    request.topics.forEach((topic, index) => {
      if (topic.assignments.length > 0) {
        refused.set(index, {
          name: topic.name,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'Manual replica assignment is not supported; omit assignments and give numPartitions',
          numPartitions: -1,
          replicationFactor: -1,
          topicId: '',
        })
        return
      }
      const configs: Record<string, string> = {}
      for (const c of topic.configs) if (c.value !== null) configs[c.name] = c.value
      inputs.push({ name: topic.name, numPartitions: topic.numPartitions, replicationFactor: topic.replicationFactor, configs })
      inputIndexes.push(index)
    })
    const created = inputs.length > 0 ? await ctx.core.createTopics(inputs, validateOnly, request.timeoutMs) : []
    const results: CreateTopicResult[] = new Array<CreateTopicResult>(request.topics.length)
    for (const [index, result] of refused) results[index] = result
    created.forEach((result, i) => (results[inputIndexes[i]] = result))
    return {
      throttleTimeMs: 0,
      topics: results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorCode === ErrorCode.NONE ? null : r.errorMessage })),
    }
  },
})
