import fs, { promises as fsp } from 'node:fs'

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
  syncPath: (filePath, dataOnly) => syncPathOffThread(filePath, dataOnly),
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

/**
 * open, fdatasync (or fsync), close, each on libuv's pool, through the callback API: the group
 * commit runs one per file per round, and promise FileHandles cost the shard's thread more
 * (their open and close took 8% of a shard's profile samples under 20-record produces).
 */
function syncPathOffThread(filePath: string, dataOnly: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(filePath, 'r', (openError, fd) => {
      if (openError !== null) {
        if (openError.code === 'ENOENT') resolve()
        else reject(openError)
        return
      }
      const closeAfter = (syncError: NodeJS.ErrnoException | null): void => {
        fs.close(fd, (closeError) => {
          const error = syncError ?? closeError
          if (error !== null) reject(error)
          else resolve()
        })
      }
      if (dataOnly) fs.fdatasync(fd, closeAfter)
      else fs.fsync(fd, closeAfter)
    })
  })
}
