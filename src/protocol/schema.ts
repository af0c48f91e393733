/**
 * A compact description of a message's grammar, emitted by scripts/gen-protocol.mjs beside each
 * codec. The codecs do not read it; it exists so tests (and debugging tools) can walk the grammar,
 * e.g. to build property-test arbitraries that respect field presence and nullability per version.
 */

/** An inclusive version range; open-ended ranges ("3+") end at 32767. */
export type VersionRange = readonly [number, number]

export type PrimitiveKind =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid'

export interface FieldSchema {
  /** The camelCase property name. */
  readonly name: string
  /** A primitive kind, or 'struct'. */
  readonly kind: PrimitiveKind | 'struct'
  readonly array: boolean
  /** Versions in which the field exists; null for "none". */
  readonly versions: VersionRange | null
  readonly nullable: VersionRange | null
  readonly tagged: VersionRange | null
  readonly tag: number | null
  /** A field-level override of the message's flexible versions, or undefined when none. */
  readonly flexible?: VersionRange | null
  /** The decoded value when the field is absent: a primitive, null, or 'empty' for [] / empty bytes / default struct. */
  readonly default: number | string | boolean | null
  readonly fields?: readonly FieldSchema[]
}

export interface MessageSchema {
  readonly name: string
  readonly apiKey: number
  readonly type: 'request' | 'response'
  readonly validVersions: VersionRange
  readonly flexibleVersions: VersionRange | null
  readonly fields: readonly FieldSchema[]
}
