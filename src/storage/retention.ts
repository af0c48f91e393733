/**
 * Which segments retention may delete: pure functions over segment summaries, so the rules are
 * tested without files. Only a prefix of the log (oldest first) is ever deleted, and never the
 * active (last) segment.
 */
export interface RetentionSegment {
  baseOffset: number
  sizeBytes: number
  /** -1 when the segment holds no batch. */
  maxTimestampMs: number
}

/**
 * retention.ms: the oldest segments whose newest timestamp is older than now - retentionMs.
 * Returns how many segments from the start qualify (stopping at the first that does not).
 */
export function expiredByTime(segments: readonly RetentionSegment[], nowMs: number, retentionMs: number): number {
  if (retentionMs < 0) return 0
  let count = 0
  for (let i = 0; i < segments.length - 1; i++) {
    if (nowMs - segments[i].maxTimestampMs > retentionMs) count++
    else break
  }
  return count
}

/**
 * retention.bytes, as Kafka applies it: delete the oldest segment while what remains without it
 * is still at least retentionBytes.
 */
export function expiredBySize(segments: readonly RetentionSegment[], retentionBytes: number): number {
  if (retentionBytes < 0) return 0
  let excess = -retentionBytes
  for (const s of segments) excess += s.sizeBytes
  let count = 0
  for (let i = 0; i < segments.length - 1; i++) {
    if (excess - segments[i].sizeBytes >= 0) {
      excess -= segments[i].sizeBytes
      count++
    } else {
      break
    }
  }
  return count
}

/** deleteRecordsBefore / log start: segments entirely below `logStartOffset` (next base <= it). */
export function belowLogStart(segments: readonly RetentionSegment[], logStartOffset: number): number {
  let count = 0
  for (let i = 0; i < segments.length - 1; i++) {
    if (segments[i + 1].baseOffset <= logStartOffset) count++
    else break
  }
  return count
}
