/**
 * The newest client connection each producer (id and epoch) has sent a coordinator its requests
 * on, by a key of the coordinator's choosing. Clients send a producer's requests to a coordinator
 * on one connection at a time and open a new one only after giving the old one up, so a request
 * on an older connection is one the client abandoned, delayed until after its retry (see the
 * header of txn-coordinator.ts). Connections are ordinals in the order the broker accepted them;
 * a call without one is the broker's own. Lives on the thread of the coordinator that owns it.
 */
export class NewestConnections<K> {
  /** One entry per key the owner keeps; it deletes them with its own state. */
  readonly #newest = new Map<K, { producerId: number; producerEpoch: number; ordinal: number }>()

  /** Whether `connection` is older than the newest the same producer id and epoch used under `key`. */
  isAbandoned(key: K, producerId: number, producerEpoch: number, connection: number | undefined): boolean {
    if (connection === undefined) return false
    const newest = this.#newest.get(key)
    return newest !== undefined && newest.producerId === producerId && newest.producerEpoch === producerEpoch && connection < newest.ordinal
  }

  /** Makes `connection` the newest under `key`, unless the same producer id and epoch used a newer one. */
  note(key: K, producerId: number, producerEpoch: number, connection: number | undefined): void {
    if (connection === undefined) return
    const newest = this.#newest.get(key)
    if (newest !== undefined && newest.producerId === producerId && newest.producerEpoch === producerEpoch && connection <= newest.ordinal) return
    this.#newest.set(key, { producerId, producerEpoch, ordinal: connection })
  }

  delete(key: K): void {
    this.#newest.delete(key)
  }

  clear(): void {
    this.#newest.clear()
  }
}
