import { assert } from '../common/assert.js'

/*
 * Kafka's default partitioning, byte-for-byte what the Java client does, so a keyed record lands
 * on the same partition whichever client (Java, librdkafka with murmur2_random, kafkajs's
 * DefaultPartitioner) produced it:
 *
 *   keyed:   toPositive(murmur2(keyBytes)) % partitionCount
 *   unkeyed: the sticky partitioner (KIP-480): one partition for a whole batch, a new one when
 *            that batch is sent, so small batches fill up instead of spreading one record each.
 */

const SEED = 0x9747b28c
const M = 0x5bd1e995
const R = 24

/**
 * MurmurHash2 as `org.apache.kafka.common.utils.Utils.murmur2`: 32-bit, seed 0x9747b28c, signed
 * int32 result. Math.imul gives Java's wrapping int multiply; `>>>` is Java's unsigned shift.
 */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length
  let h = (SEED ^ length) | 0
  const tail = length & ~3
  for (let i = 0; i < tail; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
    k = Math.imul(k, M)
    k ^= k >>> R
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  // The trailing 1-3 bytes, in the order Java's fall-through switch takes them.
  const rest = length & 3
  if (rest >= 3) h ^= bytes[tail + 2] << 16
  if (rest >= 2) h ^= bytes[tail + 1] << 8
  if (rest >= 1) {
    h ^= bytes[tail]
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** Java's Utils.toPositive: clears the sign bit (not Math.abs, which differs for negatives). */
export function toPositive(value: number): number {
  return value & 0x7fffffff
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function defaultPartition(key: Uint8Array | string, partitionCount: number): number {
  checkPartitionCount(partitionCount)
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
  return toPositive(murmur2(bytes)) % partitionCount
}

function checkPartitionCount(partitionCount: number): void {
  if (!Number.isInteger(partitionCount) || partitionCount <= 0) {
    throw new RangeError(`partitionCount must be a positive integer, got ${partitionCount}`)
  }
}

// ---- unkeyed records ----------------------------------------------------------------------

/** What a custom partitioner is told about one record. */
export interface PartitionArgs {
  topic: string
  key: Uint8Array | null
  value: Uint8Array | null
  partitionCount: number
}

export type PartitionFn = (args: PartitionArgs) => number

/** A random int in [0, bound); injectable so tests are deterministic. */
export type RandomInt = (bound: number) => number

const mathRandomInt: RandomInt = (bound) => Math.floor(Math.random() * bound)

/**
 * KIP-480's sticky choice for unkeyed records: every record for a topic goes to the same
 * partition until the producer calls `onNewBatch` for that topic (its batch was sent or full),
 * then a different partition is chosen at random. Holds one entry per topic produced to.
 */
export class StickyPartitioner {
  private readonly current = new Map<string, number>()

  constructor(private readonly randomInt: RandomInt = mathRandomInt) {}

  partition(topic: string, partitionCount: number): number {
    checkPartitionCount(partitionCount)
    const sticky = this.current.get(topic)
    if (sticky !== undefined && sticky < partitionCount) return sticky
    return this.choose(topic, partitionCount, -1)
  }

  /** Called when the batch that was filling for `topic` is sent: move to another partition. */
  onNewBatch(topic: string, partitionCount: number): number {
    checkPartitionCount(partitionCount)
    return this.choose(topic, partitionCount, this.current.get(topic) ?? -1)
  }

  private choose(topic: string, partitionCount: number, previous: number): number {
    let next: number
    if (partitionCount === 1) {
      next = 0
    } else if (previous < 0 || previous >= partitionCount) {
      next = this.randomInt(partitionCount)
    } else {
      // Draw among the other partitions so a switch always moves, as Java's does.
      next = (previous + 1 + this.randomInt(partitionCount - 1)) % partitionCount
    }
    assert(Number.isInteger(next) && next >= 0 && next < partitionCount, `random partition ${next} out of range`)
    this.current.set(topic, next)
    return next
  }
}

/** Round-robin for unkeyed records, per topic: an alternative to sticky, named as an option. */
export class RoundRobinPartitioner {
  private readonly counters = new Map<string, number>()

  partition(topic: string, partitionCount: number): number {
    checkPartitionCount(partitionCount)
    const counter = this.counters.get(topic) ?? 0
    // Wrap the counter well inside 2^53 so it never loses precision.
    this.counters.set(topic, (counter + 1) % 0x40000000)
    return counter % partitionCount
  }

  onNewBatch(_topic: string, _partitionCount: number): void {}
}

export type PartitionerOption = 'default' | 'round-robin' | PartitionFn

/**
 * The producer's partitioner: keyed records by murmur2, unkeyed ones sticky ('default') or
 * round-robin; a custom function decides every record itself.
 */
export class Partitioner {
  private readonly custom: PartitionFn | undefined
  private readonly unkeyed: StickyPartitioner | RoundRobinPartitioner

  constructor(option: PartitionerOption = 'default', randomInt: RandomInt = mathRandomInt) {
    this.custom = typeof option === 'function' ? option : undefined
    this.unkeyed = option === 'round-robin' ? new RoundRobinPartitioner() : new StickyPartitioner(randomInt)
  }

  partition(args: PartitionArgs): number {
    checkPartitionCount(args.partitionCount)
    if (this.custom !== undefined) {
      const chosen = this.custom(args)
      // The function is the caller's code, so a bad answer is their error, not a broker invariant.
      if (!Number.isInteger(chosen) || chosen < 0 || chosen >= args.partitionCount) {
        throw new RangeError(`custom partitioner returned ${chosen} for ${args.partitionCount} partitions`)
      }
      return chosen
    }
    if (args.key !== null) return defaultPartition(args.key, args.partitionCount)
    return this.unkeyed.partition(args.topic, args.partitionCount)
  }

  /** Tell the partitioner a batch for `topic` was sent, so sticky moves to a new partition. */
  onNewBatch(topic: string, partitionCount: number): void {
    if (this.custom === undefined) this.unkeyed.onNewBatch(topic, partitionCount)
  }
}
