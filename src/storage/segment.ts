import fs from 'node:fs'
import path from 'node:path'
import { unlinkIfExistsSync } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js'
import {
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  readInt64,
} from '../records/record-batch.js'
import { storageError } from './storage-error.js'
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from './time-index.js'
import { TXN_INDEX_SUFFIX } from './txn-index.js'

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
/**
 * A second name for a segment's pre-compaction bytes while a compactor may rename its cleaned
 * file over the segment's name: see Segment.holdForCompaction. A stray one is deleted at open.
 */
export const READING_SUFFIX = '.log.reading'

/** Kafka's file naming: the base offset zero-padded to 20 digits. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix
}

/** Parses `00000000000000000042.log` into 42; null for any other name. */
export function parseSegmentFileName(name: string, suffix = LOG_SUFFIX): number | null {
  if (!name.endsWith(suffix)) return null
  const digits = name.slice(0, -suffix.length)
  if (!/^\d{20}$/.test(digits)) return null
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : null
}

/** The header fields the log needs while walking a segment, without decoding records. */
export interface BatchPosition {
  position: number
  size: number
  baseOffset: number
  lastOffset: number
  maxTimestampMs: number
}

const SCAN_CHUNK_BYTES = 64 * 1024
// One scratch buffer per thread: every segment call is synchronous, so no two scans interleave.
const scratch = Buffer.allocUnsafe(SCAN_CHUNK_BYTES)
/**
 * The last batches accounted in a segment, kept in memory so a read near the log end (a
 * follower's fetch, a consumer at the tail) finds its batch without reading the file to walk
 * headers: that walk read up to SCAN_CHUNK_BYTES from the index entry, which for a 16 KiB batch
 * is the batch itself, read again by the fetch.
 */
const RECENT_BATCHES_MAX = 16

/**
 * One segment: a `.log` file of v2 batches plus its in-memory offset and time indexes, which are
 * appended to their files on flush and roll. All I/O is synchronous, on an fd taken from the
 * thread's FileHandleCache at each call (never kept: the cache may close it at the next call).
 * An index file that was never written (a segment whose indexes have no entry yet) is absent.
 */
export class Segment {
  readonly baseOffset: number
  readonly logPath: string
  readonly indexPath: string
  readonly timeIndexPath: string
  /** The aborted-transaction index of the markers in this segment (owned by the log's AbortedTxnIndex). */
  readonly txnIndexPath: string
  /** The thread's file cache, which every fd of this segment's files comes through. */
  readonly files: FileHandleCache
  /** The name the data is read and written through: logPath, or its hold during compaction. */
  #dataPath: string
  sizeBytes: number
  /** One past the last offset stored here (the base offset while empty). */
  nextOffset: number
  maxTimestampMs = -1
  /** The first batch's max timestamp, which segment.ms ages from; -1 while empty. */
  firstBatchTimestampMs = -1
  createdMs: number
  offsetIndex: OffsetIndex
  timeIndex: TimeIndex
  bytesSinceIndexEntry = 0
  dataUnsynced = false
  #offsetEntriesPersisted = 0
  #timeEntriesPersisted = 0
  /** The index files no longer match a prefix of memory and must be rewritten whole. */
  #indexFilesStale = false
  /** Index bytes were written without fsync. */
  #indexFilesUnsynced = false
  /**
   * The last batches accounted (indexBatch), oldest first and contiguous in the file, ending at
   * sizeBytes; bounded by RECENT_BATCHES_MAX. Empty until the first batch, and after a reset.
   */
  readonly #recent: BatchPosition[] = []

  private constructor(dir: string, baseOffset: number, files: FileHandleCache, sizeBytes: number, createdMs: number) {
    this.baseOffset = baseOffset
    this.logPath = path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX))
    this.indexPath = path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX))
    this.timeIndexPath = path.join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX))
    this.txnIndexPath = path.join(dir, segmentFileName(baseOffset, TXN_INDEX_SUFFIX))
    this.files = files
    this.#dataPath = this.logPath
    this.sizeBytes = sizeBytes
    this.nextOffset = baseOffset
    this.createdMs = createdMs
    this.offsetIndex = new OffsetIndex(baseOffset)
    this.timeIndex = new TimeIndex(baseOffset)
  }

  /**
   * Creates a new, empty segment, replacing any stale files of the same name, with one open: the
   * index files appear when they first get entries. `freshDir` says the directory was just made,
   * so there is nothing stale to remove. On failure nothing of the segment exists.
   */
  static create(dir: string, baseOffset: number, nowMs: number, files: FileHandleCache, freshDir = false): Segment {
    const segment = new Segment(dir, baseOffset, files, 0, nowMs)
    if (!freshDir) {
      // Index files left by an earlier segment of this name would describe other bytes.
      unlinkIfExistsSync(segment.indexPath, files)
      unlinkIfExistsSync(segment.timeIndexPath, files)
      unlinkIfExistsSync(segment.txnIndexPath, files)
    }
    files.forget(segment.logPath)
    files.acquire(segment.logPath, 'w+')
    return segment
  }

  /** Opens an existing segment; its indexes are empty until loaded or rebuilt. */
  static open(dir: string, baseOffset: number, nowMs: number, files: FileHandleCache): Segment {
    const segment = new Segment(dir, baseOffset, files, 0, nowMs)
    // A cached fd of this name may be of a file since replaced (a log reopened in this thread).
    files.forget(segment.logPath)
    segment.sizeBytes = files.fs.fileSizeSync(files.acquire(segment.logPath, 'r+'))
    return segment
  }

  /** The data file's fd, valid until the next call on the cache. */
  #fd(): number {
    return this.files.acquire(this.#dataPath, 'r+')
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0
  }

  /** Forgets everything derived from the data, before a rebuild. */
  resetDerived(): void {
    this.offsetIndex.clear()
    this.timeIndex.clear()
    this.nextOffset = this.baseOffset
    this.maxTimestampMs = -1
    this.firstBatchTimestampMs = -1
    this.bytesSinceIndexEntry = 0
    this.#indexFilesStale = true
    this.#recent.length = 0
  }

  /**
   * Accounts one batch (appended or found by a scan) in the indexes. Append and rebuild both
   * come through here, so a rebuilt index equals the one built while appending.
   */
  indexBatch(batch: BatchPosition, indexIntervalBytes: number): void {
    if (batch.position === 0) this.firstBatchTimestampMs = batch.maxTimestampMs
    if (batch.maxTimestampMs > this.maxTimestampMs) this.maxTimestampMs = batch.maxTimestampMs
    if (this.bytesSinceIndexEntry > indexIntervalBytes) {
      this.offsetIndex.append(batch.lastOffset, batch.position)
      this.timeIndex.maybeAppend(this.maxTimestampMs, batch.lastOffset)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += batch.size
    this.nextOffset = batch.lastOffset + 1
    const recent = this.#recent
    const last = recent.at(-1)
    // Only a batch that follows the last one kept continues the run; a rebuild starts a new one.
    if (last !== undefined && last.position + last.size !== batch.position) recent.length = 0
    // The oldest entry's object is reused: a recovery scan accounts millions of batches.
    const slot = (recent.length === RECENT_BATCHES_MAX ? recent.shift() : undefined) ?? { position: 0, size: 0, baseOffset: 0, lastOffset: 0, maxTimestampMs: 0 }
    slot.position = batch.position
    slot.size = batch.size
    slot.baseOffset = batch.baseOffset
    slot.lastOffset = batch.lastOffset
    slot.maxTimestampMs = batch.maxTimestampMs
    recent.push(slot)
  }

  /** Forgets the recent batches (a sealed segment's are not worth their memory). */
  forgetRecentBatches(): void {
    this.#recent.length = 0
  }

  /** Appends bytes at the end of the file. */
  write(buf: Buffer, start: number, end: number): void {
    let written = 0
    const length = end - start
    // Bounded: each pass writes at least one byte or throws.
    while (written < length) {
      written += this.files.fs.writeSync(this.#fd(), buf, start + written, length - written, this.sizeBytes + written)
    }
    this.sizeBytes += length
    this.dataUnsynced = true
  }

  /** Reads `length` bytes at `position` into `target[targetStart..]`. */
  readInto(target: Buffer, targetStart: number, length: number, position: number): void {
    let read = 0
    // Bounded: each pass reads at least one byte or stops at end of file.
    while (read < length) {
      const n = this.files.fs.readSync(this.#fd(), target, targetStart + read, length - read, position + read)
      if (n === 0) throw storageError(`short read in ${this.logPath} at ${position + read}`)
      read += n
    }
  }

  /**
   * Walks batch headers from `from` while `visit` returns true. Returns where the walk stopped
   * and whether it stopped at bytes that cannot be a batch (a torn or corrupt tail).
   */
  walk(from: number, visit: (batch: BatchPosition) => boolean): { position: number; torn: boolean } {
    let chunkStart = 0
    let chunkLength = 0
    let pos = from
    const batch: BatchPosition = { position: 0, size: 0, baseOffset: 0, lastOffset: 0, maxTimestampMs: 0 }
    // Bounded: each pass advances pos by at least BATCH_HEADER_SIZE.
    while (pos < this.sizeBytes) {
      if (pos < chunkStart || pos + BATCH_HEADER_SIZE > chunkStart + chunkLength) {
        chunkStart = pos
        chunkLength = Math.min(SCAN_CHUNK_BYTES, this.sizeBytes - pos)
        if (chunkLength < BATCH_HEADER_SIZE) return { position: pos, torn: true }
        this.readInto(scratch, 0, chunkLength, pos)
      }
      const at = pos - chunkStart
      const size = LOG_OVERHEAD + scratch.readInt32BE(at + BATCH_LENGTH_OFFSET)
      if (size < BATCH_HEADER_SIZE || pos + size > this.sizeBytes) return { position: pos, torn: true }
      batch.position = pos
      batch.size = size
      batch.baseOffset = readInt64(scratch, at + BASE_OFFSET_OFFSET)
      batch.lastOffset = batch.baseOffset + scratch.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET)
      batch.maxTimestampMs = readInt64(scratch, at + MAX_TIMESTAMP_OFFSET)
      if (!visit(batch)) return { position: pos, torn: false }
      pos += size
    }
    return { position: pos, torn: false }
  }

  /** The first batch whose last offset is >= `offset`, or null when none is in this segment. */
  findBatch(offset: number): BatchPosition | null {
    const recent = this.#recent
    const newest = recent.at(-1)
    // Batches are in offset order, so none before the first kept can hold an offset at or past
    // its base; the kept run must still end where the file does.
    if (newest !== undefined && recent[0].baseOffset <= offset && newest.position + newest.size === this.sizeBytes) {
      const kept = recent.find((batch) => batch.lastOffset >= offset)
      return kept === undefined ? null : { ...kept }
    }
    let found: BatchPosition | null = null
    const result = this.walk(this.offsetIndex.lookup(offset), (batch) => {
      if (batch.lastOffset < offset) return true
      found = { ...batch }
      return false
    })
    if (result.torn) throw storageError(`malformed batch in ${this.logPath} at ${result.position}`)
    return found
  }

  /** Cuts the file at `position` and drops index entries past it; the caller re-derives the tail. */
  truncateToPosition(position: number): void {
    this.files.fs.ftruncateSync(this.#fd(), position)
    this.sizeBytes = position
    // Bounded by RECENT_BATCHES_MAX: drops the kept batches the cut removed, newest first.
    for (let newest = this.#recent.at(-1); newest !== undefined && newest.position + newest.size > position; newest = this.#recent.at(-1)) this.#recent.pop()
    this.dataUnsynced = true
    this.offsetIndex.truncateToPosition(position)
    if (this.offsetIndex.count < this.#offsetEntriesPersisted) this.#indexFilesStale = true
  }

  /** Drops time-index entries covering offsets at or past `offset`. */
  truncateTimeIndexToOffset(offset: number): void {
    this.timeIndex.truncateToOffset(offset)
    if (this.timeIndex.count < this.#timeEntriesPersisted) this.#indexFilesStale = true
  }

  markIndexFilesStale(): void {
    this.#indexFilesStale = true
  }

  /** Adds a final time-index entry for the newest timestamp, as Kafka does when a segment rolls. */
  sealTimeIndex(): void {
    if (this.sizeBytes > 0 && this.maxTimestampMs >= 0) this.timeIndex.maybeAppend(this.maxTimestampMs, this.nextOffset - 1)
  }

  /** Writes index entries not yet in the files (or the whole files when stale); fsyncs if asked. */
  persistIndexes(sync: boolean): void {
    const upToDate =
      !this.#indexFilesStale &&
      this.offsetIndex.count === this.#offsetEntriesPersisted &&
      this.timeIndex.count === this.#timeEntriesPersisted
    if (upToDate && !(sync && this.#indexFilesUnsynced)) return
    if (this.#indexFilesStale) {
      writeWhole(this.files, this.indexPath, this.offsetIndex.encode(), sync)
      writeWhole(this.files, this.timeIndexPath, this.timeIndex.encode(), sync)
      this.#indexFilesStale = false
    } else {
      const files = this.files
      appendTail(files, this.indexPath, this.offsetIndex.encode(this.#offsetEntriesPersisted), this.#offsetEntriesPersisted * OFFSET_INDEX_ENTRY_BYTES, sync)
      appendTail(files, this.timeIndexPath, this.timeIndex.encode(this.#timeEntriesPersisted), this.#timeEntriesPersisted * TIME_INDEX_ENTRY_BYTES, sync)
    }
    this.#offsetEntriesPersisted = this.offsetIndex.count
    this.#timeEntriesPersisted = this.timeIndex.count
    this.#indexFilesUnsynced = !sync
  }

  /**
   * Writes what a flush would, but fsyncs nothing: returns the files whose fsync makes it durable
   * (data and index files), for a caller that fsyncs many logs' files at once off the thread.
   * The caller owns those fsyncs: the segment counts itself synced.
   */
  writeForSync(): string[] {
    const unsynced: string[] = []
    if (this.dataUnsynced) unsynced.push(this.#dataPath)
    this.dataUnsynced = false
    this.persistIndexes(false)
    if (this.#indexFilesUnsynced) unsynced.push(this.indexPath, this.timeIndexPath)
    this.#indexFilesUnsynced = false
    return unsynced
  }

  /**
   * For the group commit: the data file to fdatasync when it has unsynced writes (counted synced
   * from now: the caller owns that sync and marks the data unsynced again if it fails), else null.
   */
  takeUnsyncedData(): string | null {
    if (!this.dataUnsynced) return null
    this.dataUnsynced = false
    return this.#dataPath
  }

  /** Marks the index files as matching memory (after loading them). */
  indexFilesLoaded(): void {
    this.#offsetEntriesPersisted = this.offsetIndex.count
    this.#timeEntriesPersisted = this.timeIndex.count
    this.#indexFilesStale = false
  }

  /**
   * fsyncs the data when it has unsynced writes. The fd may be a reopen after an eviction: the
   * fsync still writes every dirty page of the file (see FileHandleCache).
   */
  syncData(fsync = true): void {
    if (this.dataUnsynced && fsync) this.files.fs.fsyncSync(this.#fd())
    this.dataUnsynced = false
  }

  /**
   * Keeps the current bytes readable while a compactor runs: it may rename a cleaned file over
   * logPath at any moment, and until the log reloads the segment, reads must see the bytes its
   * in-memory indexes describe. A held fd did that by itself; a cached fd can be closed and
   * reopened meanwhile, so the data is reached through a hard link to the same inode instead
   * (a metadata-only operation, not synced: a crash leaves a stray link that open removes).
   */
  holdForCompaction(): void {
    if (this.#dataPath !== this.logPath) return
    const readingPath = this.logPath.slice(0, -LOG_SUFFIX.length) + READING_SUFFIX
    unlinkIfExistsSync(readingPath, this.files)
    this.files.fs.linkSync(this.logPath, readingPath)
    this.files.forget(this.logPath)
    this.#dataPath = readingPath
  }

  /** Closes the data file (it reopens on next use) and drops a compaction hold. */
  close(): void {
    this.files.forget(this.#dataPath)
    if (this.#dataPath !== this.logPath) {
      const readingPath = this.#dataPath
      this.#dataPath = this.logPath
      unlinkIfExistsSync(readingPath, this.files)
    }
  }

  /**
   * Closes and removes the segment's files, the log file last: if a removal fails, what is left
   * is either the whole segment or index files without a log (which open removes).
   */
  delete(): void {
    this.close()
    for (const p of [this.indexPath, this.timeIndexPath, this.txnIndexPath, this.logPath]) unlinkIfExistsSync(p, this.files)
  }
}

function writeWhole(files: FileHandleCache, filePath: string, bytes: Buffer, sync: boolean): void {
  const fd = files.openTransient(filePath, 'w')
  try {
    writeFully(files, fd, bytes, 0)
    if (sync) files.fs.fsyncSync(fd)
  } finally {
    files.fs.closeSync(fd)
  }
}

function appendTail(files: FileHandleCache, filePath: string, bytes: Buffer, position: number, sync: boolean): void {
  if (bytes.length === 0 && !sync) return
  const fd = files.openTransient(filePath, fs.constants.O_RDWR | fs.constants.O_CREAT)
  try {
    writeFully(files, fd, bytes, position)
    if (sync) files.fs.fsyncSync(fd)
  } finally {
    files.fs.closeSync(fd)
  }
}

function writeFully(files: FileHandleCache, fd: number, bytes: Buffer, position: number): void {
  let written = 0
  // Bounded: each pass writes at least one byte or throws.
  while (written < bytes.length) written += files.fs.writeSync(fd, bytes, written, bytes.length - written, position + written)
}
