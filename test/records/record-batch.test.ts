import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { crc32c } from '../../src/records/crc32c.js'
import {
  type Cursor,
  readUnsignedVarint,
  readVarint,
  readVarlong,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  sizeOfVarlong,
  writeUnsignedVarint,
  writeVarint,
  writeVarlong,
} from '../../src/records/varint.js'
import {
  CompressionType,
  type RecordInput,
  decodeRecords,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  setBaseOffset,
  setMaxTimestampAndLogAppendTime,
  setPartitionLeaderEpoch,
  validateBatch,
} from '../../src/records/record-batch.js'

/** A bit-at-a-time CRC-32C, independent of the native one, to check it against. */
function crc32cReference(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof KafkaError) return error.errorCode
    throw error
  }
  return undefined
}

// Two records, timestamps 1700000000000 and +5, as the Java producer would send them.
const GOLDEN = Buffer.from([
  0, 0, 0, 0, 0, 0, 0, 0, // baseOffset 0
  0, 0, 0, 70, // batchLength: 82 total - 12
  0xff, 0xff, 0xff, 0xff, // partitionLeaderEpoch -1
  2, // magic
  0x32, 0x91, 0xc9, 0x28, // crc32c of bytes 21..82, computed with crc32cReference
  0, 0, // attributes: no compression, CreateTime
  0, 0, 0, 1, // lastOffsetDelta 1
  0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // baseTimestamp 1700000000000
  0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, // maxTimestamp 1700000000005
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
  0xff, 0xff, // producerEpoch -1
  0xff, 0xff, 0xff, 0xff, // baseSequence -1
  0, 0, 0, 2, // recordCount 2
  // record 0: length 8, attributes 0, timestampDelta 0, offsetDelta 0, key "k", value "v", 0 headers
  0x10, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x02, 0x76, 0x00,
  // record 1: length 11, attributes 0, timestampDelta 5, offsetDelta 1, key null, value "hi",
  // 1 header: key "h", value null
  0x16, 0x00, 0x0a, 0x02, 0x01, 0x04, 0x68, 0x69, 0x02, 0x02, 0x68, 0x01,
])

function goldenInput(): Parameters<typeof encodeBatch>[0] {
  return {
    baseTimestamp: 1_700_000_000_000,
    records: [
      { key: Buffer.from('k'), value: Buffer.from('v') },
      { key: null, value: Buffer.from('hi'), timestampDelta: 5, headers: [{ key: 'h', value: null }] },
    ],
  }
}

describe('crc32c', () => {
  it('matches the standard check value for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
    expect(crc32cReference(Buffer.from('123456789'))).toBe(0xe3069283)
  })

  it('computes over a sub-range and chains across pieces', () => {
    const buf = Buffer.from('xx123456789yy')
    expect(crc32c(buf, 2, 11)).toBe(0xe3069283)
    expect(crc32c(buf, 6, 11, crc32c(buf, 2, 6))).toBe(0xe3069283)
  })

  it('agrees with the reference on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(crc32c(bytes)).toBe(crc32cReference(bytes))
      }),
      { seed: 42, numRuns: 200 },
    )
  })
})

describe('varints', () => {
  /** Kafka's zig-zag varlong over BigInt, as a reference for the number-based encoder. */
  function varlongReference(value: number): number[] {
    const v = BigInt(value)
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n))
    const out: number[] = []
    while (z >= 0x80n) {
      out.push(Number(z & 0x7fn) | 0x80)
      z >>= 7n
    }
    out.push(Number(z))
    return out
  }

  function roundTrip(
    write: (b: Buffer, p: number, v: number) => number,
    read: (b: Buffer, c: Cursor) => number,
    size: (v: number) => number,
    value: number,
  ): Buffer {
    const buf = Buffer.alloc(12)
    const end = write(buf, 1, value)
    expect(end - 1).toBe(size(value))
    const cursor = { pos: 1, end }
    expect(read(buf, cursor)).toBe(value)
    expect(cursor.pos).toBe(end)
    return buf.subarray(1, end)
  }

  const int32Edges = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 2 ** 31 - 1, -(2 ** 31)]

  it('round-trips every int32 through zig-zag varints, boundaries included', () => {
    for (const v of int32Edges) roundTrip(writeVarint, readVarint, sizeOfVarint, v)
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
        const bytes = roundTrip(writeVarint, readVarint, sizeOfVarint, v)
        expect([...bytes]).toEqual(varlongReference(v))
      }),
      { seed: 42, numRuns: 2000 },
    )
  })

  it('round-trips every safe integer through zig-zag varlongs, matching the 64-bit encoding', () => {
    const edges = [...int32Edges, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, -(2 ** 35), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]
    for (const v of edges) {
      const bytes = roundTrip(writeVarlong, readVarlong, sizeOfVarlong, v)
      expect([...bytes]).toEqual(varlongReference(v))
    }
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (v) => {
        const bytes = roundTrip(writeVarlong, readVarlong, sizeOfVarlong, v)
        expect([...bytes]).toEqual(varlongReference(v))
      }),
      { seed: 42, numRuns: 2000 },
    )
  })

  it('round-trips every uint32 through unsigned varints', () => {
    for (const v of [0, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1]) {
      roundTrip(writeUnsignedVarint, readUnsignedVarint, sizeOfUnsignedVarint, v)
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => {
        roundTrip(writeUnsignedVarint, readUnsignedVarint, sizeOfUnsignedVarint, v)
      }),
      { seed: 42, numRuns: 1000 },
    )
  })

  it('refuses values out of range when writing', () => {
    const buf = Buffer.alloc(12)
    expect(() => writeVarint(buf, 0, 2 ** 31)).toThrow(RangeError)
    expect(() => writeUnsignedVarint(buf, 0, -1)).toThrow(RangeError)
    expect(() => writeVarlong(buf, 0, 2 ** 53)).toThrow(RangeError)
  })

  it('reports truncated or overlong encodings as CORRUPT_MESSAGE', () => {
    const c = (pos: number, end: number): Cursor => ({ pos, end })
    expect(codeOf(() => readVarint(Buffer.from([0x80, 0x80]), c(0, 2)))).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(codeOf(() => readVarint(Buffer.from([0x01]), c(0, 0)))).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(codeOf(() => readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), c(0, 6)))).toBe(
      ErrorCode.CORRUPT_MESSAGE,
    )
    expect(codeOf(() => readVarlong(Buffer.alloc(11, 0xff), c(0, 11)))).toBe(ErrorCode.CORRUPT_MESSAGE)
    // 2^63 - 1 zig-zagged: valid on the wire, beyond what a number holds exactly.
    const tooBig = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
    expect(codeOf(() => readVarlong(tooBig, c(0, tooBig.length)))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })
})

describe('record batch codec', () => {
  it('encodes the hand-built golden batch byte for byte', () => {
    expect(crc32cReference(GOLDEN.subarray(21))).toBe(0x3291c928)
    expect(encodeBatch(goldenInput()).equals(GOLDEN)).toBe(true)
  })

  it('reads every header field at its documented offset', () => {
    expect(readBatchHeader(GOLDEN, 0)).toEqual({
      baseOffset: 0,
      batchLength: 70,
      partitionLeaderEpoch: -1,
      magic: 2,
      crc: 0x3291c928,
      attributes: 0,
      lastOffsetDelta: 1,
      baseTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_005,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 2,
    })
  })

  it('decodes the golden batch into absolute offsets and timestamps', () => {
    const batch = Buffer.from(GOLDEN)
    setBaseOffset(batch, 0, 1000)
    expect(validateBatch(batch, 0, batch.length, { fromProducer: true })).toBe(82)
    const records = decodeRecords(batch)
    expect(records).toEqual([
      { offset: 1000, timestampMs: 1_700_000_000_000, key: Buffer.from('k'), value: Buffer.from('v'), headers: [] },
      { offset: 1001, timestampMs: 1_700_000_000_005, key: null, value: Buffer.from('hi'), headers: [{ key: 'h', value: null }] },
    ])
  })

  it('stamps base offset and leader epoch outside the CRC', () => {
    const batch = Buffer.from(GOLDEN)
    setBaseOffset(batch, 0, 2 ** 40 + 7)
    setPartitionLeaderEpoch(batch, 0, 12)
    expect(validateBatch(batch, 0, batch.length, { fromProducer: true })).toBe(82)
    const header = readBatchHeader(batch, 0)
    expect(header.baseOffset).toBe(2 ** 40 + 7)
    expect(header.partitionLeaderEpoch).toBe(12)
    expect(header.crc).toBe(0x3291c928)
  })

  it('marks LogAppendTime, rewrites the max timestamp and recomputes the CRC', () => {
    const batch = Buffer.from(GOLDEN)
    setMaxTimestampAndLogAppendTime(batch, 0, 1_800_000_000_000)
    const header = readBatchHeader(batch, 0)
    expect(header.attributes & 0x08).toBe(0x08)
    expect(header.maxTimestamp).toBe(1_800_000_000_000)
    expect(header.crc).toBe(crc32cReference(batch.subarray(21)))
    expect(validateBatch(batch, 0, batch.length, { fromProducer: true })).toBe(82)
    expect(decodeRecords(batch).map((r) => r.timestampMs)).toEqual([1_800_000_000_000, 1_800_000_000_000])
  })

  it('splits concatenated batches and reports a trailing partial batch', () => {
    const a = encodeBatch(goldenInput())
    const b = encodeBatch({ ...goldenInput(), baseOffset: 2 })
    const all = Buffer.concat([a, b, b.subarray(0, 30)])
    const it = iterateBatches(all)
    const spans = []
    let step = it.next()
    while (step.done !== true) {
      spans.push(step.value)
      step = it.next()
    }
    expect(spans).toEqual([
      { pos: 0, size: a.length },
      { pos: a.length, size: b.length },
    ])
    expect(step.value).toBe(30)
  })

  it('round-trips arbitrary records: null, empty and binary keys, values and headers', () => {
    const bytes = fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null })
    const record = fc.record({
      key: bytes,
      value: bytes,
      headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: bytes }), { maxLength: 4 }),
      timestampDelta: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    })
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (input, baseOffset, baseTimestamp) => {
          const toBuf = (b: Uint8Array | null): Buffer | null => (b === null ? null : Buffer.from(b))
          const records: RecordInput[] = input.map((r) => ({
            key: toBuf(r.key),
            value: toBuf(r.value),
            headers: r.headers.map((h) => ({ key: h.key, value: toBuf(h.value) })),
            timestampDelta: r.timestampDelta,
          }))
          const batch = encodeBatch({ records, baseOffset, baseTimestamp, producerId: 77, producerEpoch: 3, baseSequence: 10 })
          expect(validateBatch(batch, 0, batch.length, { fromProducer: true })).toBe(batch.length)
          const header = readBatchHeader(batch, 0)
          expect(header.maxTimestamp).toBe(baseTimestamp + Math.max(...records.map((r) => r.timestampDelta!)))
          const decoded = decodeRecords(batch)
          expect(decoded).toEqual(
            records.map((r, i) => ({
              offset: baseOffset + i,
              timestampMs: baseTimestamp + r.timestampDelta!,
              key: r.key,
              value: r.value,
              headers: r.headers,
            })),
          )
        },
      ),
      { seed: 42, numRuns: 300 },
    )
  })

  it('compresses the records block through the given function and checks counts on decode', () => {
    // A stand-in codec (byte reversal) so this test does not depend on the compression module.
    const reverse = (_type: number, b: Buffer): Buffer => Buffer.from(b).reverse()
    const batch = encodeBatch({ ...goldenInput(), compression: CompressionType.GZIP, compress: reverse })
    expect(readBatchHeader(batch, 0).attributes & 0x07).toBe(CompressionType.GZIP)
    expect(validateBatch(batch, 0, batch.length, { fromProducer: true })).toBe(batch.length)
    expect(decodeRecords(batch, 0, reverse)).toEqual(decodeRecords(GOLDEN))
    expect(codeOf(() => decodeRecords(batch))).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    // Claim three records where two are stored: the decoded count check catches it.
    const lying = Buffer.from(batch)
    lying.writeInt32BE(3, 57)
    expect(codeOf(() => decodeRecords(lying, 0, reverse))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })
})

describe('batch validation', () => {
  const corrupt = ErrorCode.CORRUPT_MESSAGE
  const check = (buf: Buffer, fromProducer = true): number | undefined =>
    codeOf(() => validateBatch(buf, 0, buf.length, { fromProducer }))

  it('rejects a truncated header or a length past the available bytes', () => {
    expect(check(GOLDEN.subarray(0, 60))).toBe(corrupt)
    expect(check(GOLDEN.subarray(0, 81))).toBe(corrupt)
    const short = Buffer.from(GOLDEN)
    short.writeInt32BE(10, 8)
    expect(check(short)).toBe(corrupt)
  })

  it('skips only the CRC when the caller has already checked it, and still checks the framing', () => {
    const flipped = Buffer.from(GOLDEN)
    flipped[flipped.length - 1] ^= 0x01
    expect(codeOf(() => validateBatch(flipped, 0, flipped.length, { fromProducer: true, crcChecked: true }))).toBeUndefined()
    expect(codeOf(() => validateBatch(GOLDEN.subarray(0, 60), 0, 60, { fromProducer: true, crcChecked: true }))).toBe(corrupt)
  })

  it('rejects a magic other than 2', () => {
    const batch = Buffer.from(GOLDEN)
    batch[16] = 1
    expect(check(batch)).toBe(corrupt)
  })

  it('rejects any flipped byte inside the CRC range', () => {
    for (let i = 21; i < GOLDEN.length; i++) {
      const batch = Buffer.from(GOLDEN)
      batch[i] ^= 0x40
      expect(check(batch)).toBe(corrupt)
    }
  })

  it('rejects a producer batch whose lastOffsetDelta disagrees with its record count', () => {
    const batch = encodeBatch({ ...goldenInput(), lastOffsetDelta: 5 })
    expect(check(batch)).toBe(corrupt)
    // A stored (compacted) batch may have gaps.
    expect(check(batch, false)).toBeUndefined()
  })

  it('rejects a producer batch with no records unless it is a control batch', () => {
    expect(check(encodeBatch({ baseTimestamp: 0, records: [] }))).toBe(corrupt)
    expect(check(encodeBatch({ baseTimestamp: 0, records: [] }), false)).toBeUndefined()
    expect(check(encodeBatch({ baseTimestamp: 0, records: [], isControl: true }))).toBeUndefined()
  })
})
