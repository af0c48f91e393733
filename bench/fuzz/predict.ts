/**
 * What the broker will do with a frame, worked out the way the broker itself works it out: the
 * same header and body decoders, the same served-version check (src/server/connection.ts). A
 * frame it cannot read closes the connection; one it can read is handled and answered (an acks=0
 * produce excepted). The fuzzer relies on this to pipeline: nothing is sent after a frame that
 * closes its connection, so every other frame is really handled.
 */
import { ApiKey, apiByKey, decodeRequestBody, decodeRequestHeader, type RequestApiKey } from '../../src/protocol/index.js'
import type { ApiRange } from './mutate.js'

/** A request the broker reads and handles. */
export type Handled =
  /** It answers in order (apiVersion: the answer's version). */
  | { kind: 'answer'; apiKey: number; apiVersion: number; correlationId: number; body: unknown }
  /** An acks=0 produce: never answered (the connection closes if it failed). */
  | { kind: 'silent'; apiKey: number; apiVersion: number; correlationId: number; body: unknown }

export type Prediction =
  | Handled
  /** The broker closes the connection at this frame. */
  | { kind: 'close'; reason: string }
  /**
   * The size prefix lies, so what the broker makes of the stream from here is unknowable. A size
   * shorter than the bytes sent still makes it read that many bytes as one frame, and a frame it
   * can read it handles like any other (`handled`): an 'extend' mutation's junk cut off by the
   * lie leaves a whole, valid request.
   */
  | { kind: 'desync'; handled: Handled | null }

/** The request the broker handles for this frame, if any. */
export function handledRequest(prediction: Prediction): Handled | null {
  if (prediction.kind === 'answer' || prediction.kind === 'silent') return prediction
  return prediction.kind === 'desync' ? prediction.handled : null
}

/** What the broker does with `content` sent behind a size prefix of `declaredSize` bytes. */
export function predict(content: Buffer, declaredSize: number, advertised: ReadonlyMap<number, ApiRange>): Prediction {
  if (declaredSize !== content.length) {
    const read = declaredSize >= 0 && declaredSize < content.length ? predict(content.subarray(0, declaredSize), declaredSize, advertised) : null
    return { kind: 'desync', handled: read === null ? null : handledRequest(read) }
  }
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
