import fs, { promises as fsp } from 'node:fs'
import { phaseTrace } from '../common/phase-trace.js'

/**
 * The system calls storage makes, as a seam: `realFileSystem` is node:fs, and the simulation
 * (sim-file-system.ts) stands in for a disk that loses what was never fsynced, tears writes and
 * fails with EIO or ENOSPC, so crash and fault tests run deterministically from a seed.
 *
 * The synchronous calls keep node:fs's shapes (fds are numbers, errors carry an errno `code`);
 * `syncPath` is the one asynchronous call the hot path makes (the group commit's fdatasync,
 * which runs on libuv's thread pool).
 */
export interface FileSystem {
  openSync(filePath: string, flags: fs.OpenMode): number
  closeSync(fd: number): void
  /** Returns the bytes written, which may be fewer than asked. */
  writeSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number
  /** Returns the bytes read; 0 at end of file. */
  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number
  fileSizeSync(fd: number): number
  ftruncateSync(fd: number, length: number): void
  fsyncSync(fd: number): void
  renameSync(from: string, to: string): void
  unlinkSync(filePath: string): void
  /** Removes a file; a missing one is fine. */
  removeIfExistsSync(filePath: string): void
  linkSync(existing: string, newPath: string): void
  existsSync(filePath: string): boolean
  readdirSync(dir: string): string[]
  /** mkdir -p; returns the first directory it made, undefined when `dir` already existed. */
  mkdirpSync(dir: string): string | undefined
  /**
   * Makes a file's (or a directory's) contents durable off the thread: fdatasync for a file when
   * `dataOnly` (its size is data; its timestamps are not), fsync otherwise. A file removed meanwhile
   * has nothing left to sync and is no error.
   */
  syncPath(filePath: string, dataOnly: boolean): Promise<void>
  /** fdatasync (or fsync) of an fd the caller holds open until it settles, on libuv's thread pool. */
  syncFd(fd: number, dataOnly: boolean): Promise<void>
  /** Writes a whole file (creating or truncating it) off the thread, fsyncing it when `sync`. */
  writeFileAsync(filePath: string, data: string | Buffer, sync: boolean): Promise<void>
  renameAsync(from: string, to: string): Promise<void>
  readFileAsync(filePath: string): Promise<Buffer>
}

export const realFileSystem: FileSystem = {
  openSync: (p, flags) => fs.openSync(p, flags),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  fileSizeSync: (fd) => fs.fstatSync(fd).size,
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (p) => fs.unlinkSync(p),
  removeIfExistsSync: (p) => fs.rmSync(p, { force: true }),
  linkSync: (existing, newPath) => fs.linkSync(existing, newPath),
  existsSync: (p) => fs.existsSync(p),
  readdirSync: (dir) => fs.readdirSync(dir),
  mkdirpSync: (dir) => fs.mkdirSync(dir, { recursive: true }),
  // Only the fdatasync goes to libuv's thread pool. The open and the close are a few
  // microseconds of system call each, while a trip through the pool costs a turn of the shard's
  // event loop each way: opened and closed there too, a group-commit round waited for three turns
  // instead of one, and under load (load average 24 on 2 cores) open and close alone took
  // p99 7 and 6 ms of a round whose fdatasync took p99 22 ms.
  syncPath: async (filePath, dataOnly) => {
    let t = phaseTrace?.now() ?? 0
    let fd: number
    try {
      fd = fs.openSync(filePath, 'r')
      phaseTrace?.since('fs.open', t)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    try {
      await syncFd(fd, dataOnly)
    } finally {
      t = phaseTrace?.now() ?? 0
      fs.closeSync(fd)
      phaseTrace?.since('fs.close', t)
    }
  },
  syncFd,
  writeFileAsync: async (filePath, data, sync) => {
    const handle = await fsp.open(filePath, 'w')
    try {
      await handle.writeFile(data)
      if (sync) await handle.sync()
    } finally {
      await handle.close()
    }
  },
  renameAsync: (from, to) => fsp.rename(from, to),
  readFileAsync: (filePath) => fsp.readFile(filePath),
}

async function syncFd(fd: number, dataOnly: boolean): Promise<void> {
  const t = phaseTrace?.now() ?? 0
  await new Promise<void>((resolve, reject) => {
    const done = (error: NodeJS.ErrnoException | null): void => (error === null ? resolve() : reject(error))
    if (dataOnly) fs.fdatasync(fd, done)
    else fs.fsync(fd, done)
  })
  phaseTrace?.since('fs.datasync', t)
}
