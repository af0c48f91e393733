import { assert } from '../common/assert.js'

/**
 * The sparse time index of one segment: (timestamp, offset relative to the segment's base)
 * pairs. An entry (T, O) promises that every record at an offset <= O in this segment has a
 * timestamp <= T; timestamps strictly increase from entry to entry. So for "first offset with
 * timestamp >= t", every offset up to the O of the last entry with T < t can be skipped, and the
 * answer is exact whatever the spacing of entries. The `.timeindex` file holds the pairs as
 * int64 + int32, big-endian.
 */
export const TIME_INDEX_ENTRY_BYTES = 12

const TWO_32 = 4294967296

export class TimeIndex {
  readonly baseOffset: number
  #timestamps: Float64Array
  #offsets: Int32Array
  #count = 0

  constructor(baseOffset: number, capacity = 16) {
    this.baseOffset = baseOffset
    this.#timestamps = new Float64Array(capacity)
    this.#offsets = new Int32Array(capacity)
  }

  get count(): number {
    return this.#count
  }

  get lastTimestampMs(): number {
    return this.#count === 0 ? -1 : this.#timestamps[this.#count - 1]
  }

  /** Adds (timestampMs, offset) if the timestamp is newer than the last entry's. */
  maybeAppend(timestampMs: number, offset: number): boolean {
    if (this.#count > 0 && timestampMs <= this.#timestamps[this.#count - 1]) return false
    const relative = offset - this.baseOffset
    assert(relative >= 0 && relative <= 0x7fffffff, `time index offset ${offset} outside segment ${this.baseOffset}`)
    if (this.#count > 0) assert(relative >= this.#offsets[this.#count - 1], 'time index offsets must not decrease')
    if (this.#count === this.#offsets.length) this.#grow()
    this.#timestamps[this.#count] = timestampMs
    this.#offsets[this.#count] = relative
    this.#count++
    return true
  }

  /** The first offset that may hold a timestamp >= `timestampMs` (the segment's base when unknown). */
  lookup(timestampMs: number): number {
    let lo = 0
    let hi = this.#count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.#timestamps[mid] < timestampMs) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found === -1 ? this.baseOffset : this.baseOffset + this.#offsets[found] + 1
  }

  /** Drops entries covering offsets at or past `offset` (the log was truncated there). */
  truncateToOffset(offset: number): void {
    const relative = offset - this.baseOffset
    while (this.#count > 0 && this.#offsets[this.#count - 1] >= relative) this.#count--
  }

  clear(): void {
    this.#count = 0
  }

  entries(): Array<{ timestampMs: number; offset: number }> {
    const out = []
    for (let i = 0; i < this.#count; i++) {
      out.push({ timestampMs: this.#timestamps[i], offset: this.baseOffset + this.#offsets[i] })
    }
    return out
  }

  encode(from = 0): Buffer {
    const buf = Buffer.allocUnsafe((this.#count - from) * TIME_INDEX_ENTRY_BYTES)
    for (let i = from; i < this.#count; i++) {
      const at = (i - from) * TIME_INDEX_ENTRY_BYTES
      const ts = this.#timestamps[i]
      const hi = Math.floor(ts / TWO_32)
      buf.writeInt32BE(hi, at)
      buf.writeUInt32BE(ts - hi * TWO_32, at + 4)
      buf.writeInt32BE(this.#offsets[i], at + 8)
    }
    return buf
  }

  /** Parses a `.timeindex` file; null when damaged (so the caller rebuilds it). */
  static decode(baseOffset: number, bytes: Buffer, nextOffset: number): TimeIndex | null {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) return null
    const count = bytes.length / TIME_INDEX_ENTRY_BYTES
    const index = new TimeIndex(baseOffset, Math.max(16, count))
    let prevTs = -Infinity
    let prevOffset = 0
    for (let i = 0; i < count; i++) {
      const at = i * TIME_INDEX_ENTRY_BYTES
      const ts = bytes.readInt32BE(at) * TWO_32 + bytes.readUInt32BE(at + 4)
      const relative = bytes.readInt32BE(at + 8)
      if (ts <= prevTs || relative < prevOffset || baseOffset + relative >= nextOffset) return null
      index.#timestamps[i] = ts
      index.#offsets[i] = relative
      prevTs = ts
      prevOffset = relative
    }
    index.#count = count
    return index
  }

  #grow(): void {
    const capacity = this.#offsets.length * 2
    const timestamps = new Float64Array(capacity)
    const offsets = new Int32Array(capacity)
    timestamps.set(this.#timestamps)
    offsets.set(this.#offsets)
    this.#timestamps = timestamps
    this.#offsets = offsets
  }
}
