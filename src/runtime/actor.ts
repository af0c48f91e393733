/**
 * Actors as the runtime sees them: an address, a bounded mailbox, and user code that handles one
 * message at a time. The code comes from an actor module (compiled JS) exporting
 * `createActor(init, context)`; this file holds the contract and the mailbox that drives it.
 */
import type { BufferPool } from '../common/buffer-pool.js'
import type { Clock, TimerHandle } from '../common/clock.js'
import { PartitaError, serializeError, type SerializedError } from '../common/errors.js'
import type { ActorId } from './codec.js'
import { runInTurn } from './turns.js'

export type { ActorId } from './codec.js'

/** The shard number of the main thread in an address: a shard asks `{ shard: MAIN_THREAD, id }`. */
export const MAIN_THREAD = -1

/** Where an actor lives: its shard (worker thread index) and its id, unique on that shard. */
export interface ActorAddress {
  shard: number
  id: ActorId
}

/** An answer to a request: a plain-data message (msgpack'd across threads) and raw bytes. */
export interface ActorReply<T = unknown> {
  message: T
  payload?: Buffer
}

/**
 * The capability to answer one message. It may be used after the handler has returned (a
 * long-poll answers when data arrives) without holding up the mailbox. Only the first answer
 * counts; later ones return false. For a tell, answers go nowhere and return false.
 */
export interface Reply {
  /** Whether the sender waits for an answer (a request, not a tell). */
  readonly expected: boolean
  /** Whether an answer has been given. */
  readonly done: boolean
  ok(message: unknown, payload?: Uint8Array): boolean
  /** Answers with an error; it is rethrown on the caller's side with its code kept. */
  fail(error: unknown): boolean
}

export interface RequestOptions {
  /** Default: the pool's requestTimeoutMs. */
  timeoutMs?: number
  /**
   * When the answer crosses to a shard from another, copy its payload into a buffer lent from this
   * pool (the asking thread's; a size outside its classes gets a buffer of its own), which the
   * asker gives back once nothing reads it. For an answer dropped as soon as it is used: the next
   * one reuses the memory. (From the same shard the payload comes as the answerer gave it, and
   * giving it back to a pool that did not lend it does nothing.)
   */
  replyPayloadPool?: BufferPool
}

/** What an actor may do besides answering: given to its factory. */
export interface ActorContext {
  readonly address: ActorAddress
  readonly clock: Clock
  /** Fire-and-forget message to any actor: on this shard directly, else over the ring to its shard. */
  send(to: ActorAddress, message: unknown, payload?: Uint8Array): void
  /** A request to any actor; rejects with the answerer's error, or PARTITA_REQUEST_TIMEOUT. */
  request<T = unknown>(to: ActorAddress, message: unknown, payload?: Uint8Array, options?: RequestOptions): Promise<ActorReply<T>>
  /** An event for the main thread's `pool.onEvent` handlers. */
  emit(event: unknown, payload?: Uint8Array): void
  /** Timers that are cleared when the actor stops. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
  /**
   * Ends the whole shard if `error` is a broken invariant (a bug): the state in this thread can no
   * longer be trusted, so it stops serving, and the supervisor restarts it from the logs. Any other
   * error is an expected failure and is left to the caller to answer. Handler errors the mailbox
   * catches are checked this way already; actors call it for failures they catch themselves.
   */
  crashOnInvariantViolation(error: unknown): void
}

/** The user code of one actor. */
export interface Actor {
  /**
   * Handles one message. The next message waits until the returned promise settles; a throw or
   * rejection answers the message with that error if it is not answered yet.
   */
  receive(message: unknown, payload: Buffer | undefined, reply: Reply): void | Promise<void>
  /** Called once when the actor is stopped or its shard shuts down. */
  stop?(): void | Promise<void>
}

export type CreateActor = (init: unknown, context: ActorContext) => Actor | Promise<Actor>

/** What an actor module exports. */
export interface ActorModule {
  createActor: CreateActor
}

/** How a reply reaches its asker: over a ring, or directly on the same shard. */
export type ReplySink = (outcome: { ok: true; message: unknown; payload?: Uint8Array } | { ok: false; error: SerializedError }) => void

/** A Reply that forwards the first answer to `sink`; `sink` null means a tell. */
export class ReplyHandle implements Reply {
  #sink: ReplySink | null
  #done = false

  constructor(sink: ReplySink | null) {
    this.#sink = sink
  }

  get expected(): boolean {
    return this.#sink !== null
  }

  get done(): boolean {
    return this.#done
  }

  ok(message: unknown, payload?: Uint8Array): boolean {
    if (this.#done || this.#sink === null) return false
    this.#done = true
    this.#sink({ ok: true, message, payload })
    return true
  }

  fail(error: unknown): boolean {
    if (this.#done || this.#sink === null) return false
    this.#done = true
    this.#sink({ ok: false, error: serializeError(error) })
    return true
  }
}

interface Envelope {
  message: unknown
  payload: Buffer | undefined
  reply: ReplyHandle
}

/** Reports a failure no caller is waiting for (a tell's handler threw, a tell was dropped). */
export type OrphanErrorSink = (address: ActorAddress, error: unknown) => void

/** Sees every error a handler threw, after it was answered or reported (the shard crashes on bugs). */
export type HandlerErrorSink = (error: unknown) => void

/**
 * One actor's mailbox and its processing loop. Messages arriving while the actor is still being
 * created wait in the mailbox too, so a spawn followed at once by requests works.
 */
export class ActorCell {
  readonly address: ActorAddress
  readonly #queue: Envelope[] = []
  readonly #capacity: number
  readonly #onOrphanError: OrphanErrorSink
  readonly #onHandlerError: HandlerErrorSink
  #actor: Actor | null = null
  #running = false
  #stopped = false

  constructor(address: ActorAddress, capacity: number, onOrphanError: OrphanErrorSink, onHandlerError: HandlerErrorSink = () => {}) {
    this.address = address
    this.#capacity = capacity
    this.#onOrphanError = onOrphanError
    this.#onHandlerError = onHandlerError
  }

  get queued(): number {
    return this.#queue.length
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Installs the created actor and starts on the messages that waited for it. */
  start(actor: Actor): void {
    this.#actor = actor
    this.#kick()
  }

  /** Queues a message, or answers PARTITA_MAILBOX_FULL (a request) / reports it (a tell). */
  deliver(message: unknown, payload: Buffer | undefined, reply: ReplyHandle): void {
    if (this.#stopped) {
      this.#refuse(reply, new PartitaError('PARTITA_NO_SUCH_ACTOR', `actor ${String(this.address.id)} on shard ${this.address.shard} is stopped`))
      return
    }
    if (this.#queue.length >= this.#capacity) {
      this.#refuse(reply, new PartitaError('PARTITA_MAILBOX_FULL', `mailbox of actor ${String(this.address.id)} on shard ${this.address.shard} holds ${this.#capacity} messages`))
      return
    }
    this.#queue.push({ message, payload, reply })
    this.#kick()
  }

  #refuse(reply: ReplyHandle, error: PartitaError): void {
    if (reply.expected) reply.fail(error)
    else this.#onOrphanError(this.address, error)
  }

  #kick(): void {
    if (this.#running || this.#actor === null || this.#queue.length === 0) return
    this.#running = true
    // A microtask (or a later turn, when this thread used its budget), so delivery never runs
    // user code inside the sender's call stack.
    runInTurn(() => void this.#drain())
  }

  async #drain(): Promise<void> {
    const actor = this.#actor!
    try {
      // Bounded by the mailbox: each pass takes one message; new ones are capped by #capacity.
      while (this.#queue.length > 0 && !this.#stopped) {
        const envelope = this.#queue.shift()!
        try {
          // A handler that finished synchronously (a produce: it appends, then answers later) is
          // not awaited: an await costs a microtask hop per message, and the hot path is that
          // kind of message. The next message still starts only after this one's handler returned.
          const pending = actor.receive(envelope.message, envelope.payload, envelope.reply)
          if (pending !== undefined) await pending
        } catch (error) {
          if (!envelope.reply.fail(error)) this.#onOrphanError(this.address, error)
          this.#onHandlerError(error)
        }
      }
    } finally {
      this.#running = false
    }
    this.#kick()
  }

  /** Refuses queued and future messages and calls the actor's stop hook. */
  async stop(reason: PartitaError): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const envelope of this.#queue.splice(0)) envelope.reply.fail(reason)
    await this.#actor?.stop?.()
  }
}
