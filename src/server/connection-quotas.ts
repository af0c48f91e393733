/**
 * Connection counts of one listener, by Kafka's keys: max.connections (the listener's total) and
 * max.connections.per.ip with its per-address overrides. One broker is one listener here, so the
 * listener's total is Kafka's per-broker limit.
 *
 * A connection past a limit is closed as soon as it is accepted. Kafka does the same past the
 * per-address limit; past the broker-wide one it stops accepting until a slot frees, which in
 * Node would leave the refused connections queued in the kernel, invisible and unbounded, so
 * they are closed instead and the client retries with its reconnect backoff.
 */
import { isIP } from 'node:net'
import { assert } from '../common/assert.js'

export interface ConnectionQuotaLimits {
  /** max.connections: open connections on the listener. */
  maxConnections: number
  /** max.connections.per.ip: open connections from one address. */
  maxConnectionsPerIp: number
  /** max.connections.per.ip.overrides: per-address limits that replace maxConnectionsPerIp, by IP address. */
  maxConnectionsPerIpOverrides: Readonly<Record<string, number>>
}

export const UNLIMITED_CONNECTIONS = 2_147_483_647

/** IPv4 peers of a dual-stack listener arrive as ::ffff:a.b.c.d; they count as a.b.c.d. */
export function canonicalAddress(address: string): string {
  const lower = address.toLowerCase()
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower
}

export class ConnectionQuotas {
  readonly #limits: ConnectionQuotaLimits
  readonly #overrides: ReadonlyMap<string, number>
  /** Only addresses with an open connection: an entry goes when its count reaches zero. */
  readonly #byAddress = new Map<string, number>()
  #total = 0

  constructor(limits: ConnectionQuotaLimits) {
    this.#limits = limits
    this.#overrides = new Map(Object.entries(limits.maxConnectionsPerIpOverrides).map(([address, n]) => [canonicalAddress(address), n]))
  }

  get total(): number {
    return this.#total
  }

  /** Takes a slot for a connection from `address`; null when taken, else which limit refused it. */
  tryAcquire(address: string): string | null {
    const key = canonicalAddress(address)
    const fromAddress = this.#byAddress.get(key) ?? 0
    const perAddressMax = this.#overrides.get(key) ?? this.#limits.maxConnectionsPerIp
    if (fromAddress >= perAddressMax) return `max.connections.per.ip (${perAddressMax}) reached for ${key}`
    if (this.#total >= this.#limits.maxConnections) return `max.connections (${this.#limits.maxConnections}) reached`
    this.#byAddress.set(key, fromAddress + 1)
    this.#total++
    return null
  }

  /** Gives back the slot of a connection that tryAcquire let in. */
  release(address: string): void {
    const key = canonicalAddress(address)
    const fromAddress = this.#byAddress.get(key)
    assert(fromAddress !== undefined && this.#total > 0, `a connection from ${key} to release`)
    if (fromAddress === 1) this.#byAddress.delete(key)
    else this.#byAddress.set(key, fromAddress - 1)
    this.#total--
  }
}
