/**
 * Transaction verification (KIP-890 part 1) on a broker node's shard thread. A producer's first
 * transactional write to a partition (a Produce, or a TxnOffsetCommit to __consumer_offsets) is
 * appended only once the transaction coordinator says the partition is in the producer's open
 * transaction. Without it a write no AddPartitionsToTxn / AddOffsetsToTxn announced (a client
 * bug, a late retry of a transaction already ended, hostile bytes) opens a transaction at the
 * partition that no marker will ever end, and holds its last stable offset, its compaction and
 * (for __consumer_offsets) its pending offsets back for good.
 *
 * A verified (producer, partition) is remembered until a marker for that producer is written
 * there, so the transaction's later writes are not asked about again. The race Kafka's
 * verification guard closes is closed the same way: the marker forgets the entry before it is
 * sent to the partition, and `appendAdmitted` appends only if `holds` is still true in the same
 * synchronous step that sends the write, so no write of an ended transaction lands after its marker.
 */
import { ErrorCode } from '../common/error-codes.js'
import { dynamicFor } from '../metadata/broker-dynamic-configs.js'
import type { MetadataImage } from '../metadata/image.js'
import type { TxnVerifyRequest } from './txn-coordinators.js'

/**
 * Verified (producer, partition) pairs kept at most: a pair is dropped at its marker, so this
 * bounds only open transactions' partitions. Past it the oldest is forgotten, which costs it one
 * more verification, never a wrong answer.
 */
export const VERIFIED_MAX = 65_536

/** Kafka's cluster-wide dynamic broker key for the switch (kafka-configs --alter --entity-type brokers). */
const ENABLE_KEY = 'transaction.partition.verification.enable'

interface Entry {
  producerEpoch: number
  /** The partition's leader epoch when verified: a leadership that moved away and back verifies again. */
  leaderEpoch: number
  verified: boolean
  /** The coordinator's answer, awaited by every write that arrives while it is asked. */
  answer: Promise<number>
}

export class TxnVerification {
  readonly #image: MetadataImage
  readonly #verify: (request: TxnVerifyRequest) => Promise<number>
  /** transaction.partition.verification.enable as the broker started with it; a dynamic value overrides it. */
  readonly #enabledAtStart: boolean
  /** This broker's id, whose own dynamic value overrides the cluster default's; null: the cluster default alone. */
  readonly #nodeId: number | null
  /** Keyed by producer id and partition; insertion order is age. */
  readonly #entries = new Map<string, Entry>()

  constructor(image: MetadataImage, verify: (request: TxnVerifyRequest) => Promise<number>, enabledAtStart = true, nodeId: number | null = null) {
    this.#image = image
    this.#verify = verify
    this.#enabledAtStart = enabledAtStart
    this.#nodeId = nodeId
  }

  get size(): number {
    return this.#entries.size
  }

  /**
   * NONE once the write may go on (then `holds` says so until a marker), else the code to answer:
   * Kafka's verification codes; a transactional write without a transactional id is answered
   * TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as Kafka's KafkaApis answers it.
   */
  async admit(transactionalId: string | null, producerId: number, producerEpoch: number, topic: string, partition: number): Promise<number> {
    if (transactionalId === null) return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    if (this.holds(producerId, producerEpoch, topic, partition)) return ErrorCode.NONE
    const key = entryKey(producerId, topic, partition)
    const leaderEpoch = this.#leaderEpoch(topic, partition)
    let entry = this.#entries.get(key)
    // A producer pipelines its writes (up to 5 in flight): those that arrive while the first is
    // verified wait for the same answer, and resume in arrival order, so their appends keep it.
    if (entry === undefined || entry.verified || entry.producerEpoch !== producerEpoch || entry.leaderEpoch !== leaderEpoch) {
      entry = { producerEpoch, leaderEpoch, verified: false, answer: this.#verify({ transactionalId, producerId, producerEpoch, partition: { topic, partition } }) }
      this.#entries.delete(key)
      this.#entries.set(key, entry)
    }
    const code = await entry.answer
    // A marker (or a newer verification) replaced the entry meanwhile: the answer is stale.
    if (this.#entries.get(key) !== entry) return code === ErrorCode.NONE ? ErrorCode.INVALID_TXN_STATE : code
    if (code !== ErrorCode.NONE) {
      this.#entries.delete(key)
      return code
    }
    entry.verified = true
    this.#trim()
    return ErrorCode.NONE
  }

  /**
   * Runs `append` once the write is admitted, in the same synchronous step as the last check that
   * the verification still holds (admit's own check ran a step before its caller resumes, and a
   * marker may come between). Returns what `append` returns, or the code that refused the write.
   */
  async appendAdmitted<T extends object>(
    transactionalId: string | null,
    producerId: number,
    producerEpoch: number,
    topic: string,
    partition: number,
    append: () => Promise<T>,
  ): Promise<T | number> {
    const code = await this.admit(transactionalId, producerId, producerEpoch, topic, partition)
    if (code !== ErrorCode.NONE) return code
    if (!this.holds(producerId, producerEpoch, topic, partition)) return ErrorCode.INVALID_TXN_STATE
    return append()
  }

  /** Whether the producer's transaction was verified at this partition and no marker ended it since. */
  holds(producerId: number, producerEpoch: number, topic: string, partition: number): boolean {
    if (!this.#enabled()) return true
    const entry = this.#entries.get(entryKey(producerId, topic, partition))
    return entry !== undefined && entry.verified && entry.producerEpoch === producerEpoch && entry.leaderEpoch === this.#leaderEpoch(topic, partition)
  }

  /** Called before a marker for the producer is sent to the partition: its next transaction there is verified again. */
  markerWritten(producerId: number, topic: string, partition: number): void {
    this.#entries.delete(entryKey(producerId, topic, partition))
  }

  /**
   * Off, every write with a transactional id goes on unasked. Kafka updates the key dynamically,
   * for the cluster or one broker: the image carries those values, and the next write reads them.
   */
  #enabled(): boolean {
    const value = dynamicFor(this.#image.brokerConfigs, this.#nodeId)[ENABLE_KEY]
    return value === undefined ? this.#enabledAtStart : value.trim().toLowerCase() === 'true'
  }

  #leaderEpoch(topic: string, partition: number): number {
    return this.#image.partition(topic, partition)?.leaderEpoch ?? -1
  }

  #trim(): void {
    // Bounded by the map; one entry is over at most. An entry still being verified is left alone
    // (there are as many as writes in flight), so its answer is not made stale.
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= VERIFIED_MAX) return
      if (entry.verified) this.#entries.delete(key)
    }
  }
}

function entryKey(producerId: number, topic: string, partition: number): string {
  return `${producerId}\u0000${topic}\u0000${partition}`
}
