/**
 * ApiVersions v0-3: the answer is derived from the handlers' own declarations, so the server can
 * never advertise a version it would not dispatch. A request at a version above ours (which the
 * dispatcher routes here rather than closing) is answered as Kafka does: UNSUPPORTED_VERSION in a
 * v0 body that still lists our ApiVersions range, so the client retries at a version we know.
 */
import { ErrorCode } from '../../common/error-codes.js'
import { ApiKey, apiVersionsFromDeclarations } from '../../protocol/index.js'
import type { ApiVersionDeclaration, ApiVersionsResponseApiVersion } from '../../protocol/index.js'
import type { ApiHandler } from './types.js'
import { defineHandler } from './types.js'

export const API_VERSIONS_DECLARATION = { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 } as const

export function createApiVersionsHandler(others: readonly ApiVersionDeclaration[]): ApiHandler<typeof ApiKey.ApiVersions> {
  const apiKeys: ApiVersionsResponseApiVersion[] = apiVersionsFromDeclarations([API_VERSIONS_DECLARATION, ...others])
  return defineHandler({
    ...API_VERSIONS_DECLARATION,
    async handle() {
      return { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0 }
    },
  })
}

/** The v0 body for an ApiVersions request at a version we do not serve. */
export function unsupportedApiVersionsBody() {
  return { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: apiVersionsFromDeclarations([API_VERSIONS_DECLARATION]) }
}
