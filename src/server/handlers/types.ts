/**
 * What every API handler looks like: the API key it serves, the versions it declares (the
 * ApiVersions answer is derived from these declarations, so what we advertise is exactly what we
 * dispatch), and a function from a decoded request to a response body.
 */
import type { BrokerCore } from '../core.js'
import type { Input, RequestApiKey, RequestByKey, ResponseByKey } from '../../protocol/index.js'

/** The per-request facts a handler may need beyond the body. */
export interface HandlerContext {
  readonly core: BrokerCore
  readonly clientId: string | null
  /** The peer as Kafka reports it in DescribeGroups: "/127.0.0.1". */
  readonly clientHost: string
  /** The connection's place in the order this broker node accepted its connections (a later one has a higher number). */
  readonly connectionOrdinal: number
  /** Aborted when the connection closes. */
  readonly signal: AbortSignal
}

/** A handler's answer when the request gets no response at all (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no response')

/**
 * A handler's answer when the connection must close at this point in the response order, as Kafka
 * does for an acks=0 produce that failed: the producer learns of the failure only by the close.
 */
export const CLOSE_CONNECTION = Symbol('close connection')

export type HandlerResult<K extends RequestApiKey> = Input<ResponseByKey[K]> | typeof NO_RESPONSE | typeof CLOSE_CONNECTION

export interface ApiHandler<K extends RequestApiKey = RequestApiKey> {
  readonly apiKey: K
  readonly minVersion: number
  readonly maxVersion: number
  // Method syntax on purpose: parameters are then bivariant, so handlers of different APIs sit
  // in one registry typed ApiHandler<RequestApiKey>.
  handle(ctx: HandlerContext, request: RequestByKey[K], version: number): Promise<HandlerResult<K>>
  /**
   * True when the connection must finish this request before it starts the next one. Kafka
   * handles a connection's requests one at a time; we run them concurrently, which is invisible to
   * a client that waits for each answer, but a request that gets no answer (acks=0) must have
   * taken effect before anything after it reads the state it changed.
   */
  exclusive?(request: RequestByKey[K], version: number): boolean
  /**
   * True when nothing the handler started reads the request's bytes once `handle` has resolved,
   * so the connection may free the request frame at once instead of leaving it to the collector.
   * Decoded record sets are views of the frame: a handler that leaves work running on them after
   * it resolves must not say so.
   */
  readonly frameDoneWhenHandled?: boolean
}

/** Declares a handler with its key's request and response types inferred. */
export function defineHandler<K extends RequestApiKey>(handler: ApiHandler<K>): ApiHandler<K> {
  return handler
}

/** Groups per-partition results under their topic, keeping the order topics first appear in. */
export function groupByTopic<T>(items: ReadonlyArray<{ topic: string; item: T }>): Array<{ name: string; items: T[] }> {
  const byName = new Map<string, T[]>()
  for (const { topic, item } of items) {
    let list = byName.get(topic)
    if (list === undefined) {
      list = []
      byName.set(topic, list)
    }
    list.push(item)
  }
  return Array.from(byName, ([name, list]) => ({ name, items: list }))
}
