/**
 * The read half of the wire runtime that the generated codecs call.
 *
 * Number choice: int64 fields decode to a JS `number`, not a `bigint`. Offsets, timestamps,
 * producer ids and epochs all stay far below 2^53 in practice, and plain numbers keep the hot
 * Produce and Fetch paths free of bigint allocation and conversions at every call site. Values in
 * [-(2^53 - 1), 2^53 - 1] (which covers every -1/-2/-3 sentinel) decode exactly; a value outside
 * that range decodes to the nearest double (Long.MAX_VALUE reads as 2^63), and the writer saturates
 * such a number at the int64 bounds, so a round trip of a huge value is lossy but never corrupts
 * the frame.
 *
 * Every read checks bounds against the frame end (not the Buffer end: a frame may be a view into a
 * larger socket buffer) and throws `PartitaError('PARTITA_PROTOCOL_PARSE')`, never a RangeError,
 * on truncated or malformed input. A declared length is compared with the remaining bytes before
 * anything is allocated, so a hostile frame cannot make the broker allocate absurd sizes.
 *
 * Uuids are represented as Kafka prints them: 22 characters of unpadded base64url.
 */
import { PartitaError } from '../common/errors.js'

const TWO_POW_32 = 4294967296

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA'
export const EMPTY_BYTES: Buffer = Buffer.alloc(0)

export function parseError(message: string): PartitaError {
  return new PartitaError('PARTITA_PROTOCOL_PARSE', message)
}

export class Reader {
  readonly buf: Buffer
  offset: number
  readonly end: number

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (offset < 0 || end > buf.length || offset > end) throw parseError(`bad reader window [${offset}, ${end}) over ${buf.length} bytes`)
    this.buf = buf
    this.offset = offset
    this.end = end
  }

  remaining(): number {
    return this.end - this.offset
  }

  /** Claims `n` bytes and returns the offset where they start. */
  private take(n: number): number {
    const at = this.offset
    if (n > this.end - at) throw parseError(`truncated frame: need ${n} byte(s) at offset ${at}, have ${this.end - at}`)
    this.offset = at + n
    return at
  }

  skip(n: number): void {
    if (n < 0) throw parseError(`negative skip ${n}`)
    this.take(n)
  }

  bool(): boolean {
    return this.buf[this.take(1)] !== 0
  }

  int8(): number {
    const v = this.buf[this.take(1)]
    return (v << 24) >> 24
  }

  int16(): number {
    const at = this.take(2)
    const b = this.buf
    return (((b[at] << 8) | b[at + 1]) << 16) >> 16
  }

  uint16(): number {
    const at = this.take(2)
    const b = this.buf
    return (b[at] << 8) | b[at + 1]
  }

  int32(): number {
    const at = this.take(4)
    const b = this.buf
    return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]
  }

  uint32(): number {
    return this.int32() >>> 0
  }

  int64(): number {
    const hi = this.int32()
    const lo = this.int32() >>> 0
    return hi * TWO_POW_32 + lo
  }

  float64(): number {
    return this.buf.readDoubleBE(this.take(8))
  }

  uuid(): string {
    const at = this.take(16)
    return this.buf.toString('base64url', at, at + 16)
  }

  /** An unsigned LEB128 varint of at most 32 bits (5 bytes), as Kafka's ByteUtils.readUnsignedVarint. */
  uvarint(): number {
    const b = this.buf
    let value = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      const at = this.offset
      if (at >= this.end) throw parseError(`truncated varint at offset ${at}`)
      const byte = b[at]
      this.offset = at + 1
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) throw parseError(`varint overflows 32 bits at offset ${at}`)
        return value
      }
      shift += 7
    }
    throw parseError(`varint longer than 5 bytes at offset ${this.offset}`)
  }

  private text(length: number): string {
    const at = this.take(length)
    if (length === 0) return ''
    return this.buf.toString('utf8', at, at + length)
  }

  string(): string {
    const length = this.int16()
    if (length < 0) throw parseError(`null where a non-nullable string is required (offset ${this.offset - 2})`)
    return this.text(length)
  }

  nullableString(): string | null {
    const length = this.int16()
    return length < 0 ? null : this.text(length)
  }

  compactString(): string {
    const length = this.uvarint() - 1
    if (length < 0) throw parseError(`null where a non-nullable compact string is required (offset ${this.offset})`)
    return this.text(length)
  }

  compactNullableString(): string | null {
    const length = this.uvarint() - 1
    return length < 0 ? null : this.text(length)
  }

  /** Bytes fields are copied: they are small and may be kept (group metadata), so they must not pin the frame. */
  private copy(length: number): Buffer {
    const at = this.take(length)
    return length === 0 ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(at, at + length))
  }

  /** Records are sliced, not copied: the log stores the batch bytes as they arrived. */
  private slice(length: number): Buffer {
    const at = this.take(length)
    return this.buf.subarray(at, at + length)
  }

  bytes(): Buffer {
    const length = this.int32()
    if (length < 0) throw parseError(`null where non-nullable bytes are required (offset ${this.offset - 4})`)
    return this.copy(length)
  }

  nullableBytes(): Buffer | null {
    const length = this.int32()
    return length < 0 ? null : this.copy(length)
  }

  compactBytes(): Buffer {
    const length = this.uvarint() - 1
    if (length < 0) throw parseError(`null where non-nullable compact bytes are required (offset ${this.offset})`)
    return this.copy(length)
  }

  compactNullableBytes(): Buffer | null {
    const length = this.uvarint() - 1
    return length < 0 ? null : this.copy(length)
  }

  records(): Buffer {
    const length = this.int32()
    if (length < 0) throw parseError(`null where non-nullable records are required (offset ${this.offset - 4})`)
    return this.slice(length)
  }

  nullableRecords(): Buffer | null {
    const length = this.int32()
    return length < 0 ? null : this.slice(length)
  }

  compactRecords(): Buffer {
    const length = this.uvarint() - 1
    if (length < 0) throw parseError(`null where non-nullable compact records are required (offset ${this.offset})`)
    return this.slice(length)
  }

  compactNullableRecords(): Buffer | null {
    const length = this.uvarint() - 1
    return length < 0 ? null : this.slice(length)
  }

  /** Checks a declared element count against the bytes left, as Kafka does, before allocating. */
  private count(n: number, at: number): number {
    if (n > this.end - this.offset) throw parseError(`array of ${n} element(s) at offset ${at} exceeds the ${this.end - this.offset} byte(s) left`)
    return n
  }

  private items<T>(n: number, item: ItemReader<T>, version: number): T[] {
    const out = new Array<T>(n)
    for (let i = 0; i < n; i++) out[i] = item(this, version)
    return out
  }

  array<T>(item: ItemReader<T>, version: number): T[] {
    const at = this.offset
    const n = this.int32()
    if (n < 0) throw parseError(`null where a non-nullable array is required (offset ${at})`)
    return this.items(this.count(n, at), item, version)
  }

  nullableArray<T>(item: ItemReader<T>, version: number): T[] | null {
    const at = this.offset
    const n = this.int32()
    return n < 0 ? null : this.items(this.count(n, at), item, version)
  }

  compactArray<T>(item: ItemReader<T>, version: number): T[] {
    const at = this.offset
    const n = this.uvarint() - 1
    if (n < 0) throw parseError(`null where a non-nullable compact array is required (offset ${at})`)
    return this.items(this.count(n, at), item, version)
  }

  compactNullableArray<T>(item: ItemReader<T>, version: number): T[] | null {
    const at = this.offset
    const n = this.uvarint() - 1
    return n < 0 ? null : this.items(this.count(n, at), item, version)
  }

  /** A nullable struct is prefixed by an int8: -1 for null, 1 for present. */
  nullableStruct<T>(item: ItemReader<T>, version: number): T | null {
    return this.int8() < 0 ? null : item(this, version)
  }

  /** Reads a tagged field's size and returns the offset where its value ends. */
  taggedEnd(): number {
    const size = this.uvarint()
    if (size > this.end - this.offset) throw parseError(`tagged field of ${size} byte(s) at offset ${this.offset} exceeds the frame`)
    return this.offset + size
  }

  /** Checks that a known tagged field's value used exactly its declared size. */
  expectTaggedEnd(end: number, tag: number): void {
    if (this.offset !== end) throw parseError(`tagged field ${tag} ended at offset ${this.offset}, declared end ${end}`)
  }

  /** Skips a whole tagged-field section: the fields this struct has no use for. */
  skipTaggedFields(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint()
      this.offset = this.taggedEnd()
    }
  }
}

export type ItemReader<T> = (r: Reader, version: number) => T

/** Element readers for arrays of primitives; they ignore the version. */
export const readBoolItem: ItemReader<boolean> = (r) => r.bool()
export const readInt8Item: ItemReader<number> = (r) => r.int8()
export const readInt16Item: ItemReader<number> = (r) => r.int16()
export const readUint16Item: ItemReader<number> = (r) => r.uint16()
export const readInt32Item: ItemReader<number> = (r) => r.int32()
export const readUint32Item: ItemReader<number> = (r) => r.uint32()
export const readInt64Item: ItemReader<number> = (r) => r.int64()
export const readFloat64Item: ItemReader<number> = (r) => r.float64()
export const readUuidItem: ItemReader<string> = (r) => r.uuid()
export const readStringItem: ItemReader<string> = (r) => r.string()
export const readCompactStringItem: ItemReader<string> = (r) => r.compactString()
export const readBytesItem: ItemReader<Buffer> = (r) => r.bytes()
export const readCompactBytesItem: ItemReader<Buffer> = (r) => r.compactBytes()
