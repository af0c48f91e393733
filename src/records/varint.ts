import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'

/**
 * Variable-length integers as Kafka's record format and flexible protocol versions use them:
 * 7 bits a byte, least significant group first, high bit set on every byte but the last.
 * Signed values are zig-zag mapped first (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...).
 *
 * - varint: a signed int32, at most 5 bytes.
 * - varlong: a signed int64, at most 10 bytes; JavaScript numbers carry it while it is a safe
 *   integer (|n| <= 2^53 - 1), which covers every offset and millisecond timestamp; decoding a
 *   larger value is refused rather than rounded.
 * - unsigned varint: a uint32, at most 5 bytes.
 *
 * Readers advance a caller-owned cursor instead of returning pairs, so decoding a batch allocates
 * nothing per field. Every read checks bounds against `cursor.end` and reports CORRUPT_MESSAGE.
 */
export interface Cursor {
  pos: number
  /** One past the last byte this reader may touch. */
  end: number
}

const TWO_32 = 4294967296
const VARINT_BYTES_MAX = 5
const VARLONG_BYTES_MAX = 10

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message)
}

function checkInt32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
    throw new RangeError(`${what} out of int32 range: ${value}`)
  }
}

// ---- unsigned varint (uint32) -------------------------------------------------------------

export function sizeOfUnsignedVarint(value: number): number {
  if (value < 0x80) return 1
  if (value < 0x4000) return 2
  if (value < 0x200000) return 3
  if (value < 0x10000000) return 4
  return 5
}

/** Writes `value` (0 .. 2^32-1) at `pos` and returns the position after it. */
export function writeUnsignedVarint(buf: Uint8Array, pos: number, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`unsigned varint out of uint32 range: ${value}`)
  }
  let v = value >>> 0
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buf[pos++] = v
  return pos
}

export function readUnsignedVarint(buf: Uint8Array, cursor: Cursor): number {
  let result = 0
  let shift = 0
  let pos = cursor.pos
  for (let i = 0; i < VARINT_BYTES_MAX; i++) {
    if (pos >= cursor.end) throw corrupt('varint runs past the end of its buffer')
    const byte = buf[pos++]
    if (i === 4 && byte > 0x0f) throw corrupt('varint longer than 32 bits')
    // The fifth group lands in bits 28..31; multiplication keeps it unsigned.
    result += (byte & 0x7f) * 2 ** shift
    shift += 7
    if ((byte & 0x80) === 0) {
      cursor.pos = pos
      return result
    }
  }
  throw corrupt('varint longer than 5 bytes')
}

// ---- signed varint (int32, zig-zag) --------------------------------------------------------

export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0)
}

export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  checkInt32(value, 'varint')
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buf[pos++] = v
  return pos
}

export function readVarint(buf: Uint8Array, cursor: Cursor): number {
  const pos = cursor.pos
  // Fast path: one byte, the common case for lengths, deltas and counts in small records.
  if (pos < cursor.end) {
    const byte = buf[pos]
    if (byte < 0x80) {
      cursor.pos = pos + 1
      return (byte >>> 1) ^ -(byte & 1)
    }
  }
  const z = readUnsignedVarint(buf, cursor)
  return (z >>> 1) ^ -(z & 1)
}

// ---- signed varlong (int64 within the safe-integer range, zig-zag) -------------------------

function assertSafe(value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`varlong is not a safe integer: ${value}`)
}

export function sizeOfVarlong(value: number): number {
  assertSafe(value)
  if (value >= -1073741824 && value <= 1073741823) return sizeOfVarint(value)
  // Magnitude of the zig-zag value is about 2|value|; count 7-bit groups on that.
  let z = value >= 0 ? value * 2 : -value * 2 - 1
  let size = 1
  while (z >= 128) {
    z = Math.floor(z / 128)
    size++
  }
  return size
}

export function writeVarlong(buf: Uint8Array, pos: number, value: number): number {
  assertSafe(value)
  if (value >= -1073741824 && value <= 1073741823) return writeVarint(buf, pos, value)
  // Zig-zag on the 64-bit pair (hi, lo): m = value >= 0 ? value : -value - 1; z = 2m + sign.
  const negative = value < 0
  const m = negative ? -value - 1 : value
  const mHi = Math.floor(m / TWO_32)
  const mLo = m >>> 0
  let hi = ((mHi << 1) | (mLo >>> 31)) >>> 0
  let lo = ((mLo << 1) | (negative ? 1 : 0)) >>> 0
  while (hi !== 0 || lo >= 0x80) {
    buf[pos++] = (lo & 0x7f) | 0x80
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
  }
  buf[pos++] = lo
  return pos
}

export function readVarlong(buf: Uint8Array, cursor: Cursor): number {
  const start = cursor.pos
  if (start < cursor.end && buf[start] < 0x80) {
    const byte = buf[start]
    cursor.pos = start + 1
    return (byte >>> 1) ^ -(byte & 1)
  }
  let lo = 0
  let hi = 0
  let pos = start
  for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
    if (pos >= cursor.end) throw corrupt('varlong runs past the end of its buffer')
    const byte = buf[pos++]
    const bits = byte & 0x7f
    const shift = 7 * i
    if (shift < 28) {
      lo |= bits << shift
    } else if (shift === 28) {
      lo |= bits << 28
      hi |= bits >>> 4
    } else {
      if (i === 9 && byte > 0x01) throw corrupt('varlong longer than 64 bits')
      hi |= bits << (shift - 32)
    }
    if ((byte & 0x80) === 0) {
      cursor.pos = pos
      lo >>>= 0
      hi >>>= 0
      const negative = (lo & 1) === 1
      const mHi = hi >>> 1
      const mLo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0
      if (mHi >= 0x200000) throw corrupt('varlong beyond the safe-integer range')
      const m = mHi * TWO_32 + mLo
      return negative ? -m - 1 : m
    }
  }
  throw corrupt('varlong longer than 10 bytes')
}
