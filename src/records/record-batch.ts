import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { crc32c } from './crc32c.js'
import {
  type Cursor,
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
} from './varint.js'

/*
 * Kafka's v2 record batch (magic 2), the unit Kafka stores on disk and sends on the wire unchanged.
 * All integers are big-endian.
 *
 *   offset  size  field                 notes
 *   0       8     baseOffset            set by the leader on append
 *   8       4     batchLength           bytes after this field: total size = 12 + batchLength
 *   12      4     partitionLeaderEpoch  set by the leader on append (-1 from clients)
 *   16      1     magic                 always 2
 *   17      4     crc                   CRC-32C of bytes [21, end): attributes .. last record
 *   21      2     attributes            bits 0-2 compression, 3 timestamp type (1 = LogAppendTime),
 *                                       4 transactional, 5 control, 6 delete horizon set
 *   23      4     lastOffsetDelta
 *   27      8     baseTimestamp         first record's timestamp (or delete horizon, bit 6)
 *   35      8     maxTimestamp
 *   43      8     producerId            -1 when not idempotent
 *   51      2     producerEpoch
 *   53      4     baseSequence
 *   57      4     recordCount
 *   61      ...   records               possibly compressed as one block
 *
 * Because baseOffset and partitionLeaderEpoch sit before the CRC'd range, the broker can stamp
 * them without recomputing the CRC; LogAppendTime does change CRC'd bytes and recomputes it.
 *
 * Each record:  length varint, attributes int8 (unused, 0), timestampDelta varlong,
 * offsetDelta varint, keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
 * headerCount varint, then per header: keyLength varint, key (UTF-8), valueLength varint
 * (-1 = null), value.
 */
export const BASE_OFFSET_OFFSET = 0
export const BATCH_LENGTH_OFFSET = 8
export const PARTITION_LEADER_EPOCH_OFFSET = 12
export const MAGIC_OFFSET = 16
export const CRC_OFFSET = 17
export const ATTRIBUTES_OFFSET = 21
export const LAST_OFFSET_DELTA_OFFSET = 23
export const BASE_TIMESTAMP_OFFSET = 27
export const MAX_TIMESTAMP_OFFSET = 35
export const PRODUCER_ID_OFFSET = 43
export const PRODUCER_EPOCH_OFFSET = 51
export const BASE_SEQUENCE_OFFSET = 53
export const RECORD_COUNT_OFFSET = 57
export const RECORDS_OFFSET = 61

/** The bytes before batchLength's coverage starts (baseOffset + batchLength). */
export const LOG_OVERHEAD = 12
/** A batch with no records: the whole header. */
export const BATCH_HEADER_SIZE = RECORDS_OFFSET
/** The CRC covers from attributes to the end of the batch. */
export const CRC_START = ATTRIBUTES_OFFSET

export const MAGIC_V2 = 2

export const CompressionType = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const
export type CompressionCode = (typeof CompressionType)[keyof typeof CompressionType]

export const COMPRESSION_MASK = 0x07
export const TIMESTAMP_TYPE_BIT = 0x08
export const TRANSACTIONAL_BIT = 0x10
export const CONTROL_BIT = 0x20
export const DELETE_HORIZON_BIT = 0x40

const TWO_32 = 4294967296

export type DecompressFn = (type: number, bytes: Buffer) => Buffer
export type CompressFn = (type: number, bytes: Buffer) => Buffer

// ---- int64 as number ------------------------------------------------------------------------

/** Reads a big-endian int64 as a number; offsets and timestamps stay well inside 2^53. */
export function readInt64(buf: Buffer, pos: number): number {
  const hi = buf.readInt32BE(pos)
  const lo = buf.readUInt32BE(pos + 4)
  return hi * TWO_32 + lo
}

export function writeInt64(buf: Buffer, pos: number, value: number): void {
  assert(Number.isSafeInteger(value), `int64 field must be a safe integer, got ${value}`)
  const hi = Math.floor(value / TWO_32)
  const lo = value - hi * TWO_32
  buf.writeInt32BE(hi, pos)
  buf.writeUInt32BE(lo, pos + 4)
}

// ---- header -------------------------------------------------------------------------------

export interface BatchHeader {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

/** The header fields of the batch at `pos`, unchecked (call validateBatch first on untrusted bytes). */
export function readBatchHeader(buf: Buffer, pos: number): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos + BASE_OFFSET_OFFSET),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(pos + MAGIC_OFFSET),
    crc: buf.readUInt32BE(pos + CRC_OFFSET),
    attributes: buf.readInt16BE(pos + ATTRIBUTES_OFFSET),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64(buf, pos + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buf, pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordCount: buf.readInt32BE(pos + RECORD_COUNT_OFFSET),
  }
}

export function batchBaseOffset(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + BASE_OFFSET_OFFSET)
}

/** The offset of the batch's last record: baseOffset + lastOffsetDelta. */
export function batchLastOffset(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + BASE_OFFSET_OFFSET) + buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)
}

/** Total bytes the batch at `pos` occupies (12 + batchLength). */
export function batchSize(buf: Buffer, pos: number): number {
  return LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET)
}

export function batchMaxTimestamp(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + MAX_TIMESTAMP_OFFSET)
}

export function batchAttributes(buf: Buffer, pos: number): number {
  return buf.readInt16BE(pos + ATTRIBUTES_OFFSET)
}

export function isControlBatch(attributes: number): boolean {
  return (attributes & CONTROL_BIT) !== 0
}

export function compressionOf(attributes: number): number {
  return attributes & COMPRESSION_MASK
}

// ---- validation ---------------------------------------------------------------------------

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message)
}

export interface ValidateOptions {
  /**
   * True for batches arriving from a producer: the counts must be dense
   * (lastOffsetDelta + 1 == recordCount for uncompressed batches) and a non-control batch must
   * hold a record. False for batches already in a log, where compaction leaves offset gaps and
   * may keep empty batches to preserve producer state.
   */
  fromProducer: boolean
  /**
   * The caller already checked this batch's CRC (a large batch checked on the CPU pool before it
   * reached the partition's thread), so it is not computed twice.
   */
  crcChecked?: boolean
}

/**
 * Checks the batch at `pos` within `buf[pos, end)`: length sane and fully present, magic 2,
 * CRC, counts. Returns the batch's total size in bytes; throws KafkaError(CORRUPT_MESSAGE).
 * Compressed batches' record counts are checked against the decoded records by decodeRecords.
 */
export function validateBatch(buf: Buffer, pos: number, end: number, options: ValidateOptions): number {
  const available = end - pos
  if (available < BATCH_HEADER_SIZE) {
    throw corrupt(`batch header needs ${BATCH_HEADER_SIZE} bytes, ${available} available`)
  }
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET)
  if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) throw corrupt(`batch length ${batchLength} is too small`)
  const size = LOG_OVERHEAD + batchLength
  if (size > available) throw corrupt(`batch length ${batchLength} runs past the ${available} bytes available`)
  const magic = buf[pos + MAGIC_OFFSET]
  if (magic !== MAGIC_V2) throw corrupt(`unsupported magic ${magic} (only v2 record batches are supported)`)
  if (options.crcChecked !== true) {
    const storedCrc = buf.readUInt32BE(pos + CRC_OFFSET)
    const actualCrc = crc32c(buf, pos + CRC_START, pos + size)
    if (storedCrc !== actualCrc) {
      throw corrupt(`batch CRC mismatch: stored ${storedCrc.toString(16)}, computed ${actualCrc.toString(16)}`)
    }
  }
  const baseOffset = readInt64(buf, pos + BASE_OFFSET_OFFSET)
  if (baseOffset < 0) throw corrupt(`negative base offset ${baseOffset}`)
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)
  const recordCount = buf.readInt32BE(pos + RECORD_COUNT_OFFSET)
  if (lastOffsetDelta < 0) throw corrupt(`negative lastOffsetDelta ${lastOffsetDelta}`)
  if (recordCount < 0) throw corrupt(`negative record count ${recordCount}`)
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET)
  if (options.fromProducer) {
    if (recordCount === 0 && !isControlBatch(attributes)) throw corrupt('batch holds no records')
    const dense = recordCount === 0 || lastOffsetDelta + 1 === recordCount
    if (compressionOf(attributes) === CompressionType.NONE && !dense) {
      throw corrupt(`lastOffsetDelta ${lastOffsetDelta} does not match record count ${recordCount}`)
    }
  } else if (recordCount > lastOffsetDelta + 1) {
    throw corrupt(`record count ${recordCount} exceeds the offset span ${lastOffsetDelta + 1}`)
  }
  // Each record takes at least 7 bytes (length, attributes, two deltas, key, value, header count).
  if (compressionOf(attributes) === CompressionType.NONE && recordCount * 7 > size - BATCH_HEADER_SIZE) {
    throw corrupt(`record count ${recordCount} cannot fit in ${size - BATCH_HEADER_SIZE} bytes`)
  }
  return size
}

// ---- broker-side stamping -----------------------------------------------------------------

/** Sets baseOffset (outside the CRC). */
export function setBaseOffset(buf: Buffer, pos: number, offset: number): void {
  writeInt64(buf, pos + BASE_OFFSET_OFFSET, offset)
}

/** Sets partitionLeaderEpoch (outside the CRC). */
export function setPartitionLeaderEpoch(buf: Buffer, pos: number, epoch: number): void {
  buf.writeInt32BE(epoch, pos + PARTITION_LEADER_EPOCH_OFFSET)
}

/**
 * For message.timestamp.type=LogAppendTime: marks the batch's timestamps as broker time
 * (attribute bit 3), sets maxTimestamp to `timestampMs` and recomputes the CRC, as Kafka does.
 */
export function setMaxTimestampAndLogAppendTime(buf: Buffer, pos: number, timestampMs: number): void {
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET)
  buf.writeInt16BE(attributes | TIMESTAMP_TYPE_BIT, pos + ATTRIBUTES_OFFSET)
  writeInt64(buf, pos + MAX_TIMESTAMP_OFFSET, timestampMs)
  recomputeCrc(buf, pos)
}

export function recomputeCrc(buf: Buffer, pos: number): void {
  const size = batchSize(buf, pos)
  buf.writeUInt32BE(crc32c(buf, pos + CRC_START, pos + size), pos + CRC_OFFSET)
}

export interface BatchSpan {
  /** Position of the batch within the buffer. */
  pos: number
  /** Total size in bytes. */
  size: number
}

/**
 * Splits a buffer of concatenated batches by their length fields. Validation is separate; a
 * trailing partial batch (as a fetch may return) ends the iteration and is reported by `rest`.
 */
export function* iterateBatches(buf: Buffer, start = 0, end = buf.length): Generator<BatchSpan, number> {
  let pos = start
  // Bounded: every step advances pos by at least the header size.
  while (end - pos >= LOG_OVERHEAD) {
    const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET)
    const size = LOG_OVERHEAD + batchLength
    if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD || size > end - pos) break
    yield { pos, size }
    pos += size
  }
  return end - pos
}

/**
 * The producer of the transactional batches in `buf` (a produce's record set), or null when none
 * is transactional. Throws INVALID_PRODUCER_ID_MAPPING when two producers (or epochs) wrote them,
 * as Kafka refuses such a produce: one verification answers for one transaction. Reads headers
 * only; a batch too short to hold one ends the scan, and validation refuses it at the partition.
 */
export function transactionalProducerOf(buf: Buffer): { producerId: number; producerEpoch: number } | null {
  let found: { producerId: number; producerEpoch: number } | null = null
  // A plain loop, not iterateBatches: this runs on every produce, and a generator costs more.
  // Bounded: each step advances by a whole batch header at least.
  for (let pos = 0, size = 0; buf.length - pos >= BATCH_HEADER_SIZE; pos += size) {
    size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET)
    if (size < BATCH_HEADER_SIZE) break
    if ((buf.readInt16BE(pos + ATTRIBUTES_OFFSET) & TRANSACTIONAL_BIT) === 0) continue
    const producerId = readInt64(buf, pos + PRODUCER_ID_OFFSET)
    const producerEpoch = buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET)
    if (producerId < 0) continue
    if (found !== null && (found.producerId !== producerId || found.producerEpoch !== producerEpoch)) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'Transactional records contained more than one producer id')
    }
    found = { producerId, producerEpoch }
  }
  return found
}

// ---- records: encode ----------------------------------------------------------------------

export interface RecordHeader {
  key: string
  value: Buffer | null
}

export interface RecordInput {
  key: Buffer | null
  value: Buffer | null
  headers?: RecordHeader[]
  /** Timestamp minus the batch's baseTimestamp; default 0. */
  timestampDelta?: number
  /** Offset minus the batch's baseOffset; default the record's index. */
  offsetDelta?: number
}

export interface EncodeBatchInput {
  records: RecordInput[]
  baseOffset?: number
  /** The first record's timestamp, as the Java client sets it. */
  baseTimestamp: number
  /** Default: the largest record timestamp. */
  maxTimestamp?: number
  /** Default: the last record's offsetDelta. */
  lastOffsetDelta?: number
  partitionLeaderEpoch?: number
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  isTransactional?: boolean
  isControl?: boolean
  logAppendTime?: boolean
  compression?: number
  /** Required when compression is not NONE. */
  compress?: CompressFn
}

function headerKeyBytes(headers: RecordHeader[] | undefined): Buffer[] | undefined {
  if (headers === undefined || headers.length === 0) return undefined
  return headers.map((h) => Buffer.from(h.key, 'utf8'))
}

function recordBodySize(
  record: RecordInput,
  offsetDelta: number,
  timestampDelta: number,
  headerKeys: Buffer[] | undefined,
): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta)
  size += record.key === null ? 1 : sizeOfVarint(record.key.length) + record.key.length
  size += record.value === null ? 1 : sizeOfVarint(record.value.length) + record.value.length
  const headers = record.headers ?? []
  size += sizeOfVarint(headers.length)
  for (let i = 0; i < headers.length; i++) {
    const key = headerKeys![i]
    const value = headers[i].value
    size += sizeOfVarint(key.length) + key.length
    size += value === null ? 1 : sizeOfVarint(value.length) + value.length
  }
  return size
}

function writeBytesField(buf: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, pos, -1)
  pos = writeVarint(buf, pos, bytes.length)
  // TypedArray.set, not Buffer.copy: for the small keys and values of most records the latter's
  // argument checks cost more than the copy itself.
  buf.set(bytes, pos)
  return pos + bytes.length
}

interface RecordsLayout {
  keys: (Buffer[] | undefined)[]
  sizes: number[]
  total: number
}

function layoutRecords(records: RecordInput[]): RecordsLayout {
  const keys = records.map((r) => headerKeyBytes(r.headers))
  const sizes = records.map((r, i) => recordBodySize(r, r.offsetDelta ?? i, r.timestampDelta ?? 0, keys[i]))
  let total = 0
  for (const size of sizes) total += sizeOfVarint(size) + size
  return { keys, sizes, total }
}

/** Encodes records in the v2 record format, uncompressed, as one block. */
export function encodeRecords(records: RecordInput[], layout = layoutRecords(records)): Buffer {
  const buf = Buffer.allocUnsafe(layout.total)
  writeRecords(records, layout, buf, 0)
  return buf
}

/** Writes the records at `buf[start ..]`, as laid out; returns the end position. */
function writeRecords(records: RecordInput[], layout: RecordsLayout, buf: Buffer, start: number): number {
  const { keys, sizes, total } = layout
  let pos = start
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    pos = writeVarint(buf, pos, sizes[i])
    buf[pos++] = 0 // record attributes: unused
    pos = writeVarlong(buf, pos, record.timestampDelta ?? 0)
    pos = writeVarint(buf, pos, record.offsetDelta ?? i)
    pos = writeBytesField(buf, pos, record.key)
    pos = writeBytesField(buf, pos, record.value)
    const headers = record.headers ?? []
    pos = writeVarint(buf, pos, headers.length)
    for (let h = 0; h < headers.length; h++) {
      pos = writeBytesField(buf, pos, keys[i]![h])
      pos = writeBytesField(buf, pos, headers[h].value)
    }
  }
  assert(pos - start === total, 'encoded record sizes must match their computed total')
  return pos
}

/**
 * Builds a complete v2 batch, byte for byte as the Java producer would (baseOffset 0 and
 * partitionLeaderEpoch -1 from a client; the broker stamps both).
 */
export function encodeBatch(input: EncodeBatchInput): Buffer {
  const records = input.records
  const compression = input.compression ?? CompressionType.NONE
  // Uncompressed records are written straight into the batch; compressed ones need their own block.
  let body: Buffer | null = null
  const layout = layoutRecords(records)
  if (compression !== CompressionType.NONE) {
    if (input.compress === undefined) throw new Error(`compression ${compression} needs a compress function`)
    body = input.compress(compression, encodeRecords(records, layout))
  }
  let maxDelta = records.length === 0 ? 0 : -Infinity
  for (const r of records) maxDelta = Math.max(maxDelta, r.timestampDelta ?? 0)
  const lastRecord = records[records.length - 1]
  const lastOffsetDelta =
    input.lastOffsetDelta ?? (records.length === 0 ? 0 : (lastRecord.offsetDelta ?? records.length - 1))
  let attributes = compression & COMPRESSION_MASK
  if (input.logAppendTime === true) attributes |= TIMESTAMP_TYPE_BIT
  if (input.isTransactional === true) attributes |= TRANSACTIONAL_BIT
  if (input.isControl === true) attributes |= CONTROL_BIT

  const size = BATCH_HEADER_SIZE + (body?.length ?? layout.total)
  const buf = Buffer.allocUnsafe(size)
  writeInt64(buf, BASE_OFFSET_OFFSET, input.baseOffset ?? 0)
  buf.writeInt32BE(size - LOG_OVERHEAD, BATCH_LENGTH_OFFSET)
  buf.writeInt32BE(input.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH_OFFSET)
  buf.writeInt8(MAGIC_V2, MAGIC_OFFSET)
  buf.writeInt16BE(attributes, ATTRIBUTES_OFFSET)
  buf.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET)
  writeInt64(buf, BASE_TIMESTAMP_OFFSET, input.baseTimestamp)
  writeInt64(buf, MAX_TIMESTAMP_OFFSET, input.maxTimestamp ?? input.baseTimestamp + maxDelta)
  writeInt64(buf, PRODUCER_ID_OFFSET, input.producerId ?? -1)
  buf.writeInt16BE(input.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET)
  buf.writeInt32BE(input.baseSequence ?? -1, BASE_SEQUENCE_OFFSET)
  buf.writeInt32BE(records.length, RECORD_COUNT_OFFSET)
  if (body === null) writeRecords(records, layout, buf, RECORDS_OFFSET)
  else buf.set(body, RECORDS_OFFSET)
  recomputeCrc(buf, 0)
  return buf
}

// ---- records: decode ----------------------------------------------------------------------

export interface DecodedRecord {
  offset: number
  /** Absolute; for LogAppendTime batches, the batch's maxTimestamp as Kafka's consumer reports. */
  timestampMs: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

const RECORDS_PER_BATCH_MAX = 1 << 24

function readBytesField(buf: Buffer, cursor: Cursor, what: string): Buffer | null {
  const length = readVarint(buf, cursor)
  if (length === -1) return null
  if (length < -1 || cursor.pos + length > cursor.end) {
    throw corrupt(`record ${what} length ${length} runs past its record`)
  }
  const bytes = buf.subarray(cursor.pos, cursor.pos + length)
  cursor.pos += length
  return bytes
}

/**
 * Decodes the records of the batch at `pos` (whole batch, already validated) into records with
 * absolute offsets and timestamps. Keys, values and header values are views into the batch (or
 * the decompressed block); copy them to keep them past the buffer's life.
 */
export function decodeRecords(buf: Buffer, pos = 0, decompress?: DecompressFn): DecodedRecord[] {
  const header = readBatchHeader(buf, pos)
  const end = pos + LOG_OVERHEAD + header.batchLength
  const compression = compressionOf(header.attributes)
  let body = buf
  let bodyStart = pos + RECORDS_OFFSET
  let bodyEnd = end
  if (compression !== CompressionType.NONE) {
    if (decompress === undefined) {
      throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `no decompressor for compression ${compression}`)
    }
    body = decompress(compression, buf.subarray(bodyStart, bodyEnd))
    bodyStart = 0
    bodyEnd = body.length
  }
  const count = header.recordCount
  if (count < 0 || count > RECORDS_PER_BATCH_MAX) throw corrupt(`record count ${count} out of range`)
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_BIT) !== 0
  const out: DecodedRecord[] = new Array(count)
  const cursor: Cursor = { pos: bodyStart, end: bodyEnd }
  for (let i = 0; i < count; i++) {
    const length = readVarint(body, cursor)
    const recordEnd = cursor.pos + length
    if (length < 6 || recordEnd > bodyEnd) throw corrupt(`record ${i} length ${length} is out of bounds`)
    const recordCursor: Cursor = { pos: cursor.pos + 1, end: recordEnd } // skip attributes
    const timestampDelta = readVarlong(body, recordCursor)
    const offsetDelta = readVarint(body, recordCursor)
    const key = readBytesField(body, recordCursor, 'key')
    const value = readBytesField(body, recordCursor, 'value')
    const headerCount = readVarint(body, recordCursor)
    if (headerCount < 0 || headerCount > length) throw corrupt(`record header count ${headerCount} out of range`)
    const headers: RecordHeader[] = new Array(headerCount)
    for (let h = 0; h < headerCount; h++) {
      const hKey = readBytesField(body, recordCursor, 'header key')
      if (hKey === null) throw corrupt('record header key is null')
      headers[h] = { key: hKey.toString('utf8'), value: readBytesField(body, recordCursor, 'header value') }
    }
    if (recordCursor.pos !== recordEnd) throw corrupt(`record ${i} has ${recordEnd - recordCursor.pos} stray bytes`)
    if (offsetDelta < 0 || offsetDelta > header.lastOffsetDelta) {
      throw corrupt(`record offsetDelta ${offsetDelta} outside the batch's span ${header.lastOffsetDelta}`)
    }
    cursor.pos = recordEnd
    out[i] = {
      offset: header.baseOffset + offsetDelta,
      timestampMs: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    }
  }
  if (cursor.pos !== bodyEnd) throw corrupt(`batch has ${bodyEnd - cursor.pos} bytes after its ${count} records`)
  return out
}
