/**
 * Reusable buffers for large reads that live only until a socket or a ring has written them: a
 * fetch's record batches, read from a segment file and written to the client (or copied into the
 * ring to a follower's shard).
 *
 * Why: every fetch used to read into a fresh Buffer of up to a few MiB. V8 counts such buffers as
 * external memory and runs a full mark-compact every few tens of MiB of it, so a shard serving
 * fetches spent about a quarter of its time, and its GC helper threads nearly as much again, in
 * garbage collection (bench:protocol's fetch phase).
 *
 * Ownership: `take` lends a buffer. Whoever lends it on (the partition replica into a fetch result)
 * does not give it back; only the last holder does (the connection, once the socket has written
 * the response holding it), with `give`. A lent buffer that never comes back is garbage collected
 * like every other buffer, so a path that does not know the buffer's lifetime simply never gives it back.
 * Giving back a buffer still referenced elsewhere would let a later read overwrite it: give only
 * what nothing else can read any more.
 *
 * Not shared between threads: each worker has its own copy of this module, so its own pool.
 */
import { assert } from './assert.js'

export class BufferPool {
  /** Free buffers by size class (a power of two between the smallest and the largest class). */
  readonly #free = new Map<number, ArrayBuffer[]>()
  /** What is lent and not yet given back; weak, so one that never comes back is still collected. */
  readonly #lent = new WeakSet<ArrayBuffer>()
  readonly #classBytesMin: number
  readonly #classBytesMax: number
  readonly #retainedBytesMax: number
  #retainedBytes = 0

  /**
   * Requests from `classBytesMin` to `classBytesMax` bytes are served from the pool (rounded up to
   * a power of two); others get a plain Buffer. At most `retainedBytesMax` bytes wait free.
   */
  constructor(classBytesMin: number, classBytesMax: number, retainedBytesMax: number) {
    assert(isPowerOfTwo(classBytesMin) && isPowerOfTwo(classBytesMax) && classBytesMin <= classBytesMax, `size classes ${classBytesMin}..${classBytesMax} must be powers of two`)
    this.#classBytesMin = classBytesMin
    this.#classBytesMax = classBytesMax
    this.#retainedBytesMax = retainedBytesMax
  }

  /** Free bytes waiting to be lent again. */
  get retainedBytes(): number {
    return this.#retainedBytes
  }

  /** A buffer of exactly `length` bytes (uninitialised), lent from the pool when its size fits one. */
  take(length: number): Buffer {
    if (length < this.#classBytesMin || length > this.#classBytesMax) return Buffer.allocUnsafe(length)
    const size = Math.max(this.#classBytesMin, 2 ** Math.ceil(Math.log2(length)))
    const free = this.#free.get(size)
    let memory = free?.pop()
    if (memory === undefined) memory = new ArrayBuffer(size)
    else this.#retainedBytes -= size
    this.#lent.add(memory)
    return Buffer.from(memory, 0, length)
  }

  /** Whether `view` lies in a buffer this pool lent and has not had back. */
  isLent(view: Buffer): boolean {
    return this.#lent.has(view.buffer as ArrayBuffer)
  }

  /**
   * Takes back the buffer `view` lies in, when this pool lent it; anything else (and a second give
   * of the same buffer) is ignored. The caller vouches that nothing reads any view of it any more.
   */
  give(view: Buffer): void {
    const memory = view.buffer as ArrayBuffer
    if (!this.#lent.has(memory)) return
    this.#lent.delete(memory)
    if (this.#retainedBytes + memory.byteLength > this.#retainedBytesMax) return
    let free = this.#free.get(memory.byteLength)
    if (free === undefined) this.#free.set(memory.byteLength, (free = []))
    free.push(memory)
    this.#retainedBytes += memory.byteLength
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n
}

/**
 * This thread's pool for fetch reads, consumers' and followers': from 64 KiB (smaller reads are
 * cheap to allocate) to 4 MiB (the most one partition's fetch reads), and at most 32 MiB free at a
 * time. A consumer's comes back once its socket wrote it, a follower's once the ring to the
 * follower's shard copied it.
 */
export const fetchReadBuffers = new BufferPool(64 * 1024, 4 * 1024 * 1024, 32 * 1024 * 1024)

/**
 * This thread's pool for the followers' copies of their leaders' fetch answers, taken out of the
 * ring and given back once appended: from 16 KiB to 1 MiB (a larger answer crosses the ring in
 * fragments and is not copied again), and at most 8 MiB free at a time, since each copy comes
 * back within a turn of the thread. A smaller answer gets a buffer of its own: lending every
 * answer, rounded up to the smallest class, made a 1,200,000-frame protocol fuzz run's RSS grow
 * 154-161 MiB (two runs), where runs with the ring's former payload slab grew 84-130 (README).
 */
export const followerFetchCopies = new BufferPool(16 * 1024, 1024 * 1024, 8 * 1024 * 1024)
