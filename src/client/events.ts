/**
 * kafkajs-style instrumentation events: `client.on(client.events.X, listener)` returns a function
 * that removes the listener, and every listener gets `{ id, type, timestamp, payload }`.
 * A throwing listener must not break the client, so listener errors are swallowed.
 */
import { EventEmitter } from 'node:events'

export interface InstrumentationEvent<T> {
  id: number
  type: string
  timestamp: number
  payload: T
}

export type RemoveListener = () => void

export class Instrumentation<Events extends Record<string, string>> {
  readonly #emitter = new EventEmitter()
  readonly #known: Set<string>
  #nextId = 0

  constructor(readonly events: Events) {
    this.#known = new Set(Object.values(events))
    // Applications may attach a listener per partition or per test; this is not a leak.
    this.#emitter.setMaxListeners(1_000)
  }

  on(type: string, listener: (event: InstrumentationEvent<unknown>) => void): RemoveListener {
    if (!this.#known.has(type)) {
      throw new TypeError(`unknown event ${type}; known: ${[...this.#known].join(', ')}`)
    }
    const wrapped = (event: InstrumentationEvent<unknown>): void => {
      try {
        const result = listener(event) as unknown
        // An async listener's rejection is the listener's own business, as in kafkajs.
        if (result instanceof Promise) result.catch(() => {})
      } catch {
        // See the class comment: a listener never breaks the client.
      }
    }
    this.#emitter.on(type, wrapped)
    return () => this.#emitter.off(type, wrapped)
  }

  emit(type: string, payload: unknown): void {
    const event: InstrumentationEvent<unknown> = { id: this.#nextId++, type, timestamp: Date.now(), payload }
    this.#emitter.emit(type, event)
  }
}
