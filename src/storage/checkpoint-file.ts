import fs, { promises as fsp } from 'node:fs'
import path from 'node:path'
import type { FileHandleCache } from './file-handle-cache.js'

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
 * writeFileAtomicSync for callers that must not block their thread on the disk (a partition's
 * periodic snapshots): the same temp, fsync, rename, fsync-the-directory steps, asynchronously.
 */
export async function writeFileAtomic(filePath: string, data: Buffer): Promise<void> {
  const tmp = `${filePath}.tmp`
  const handle = await fsp.open(tmp, 'w')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fsp.rename(tmp, filePath)
  const dirHandle = await fsp.open(path.dirname(filePath), 'r')
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
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

/** fsyncs a file written earlier (its dirty pages belong to the file, whichever fd wrote them). */
export function syncFileSync(filePath: string, files?: FileHandleCache): void {
  const fd = openSync(filePath, 'r', files)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
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
