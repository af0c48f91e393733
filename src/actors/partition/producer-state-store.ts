/**
 * Keeps a partition's producer state consistent with its log across restarts and truncations:
 * load the snapshot (if valid and not beyond the log's end), then replay the batch headers of
 * the log written after it; after a truncation, rebuild the same way from a snapshot no newer
 * than the truncation point. Runs on the partition's shard worker thread.
 */
import * as path from 'node:path'
import { assert } from '../../common/assert.js'
import { decodeTxnMarker } from '../../records/control-batch.js'
import { isControlBatch, iterateBatches, readBatchHeader } from '../../records/record-batch.js'
import type { AbortedTxn } from '../../storage/txn-index.js'
import { readFileIfExists, writeFileAtomic, writeFileAtomicSync } from '../../storage/checkpoint-file.js'
import type { FileHandleCache } from '../../storage/file-handle-cache.js'
import { withStorageErrors, withStorageErrorsAsync } from '../../storage/storage-error.js'
import { PRODUCER_SNAPSHOT_FILE, removeFileSync } from './checkpoint-file.js'
import { type DecodedSnapshot, decodeProducerSnapshot, encodeProducerSnapshot } from './producer-state-snapshot.js'
import { ProducerState } from './producer-state.js'

/** The slice of PartitionLog that replay needs. */
export interface ReplayableLog {
  readonly logStartOffset: number
  readonly logEndOffset: number
  read(offset: number, maxBytes: number): { records: Buffer | null }
  /** Where an ABORT marker met in the log is indexed (a marker already indexed is ignored). */
  addAbortedTxn(entry: AbortedTxn): void
}

/**
 * Applies one batch of the log (appended, replicated or replayed) to the producer state: a data
 * batch updates its producer's sequences (and opens its transaction when transactional), a
 * transaction marker ends the transaction, and an ABORT's range goes into the aborted-transaction
 * index. `timestampMs` overrides the batch's max timestamp (LogAppendTime on the leader).
 */
export function applyBatch(state: ProducerState, log: Pick<ReplayableLog, 'addAbortedTxn'>, buf: Buffer, pos: number, baseOffset?: number, timestampMs?: number): void {
  const header = readBatchHeader(buf, pos)
  if (baseOffset !== undefined) header.baseOffset = baseOffset
  if (timestampMs !== undefined && timestampMs >= 0) header.maxTimestamp = timestampMs
  if (!isControlBatch(header.attributes)) {
    state.update(header)
    return
  }
  const marker = decodeTxnMarker(buf, pos)
  if (marker === null || header.producerId < 0) return
  const ended = state.completeTxn(header.producerId, header.producerEpoch, header.baseOffset, marker.commit, header.maxTimestamp, marker.coordinatorEpoch)
  if (ended === null || !ended.aborted) return
  const lastStableOffset = state.firstUnstableOffset() ?? ended.lastOffset + 1
  log.addAbortedTxn({ producerId: ended.producerId, firstOffset: ended.firstOffset, lastOffset: ended.lastOffset, lastStableOffset })
}

/** How much log one replay read asks for; a read returns at least one whole batch regardless. */
const REPLAY_READ_BYTES = 4 * 1024 * 1024

/** Feeds every batch header in [fromOffset, log end) to the state. */
export function replayLog(state: ProducerState, log: ReplayableLog, fromOffset: number): void {
  let offset = Math.max(fromOffset, log.logStartOffset)
  const end = log.logEndOffset
  // Bounded: every pass moves `offset` past at least one batch, and stops at the log end.
  while (offset < end) {
    const { records } = log.read(offset, REPLAY_READ_BYTES)
    if (records === null || records.length === 0) break
    let next = offset
    for (const { pos } of iterateBatches(records)) {
      const header = readBatchHeader(records, pos)
      const lastOffset = header.baseOffset + header.lastOffsetDelta
      if (lastOffset < offset) continue
      applyBatch(state, log, records, pos)
      next = lastOffset + 1
    }
    assert(next > offset, `producer-state replay made no progress at offset ${offset}`)
    offset = next
  }
}

/**
 * The producer state store of one partition: the live state plus the last snapshot written (kept
 * decoded in memory so a truncation can rebuild without reading the file back).
 */
export class ProducerStateStore {
  readonly state = new ProducerState()
  readonly #dir: string
  /** The log's file cache: the snapshot lives on the same file system. */
  readonly #files: FileHandleCache | undefined
  #snapshot: DecodedSnapshot | null = null

  private constructor(dir: string, files: FileHandleCache | undefined) {
    this.#dir = dir
    this.#files = files
  }

  static async load(dir: string, log: ReplayableLog, files?: FileHandleCache): Promise<ProducerStateStore> {
    const store = new ProducerStateStore(dir, files)
    const bytes = await readFileIfExists(path.join(dir, PRODUCER_SNAPSHOT_FILE), files)
    const decoded = bytes === null ? null : decodeProducerSnapshot(bytes)
    // A snapshot beyond the log's end describes records the log no longer has (a torn tail was
    // cut at recovery): it cannot be trusted, so the whole log is replayed instead.
    store.#snapshot = decoded !== null && decoded.coveredOffset <= log.logEndOffset ? decoded : null
    store.#rebuild(log)
    return store
  }

  /** The offset the last written snapshot covers, or -1. */
  get snapshotOffset(): number {
    return this.#snapshot?.coveredOffset ?? -1
  }

  /** Rebuilds after the log was truncated to `offset` (its new end). */
  afterTruncation(log: ReplayableLog, offset: number): void {
    if (this.#snapshot !== null && this.#snapshot.coveredOffset > offset) {
      // The snapshot covers records that are gone; on disk it would be wrong after new appends
      // past it, so it is deleted now rather than at the next write.
      this.#snapshot = null
      removeFileSync(this.#dir, PRODUCER_SNAPSHOT_FILE, this.#files)
    }
    this.#rebuild(log)
  }

  /**
   * Writes the current state as the snapshot covering the log up to `logEndOffset`, without
   * waiting for the disk: a snapshot lost or damaged by a crash decodes as none, and one ahead of
   * the recovered log is not trusted (see load), so the log is replayed instead.
   */
  writeSnapshot(logEndOffset: number): void {
    const bytes = encodeProducerSnapshot(this.state, logEndOffset)
    const file = path.join(this.#dir, PRODUCER_SNAPSHOT_FILE)
    withStorageErrors(`write ${file}`, () => writeFileAtomicSync(file, bytes, false, this.#files))
    this.#snapshot = decodeProducerSnapshot(bytes)
  }

  /** writeSnapshot off the thread, for a replica's close (see writeFileAtomic). */
  async writeSnapshotAsync(logEndOffset: number): Promise<void> {
    const bytes = encodeProducerSnapshot(this.state, logEndOffset)
    const file = path.join(this.#dir, PRODUCER_SNAPSHOT_FILE)
    await withStorageErrorsAsync(`write ${file}`, () => writeFileAtomic(file, bytes, false, this.#files))
    this.#snapshot = decodeProducerSnapshot(bytes)
  }

  #rebuild(log: ReplayableLog): void {
    this.state.clear()
    let from = log.logStartOffset
    if (this.#snapshot !== null) {
      for (const entry of this.#snapshot.entries) this.state.restore(entry)
      from = this.#snapshot.coveredOffset
    }
    replayLog(this.state, log, from)
  }
}
