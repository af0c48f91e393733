/**
 * One clean-shutdown marker per log directory (a broker's directory of partition logs), as Kafka
 * keeps `.kafka_cleanshutdown` per log dir. It is written once every log of the directory has been
 * closed at a shutdown, and it names the logs whose close (flush, recovery point) finished before
 * it was written: a log closed later (its close was slow, failed, or ran in the shard's own stop
 * after the marker) is not named, so it is recovered from its recovery point, never trusted
 * blindly. At the next start the marker is read and removed, durably, before any log opens, so
 * it can never vouch for a log that changed after it: a crash after that start finds no marker
 * and recovers every log from its recovery point (which a clean close left at the log's end).
 *
 * Written atomically (temp file, fsync, rename, fsync of the directory) with a CRC of its body:
 * a marker that does not read back whole vouches for nothing.
 */
import path from 'node:path'
import { crc32c } from '../records/crc32c.js'
import { fileSystemOf, fsyncDirSync, readBytesIfExistsSync, unlinkIfExistsSync, writeFileAtomicSync } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'

export const LOG_DIR_CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown'

const FORMAT_VERSION = 1

interface MarkerBody {
  version: number
  /** Directory names of the logs (under the log directory) closed cleanly before the marker. */
  logs: string[]
}

/** Writes the marker naming `closedLogs`, the logs of `logDir` whose close finished. */
export function writeCleanShutdownMarker(logDir: string, closedLogs: Iterable<string>, files?: FileHandleCache): void {
  const body = Buffer.from(JSON.stringify({ version: FORMAT_VERSION, logs: [...closedLogs].sort() } satisfies MarkerBody))
  writeFileAtomicSync(path.join(logDir, LOG_DIR_CLEAN_SHUTDOWN_FILE), Buffer.concat([Buffer.from(`${crc32c(body)}\n`), body]), true, files)
}

/**
 * Reads the marker of `logDir` and removes it (durably) before returning: the logs it names, to
 * be opened without recovery, or none when there is no marker or it does not read back whole.
 */
export function consumeCleanShutdownMarker(logDir: string, files?: FileHandleCache): Set<string> {
  const markerPath = path.join(logDir, LOG_DIR_CLEAN_SHUTDOWN_FILE)
  const bytes = fileSystemOf(files).existsSync(logDir) ? readBytesIfExistsSync(markerPath, files) : null
  if (bytes === null) return new Set()
  unlinkIfExistsSync(markerPath, files)
  fsyncDirSync(logDir, files)
  return parseMarker(bytes)
}

function parseMarker(bytes: Buffer): Set<string> {
  const newline = bytes.indexOf(0x0a)
  if (newline <= 0) return new Set()
  const body = bytes.subarray(newline + 1)
  if (Number(bytes.subarray(0, newline).toString()) !== crc32c(body)) return new Set()
  try {
    const parsed = JSON.parse(body.toString()) as Partial<MarkerBody>
    if (parsed.version !== FORMAT_VERSION || !Array.isArray(parsed.logs)) return new Set()
    return new Set(parsed.logs.filter((name): name is string => typeof name === 'string'))
  } catch {
    return new Set()
  }
}
