import { readBytesIfExistsSync } from './checkpoint-file.js'
import { validateBatch, BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, LOG_OVERHEAD, readInt64, BASE_OFFSET_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET } from '../records/record-batch.js'
import { OffsetIndex } from './offset-index.js'
import { type BatchPosition, Segment } from './segment.js'
import { TimeIndex } from './time-index.js'

const RECOVERY_CHUNK_BYTES = 8 * 1024 * 1024
const INT32_MAX = 0x7fffffff
// Reused across scans on this thread (all synchronous); grown only for a batch larger than it.
let chunk: Buffer | null = null

function chunkOf(minBytes: number): Buffer {
  if (chunk === null || chunk.length < minBytes) chunk = Buffer.allocUnsafe(Math.max(RECOVERY_CHUNK_BYTES, minBytes))
  return chunk
}

export interface RebuildResult {
  /** Bytes of valid batches kept. */
  validBytes: number
  /** True when bytes after validBytes were cut off (torn or corrupt tail). */
  truncated: boolean
  /**
   * Where each leader epoch starts among the kept batches, in log order (Kafka's recovery does
   * the same): the leader-epoch checkpoint is written lazily, so after a crash the batches are
   * the authority for the epochs of everything recovered.
   */
  epochStarts: Array<{ epoch: number; startOffset: number }>
}

/**
 * Re-derives a segment from its bytes: walks every batch checking length, magic, CRC and offset
 * order, rebuilds both indexes, and cuts the file at the first batch that fails (a torn write or
 * corruption), so nothing past it can ever be served. `minBaseOffset` is the smallest base offset
 * the first batch may carry (the previous segment's end).
 */
export function rebuildSegment(segment: Segment, indexIntervalBytes: number, minBaseOffset = segment.baseOffset): RebuildResult {
  segment.resetDerived()
  const size = segment.sizeBytes
  let buf = chunkOf(0)
  let chunkStart = 0
  let chunkLength = 0
  let pos = 0
  let expectedMin = Math.max(minBaseOffset, segment.baseOffset)
  const batch: BatchPosition = { position: 0, size: 0, baseOffset: 0, lastOffset: 0, maxTimestampMs: 0 }
  let bad = false
  const epochStarts: RebuildResult['epochStarts'] = []
  // Bounded: each pass advances pos by at least one batch header, or stops.
  while (pos < size) {
    if (size - pos < BATCH_HEADER_SIZE) {
      bad = true
      break
    }
    if (pos + BATCH_HEADER_SIZE > chunkStart + chunkLength) {
      chunkStart = pos
      chunkLength = Math.min(buf.length, size - pos)
      segment.readInto(buf, 0, chunkLength, pos)
    }
    const batchSize = LOG_OVERHEAD + buf.readInt32BE(pos - chunkStart + BATCH_LENGTH_OFFSET)
    if (batchSize < BATCH_HEADER_SIZE || pos + batchSize > size) {
      bad = true
      break
    }
    if (pos + batchSize > chunkStart + chunkLength) {
      buf = chunkOf(batchSize)
      chunkStart = pos
      chunkLength = Math.min(buf.length, size - pos)
      segment.readInto(buf, 0, chunkLength, pos)
    }
    const at = pos - chunkStart
    try {
      validateBatch(buf, at, at + batchSize, { fromProducer: false })
    } catch {
      bad = true
      break
    }
    batch.position = pos
    batch.size = batchSize
    batch.baseOffset = readInt64(buf, at + BASE_OFFSET_OFFSET)
    batch.lastOffset = batch.baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET)
    batch.maxTimestampMs = readInt64(buf, at + MAX_TIMESTAMP_OFFSET)
    if (batch.baseOffset < expectedMin || batch.lastOffset - segment.baseOffset > INT32_MAX) {
      bad = true
      break
    }
    segment.indexBatch(batch, indexIntervalBytes)
    const epoch = buf.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET)
    const latest = epochStarts[epochStarts.length - 1]
    if (epoch >= 0 && (latest === undefined || epoch > latest.epoch)) epochStarts.push({ epoch, startOffset: batch.baseOffset })
    expectedMin = batch.lastOffset + 1
    pos += batchSize
  }
  if (bad) segment.truncateToPosition(pos)
  segment.markIndexFilesStale()
  return { validBytes: pos, truncated: bad, epochStarts }
}

/**
 * Derives a segment's end offset, newest timestamp and indexing state from its offset index and
 * the batches after the last index entry, without reading the whole segment. Used after loading
 * index files and after truncation. Returns false when the index disagrees with the log.
 */
export function deriveTail(segment: Segment, indexIntervalBytes: number): boolean {
  const offsetIndex = segment.offsetIndex
  const last = offsetIndex.count - 1
  const start = last >= 0 ? offsetIndex.positionAt(last) : 0
  let consistent = true
  let first = true
  let bytesSinceEntry = 0
  let maxTimestampMs = -1
  let nextOffset = segment.baseOffset
  let firstBatchTimestampMs = -1
  const tail = segment.walk(start, (batch) => {
    if (first && last >= 0 && batch.lastOffset !== offsetIndex.offsetAt(last)) consistent = false
    // Replaying the indexing rule: a batch that would have earned an entry must be the entry.
    if (!first && bytesSinceEntry > indexIntervalBytes) consistent = false
    if (batch.position === 0) firstBatchTimestampMs = batch.maxTimestampMs
    first = false
    bytesSinceEntry += batch.size
    if (batch.maxTimestampMs > maxTimestampMs) maxTimestampMs = batch.maxTimestampMs
    nextOffset = batch.lastOffset + 1
    return consistent
  })
  if (!consistent || tail.torn || tail.position !== segment.sizeBytes) return false
  if (start > 0) {
    segment.walk(0, (batch) => {
      firstBatchTimestampMs = batch.maxTimestampMs
      return false
    })
  }
  segment.nextOffset = nextOffset
  segment.maxTimestampMs = Math.max(maxTimestampMs, segment.timeIndex.lastTimestampMs)
  segment.firstBatchTimestampMs = firstBatchTimestampMs
  segment.bytesSinceIndexEntry = bytesSinceEntry
  return true
}

/**
 * The clean-restart path: loads a segment's index files and derives the rest from the batches
 * after the last index entry. Returns false when an index file is inconsistent with the log, so
 * the caller rebuilds the segment.
 *
 * Index files are written only once they have entries, so an absent one reads as empty. That is
 * checked like any other content: with no offset index entry deriveTail walks the whole segment
 * and replays the indexing rule, so a lost offset index of a segment that had entries fails it.
 * A lost time index is accepted only beside an empty offset index: the walk of the whole segment
 * then gives the exact newest timestamp, and time lookups merely start at the segment's base.
 */
export function loadSegmentIndexes(segment: Segment, indexIntervalBytes: number): boolean {
  const indexBytes = readBytesIfExistsSync(segment.indexPath, segment.files) ?? Buffer.alloc(0)
  const timeBytes = readBytesIfExistsSync(segment.timeIndexPath, segment.files)
  const offsetIndex = OffsetIndex.decode(segment.baseOffset, indexBytes, segment.sizeBytes)
  if (offsetIndex === null || (timeBytes === null && offsetIndex.count > 0)) return false
  segment.resetDerived()
  segment.offsetIndex = offsetIndex
  if (!deriveTail(segment, indexIntervalBytes)) return false
  const timeIndex = TimeIndex.decode(segment.baseOffset, timeBytes ?? Buffer.alloc(0), segment.nextOffset)
  if (timeIndex === null) return false
  segment.timeIndex = timeIndex
  segment.maxTimestampMs = Math.max(segment.maxTimestampMs, timeIndex.lastTimestampMs)
  segment.indexFilesLoaded()
  return true
}
