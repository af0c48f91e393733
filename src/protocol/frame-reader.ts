/**
 * Splits a Kafka connection's byte stream into frames, requests on the broker's side and responses
 * on a client's: `int32 size` then `size` bytes. Sans-io: bytes in, frames out.
 *
 * The size is checked before anything is allocated for the frame, so a hostile or broken peer
 * cannot make the reader reserve more than its limit (the broker's socket.request.max.bytes): until
 * a frame is whole, the reader holds only the chunks that arrived.
 *
 * Each frame returned is a buffer no one will write to again: a view of one chunk when the frame
 * lies inside it (no copy for small requests), or a fresh copy when it spans chunks. That matters
 * because decoded record sets are views of the frame, and a produce may hold them after later
 * chunks arrive.
 *
 * With `releaseChunks`, a chunk everything was copied out of, with no view of it handed out, is
 * freed at once by detaching its ArrayBuffer (ArrayBuffer.prototype.transfer, Node 22 and later;
 * nothing happens before). Why: each socket read is an ArrayBuffer of its own, and V8 13 (Node 24)
 * frees a dead one only when a collection finds it. A 1 MB produce request arrives in about 16
 * reads that die the moment the frame is copied together, and they piled up: heaptrack counted 66
 * MB of socket reads live at the peak of a bench:protocol fetch phase, and freeing them at once took
 * full collections from 17% to 2% of the shards' time in its produce phase (README, "Where things
 * live"). Only a chunk that is the whole of its ArrayBuffer is detached (a slice of Node's shared
 * buffer pool is left to the collector), and only a reader whose pusher never touches a chunk
 * again may ask.
 */
import { PartitaError } from '../common/errors.js'

const SIZE_BYTES = 4

export interface FrameReaderOptions {
  /** Free each chunk once copied out (see the header): the pusher hands its chunks over. */
  releaseChunks?: boolean
  /** What a frame is, and what its limit is called, in the size error (request, socket.request.max.bytes). */
  frameName?: string
  limitName?: string
}

type Detachable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; readonly detached?: boolean }

/**
 * Frees `bytes` at once when they are the whole of their own ArrayBuffer (not a slice of a larger
 * one, such as Node's shared pool of small buffers), on Node 22 and later; does nothing
 * otherwise. Every view of that memory reads as empty afterwards: call it only on bytes nothing
 * will read again.
 */
export function freeWholeBuffer(bytes: Uint8Array): void {
  if (!isWholeBuffer(bytes)) return
  const buffer = bytes.buffer as Detachable
  if (buffer.detached !== true) buffer.transfer?.(0)
}

function isWholeBuffer(bytes: Uint8Array): boolean {
  return bytes.byteLength > 0 && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
}

/** A chunk pushed and not yet wholly taken: its bytes from `start` on are still buffered. */
interface Pending {
  bytes: Buffer
  start: number
  /** Whether the reader may free the chunk's ArrayBuffer once it has taken all of it. */
  releasable: boolean
}

export class FrameReader {
  readonly #frameBytesMax: number
  readonly #releaseChunks: boolean
  readonly #frameName: string
  readonly #limitName: string
  #chunks: Pending[] = []
  #bufferedBytes = 0
  /** The size of the frame being read, once its prefix has arrived; -1 before. */
  #frameSize = -1

  constructor(frameBytesMax: number, options: FrameReaderOptions = {}) {
    this.#frameBytesMax = frameBytesMax
    this.#releaseChunks = options.releaseChunks === true
    this.#frameName = options.frameName ?? 'request'
    this.#limitName = options.limitName ?? 'socket.request.max.bytes'
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push({ bytes: chunk, start: 0, releasable: this.#releaseChunks && isWholeBuffer(chunk) })
    this.#bufferedBytes += chunk.length
  }

  /**
   * The next whole frame (without its size prefix), or null until more bytes arrive. Throws
   * PARTITA_FRAME_SIZE for a negative size or one above the limit; the connection must close.
   */
  next(): Buffer | null {
    if (this.#frameSize < 0) {
      if (this.#bufferedBytes < SIZE_BYTES) return null
      const size = this.#takeSize()
      if (size < 0 || size > this.#frameBytesMax) {
        throw new PartitaError('PARTITA_FRAME_SIZE', `${this.#frameName} size ${size} is outside 0-${this.#frameBytesMax} (${this.#limitName})`)
      }
      this.#frameSize = size
    }
    if (this.#bufferedBytes < this.#frameSize) return null
    const frame = this.#take(this.#frameSize)
    this.#frameSize = -1
    return frame
  }

  /** Removes a size prefix (bufferedBytes >= 4) without handing out a view of its chunk. */
  #takeSize(): number {
    const first = this.#chunks[0]
    if (first.bytes.length - first.start < SIZE_BYTES) return this.#copy(SIZE_BYTES).readInt32BE(0)
    const size = first.bytes.readInt32BE(first.start)
    this.#consume(SIZE_BYTES)
    return size
  }

  /** Removes `n` buffered bytes (n <= bufferedBytes): a view when one chunk holds them, else a copy. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0)
    const first = this.#chunks[0]
    if (first.bytes.length - first.start < n) return this.#copy(n)
    // A view escapes: its chunk must never be freed by the reader.
    first.releasable = false
    const out = first.bytes.subarray(first.start, first.start + n)
    this.#consume(n)
    return out
  }

  /** Copies `n` buffered bytes (n <= bufferedBytes) out of as many chunks as hold them. */
  #copy(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    // Bounded: every pass copies at least one byte of the n requested.
    while (filled < n) {
      const { bytes, start } = this.#chunks[0]
      const count = Math.min(bytes.length - start, n - filled)
      bytes.copy(out, filled, start, start + count)
      filled += count
      this.#consume(count)
    }
    return out
  }

  /** Drops the first `n` buffered bytes of the first chunk (n <= what it holds), freeing it once emptied when allowed. */
  #consume(n: number): void {
    const first = this.#chunks[0]
    this.#bufferedBytes -= n
    first.start += n
    if (first.start < first.bytes.length) return
    this.#chunks.shift()
    if (first.releasable) freeWholeBuffer(first.bytes)
  }
}
