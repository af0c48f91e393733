/**
 * Request and response frames: the size prefix, the headers (RequestHeader.json,
 * ResponseHeader.json) and the body codec chosen by api key and version.
 *
 * A frame on the wire is `int32 size` then `size` bytes. The decoders here take the bytes after
 * the size prefix (the server's framing layer strips it); the encoders return whole frames with the
 * prefix. Header versions: requests use header v1 (int16 key, int16 version, int32 correlation id,
 * nullable int16-length client id) for non-flexible API versions and v2 (the same, then a tagged
 * field section) for flexible ones; the client id is never a compact string, so an old broker can
 * always read the header. Responses use header v0 (correlation id) for non-flexible versions and
 * v1 (plus tagged fields) for flexible ones, except ApiVersions, whose response header is always
 * v0 so that a client can read it whatever version it asked for.
 */
import { apiByKey, ApiKey } from './apis.js'
import type { AnyApi } from './apis.js'
import type { RequestByKey, ResponseByKey } from './generated/index.js'
import { parseError, Reader } from './reader.js'
import { encodeError, Writer } from './writer.js'
import type { Input } from './writer.js'

export type RequestApiKey = keyof RequestByKey & number

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
  headerVersion: 1 | 2
  /** Offset in the frame where the body starts. */
  bodyOffset: number
}

/** The request header version a client uses for this api key and version. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  const flexibleMin = apiByKey(apiKey)?.requestFlexibleMin ?? null
  return flexibleMin !== null && apiVersion >= flexibleMin ? 2 : 1
}

/** The response header version a broker uses for this api key and version. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0
  const flexibleMin = apiByKey(apiKey)?.responseFlexibleMin ?? null
  return flexibleMin !== null && apiVersion >= flexibleMin ? 1 : 0
}

/**
 * Reads a request header from a frame (without its size prefix). The header version follows the
 * API's flexible versions, also for versions above the grammar's maximum, as Kafka does (so an
 * ApiVersions request of a future version still parses and can be answered). An unknown api key is
 * read as header v1: its body cannot be decoded anyway, and the server answers or closes.
 */
export function decodeRequestHeader(frame: Buffer, offset = 0, end = frame.length): RequestHeader {
  const r = new Reader(frame, offset, end)
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const clientId = r.nullableString()
  const headerVersion = requestHeaderVersion(apiKey, apiVersion)
  if (headerVersion === 2) r.skipTaggedFields()
  return { apiKey, apiVersion, correlationId, clientId, headerVersion, bodyOffset: r.offset }
}

function knownApi(apiKey: number, apiVersion: number, fail: (m: string) => Error): AnyApi {
  const api = apiByKey(apiKey)
  if (api === undefined) throw fail(`no codec for api key ${apiKey}`)
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
    throw fail(`${api.name} version ${apiVersion} is outside ${api.minVersion}-${api.maxVersion}`)
  }
  return api
}

/** Decodes a request body that starts at `offset` (a header's bodyOffset) and ends at `end`. */
export function decodeRequestBody<K extends RequestApiKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  offset: number,
  end = frame.length,
): RequestByKey[K] {
  const api = knownApi(apiKey, apiVersion, parseError)
  return api.decodeRequest(new Reader(frame, offset, end), apiVersion) as RequestByKey[K]
}

/** A decoded request, discriminated by `apiKey` so a switch narrows the body's type. */
export type DecodedRequest = {
  [K in RequestApiKey]: { apiKey: K; header: RequestHeader; body: RequestByKey[K] }
}[RequestApiKey]

/** Decodes a whole request frame (without its size prefix): header, then body. */
export function decodeRequest(frame: Buffer, offset = 0, end = frame.length): DecodedRequest {
  const header = decodeRequestHeader(frame, offset, end)
  const body = decodeRequestBody(header.apiKey as RequestApiKey, header.apiVersion, frame, header.bodyOffset, end)
  return { apiKey: header.apiKey, header, body } as DecodedRequest
}

/** Encodes a request frame with its size prefix, as a client sends it. */
export function encodeRequest<K extends RequestApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: Input<RequestByKey[K]>,
): Buffer {
  const api = knownApi(apiKey, apiVersion, encodeError)
  const w = new Writer(256)
  w.int32(0)
  w.int16(apiKey)
  w.int16(apiVersion)
  w.int32(correlationId)
  w.nullableString(clientId)
  if (requestHeaderVersion(apiKey, apiVersion) === 2) w.uvarint(0)
  api.encodeRequest(w, body, apiVersion)
  w.setInt32At(0, w.length - 4)
  return w.toBuffer()
}

function responseWriter<K extends RequestApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: Input<ResponseByKey[K]>,
): Writer {
  const api = knownApi(apiKey, apiVersion, encodeError)
  const w = new Writer(256)
  w.int32(0)
  w.int32(correlationId)
  if (responseHeaderVersion(apiKey, apiVersion) === 1) w.uvarint(0)
  api.encodeResponse(w, body, apiVersion)
  w.setInt32At(0, w.length - 4)
  return w
}

/** Encodes a response frame with its size prefix, as one Buffer. */
export function encodeResponse<K extends RequestApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: Input<ResponseByKey[K]>,
): Buffer {
  return responseWriter(apiKey, apiVersion, correlationId, body).toBuffer()
}

/**
 * Encodes a response frame as pieces for a vectored socket write: record batches of 4 KiB or more
 * are referenced, not copied (the hot Fetch path).
 */
export function encodeResponseChunks<K extends RequestApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: Input<ResponseByKey[K]>,
): Buffer[] {
  return responseWriter(apiKey, apiVersion, correlationId, body).toChunks()
}

/** Decodes a response frame (without its size prefix), as a client reads it. */
export function decodeResponse<K extends RequestApiKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  offset = 0,
  end = frame.length,
): { correlationId: number; body: ResponseByKey[K] } {
  const api = knownApi(apiKey, apiVersion, parseError)
  const r = new Reader(frame, offset, end)
  const correlationId = r.int32()
  if (responseHeaderVersion(apiKey, apiVersion) === 1) r.skipTaggedFields()
  return { correlationId, body: api.decodeResponse(r, apiVersion) as ResponseByKey[K] }
}
