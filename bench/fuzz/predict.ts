/**
 * What the broker will do with a frame, worked out the way the broker itself works it out: the
 * same header and body decoders, the same served-version check (src/server/connection.ts). A
 * frame it cannot read closes the connection; one it can read is handled and answered (an acks=0
 * produce excepted). The fuzzer relies on this to pipeline: nothing is sent after a frame that
 * closes its connection, so every other frame is really handled.
 */
import { ApiKey, apiByKey, decodeRequestBody, decodeRequestHeader, type RequestApiKey } from '../../src/protocol/index.js'
import type { ApiRange } from './mutate.js'

export type Prediction =
  /** The broker reads and handles it, and answers in order (apiVersion: the answer's version). */
  | { kind: 'answer'; apiKey: number; apiVersion: number; correlationId: number; body: unknown }
  /** An acks=0 produce: handled, never answered (the connection closes if it failed). */
  | { kind: 'silent'; apiKey: number; apiVersion: number; correlationId: number; body: unknown }
  /** The broker closes the connection at this frame. */
  | { kind: 'close'; reason: string }
  /** The size prefix lies: what the broker makes of the stream from here is unknowable. */
  | { kind: 'desync' }

export function predict(content: Buffer, sizeLies: boolean, advertised: ReadonlyMap<number, ApiRange>): Prediction {
  if (sizeLies) return { kind: 'desync' }
  let header
  try {
    header = decodeRequestHeader(content)
  } catch {
    return { kind: 'close', reason: 'header' }
  }
  const range = advertised.get(header.apiKey)
  if (range === undefined || header.apiVersion < range.minVersion || header.apiVersion > range.maxVersion) {
    // An ApiVersions the broker cannot serve is answered in v0, so the client can retry.
    if (header.apiKey === ApiKey.ApiVersions) return { kind: 'answer', apiKey: header.apiKey, apiVersion: 0, correlationId: header.correlationId, body: null }
    return { kind: 'close', reason: range === undefined ? 'api key' : 'version' }
  }
  if (apiByKey(header.apiKey) === undefined) return { kind: 'close', reason: 'api key' }
  let body: unknown
  try {
    body = decodeRequestBody(header.apiKey as RequestApiKey, header.apiVersion, content, header.bodyOffset)
  } catch {
    return { kind: 'close', reason: 'body' }
  }
  const handled = { apiKey: header.apiKey, apiVersion: header.apiVersion, correlationId: header.correlationId, body }
  if (header.apiKey === ApiKey.Produce && (body as { acks: number }).acks === 0) return { kind: 'silent', ...handled }
  return { kind: 'answer', ...handled }
}
