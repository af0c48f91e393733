/**
 * Message formats v0 and v1 (Kafka before 0.11), which Produce v0-2 carry and Fetch v0-3 expect:
 * a message set is a run of [offset int64][size int32][message], each message
 * [crc int32][magic int8][attributes int8]([timestamp int64] in v1)[key bytes][value bytes], with
 * a CRC-32 (not CRC-32C) over everything after the crc field. A compressed message wraps a whole
 * message set in its value; in v1 the inner offsets are relative and the wrapper carries the last
 * inner message's absolute offset.
 *
 * The log stores only v2 batches, so produced message sets are up-converted to one v2 batch and
 * fetched v2 batches are down-converted to messages of the magic the request's version implies.
 * Down-converted messages are written uncompressed: every client of these formats reads them, and
 * re-compressing on every fetch would cost the broker far more CPU than the bytes it saves.
 */
import { crc32 } from 'node:zlib'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import {
  CompressionType,
  decodeRecords,
  encodeBatch,
  isControlBatch,
  iterateBatches,
  readBatchHeader,
  readInt64,
  TIMESTAMP_TYPE_BIT,
  writeInt64,
  type DecompressFn,
} from './record-batch.js'

export type LegacyMagic = 0 | 1

/** One message as a v0/v1 message set carries it, decompressed and with its absolute offset. */
export interface LegacyMessage {
  offset: number
  magic: LegacyMagic
  /** -1 (no timestamp) for magic 0. */
  timestampMs: number
  logAppendTime: boolean
  key: Buffer | null
  value: Buffer | null
}

const LEGACY_LOG_OVERHEAD = 12
const CRC_BYTES = 4
const V0_HEADER_BYTES = CRC_BYTES + 1 + 1
const V1_HEADER_BYTES = V0_HEADER_BYTES + 8
const NO_TIMESTAMP = -1
/** Bounds the messages one message set may expand to (the records cap of a v2 batch). */
const MESSAGES_PER_SET_MAX = 1 << 24

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message)
}

/** The size of a magic-`magic` message with this key and value, its 12-byte log overhead included. */
export function legacyMessageSize(magic: LegacyMagic, key: Buffer | null, value: Buffer | null): number {
  return LEGACY_LOG_OVERHEAD + (magic === 0 ? V0_HEADER_BYTES : V1_HEADER_BYTES) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0)
}

function readBytes(buf: Buffer, pos: number, end: number, what: string): { bytes: Buffer | null; pos: number } {
  if (pos + 4 > end) throw corrupt(`message ${what} length runs past the message`)
  const length = buf.readInt32BE(pos)
  pos += 4
  if (length === -1) return { bytes: null, pos }
  if (length < 0 || pos + length > end) throw corrupt(`message ${what} length ${length} runs past the message`)
  return { bytes: buf.subarray(pos, pos + length), pos: pos + length }
}

/**
 * Decodes a produced v0/v1 message set, checking each message's CRC-32 and expanding compressed
 * wrappers (one level, as Kafka allows). Throws KafkaError: CORRUPT_MESSAGE for a bad CRC, size
 * or magic, UNSUPPORTED_COMPRESSION_TYPE for zstd (which needs format v2).
 */
export function decodeMessageSet(buf: Buffer, decompress: DecompressFn): LegacyMessage[] {
  const out: LegacyMessage[] = []
  readSet(buf, decompress, out, false)
  return out
}

function readSet(buf: Buffer, decompress: DecompressFn, out: LegacyMessage[], inner: boolean): void {
  let pos = 0
  // Bounded by the buffer: each round consumes one whole message or throws.
  while (pos < buf.length) {
    if (pos + LEGACY_LOG_OVERHEAD > buf.length) throw corrupt('message set ends inside a message header')
    const offset = readInt64(buf, pos)
    const size = buf.readInt32BE(pos + 8)
    const start = pos + LEGACY_LOG_OVERHEAD
    const end = start + size
    if (size < V0_HEADER_BYTES + 8 || end > buf.length) throw corrupt(`message size ${size} is out of bounds`)
    const magic = buf[start + CRC_BYTES]
    if (magic !== 0 && magic !== 1) throw corrupt(`message magic ${magic} in a v0/v1 message set`)
    const storedCrc = buf.readUInt32BE(start)
    if (crc32(buf.subarray(start + CRC_BYTES, end)) !== storedCrc) throw corrupt(`message at offset ${offset} fails its CRC-32`)
    const attributes = buf[start + CRC_BYTES + 1]
    let cursor = start + V0_HEADER_BYTES
    let timestampMs = NO_TIMESTAMP
    if (magic === 1) {
      if (cursor + 8 > end) throw corrupt('message ends inside its timestamp')
      timestampMs = readInt64(buf, cursor)
      cursor += 8
    }
    const key = readBytes(buf, cursor, end, 'key')
    const value = readBytes(buf, key.pos, end, 'value')
    if (value.pos !== end) throw corrupt(`message at offset ${offset} has ${end - value.pos} stray bytes`)
    const logAppendTime = magic === 1 && (attributes & TIMESTAMP_TYPE_BIT) !== 0
    const compression = attributes & 0x07
    if (compression === CompressionType.NONE) {
      out.push({ offset, magic, timestampMs, logAppendTime, key: key.bytes, value: value.bytes })
    } else {
      if (inner) throw corrupt('a compressed message inside a compressed message')
      if (compression === CompressionType.ZSTD) {
        throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'zstd compression needs message format v2 (Produce v3+)')
      }
      if (value.bytes === null) throw corrupt('a compressed message with a null value')
      const first = out.length
      readSet(decompress(compression, value.bytes), decompress, out, true)
      if (magic === 1) relativeToAbsolute(out, first, offset, logAppendTime ? timestampMs : null)
    }
    if (out.length > MESSAGES_PER_SET_MAX) throw corrupt('message set holds too many messages')
    pos = end
  }
}

/** v1 wrappers: inner offsets count from the first, and the wrapper holds the last one's offset. */
function relativeToAbsolute(out: LegacyMessage[], first: number, wrapperOffset: number, logAppendTimeMs: number | null): void {
  const lastRelative = out[out.length - 1]?.offset ?? 0
  for (let i = first; i < out.length; i++) {
    out[i].offset = wrapperOffset - lastRelative + out[i].offset
    if (logAppendTimeMs !== null) {
      out[i].timestampMs = logAppendTimeMs
      out[i].logAppendTime = true
    }
  }
}

/**
 * Up-converts produced messages to one uncompressed v2 batch (offsets from 0; the log assigns the
 * real ones), keeping keys, values and timestamps: magic 0 messages have none (-1), as in Kafka.
 */
export function upConvert(messages: readonly LegacyMessage[]): Buffer {
  if (messages.length === 0) throw corrupt('an empty message set')
  const baseTimestamp = messages[0].timestampMs
  return encodeBatch({
    baseTimestamp,
    maxTimestamp: messages.reduce((max, m) => Math.max(max, m.timestampMs), NO_TIMESTAMP),
    records: messages.map((m, i) => ({ key: m.key, value: m.value, offsetDelta: i, timestampDelta: m.timestampMs - baseTimestamp })),
  })
}

/** Writes one uncompressed magic-`magic` message with its offset and size in front. */
export function encodeLegacyMessage(
  magic: LegacyMagic,
  offset: number,
  timestampMs: number,
  logAppendTime: boolean,
  key: Buffer | null,
  value: Buffer | null,
): Buffer {
  const buf = Buffer.allocUnsafe(legacyMessageSize(magic, key, value))
  writeLegacyMessage(buf, 0, magic, offset, timestampMs, logAppendTime, key, value)
  return buf
}

/** Writes the message at `buf[pos ..]`; returns the position after it. */
function writeLegacyMessage(
  buf: Buffer,
  start: number,
  magic: LegacyMagic,
  offset: number,
  timestampMs: number,
  logAppendTime: boolean,
  key: Buffer | null,
  value: Buffer | null,
): number {
  const total = legacyMessageSize(magic, key, value)
  writeInt64(buf, start, offset)
  buf.writeInt32BE(total - LEGACY_LOG_OVERHEAD, start + 8)
  let pos = start + LEGACY_LOG_OVERHEAD + CRC_BYTES
  buf[pos++] = magic
  buf[pos++] = magic === 1 && logAppendTime ? TIMESTAMP_TYPE_BIT : 0
  if (magic === 1) {
    writeInt64(buf, pos, timestampMs)
    pos += 8
  }
  for (const field of [key, value]) {
    buf.writeInt32BE(field === null ? -1 : field.length, pos)
    pos += 4
    if (field !== null) {
      buf.set(field, pos)
      pos += field.length
    }
  }
  const crcStart = start + LEGACY_LOG_OVERHEAD
  buf.writeUInt32BE(crc32(buf.subarray(crcStart + CRC_BYTES, start + total)), crcStart)
  return start + total
}

export interface DownConversion {
  /** The converted message set (possibly ending in a partial message, see `downConvert`). */
  records: Buffer
  /** Messages written whole. */
  messages: number
}

/**
 * Down-converts fetched v2 batches to a magic-`magic` message set, from `fetchOffset` on (control
 * batches, which older formats cannot express, are skipped), within `maxBytes`:
 * - `minOneMessage` (Fetch v3, KIP-74): the first message comes whole even when it is larger.
 * - otherwise (Fetch v0-2, a hard limit): a first message larger than the limit is cut at it, as
 *   Kafka sends the file's bytes; the client sees a partial message and knows to fetch more.
 */
export function downConvert(
  batches: Buffer,
  magic: LegacyMagic,
  fetchOffset: number,
  maxBytes: number,
  minOneMessage: boolean,
  decompress: DecompressFn,
): DownConversion {
  // Sized first and written into one buffer: a buffer per message costs more than the conversion.
  const picked: Array<{ offset: number; timestampMs: number; logAppendTime: boolean; key: Buffer | null; value: Buffer | null }> = []
  let size = 0
  let cut: number | null = null
  scan: for (const span of iterateBatches(batches)) {
    const header = readBatchHeader(batches, span.pos)
    if (isControlBatch(header.attributes)) continue
    const logAppendTime = (header.attributes & TIMESTAMP_TYPE_BIT) !== 0
    for (const record of decodeRecords(batches.subarray(span.pos, span.pos + span.size), 0, decompress)) {
      if (record.offset < fetchOffset) continue
      const messageSize = legacyMessageSize(magic, record.key, record.value)
      const timestampMs = magic === 0 ? NO_TIMESTAMP : record.timestampMs
      if (size + messageSize > maxBytes) {
        if (picked.length === 0 && minOneMessage) {
          picked.push({ offset: record.offset, timestampMs, logAppendTime, key: record.key, value: record.value })
          size = messageSize
        } else if (picked.length === 0) {
          picked.push({ offset: record.offset, timestampMs, logAppendTime, key: record.key, value: record.value })
          cut = Math.max(0, maxBytes)
          size = messageSize
        }
        break scan
      }
      picked.push({ offset: record.offset, timestampMs, logAppendTime, key: record.key, value: record.value })
      size += messageSize
    }
  }
  const out = Buffer.allocUnsafe(size)
  let pos = 0
  for (const m of picked) pos = writeLegacyMessage(out, pos, magic, m.offset, m.timestampMs, m.logAppendTime, m.key, m.value)
  if (cut !== null) return { records: out.subarray(0, cut), messages: 0 }
  return { records: out, messages: picked.length }
}
