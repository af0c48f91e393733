import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { compress, decompress } from '../../src/records/compression.js'
import { decodeMessageSet, downConvert, encodeLegacyMessage, upConvert, type LegacyMessage } from '../../src/records/legacy-messages.js'
import { CompressionType, decodeRecords, encodeBatch, readBatchHeader } from '../../src/records/record-batch.js'

const b = (s: string) => Buffer.from(s)

function errorCodeOf(fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (error) {
    return (error as { errorCode?: number }).errorCode
  }
  return undefined
}

/** A compressed magic-1 wrapper around `inner`, as a 0.10 producer writes it (relative inner offsets). */
function wrapper(codec: number, wrapperOffset: number, timestampMs: number, inner: Buffer[]): Buffer {
  const message = encodeLegacyMessage(1, wrapperOffset, timestampMs, false, null, compress(codec, Buffer.concat(inner)))
  message[12 + 5] = codec // attributes: the codec
  message.writeUInt32BE(crc32(message.subarray(16)), 12)
  return message
}

describe('decodeMessageSet', () => {
  it('reads magic 0 and magic 1 messages with their keys, values and timestamps', () => {
    const set = Buffer.concat([
      encodeLegacyMessage(0, 0, -1, false, b('k0'), b('v0')),
      encodeLegacyMessage(1, 1, 1_700_000_000_123, false, null, b('v1')),
      encodeLegacyMessage(1, 2, 1_700_000_000_456, false, b('k2'), null),
    ])
    const messages = decodeMessageSet(set, decompress)
    expect(messages.map((m) => [m.offset, m.magic, m.timestampMs, m.key?.toString() ?? null, m.value?.toString() ?? null])).toEqual([
      [0, 0, -1, 'k0', 'v0'],
      [1, 1, 1_700_000_000_123, null, 'v1'],
      [2, 1, 1_700_000_000_456, 'k2', null],
    ])
  })

  it('expands a compressed v1 wrapper, turning relative inner offsets into absolute ones', () => {
    for (const codec of [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4]) {
      const inner = ['a', 'b', 'c'].map((v, i) => encodeLegacyMessage(1, i, 1000 + i, false, null, b(v)))
      const messages = decodeMessageSet(wrapper(codec, 41, 1002, inner), decompress)
      expect(messages.map((m) => [m.offset, m.timestampMs, m.value?.toString()]), `codec ${codec}`).toEqual([
        [39, 1000, 'a'],
        [40, 1001, 'b'],
        [41, 1002, 'c'],
      ])
    }
  })

  it('refuses a message whose CRC-32 does not match with CORRUPT_MESSAGE', () => {
    const message = encodeLegacyMessage(1, 0, 5, false, b('k'), b('value'))
    message[message.length - 1] ^= 0xff
    expect(errorCodeOf(() => decodeMessageSet(message, decompress))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it('refuses a truncated message, a v2 magic and nested compression with CORRUPT_MESSAGE', () => {
    const message = encodeLegacyMessage(0, 0, -1, false, null, b('value'))
    expect(errorCodeOf(() => decodeMessageSet(message.subarray(0, message.length - 2), decompress))).toBe(ErrorCode.CORRUPT_MESSAGE)
    const v2 = Buffer.from(message)
    v2[16] = 2
    expect(errorCodeOf(() => decodeMessageSet(v2, decompress))).toBe(ErrorCode.CORRUPT_MESSAGE)
    const nested = wrapper(CompressionType.GZIP, 0, 1, [wrapper(CompressionType.GZIP, 0, 1, [encodeLegacyMessage(1, 0, 1, false, null, b('x'))])])
    expect(errorCodeOf(() => decodeMessageSet(nested, decompress))).toBe(ErrorCode.CORRUPT_MESSAGE)
  })

  it('refuses zstd, which only format v2 carries, with UNSUPPORTED_COMPRESSION_TYPE', () => {
    const zstd = wrapper(CompressionType.ZSTD, 0, 1, [encodeLegacyMessage(1, 0, 1, false, null, b('x'))])
    expect(errorCodeOf(() => decodeMessageSet(zstd, decompress))).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
  })
})

describe('upConvert', () => {
  it('makes one v2 batch holding every message with its key, value and timestamp', () => {
    const messages: LegacyMessage[] = [
      { offset: 7, magic: 1, timestampMs: 2000, logAppendTime: false, key: b('k'), value: b('one') },
      { offset: 8, magic: 1, timestampMs: 1500, logAppendTime: false, key: null, value: b('two') },
    ]
    const batch = upConvert(messages)
    const header = readBatchHeader(batch, 0)
    expect(header).toMatchObject({ baseOffset: 0, lastOffsetDelta: 1, baseTimestamp: 2000, maxTimestamp: 2000, producerId: -1, recordCount: 2 })
    expect(decodeRecords(batch).map((r) => [r.offset, r.timestampMs, r.key?.toString() ?? null, r.value?.toString()])).toEqual([
      [0, 2000, 'k', 'one'],
      [1, 1500, null, 'two'],
    ])
  })

  it('gives magic 0 messages no timestamp (-1), as Kafka does', () => {
    const batch = upConvert([{ offset: 0, magic: 0, timestampMs: -1, logAppendTime: false, key: null, value: b('x') }])
    expect(readBatchHeader(batch, 0)).toMatchObject({ baseTimestamp: -1, maxTimestamp: -1 })
  })
})

describe('downConvert', () => {
  const batches = Buffer.concat([
    encodeBatch({ baseOffset: 10, baseTimestamp: 5000, records: ['a', 'b', 'c'].map((v, i) => ({ key: null, value: b(v), timestampDelta: i })) }),
    encodeBatch({ baseOffset: 13, baseTimestamp: 6000, isControl: true, records: [{ key: b('\0\0\0\0'), value: b('marker') }] }),
    encodeBatch({
      baseOffset: 14,
      baseTimestamp: 7000,
      compression: CompressionType.GZIP,
      compress,
      records: [{ key: b('k'), value: b('d') }, { key: null, value: b('e') }],
    }),
  ])

  it('writes magic 1 messages from the fetch offset on, decompressed, without control batches', () => {
    const { records, messages } = downConvert(batches, 1, 11, 1 << 20, false, decompress)
    expect(messages).toBe(4)
    expect(decodeMessageSet(records, decompress).map((m) => [m.offset, m.magic, m.timestampMs, m.key?.toString() ?? null, m.value?.toString()])).toEqual([
      [11, 1, 5001, null, 'b'],
      [12, 1, 5002, null, 'c'],
      [14, 1, 7000, 'k', 'd'],
      [15, 1, 7000, null, 'e'],
    ])
  })

  it('writes magic 0 messages without timestamps', () => {
    const { records } = downConvert(batches, 0, 0, 1 << 20, false, decompress)
    expect(decodeMessageSet(records, decompress).every((m) => m.magic === 0 && m.timestampMs === -1)).toBe(true)
  })

  it('stops at the byte limit on a message boundary', () => {
    const one = encodeLegacyMessage(1, 10, 5000, false, null, b('a')).length
    const { records, messages } = downConvert(batches, 1, 10, one * 2 + 3, false, decompress)
    expect(messages).toBe(2)
    expect(records.length).toBe(one * 2)
  })

  it('cuts a first message larger than a hard limit (Fetch v0-2), and gives it whole under KIP-74 (Fetch v3)', () => {
    const one = encodeLegacyMessage(1, 10, 5000, false, null, b('a')).length
    const hard = downConvert(batches, 1, 10, one - 5, false, decompress)
    expect(hard).toMatchObject({ messages: 0 })
    expect(hard.records.length).toBe(one - 5)
    const soft = downConvert(batches, 1, 10, one - 5, true, decompress)
    expect(soft.messages).toBe(1)
    expect(decodeMessageSet(soft.records, decompress).map((m) => m.value?.toString())).toEqual(['a'])
  })
})
