/** AlterConfigs v0-1: replaces a topic's whole set of overrides with the configs given. */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const alterConfigsHandler = defineHandler({
  apiKey: ApiKey.AlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const results = await ctx.core.alterConfigs(
      request.resources.map((r) => ({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: r.configs.map((c) => ({ name: c.name, value: c.value, op: 0 as const })),
      })),
      false,
      request.validateOnly,
    )
    return {
      throttleTimeMs: 0,
      responses: results.map((r) => ({ errorCode: r.errorCode, errorMessage: r.errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })),
    }
  },
})
