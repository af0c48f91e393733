/**
 * The bench's Kafka consumer fetches as Kafka's own consumers do: one long-poll fetch in flight
 * per broker, each broker's answer handed over as it comes. A single fetch awaiting every broker
 * at once would hold the records one broker answered with until the others answered too, up to
 * their long-poll wait, and count that wait as end-to-end latency.
 */
import type { FetchInput, FetchResult } from '../client/wire/kafka-client.js'

export interface BrokerFetchesOptions {
  /** The wire client (only its fetch is used, which routes each partition to its leader). */
  client: { fetch(inputs: readonly FetchInput[], options: { maxWaitMs: number; minBytes: number }): Promise<FetchResult[]> }
  topic: string
  /** The partitions to read, by their leader's broker id. */
  partitionsByLeader: ReadonlyMap<number, readonly number[]>
  /** Where each partition's next fetch starts; the caller moves it on as it reads. */
  positions: ReadonlyMap<number, number>
  maxWaitMs: number
  partitionMaxBytes: number
}

export class BrokerFetches {
  readonly #options: BrokerFetchesOptions
  /** At most one fetch per broker. */
  readonly #inFlight = new Map<number, Promise<{ leader: number; results: FetchResult[] }>>()

  constructor(options: BrokerFetchesOptions) {
    this.#options = options
  }

  /** Starts a fetch for every broker without one, and resolves with the first answer. */
  async next(): Promise<FetchResult[]> {
    for (const leader of this.#options.partitionsByLeader.keys()) if (!this.#inFlight.has(leader)) this.#inFlight.set(leader, this.#fetch(leader))
    const { leader, results } = await Promise.race(this.#inFlight.values())
    this.#inFlight.delete(leader)
    return results
  }

  /** Waits out the fetches still parked (they answer within their wait); their records are dropped. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#inFlight.values())
    this.#inFlight.clear()
  }

  #fetch(leader: number): Promise<{ leader: number; results: FetchResult[] }> {
    const { client, topic, positions, maxWaitMs, partitionMaxBytes } = this.#options
    const inputs = (this.#options.partitionsByLeader.get(leader) ?? []).map((partition) => ({ topic, partition, fetchOffset: positions.get(partition)!, partitionMaxBytes }))
    return client.fetch(inputs, { maxWaitMs, minBytes: 1 }).then((results) => ({ leader, results }))
  }
}
