/**
 * The small file a partition keeps beside its log: the producer-state snapshot, written with a
 * temp file and a rename so a crash leaves the old or the new one. Its reader checks a CRC, since
 * it is not fsynced and a filesystem may surface a renamed file with missing data.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

export const PRODUCER_SNAPSHOT_FILE = 'producer-state.snapshot'

/** Removes the file now (synchronously: callers are in the middle of a state change). */
export function removeFileSync(dir: string, name: string): void {
  fs.rmSync(path.join(dir, name), { force: true })
}
