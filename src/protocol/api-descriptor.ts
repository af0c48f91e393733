import type { Reader } from './reader.js'
import type { MessageSchema } from './schema.js'
import type { Input, Writer } from './writer.js'

/**
 * One Kafka API as the generated code describes it: its key, the versions its JSON grammar allows,
 * from which version its request and response are flexible, and its body codecs. Versions are
 * checked by the codecs themselves; headers are handled by frames.ts.
 */
export interface ApiDescriptor<Req, Res> {
  readonly apiKey: number
  readonly name: string
  readonly minVersion: number
  readonly maxVersion: number
  /** The first flexible request version, or null when no version is flexible. */
  readonly requestFlexibleMin: number | null
  readonly responseFlexibleMin: number | null
  // Method syntax on purpose: it makes the parameters bivariant, so every descriptor is assignable
  // to ApiDescriptor<unknown, unknown> and can sit in one registry.
  decodeRequest(r: Reader, version: number): Req
  encodeRequest(w: Writer, value: Input<Req>, version: number): void
  decodeResponse(r: Reader, version: number): Res
  encodeResponse(w: Writer, value: Input<Res>, version: number): void
  readonly requestSchema: MessageSchema
  readonly responseSchema: MessageSchema
}
