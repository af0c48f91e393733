/**
 * When a compacted log is worth cleaning, as Kafka's log cleaner decides it. A cleaning reads and
 * rewrites every segment it is given, so cleaning on every housekeeping pass would rewrite a log
 * that nothing changed, again and again. Kafka cleans a log only when:
 * - its dirty part (written since the last cleaning) is more than `min.cleanable.dirty.ratio` of
 *   the cleanable log, or
 * - a dirty record has waited longer than `max.compaction.lag.ms`, or
 * - the last cleaning left work that time alone brings due (`recleanAtMs`): a delete horizon
 *   passed, so tombstones and markers can go, or a marker whose data it removed is to be stamped.
 * A segment holding a record younger than `min.compaction.lag.ms` ends the cleanable range.
 */
import { readFileIfExistsSync, writeFileAtomicSync } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'

/** What the decision reads of a sealed segment, oldest first. */
export interface CleanableSegment {
  baseOffset: number
  nextOffset: number
  sizeBytes: number
  /** The newest record's timestamp, -1 when unknown. */
  maxTimestampMs: number
  /** The first batch's max timestamp (what Kafka's max.compaction.lag.ms ages from), -1 when unknown. */
  firstBatchTimestampMs: number
  createdMs: number
}

export interface CleaningPolicy {
  minCleanableDirtyRatio: number
  /** Infinity: never forced. */
  maxCompactionLagMs: number
  minCompactionLagMs: number
}

/**
 * How many of `segments` (sealed and stable, oldest first) the next cleaning takes, or 0 when the
 * log is not due. Records below `firstDirtyOffset` were cleaned already.
 */
export function segmentsToClean(
  segments: readonly CleanableSegment[],
  firstDirtyOffset: number,
  nowMs: number,
  policy: CleaningPolicy,
  recleanAtMs = Infinity,
): number {
  let end = segments.length
  if (policy.minCompactionLagMs > 0) {
    const horizonMs = nowMs - policy.minCompactionLagMs
    const young = segments.findIndex((s) => s.maxTimestampMs > horizonMs)
    if (young >= 0) end = young
  }
  if (nowMs >= recleanAtMs) return end
  let cleanBytes = 0
  let dirtyBytes = 0
  let oldestDirtyMs = Infinity
  for (let i = 0; i < end; i++) {
    const s = segments[i]
    if (s.nextOffset <= firstDirtyOffset) {
      cleanBytes += s.sizeBytes
      continue
    }
    dirtyBytes += s.sizeBytes
    oldestDirtyMs = Math.min(oldestDirtyMs, s.firstBatchTimestampMs >= 0 ? s.firstBatchTimestampMs : s.createdMs)
  }
  if (dirtyBytes === 0) return 0
  const overdue = nowMs - oldestDirtyMs > policy.maxCompactionLagMs
  return overdue || dirtyBytes / (cleanBytes + dirtyBytes) > policy.minCleanableDirtyRatio ? end : 0
}

/**
 * When a log is due again with no new record, after a cleaning that ran at `nowMs`: at once when it
 * changed batches (a marker whose data it removed is stamped by the next), else at the latest
 * delete horizon it kept, else not before new records (Infinity).
 */
export function nextCleaningDueMs(cleaning: { batchesChanged: number; deleteHorizonMaxMs: number }, nowMs: number): number {
  if (cleaning.batchesChanged > 0) return nowMs
  return cleaning.deleteHorizonMaxMs >= 0 ? cleaning.deleteHorizonMaxMs : Infinity
}

/** What CLEANER_CHECKPOINT_FILE (log.ts) holds. */
export interface CleanerCheckpoint {
  cleanedThrough: number
  recleanAtMs: number
}

export function readCleanerCheckpoint(filePath: string, files: FileHandleCache): CleanerCheckpoint | null {
  const lines = (readFileIfExistsSync(filePath, files) ?? '').trim().split('\n')
  if (lines.length !== 2 || !lines.every((line) => /^-?\d+$/.test(line))) return null
  const [cleanedThrough, recleanAtMs] = lines.map(Number)
  if (!Number.isSafeInteger(cleanedThrough) || cleanedThrough < 0 || !Number.isSafeInteger(recleanAtMs)) return null
  return { cleanedThrough, recleanAtMs: recleanAtMs < 0 ? Infinity : recleanAtMs }
}

/** Written without fsync: a lost or stale file only delays a cleaning (see PartitionLog#firstDirtyOffset). */
export function writeCleanerCheckpoint(filePath: string, checkpoint: CleanerCheckpoint, files: FileHandleCache): void {
  const recleanAtMs = Number.isFinite(checkpoint.recleanAtMs) ? checkpoint.recleanAtMs : -1
  writeFileAtomicSync(filePath, `${checkpoint.cleanedThrough}\n${recleanAtMs}\n`, false, files)
}
