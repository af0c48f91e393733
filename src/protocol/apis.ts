/**
 * The registry of APIs that have generated codecs: look one up by key, and derive the ApiVersions
 * answer from the versions the server declares it supports (a subset of what the grammar allows).
 */
import { assert } from '../common/assert.js'
import type { ApiDescriptor } from './api-descriptor.js'
import { Apis } from './generated/index.js'
import type { ApiVersionsResponseApiVersion } from './generated/index.js'

export type { ApiDescriptor } from './api-descriptor.js'
export { ApiKey, Apis } from './generated/index.js'
export type { RequestByKey, ResponseByKey } from './generated/index.js'

export type AnyApi = ApiDescriptor<unknown, unknown>

/** Every API with codecs, sorted by key. */
export const ALL_APIS: readonly AnyApi[] = Object.values(Apis as Record<string, AnyApi>).sort((a, b) => a.apiKey - b.apiKey)

const byKey = new Map<number, AnyApi>(ALL_APIS.map((api) => [api.apiKey, api]))

/** The descriptor for `apiKey`, or undefined when this package has no codec for it. */
export function apiByKey(apiKey: number): AnyApi | undefined {
  return byKey.get(apiKey)
}

/** A server's declaration of the versions it serves for one API. */
export interface ApiVersionDeclaration {
  readonly apiKey: number
  readonly minVersion: number
  readonly maxVersion: number
}

/**
 * The ApiKeys array of an ApiVersions response, from the server's declarations. Each declaration
 * must name a known API and stay within the versions its grammar allows: advertising a version we
 * cannot decode would break every client that picks it.
 */
export function apiVersionsFromDeclarations(decls: readonly ApiVersionDeclaration[]): ApiVersionsResponseApiVersion[] {
  const seen = new Set<number>()
  const out: ApiVersionsResponseApiVersion[] = []
  for (const decl of decls) {
    const api = byKey.get(decl.apiKey)
    assert(api !== undefined, `declared api key ${decl.apiKey} has no codec`)
    assert(!seen.has(decl.apiKey), `api key ${decl.apiKey} declared twice`)
    assert(
      decl.minVersion >= api.minVersion && decl.maxVersion <= api.maxVersion && decl.minVersion <= decl.maxVersion,
      `${api.name} declares ${decl.minVersion}-${decl.maxVersion}, outside ${api.minVersion}-${api.maxVersion}`,
    )
    seen.add(decl.apiKey)
    out.push({ apiKey: decl.apiKey, minVersion: decl.minVersion, maxVersion: decl.maxVersion })
  }
  return out.sort((a, b) => a.apiKey - b.apiKey)
}
