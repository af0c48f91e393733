/**
 * Requests that wait for a partition's state to move: fetch long-polls (until data arrives or
 * maxWaitMs passes) and acks=-1 produces (until the high watermark covers them or timeoutMs
 * passes), Kafka's DelayedFetch and DelayedProduce in one small purgatory. It runs on whatever
 * thread owns the partition (a shard worker), driven by an injected Clock, so tests move time by
 * hand.
 *
 * The replica calls `poke()` whenever something a waiter may be waiting for changed (an append,
 * a high-watermark move, an ISR change); each waiter's `tryComplete` decides for itself. The set
 * is bounded: `wait` returns null when full and the caller answers at once instead.
 */
import { assert } from '../../common/assert.js'
import type { Clock, TimerHandle } from '../../common/clock.js'
import { timerDelayMs } from '../../common/timers.js'

export interface DelayedOperation<T> {
  /** The answer if the operation can complete now, else undefined. Must not throw. */
  tryComplete(): T | undefined
  /** The answer when the deadline passes or the caller cancels. */
  onExpire(): T
  /** The answer when the partition gives the operation up (role change, close). */
  onAbort(): T
}

interface Pending<T> {
  operation: DelayedOperation<T>
  resolve: (value: T) => void
  timer: TimerHandle
}

export interface WaitHandle<T> {
  promise: Promise<T>
  /** Answers now with `onExpire()` (the caller gave up, e.g. its connection closed). */
  cancel(): void
}

export class DelayedOperations<T> {
  readonly #clock: Clock
  readonly #capacity: number
  readonly #pending = new Set<Pending<T>>()

  constructor(clock: Clock, capacity: number) {
    assert(capacity > 0, 'a delayed-operation set needs room for at least one waiter')
    this.#clock = clock
    this.#capacity = capacity
  }

  get size(): number {
    return this.#pending.size
  }

  get full(): boolean {
    return this.#pending.size >= this.#capacity
  }

  /**
   * Parks `operation` until it completes or `timeoutMs` passes; null when the set is full.
   * The caller should have tried completing it first: this does not. A timeout of 0 or below
   * expires on the next turn of the event loop, as Kafka's purgatory expires an operation whose
   * delay is already over; one beyond what a timer holds waits as long as a timer can.
   */
  wait(operation: DelayedOperation<T>, timeoutMs: number): WaitHandle<T> | null {
    if (this.full) return null
    const delayMs = timerDelayMs(timeoutMs)
    let pending!: Pending<T>
    const promise = new Promise<T>((resolve) => {
      const timer = this.#clock.setTimeout(() => this.#finish(pending, operation.onExpire()), delayMs)
      pending = { operation, resolve, timer }
    })
    this.#pending.add(pending)
    return { promise, cancel: () => this.#finish(pending, operation.onExpire()) }
  }

  /** Re-checks every waiter; completes those that can. */
  poke(): void {
    // Snapshot first: completing resolves promises, whose continuations run later, but a
    // tryComplete must not see a set that changes under it.
    for (const pending of [...this.#pending]) {
      const answer = pending.operation.tryComplete()
      if (answer !== undefined) this.#finish(pending, answer)
    }
  }

  /** Completes every waiter with its `onAbort()` answer, e.g. on a role change or close. */
  abortAll(): void {
    for (const pending of [...this.#pending]) this.#finish(pending, pending.operation.onAbort())
  }

  #finish(pending: Pending<T>, value: T): void {
    if (!this.#pending.delete(pending)) return
    this.#clock.clearTimeout(pending.timer)
    pending.resolve(value)
  }
}
