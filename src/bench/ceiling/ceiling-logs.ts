/**
 * The Kafka ceiling's partitions (kafka-ceiling-server.ts): each is the batches appended to it,
 * kept in memory for consumers up to TAIL_BYTES_MAX (older ones are dropped and the log start
 * moves past them), with the offsets a log would have given them written into their headers. A
 * consumer's fetch with nothing to read waits until a produce lands on one of its partitions or
 * its maxWaitMs passes, as Kafka's long poll does. Nothing is validated, indexed or made durable.
 */
import { BASE_OFFSET_OFFSET, LAST_OFFSET_DELTA_OFFSET, iterateBatches } from '../../records/record-batch.js'

/** What one partition keeps for consumers: enough for any bench's reader to keep up. */
const TAIL_BYTES_MAX = 16 * 1024 * 1024
/** Fetches waiting at once; a bench has a handful. */
const WAITERS_MAX = 10_000

interface StoredBatch {
  /** The offset after the batch's last. */
  nextOffset: number
  bytes: Buffer
}

class PartitionTail {
  logStartOffset = 0
  nextOffset = 0
  readonly batches: StoredBatch[] = []
  bytes = 0
}

export interface FetchWant {
  key: string
  fetchOffset: number
  maxBytes: number
}

export interface FetchRead {
  highWatermark: number
  logStartOffset: number
  records: Buffer
}

interface Waiter {
  keys: readonly string[]
  wake(): void
}

export class CeilingLogs {
  readonly #tails = new Map<string, PartitionTail>()
  readonly #waiters = new Set<Waiter>()

  /** Stamps each batch of `records` with its offsets, keeps a copy, and returns the first offset. */
  append(key: string, records: Buffer): number {
    const tail = this.#tail(key)
    const baseOffset = tail.nextOffset
    for (const span of iterateBatches(records)) {
      const batch = records.subarray(span.pos, span.pos + span.size)
      batch.writeBigInt64BE(BigInt(tail.nextOffset), BASE_OFFSET_OFFSET)
      const next = tail.nextOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + 1
      tail.batches.push({ nextOffset: next, bytes: Buffer.from(batch) })
      tail.bytes += batch.length
      tail.nextOffset = next
    }
    // Bounded: each pass drops one batch, and the newest stays.
    while (tail.bytes > TAIL_BYTES_MAX && tail.batches.length > 1) {
      const dropped = tail.batches.shift()!
      tail.bytes -= dropped.bytes.length
      tail.logStartOffset = dropped.nextOffset
    }
    for (const waiter of this.#waiters) if (waiter.keys.includes(key)) waiter.wake()
    return baseOffset
  }

  /** The batches from `fetchOffset` on, at least one and then up to maxBytes. */
  read(want: FetchWant): FetchRead {
    const tail = this.#tail(want.key)
    const found: Buffer[] = []
    let bytes = 0
    // Bounded: each pass takes one batch, and stops past maxBytes.
    for (let i = firstEndingAfter(tail.batches, want.fetchOffset); i < tail.batches.length; i++) {
      const batch = tail.batches[i]
      if (found.length > 0 && bytes + batch.bytes.length > want.maxBytes) break
      found.push(batch.bytes)
      bytes += batch.bytes.length
    }
    return { highWatermark: tail.nextOffset, logStartOffset: tail.logStartOffset, records: Buffer.concat(found) }
  }

  offsets(key: string): { logStartOffset: number; nextOffset: number } {
    const tail = this.#tail(key)
    return { logStartOffset: tail.logStartOffset, nextOffset: tail.nextOffset }
  }

  /** Resolves once a produce lands on one of `keys`, or after `maxWaitMs`. */
  waitFor(keys: readonly string[], maxWaitMs: number): Promise<void> {
    if (maxWaitMs <= 0 || this.#waiters.size >= WAITERS_MAX) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys,
        wake: () => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve()
        },
      }
      const timer = setTimeout(waiter.wake, maxWaitMs)
      this.#waiters.add(waiter)
    })
  }

  #tail(key: string): PartitionTail {
    let tail = this.#tails.get(key)
    if (tail === undefined) {
      tail = new PartitionTail()
      this.#tails.set(key, tail)
    }
    return tail
  }
}

/** The index of the first batch that ends after `offset` (batches ascend): a consumer's fetch is near the tail. */
function firstEndingAfter(batches: readonly StoredBatch[], offset: number): number {
  let low = 0
  let high = batches.length
  // Bounded: the range halves each pass.
  while (low < high) {
    const middle = (low + high) >>> 1
    if (batches[middle].nextOffset <= offset) low = middle + 1
    else high = middle
  }
  return low
}
