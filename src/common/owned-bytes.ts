/**
 * A copy of bytes for state that outlives the request or the read they came in. A decoded bytes
 * field shares its memory with other bytes: a view into a read buffer, or a copy into a slab of
 * Node's buffer pool (`Buffer.poolSize`: 8 KiB on Node 20, 64 KiB on Node 24). Kept as it is, a
 * group member's few bytes of subscription hold that whole slab or read alive, one per member
 * (seen in heap snapshots of a fuzzed broker on Node 24). The copy's memory is its own and exactly
 * its length.
 */
export function ownedBytes(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length)
  bytes.copy(copy)
  return copy
}
