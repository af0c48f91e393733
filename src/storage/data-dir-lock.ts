/**
 * One broker per data directory, as Kafka's `.lock` file ensures: two processes appending to the
 * same segment files would corrupt them. The lock is a file created exclusively, holding the
 * owner's pid; a lock whose owner is gone (a crash) is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { PartitaError } from '../common/errors.js'

const LOCK_FILE = '.lock'

export interface DataDirLock {
  release(): void
}

function ownerAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, LOCK_FILE)
  // Bounded: at most one stale lock is cleared before the exclusive create is tried again.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return { release: () => rmSync(path, { force: true }) }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(readFileSync(path, 'utf8').trim())
      if (ownerAlive(owner)) {
        throw new PartitaError('PARTITA_DATA_DIR_LOCKED', `data directory ${dataDir} is in use by another broker (pid ${owner})`)
      }
      rmSync(path, { force: true })
    }
  }
  throw new PartitaError('PARTITA_DATA_DIR_LOCKED', `could not lock data directory ${dataDir}`)
}
