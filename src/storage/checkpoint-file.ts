import type fs from 'node:fs'
import path from 'node:path'
import type { FileHandleCache } from './file-handle-cache.js'
import { type FileSystem, realFileSystem } from './file-system.js'

/**
 * Opens through the thread's file cache when the caller has one (so running out of descriptors
 * first gives back cached ones), else directly.
 */
function openSync(filePath: string, flags: fs.OpenMode, files: FileHandleCache | undefined): number {
  return files === undefined ? realFileSystem.openSync(filePath, flags) : files.openTransient(filePath, flags)
}

/** The file system behind a cache; the real one for callers without a cache. */
export function fileSystemOf(files: FileHandleCache | undefined): FileSystem {
  return files?.fs ?? realFileSystem
}

function writeAllSync(fsys: FileSystem, fd: number, data: string | Buffer): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  // Bounded: each pass writes at least one byte or throws.
  for (let done = 0; done < bytes.length; ) done += fsys.writeSync(fd, bytes, done, bytes.length - done, done)
}

/**
 * Small files that must never be seen half-written (log start offset, recovery point, leader
 * epochs): write a temp file, fsync it, rename over the target, fsync the directory.
 */
export function writeFileAtomicSync(filePath: string, data: string | Buffer, fsync = true, files?: FileHandleCache): void {
  const fsys = fileSystemOf(files)
  const tmp = `${filePath}.tmp`
  const fd = openSync(tmp, 'w', files)
  try {
    writeAllSync(fsys, fd, data)
    if (fsync) fsys.fsyncSync(fd)
  } finally {
    fsys.closeSync(fd)
  }
  fsys.renameSync(tmp, filePath)
  if (fsync) fsyncDirSync(path.dirname(filePath), files)
}

/**
 * writeFileAtomicSync off the thread, for callers that write many files at once (thousands of logs
 * closing): the same temp, write, fsync, rename, fsync-the-directory steps on libuv's thread pool,
 * side by side with other such writes (bounded as fsyncPaths is). The rename matters as much as
 * the fsync: renaming over an existing file makes ext4 write the new file's data out first
 * (auto_da_alloc), so even an unsynced atomic write costs a disk round trip.
 */
export async function writeFileAtomic(filePath: string, data: string | Buffer, fsync: boolean, files?: FileHandleCache): Promise<void> {
  const fsys = fileSystemOf(files)
  await withFsyncSlot(async () => {
    const tmp = `${filePath}.tmp`
    await fsys.writeFileAsync(tmp, data, fsync)
    await fsys.renameAsync(tmp, filePath)
  })
  if (fsync) await fsyncPaths([path.dirname(filePath)], files)
}

/** The file's bytes, or null when it does not exist. */
export async function readFileIfExists(filePath: string, files?: FileHandleCache): Promise<Buffer | null> {
  try {
    return await fileSystemOf(files).readFileAsync(filePath)
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
export async function fsyncPaths(paths: readonly string[], files?: FileHandleCache, dataOnly = false): Promise<void> {
  const fsys = fileSystemOf(files)
  await Promise.all(paths.map((filePath) => withFsyncSlot(() => syncOne(fsys, filePath, dataOnly, files))))
}

/** Through the cache's open fd when it has one (no open and close on the thread), else by path. */
async function syncOne(fsys: FileSystem, filePath: string, dataOnly: boolean, files?: FileHandleCache): Promise<void> {
  const fd = files === undefined ? null : files.pin(filePath)
  if (files === undefined || fd === null) return fsys.syncPath(filePath, dataOnly)
  try {
    await fsys.syncFd(fd, dataOnly)
  } finally {
    files.unpin(fd)
  }
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

export function fsyncDirSync(dir: string, files?: FileHandleCache): void {
  const fsys = fileSystemOf(files)
  const fd = openSync(dir, 'r', files)
  try {
    fsys.fsyncSync(fd)
  } finally {
    fsys.closeSync(fd)
  }
}

/** Removes a file; one that is already gone is fine. */
export function unlinkIfExistsSync(filePath: string, files?: FileHandleCache): void {
  try {
    fileSystemOf(files).unlinkSync(filePath)
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
  const fsys = fileSystemOf(files)
  try {
    const chunks: Buffer[] = []
    // Bounded: each pass reads at least one byte or stops at end of file.
    for (let position = 0; ; ) {
      const chunk = Buffer.allocUnsafe(Math.max(4096, fsys.fileSizeSync(fd) - position))
      const n = fsys.readSync(fd, chunk, 0, chunk.length, position)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      position += n
    }
    return Buffer.concat(chunks)
  } finally {
    fsys.closeSync(fd)
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
