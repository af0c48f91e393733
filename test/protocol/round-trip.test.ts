import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ALL_APIS } from '../../src/protocol/apis.js'
import type { AnyApi } from '../../src/protocol/apis.js'
import { PartitaError } from '../../src/common/errors.js'
import { Reader } from '../../src/protocol/reader.js'
import { Writer } from '../../src/protocol/writer.js'
import type { MessageSchema } from '../../src/protocol/schema.js'
import { messageArbitrary } from './schema-arbitraries.js'

const NUM_RUNS = 20

type Side = 'request' | 'response'

function codec(api: AnyApi, side: Side) {
  return side === 'request'
    ? { schema: api.requestSchema, encode: api.encodeRequest, decode: api.decodeRequest }
    : { schema: api.responseSchema, encode: api.encodeResponse, decode: api.decodeResponse }
}

function encode(api: AnyApi, side: Side, value: unknown, version: number): Buffer {
  const w = new Writer(16)
  codec(api, side).encode(w, value, version)
  return w.toBuffer()
}

function versions(schema: MessageSchema): number[] {
  const out: number[] = []
  for (let v = schema.validVersions[0]; v <= schema.validVersions[1]; v++) out.push(v)
  return out
}

function expectParseError(fn: () => unknown): void {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(PartitaError)
    expect((error as PartitaError).code).toBe('PARTITA_PROTOCOL_PARSE')
    return
  }
  expect.unreachable('decoding a truncated body must throw')
}

describe.each(ALL_APIS.map((api) => [api.name, api] as const))('%s', (_name, api) => {
  for (const side of ['request', 'response'] as const) {
    const { schema, decode } = codec(api, side)
    it.each(versions(schema))(`round-trips every ${side} field of version %i and consumes exactly the bytes written`, (version) => {
      fc.assert(
        fc.property(messageArbitrary(schema, version), (value) => {
          const bytes = encode(api, side, value, version)
          const r = new Reader(bytes)
          const decoded = decode(r, version)
          expect(r.offset).toBe(bytes.length)
          expect(decoded).toEqual(value)
          expect(encode(api, side, decoded, version).equals(bytes)).toBe(true)
        }),
        { seed: 42, numRuns: NUM_RUNS },
      )
    })

    it(`rejects every truncation of a ${side} with PARTITA_PROTOCOL_PARSE`, () => {
      const version = schema.validVersions[1]
      fc.assert(
        fc.property(messageArbitrary(schema, version), fc.nat(), (value, cutSeed) => {
          const bytes = encode(api, side, value, version)
          if (bytes.length === 0) return
          const cut = cutSeed % bytes.length
          expectParseError(() => decode(new Reader(bytes, 0, cut), version))
        }),
        { seed: 7, numRuns: NUM_RUNS },
      )
    })

    it(`fails random ${side} bytes only with PARTITA_PROTOCOL_PARSE`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...versions(schema)), (noise, version) => {
          try {
            decode(new Reader(Buffer.from(noise)), version)
          } catch (error) {
            expect(error).toBeInstanceOf(PartitaError)
            expect((error as PartitaError).code).toBe('PARTITA_PROTOCOL_PARSE')
          }
        }),
        { seed: 11, numRuns: NUM_RUNS * 5 },
      )
    })
  }
})
