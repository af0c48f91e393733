import path from 'node:path'
import { assert } from '../common/assert.js'
import type { BufferPool } from '../common/buffer-pool.js'
import type { Clock } from '../common/clock.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError, PartitaError } from '../common/errors.js'
import { fsyncDirSync, fsyncPaths, readOffsetCheckpointSync, unlinkIfExistsSync, writeFileAtomic, writeOffsetCheckpointSync } from './checkpoint-file.js'
import { nextCleaningDueMs, readCleanerCheckpoint, segmentsToClean, writeCleanerCheckpoint } from './cleanable.js'
import { CLEANED_SUFFIX, SWAP_SUFFIX, recoverCompactionLeftovers } from './compaction-recovery.js'
import { type FileHandleCache, defaultFileHandleCache } from './file-handle-cache.js'
import { type GroupCommitMember, type SyncWork, groupCommitOf } from './group-commit.js'
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochCache } from './leader-epoch-cache.js'
import type { LogConfig } from './log-config.js'
import {
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  type DecompressFn,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORD_COUNT_OFFSET,
  batchAttributes,
  compressionOf,
  CompressionType,
  batchBaseOffset,
  decodeRecords,
  isControlBatch,
  readInt64,
  setBaseOffset,
  setMaxTimestampAndLogAppendTime,
  setPartitionLeaderEpoch,
  validateBatch,
} from '../records/record-batch.js'
import { type RebuildResult, deriveTail, loadSegmentIndexes, rebuildSegment } from './recovery.js'
import { belowLogStart, expiredBySize, expiredByTime } from './retention.js'
import { INDEX_SUFFIX, LOG_SUFFIX, READING_SUFFIX, Segment, TIME_INDEX_SUFFIX, parseSegmentFileName, segmentFileName } from './segment.js'
import { asStorageError, storageError, withStorageErrors, withStorageErrorsAsync } from './storage-error.js'
import { type AbortedTxn, AbortedTxnIndex, TXN_INDEX_SUFFIX } from './txn-index.js'

/**
 * The per-partition clean-shutdown marker of earlier versions: still honoured (it was removed,
 * durably, before any change, so its presence means the log is as it was closed) and retired
 * before the first change, but never written again. The marker now is one per log directory
 * (see clean-shutdown.ts).
 */
export const LEGACY_CLEAN_SHUTDOWN_FILE = 'clean-shutdown'
export const LOG_START_OFFSET_FILE = 'log-start-offset'
export const RECOVERY_POINT_FILE = 'recovery-point'
/**
 * Kafka's cleaner-offset-checkpoint for this log alone: the first offset the last cleaning left
 * dirty, and when a cleaning is due again with no new record (-1: not before new records).
 */
export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint'

const INT32_MAX = 0x7fffffff

/** Rewrites non-active segments (crash-safely, offsets unchanged); implemented by compaction. */
export interface Compactor {
  compact(input: {
    dir: string
    segments: Array<{ baseOffset: number; path: string }>
    nowMs: number
    deleteRetentionMs: number
    minCompactionLagMs: number
    /** The aborted transactions whose markers the log holds: their data goes. */
    abortedTxns: Array<{ producerId: number; firstOffset: number; lastOffset: number }>
  }): Promise<{ removedAbortMarkers: number[]; batchesChanged: number; deleteHorizonMaxMs: number } | void>
}

export interface PartitionLogOptions {
  clock: Clock
  compactor?: Compactor
  /** Used to decode compressed batches (keyless checks on compacted topics, timestamp lookups). */
  decompress?: DecompressFn
  /**
   * Default true. False skips every fsync (data, indexes, checkpoints): for tests and throwaway
   * logs only, where surviving a machine crash does not matter. Ordering is unchanged.
   */
  fsync?: boolean
  /**
   * The thread's cache of open files, shared by every log on the thread (a shard's partitions);
   * default: a cache per thread sized from the process's open files limit.
   */
  files?: FileHandleCache
  /**
   * The log directory's clean-shutdown marker names this log: it was flushed and closed before
   * the marker was written, and the marker was consumed (removed) before anything could change
   * it since. Its segments are trusted as they are, with no recovery scan. Default false.
   */
  cleanShutdown?: boolean
}

export interface AppendOptions {
  leaderEpoch: number
  /** True on the leader (stamp offsets and epoch); false for follower replication. */
  assignOffsets: boolean
  decompress?: DecompressFn
  /** Every batch's CRC was already checked by the caller (on the CPU pool); see ValidateOptions. */
  crcChecked?: boolean
  /**
   * The caller decoded every compressed batch and found each record keyed (the CPU pool's check
   * of a produce to a compacted topic), so they are not decompressed a second time here.
   */
  compressedKeysChecked?: boolean
}

export interface AppendResult {
  baseOffset: number
  lastOffset: number
  /** The broker time stamped into the batches, or -1 unless message.timestamp.type=LogAppendTime. */
  logAppendTimeMs: number
  batchCount: number
  /** The first batch's base timestamp (the append time under LogAppendTime). */
  firstTimestampMs: number
  maxTimestampMs: number
}

export interface ReadOptions {
  /** Never return a batch whose base offset is at or past this (the high watermark, the LSO). */
  maxOffset?: number
  /** Where the read's buffer comes from; a plain Buffer when absent. */
  buffers?: BufferPool
}

export interface ReadResult {
  /** Whole batches, concatenated, as stored. */
  records: Buffer
  batchCount: number
  /** The first returned batch's base offset, or -1 when empty. */
  firstOffset: number
  /** One past the last returned batch's last offset (the requested offset when empty). */
  nextOffset: number
}

export interface SegmentInfo {
  baseOffset: number
  /** One past the last offset stored in the segment. */
  nextOffset: number
  sizeBytes: number
  /** -1 when the segment holds no batch. */
  maxTimestampMs: number
  path: string
}

export interface HousekeepingResult {
  rolled: boolean
  deletedSegments: number
  deletedBytes: number
  compactedSegments: number
  flushed: boolean
  logStartOffset: number
}

interface AppendScan {
  batchCount: number
  /** Offsets the batches span (sum of lastOffsetDelta + 1): what a leader assigns. */
  offsetSpan: number
  messageCount: number
  firstBaseOffset: number
  lastOffset: number
  firstMaxTimestampMs: number
}

/**
 * One partition's log: a directory of segments named by base offset, each a `.log` of v2 batches
 * with `.index` and `.timeindex`, plus checkpoints (log start offset, recovery point, leader
 * epochs) and a clean-shutdown marker. Synchronous I/O on open fds: the log lives on one shard
 * thread, where sync calls beat libuv round trips. Not thread-safe; one owner.
 */
export class PartitionLog implements GroupCommitMember {
  readonly dir: string
  readonly leaderEpochs: LeaderEpochCache
  /** The aborted transactions whose markers this log holds (`.txnindex` per segment). */
  readonly #abortedTxns: AbortedTxnIndex
  #config: LogConfig
  readonly #clock: Clock
  readonly #compactor: Compactor | undefined
  readonly #decompress: DecompressFn | undefined
  readonly #fsync: boolean
  readonly #files: FileHandleCache
  #segments: Segment[]
  #logStartOffset: number
  #recoveryPoint: number
  #unflushedMessages = 0
  #lastFlushMs: number
  #dirUnsynced = false
  /** Between a group commit request and the start of its round (prepareSync). */
  #syncRequested = false
  /** Offsets below this are fsynced (kept in every mode; only `acks-all` reports it). */
  #durableOffset = 0
  /** Bumped by each truncation, so a sync begun before one cannot vouch for bytes written after. */
  #truncations = 0
  /**
   * The disk failed under this log (a write, or an fsync whose unsynced data is now lost): it
   * takes no more appends until `recoverFromFailure` cut it back to what is known to be on disk.
   */
  #failure: Error | null = null
  /** Bumped by each disk failure: a sync begun before one proves nothing (see prepareSync). */
  #failures = 0
  /**
   * An earlier version's clean-shutdown marker is in this log's directory: nothing in the segments
   * changed since it was written. It stays through a clean open and is removed (durably) just
   * before the first change.
   */
  #cleanMarker: boolean
  /**
   * Nothing changed since the log was opened clean (its directory's marker named it, or its own
   * old marker was there), and the recovery point on disk is its end: closing it writes nothing.
   */
  #unchangedSinceCleanOpen: boolean
  #compacting = false
  /**
   * Records below this offset were cleaned by the last compaction (CLEANER_CHECKPOINT_FILE). It
   * only decides when the next cleaning is due (every cleaning takes the log from its start), so
   * a stale file, left by a truncation before a crash, at worst delays a cleaning; it is written
   * without fsync.
   */
  #firstDirtyOffset = 0
  /** When a cleaning is due with no new record: a marker to stamp, or a delete horizon passed. */
  #recleanAtMs = Infinity
  #closed = false

  private constructor(dir: string, config: LogConfig, options: PartitionLogOptions, segments: Segment[], start: { logStartOffset: number; clean: boolean; cleanMarker: boolean; epochsExist: boolean }) {
    this.dir = dir
    this.#config = config
    this.#clock = options.clock
    this.#compactor = options.compactor
    this.#decompress = options.decompress
    this.#fsync = options.fsync ?? true
    this.#files = options.files ?? defaultFileHandleCache()
    this.#abortedTxns = new AbortedTxnIndex(this.#files, this.#fsync, this.#txnIndexPathOf)
    this.#segments = segments
    this.#logStartOffset = start.logStartOffset
    this.#recoveryPoint = 0
    this.#cleanMarker = start.cleanMarker
    this.#unchangedSinceCleanOpen = start.clean
    this.#lastFlushMs = options.clock.nowMs()
    this.leaderEpochs = new LeaderEpochCache(dir, () => this.logEndOffset, this.#fsync, { files: this.#files, exists: start.epochsExist })
  }

  // ---- open and recovery ------------------------------------------------------------------

  /**
   * Opens the log in `dir`, creating it when absent. A new log costs a mkdir and one file create,
   * and reopening a cleanly closed one reads its directory, checkpoints and last index entries
   * and writes nothing, so a shard can open thousands of partitions in seconds. Failures of the
   * disk are KAFKA_STORAGE_ERROR, and leave no segment of this open behind.
   */
  static async open(dir: string, config: LogConfig, options: PartitionLogOptions): Promise<PartitionLog> {
    const files = options.files ?? defaultFileHandleCache()
    const segments: Segment[] = []
    try {
      // mkdir reports the first directory it made, and nothing when `dir` already existed.
      const freshDir = files.fs.mkdirpSync(dir) !== undefined
      if (freshDir) return PartitionLog.#create(dir, config, { ...options, files }, segments)
      return await PartitionLog.#load(dir, config, { ...options, files }, segments)
    } catch (error) {
      closeQuietly(segments)
      throw asStorageError(error, `open log ${dir}`)
    }
  }

  /**
   * A new log in a directory this open made. Nothing is synced: an empty segment holds nothing
   * to lose, and the directory entries are fsynced by the first flush after data arrives (see
   * append). A crash before that leaves an empty or missing directory, which opens as this did.
   */
  static #create(dir: string, config: LogConfig, options: PartitionLogOptions, segments: Segment[]): PartitionLog {
    segments.push(Segment.create(dir, 0, options.clock.nowMs(), options.files!, true))
    return new PartitionLog(dir, config, options, segments, { logStartOffset: 0, clean: false, cleanMarker: false, epochsExist: false })
  }

  static async #load(dir: string, config: LogConfig, options: PartitionLogOptions, segments: Segment[]): Promise<PartitionLog> {
    const files = options.files!
    const nowMs = options.clock.nowMs()
    let names = files.fs.readdirSync(dir)
    if (names.some((n) => n.endsWith(CLEANED_SUFFIX) || n.endsWith(SWAP_SUFFIX))) {
      // Compaction runs on the CPU pool's threads, on the real file system only.
      await recoverCompactionLeftovers(dir)
      names = files.fs.readdirSync(dir)
    }
    const has = new Set(names)
    const legacyMarker = has.has(LEGACY_CLEAN_SHUTDOWN_FILE)
    // A legacy marker may sit beside the log directory's marker, if the log was never changed
    // since an earlier version closed it: it is kept until a change, as that version kept it.
    const clean = options.cleanShutdown === true || legacyMarker
    removeStrayFiles(dir, names, files)
    const bases = names.map((n) => parseSegmentFileName(n)).filter((b): b is number => b !== null).sort((a, b) => a - b)
    const checkpoint = (name: string): number | null => (has.has(name) ? readOffsetCheckpointSync(path.join(dir, name), files) : null)
    const checkpointedStart = checkpoint(LOG_START_OFFSET_FILE) ?? 0
    const recoveryPoint = clean ? Infinity : (checkpoint(RECOVERY_POINT_FILE) ?? 0)
    const epochStarts: RebuildResult['epochStarts'] = []
    const denseOffsets = config.cleanupPolicy === 'delete'
    let changed = loadSegments(dir, bases, has, config.indexIntervalBytes, recoveryPoint, nowMs, files, segments, epochStarts, denseOffsets)

    let logStartOffset = Math.max(checkpointedStart, segments.length > 0 ? segments[0].baseOffset : 0)
    const lastSegment = segments[segments.length - 1]
    if (lastSegment === undefined || logStartOffset > lastSegment.nextOffset) {
      // Nothing usable, or the log start checkpoint is past everything that survived: start empty there.
      for (const s of segments) s.delete()
      segments.length = 0
      segments.push(Segment.create(dir, logStartOffset, nowMs, files))
      changed = true
    }
    logStartOffset = Math.max(logStartOffset, segments[0].baseOffset)
    const log = new PartitionLog(dir, config, options, segments, { logStartOffset, clean, cleanMarker: legacyMarker, epochsExist: has.has(LEADER_EPOCH_CHECKPOINT) })
    const cleaner = has.has(CLEANER_CHECKPOINT_FILE) ? readCleanerCheckpoint(path.join(dir, CLEANER_CHECKPOINT_FILE), files) : null
    // Past the log's end (a truncation before a crash), Kafka starts the dirty part over.
    if (cleaner !== null && cleaner.cleanedThrough <= log.logEndOffset) {
      log.#firstDirtyOffset = cleaner.cleanedThrough
      log.#recleanAtMs = cleaner.recleanAtMs
    }
    log.#deletePrefix(belowLogStart(segments, logStartOffset))
    log.leaderEpochs.truncateFromEnd(log.logEndOffset)
    log.leaderEpochs.truncateFromStart(log.logStartOffset)
    // The checkpoint is written lazily: epochs the recovered batches carry and it lacks are newer.
    for (const start of epochStarts) {
      if (start.epoch > log.leaderEpochs.latestEpoch()) log.leaderEpochs.assign(start.epoch, start.startOffset)
    }
    if (checkpointedStart !== log.#logStartOffset) log.#persistLogStart()
    for (const segment of log.#segments) {
      if (has.has(segmentFileName(segment.baseOffset, TXN_INDEX_SUFFIX))) log.#abortedTxns.load(segment.txnIndexPath, segment.baseOffset, log.logEndOffset)
    }
    if (changed) {
      // Recovery cut a torn tail or rebuilt indexes. None of it has to be durable now: until the
      // next flush the recovery point on disk stays where it was, so a crash before that flush
      // recovers the same segments again (cutting the same tail, rebuilding the same indexes).
      // Not flushing here is what lets a broker reopen thousands of partitions after a crash
      // without paying their fsyncs one by one.
      log.#dirUnsynced = true
      log.#recoveryPoint = clean ? 0 : recoveryPoint
    } else {
      // Every segment from the recovery point on was checked (or the marker vouched for all):
      // the log as it stands is the recovered state, whatever the checkpoint file still says.
      log.#recoveryPoint = log.logEndOffset
    }
    // After a crash of the process (not of the machine), what recovery read may still be only in
    // the page cache: it counts as durable once synced again, from the recovery point on disk.
    log.#durableOffset = clean ? log.logEndOffset : Math.min(log.logEndOffset, checkpoint(RECOVERY_POINT_FILE) ?? 0)
    for (const s of segments) if (s.nextOffset > log.#durableOffset && !s.isEmpty) s.dataUnsynced = true
    if (log.#durableOffset < log.logEndOffset) log.#dirUnsynced = true
    return log
  }

  // ---- accessors --------------------------------------------------------------------------

  get logStartOffset(): number {
    return this.#logStartOffset
  }

  get logEndOffset(): number {
    return this.#active.nextOffset
  }

  get sizeBytes(): number {
    let total = 0
    for (const s of this.#segments) total += s.sizeBytes
    return total
  }

  get activeSegmentBaseOffset(): number {
    return this.#active.baseOffset
  }

  get recoveryPoint(): number {
    return this.#recoveryPoint
  }

  /**
   * Whether the group commit holds a request of this log whose round has not started yet: that
   * round will sync everything appended until it starts, so a later lazy request adds nothing.
   */
  get syncRequested(): boolean {
    return this.#syncRequested
  }

  /** Whether acks=all and consumers wait for the disk (partita.fsync.mode=acks-all, fsync on). */
  get syncsForAcks(): boolean {
    return this.#fsync && this.#config.fsyncMode === 'acks-all'
  }

  /**
   * Offsets below this are on disk when the log syncs for acks; otherwise the log end (the
   * page cache is all the promise there is).
   */
  get durableOffset(): number {
    return this.syncsForAcks ? Math.min(this.#durableOffset, this.logEndOffset) : this.logEndOffset
  }

  /** The disk failure that took this log offline, or null. */
  get failure(): Error | null {
    return this.#failure
  }

  /**
   * Resolves once everything appended so far is on disk, through the shard's group commit (one
   * round of fdatasyncs for every log of the shard that asked meanwhile). Rejects with
   * KAFKA_STORAGE_ERROR when the sync fails; the log is then offline. A `lazy` sync (nobody waits
   * on it yet) may wait up to the group commit's LAZY_SYNC_DELAY_MS for its round.
   */
  async syncData(lazy = false): Promise<void> {
    this.#checkOpen()
    if (!this.syncsForAcks || this.#durableOffset >= this.logEndOffset) return
    this.#syncRequested = true
    await withStorageErrorsAsync(`sync log ${this.dir}`, () => groupCommitOf(this.#files).request(this, lazy))
  }

  /** GroupCommitMember: the files to fdatasync for what was appended so far. */
  prepareSync(): SyncWork {
    this.#syncRequested = false
    const target = this.logEndOffset
    const truncations = this.#truncations
    const failures = this.#failures
    const files: string[] = []
    const dirs: string[] = []
    // An offline log's unsynced pages may be gone already, so a sync now would prove nothing.
    const vouches = this.#failure === null
    if (!this.#closed && vouches) {
      for (const s of this.#segments) {
        const file = s.takeUnsyncedData()
        if (file !== null) files.push(file)
      }
      // The aborted-transaction entries of the markers synced here are made durable beside them.
      files.push(...this.#abortedTxns.takeUnsynced())
      if (this.#dirUnsynced) dirs.push(this.dir)
      this.#dirUnsynced = false
    }
    return {
      files,
      dirs,
      onSynced: () => {
        // A failed fsync meanwhile may have dropped pages this one then found clean: it succeeded
        // without writing them (Linux reports a writeback error once), so it vouches for nothing.
        if (vouches && truncations === this.#truncations && failures === this.#failures) this.#durableOffset = Math.max(this.#durableOffset, target)
      },
      onFailed: (error) => {
        // Linux forgets the pages an fsync failed to write: what was unsynced may be gone.
        for (const s of this.#segments) s.dataUnsynced = true
        this.#abortedTxns.syncFailed(files)
        this.#dirUnsynced = true
        this.#fail(error)
      },
    }
  }

  #fail(error: unknown): void {
    this.#failures++
    this.#failure ??= error instanceof Error ? error : new Error(String(error))
  }

  /**
   * Brings an offline log back: cuts it to what is known to be on disk (the rest may have been
   * lost by the failed fsync, or half-written by the failed write) and syncs that cut. Throws
   * KAFKA_STORAGE_ERROR, staying offline, while the disk still fails. Returns the new log end.
   */
  async recoverFromFailure(): Promise<number> {
    this.#checkOpen()
    if (this.#failure === null) return this.logEndOffset
    const durable = this.syncsForAcks ? Math.min(this.#durableOffset, this.logEndOffset) : this.logEndOffset
    withStorageErrors(`recover log ${this.dir}`, () => {
      if (durable < this.logEndOffset) this.#truncateTo(durable)
      this.#flushSync()
    })
    this.#failure = null
    return this.logEndOffset
  }

  /** The thread's cache of open files this log uses (for its owner's small files too). */
  get files(): FileHandleCache {
    return this.#files
  }

  get config(): LogConfig {
    return this.#config
  }

  segments(): ReadonlyArray<SegmentInfo> {
    return this.#segments.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.sizeBytes,
      maxTimestampMs: s.maxTimestampMs,
      path: s.logPath,
    }))
  }

  // ---- aborted transactions ---------------------------------------------------------------

  /**
   * Records an aborted transaction whose ABORT marker (at `entry.lastOffset`) is in this log. A
   * second add for the same marker (replay after a restart) changes nothing.
   */
  addAbortedTxn(entry: AbortedTxn): void {
    this.#checkOpen()
    assert(entry.lastOffset >= this.#segments[0].baseOffset && entry.lastOffset < this.logEndOffset, `abort marker ${entry.lastOffset} is outside the log`)
    withStorageErrors(`append aborted txn to ${this.dir}`, () => {
      if (this.#abortedTxns.add(entry)) this.#dirUnsynced = true
    })
  }

  /**
   * Makes every aborted-transaction entry appended so far durable. The owner calls it before it
   * writes a producer-state snapshot: recovery replays the log only from the snapshot on, so the
   * entries of the markers below it must already be on disk.
   */
  syncAbortedTxns(): void {
    this.#checkOpen()
    withStorageErrors(`sync the aborted-transaction index of ${this.dir}`, () => {
      this.#abortedTxns.syncSync()
      if (this.#dirUnsynced && this.#fsync) {
        fsyncDirSync(this.dir, this.#files)
        this.#dirUnsynced = false
      }
    })
  }

  /** The aborted transactions overlapping [fromOffset, toOffset), for a read_committed fetch. */
  abortedTxnsIn(fromOffset: number, toOffset: number): AbortedTxn[] {
    return this.#abortedTxns.overlapping(fromOffset, toOffset)
  }

  /** Every aborted transaction this log holds a marker of (tests and compaction). */
  abortedTxns(): readonly AbortedTxn[] {
    return this.#abortedTxns.entries()
  }

  readonly #txnIndexPathOf = (offset: number): string => {
    let i = this.#segments.length - 1
    // Bounded by the segment count; markers are almost always in the active segment.
    while (i > 0 && this.#segments[i].baseOffset > offset) i--
    return this.#segments[i].txnIndexPath
  }

  /** For tests and tools: each segment's in-memory index entries. */
  indexEntries(): Array<{ baseOffset: number; offsets: Array<{ offset: number; position: number }>; times: Array<{ timestampMs: number; offset: number }> }> {
    return this.#segments.map((s) => ({ baseOffset: s.baseOffset, offsets: s.offsetIndex.entries(), times: s.timeIndex.entries() }))
  }

  updateConfig(config: LogConfig): void {
    this.#config = config
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1]
  }

  // ---- append -----------------------------------------------------------------------------

  /**
   * Appends one or more concatenated v2 batches. Every batch is validated before anything is
   * written; on the leader the batches are stamped in place (base offset, leader epoch, and the
   * append time under LogAppendTime), so `records` is modified.
   */
  append(records: Buffer, options: AppendOptions): AppendResult {
    this.#checkOpen()
    if (this.#failure !== null) throw storageError(`log ${this.dir} is offline after a disk failure: ${this.#failure.message}`)
    return withStorageErrors(`append to log ${this.dir}`, () => this.#append(records, options))
  }

  #append(records: Buffer, options: AppendOptions): AppendResult {
    const scan = this.#validateAppend(records, options)
    const nowMs = this.#clock.nowMs()
    const assign = options.assignOffsets
    const firstOffset = assign ? this.logEndOffset : scan.firstBaseOffset
    const lastOffset = assign ? firstOffset + scan.offsetSpan - 1 : scan.lastOffset
    const logAppendTime = assign && this.#config.messageTimestampType === 'LogAppendTime'
    const incomingTimestampMs = logAppendTime || scan.firstMaxTimestampMs < 0 ? nowMs : scan.firstMaxTimestampMs
    this.#retireCleanMarker()
    if (this.#shouldRoll(records.length, lastOffset, incomingTimestampMs, nowMs)) this.#roll(firstOffset)

    let firstTimestampMs = -1
    let maxTimestampMs = -1
    let offset = firstOffset
    for (let pos = 0; pos < records.length; ) {
      const size = LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET)
      if (assign) {
        setBaseOffset(records, pos, offset)
        setPartitionLeaderEpoch(records, pos, options.leaderEpoch)
        if (logAppendTime) setMaxTimestampAndLogAppendTime(records, pos, nowMs)
        offset += records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET) + 1
      }
      if (pos === 0) firstTimestampMs = logAppendTime ? nowMs : readInt64(records, pos + BASE_TIMESTAMP_OFFSET)
      maxTimestampMs = Math.max(maxTimestampMs, readInt64(records, pos + MAX_TIMESTAMP_OFFSET))
      pos += size
    }

    const active = this.#active
    const startPosition = active.sizeBytes
    // The epoch checkpoint needs a file too: it goes first, so a failure there writes no data,
    // and a failed data write takes the new epochs back out.
    this.#assignEpochs(records, options)
    // A segment's first bytes make its directory entry worth an fsync (a new log's first
    // segment was created without one).
    if (active.isEmpty) this.#dirUnsynced = true
    try {
      active.write(records, 0, records.length)
    } catch (error) {
      this.#undoPartialWrite(active, startPosition)
      throw asStorageError(error, `append to ${active.logPath}`)
    }
    this.#indexAppended(active, records, startPosition)
    this.#unflushedMessages += scan.messageCount
    if (this.#unflushedMessages >= this.#config.flushMessages || nowMs - this.#lastFlushMs >= this.#config.flushMs) {
      this.#flushSync()
    }
    return {
      baseOffset: firstOffset,
      lastOffset,
      logAppendTimeMs: logAppendTime ? nowMs : -1,
      batchCount: scan.batchCount,
      firstTimestampMs,
      maxTimestampMs,
    }
  }

  #validateAppend(records: Buffer, options: AppendOptions): AppendScan {
    const config = this.#config
    const follower = !options.assignOffsets
    const compacted = config.cleanupPolicy !== 'delete'
    const scan: AppendScan = { batchCount: 0, offsetSpan: 0, messageCount: 0, firstBaseOffset: -1, lastOffset: -1, firstMaxTimestampMs: -1 }
    let expectedMin = this.logEndOffset
    let pos = 0
    // Bounded: each pass consumes one whole batch (validateBatch guarantees size >= header size).
    while (pos < records.length) {
      if (records.length - pos >= LOG_OVERHEAD) {
        const declared = LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET)
        if (declared > config.maxMessageBytes && declared <= records.length - pos) {
          throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${declared} bytes exceeds max.message.bytes ${config.maxMessageBytes}`)
        }
      }
      const size = validateBatch(records, pos, records.length, { fromProducer: !follower, crcChecked: options.crcChecked })
      const base = batchBaseOffset(records, pos)
      const lastOffsetDelta = records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)
      // A producer's base offset is whatever it wrote (it is replaced below); past 2^53 the sum
      // loses the delta, so the span is counted from the delta alone.
      const last = base + lastOffsetDelta
      if (follower && base < expectedMin) {
        throw new PartitaError('PARTITA_REPLICA_OFFSET', `replicated batch at offset ${base} is below the expected ${expectedMin}`)
      }
      expectedMin = last + 1
      const attributes = batchAttributes(records, pos)
      const keysKnown = options.compressedKeysChecked === true && compressionOf(attributes) !== CompressionType.NONE
      if (compacted && !isControlBatch(attributes) && !keysKnown) this.#requireKeys(records, pos, options)
      if (scan.batchCount === 0) {
        scan.firstBaseOffset = base
        scan.firstMaxTimestampMs = readInt64(records, pos + MAX_TIMESTAMP_OFFSET)
      }
      scan.batchCount++
      scan.offsetSpan += lastOffsetDelta + 1
      scan.messageCount += records.readInt32BE(pos + RECORD_COUNT_OFFSET)
      scan.lastOffset = last
      pos += size
    }
    if (scan.batchCount === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'no record batches in the request')
    if (records.length > config.segmentBytes) {
      throw new KafkaError(ErrorCode.RECORD_LIST_TOO_LARGE, `${records.length} bytes of batches exceed segment.bytes ${config.segmentBytes}`)
    }
    return scan
  }

  #requireKeys(records: Buffer, pos: number, options: AppendOptions): void {
    const decoded = decodeRecords(records, pos, options.decompress ?? this.#decompress)
    for (const record of decoded) {
      if (record.key === null) {
        throw new KafkaError(ErrorCode.INVALID_RECORD, 'compacted topic cannot accept a record without a key')
      }
    }
  }

  #shouldRoll(incomingBytes: number, lastOffset: number, incomingTimestampMs: number, nowMs: number): boolean {
    const active = this.#active
    if (active.isEmpty) return false
    if (active.sizeBytes + incomingBytes > this.#config.segmentBytes) return true
    if (lastOffset - active.baseOffset > INT32_MAX) return true
    // segment.ms ages from the first batch's timestamp, compared with the arriving data's (as
    // Kafka does, so replaying old data does not roll on every append); creation time otherwise.
    const ageMs = active.firstBatchTimestampMs >= 0 ? incomingTimestampMs - active.firstBatchTimestampMs : nowMs - active.createdMs
    return ageMs > this.#config.segmentMs
  }

  #roll(baseOffset: number): void {
    const old = this.#active
    assert(baseOffset >= old.nextOffset, `roll to ${baseOffset} below the log end ${old.nextOffset}`)
    this.#retireCleanMarker()
    old.sealTimeIndex()
    old.persistIndexes(false)
    old.forgetRecentBatches()
    // On failure nothing of the new segment exists and the old one stays active.
    this.#segments.push(Segment.create(this.dir, baseOffset, this.#clock.nowMs(), this.#files))
    this.#dirUnsynced = true
  }

  #indexAppended(segment: Segment, records: Buffer, startPosition: number): void {
    const interval = this.#config.indexIntervalBytes
    const batch = { position: 0, size: 0, baseOffset: 0, lastOffset: 0, maxTimestampMs: 0 }
    for (let pos = 0; pos < records.length; pos += batch.size) {
      batch.position = startPosition + pos
      batch.size = LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET)
      batch.baseOffset = batchBaseOffset(records, pos)
      batch.lastOffset = batch.baseOffset + records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)
      batch.maxTimestampMs = readInt64(records, pos + MAX_TIMESTAMP_OFFSET)
      segment.indexBatch(batch, interval)
    }
  }

  #assignEpochs(records: Buffer, options: AppendOptions): void {
    if (options.assignOffsets) {
      if (options.leaderEpoch > this.leaderEpochs.latestEpoch()) {
        this.leaderEpochs.assign(options.leaderEpoch, batchBaseOffset(records, 0))
      }
      return
    }
    // Followers learn epochs from the leader's stamps (KIP-101).
    for (let pos = 0; pos < records.length; pos += LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET)) {
      const epoch = records.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET)
      if (epoch > this.leaderEpochs.latestEpoch()) this.leaderEpochs.assign(epoch, batchBaseOffset(records, pos))
    }
  }

  #undoPartialWrite(segment: Segment, position: number): void {
    try {
      segment.truncateToPosition(position)
      this.leaderEpochs.truncateFromEnd(this.logEndOffset)
    } catch (error) {
      // The disk is failing and the log no longer matches its file: offline until recovered
      // (which cuts the tail, as open would, with the epochs past the log end).
      this.#fail(error)
    }
  }

  // ---- read -------------------------------------------------------------------------------

  /**
   * Whole batches from the one holding `offset` (or the next one past a compaction gap), up to
   * `maxBytes` but at least one batch (KIP-74), never a batch whose base offset is >= maxOffset.
   * Each batch's framing is checked before it is returned (its CRC was checked at append).
   * `buffers` lends the buffer read into (see BufferPool: the caller then owns giving it back).
   */
  read(offset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
    this.#checkOpen()
    return withStorageErrors(`read log ${this.dir}`, () => this.#read(offset, maxBytes, options))
  }

  #read(offset: number, maxBytes: number, options: ReadOptions): ReadResult {
    const logEnd = this.logEndOffset
    if (offset < this.#logStartOffset || offset > logEnd) {
      throw new KafkaError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is outside the log [${this.#logStartOffset}, ${logEnd}]`,
      )
    }
    const maxOffset = Math.min(options.maxOffset ?? Infinity, logEnd)
    if (offset >= maxOffset) return emptyRead(offset)
    for (let i = this.#segmentIndexFor(offset); i < this.#segments.length; i++) {
      const segment = this.#segments[i]
      const batch = segment.findBatch(offset)
      if (batch === null) continue
      if (batch.baseOffset >= maxOffset) return emptyRead(offset)
      return readBatches(segment, batch.position, batch.size, maxBytes, maxOffset, options.buffers)
    }
    return emptyRead(offset)
  }

  /** ListOffsets by time: the first offset whose record timestamp is >= timestampMs. */
  offsetForTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null {
    this.#checkOpen()
    return withStorageErrors(`look up a timestamp in log ${this.dir}`, () => this.#offsetForTimestamp(timestampMs))
  }

  #offsetForTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null {
    for (const segment of this.#segments) {
      if (segment.maxTimestampMs < timestampMs || segment.nextOffset <= this.#logStartOffset) continue
      const from = Math.max(segment.timeIndex.lookup(timestampMs), this.#logStartOffset)
      let found: { offset: number; timestampMs: number } | null = null
      const walked = segment.walk(segment.offsetIndex.lookup(from), (batch) => {
        if (batch.lastOffset < from || batch.maxTimestampMs < timestampMs) return true
        const bytes = Buffer.allocUnsafe(batch.size)
        segment.readInto(bytes, 0, batch.size, batch.position)
        checkStoredBatch(bytes, segment, batch.position)
        for (const record of decodeRecords(bytes, 0, this.#decompress)) {
          if (record.offset >= from && record.timestampMs >= timestampMs) {
            found = { offset: record.offset, timestampMs: record.timestampMs }
            return false
          }
        }
        return true
      })
      if (walked.torn) throw storageError(`malformed batch in ${segment.logPath} at ${walked.position}`)
      if (found !== null) return found
    }
    return null
  }

  /**
   * About how many bytes of batches lie between `fromOffset` and `toOffset`, from the segments'
   * sizes and sparse indexes alone, reading nothing: what a parked fetch checks against its
   * minBytes on every append before it pays for a real read. It counts from the index entry at or
   * below each offset, so it may over-count by up to an index interval at each end, never under.
   */
  approximateBytesBetween(fromOffset: number, toOffset: number): number {
    if (toOffset <= fromOffset) return 0
    const first = this.#segmentIndexFor(fromOffset)
    const last = this.#segmentIndexFor(toOffset)
    let bytes = 0
    for (let i = first; i <= last; i++) {
      const segment = this.#segments[i]
      const start = i === first ? segment.offsetIndex.lookup(fromOffset) : 0
      const end = i === last && toOffset < segment.nextOffset ? nextIndexedPosition(segment, toOffset) : segment.sizeBytes
      bytes += Math.max(0, end - start)
    }
    return bytes
  }

  #segmentIndexFor(offset: number): number {
    let lo = 0
    let hi = this.#segments.length - 1
    let found = 0
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.#segments[mid].baseOffset <= offset) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  // ---- log start, truncation --------------------------------------------------------------

  /** DeleteRecords: moves the log start to `offset` and deletes whole segments below it. */
  deleteRecordsBefore(offset: number): number {
    this.#checkOpen()
    if (offset > this.logEndOffset || offset < 0) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} is past the log end ${this.logEndOffset}`)
    }
    if (offset <= this.#logStartOffset) return this.#logStartOffset
    return withStorageErrors(`delete records of log ${this.dir}`, () => {
      this.#logStartOffset = offset
      this.#persistLogStart()
      this.leaderEpochs.truncateFromStart(offset)
      this.#deletePrefix(belowLogStart(this.#segments, offset))
      return this.#logStartOffset
    })
  }

  /** Follower truncation (KIP-101): drops every offset >= `offset`. */
  truncateTo(offset: number): void {
    this.#checkOpen()
    if (offset >= this.logEndOffset) return
    withStorageErrors(`truncate log ${this.dir} to ${offset}`, () => this.#truncateTo(offset))
  }

  #truncateTo(offset: number): void {
    this.#truncations++
    this.#firstDirtyOffset = Math.min(this.#firstDirtyOffset, offset)
    this.#durableOffset = Math.min(this.#durableOffset, offset)
    this.#retireCleanMarker()
    // Lower the recovery point first: if we crash mid-truncation, the next open rescans from here.
    if (this.#recoveryPoint > offset) {
      writeOffsetCheckpointSync(path.join(this.dir, RECOVERY_POINT_FILE), offset, this.#fsync, this.#files)
      this.#recoveryPoint = offset
    }
    if (offset <= this.#segments[0].baseOffset || offset < this.#logStartOffset) {
      this.#truncateFullyAndStartAt(offset)
      return
    }
    // Before the segments change: each dropped entry's file is found by the segment holding it.
    this.#abortedTxns.truncateTo(offset)
    while (this.#active.baseOffset >= offset) {
      // Deleted before it leaves the list: if the removal fails the log still describes the disk.
      this.#active.delete()
      this.#segments.pop()
      this.#dirUnsynced = true
    }
    const segment = this.#active
    const batch = segment.findBatch(offset)
    if (batch !== null) {
      const newEnd = Math.min(offset, batch.baseOffset)
      segment.truncateToPosition(batch.position)
      segment.truncateTimeIndexToOffset(newEnd)
      if (batch.position === 0) segment.firstBatchTimestampMs = -1
      if (!deriveTail(segment, this.#config.indexIntervalBytes)) rebuildSegment(segment, this.#config.indexIntervalBytes)
      segment.nextOffset = Math.max(segment.nextOffset, newEnd)
    } else {
      // Only a gap (left by compaction or an earlier truncation) lies at and past offset.
      segment.nextOffset = offset
    }
    this.leaderEpochs.truncateFromEnd(this.logEndOffset)
  }

  /**
   * Drops the whole log and restarts it empty at `offset`: a follower whose log ends below its
   * leader's log start (retention moved on while it was away) can only continue from there.
   */
  truncateFullyAndStartAt(offset: number): void {
    this.#checkOpen()
    assert(offset >= 0, `restart offset ${offset} is negative`)
    withStorageErrors(`restart log ${this.dir} at ${offset}`, () => this.#truncateFullyAndStartAt(offset))
  }

  #truncateFullyAndStartAt(offset: number): void {
    this.#truncations++
    this.#firstDirtyOffset = Math.min(this.#firstDirtyOffset, offset)
    // Nothing of the new start is on disk until its segment's name is synced.
    this.#durableOffset = Math.min(this.#durableOffset, offset)
    this.#retireCleanMarker()
    const old = this.#segments
    // A segment of the new one's name is replaced by the create, not deleted after it.
    for (const s of old) if (s.baseOffset === offset) s.close()
    // The new segment first: if it cannot be made, the log is still the old one.
    const fresh = Segment.create(this.dir, offset, this.#clock.nowMs(), this.#files)
    this.#segments = [fresh]
    this.#dirUnsynced = true
    this.#abortedTxns.clear()
    for (const s of old) if (s.baseOffset !== offset) s.delete()
    this.#logStartOffset = offset
    this.#persistLogStart()
    this.leaderEpochs.clear()
  }

  /** Deletes the oldest `count` segments (never the active one) and moves the log start past them. */
  #deletePrefix(count: number): { segments: number; bytes: number } {
    const n = Math.min(count, this.#segments.length - 1)
    if (n <= 0) return { segments: 0, bytes: 0 }
    this.#retireCleanMarker()
    const doomed = this.#segments.slice(0, n)
    this.#segments = this.#segments.slice(n)
    this.#abortedTxns.dropBelow(this.#segments[0].baseOffset)
    const newStart = Math.max(this.#logStartOffset, this.#segments[0].baseOffset)
    if (newStart !== this.#logStartOffset) {
      this.#logStartOffset = newStart
      // The checkpoint moves first, so a crash between the two steps never resurrects old data.
      this.#persistLogStart()
      this.leaderEpochs.truncateFromStart(newStart)
    }
    let bytes = 0
    for (const s of doomed) {
      bytes += s.sizeBytes
      s.delete()
    }
    this.#dirUnsynced = true
    return { segments: n, bytes }
  }

  #persistLogStart(): void {
    writeOffsetCheckpointSync(path.join(this.dir, LOG_START_OFFSET_FILE), this.#logStartOffset, this.#fsync, this.#files)
  }

  // ---- housekeeping -----------------------------------------------------------------------

  /**
   * Roll by age, retention by time and size, compaction, and the flush.ms policy. Compaction
   * cleans only segments wholly below `stableOffset` (the owner's last stable offset): data of an
   * open transaction, or above the high watermark, is never cleaned.
   */
  async housekeeping(stableOffset = Infinity): Promise<HousekeepingResult> {
    this.#checkOpen()
    try {
      return await this.#housekeeping(stableOffset)
    } catch (error) {
      throw asStorageError(error, `housekeeping of log ${this.dir}`)
    }
  }

  async #housekeeping(stableOffset: number): Promise<HousekeepingResult> {
    const nowMs = this.#clock.nowMs()
    const config = this.#config
    const deletes = config.cleanupPolicy !== 'compact'
    const active = this.#active
    let rolled = false
    if (!active.isEmpty) {
      const rollBaseMs = active.firstBatchTimestampMs >= 0 ? active.firstBatchTimestampMs : active.createdMs
      const tooOld = nowMs - rollBaseMs > config.segmentMs
      const newestMs = active.maxTimestampMs >= 0 ? active.maxTimestampMs : active.createdMs
      const expired = deletes && config.retentionMs >= 0 && nowMs - newestMs > config.retentionMs
      if (tooOld || expired) {
        this.#roll(active.nextOffset)
        rolled = true
      }
    }
    let deletedSegments = 0
    let deletedBytes = 0
    const deleteSome = (count: number): void => {
      const d = this.#deletePrefix(count)
      deletedSegments += d.segments
      deletedBytes += d.bytes
    }
    if (deletes) {
      // A segment without timestamps (producers may send -1) ages from its creation instead.
      const aged = this.#segments.map((s) => ({
        baseOffset: s.baseOffset,
        sizeBytes: s.sizeBytes,
        maxTimestampMs: s.maxTimestampMs >= 0 ? s.maxTimestampMs : s.createdMs,
      }))
      deleteSome(expiredByTime(aged, nowMs, config.retentionMs))
      deleteSome(expiredBySize(this.#segments, config.retentionBytes))
    }
    deleteSome(belowLogStart(this.#segments, this.#logStartOffset))
    const compactedSegments = config.cleanupPolicy === 'delete' ? 0 : await this.#compact(nowMs, stableOffset)
    let flushed = false
    if (this.#clock.nowMs() - this.#lastFlushMs >= config.flushMs) {
      this.#flushSync()
      flushed = true
    }
    return { rolled, deletedSegments, deletedBytes, compactedSegments, flushed, logStartOffset: this.#logStartOffset }
  }

  async #compact(nowMs: number, stableOffset: number): Promise<number> {
    if (this.#compactor === undefined || this.#compacting) return 0
    const sealed = this.#segments.slice(0, -1)
    const stableCount = sealed.findIndex((s) => s.nextOffset > stableOffset)
    const stable = stableCount < 0 ? sealed : sealed.slice(0, stableCount)
    const firstDirtyOffset = Math.max(this.#firstDirtyOffset, this.#logStartOffset)
    const inputs = stable.slice(0, segmentsToClean(stable, firstDirtyOffset, nowMs, this.#config, this.#recleanAtMs))
    if (inputs.length === 0) return 0
    const cleanedThrough = inputs[inputs.length - 1].nextOffset
    const truncationsBefore = this.#truncations
    this.#retireCleanMarker()
    this.#compacting = true
    let removedAbortMarkers: number[]
    try {
      for (const s of inputs) s.holdForCompaction()
      const result = await this.#compactor.compact({
        dir: this.dir,
        segments: inputs.map((s) => ({ baseOffset: s.baseOffset, path: s.logPath })),
        nowMs,
        deleteRetentionMs: this.#config.deleteRetentionMs,
        minCompactionLagMs: this.#config.minCompactionLagMs,
        abortedTxns: this.#abortedTxns.entries().map(({ producerId, firstOffset, lastOffset }) => ({ producerId, firstOffset, lastOffset })),
      })
      removedAbortMarkers = result?.removedAbortMarkers ?? []
      this.#recleanAtMs = result === undefined ? Infinity : nextCleaningDueMs(result, nowMs)
    } finally {
      this.#compacting = false
    }
    if (this.#closed) return 0
    this.#reloadAfterCompaction(inputs, removedAbortMarkers)
    // After a truncation while the cleaning ran, what it cut may have been written again: dirty.
    if (this.#truncations === truncationsBefore) {
      this.#firstDirtyOffset = cleanedThrough
      writeCleanerCheckpoint(path.join(this.dir, CLEANER_CHECKPOINT_FILE), { cleanedThrough, recleanAtMs: this.#recleanAtMs }, this.#files)
    }
    return inputs.length
  }

  /** The compactor swapped new files in under the same names: reopen and re-derive them. */
  #reloadAfterCompaction(inputs: Segment[], removedAbortMarkers: readonly number[]): void {
    const interval = this.#config.indexIntervalBytes
    const kept: Segment[] = []
    for (const old of this.#segments) {
      if (!inputs.includes(old)) {
        kept.push(old)
        continue
      }
      old.close()
      if (!this.#files.fs.existsSync(old.logPath)) continue // merged into an earlier segment
      const fresh = Segment.open(this.dir, old.baseOffset, old.createdMs, this.#files)
      const previous = kept[kept.length - 1]
      const result = rebuildSegment(fresh, interval, previous === undefined ? 0 : previous.nextOffset)
      if (result.truncated) {
        throw new PartitaError('PARTITA_COMPACTION_CORRUPT', `compacted segment ${fresh.logPath} holds an invalid batch at ${result.validBytes}`)
      }
      fresh.sealTimeIndex()
      fresh.persistIndexes(this.#fsync)
      kept.push(fresh)
    }
    // Inputs dropped meanwhile (truncation, retention) must not come back from compacted files.
    for (const old of inputs) {
      if (!kept.some((s) => s.baseOffset === old.baseOffset) && !this.#segments.includes(old)) {
        for (const p of [old.logPath, old.indexPath, old.timeIndexPath, old.txnIndexPath]) this.#files.fs.removeIfExistsSync(p)
      }
    }
    this.#segments = kept
    // Removed ABORT markers take their entries along (their data went in an earlier cleaning).
    this.#abortedTxns.dropMarkers(new Set(removedAbortMarkers))
    // A segment merged into an earlier one hands its aborted transactions to that one's file.
    if (this.#abortedTxns.size > 0 || removedAbortMarkers.length > 0) this.#abortedTxns.rewriteFiles(new Set(inputs.map((s) => s.txnIndexPath)))
    this.#dirUnsynced = true
  }

  // ---- durability -------------------------------------------------------------------------

  async flush(): Promise<void> {
    this.#checkOpen()
    withStorageErrors(`flush log ${this.dir}`, () => this.#flushSync())
  }

  /**
   * fsyncs data and index files of every segment with unsynced writes, then the recovery point.
   * Close passes `writeRecoveryPoint` false: the clean-shutdown marker written next vouches for
   * the whole log, and a crash that loses the marker merely recovers from the older point.
   */
  #flushSync(writeRecoveryPoint = true): void {
    try {
      this.#flushSyncUnguarded(writeRecoveryPoint)
    } catch (error) {
      // A failed fsync may have lost the unsynced pages for good (Linux marks them clean).
      for (const s of this.#segments) s.dataUnsynced = true
      this.#fail(error)
      throw error
    }
  }

  #flushSyncUnguarded(writeRecoveryPoint: boolean): void {
    const target = this.logEndOffset
    const vouches = this.#failure === null
    // Epochs before data: no record may be durable before the entry of the epoch it was written in.
    this.leaderEpochs.sync()
    for (const s of this.#segments) {
      s.syncData(this.#fsync)
      s.persistIndexes(this.#fsync)
    }
    this.#abortedTxns.syncSync()
    if (this.#dirUnsynced && this.#fsync) fsyncDirSync(this.dir, this.#files)
    this.#dirUnsynced = false
    if (writeRecoveryPoint && target !== this.#recoveryPoint) {
      writeOffsetCheckpointSync(path.join(this.dir, RECOVERY_POINT_FILE), target, this.#fsync, this.#files)
      this.#recoveryPoint = target
    }
    this.#unflushedMessages = 0
    this.#lastFlushMs = this.#clock.nowMs()
    if (this.#fsync && vouches) this.#durableOffset = Math.max(this.#durableOffset, target)
  }

  /**
   * Flushes, recovery point included, so that the log directory's clean-shutdown marker may name
   * this log once every log of the directory is closed (the caller writes it; a log closed after
   * it is not named, and is recovered from this recovery point, which leaves nothing to scan). A
   * log unchanged since a clean open has nothing to write. Its files leave the cache either way,
   * so a failed close holds no descriptor.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      if (!this.#unchangedSinceCleanOpen) await this.#flushForClose()
      this.#closed = true
    } finally {
      closeQuietly(this.#segments)
    }
  }

  /**
   * What #flushSync does, with the fsyncs made off the thread and side by side (see fsyncPaths):
   * a broker shutting down closes thousands of logs, and one fsync after another took minutes.
   * The recovery point comes last, once everything it vouches for is on disk: a broker started
   * after this close consumes its directory's marker, and a crash after that recovers each log
   * from this point, with nothing left to scan, instead of from an older one.
   */
  async #flushForClose(): Promise<void> {
    const unsynced = withStorageErrors(`close log ${this.dir}`, () => [...this.#segments.flatMap((s) => s.writeForSync()), ...this.#abortedTxns.takeUnsynced()])
    // In any order: until the marker, a crash recovers everything past the recovery point
    // (epochs included); the directory last, for the names of the files written above.
    await withStorageErrorsAsync(`close log ${this.dir}`, async () => {
      await Promise.all([this.leaderEpochs.syncAsync(), this.#fsync ? fsyncPaths(unsynced, this.#files) : undefined])
      if (this.#fsync && (unsynced.length > 0 || this.#dirUnsynced)) await fsyncPaths([this.dir], this.#files)
      const target = this.logEndOffset
      if (target !== this.#recoveryPoint) await writeFileAtomic(path.join(this.dir, RECOVERY_POINT_FILE), `${target}\n`, this.#fsync, this.#files)
      this.#recoveryPoint = target
    })
    this.#dirUnsynced = false
  }

  /**
   * Removes the clean-shutdown marker before the segments change. The removal is fsynced: if a
   * crash brought the marker back beside a half-made change (a torn append), open would trust
   * the files and skip the recovery scan.
   */
  #retireCleanMarker(): void {
    this.#unchangedSinceCleanOpen = false
    if (!this.#cleanMarker) return
    unlinkIfExistsSync(path.join(this.dir, LEGACY_CLEAN_SHUTDOWN_FILE), this.#files)
    if (this.#fsync) fsyncDirSync(this.dir, this.#files)
    this.#cleanMarker = false
  }

  /** Whether the next change must retire the clean-shutdown marker first. */
  get cleanMarkerPresent(): boolean {
    return this.#cleanMarker
  }

  /**
   * #retireCleanMarker with its directory fsync off the thread, for a caller that can wait before
   * its change: a broker reopened with thousands of clean logs retires a marker on each one's
   * first produce, and a produce to all of them paid those fsyncs one after another.
   */
  async retireCleanMarker(): Promise<void> {
    if (!this.#cleanMarker) return
    unlinkIfExistsSync(path.join(this.dir, LEGACY_CLEAN_SHUTDOWN_FILE), this.#files)
    if (this.#fsync) await withStorageErrorsAsync(`retire the clean-shutdown marker of ${this.dir}`, () => fsyncPaths([this.dir], this.#files))
    this.#cleanMarker = false
  }

  #checkOpen(): void {
    if (this.#closed) throw new PartitaError('PARTITA_LOG_CLOSED', `log ${this.dir} is closed`)
  }
}

// ---- helpers ---------------------------------------------------------------------------------

/** Gives the segments' fds back to the cache on a path that is already failing or ending. */
function closeQuietly(segments: readonly Segment[]): void {
  for (const s of segments) {
    try {
      s.close()
    } catch {
      // Only removing a compaction's second name can fail here; the next open removes it.
    }
  }
}

function emptyRead(offset: number): ReadResult {
  return { records: Buffer.alloc(0), batchCount: 0, firstOffset: -1, nextOffset: offset }
}

/**
 * A stored batch's framing, checked before it leaves the log. Its CRC is not checked again: it
 * was checked once, when it was produced (as Kafka does), and consumers check it themselves; a
 * read is on every fetch's hot path. Recovery checks CRCs of what it has not vouched for.
 */
function checkStoredBatch(bytes: Buffer, segment: Segment, position: number, at = 0, end = bytes.length): number {
  try {
    return validateBatch(bytes, at, end, { fromProducer: false, crcChecked: true })
  } catch (error) {
    throw storageError(`corrupt batch in ${segment.logPath} at ${position}: ${(error as Error).message}`)
  }
}

/** One read of up to maxBytes (at least the first batch), cut to whole batches below maxOffset. */
function readBatches(segment: Segment, position: number, firstSize: number, maxBytes: number, maxOffset: number, buffers?: BufferPool): ReadResult {
  const length = Math.max(firstSize, Math.min(maxBytes, segment.sizeBytes - position))
  const buf = buffers === undefined ? Buffer.allocUnsafe(length) : buffers.take(length)
  segment.readInto(buf, 0, length, position)
  let pos = 0
  let batchCount = 0
  let nextOffset = -1
  // Bounded: each pass consumes a whole batch of at least the header size.
  while (length - pos >= BATCH_HEADER_SIZE) {
    const size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET)
    if (size < BATCH_HEADER_SIZE) throw storageError(`malformed batch in ${segment.logPath} at ${position + pos}`)
    if (pos + size > length) break
    const base = batchBaseOffset(buf, pos)
    if (batchCount > 0 && base >= maxOffset) break
    checkStoredBatch(buf, segment, position + pos, pos, pos + size)
    nextOffset = base + buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET) + 1
    batchCount++
    pos += size
  }
  assert(batchCount > 0, 'a read returns at least the batch it found')
  return { records: buf.subarray(0, pos), batchCount, firstOffset: batchBaseOffset(buf, 0), nextOffset }
}

/**
 * Removes temp files of interrupted checkpoint writes, index files without a log, and the
 * second names a compaction left when the process died (Segment.holdForCompaction).
 */
function removeStrayFiles(dir: string, names: string[], files: FileHandleCache): void {
  const logs = new Set(names.filter((n) => parseSegmentFileName(n) !== null).map((n) => n.slice(0, -LOG_SUFFIX.length)))
  const ours = [LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE, CLEANER_CHECKPOINT_FILE, LEADER_EPOCH_CHECKPOINT, LEGACY_CLEAN_SHUTDOWN_FILE]
  for (const name of names) {
    const orphanIndex =
      (parseSegmentFileName(name, INDEX_SUFFIX) !== null ||
        parseSegmentFileName(name, TIME_INDEX_SUFFIX) !== null ||
        parseSegmentFileName(name, TXN_INDEX_SUFFIX) !== null) &&
      !logs.has(name.slice(0, 20))
    const strayTemp = ours.some((f) => name === `${f}.tmp`) || parseSegmentFileName(name, READING_SUFFIX) !== null || parseSegmentFileName(name, `${TXN_INDEX_SUFFIX}.tmp`) !== null
    if (orphanIndex || strayTemp) files.fs.removeIfExistsSync(path.join(dir, name))
  }
}

/**
 * Opens the segments into `segments` (as it goes, so a caller can close them if this throws) and
 * brings their in-memory state back. Segments from the one holding the recovery point onward are
 * scanned batch by batch (CRC included); the first bad batch cuts the log there and later
 * segments are dropped, as does a segment ending short of the next one's base when `denseOffsets`
 * (every policy but compaction's). Earlier segments load their index files, and are rebuilt when those are
 * damaged. Returns whether any segment was rebuilt (its index files must then be rewritten), and
 * adds the epoch starts the scanned batches carry to `epochStarts`.
 */
function loadSegments(
  dir: string,
  bases: number[],
  names: ReadonlySet<string>,
  interval: number,
  recoveryPoint: number,
  nowMs: number,
  files: FileHandleCache,
  segments: Segment[],
  epochStarts: RebuildResult['epochStarts'],
  denseOffsets: boolean,
): boolean {
  let recoverFrom = bases.length
  if (recoveryPoint !== Infinity) {
    recoverFrom = 0
    for (let i = 0; i < bases.length; i++) if (bases[i] <= recoveryPoint) recoverFrom = i
  }
  let recovered = false
  for (let i = 0; i < bases.length; i++) {
    const segment = Segment.open(dir, bases[i], nowMs, files)
    segments.push(segment)
    const previous = segments[segments.length - 2]
    const minBase = previous === undefined ? 0 : previous.nextOffset
    let cut = false
    // An empty segment without index files (what a new log is) has nothing to recover.
    const pristine =
      segment.isEmpty &&
      segment.baseOffset >= minBase &&
      !names.has(segmentFileName(bases[i], INDEX_SUFFIX)) &&
      !names.has(segmentFileName(bases[i], TIME_INDEX_SUFFIX))
    if (!pristine && (i >= recoverFrom || segment.baseOffset < minBase || !loadSegmentIndexes(segment, interval))) {
      const result = rebuildSegment(segment, interval, minBase)
      epochStarts.push(...result.epochStarts)
      recovered = true
      cut = result.truncated
      if (i < bases.length - 1 && !cut) segment.sealTimeIndex()
    }
    // A power cut can keep a newer segment's unsynced writes and lose the end of this one (no
    // order holds between two files' writes): the log must stay a prefix of what was written,
    // so it ends at the hole. Only compaction leaves gaps between segments on purpose.
    if (denseOffsets && i < bases.length - 1 && segment.nextOffset < bases[i + 1]) {
      recovered = true
      cut = true
    }
    if (cut) {
      for (let j = i + 1; j < bases.length; j++) {
        for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]) {
          files.fs.removeIfExistsSync(path.join(dir, String(bases[j]).padStart(20, '0') + suffix))
        }
      }
      break
    }
  }
  return recovered
}

/** The file position of the first index entry above `offset`, or the segment's end: an upper bound of where it ends. */
function nextIndexedPosition(segment: Segment, offset: number): number {
  const position = segment.offsetIndex.positionAbove(offset)
  return position === -1 ? segment.sizeBytes : position
}
