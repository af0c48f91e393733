/**
 * DescribeConfigs v0-2. v0 reports isDefault; v1+ report the config source instead, and an
 * (empty) synonyms list: Partita has one level of override per config, so there is nothing a
 * synonym would add.
 */
import { ApiKey } from '../../protocol/index.js'
import { defineHandler } from './types.js'

export const describeConfigsHandler = defineHandler({
  apiKey: ApiKey.DescribeConfigs,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, request) {
    const results = await ctx.core.describeConfigs(
      request.resources.map((r) => ({ resourceType: r.resourceType, resourceName: r.resourceName, configNames: r.configurationKeys })),
    )
    return {
      throttleTimeMs: 0,
      results: results.map((r) => ({
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: r.configs.map((c) => ({
          name: c.name,
          value: c.isSensitive ? null : c.value,
          readOnly: c.readOnly,
          isDefault: c.isDefault,
          configSource: c.source,
          isSensitive: c.isSensitive,
          synonyms: [],
        })),
      })),
    }
  },
})
