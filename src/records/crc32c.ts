import { crc32c as crc32cNative } from '@node-rs/crc32'

/**
 * CRC-32C (Castagnoli) of `buf[start, end)`, as Kafka's v2 record batches use it. The native
 * implementation is SIMD-accelerated; a subarray is a view, so nothing is copied.
 * `initial` chains a running CRC over several pieces (crc(a ++ b) == crc32c(b, .., crc32c(a))).
 */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  const view = start === 0 && end === buf.length ? buf : buf.subarray(start, end)
  // The native function returns an unsigned 32-bit value already; `>>> 0` keeps that a promise.
  return crc32cNative(view, initial) >>> 0
}
