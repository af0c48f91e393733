/**
 * Turns the generated grammar descriptions into fast-check arbitraries for one message version:
 * a field absent in that version gets its default (that is what decoding yields), a field nullable
 * in that version may be null, everything else gets a random value of its type.
 */
import fc from 'fast-check'
import type { FieldSchema, MessageSchema, VersionRange } from '../../src/protocol/schema.js'

type Value = unknown
type Struct = Record<string, Value>

const inRange = (range: VersionRange | null, version: number): boolean =>
  range !== null && version >= range[0] && version <= range[1]

/** The value a decoder yields for a field the version does not carry. */
export function defaultValue(field: FieldSchema): Value {
  if (field.default === null) return null
  if (field.array) return []
  switch (field.kind) {
    case 'struct':
      return defaultStruct(field.fields ?? [])
    case 'bytes':
      return Buffer.alloc(0)
    default:
      return field.default
  }
}

function defaultStruct(fields: readonly FieldSchema[]): Struct {
  const out: Struct = {}
  for (const f of fields) out[f.name] = defaultValue(f)
  return out
}

const INT64_SAFE = Number.MAX_SAFE_INTEGER

function primitive(field: FieldSchema, version: number): fc.Arbitrary<Value> {
  switch (field.kind) {
    case 'bool':
      return fc.boolean()
    case 'int8':
      return fc.integer({ min: -128, max: 127 })
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 })
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 })
    case 'int32':
      return fc.integer()
    case 'uint32':
      return fc.integer({ min: 0, max: 0xffffffff })
    case 'int64':
      return fc.oneof(fc.integer({ min: -INT64_SAFE, max: INT64_SAFE }), fc.constantFrom(-1, -2, 0, 2 ** 32, -(2 ** 32)))
    case 'float64':
      return fc.double()
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 8 })
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b))
    case 'uuid':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'))
    case 'struct':
      return structArbitrary(field.fields ?? [], version)
  }
}

function fieldArbitrary(field: FieldSchema, version: number): fc.Arbitrary<Value> {
  if (!inRange(field.versions, version)) return fc.constant(defaultValue(field))
  const element = primitive(field, version)
  const value = field.array ? fc.array(element, { maxLength: 3 }) : element
  return inRange(field.nullable, version) ? fc.option(value, { nil: null, freq: 4 }) : value
}

export function structArbitrary(fields: readonly FieldSchema[], version: number): fc.Arbitrary<Struct> {
  const shape: Record<string, fc.Arbitrary<Value>> = {}
  for (const f of fields) shape[f.name] = fieldArbitrary(f, version)
  return fc.record(shape)
}

export function messageArbitrary(schema: MessageSchema, version: number): fc.Arbitrary<Struct> {
  return structArbitrary(schema.fields, version)
}
