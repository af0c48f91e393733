/**
 * Idempotent-producer state of one partition, as Kafka's ProducerStateManager keeps it: per
 * producer id, its current epoch and the metadata of its last five appended batches. It is pure
 * (no I/O, no clock): the partition replica feeds it batch headers and asks it to check a
 * produce request before anything is appended.
 *
 * Semantics follow current Kafka (2.7+, after KIP-360 and KIP-588):
 * - producerId -1 marks a non-idempotent batch: never checked, never tracked.
 * - A stale epoch (lower than the producer's current one) is refused with INVALID_PRODUCER_EPOCH.
 * - A newer epoch must start at sequence 0 (else OUT_OF_ORDER_SEQUENCE_NUMBER); its state resets.
 * - Same epoch: a batch whose (firstSeq, lastSeq) equals one of the five retained is a duplicate,
 *   answered with the original offsets and not stored again; otherwise its first sequence must be
 *   the last one plus one (int32 wrapping to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER.
 * - An unknown producer id is accepted at ANY sequence. Kafka stopped returning
 *   UNKNOWN_PRODUCER_ID on produce in 2.5 (KIP-360): a producer's state may have been removed by
 *   retention, DeleteRecords or expiration while the producer is still alive, and refusing it
 *   would wedge that producer; Kafka's broker accepts and starts tracking it.
 */
import { assert } from '../../common/assert.js'
import { ErrorCode } from '../../common/error-codes.js'
import { TRANSACTIONAL_BIT } from '../../records/record-batch.js'

export const NO_PRODUCER_ID = -1
/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the client keeps at most 5 batches in flight. */
export const BATCHES_RETAINED = 5
/** A hard bound on tracked producers; beyond it the longest-idle one is forgotten (it stays usable, see above). */
export const PRODUCERS_TRACKED_MAX = 200_000

const INT32_MAX = 2147483647

/** The header fields producer state needs from one v2 batch. */
export interface ProducerBatchHeader {
  producerId: number
  producerEpoch: number
  baseSequence: number
  lastOffsetDelta: number
  /** Used by update() only; offsets are not known yet when a leader checks a request. */
  baseOffset: number
  maxTimestamp: number
  /** The batch's attributes: a transactional batch opens its producer's transaction. Default 0. */
  attributes?: number
}

/** A transaction a marker ended: [firstOffset, lastOffset], lastOffset being the marker's. */
export interface CompletedTxn {
  producerId: number
  firstOffset: number
  lastOffset: number
  aborted: boolean
}

export interface BatchMetadata {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
  timestampMs: number
}

export interface ProducerEntry {
  producerId: number
  epoch: number
  /** Oldest first, at most BATCHES_RETAINED. */
  batches: BatchMetadata[]
  /** The max timestamp of the producer's last batch; expiration measures idleness from it, as Kafka does. */
  lastTimestampMs: number
  /** The offset of the first batch of the producer's open transaction, or -1 when none is open. */
  currentTxnFirstOffset: number
  /**
   * The coordinator epoch of the last marker written for this producer (-1: none): a marker from
   * an older coordinator epoch comes from a coordinator that has since moved, and is fenced.
   */
  coordinatorEpoch: number
}

export type ProducerCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; batch: BatchMetadata }
  | { kind: 'error'; errorCode: number; message: string }

/** The sequence of the batch's last record: base + delta, wrapping past INT32_MAX to 0 as Kafka does. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  if (baseSequence > INT32_MAX - lastOffsetDelta) return lastOffsetDelta - (INT32_MAX - baseSequence) - 1
  return baseSequence + lastOffsetDelta
}

export function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX)
}

function lastSeqOfEntry(entry: { batches: BatchMetadata[] }): number | null {
  const last = entry.batches[entry.batches.length - 1]
  return last === undefined ? null : last.lastSeq
}

export class ProducerState {
  // Map iteration order is insertion order; update() re-inserts, so the first key is the longest idle.
  readonly #entries = new Map<number, ProducerEntry>()
  /** producerId -> first offset of its open transaction: what holds the last stable offset back. */
  readonly #ongoing = new Map<number, number>()

  get size(): number {
    return this.#entries.size
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.#entries.get(producerId)
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.#entries.values()
  }

  clear(): void {
    this.#entries.clear()
    this.#ongoing.clear()
  }

  /** The first offset of the oldest open transaction, or null when none is open (the LSO bound). */
  firstUnstableOffset(): number | null {
    let min: number | null = null
    // Bounded by the open transactions, one per transactional producer writing here.
    for (const first of this.#ongoing.values()) if (min === null || first < min) min = first
    return min
  }

  get ongoingTxnCount(): number {
    return this.#ongoing.size
  }

  /**
   * Records a transaction marker at `markerOffset` (KIP-98): the producer's open transaction, if
   * any, ends there. The marker's epoch becomes the producer's (the coordinator may have bumped it
   * to fence a zombie), and its sequence state restarts as for any new epoch. Returns the ended
   * transaction, or null when the producer had none open (a retried marker).
   */
  completeTxn(producerId: number, producerEpoch: number, markerOffset: number, commit: boolean, timestampMs: number, coordinatorEpoch = -1): CompletedTxn | null {
    assert(producerId >= 0, `a transaction marker needs a producer id, got ${producerId}`)
    let entry = this.#entries.get(producerId)
    if (entry === undefined) {
      entry = { producerId, epoch: producerEpoch, batches: [], lastTimestampMs: timestampMs, currentTxnFirstOffset: -1, coordinatorEpoch: -1 }
    } else {
      this.#entries.delete(producerId)
    }
    if (producerEpoch > entry.epoch) {
      entry.epoch = producerEpoch
      entry.batches = []
    }
    entry.lastTimestampMs = Math.max(entry.lastTimestampMs, timestampMs)
    entry.coordinatorEpoch = Math.max(entry.coordinatorEpoch, coordinatorEpoch)
    const firstOffset = entry.currentTxnFirstOffset
    entry.currentTxnFirstOffset = -1
    this.#ongoing.delete(producerId)
    this.#entries.set(producerId, entry)
    if (firstOffset < 0 || firstOffset > markerOffset) return null
    return { producerId, firstOffset, lastOffset: markerOffset, aborted: !commit }
  }

  /**
   * Checks every batch of one produce request (leader side) before any is appended; batches of
   * the same producer within the request must chain. A duplicate anywhere answers the whole
   * request with that duplicate's original offsets, as Kafka's analyzeAndValidateProducerState
   * does (in practice a request carries one batch per partition).
   */
  check(batches: readonly ProducerBatchHeader[]): ProducerCheck {
    // Pending (epoch, lastSeq) per producer within this request; bounded by the request's batches.
    // Made on the first idempotent batch only: a plain producer's request needs none.
    let pending: Map<number, { epoch: number; lastSeq: number }> | null = null
    for (const batch of batches) {
      if (batch.producerId === NO_PRODUCER_ID) continue
      const stored = this.#entries.get(batch.producerId)
      const duplicate = stored === undefined ? undefined : findDuplicate(stored, batch)
      if (duplicate !== undefined) return { kind: 'duplicate', batch: duplicate }
      const error = checkOne(batch, pending?.get(batch.producerId) ?? currentOf(stored))
      if (error !== null) return error
      pending ??= new Map()
      pending.set(batch.producerId, {
        epoch: batch.producerEpoch,
        lastSeq: lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta),
      })
    }
    return { kind: 'append' }
  }

  /**
   * Records one appended batch (with its final offsets). Called for every batch written to the
   * log, on leaders and followers and during replay alike, with no checks: what is in the log is
   * the truth, so a follower that becomes leader holds the same state.
   */
  update(batch: ProducerBatchHeader): void {
    if (batch.producerId === NO_PRODUCER_ID) return
    let entry = this.#entries.get(batch.producerId)
    if (entry === undefined) {
      entry = { producerId: batch.producerId, epoch: batch.producerEpoch, batches: [], lastTimestampMs: -1, currentTxnFirstOffset: -1, coordinatorEpoch: -1 }
    } else {
      // A batch already recorded (replay overlapping what a snapshot covered) changes nothing.
      const last = entry.batches[entry.batches.length - 1]
      if (last !== undefined && entry.epoch === batch.producerEpoch && batch.baseOffset <= last.lastOffset) return
      this.#entries.delete(batch.producerId)
    }
    if (entry.epoch !== batch.producerEpoch) {
      entry.epoch = batch.producerEpoch
      entry.batches = []
    }
    entry.batches.push({
      firstSeq: batch.baseSequence,
      lastSeq: lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta),
      firstOffset: batch.baseOffset,
      lastOffset: batch.baseOffset + batch.lastOffsetDelta,
      timestampMs: batch.maxTimestamp,
    })
    if (entry.batches.length > BATCHES_RETAINED) entry.batches.shift()
    entry.lastTimestampMs = batch.maxTimestamp
    if (((batch.attributes ?? 0) & TRANSACTIONAL_BIT) !== 0 && entry.currentTxnFirstOffset < 0) {
      entry.currentTxnFirstOffset = batch.baseOffset
      this.#ongoing.set(batch.producerId, batch.baseOffset)
    }
    this.#entries.set(batch.producerId, entry)
    if (this.#entries.size > PRODUCERS_TRACKED_MAX) {
      // A producer with an open transaction is never forgotten: the LSO depends on it.
      for (const [oldest, candidate] of this.#entries) {
        if (candidate.currentTxnFirstOffset >= 0) continue
        this.#entries.delete(oldest)
        break
      }
    }
  }

  /** Installs an entry as loaded from a snapshot. */
  restore(entry: ProducerEntry): void {
    this.#entries.delete(entry.producerId)
    this.#entries.set(entry.producerId, {
      producerId: entry.producerId,
      epoch: entry.epoch,
      batches: entry.batches.slice(-BATCHES_RETAINED).map((b) => ({ ...b })),
      lastTimestampMs: entry.lastTimestampMs,
      currentTxnFirstOffset: entry.currentTxnFirstOffset,
      coordinatorEpoch: entry.coordinatorEpoch,
    })
    if (entry.currentTxnFirstOffset >= 0) this.#ongoing.set(entry.producerId, entry.currentTxnFirstOffset)
    else this.#ongoing.delete(entry.producerId)
  }

  /**
   * Drops producers idle for at least `expirationMs` (producer.id.expiration.ms), measured from
   * their last batch's timestamp as Kafka does. Returns how many were dropped.
   */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0
    for (const [producerId, entry] of this.#entries) {
      // An open transaction keeps its producer: only its coordinator's marker may end it.
      if (entry.currentTxnFirstOffset < 0 && nowMs - entry.lastTimestampMs >= expirationMs) {
        this.#entries.delete(producerId)
        removed++
      }
    }
    return removed
  }
}

function currentOf(stored: ProducerEntry | undefined): { epoch: number; lastSeq: number | null } | undefined {
  if (stored === undefined) return undefined
  return { epoch: stored.epoch, lastSeq: lastSeqOfEntry(stored) }
}

function findDuplicate(entry: ProducerEntry, batch: ProducerBatchHeader): BatchMetadata | undefined {
  if (entry.epoch !== batch.producerEpoch) return undefined
  const lastSeq = lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta)
  return entry.batches.find((b) => b.firstSeq === batch.baseSequence && b.lastSeq === lastSeq)
}

function checkOne(
  batch: ProducerBatchHeader,
  current: { epoch: number; lastSeq: number | null } | undefined,
): { kind: 'error'; errorCode: number; message: string } | null {
  // Unknown producer: accepted at any sequence (KIP-360; see the header comment).
  if (current === undefined) return null
  const who = `producer ${batch.producerId}`
  if (batch.producerEpoch < current.epoch) {
    return {
      kind: 'error',
      errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
      message: `${who} epoch ${batch.producerEpoch} is older than its current epoch ${current.epoch}`,
    }
  }
  if (batch.producerEpoch > current.epoch) {
    if (batch.baseSequence === 0) return null
    return {
      kind: 'error',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      message: `${who} starts new epoch ${batch.producerEpoch} at sequence ${batch.baseSequence}, not 0`,
    }
  }
  // Same epoch with no retained batch (all removed): nothing to chain to, accepted as Kafka does.
  if (current.lastSeq === null || inSequence(current.lastSeq, batch.baseSequence)) return null
  return {
    kind: 'error',
    errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    message: `${who} epoch ${batch.producerEpoch}: sequence ${batch.baseSequence} does not follow ${current.lastSeq}`,
  }
}
