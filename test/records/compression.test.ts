import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import zlib from 'node:zlib'
import snappy from 'snappy'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { CompressionType, decodeRecords, encodeBatch, validateBatch } from '../../src/records/record-batch.js'
import {
  DECOMPRESSED_BYTES_MAX_DEFAULT,
  compress,
  compressAsync,
  decompress,
  decompressAsync,
} from '../../src/records/compression.js'

const CODECS = [
  ['gzip', CompressionType.GZIP],
  ['snappy', CompressionType.SNAPPY],
  ['lz4', CompressionType.LZ4],
  ['zstd', CompressionType.ZSTD],
] as const

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function errorCodeOf(run: () => unknown): number | undefined {
  try {
    run()
  } catch (error) {
    if (error instanceof KafkaError) return error.errorCode
    throw error
  }
  return undefined
}

async function asyncErrorCodeOf(run: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KafkaError) return error.errorCode
    throw error
  }
  return undefined
}

/** Payloads that look like record blocks: repetitive text mixed with noise. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
  fc
    .array(fc.constantFrom('key-', 'value', '{"id":', '0000', '\u00e9', 'x'), { maxLength: 2000 })
    .map((parts) => Buffer.from(parts.join(''), 'utf8')),
)

/** Deterministic pseudo-random bytes (xorshift32), so the test data is fixed. */
function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

describe('compress and decompress', () => {
  it.each(CODECS)('round-trips %s', (_name, type) => {
    fc.assert(
      fc.property(payload, (bytes) => decompress(type, compress(type, bytes)).equals(bytes)),
      { seed: 42, numRuns: 60 },
    )
  })

  it.each(CODECS)('round-trips %s across many blocks', (_name, type) => {
    const big = Buffer.concat([noise(150_000), Buffer.alloc(200_000, 0x61), noise(70_000, 9)])
    expect(decompress(type, compress(type, big)).equals(big)).toBe(true)
  })

  it.each(CODECS)('round-trips an empty block with %s', (_name, type) => {
    expect(decompress(type, compress(type, Buffer.alloc(0))).length).toBe(0)
  })

  it.each(CODECS)('round-trips %s through the async variants', async (_name, type) => {
    const bytes = Buffer.concat([noise(40_000), Buffer.from('abc'.repeat(20_000))])
    const compressed = await compressAsync(type, bytes)
    expect(compressed.equals(compress(type, bytes))).toBe(true)
    expect((await decompressAsync(type, compressed)).equals(bytes)).toBe(true)
  })

  it('passes NONE through unchanged', () => {
    const bytes = Buffer.from('plain')
    expect(compress(CompressionType.NONE, bytes)).toBe(bytes)
    expect(decompress(CompressionType.NONE, bytes)).toBe(bytes)
  })
})

describe('gzip', () => {
  it('writes gzip that zlib reads', () => {
    const bytes = Buffer.from('records '.repeat(100))
    const out = compress(CompressionType.GZIP, bytes)
    expect(out.subarray(0, 2)).toEqual(hex('1f8b'))
    expect(zlib.gunzipSync(out).equals(bytes)).toBe(true)
  })

  it('reads gzip that zlib wrote, several members included', () => {
    const a = zlib.gzipSync(Buffer.from('first '))
    const b = zlib.gzipSync(Buffer.from('second'), { level: 9 })
    expect(decompress(CompressionType.GZIP, Buffer.concat([a, b])).toString()).toBe('first second')
  })
})

describe('snappy', () => {
  const XERIAL_HEADER = hex('82 534e415050590 0 00000001 00000001')

  it('writes the xerial framing Java Kafka writes, in 32 KiB chunks', () => {
    const bytes = noise(70_000)
    const out = compress(CompressionType.SNAPPY, bytes)
    expect(out.subarray(0, 16).equals(XERIAL_HEADER)).toBe(true)
    const chunks: Buffer[] = []
    let pos = 16
    while (pos < out.length) {
      const length = out.readInt32BE(pos)
      chunks.push(snappy.uncompressSync(out.subarray(pos + 4, pos + 4 + length)) as Buffer)
      pos += 4 + length
    }
    expect(pos).toBe(out.length)
    expect(chunks.map((c) => c.length)).toEqual([32768, 32768, 70_000 - 65536])
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true)
  })

  it('reads a hand-built xerial stream as snappy-java writes it', () => {
    // Two chunks of raw snappy, each: varint length, a literal tag ((n - 1) << 2), the bytes.
    const blob = Buffer.concat([
      XERIAL_HEADER,
      hex('00000007'),
      hex('05 10'),
      Buffer.from('hello'),
      hex('00000008'),
      hex('06 14'),
      Buffer.from(' world'),
    ])
    expect(decompress(CompressionType.SNAPPY, blob).toString()).toBe('hello world')
  })

  it('reads concatenated xerial streams, skipping the repeated header', () => {
    const one = compress(CompressionType.SNAPPY, Buffer.from('one,'))
    const two = compress(CompressionType.SNAPPY, Buffer.from('two'))
    expect(decompress(CompressionType.SNAPPY, Buffer.concat([one, two])).toString()).toBe('one,two')
  })

  it('reads one raw snappy block, as librdkafka and kafkajs-snappy write it', () => {
    // 9 bytes: literal "abc", then a 1-byte-offset copy of length 6 at offset 3.
    expect(decompress(CompressionType.SNAPPY, hex('09 08 616263 09 03')).toString()).toBe('abcabcabc')
    const bytes = Buffer.from('kafkajs '.repeat(500))
    expect(decompress(CompressionType.SNAPPY, snappy.compressSync(bytes)).equals(bytes)).toBe(true)
  })
})

describe('lz4', () => {
  it('writes an LZ4 frame with the header Java Kafka writes', () => {
    const out = compress(CompressionType.LZ4, Buffer.from('lz4 '.repeat(50)))
    expect(out.readUInt32LE(0)).toBe(0x184d2204)
    // FLG 0x60 (version 1, independent blocks, no checksums), BD 0x40 (64 KiB), header checksum.
    expect(out.subarray(0, 7).equals(hex('04224d18 60 40 82'))).toBe(true)
    expect(out.subarray(out.length - 4).equals(hex('00000000'))).toBe(true)
  })

  it('writes 64 KiB blocks as Java does, storing incompressible ones uncompressed', () => {
    const bytes = Buffer.concat([Buffer.alloc(100_000, 0x61), noise(70_000)])
    const out = compress(CompressionType.LZ4, bytes)
    expect(out.subarray(0, 7).equals(hex('04224d18 60 40 82'))).toBe(true)
    const blocks: Array<{ stored: boolean; size: number }> = []
    let pos = 7
    for (;;) {
      const word = out.readUInt32LE(pos)
      pos += 4
      if (word === 0) break
      blocks.push({ stored: word >= 0x80000000, size: word & 0x7fffffff })
      pos += word & 0x7fffffff
    }
    expect(pos).toBe(out.length)
    // Three 64 KiB blocks: zeros-like, half and half, noise; the noise tail is stored as is.
    expect(blocks.length).toBe(3)
    expect(blocks[0].stored).toBe(false)
    expect(blocks[2]).toEqual({ stored: true, size: 170_000 - 2 * 65536 })
  })

  it('writes a header and end mark alone for an empty block', () => {
    expect(compress(CompressionType.LZ4, Buffer.alloc(0)).equals(hex('04224d18 60 40 82 00000000'))).toBe(true)
  })

  it('reads a hand-built frame with an uncompressed block', () => {
    const frame = hex('04224d18 60 40 82 05000080 68656c6c6f 00000000')
    expect(decompress(CompressionType.LZ4, frame).toString()).toBe('hello')
  })
})

describe('zstd', () => {
  it('writes standard zstd frames', () => {
    const out = compress(CompressionType.ZSTD, Buffer.from('zstd '.repeat(50)))
    expect(out.readUInt32LE(0)).toBe(0xfd2fb528)
  })

  it('reads a hand-built single-segment frame with a raw block', () => {
    // Header descriptor 0x20: single segment, 1-byte content size; block header 5 << 3 | last.
    const frame = hex('28b52ffd 20 05 290000 68656c6c6f')
    expect(decompress(CompressionType.ZSTD, frame).toString()).toBe('hello')
  })
})

describe('bad input', () => {
  it.each(CODECS)('reports truncated %s as CORRUPT_MESSAGE', (_name, type) => {
    const whole = compress(type, Buffer.concat([noise(5000), Buffer.from('tail '.repeat(400))]))
    for (const cut of [1, 5, 17, Math.floor(whole.length / 2), whole.length - 1]) {
      expect(errorCodeOf(() => decompress(type, whole.subarray(0, cut)))).toBe(ErrorCode.CORRUPT_MESSAGE)
    }
  })

  it.each(CODECS)('reports %s garbage as CORRUPT_MESSAGE', (_name, type) => {
    expect(errorCodeOf(() => decompress(type, noise(300)))).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(errorCodeOf(() => decompress(type, Buffer.alloc(0)))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it.each(CODECS)('never crashes on arbitrary %s input', (_name, type) => {
    const valid = compress(type, Buffer.from('some records to damage '.repeat(30)))
    const damaged = fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, patch]) => {
      const copy = Buffer.from(valid)
      Buffer.from(patch).copy(copy, at % copy.length)
      return copy
    })
    const input = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), damaged)
    fc.assert(
      fc.property(input, (bytes) => {
        const code = errorCodeOf(() => decompress(type, bytes, 1 << 20))
        return code === undefined || code === ErrorCode.CORRUPT_MESSAGE || code === ErrorCode.RECORD_LIST_TOO_LARGE
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('reports a corrupt block through the async variant too', async () => {
    expect(await asyncErrorCodeOf(() => decompressAsync(CompressionType.ZSTD, noise(64)))).toBe(
      ErrorCode.CORRUPT_MESSAGE,
    )
  })

  it.each([5, 6, 7, -1, 1.5])('rejects compression type %s as UNSUPPORTED_COMPRESSION_TYPE', (type) => {
    expect(errorCodeOf(() => compress(type, Buffer.from('x')))).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    expect(errorCodeOf(() => decompress(type, Buffer.from('x')))).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
  })
})

describe('decompressed size bound', () => {
  const MiB = 1024 * 1024
  const zeros = Buffer.alloc(MiB)

  it.each(CODECS)('refuses %s output over maxBytes as RECORD_LIST_TOO_LARGE', (_name, type) => {
    const compressed = compress(type, zeros)
    expect(errorCodeOf(() => decompress(type, compressed, MiB / 2))).toBe(ErrorCode.RECORD_LIST_TOO_LARGE)
    expect(decompress(type, compressed, MiB).length).toBe(MiB)
  })

  it.each(CODECS)('refuses %s output over maxBytes in the async variant', async (_name, type) => {
    const compressed = compress(type, zeros)
    expect(await asyncErrorCodeOf(() => decompressAsync(type, compressed, MiB / 2))).toBe(
      ErrorCode.RECORD_LIST_TOO_LARGE,
    )
  })

  it('refuses a snappy block that claims a huge length before decoding it', () => {
    // Varint 0xffffffff: a 4 GiB claim in five bytes.
    expect(errorCodeOf(() => decompress(CompressionType.SNAPPY, hex('ffffffff0f 00')))).toBe(
      ErrorCode.RECORD_LIST_TOO_LARGE,
    )
  })

  const rle = (last: boolean): Buffer => {
    const header = Buffer.alloc(4)
    header.writeUIntLE(((128 * 1024) << 3) | (1 << 1) | (last ? 1 : 0), 0, 3)
    header[3] = 0x41
    return header
  }

  it('refuses a zstd bomb of RLE blocks under the default limit before decoding it', () => {
    // 600 RLE blocks of 128 KiB each (75 MiB) in 2.4 KB, then a last block of garbage: a decoder
    // run first would report CORRUPT_MESSAGE, so RECORD_LIST_TOO_LARGE proves the walk came first.
    const blocks = Array.from({ length: 600 }, () => rle(false))
    const garbage = Buffer.concat([hex('cd0000'), noise(25)]) // 25 << 3 | compressed << 1 | last
    const bomb = Buffer.concat([hex('28b52ffd 00 58'), ...blocks, garbage])
    expect(600 * 128 * 1024).toBeGreaterThan(DECOMPRESSED_BYTES_MAX_DEFAULT)
    expect(errorCodeOf(() => decompress(CompressionType.ZSTD, bomb))).toBe(ErrorCode.RECORD_LIST_TOO_LARGE)
    const unbounded = Buffer.concat([hex('28b52ffd 00 58'), rle(false), garbage])
    expect(errorCodeOf(() => decompress(CompressionType.ZSTD, unbounded))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it('decodes a legitimate frame of RLE blocks right at the limit', () => {
    const frame = Buffer.concat([hex('28b52ffd 00 58'), ...Array.from({ length: 8 }, (_, i) => rle(i === 7))])
    expect(decompress(CompressionType.ZSTD, frame, MiB).equals(Buffer.alloc(MiB, 0x41))).toBe(true)
  })

  it('refuses an lz4 frame whose blocks could exceed the limit before decoding it', () => {
    // 20 compressed 64 KiB-maximum blocks of garbage: up to 1.25 MiB, so over a 1 MiB limit.
    const block = Buffer.concat([hex('10000000'), noise(16)])
    const frame = Buffer.concat([hex('04224d18 60 40 82'), ...Array.from({ length: 20 }, () => block), hex('00000000')])
    expect(errorCodeOf(() => decompress(CompressionType.LZ4, frame, MiB))).toBe(ErrorCode.RECORD_LIST_TOO_LARGE)
    expect(errorCodeOf(() => decompress(CompressionType.LZ4, frame, 2 * MiB))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it('refuses a gzip bomb under the default limit', () => {
    const bomb = zlib.gzipSync(Buffer.alloc(DECOMPRESSED_BYTES_MAX_DEFAULT + 1), { level: 9 })
    expect(bomb.length).toBeLessThan(100_000)
    expect(errorCodeOf(() => decompress(CompressionType.GZIP, bomb))).toBe(ErrorCode.RECORD_LIST_TOO_LARGE)
  })
})

describe('with the record batch codec', () => {
  it.each(CODECS)('encodes and decodes a %s batch', (_name, type) => {
    const records = Array.from({ length: 50 }, (_, i) => ({
      key: Buffer.from(`key-${i}`),
      value: Buffer.from(`value-${i} `.repeat(20)),
    }))
    const batch = encodeBatch({ records, baseTimestamp: 1_700_000_000_000, compression: type, compress })
    expect(validateBatch(batch, 0, batch.length, { fromProducer: true })).toBe(batch.length)
    const decoded = decodeRecords(batch, 0, decompress)
    expect(decoded.map((r) => r.value?.toString())).toEqual(records.map((r) => r.value.toString()))
  })
})
