/**
 * The small file a partition keeps beside its log: the producer-state snapshot, written with a
 * temp file and a rename so a crash leaves the old or the new one. Its reader checks a CRC, since
 * it is not fsynced and a filesystem may surface a renamed file with missing data.
 */
import * as path from 'node:path'
import { fileSystemOf } from '../../storage/checkpoint-file.js'
import type { FileHandleCache } from '../../storage/file-handle-cache.js'

export const PRODUCER_SNAPSHOT_FILE = 'producer-state.snapshot'

/** Removes the file now (synchronously: callers are in the middle of a state change). */
export function removeFileSync(dir: string, name: string, files?: FileHandleCache): void {
  fileSystemOf(files).removeIfExistsSync(path.join(dir, name))
}
