import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import {
  CRC_OFFLOAD_BYTES_MIN,
  hasCompressedBatch,
  INLINE_DECOMPRESSED_BYTES_MAX,
  planValidation,
  validateCompressedBatches,
} from '../../src/records/batch-validation.js'
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

describe('where a produce is validated', () => {
  it('leaves a small uncompressed produce to the append', () => {
    expect(planValidation(encodeBatch({ baseTimestamp: 1, records: records(['a']) }), true)).toEqual({ where: 'none' })
  })

  it('checks a small compressed produce on the calling thread, with its verdict', () => {
    expect(planValidation(gzipBatch(records(['a', 'b'])), true)).toEqual({ where: 'here', verdict: { errorCode: ErrorCode.NONE, errorMessage: null } })
    expect(planValidation(gzipBatch(records(['a', 'b']), 4), false)).toMatchObject({ where: 'here', verdict: { errorCode: ErrorCode.CORRUPT_MESSAGE } })
    expect(planValidation(gzipBatch(records(['a', null])), true)).toMatchObject({ where: 'here', verdict: { errorCode: ErrorCode.INVALID_RECORD } })
  })

  it('sends a compressed produce that inflates past the inline bound to the CPU pool, without its CRCs', () => {
    const inflating = gzipBatch([{ key: Buffer.from('k'), value: Buffer.alloc(INLINE_DECOMPRESSED_BYTES_MAX + 1), offsetDelta: 0 }])
    expect(inflating.length).toBeLessThan(CRC_OFFLOAD_BYTES_MIN)
    expect(planValidation(inflating, false)).toEqual({ where: 'pool', checkCrc: false })
  })

  it('sends a produce of CRC_OFFLOAD_BYTES_MIN or more to the CPU pool with its CRCs, compressed or not', () => {
    const large = encodeBatch({ baseTimestamp: 1, records: [{ key: null, value: Buffer.alloc(CRC_OFFLOAD_BYTES_MIN), offsetDelta: 0 }] })
    expect(planValidation(large, false)).toEqual({ where: 'pool', checkCrc: true })
  })
})
