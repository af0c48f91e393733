/**
 * One thread's doorbell: a word in shared memory that every writer into that thread's rings
 * rings, so the thread can sleep on one address while it reads from many rings (the main thread's
 * ring and one ring from each peer shard).
 *
 * Layout: one 64-byte cache line per thread in a shared array (so two threads' doorbells never
 * share a line), of which two Int32 slots are used:
 *
 *   slot 0  SEQUENCE  bumped by a writer that found the reader asleep, then notified
 *   slot 1  SLEEPING  1 while the reader sleeps (or is about to); set by the reader, cleared by a writer
 *
 * The reader sets SLEEPING, reads SEQUENCE, checks every ring once more, and only then waits on
 * SEQUENCE. A writer publishes its frame (a sequentially consistent store of the ring's TAIL) and
 * then reads SLEEPING. Either the writer sees SLEEPING (and bumps and notifies), or the reader's
 * last check sees the frame: both cannot miss each other. A notify that comes between the check
 * and the wait changed SEQUENCE, so the wait returns at once.
 */
import { assert } from '../common/assert.js'

const LINE_INT32S = 16
const SEQUENCE = 0
const SLEEPING = 1

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
/** ES2024's Atomics.waitAsync exists in Node 20 but not in the ES2023 lib this project compiles against. */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult }).waitAsync

/** Shared memory for the doorbells of `count` threads. */
export function createDoorbells(count: number): SharedArrayBuffer {
  assert(Number.isInteger(count) && count >= 1 && count <= 4096, `doorbell count must be 1..4096, got ${count}`)
  return new SharedArrayBuffer(count * LINE_INT32S * 4)
}

export class Doorbell {
  readonly #words: Int32Array
  readonly #base: number

  constructor(sab: SharedArrayBuffer, index: number) {
    this.#words = new Int32Array(sab)
    this.#base = index * LINE_INT32S
    assert(index >= 0 && this.#base + LINE_INT32S <= this.#words.length, `no doorbell ${index}`)
  }

  /** Writer side, after publishing: wakes the reader if it sleeps; one notify per sleep, not per frame. */
  ring(): void {
    const words = this.#words
    if (Atomics.load(words, this.#base + SLEEPING) === 0) return
    if (Atomics.compareExchange(words, this.#base + SLEEPING, 1, 0) !== 1) return
    Atomics.add(words, this.#base + SEQUENCE, 1)
    Atomics.notify(words, this.#base + SEQUENCE)
  }

  /** Wakes the reader whether or not it sleeps (to stop its loop, or to look at a new ring). */
  wake(): void {
    Atomics.store(this.#words, this.#base + SLEEPING, 0)
    Atomics.add(this.#words, this.#base + SEQUENCE, 1)
    Atomics.notify(this.#words, this.#base + SEQUENCE)
  }

  /**
   * Reader side: announces the sleep and returns the sequence to wait on. The caller then checks
   * its rings once more and either cancels (data came) or calls `sleep(sequence)`.
   */
  prepareSleep(): number {
    Atomics.store(this.#words, this.#base + SLEEPING, 1)
    return Atomics.load(this.#words, this.#base + SEQUENCE)
  }

  cancelSleep(): void {
    Atomics.store(this.#words, this.#base + SLEEPING, 0)
  }

  /**
   * Sleeps until a writer rings or `wake()` is called. There is no timeout: V8 arms a delayed task
   * for a waitAsync that has one, and Node wakes the sleeping thread's own event loop to schedule
   * it, so every sleep cost a second wake-up (and a V8 platform thread's) besides the writer's. A
   * reader loop that must look again without a ring (see startMultiReaderLoop) keeps a timer of
   * its own. Node does not count a pending waitAsync as work: the caller's loop holds the event
   * loop if the thread must stay alive.
   */
  async sleep(sequence: number): Promise<void> {
    const waited = waitAsync(this.#words, this.#base + SEQUENCE, sequence)
    if (waited.async) await waited.value
    Atomics.store(this.#words, this.#base + SLEEPING, 0)
  }
}
