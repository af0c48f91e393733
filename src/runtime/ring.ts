/**
 * A single-producer single-consumer ring of length-framed byte messages over a SharedArrayBuffer,
 * one per direction between two threads.
 *
 * Layout of the SharedArrayBuffer (Int32 slots in host byte order; every slot is named below):
 *
 *   byte 0 ........ 64 ........ 128 ........ 192 ........ 256 ............ 256 + capacity
 *   | HEAD         | TAIL        | CAPACITY    | (unused)   | data region ...............|
 *   | READER_SLEEP | WRITER_WAIT | MAGIC       |            |                            |
 *
 * The reader owns the first cache line (HEAD, READER_SLEEPING), the writer the second (TAIL,
 * WRITER_WAITING), so the two threads do not bounce one line between cores on every frame.
 * HEAD and TAIL are byte counters that only grow (modulo 2^32); a byte position in the data
 * region is `counter & (capacity - 1)`, which is why the capacity is a power of two. The ring is
 * empty when HEAD == TAIL and holds `(TAIL - HEAD) >>> 0` bytes otherwise.
 *
 * A frame is an 8-byte header (an Int32 length, then 4 unused bytes) followed by the bytes,
 * padded to a multiple of 8, so every frame's bytes start on an 8-byte boundary:
 *
 *   ... | len=5 . | b b b b b . . . | len=0 . | len=2 . | b b . . . . . . | PAD=-1 ..... end |
 *     ^ HEAD & mask                                          TAIL & mask wraps to 0 ^
 *
 * Why 8: V8 copies between a SharedArrayBuffer and other memory with relaxed atomic word moves,
 * and when the two sides' addresses differ modulo 8 it falls back to a far slower path: copying 16
 * KiB into a ring took 6.0-6.5 µs at a misaligned offset against 0.8-0.9 µs aligned (Node 24.22.3).
 * The codec puts each payload (record batches a follower fetched) at an 8-byte boundary of its
 * frame, so the copies into and out of the ring take the fast path (codec.ts).
 *
 * Wrap-around: a frame never splits. When a frame does not fit between the write position and
 * the end of the data region, the writer puts a PAD marker (-1) there, which tells the reader to
 * skip to position 0, and writes the frame at the start. The pad is published on its own when
 * the frame itself does not fit yet, so even a frame of the full capacity fits once the reader
 * has caught up. The largest frame is therefore `capacity - 4` bytes.
 *
 * Memory ordering: payload and length words are plain typed-array writes; the writer publishes
 * them with `Atomics.store(TAIL)` and the reader reads them only after `Atomics.load(TAIL)`
 * (sequentially consistent, so the plain writes before the store are visible after the load).
 * Likewise the reader frees space with `Atomics.store(HEAD)` after it has finished with the
 * bytes. Each side keeps its own counter locally and a cached copy of the other's, reloading it
 * only when the cache says the ring is empty (reader) or full (writer): no per-frame Atomics
 * beyond the one publishing store.
 *
 * Doorbell: a reader with nothing to read (after a spin, if asked for one) sets READER_SLEEPING,
 * re-checks TAIL, and sleeps in `Atomics.waitAsync(TAIL)` (never a blocking `Atomics.wait`: the
 * threads also do I/O). The writer calls `Atomics.notify` only when it finds READER_SLEEPING set, and
 * clears it when it does, so a busy ring pays no syscall per frame. The writer waiting for space
 * does the same on HEAD with WRITER_WAITING.
 */
import { assert } from '../common/assert.js'
import { PartitaError } from '../common/errors.js'
import type { Doorbell } from './doorbell.js'

/** Reader's byte counter. Written by the reader only. */
const HEAD = 0
/** 1 while the reader sleeps (or is about to) in Atomics.waitAsync on TAIL. Set by the reader, cleared by either. */
const READER_SLEEPING = 1
/** Writer's byte counter. Written by the writer only. */
const TAIL = 16
/** 1 while the writer waits for space in Atomics.waitAsync on HEAD. Set by the writer, cleared by either. */
const WRITER_WAITING = 17
/** Size of the data region in bytes; written once at creation. */
const CAPACITY = 32
/** Marks the buffer as a ring, so a wrong buffer is caught at attach time. */
const MAGIC = 33

const MAGIC_VALUE = 0x52494e47 // "RING"
const CONTROL_BYTES = 256
const FRAME_HEADER_BYTES = 8
/** Every frame starts on a multiple of this (see the header); the codec aligns payloads to it too. */
export const FRAME_ALIGN_BYTES = 8
/** Length word meaning "nothing more before the end of the data region: continue at 0". */
const PAD = -1

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
/** ES2024's Atomics.waitAsync exists in Node 20 but not in the ES2023 lib this project compiles against. */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult }).waitAsync

const noop = (): void => {}

/**
 * Sleeps until `control[index]` is notified or no longer `value`, at most `timeoutMs`. Node does
 * not count a pending waitAsync as work, so with `keepAlive` a timer of the same length holds the
 * event loop. Readers pass false: their loops hold it once for their life (`holdEventLoop`),
 * because they sleep thousands of times a second. A writer's wait for space is rare.
 */
async function sleepOn(control: Int32Array, index: number, value: number, timeoutMs: number, keepAlive: boolean): Promise<void> {
  const boundedMs = Math.max(0, Math.min(timeoutMs, 2 ** 31 - 1))
  const waited = waitAsync(control, index, value, boundedMs)
  if (!waited.async) return
  const timer = keepAlive ? setTimeout(noop, boundedMs) : null
  try {
    await waited.value
  } finally {
    if (timer !== null) clearTimeout(timer)
  }
}

/** Longer than any sleep; the interval only holds the loop, so when it fires does not matter. */
const HOLD_INTERVAL_MS = 2 ** 31 - 1

/**
 * Keeps the thread's event loop alive for a reader loop's life, or does nothing when `keepAlive`
 * is false. One handle for the loop, not a timer armed and cleared around every sleep: under a
 * light load a shard sleeps thousands of times a second, and the timer showed in its profile.
 * Returns the release.
 */
function holdEventLoop(keepAlive: boolean): () => void {
  if (!keepAlive) return noop
  const handle = setInterval(noop, HOLD_INTERVAL_MS)
  return () => clearInterval(handle)
}

/**
 * Polls `ready` for up to `spinMicros` before the caller goes to sleep: a wake-up by
 * waitAsync/notify costs about 100 µs, a frame that arrives during the spin is seen in about 1.
 * The clock is read once per 64 polls, so the poll itself stays a load and a compare.
 */
function spinUntil(ready: () => boolean, spinMicros: number): boolean {
  if (spinMicros <= 0) return ready()
  const untilMs = performance.now() + spinMicros / 1000
  // Bounded by the deadline: performance.now() is monotonic.
  for (;;) {
    for (let i = 0; i < 64; i++) if (ready()) return true
    if (performance.now() >= untilMs) return false
  }
}

/**
 * How long readers and writers poll before they sleep, unless told otherwise: not at all. A spin
 * of 50 µs (the old default) costs the broker CPU every time a ring goes quiet, and bought it
 * nothing measurable. `partita bench e2e --records 160000 --throughput 20000 --durability
 * page-cache`, Node 24, two runs each way (2026-12-05): 41.9 and 42.5 broker CPU-µs per record
 * without a spin, 46.4 and 47.0 with it, at the same e2e p99 (7.0 against 7.0 and 7.5 ms).
 * bench:protocol's acks=all RF 3 phase made 0.97 and 1.00 M records/s either way. What a spin
 * buys is a faster wake-up of an idle ring: bench:ring's round trip, p50 2.4 µs with it against
 * 15.1 without, p99 133 against 125 µs.
 */
const SPIN_MICROS_DEFAULT = 0

const CAPACITY_MIN_BYTES = 64
const CAPACITY_MAX_BYTES = 1 << 30

/** The frame bytes rounded up to the 8-byte alignment of the next frame. */
function frameBytes(length: number): number {
  return FRAME_HEADER_BYTES + ((length + FRAME_ALIGN_BYTES - 1) & ~(FRAME_ALIGN_BYTES - 1))
}

/** Allocates the shared memory of a ring whose data region holds `capacityBytes` (a power of two). */
export function createRingBuffer(capacityBytes: number): SharedArrayBuffer {
  assert(
    Number.isInteger(capacityBytes) &&
      capacityBytes >= CAPACITY_MIN_BYTES &&
      capacityBytes <= CAPACITY_MAX_BYTES &&
      (capacityBytes & (capacityBytes - 1)) === 0,
    `ring capacity must be a power of two in [${CAPACITY_MIN_BYTES}, ${CAPACITY_MAX_BYTES}], got ${capacityBytes}`,
  )
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacityBytes)
  touchPages(sab)
  const control = new Int32Array(sab, 0, CONTROL_BYTES / 4)
  control[CAPACITY] = capacityBytes
  control[MAGIC] = MAGIC_VALUE
  return sab
}

/** Linux's page size on the machines we run on; touching more often than once a page is harmless. */
const PAGE_BYTES = 4096

/**
 * Makes every page of the ring resident now. Left to the kernel, a page becomes resident the first
 * time the write position reaches it, so a ring that carries little (a shard-to-shard ring under a
 * light load) goes on growing the broker's RSS for hours until it has gone round once: a fuzz run's
 * RSS grew 14 MiB from the rings alone between frames 141,000 and 827,000. Touched here, the memory
 * the rings will hold anyway is there from the start (as a JVM's -XX:+AlwaysPreTouch does for its
 * heap), so RSS growth means memory the broker keeps. It costs a page fault per 4 KiB once, about a
 * millisecond for 4 MiB.
 */
function touchPages(sab: SharedArrayBuffer): void {
  const bytes = new Uint8Array(sab)
  // Bounded: one store per page of a buffer of at most CAPACITY_MAX_BYTES plus the control block.
  for (let offset = 0; offset < bytes.length; offset += PAGE_BYTES) bytes[offset] = 0
}

/** The biggest payload a ring of this capacity carries in one frame. */
export function maxFrameBytes(capacityBytes: number): number {
  return capacityBytes - FRAME_HEADER_BYTES
}

/** Bytes a ring holds unread and its capacity: read from either side or a third thread, for metrics. */
export function ringOccupancy(sab: SharedArrayBuffer): { usedBytes: number; capacityBytes: number } {
  const control = new Int32Array(sab, 0, CONTROL_BYTES / 4)
  return { usedBytes: (Atomics.load(control, TAIL) - Atomics.load(control, HEAD)) >>> 0, capacityBytes: control[CAPACITY] }
}

/** Views both sides share over one ring buffer. */
class RingViews {
  readonly control: Int32Array
  /** The data region as a Buffer, so callers can `set`, `write` strings and `readUInt32LE` in place. */
  readonly bytes: Buffer
  readonly words: Int32Array
  readonly capacity: number
  readonly mask: number
  readonly maxFrameBytes: number

  constructor(sab: SharedArrayBuffer) {
    assert(sab.byteLength > CONTROL_BYTES, 'ring buffer too small')
    this.control = new Int32Array(sab, 0, CONTROL_BYTES / 4)
    assert(this.control[MAGIC] === MAGIC_VALUE, 'buffer is not a ring (see createRingBuffer)')
    this.capacity = this.control[CAPACITY]
    assert(sab.byteLength === CONTROL_BYTES + this.capacity, 'ring buffer size does not match its capacity slot')
    this.mask = this.capacity - 1
    this.bytes = Buffer.from(sab, CONTROL_BYTES, this.capacity)
    this.words = new Int32Array(sab, CONTROL_BYTES, this.capacity / 4)
    this.maxFrameBytes = maxFrameBytes(this.capacity)
  }
}

export interface RingWriteOptions {
  /** How long `write` waits for space before it rejects with PARTITA_RING_FULL. Default 30 s. */
  timeoutMs?: number
}

export interface RingWriterOptions {
  /** Writes that may wait for space at once; more are refused with PARTITA_RING_FULL. Default 10 000. */
  waitingWritesMax?: number
  /** How long a writer facing a full ring polls HEAD before sleeping on it. Default SPIN_MICROS_DEFAULT. */
  spinMicros?: number
  /**
   * The reading thread's doorbell, when it reads several rings (startMultiReaderLoop): publishing
   * rings it instead of the ring's own READER_SLEEPING/TAIL pair.
   */
  doorbell?: Doorbell
}

/** Encodes a frame's bytes in place: `bytes[offset .. offset + length)` is the frame's payload. */
export type FrameEncoder = (bytes: Buffer, offset: number) => void

interface WaitingWrite {
  length: number
  encode: FrameEncoder
  deadlineMs: number
  resolve: () => void
  reject: (error: Error) => void
}

/** The producing side. Exactly one thread may write to a ring. */
export class RingWriter {
  readonly #views: RingViews
  /** Local write counter: frames up to here are written, up to #publishedTail visible to the reader. */
  #tail: number
  #publishedTail: number
  /** Last HEAD seen; the reader only moves it forward, so free space computed from it is a lower bound. */
  #headCache: number
  /** Bytes of the frame reserved and not yet committed, or 0. */
  #reserved = 0
  readonly #waiting: WaitingWrite[] = []
  readonly #waitingWritesMax: number
  readonly #spinMicros: number
  readonly #doorbell: Doorbell | null
  #pumping = false
  #closed = false

  constructor(sab: SharedArrayBuffer, options: RingWriterOptions = {}) {
    this.#views = new RingViews(sab)
    this.#tail = Atomics.load(this.#views.control, TAIL) >>> 0
    this.#publishedTail = this.#tail
    this.#headCache = Atomics.load(this.#views.control, HEAD) >>> 0
    this.#waitingWritesMax = options.waitingWritesMax ?? 10_000
    this.#spinMicros = options.spinMicros ?? SPIN_MICROS_DEFAULT
    this.#doorbell = options.doorbell ?? null
  }

  /** The data region; a reservation's bytes are `bytes[offset .. offset + length)`. */
  get bytes(): Buffer {
    return this.#views.bytes
  }

  get maxFrameBytes(): number {
    return this.#views.maxFrameBytes
  }

  /** Bytes between the write position and the end of the data region: a bigger frame wraps. */
  get bytesBeforeWrap(): number {
    return this.#views.capacity - (this.#tail & this.#views.mask)
  }

  /** Writes queued behind a full ring. */
  get waitingWrites(): number {
    return this.#waiting.length
  }

  /**
   * Reserves room for a frame of `length` bytes and returns the offset in `bytes` to encode it at,
   * or -1 when the ring has no room now (or writes are already waiting, so order is kept).
   * Follow with `commit()` before the next reservation.
   */
  tryReserve(length: number): number {
    if (this.#waiting.length > 0) return -1
    return this.#reserve(length)
  }

  #reserve(length: number): number {
    const views = this.#views
    assert(this.#reserved === 0, 'tryReserve called again before commit')
    if (!(length >= 0 && length <= views.maxFrameBytes && Number.isInteger(length))) {
      throw new PartitaError('PARTITA_FRAME_TOO_LARGE', `a frame of ${length} bytes does not fit a ring of ${views.capacity} bytes`)
    }
    const needBytes = frameBytes(length)
    const position = this.#tail & views.mask
    const toEndBytes = views.capacity - position
    if (needBytes > toEndBytes) {
      // The frame goes at position 0 behind a pad; the pad alone may be published first.
      if (toEndBytes + needBytes > this.#freeBytes()) {
        this.#headCache = Atomics.load(views.control, HEAD) >>> 0
        const freeBytes = this.#freeBytes()
        if (toEndBytes + needBytes > freeBytes) {
          if (toEndBytes <= freeBytes) {
            views.words[position >> 2] = PAD
            this.#tail = (this.#tail + toEndBytes) >>> 0
            this.publish()
          }
          return -1
        }
      }
      views.words[position >> 2] = PAD
      this.#tail = (this.#tail + toEndBytes) >>> 0
      views.words[0] = length
      this.#reserved = needBytes
      return FRAME_HEADER_BYTES
    }
    if (needBytes > this.#freeBytes()) {
      this.#headCache = Atomics.load(views.control, HEAD) >>> 0
      if (needBytes > this.#freeBytes()) return -1
    }
    views.words[position >> 2] = length
    this.#reserved = needBytes
    return position + FRAME_HEADER_BYTES
  }

  /** Drops the reservation unwritten; nothing of it was published. */
  abort(): void {
    this.#reserved = 0
  }

  #freeBytes(): number {
    return this.#views.capacity - ((this.#tail - this.#headCache) >>> 0)
  }

  /** Ends the reservation. With `publish` false the frame stays invisible until `publish()`, to batch the store. */
  commit(publish = true): void {
    assert(this.#reserved !== 0, 'commit without a reservation')
    this.#tail = (this.#tail + this.#reserved) >>> 0
    this.#reserved = 0
    if (publish) this.publish()
  }

  /** Makes committed frames visible to the reader and rings the doorbell if it sleeps. */
  publish(): void {
    if (this.#publishedTail === this.#tail) return
    const control = this.#views.control
    Atomics.store(control, TAIL, this.#tail)
    this.#publishedTail = this.#tail
    if (this.#doorbell !== null) {
      this.#doorbell.ring()
      return
    }
    // The load is the common case; the exchange makes one notify per sleep, not one per frame.
    if (Atomics.load(control, READER_SLEEPING) !== 0 && Atomics.compareExchange(control, READER_SLEEPING, 1, 0) === 1) {
      Atomics.notify(control, TAIL)
    }
  }

  /** Copies `bytes` in as one frame and publishes it; false when the ring has no room now. */
  tryWrite(bytes: Uint8Array, publish = true): boolean {
    const offset = this.tryReserve(bytes.length)
    if (offset < 0) return false
    this.#views.bytes.set(bytes, offset)
    this.commit(publish)
    return true
  }

  /** As tryWrite, but waits (bounded by timeoutMs) for space when the ring is full. Never buffers unboundedly. */
  write(bytes: Uint8Array, options: RingWriteOptions = {}): Promise<void> {
    return this.writeWith(bytes.length, (target, offset) => target.set(bytes, offset), options)
  }

  /**
   * Writes a frame of `length` bytes encoded in place by `encode`, now if there is room, else when
   * the reader frees some. Writes complete in call order. Rejects with PARTITA_RING_FULL when
   * the wait times out or too many writes wait, PARTITA_FRAME_TOO_LARGE when it can never fit.
   */
  writeWith(length: number, encode: FrameEncoder, options: RingWriteOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new PartitaError('PARTITA_RING_CLOSED', 'ring writer is closed'))
    // A frame that can never fit (or fails to encode) rejects like every other failure: thrown
    // synchronously, it escaped callers that only handle the promise, and their asker never heard.
    try {
      const offset = this.tryReserve(length)
      if (offset >= 0) {
        this.#encodeAndCommit(offset, encode)
        return Promise.resolve()
      }
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#waiting.length >= this.#waitingWritesMax) {
      return Promise.reject(new PartitaError('PARTITA_RING_FULL', `ring full with ${this.#waiting.length} writes waiting`))
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ length, encode, deadlineMs: Date.now() + (options.timeoutMs ?? 30_000), resolve, reject })
      if (!this.#pumping) void this.#pump()
    })
  }

  #encodeAndCommit(offset: number, encode: FrameEncoder): void {
    try {
      encode(this.#views.bytes, offset)
    } catch (error) {
      this.abort()
      throw error
    }
    this.commit()
  }

  /** Moves waiting writes into the ring as space frees, sleeping on HEAD in between. */
  async #pump(): Promise<void> {
    this.#pumping = true
    const control = this.#views.control
    try {
      while (this.#waiting.length > 0 && !this.#closed) {
        const next = this.#waiting[0]
        const offset = this.#reserve(next.length)
        if (offset >= 0) {
          this.#waiting.shift()
          try {
            this.#encodeAndCommit(offset, next.encode)
            next.resolve()
          } catch (error) {
            next.reject(error as Error)
          }
          continue
        }
        const nowMs = Date.now()
        if (nowMs >= next.deadlineMs) {
          this.#waiting.shift()
          next.reject(new PartitaError('PARTITA_RING_FULL', 'timed out waiting for space in the ring'))
          continue
        }
        const seenHead = this.#headCache
        if (spinUntil(() => Atomics.load(control, HEAD) >>> 0 !== seenHead, this.#spinMicros)) continue
        Atomics.store(control, WRITER_WAITING, 1)
        const head = Atomics.load(control, HEAD)
        if (head >>> 0 !== this.#headCache) {
          Atomics.store(control, WRITER_WAITING, 0)
          continue
        }
        await sleepOn(control, HEAD, head, next.deadlineMs - nowMs, true)
        Atomics.store(control, WRITER_WAITING, 0)
      }
    } finally {
      this.#pumping = false
    }
  }

  /** Rejects waiting writes; further writes fail. The shared memory stays valid for the reader. */
  close(): void {
    this.#closed = true
    for (const waiting of this.#waiting.splice(0)) waiting.reject(new PartitaError('PARTITA_RING_CLOSED', 'ring writer closed'))
    Atomics.notify(this.#views.control, HEAD)
  }
}

/** Called per frame with the data region and the frame's place in it; valid only during the call. */
export type FrameVisitor = (bytes: Buffer, offset: number, length: number) => void

export interface RingReaderOptions {
  /** How long a reader with nothing to read polls TAIL before sleeping. Default SPIN_MICROS_DEFAULT. */
  spinMicros?: number
}

/** The consuming side. Exactly one thread may read a ring. */
export class RingReader {
  readonly #views: RingViews
  #head: number
  #tailCache: number
  readonly #spinMicros: number

  constructor(sab: SharedArrayBuffer, options: RingReaderOptions = {}) {
    this.#views = new RingViews(sab)
    this.#head = Atomics.load(this.#views.control, HEAD) >>> 0
    this.#tailCache = this.#head
    this.#spinMicros = options.spinMicros ?? SPIN_MICROS_DEFAULT
  }

  get bytes(): Buffer {
    return this.#views.bytes
  }

  /**
   * Hands up to `framesMax` frames to `visit` in order, without copying or allocating; the bytes
   * stay valid until `visit` returns. Frees their space once, at the end. Returns the count.
   * If `visit` throws, that frame counts as read and the error propagates.
   */
  drain(visit: FrameVisitor, framesMax = 1024): number {
    const views = this.#views
    const words = views.words
    let head = this.#head
    let frames = 0
    try {
      while (frames < framesMax) {
        if (head === this.#tailCache) {
          this.#tailCache = Atomics.load(views.control, TAIL) >>> 0
          if (head === this.#tailCache) break
        }
        const position = head & views.mask
        const length = words[position >> 2]
        if (length === PAD) {
          head = (head + views.capacity - position) >>> 0
          continue
        }
        assert(length >= 0 && length <= views.maxFrameBytes, `corrupt ring frame length ${length}`)
        head = (head + frameBytes(length)) >>> 0
        frames++
        visit(views.bytes, position + FRAME_HEADER_BYTES, length)
      }
    } finally {
      if (head !== this.#head) this.#release(head)
    }
    return frames
  }

  #release(head: number): void {
    const control = this.#views.control
    this.#head = head
    Atomics.store(control, HEAD, head)
    if (Atomics.load(control, WRITER_WAITING) !== 0 && Atomics.compareExchange(control, WRITER_WAITING, 1, 0) === 1) {
      Atomics.notify(control, HEAD)
    }
  }

  /** The next frame as a fresh copy, or null when the ring is empty. */
  tryRead(): Buffer | null {
    let copy: Buffer | null = null
    this.drain((bytes, offset, length) => {
      copy = Buffer.from(bytes.subarray(offset, offset + length))
    }, 1)
    return copy
  }

  /** True when a frame (or pad) is published and unread. */
  hasData(): boolean {
    if (this.#head !== this.#tailCache) return true
    this.#tailCache = Atomics.load(this.#views.control, TAIL) >>> 0
    return this.#head !== this.#tailCache
  }

  /**
   * Resolves when data may be there: at once if it is, after a brief spin if it arrives, else
   * when the writer rings the doorbell, `wake()` is called, or `timeoutMs` passes. The sleep alone
   * does not keep the thread's event loop running (the reader loops hold it).
   */
  async waitForData(timeoutMs = 1_000): Promise<void> {
    if (spinUntil(() => this.hasData(), this.#spinMicros)) return
    const control = this.#views.control
    Atomics.store(control, READER_SLEEPING, 1)
    const tail = Atomics.load(control, TAIL)
    if (tail >>> 0 !== this.#head) {
      Atomics.store(control, READER_SLEEPING, 0)
      return
    }
    await sleepOn(control, TAIL, tail, timeoutMs, false)
    Atomics.store(control, READER_SLEEPING, 0)
  }

  /** Wakes a `waitForData` of this thread, e.g. to stop a reader loop. */
  wake(): void {
    Atomics.notify(this.#views.control, TAIL)
  }
}

export interface ReaderLoopOptions {
  /** Frames handled per turn of the event loop before yielding to other work. Default 256. */
  framesPerTurnMax?: number
  /**
   * A sleeping loop looks at its rings at least this often, woken or not. Default 1 s. The
   * doorbell protocol never misses a frame, so for a multi-reader loop this only bounds the cost
   * of a bug in it.
   */
  idleWaitMs?: number
  /** Whether the loop alone keeps the thread alive. Default true. */
  keepAlive?: boolean
}

export interface ReaderLoop {
  /** Stops after the current turn; resolves when the loop has ended. */
  stop(): Promise<void>
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Runs `visit` over every frame of `reader` until stopped, yielding to the event loop after each
 * batch so timers and I/O of the same thread keep running. `onError` receives a visitor's throw.
 */
export function startReaderLoop(reader: RingReader, visit: FrameVisitor, onError: (error: unknown) => void, options: ReaderLoopOptions = {}): ReaderLoop {
  const framesPerTurnMax = options.framesPerTurnMax ?? 256
  const idleWaitMs = options.idleWaitMs ?? 1_000
  const keepAlive = options.keepAlive ?? true
  let stopped = false
  const run = async (): Promise<void> => {
    while (!stopped) {
      let frames = 0
      try {
        frames = reader.drain(visit, framesPerTurnMax)
      } catch (error) {
        onError(error)
        frames = 1
      }
      if (stopped) break
      if (frames > 0) await yieldToEventLoop()
      else await reader.waitForData(idleWaitMs)
    }
  }
  const release = holdEventLoop(keepAlive)
  const done = run().finally(release)
  return {
    stop: async () => {
      stopped = true
      reader.wake()
      await done
    },
  }
}

/** A reader loop turn longer than this shrinks the frames taken per turn; shorter than TURN_SHORT_MS grows them. */
const TURN_LONG_MS = 16
const TURN_SHORT_MS = 4

/** One ring a multi-reader loop reads, with what to do with its frames. */
export interface ReaderSource {
  readonly reader: RingReader
  readonly visit: FrameVisitor
}

export interface MultiReaderLoop extends ReaderLoop {
  /** Starts reading another ring (a restarted peer's); replaces any source under the same key. */
  add(key: number, source: ReaderSource): void
  /** Stops reading a ring (a dead peer's). */
  remove(key: number): void
}

/**
 * Reads many rings on one thread, sleeping on the thread's doorbell when all are empty (their
 * writers ring it; see doorbell.ts). Each ring gets up to `framesPerTurnMax` frames a turn, so a
 * busy peer cannot starve the others, and the loop yields to the event loop after every turn
 * that read anything.
 *
 * A doorbell sleep has no timeout (see Doorbell.sleep). One interval for the loop's life looks,
 * every `idleWaitMs`, for frames the loop sleeps beside, and rings for them; it also holds the
 * event loop when `keepAlive` asks.
 */
export function startMultiReaderLoop(doorbell: Doorbell, onError: (error: unknown) => void, options: ReaderLoopOptions & { spinMicros?: number } = {}): MultiReaderLoop {
  const framesPerTurnMax = options.framesPerTurnMax ?? 256
  const idleWaitMs = options.idleWaitMs ?? 1_000
  const keepAlive = options.keepAlive ?? true
  const spinMicros = options.spinMicros ?? SPIN_MICROS_DEFAULT
  const sources = new Map<number, ReaderSource>()
  let stopped = false
  const anyData = (): boolean => {
    for (const source of sources.values()) if (source.reader.hasData()) return true
    return false
  }
  // Frames each ring may give per turn. A turn is the drain plus the work its frames set off
  // (actor handlers run as microtasks before the loop yields) plus the event loop's round: when
  // turns grow long (thousands of partitions opened or closed at once, each with file work), the
  // budget halves, down to one frame, so timers (heartbeats) and sockets still get their turn;
  // short turns let it grow back. Bounded between 1 and framesPerTurnMax.
  let budget = framesPerTurnMax
  let asleep = false
  const run = async (): Promise<void> => {
    while (!stopped) {
      let frames = 0
      const turnStartMs = performance.now()
      for (const source of sources.values()) {
        try {
          frames += source.reader.drain(source.visit, budget)
        } catch (error) {
          onError(error)
          frames++
        }
      }
      if (stopped) break
      if (frames > 0) {
        await yieldToEventLoop()
        const turnMs = performance.now() - turnStartMs
        if (turnMs > TURN_LONG_MS) budget = Math.max(1, budget >> 1)
        else if (turnMs < TURN_SHORT_MS) budget = Math.min(framesPerTurnMax, budget * 2)
        continue
      }
      if (spinUntil(anyData, spinMicros)) continue
      const sequence = doorbell.prepareSleep()
      if (anyData()) {
        doorbell.cancelSleep()
        continue
      }
      asleep = true
      await doorbell.sleep(sequence)
      asleep = false
    }
  }
  // A writer that rings finds SLEEPING set, so a wake-up here is either a race with that ring
  // (harmless: one more turn) or a lost one, which would otherwise stall this thread's rings.
  const watchdog = setInterval(() => {
    if (asleep && anyData()) doorbell.wake()
  }, idleWaitMs)
  if (!keepAlive) watchdog.unref()
  const done = run().finally(() => clearInterval(watchdog))
  return {
    add: (key, source) => {
      sources.set(key, source)
      doorbell.wake()
    },
    remove: (key) => {
      sources.delete(key)
    },
    stop: async () => {
      stopped = true
      doorbell.wake()
      await done
    },
  }
}
