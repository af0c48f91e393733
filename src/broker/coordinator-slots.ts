/**
 * The coordinators a broker node runs for one internal topic (on its shard's thread): one per
 * partition of the topic this node leads, as Kafka places group coordinators on
 * `__consumer_offsets` and transaction coordinators on `__transaction_state`. The metadata image
 * decides: when this node becomes a partition's leader, a coordinator starts and loads the
 * partition (trying again until it can: the replica may not have heard yet that it leads); when
 * leadership or the leader epoch moves, the coordinator stops, and a load still running gives up.
 * Both kinds of coordinator share this one lifecycle; what a load reads is theirs.
 */
import type { Clock } from '../common/clock.js'
import type { MetadataImage } from '../metadata/image.js'

/** Pause before trying a load again. */
const LOAD_RETRY_MS = 50
/** Failed loads between two warnings: a load that keeps failing says so every few seconds, not 20 times a second. */
const LOAD_FAILURES_PER_WARNING = 100

export interface CoordinatorSlot<C> {
  readonly partition: number
  /** The leader epoch the coordinator started under: it writes only under that epoch. */
  readonly leaderEpoch: number
  readonly coordinator: C
  /** Resolves once the partition is loaded (the coordinator then answers). */
  readonly loaded: Promise<void>
  /** Whether the slot has stopped: a load in progress gives up. */
  readonly closed: boolean
}

export interface CoordinatorSlotsOptions<C> {
  /** The internal topic whose partitions' leaders run the coordinators. */
  topic: string
  nodeId: number
  image: MetadataImage
  clock: Clock
  log: { warn(message: string): void }
  /** What a load reads, for the warning when it keeps failing ('groups', 'transactions'). */
  contents: string
  create(partition: number, leaderEpoch: number): C
  /**
   * Reads the slot's partition into its coordinator, once; a failure is tried again after a pause.
   * It applies nothing once `slot.closed` is set.
   */
  load(slot: CoordinatorSlot<C>): Promise<void>
}

interface MutableSlot<C> extends CoordinatorSlot<C> {
  loaded: Promise<void>
  closed: boolean
}

export class CoordinatorSlots<C extends { close(): void }> {
  readonly #options: CoordinatorSlotsOptions<C>
  readonly #slots = new Map<number, MutableSlot<C>>()

  constructor(options: CoordinatorSlotsOptions<C>) {
    this.#options = options
  }

  /** After every metadata change: a coordinator for each partition now led here, none for the others. */
  follow(): void {
    const { image, topic, nodeId } = this.#options
    const led = new Map<number, number>()
    for (const p of image.topics.get(topic)?.partitions ?? []) if (p.leader === nodeId) led.set(p.partition, p.leaderEpoch)
    for (const [partition, slot] of this.#slots) if (led.get(partition) !== slot.leaderEpoch) this.#stop(slot)
    for (const [partition, leaderEpoch] of led) if (!this.#slots.has(partition)) this.#start(partition, leaderEpoch)
  }

  /** The coordinator of `partition`, while this node runs one (loaded or not). */
  get(partition: number): CoordinatorSlot<C> | undefined {
    return this.#slots.get(partition)
  }

  values(): IterableIterator<CoordinatorSlot<C>> {
    return this.#slots.values()
  }

  get size(): number {
    return this.#slots.size
  }

  /** Resolves once every coordinator this node runs has loaded its partition. */
  async whenLoaded(): Promise<void> {
    await Promise.all([...this.#slots.values()].map((slot) => slot.loaded))
  }

  close(): void {
    for (const slot of this.#slots.values()) this.#stop(slot)
  }

  #start(partition: number, leaderEpoch: number): void {
    const coordinator = this.#options.create(partition, leaderEpoch)
    const slot: MutableSlot<C> = { partition, leaderEpoch, coordinator, loaded: Promise.resolve(), closed: false }
    slot.loaded = this.#load(slot)
    this.#slots.set(partition, slot)
  }

  #stop(slot: MutableSlot<C>): void {
    slot.closed = true
    slot.coordinator.close()
    if (this.#slots.get(slot.partition) === slot) this.#slots.delete(slot.partition)
  }

  async #load(slot: MutableSlot<C>): Promise<void> {
    const { clock, log, topic, contents } = this.#options
    // Bounded: each pass either loads, stops (leadership moved), or waits and tries again.
    for (let attempt = 0; !slot.closed; attempt++) {
      try {
        await this.#options.load(slot)
        return
      } catch (error) {
        if (attempt % LOAD_FAILURES_PER_WARNING === LOAD_FAILURES_PER_WARNING - 1) {
          log.warn(`loading ${contents} of ${topic}-${slot.partition} keeps failing: ${error instanceof Error ? error.message : String(error)}`)
        }
        await new Promise<void>((resolve) => clock.setTimeout(resolve, LOAD_RETRY_MS))
      }
    }
  }
}
