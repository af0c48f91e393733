/**
 * Small files a partition keeps beside its log (the producer-state snapshot, the high-watermark
 * checkpoint). They are written atomically with storage's writeFileAtomic (temp, fsync, rename),
 * so a crash leaves either the old or the new file, never a torn one. Readers still check a CRC,
 * because a filesystem without ordered metadata can surface a renamed file with missing data.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { crc32c } from '../../records/crc32c.js'
import { readInt64, writeInt64 } from '../../records/record-batch.js'

export const PRODUCER_SNAPSHOT_FILE = 'producer-state.snapshot'
export const HIGH_WATERMARK_FILE = 'high-watermark.checkpoint'

/** Removes the file now (synchronously: callers are in the middle of a state change). */
export function removeFileSync(dir: string, name: string): void {
  fs.rmSync(path.join(dir, name), { force: true })
}

/** The high watermark as 8 bytes of offset then a CRC-32C of them. */
export function encodeHighWatermark(offset: number): Buffer {
  const buf = Buffer.alloc(12)
  writeInt64(buf, 0, offset)
  buf.writeUInt32BE(crc32c(buf, 0, 8), 8)
  return buf
}

export function decodeHighWatermark(buf: Buffer): number | null {
  if (buf.length !== 12 || buf.readUInt32BE(8) !== crc32c(buf, 0, 8)) return null
  const offset = readInt64(buf, 0)
  return offset >= 0 ? offset : null
}
