import fs, { promises as fsp } from 'node:fs'
import path from 'node:path'
import type { FileHandleCache } from './file-handle-cache.js'
import { errnoCode } from './storage-error.js'

/**
 * Opens through the thread's file cache when the caller has one (so running out of descriptors
 * first gives back cached ones), else directly.
 */
function openSync(filePath: string, flags: fs.OpenMode, files: FileHandleCache | undefined): number {
  return files === undefined ? fs.openSync(filePath, flags) : files.openTransient(filePath, flags)
}

/**
 * Small files that must never be seen half-written (log start offset, recovery point, leader
 * epochs): write a temp file, fsync it, rename over the target, fsync the directory.
 */
export function writeFileAtomicSync(filePath: string, data: string | Buffer, fsync = true, files?: FileHandleCache): void {
  const tmp = `${filePath}.tmp`
  const fd = openSync(tmp, 'w', files)
  try {
    fs.writeFileSync(fd, data)
    if (fsync) fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, filePath)
  if (fsync) fsyncDirSync(path.dirname(filePath), files)
}

/**
 * writeFileAtomicSync off the thread, for callers that write many files at once (thousands of logs
 * closing): the same temp, write, fsync, rename, fsync-the-directory steps on libuv's thread pool,
 * side by side with other such writes (bounded as fsyncPaths is). The rename matters as much as
 * the fsync: renaming over an existing file makes ext4 write the new file's data out first
 * (auto_da_alloc), so even an unsynced atomic write costs a disk round trip.
 */
export async function writeFileAtomic(filePath: string, data: string | Buffer, fsync: boolean): Promise<void> {
  await withFsyncSlot(async () => {
    const tmp = `${filePath}.tmp`
    const handle = await fsp.open(tmp, 'w')
    try {
      await handle.writeFile(data)
      if (fsync) await handle.sync()
    } finally {
      await handle.close()
    }
    await fsp.rename(tmp, filePath)
  })
  if (fsync) await fsyncPaths([path.dirname(filePath)])
}

/** The file's bytes, or null when it does not exist. */
export async function readFileIfExists(filePath: string): Promise<Buffer | null> {
  try {
    return await fsp.readFile(filePath)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

/**
 * fsyncs each file (or directory) by path on libuv's thread pool, with fds of its own (outside the
 * handle cache, whose fds live only within one synchronous call). Concurrent fsyncs share the file
 * system's journal commits, so many small logs' files are made durable several times faster than
 * one by one, and the thread stays free meanwhile. At most FSYNCS_IN_FLIGHT_MAX run at once on a
 * thread, whoever asks: each holds an fd, and thousands of logs closing (or retiring their
 * clean-shutdown markers) at once must not run the process out of descriptors.
 */
export async function fsyncPaths(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((filePath) => withFsyncSlot(() => fsyncPath(filePath))))
}

const FSYNCS_IN_FLIGHT_MAX = 64
let fsyncsInFlight = 0
/** Bounded by the callers: each waits for one slot. */
const fsyncSlotWaiters: Array<() => void> = []

async function withFsyncSlot(fn: () => Promise<void>): Promise<void> {
  if (fsyncsInFlight >= FSYNCS_IN_FLIGHT_MAX) await new Promise<void>((resolve) => fsyncSlotWaiters.push(resolve))
  else fsyncsInFlight++
  try {
    await fn()
  } finally {
    // A waiter inherits the slot; with none, it is freed.
    const next = fsyncSlotWaiters.shift()
    if (next !== undefined) next()
    else fsyncsInFlight--
  }
}

async function fsyncPath(filePath: string): Promise<void> {
  const handle = await fsp.open(filePath, 'r').catch((error: unknown) => {
    // A file removed since it was written (a compaction swap, retention) has nothing to sync.
    if (errnoCode(error) === 'ENOENT') return null
    throw error
  })
  if (handle === null) return
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export function fsyncDirSync(dir: string, files?: FileHandleCache): void {
  const fd = openSync(dir, 'r', files)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Removes a file; one that is already gone is fine. */
export function unlinkIfExistsSync(filePath: string): void {
  try {
    fs.unlinkSync(filePath)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}

/** The file's bytes, or null when it does not exist. */
export function readBytesIfExistsSync(filePath: string, files?: FileHandleCache): Buffer | null {
  let fd: number
  try {
    fd = openSync(filePath, 'r', files)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    return fs.readFileSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

export function readFileIfExistsSync(filePath: string, files?: FileHandleCache): string | null {
  return readBytesIfExistsSync(filePath, files)?.toString('utf8') ?? null
}

/** Reads a checkpoint holding one non-negative integer; null when absent or unreadable. */
export function readOffsetCheckpointSync(filePath: string, files?: FileHandleCache): number | null {
  const text = readFileIfExistsSync(filePath, files)
  if (text === null) return null
  const trimmed = text.trim()
  if (!/^\d+$/.test(trimmed)) return null
  const n = Number(trimmed)
  return Number.isSafeInteger(n) ? n : null
}

export function writeOffsetCheckpointSync(filePath: string, offset: number, fsync = true, files?: FileHandleCache): void {
  writeFileAtomicSync(filePath, `${offset}\n`, fsync, files)
}
