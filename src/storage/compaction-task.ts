import fs from 'node:fs'
import path from 'node:path'
import { assert } from '../common/assert.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError, type SerializedError, serializeError } from '../common/errors.js'
import {
  CLEANED_SUFFIX,
  compactionFileName,
  completeSwaps,
  deleteCleanedFiles,
  fsyncDir,
  promoteCleanedToSwap,
  recoverCompactionLeftoversSync,
} from './compaction-recovery.js'
import { compress as defaultCompress, decompress as defaultDecompress } from '../records/compression.js'
import { decodeTxnMarker } from '../records/control-batch.js'
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  type BatchHeader,
  type CompressFn,
  COMPRESSION_MASK,
  CONTROL_BIT,
  type DecodedRecord,
  type DecompressFn,
  DELETE_HORIZON_BIT,
  decodeRecords,
  encodeBatch,
  LOG_OVERHEAD,
  readBatchHeader,
  recomputeCrc,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
  validateBatch,
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  readInt64,
  writeInt64,
} from '../records/record-batch.js'

/*
 * Log compaction (cleanup.policy=compact), as Kafka's LogCleaner does it, run as one synchronous
 * function so it can execute on a piscina worker (compaction.ts) or in-thread.
 *
 * - Only a prefix of the given (non-active) segments is cleaned: with min.compaction.lag.ms > 0,
 *   cleaning stops at the first segment holding a record younger than the lag, as Kafka's first
 *   uncleanable offset does. The key -> latest offset map is built over that prefix only.
 * - A record is kept when its key has no later record in the map; null-keyed records (refused on
 *   append to compacted topics) are kept. Offsets never change: a batch with dropped records is
 *   re-encoded with the same base offset, the same lastOffsetDelta (Kafka's
 *   `overrideLastOffset(originalBatch.lastOffset())`, so the producer's last sequence and the
 *   log's next offset stay right), producer id/epoch/base sequence, partition leader epoch and
 *   codec. An untouched batch is copied byte for byte.
 * - Tombstones follow KIP-534 (Kafka >= 2.8): the first cleaning that keeps a tombstone stamps its
 *   batch with a delete horizon (baseTimestamp = now + delete.retention.ms, attribute bit 6); a
 *   later cleaning at or past the horizon drops it. We chose this over "record timestamp older
 *   than now - delete.retention.ms" because it measures retention from when the older values were
 *   removed (so a consumer that was reading has delete.retention.ms to see the tombstone), it
 *   does not depend on producer-supplied timestamps, and it matches the bytes Kafka stores.
 * - An emptied batch of an idempotent producer is kept as an empty header when it is that
 *   producer's last data batch in the cleaned range, so its last sequence survives (Kafka keeps
 *   it only for producers still active; without the producer state here we keep it for all).
 * - Transactions follow Kafka's LogCleaner (CleanedTransactionMetadata). The log hands over only
 *   segments wholly below its last stable offset, so no open transaction is ever cleaned, and the
 *   aborted transactions from its `.txnindex`. Walking the batches in offset order: a
 *   transactional data batch inside an aborted transaction is removed whole (its records never
 *   enter the key map either, so they cannot shadow an older committed value). A marker is kept
 *   while data of its transaction was met in this pass; once none is left it is stamped with a
 *   delete horizon (now + delete.retention.ms, as a tombstone is), and a cleaning at or past the
 *   horizon removes it, so a consumer reading meanwhile still sees the end of the transaction.
 *   The ABORT markers removed are reported, for the log to drop their `.txnindex` entries.
 */

export interface CompactionSegmentRef {
  baseOffset: number
  path: string
}

export interface CompactionTaskInput {
  dir: string
  /** The non-active segments, oldest first. */
  segments: CompactionSegmentRef[]
  nowMs: number
  deleteRetentionMs: number
  minCompactionLagMs: number
  /**
   * Bound on the key map's size. Keys met once it is full are not mapped and their records are
   * kept as they are: the cleaning is weaker, never wrong.
   */
  offsetMapKeysMax?: number
  /** The aborted transactions whose ABORT markers the log holds (its `.txnindex`). */
  abortedTxns?: CompactionAbortedTxn[]
}

export interface CompactionAbortedTxn {
  producerId: number
  firstOffset: number
  /** The offset of its ABORT marker. */
  lastOffset: number
}

export interface CompactionResult {
  /** Base offsets of the segments rewritten. */
  cleanedBaseOffsets: number[]
  /** Base offsets of cleaned segments that became empty and were removed. */
  removedBaseOffsets: number[]
  recordsRead: number
  recordsKept: number
  bytesBefore: number
  bytesAfter: number
  /** Offsets of the ABORT markers removed (their transactions' data was already gone). */
  removedAbortMarkers: number[]
  /**
   * Batches dropped or rewritten. When some were, a next cleaning may find more to do with no new
   * record (a marker whose data this one removed is stamped next time).
   */
  batchesChanged: number
  /** The latest delete horizon on a kept batch (a tombstone's or a marker's), -1 when none: from then a cleaning removes them. */
  deleteHorizonMaxMs: number
}

export interface CompactionCodec {
  compress: CompressFn
  decompress: DecompressFn
}

export const OFFSET_MAP_KEYS_MAX_DEFAULT = 1_000_000
const WRITE_BUFFER_BYTES = 1024 * 1024
const DEFAULT_CODEC: CompactionCodec = { compress: defaultCompress, decompress: (type, bytes) => defaultDecompress(type, bytes) }

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message)
}

// ---- reading ------------------------------------------------------------------------------

export interface SegmentBatch {
  /** The whole batch at [0, size): valid (length, magic, CRC) until the next batch is read. */
  buf: Buffer
  size: number
  header: BatchHeader
}

/**
 * Reads a segment's batches one at a time, CRC-checking each. The buffer is reused between
 * batches, so a caller keeps nothing from it past its turn. A torn or corrupt batch throws: the
 * log recovered these segments before handing them over, so damage here is not a crash tail.
 */
export function* readSegmentBatches(filePath: string): Generator<SegmentBatch> {
  const fd = fs.openSync(filePath, 'r')
  try {
    const fileBytes = fs.fstatSync(fd).size
    let buf = Buffer.allocUnsafe(64 * 1024)
    let position = 0
    let nextOffsetMin = 0
    // Bounded: each pass advances position by at least one batch header.
    while (position < fileBytes) {
      if (fileBytes - position < BATCH_HEADER_SIZE) throw corrupt(`${filePath}: torn batch at ${position}`)
      readFully(fd, buf, LOG_OVERHEAD, position, filePath)
      const size = LOG_OVERHEAD + buf.readInt32BE(BATCH_LENGTH_OFFSET)
      if (size < BATCH_HEADER_SIZE || position + size > fileBytes) throw corrupt(`${filePath}: bad batch length at ${position}`)
      if (size > buf.length) buf = Buffer.allocUnsafe(size)
      readFully(fd, buf, size, position, filePath)
      validateBatch(buf, 0, size, { fromProducer: false })
      const header = readBatchHeader(buf, 0)
      if (header.baseOffset < nextOffsetMin) throw corrupt(`${filePath}: batch at ${position} goes back to offset ${header.baseOffset}`)
      nextOffsetMin = header.baseOffset + header.lastOffsetDelta + 1
      yield { buf, size, header }
      position += size
    }
  } finally {
    fs.closeSync(fd)
  }
}

function readFully(fd: number, buf: Buffer, length: number, position: number, filePath: string): void {
  let read = 0
  // Bounded: each pass reads at least one byte or throws.
  while (read < length) {
    const n = fs.readSync(fd, buf, read, length - read, position + read)
    if (n === 0) throw corrupt(`${filePath}: short read at ${position + read}`)
    read += n
  }
}

// ---- step 0: which segments may be cleaned ------------------------------------------------

/**
 * The prefix of `segments` old enough to clean: with a positive lag, stop at the first segment
 * whose newest record is younger than nowMs - minCompactionLagMs (Kafka skips the lag check at 0).
 */
export function cleanableSegments(input: CompactionTaskInput): CompactionSegmentRef[] {
  if (input.minCompactionLagMs <= 0) return input.segments
  const horizonMs = input.nowMs - input.minCompactionLagMs
  const out: CompactionSegmentRef[] = []
  for (const segment of input.segments) {
    let newestMs = -1
    for (const batch of readSegmentBatches(segment.path)) newestMs = Math.max(newestMs, batch.header.maxTimestamp)
    if (newestMs > horizonMs) break
    out.push(segment)
  }
  return out
}

// ---- transactions --------------------------------------------------------------------------

/**
 * Kafka's CleanedTransactionMetadata: fed the cleaned range's batches in offset order (from the
 * log's start), it tells which transactional data belongs to an aborted transaction and which
 * markers no data of their transaction is left for. Bounded by the aborted transactions given.
 */
export class TxnCleaning {
  readonly #aborted: CompactionAbortedTxn[]
  #nextAborted = 0
  /** Producer -> the aborted transaction the walk is inside, and whether data of it was met in this pass. */
  readonly #ongoingAborted = new Map<number, { sawData: boolean }>()
  /** Producers inside a transaction that is not aborted, whose data was met in this pass. */
  readonly #ongoingCommitted = new Set<number>()

  constructor(aborted: readonly CompactionAbortedTxn[] = []) {
    this.#aborted = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset)
  }

  /** A data batch: whether it belongs to an aborted transaction (and goes). */
  onData(header: BatchHeader): boolean {
    this.#startAbortedUpTo(header.baseOffset + header.lastOffsetDelta)
    if ((header.attributes & TRANSACTIONAL_BIT) === 0 || header.producerId < 0) return false
    const aborted = this.#ongoingAborted.get(header.producerId)
    // An empty batch (a header a cleaning kept for its producer's sequence) holds no data.
    if (aborted !== undefined) {
      if (header.recordCount > 0) aborted.sawData = true
      return true
    }
    if (header.recordCount > 0) this.#ongoingCommitted.add(header.producerId)
    return false
  }

  /** A control batch (`commit` null: not a transaction marker): whether no data of its transaction is left, so it may go. */
  onMarker(header: BatchHeader, commit: boolean | null): boolean {
    this.#startAbortedUpTo(header.baseOffset + header.lastOffsetDelta)
    if (commit === null) return false
    if (!commit) {
      const aborted = this.#ongoingAborted.get(header.producerId)
      this.#ongoingAborted.delete(header.producerId)
      return aborted === undefined || !aborted.sawData
    }
    return !this.#ongoingCommitted.delete(header.producerId)
  }

  #startAbortedUpTo(offset: number): void {
    // Bounded: each pass consumes one aborted transaction.
    while (this.#nextAborted < this.#aborted.length && this.#aborted[this.#nextAborted].firstOffset <= offset) {
      this.#ongoingAborted.set(this.#aborted[this.#nextAborted].producerId, { sawData: false })
      this.#nextAborted++
    }
  }
}

// ---- step 1: the offset map ---------------------------------------------------------------

export interface OffsetMap {
  /** Key (as a latin1 string, one char per byte) -> offset of its latest record. */
  latest: Map<string, number>
  /** Producer id -> last offset of its last non-control batch in the cleaned range. */
  lastDataOffsetByProducer: Map<number, number>
}

function keyString(key: Buffer): string {
  return key.toString('latin1')
}

export function buildOffsetMap(
  segments: readonly CompactionSegmentRef[],
  keysMax = OFFSET_MAP_KEYS_MAX_DEFAULT,
  codec: CompactionCodec = DEFAULT_CODEC,
  abortedTxns: readonly CompactionAbortedTxn[] = [],
): OffsetMap {
  const latest = new Map<string, number>()
  const lastDataOffsetByProducer = new Map<number, number>()
  const txns = new TxnCleaning(abortedTxns)
  for (const segment of segments) {
    for (const { buf, header } of readSegmentBatches(segment.path)) {
      if ((header.attributes & CONTROL_BIT) !== 0) {
        txns.onMarker(header, null)
        continue
      }
      if (header.producerId >= 0) lastDataOffsetByProducer.set(header.producerId, header.baseOffset + header.lastOffsetDelta)
      // Aborted records are no values: they must not make an older committed one look superseded.
      if (txns.onData(header)) continue
      for (const record of decodeRecords(buf, 0, codec.decompress)) {
        if (record.key === null) continue
        const key = keyString(record.key)
        if (latest.has(key) || latest.size < keysMax) latest.set(key, record.offset)
      }
    }
  }
  return { latest, lastDataOffsetByProducer }
}

// ---- step 2: filtering one batch ----------------------------------------------------------

export interface CleaningContext {
  map: OffsetMap
  nowMs: number
  deleteRetentionMs: number
  codec: CompactionCodec
  /** The transactions of this pass's walk (a fresh one per pass). */
  txns?: TxnCleaning
}

export interface BatchCleaning {
  /** The bytes to write: the original batch, a rewritten one, or null to drop it. */
  bytes: Buffer | null
  recordsRead: number
  recordsKept: number
  /** An ABORT marker this cleaning removed. */
  removedAbortMarker?: boolean
}

function hasDeleteHorizon(attributes: number): boolean {
  return (attributes & DELETE_HORIZON_BIT) !== 0
}

/** Kafka's LogCleaner.shouldRetainRecord for v2 batches. */
function shouldRetain(record: DecodedRecord, header: BatchHeader, ctx: CleaningContext): boolean {
  if (record.key === null) return true
  const latestOffset = ctx.map.latest.get(keyString(record.key))
  // An unmapped key (the map was full) is left alone entirely, tombstone included: dropping it
  // could bring back an older value the map never saw.
  if (latestOffset === undefined) return true
  if (record.offset < latestOffset) return false
  if (record.value !== null) return true
  return !hasDeleteHorizon(header.attributes) || ctx.nowMs < header.baseTimestamp
}

function isMappedTombstone(record: DecodedRecord, ctx: CleaningContext): boolean {
  return record.value === null && record.key !== null && ctx.map.latest.has(keyString(record.key))
}

export function cleanBatch(batch: SegmentBatch, ctx: CleaningContext): BatchCleaning {
  const { buf, size, header } = batch
  if ((header.attributes & CONTROL_BIT) !== 0) return cleanControlBatch(batch, ctx)
  if (ctx.txns?.onData(header) === true) {
    // Aborted: the whole batch goes, but for a header keeping its producer's last sequence.
    const isProducersLast = ctx.map.lastDataOffsetByProducer.get(header.producerId) === header.baseOffset + header.lastOffsetDelta
    const counts = { recordsRead: header.recordCount, recordsKept: 0 }
    if (!isProducersLast) return { bytes: null, ...counts }
    return { bytes: header.recordCount > 0 ? emptyBatch(header) : Buffer.from(buf.subarray(0, size)), ...counts }
  }
  const records = decodeRecords(buf, 0, ctx.codec.decompress)
  const kept = records.filter((r) => shouldRetain(r, header, ctx))
  const needsHorizon = !hasDeleteHorizon(header.attributes) && kept.some((r) => isMappedTombstone(r, ctx))
  const counts = { recordsRead: records.length, recordsKept: kept.length }
  if (kept.length === records.length && !needsHorizon) return { bytes: Buffer.from(buf.subarray(0, size)), ...counts }
  if (kept.length === 0) {
    const lastOffset = header.baseOffset + header.lastOffsetDelta
    const isProducersLast = header.producerId >= 0 && ctx.map.lastDataOffsetByProducer.get(header.producerId) === lastOffset
    return { bytes: isProducersLast ? emptyBatch(header) : null, ...counts }
  }
  let horizonMs: number | null = null
  if (needsHorizon) horizonMs = ctx.nowMs + ctx.deleteRetentionMs
  else if (hasDeleteHorizon(header.attributes)) horizonMs = header.baseTimestamp
  return { bytes: rewriteBatch(header, kept, horizonMs, ctx.codec), ...counts }
}

/**
 * A marker stays while data of its transaction is left; then it is stamped with a delete horizon,
 * and removed by the first cleaning at or past it. Other control batches stay as they are.
 */
function cleanControlBatch({ buf, size, header }: SegmentBatch, ctx: CleaningContext): BatchCleaning {
  const marker = decodeTxnMarker(buf, 0)
  const counts = { recordsRead: header.recordCount, recordsKept: header.recordCount }
  const removable = ctx.txns?.onMarker(header, marker?.commit ?? null) === true
  const bytes = Buffer.from(buf.subarray(0, size))
  if (!removable) return { bytes, ...counts }
  if (hasDeleteHorizon(header.attributes)) {
    if (ctx.nowMs < header.baseTimestamp) return { bytes, ...counts }
    return { bytes: null, recordsRead: header.recordCount, recordsKept: 0, removedAbortMarker: marker?.commit === false }
  }
  // The horizon lives in the base timestamp (KIP-534); the marker's record keeps no time of note.
  writeInt64(bytes, BASE_TIMESTAMP_OFFSET, ctx.nowMs + ctx.deleteRetentionMs)
  bytes.writeInt16BE(header.attributes | DELETE_HORIZON_BIT, ATTRIBUTES_OFFSET)
  recomputeCrc(bytes, 0)
  return { bytes, ...counts }
}

/**
 * Re-encodes `kept` in a batch that keeps every identity field of the original. The base
 * timestamp is the delete horizon when one is set, else the first kept record's timestamp (as
 * Kafka's MemoryRecordsBuilder does); record timestamps stay exact either way.
 */
function rewriteBatch(header: BatchHeader, kept: DecodedRecord[], horizonMs: number | null, codec: CompactionCodec): Buffer {
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_BIT) !== 0
  const baseTimestamp = horizonMs ?? kept[0].timestampMs
  const compression = header.attributes & COMPRESSION_MASK
  const out = encodeBatch({
    records: kept.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestampDelta: r.timestampMs - baseTimestamp,
      offsetDelta: r.offset - header.baseOffset,
    })),
    baseOffset: header.baseOffset,
    baseTimestamp,
    maxTimestamp: logAppendTime ? header.maxTimestamp : newestTimestamp(kept),
    lastOffsetDelta: header.lastOffsetDelta,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: (header.attributes & TRANSACTIONAL_BIT) !== 0,
    logAppendTime,
    compression,
    compress: codec.compress,
  })
  if (horizonMs !== null) {
    out.writeInt16BE(out.readInt16BE(ATTRIBUTES_OFFSET) | DELETE_HORIZON_BIT, ATTRIBUTES_OFFSET)
    recomputeCrc(out, 0)
  }
  return out
}

function newestTimestamp(records: readonly DecodedRecord[]): number {
  let newestMs = -Infinity
  for (const r of records) if (r.timestampMs > newestMs) newestMs = r.timestampMs
  return newestMs
}

/** Kafka's DefaultRecordBatch.writeEmptyHeader: no records, the original offsets and producer. */
function emptyBatch(header: BatchHeader): Buffer {
  return encodeBatch({
    records: [],
    baseOffset: header.baseOffset,
    baseTimestamp: header.maxTimestamp,
    maxTimestamp: header.maxTimestamp,
    lastOffsetDelta: header.lastOffsetDelta,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: (header.attributes & TRANSACTIONAL_BIT) !== 0,
    logAppendTime: (header.attributes & TIMESTAMP_TYPE_BIT) !== 0,
  })
}

// ---- step 3: writing `.cleaned` files -----------------------------------------------------

/** Buffers small batches into large writes; fsyncs on close. */
class SegmentWriter {
  readonly #fd: number
  #pending: Buffer[] = []
  #pendingBytes = 0
  bytesWritten = 0

  constructor(filePath: string) {
    this.#fd = fs.openSync(filePath, 'w')
  }

  write(bytes: Buffer): void {
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    if (this.#pendingBytes >= WRITE_BUFFER_BYTES) this.flush()
  }

  flush(): void {
    let buf = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending, this.#pendingBytes)
    // Bounded: each pass writes at least one byte or throws.
    while (buf.length > 0) {
      const n = fs.writeSync(this.#fd, buf, 0, buf.length, this.bytesWritten)
      this.bytesWritten += n
      buf = buf.subarray(n)
    }
    this.#pending = []
    this.#pendingBytes = 0
  }

  closeDurably(): void {
    try {
      this.flush()
      fs.fsyncSync(this.#fd)
    } finally {
      fs.closeSync(this.#fd)
    }
  }

  abandon(): void {
    fs.closeSync(this.#fd)
  }
}

export interface CleanedSegmentsResult {
  baseOffsets: number[]
  recordsRead: number
  recordsKept: number
  bytesBefore: number
  bytesAfter: number
  removedAbortMarkers: number[]
  batchesChanged: number
  deleteHorizonMaxMs: number
}

/**
 * Writes each segment's cleaned contents to `<base>.log.cleaned` and fsyncs them and the
 * directory. On failure the `.cleaned` files written so far are deleted.
 */
export function writeCleanedSegments(
  dir: string,
  segments: readonly CompactionSegmentRef[],
  ctx: CleaningContext,
): CleanedSegmentsResult {
  const result: CleanedSegmentsResult = { baseOffsets: [], recordsRead: 0, recordsKept: 0, bytesBefore: 0, bytesAfter: 0, removedAbortMarkers: [], batchesChanged: 0, deleteHorizonMaxMs: -1 }
  try {
    for (const segment of segments) {
      const writer = new SegmentWriter(path.join(dir, compactionFileName(segment.baseOffset, CLEANED_SUFFIX)))
      result.baseOffsets.push(segment.baseOffset)
      try {
        for (const batch of readSegmentBatches(segment.path)) {
          assert(batch.header.baseOffset >= segment.baseOffset, `batch ${batch.header.baseOffset} below its segment ${segment.baseOffset}`)
          const cleaned = cleanBatch(batch, ctx)
          result.recordsRead += cleaned.recordsRead
          result.recordsKept += cleaned.recordsKept
          result.bytesBefore += batch.size
          if (cleaned.bytes !== null) writer.write(cleaned.bytes)
          if (cleaned.bytes === null || !cleaned.bytes.equals(batch.buf.subarray(0, batch.size))) result.batchesChanged++
          if (cleaned.bytes !== null && hasDeleteHorizon(cleaned.bytes.readInt16BE(ATTRIBUTES_OFFSET))) {
            result.deleteHorizonMaxMs = Math.max(result.deleteHorizonMaxMs, readInt64(cleaned.bytes, BASE_TIMESTAMP_OFFSET))
          }
          if (cleaned.removedAbortMarker === true) result.removedAbortMarkers.push(batch.header.baseOffset)
        }
      } catch (error) {
        writer.abandon()
        throw error
      }
      writer.closeDurably()
      result.bytesAfter += writer.bytesWritten
    }
    fsyncDir(dir)
  } catch (error) {
    deleteCleanedFiles(dir)
    throw error
  }
  return result
}

// ---- the whole task -----------------------------------------------------------------------

/**
 * Compacts the cleanable prefix of `input.segments` crash-safely (see compaction-recovery.ts):
 * write `.cleaned`, promote to `.swap`, install. All I/O is synchronous.
 */
export function compactSegments(input: CompactionTaskInput, codec: CompactionCodec = DEFAULT_CODEC): CompactionResult {
  // A previous run that failed after its commit point left `.swap` files: finish them first, so
  // `.cleaned` files are only ever written while no `.swap` exists (recovery relies on it).
  recoverCompactionLeftoversSync(input.dir)
  for (const segment of input.segments) {
    // The swap renames over `<dir>/<base>.log`, so that must be the file the log handed over.
    assert(
      path.resolve(segment.path) === path.resolve(input.dir, compactionFileName(segment.baseOffset, '.log')),
      `segment ${segment.path} is not ${compactionFileName(segment.baseOffset, '.log')} in ${input.dir}`,
    )
  }
  const result: CompactionResult = {
    cleanedBaseOffsets: [],
    removedBaseOffsets: [],
    recordsRead: 0,
    recordsKept: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    removedAbortMarkers: [],
    batchesChanged: 0,
    deleteHorizonMaxMs: -1,
  }
  // Finishing an earlier run may have removed emptied segments the log still lists.
  const present = input.segments.filter((s) => fs.existsSync(s.path))
  const segments = cleanableSegments({ ...input, segments: present })
  if (segments.length === 0) return result
  const aborted = input.abortedTxns ?? []
  const map = buildOffsetMap(segments, input.offsetMapKeysMax ?? OFFSET_MAP_KEYS_MAX_DEFAULT, codec, aborted)
  const ctx: CleaningContext = { map, nowMs: input.nowMs, deleteRetentionMs: input.deleteRetentionMs, codec, txns: new TxnCleaning(aborted) }
  const cleaned = writeCleanedSegments(input.dir, segments, ctx)
  promoteCleanedToSwap(input.dir, cleaned.baseOffsets)
  result.removedBaseOffsets = completeSwaps(input.dir)
  result.cleanedBaseOffsets = cleaned.baseOffsets
  result.recordsRead = cleaned.recordsRead
  result.recordsKept = cleaned.recordsKept
  result.bytesBefore = cleaned.bytesBefore
  result.bytesAfter = cleaned.bytesAfter
  result.removedAbortMarkers = cleaned.removedAbortMarkers
  result.batchesChanged = cleaned.batchesChanged
  result.deleteHorizonMaxMs = cleaned.deleteHorizonMaxMs
  return result
}

/** What the worker sends back: errors as plain data, since a thrown error loses its Kafka code in transit. */
export type CompactionTaskOutcome = { ok: true; result: CompactionResult } | { ok: false; error: SerializedError }

/** The piscina task: the whole compaction of one log directory, on the worker's thread. */
export default function compactionTask(input: CompactionTaskInput): CompactionTaskOutcome {
  try {
    return { ok: true, result: compactSegments(input) }
  } catch (error) {
    return { ok: false, error: serializeError(error) }
  }
}
