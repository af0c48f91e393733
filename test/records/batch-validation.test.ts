import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { hasCompressedBatch, validateCompressedBatches } from '../../src/records/batch-validation.js'
import { compress } from '../../src/records/compression.js'
import { CompressionType, encodeBatch, type RecordInput } from '../../src/records/record-batch.js'

function records(keys: Array<string | null>): RecordInput[] {
  return keys.map((key, i) => ({ key: key === null ? null : Buffer.from(key), value: Buffer.from(`v${i}`), offsetDelta: i }))
}

function gzipBatch(input: RecordInput[], lastOffsetDelta?: number): Buffer {
  return encodeBatch({ baseTimestamp: 1_700_000_000_000, records: input, compression: CompressionType.GZIP, compress, lastOffsetDelta })
}

const options = { requireKeys: false, decompressedBytesMax: 1 << 20, checkCrc: false }

describe('compressed batch validation', () => {
  it('accepts well-formed compressed batches and ignores uncompressed ones', () => {
    const plain = encodeBatch({ baseTimestamp: 1, records: records(['a']) })
    const both = Buffer.concat([plain, gzipBatch(records(['a', 'b', 'c']))])
    expect(hasCompressedBatch(plain)).toBe(false)
    expect(hasCompressedBatch(both)).toBe(true)
    expect(validateCompressedBatches({ records: both, ...options }).errorCode).toBe(ErrorCode.NONE)
  })

  it('refuses a compressed batch whose header claims more records than it holds', () => {
    const lying = gzipBatch(records(['a', 'b']), 4)
    expect(validateCompressedBatches({ records: lying, ...options }).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it('refuses compressed records with gaps in their offset deltas', () => {
    const gappy = gzipBatch([
      { key: Buffer.from('a'), value: Buffer.from('x'), offsetDelta: 0 },
      { key: Buffer.from('b'), value: Buffer.from('y'), offsetDelta: 2 },
    ], 1)
    expect(validateCompressedBatches({ records: gappy, ...options }).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it('refuses a keyless compressed record on a compacted topic with INVALID_RECORD', () => {
    const keyless = gzipBatch(records(['a', null]))
    expect(validateCompressedBatches({ records: keyless, ...options, requireKeys: true }).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect(validateCompressedBatches({ records: keyless, ...options }).errorCode).toBe(ErrorCode.NONE)
  })

  it('refuses a batch that inflates past the bound', () => {
    const big = gzipBatch([{ key: Buffer.from('k'), value: Buffer.alloc(200_000), offsetDelta: 0 }])
    expect(validateCompressedBatches({ records: big, ...options, decompressedBytesMax: 100_000 }).errorCode).not.toBe(ErrorCode.NONE)
  })

  it('checks every batch’s CRC when asked, compressed or not', () => {
    const plain = encodeBatch({ baseTimestamp: 1, records: records(['a', 'b']) })
    const damaged = Buffer.concat([gzipBatch(records(['a'])), plain])
    damaged[damaged.length - 1] ^= 0x01
    expect(validateCompressedBatches({ records: damaged, ...options }).errorCode).toBe(ErrorCode.NONE)
    expect(validateCompressedBatches({ records: damaged, ...options, checkCrc: true }).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
  })
})
