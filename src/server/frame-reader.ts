/**
 * Splits a connection's byte stream into request frames: `int32 size` then `size` bytes.
 *
 * The size is checked before anything is allocated for the frame, so a hostile or broken peer
 * cannot make the broker reserve more than socket.request.max.bytes. Each frame returned is a
 * buffer no one will write to again: either a view of one socket chunk (Node hands every 'data'
 * event a fresh buffer, since we never pass `onread` to reuse one) or a fresh copy when the frame
 * spans chunks. That matters because decoded record sets are views of the frame, and a produce
 * may still hold them after later chunks arrive.
 */
import { PartitaError } from '../common/errors.js'

const SIZE_BYTES = 4

export class FrameReader {
  readonly #frameBytesMax: number
  #chunks: Buffer[] = []
  #bufferedBytes = 0
  /** The size of the frame being read, once its prefix has arrived; -1 before. */
  #frameSize = -1

  constructor(frameBytesMax: number) {
    this.#frameBytesMax = frameBytesMax
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#bufferedBytes += chunk.length
  }

  /**
   * The next whole frame (without its size prefix), or null until more bytes arrive. Throws
   * PARTITA_FRAME_SIZE for a negative size or one above the limit; the connection must close.
   */
  next(): Buffer | null {
    if (this.#frameSize < 0) {
      if (this.#bufferedBytes < SIZE_BYTES) return null
      const size = this.#take(SIZE_BYTES).readInt32BE(0)
      if (size < 0 || size > this.#frameBytesMax) {
        throw new PartitaError('PARTITA_FRAME_SIZE', `request size ${size} is outside 0-${this.#frameBytesMax} (socket.request.max.bytes)`)
      }
      this.#frameSize = size
    }
    if (this.#bufferedBytes < this.#frameSize) return null
    const frame = this.#take(this.#frameSize)
    this.#frameSize = -1
    return frame
  }

  /** Removes `n` buffered bytes (n <= bufferedBytes): a view when one chunk holds them, else a copy. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]
    if (n === 0) return Buffer.alloc(0)
    if (first.length >= n) {
      const out = first.subarray(0, n)
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      this.#bufferedBytes -= n
      return out
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    // Bounded: every pass copies at least one byte of the n requested.
    while (filled < n) {
      const chunk = this.#chunks[0]
      const count = Math.min(chunk.length, n - filled)
      chunk.copy(out, filled, 0, count)
      filled += count
      if (count === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(count)
    }
    this.#bufferedBytes -= n
    return out
  }
}
