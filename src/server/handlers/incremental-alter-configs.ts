/**
 * IncrementalAlterConfigs v0-1: SET, DELETE, APPEND and SUBTRACT per config. A resource with an
 * operation outside those four is refused whole with INVALID_REQUEST, as Kafka does.
 */
import type { AlterConfigOp } from '../../metadata/operations.js'
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

type Op = AlterConfigOp['op']

function isOp(op: number): op is Op {
  return op === 0 || op === 1 || op === 2 || op === 3
}

interface ResourceResult {
  errorCode: number
  errorMessage: string | null
  resourceType: number
  resourceName: string
}

export const incrementalAlterConfigsHandler = defineHandler({
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const results: ResourceResult[] = new Array<ResourceResult>(request.resources.length)
    const valid: Array<{ resourceType: number; resourceName: string; configs: AlterConfigOp[] }> = []
    const validIndexes: number[] = []
    request.resources.forEach((r, index) => {
      const bad = r.configs.find((c) => !isOp(c.configOperation))
      if (bad !== undefined) {
        results[index] = {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Unknown config operation ${bad.configOperation} for ${bad.name}`,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        }
        return
      }
      valid.push({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: r.configs.map((c) => ({ name: c.name, value: c.value, op: c.configOperation as Op })),
      })
      validIndexes.push(index)
    })
    const altered = valid.length > 0 ? await ctx.core.alterConfigs(valid, true, request.validateOnly) : []
    altered.forEach((r, i) => (results[validIndexes[i]] = { ...r }))
    return { throttleTimeMs: 0, responses: results }
  },
})
