// The protocol layer's public surface: sans-io codecs for Kafka frames, headers and bodies.
export * from './apis.js'
export * from './frames.js'
export * from './generated/index.js'
export { EMPTY_BYTES, parseError, Reader, ZERO_UUID } from './reader.js'
export type { ItemReader } from './reader.js'
export { encodeError, Writer } from './writer.js'
export type { Input, ItemWriter } from './writer.js'
export type { FieldSchema, MessageSchema, PrimitiveKind, VersionRange } from './schema.js'
