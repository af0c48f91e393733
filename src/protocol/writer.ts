/**
 * The write half of the wire runtime that the generated codecs call.
 *
 * A Writer appends into a growing Buffer. Large byte payloads (record batches in Fetch responses)
 * are not copied: the writer closes the current segment, keeps a reference to the payload and goes
 * on writing after it, so `toChunks()` can hand the pieces to `socket.writev`/`cork` without a copy
 * of the data. `toBuffer()` concatenates when one Buffer is needed. See reader.ts for the int64 and
 * uuid representations.
 */
import { PartitaError } from '../common/errors.js'

const TWO_POW_32 = 4294967296
/** Payloads at least this large are referenced rather than copied. */
const REFERENCE_BYTES_MIN = 4096

/**
 * What an encoder accepts: the decoded shape with every property optional, recursively. An absent
 * property is written as the field's default, so callers set only what they mean.
 */
export type Input<T> = T extends Buffer
  ? T
  : T extends readonly (infer E)[]
    ? Input<E>[]
    : T extends object
      ? { [K in keyof T]?: Input<T[K]> }
      : T

export type ItemWriter<T> = (w: Writer, value: T, version: number) => void

export function encodeError(message: string): PartitaError {
  return new PartitaError('PARTITA_PROTOCOL_ENCODE', message)
}

export class Writer {
  private buf: Buffer
  /** Start of the segment not yet handed to `chunks`. */
  private segmentStart = 0
  private pos = 0
  private readonly chunks: Buffer[] = []
  private chunkedBytes = 0

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunkedBytes + this.pos - this.segmentStart
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const used = this.pos - this.segmentStart
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, used + n, 256))
    this.buf.copy(grown, 0, this.segmentStart, this.pos)
    this.buf = grown
    this.segmentStart = 0
    this.pos = used
  }

  bool(v: boolean): void {
    this.ensure(1)
    this.buf[this.pos++] = v ? 1 : 0
  }

  int8(v: number): void {
    this.ensure(1)
    this.pos = this.buf.writeInt8(v, this.pos)
  }

  int16(v: number): void {
    this.ensure(2)
    this.pos = this.buf.writeInt16BE(v, this.pos)
  }

  uint16(v: number): void {
    this.ensure(2)
    this.pos = this.buf.writeUInt16BE(v, this.pos)
  }

  int32(v: number): void {
    this.ensure(4)
    this.pos = this.buf.writeInt32BE(v, this.pos)
  }

  uint32(v: number): void {
    this.ensure(4)
    this.pos = this.buf.writeUInt32BE(v, this.pos)
  }

  /** Writes a number as int64, saturating outside the int64 range (see reader.ts). */
  int64(v: number): void {
    if (!Number.isFinite(v)) throw encodeError(`int64 value ${v} is not finite`)
    let hi = Math.floor(v / TWO_POW_32)
    let lo = v - hi * TWO_POW_32
    if (hi > 0x7fffffff) {
      hi = 0x7fffffff
      lo = 0xffffffff
    } else if (hi < -0x80000000) {
      hi = -0x80000000
      lo = 0
    }
    this.ensure(8)
    this.buf.writeInt32BE(hi, this.pos)
    this.buf.writeUInt32BE(Math.floor(lo), this.pos + 4)
    this.pos += 8
  }

  float64(v: number): void {
    this.ensure(8)
    this.pos = this.buf.writeDoubleBE(v, this.pos)
  }

  uuid(v: string): void {
    const bytes = Buffer.from(v, 'base64url')
    if (bytes.length !== 16 || v.length !== 22) throw encodeError(`uuid '${v}' is not 22 base64url characters`)
    this.raw(bytes)
  }

  uvarint(v: number): void {
    if (v < 0 || v > 0xffffffff || !Number.isInteger(v)) throw encodeError(`unsigned varint ${v} out of range`)
    this.ensure(5)
    const b = this.buf
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    b[this.pos++] = v
  }

  /** Copies bytes into the output, or references them when they are large. */
  raw(v: Buffer): void {
    if (v.length >= REFERENCE_BYTES_MIN) {
      if (this.pos > this.segmentStart) this.chunks.push(this.buf.subarray(this.segmentStart, this.pos))
      this.chunks.push(v)
      this.chunkedBytes += this.pos - this.segmentStart + v.length
      this.segmentStart = this.pos
      return
    }
    this.ensure(v.length)
    this.pos += v.copy(this.buf, this.pos)
  }

  private text(v: string, compact: boolean): void {
    const length = Buffer.byteLength(v, 'utf8')
    if (compact) this.uvarint(length + 1)
    else {
      if (length > 0x7fff) throw encodeError(`string of ${length} bytes exceeds the int16 length prefix`)
      this.int16(length)
    }
    this.ensure(length)
    this.pos += this.buf.write(v, this.pos, length, 'utf8')
  }

  string(v: string | null): void {
    if (v === null) throw encodeError('null given for a non-nullable string')
    this.text(v, false)
  }

  nullableString(v: string | null): void {
    if (v === null) this.int16(-1)
    else this.text(v, false)
  }

  compactString(v: string | null): void {
    if (v === null) throw encodeError('null given for a non-nullable compact string')
    this.text(v, true)
  }

  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0)
    else this.text(v, true)
  }

  bytes(v: Buffer | null): void {
    if (v === null) throw encodeError('null given for non-nullable bytes')
    this.int32(v.length)
    this.raw(v)
  }

  nullableBytes(v: Buffer | null): void {
    if (v === null) this.int32(-1)
    else this.bytes(v)
  }

  compactBytes(v: Buffer | null): void {
    if (v === null) throw encodeError('null given for non-nullable compact bytes')
    this.uvarint(v.length + 1)
    this.raw(v)
  }

  compactNullableBytes(v: Buffer | null): void {
    if (v === null) this.uvarint(0)
    else this.compactBytes(v)
  }

  // Records are bytes on the wire; the names mirror the reader, where they differ (slice vs copy).
  records(v: Buffer | null): void {
    this.bytes(v)
  }

  nullableRecords(v: Buffer | null): void {
    this.nullableBytes(v)
  }

  compactRecords(v: Buffer | null): void {
    this.compactBytes(v)
  }

  compactNullableRecords(v: Buffer | null): void {
    this.compactNullableBytes(v)
  }

  private items<T>(items: readonly T[], item: ItemWriter<T>, version: number): void {
    for (let i = 0; i < items.length; i++) item(this, items[i], version)
  }

  array<T>(items: readonly T[] | null, item: ItemWriter<T>, version: number): void {
    if (items === null) throw encodeError('null given for a non-nullable array')
    this.int32(items.length)
    this.items(items, item, version)
  }

  nullableArray<T>(items: readonly T[] | null, item: ItemWriter<T>, version: number): void {
    if (items === null) this.int32(-1)
    else this.array(items, item, version)
  }

  compactArray<T>(items: readonly T[] | null, item: ItemWriter<T>, version: number): void {
    if (items === null) throw encodeError('null given for a non-nullable compact array')
    this.uvarint(items.length + 1)
    this.items(items, item, version)
  }

  compactNullableArray<T>(items: readonly T[] | null, item: ItemWriter<T>, version: number): void {
    if (items === null) this.uvarint(0)
    else this.compactArray(items, item, version)
  }

  nullableStruct<T>(value: T | null, item: ItemWriter<T>, version: number): void {
    if (value === null) this.int8(-1)
    else {
      this.int8(1)
      item(this, value, version)
    }
  }

  /** Writes one tagged field: its tag, its size, then the value `write` produces. */
  tagged(tag: number, write: (w: Writer) => void): void {
    const field = new Writer(64)
    write(field)
    this.uvarint(tag)
    this.uvarint(field.length)
    for (const chunk of field.toChunks()) this.raw(chunk)
  }

  /** Overwrites 4 bytes already written at absolute `offset` (a frame's size prefix). */
  setInt32At(offset: number, v: number): void {
    let base = 0
    for (const chunk of this.chunks) {
      if (offset < base + chunk.length) {
        if (offset + 4 > base + chunk.length) throw encodeError('int32 patch straddles two chunks')
        chunk.writeInt32BE(v, offset - base)
        return
      }
      base += chunk.length
    }
    const at = this.segmentStart + offset - base
    if (at + 4 > this.pos) throw encodeError(`int32 patch at ${offset} is past the written bytes`)
    this.buf.writeInt32BE(v, at)
  }

  /** The written pieces, in order, with large payloads by reference. */
  toChunks(): Buffer[] {
    const out = this.chunks.slice()
    if (this.pos > this.segmentStart) out.push(this.buf.subarray(this.segmentStart, this.pos))
    return out
  }

  /** All written bytes as one Buffer (a view when nothing was referenced, else a concatenation). */
  toBuffer(): Buffer {
    if (this.chunks.length === 0) return this.buf.subarray(this.segmentStart, this.pos)
    return Buffer.concat(this.toChunks(), this.length)
  }
}

/** Element writers for arrays of primitives; they ignore the version. */
export const writeBoolItem: ItemWriter<boolean> = (w, v) => w.bool(v)
export const writeInt8Item: ItemWriter<number> = (w, v) => w.int8(v)
export const writeInt16Item: ItemWriter<number> = (w, v) => w.int16(v)
export const writeUint16Item: ItemWriter<number> = (w, v) => w.uint16(v)
export const writeInt32Item: ItemWriter<number> = (w, v) => w.int32(v)
export const writeUint32Item: ItemWriter<number> = (w, v) => w.uint32(v)
export const writeInt64Item: ItemWriter<number> = (w, v) => w.int64(v)
export const writeFloat64Item: ItemWriter<number> = (w, v) => w.float64(v)
export const writeUuidItem: ItemWriter<string> = (w, v) => w.uuid(v)
export const writeStringItem: ItemWriter<string> = (w, v) => w.string(v)
export const writeCompactStringItem: ItemWriter<string> = (w, v) => w.compactString(v)
export const writeBytesItem: ItemWriter<Buffer> = (w, v) => w.bytes(v)
export const writeCompactBytesItem: ItemWriter<Buffer> = (w, v) => w.compactBytes(v)
