import { assert } from '../common/assert.js'

/**
 * The sparse offset index of one segment: (offset relative to the segment's base, file position)
 * pairs, one per index.interval.bytes of log. As in Kafka, an entry's offset is the last offset of
 * the batch that starts at its position, so a lookup of offset `o` starts scanning at the largest
 * entry whose offset is <= o; the batch holding `o` (or, across a compaction gap, the next one)
 * is at or after it. Held in memory as typed arrays; the `.index` file is the same pairs as
 * big-endian int32s, appended as entries are added.
 */
export const OFFSET_INDEX_ENTRY_BYTES = 8

export class OffsetIndex {
  readonly baseOffset: number
  #offsets: Int32Array
  #positions: Int32Array
  #count = 0

  constructor(baseOffset: number, capacity = 16) {
    this.baseOffset = baseOffset
    this.#offsets = new Int32Array(capacity)
    this.#positions = new Int32Array(capacity)
  }

  get count(): number {
    return this.#count
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.#offsets[i]
  }

  positionAt(i: number): number {
    return this.#positions[i]
  }

  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset
    assert(relative >= 0 && relative <= 0x7fffffff, `index offset ${offset} outside segment ${this.baseOffset}`)
    if (this.#count > 0) {
      assert(relative > this.#offsets[this.#count - 1], 'offset index entries must increase')
      assert(position > this.#positions[this.#count - 1], 'offset index positions must increase')
    }
    if (this.#count === this.#offsets.length) this.#grow()
    this.#offsets[this.#count] = relative
    this.#positions[this.#count] = position
    this.#count++
  }

  /** The file position to start scanning from for `offset` (0 when no entry is at or below it). */
  lookup(offset: number): number {
    const relative = offset - this.baseOffset
    let lo = 0
    let hi = this.#count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.#offsets[mid] <= relative) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found === -1 ? 0 : this.#positions[found]
  }

  /** The file position of the first entry above `offset`, or -1 when there is none (an upper bound of where it ends). */
  positionAbove(offset: number): number {
    const relative = offset - this.baseOffset
    let lo = 0
    let hi = this.#count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.#offsets[mid] > relative) {
        found = mid
        hi = mid - 1
      } else {
        lo = mid + 1
      }
    }
    return found === -1 ? -1 : this.#positions[found]
  }

  /** Drops entries whose batch starts at or after `position` (the log was truncated there). */
  truncateToPosition(position: number): void {
    while (this.#count > 0 && this.#positions[this.#count - 1] >= position) this.#count--
  }

  clear(): void {
    this.#count = 0
  }

  entries(): Array<{ offset: number; position: number }> {
    const out = []
    for (let i = 0; i < this.#count; i++) out.push({ offset: this.offsetAt(i), position: this.#positions[i] })
    return out
  }

  /** Entries [from, count) as file bytes. */
  encode(from = 0): Buffer {
    const buf = Buffer.allocUnsafe((this.#count - from) * OFFSET_INDEX_ENTRY_BYTES)
    for (let i = from; i < this.#count; i++) {
      const at = (i - from) * OFFSET_INDEX_ENTRY_BYTES
      buf.writeInt32BE(this.#offsets[i], at)
      buf.writeInt32BE(this.#positions[i], at + 4)
    }
    return buf
  }

  /**
   * Parses a `.index` file; null when it is damaged (partial entry, entries not increasing,
   * positions outside the log), so the caller rebuilds it from the log.
   */
  static decode(baseOffset: number, bytes: Buffer, logSizeBytes: number): OffsetIndex | null {
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return null
    const count = bytes.length / OFFSET_INDEX_ENTRY_BYTES
    const index = new OffsetIndex(baseOffset, Math.max(16, count))
    let prevOffset = -1
    let prevPosition = -1
    for (let i = 0; i < count; i++) {
      const relative = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES)
      const position = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4)
      if (relative <= prevOffset || position <= prevPosition || position >= logSizeBytes) return null
      index.#offsets[i] = relative
      index.#positions[i] = position
      prevOffset = relative
      prevPosition = position
    }
    index.#count = count
    return index
  }

  #grow(): void {
    const capacity = this.#offsets.length * 2
    const offsets = new Int32Array(capacity)
    const positions = new Int32Array(capacity)
    offsets.set(this.#offsets)
    positions.set(this.#positions)
    this.#offsets = offsets
    this.#positions = positions
  }
}
