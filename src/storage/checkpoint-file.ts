import fs, { promises as fsp } from 'node:fs'
import path from 'node:path'

/**
 * Small files that must never be seen half-written (log start offset, recovery point, leader
 * epochs): write a temp file, fsync it, rename over the target, fsync the directory.
 */
export function writeFileAtomicSync(filePath: string, data: string | Buffer, fsync = true): void {
  const tmp = `${filePath}.tmp`
  const fd = fs.openSync(tmp, 'w')
  try {
    fs.writeFileSync(fd, data)
    if (fsync) fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, filePath)
  if (fsync) fsyncDirSync(path.dirname(filePath))
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

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

export function readFileIfExistsSync(filePath: string): string | null {
  try {
    return fs.readFileSync(filePath, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

/** Reads a checkpoint holding one non-negative integer; null when absent or unreadable. */
export function readOffsetCheckpointSync(filePath: string): number | null {
  const text = readFileIfExistsSync(filePath)
  if (text === null) return null
  const trimmed = text.trim()
  if (!/^\d+$/.test(trimmed)) return null
  const n = Number(trimmed)
  return Number.isSafeInteger(n) ? n : null
}

export function writeOffsetCheckpointSync(filePath: string, offset: number, fsync = true): void {
  writeFileAtomicSync(filePath, `${offset}\n`, fsync)
}
