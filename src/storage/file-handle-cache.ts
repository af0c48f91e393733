import fs from 'node:fs'
import { assert } from '../common/assert.js'
import { type FileSystem, realFileSystem } from './file-system.js'
import { errnoCode, storageError } from './storage-error.js'

/** The two system calls the cache makes; a seam so tests can inject EMFILE without exhausting fds. */
export interface FileOpener {
  openSync(filePath: string, flags: fs.OpenMode): number
  closeSync(fd: number): void
}

export interface FileHandleCacheOptions {
  /** How many fds the cache keeps open at most. Default: a quarter of the process's soft limit. */
  openFilesMax?: number
  /** The file system every log on this cache's thread goes through; default: the real one. */
  fs?: FileSystem
  /** Overrides the file system's open and close only (tests injecting EMFILE). */
  opener?: FileOpener
}

export interface FileHandleCacheStats {
  open: number
  openFilesMax: number
  hits: number
  misses: number
  evictions: number
}

/**
 * The open files of every partition log on one thread, as an LRU of fds keyed by path with at
 * most `openFilesMax` open, so a shard hosting thousands of partitions holds a bounded number of
 * descriptors: a file is opened on first use, closed when evicted, and reopened on its next use.
 *
 * An fd from `acquire` is valid until the next `acquire`, `forget` or eviction on this cache.
 * All storage I/O is synchronous on one thread, so a caller uses its fd before anything else can
 * evict it; nobody may keep an fd across calls (a closed fd's number is soon reused by another
 * file). The one asynchronous call, the group commit's fdatasync on libuv's pool, borrows the fd
 * with `pin`: until `unpin`, eviction and `forget` take it off the list but leave it open.
 *
 * Eviction closes without fsync. A segment with unsynced data keeps its `dataUnsynced` flag and
 * its next flush reopens the file and fsyncs that fd: on Linux the dirty pages belong to the
 * inode, not to the fd, so an fsync of any fd of the file writes them all, and since Linux 4.16 a
 * writeback error no fd has seen yet is reported to an fd opened after it (it is lost only if the
 * kernel drops the inode while no fd holds it, as with any close). Syncing on eviction instead
 * would put an fsync on whatever request happens to evict (another partition's produce) and turn
 * flush.ms / flush.messages, which default to never, into an fsync per eviction.
 */
export class FileHandleCache {
  readonly openFilesMax: number
  /** The file system behind every fd of this cache; its users make their other calls through it too. */
  readonly fs: FileSystem
  readonly #opener: FileOpener
  // A Map iterates in insertion order, and a hit re-inserts its path: the first entry is the LRU.
  readonly #fds = new Map<string, number>()
  #mostRecent: string | null = null
  /** How many times each lent fd is pinned; bounded by the callers' syncs in flight. */
  readonly #pins = new Map<number, number>()
  /** Pinned fds no longer listed (evicted or forgotten meanwhile): closed at their last unpin. */
  readonly #detached = new Set<number>()
  #hits = 0
  #misses = 0
  #evictions = 0

  constructor(options: FileHandleCacheOptions = {}) {
    this.openFilesMax = options.openFilesMax ?? defaultOpenFilesMax()
    assert(Number.isSafeInteger(this.openFilesMax) && this.openFilesMax >= 1, `openFilesMax ${this.openFilesMax} must be a positive integer`)
    this.fs = options.fs ?? realFileSystem
    this.#opener = options.opener ?? this.fs
  }

  /**
   * The open fd of `filePath`, opening it with `flags` if it is not open (evicting the least
   * recently used file when the cache is full). `flags` apply only to that open, so a file created
   * with 'w+' must be reacquired with 'r+', or a reopen after eviction would truncate it.
   */
  acquire(filePath: string, flags: fs.OpenMode = 'r+'): number {
    const cached = this.#fds.get(filePath)
    if (cached !== undefined) {
      this.#hits++
      if (this.#mostRecent !== filePath) {
        this.#fds.delete(filePath)
        this.#fds.set(filePath, cached)
        this.#mostRecent = filePath
      }
      return cached
    }
    this.#misses++
    if (this.#fds.size >= this.openFilesMax) this.#evict(this.#fds.size - this.openFilesMax + 1)
    const fd = this.#open(filePath, flags)
    this.#fds.set(filePath, fd)
    this.#mostRecent = filePath
    return fd
  }

  /**
   * An fd outside the cache for a short open-write-close (index files, checkpoints); the caller
   * closes it. It gets the same help when descriptors run out.
   */
  openTransient(filePath: string, flags: fs.OpenMode): number {
    return this.#open(filePath, flags)
  }

  /** Closes `filePath` if it is open: before it is deleted or replaced, so no stale fd survives. */
  forget(filePath: string): void {
    const fd = this.#fds.get(filePath)
    if (fd === undefined) return
    this.#fds.delete(filePath)
    if (this.#mostRecent === filePath) this.#mostRecent = null
    this.#close(fd)
  }

  /**
   * Lends the fd of `filePath` for an asynchronous call on it, or null when the file is not open
   * here: the group commit's fdatasync then needs no open and close of its own on the shard's
   * thread (5% of an RF 3 shard's busy time). The fd stays open until the matching `unpin`, so its
   * number cannot pass to another file under the call.
   */
  pin(filePath: string): number | null {
    const fd = this.#fds.get(filePath)
    if (fd === undefined) return null
    this.#pins.set(fd, (this.#pins.get(fd) ?? 0) + 1)
    return fd
  }

  unpin(fd: number): void {
    const count = this.#pins.get(fd)
    assert(count !== undefined && count >= 1, `fd ${fd} is not pinned`)
    if (count > 1) {
      this.#pins.set(fd, count - 1)
      return
    }
    this.#pins.delete(fd)
    if (this.#detached.delete(fd)) this.#closeNow(fd)
  }

  closeAll(): void {
    this.#evict(this.#fds.size, false)
  }

  isOpen(filePath: string): boolean {
    return this.#fds.has(filePath)
  }

  get stats(): FileHandleCacheStats {
    return { open: this.#fds.size, openFilesMax: this.openFilesMax, hits: this.#hits, misses: this.#misses, evictions: this.#evictions }
  }

  /**
   * Other failures (ENOENT, EACCES, ENOSPC, EIO) are thrown as they are, for the caller to test
   * (an absent checkpoint is no error) or to report; PartitionLog turns them into storage errors.
   */
  #open(filePath: string, flags: fs.OpenMode): number {
    try {
      return this.#opener.openSync(filePath, flags)
    } catch (error) {
      if (!outOfDescriptors(error)) throw error
    }
    // The process (EMFILE) or the system (ENFILE) has no descriptor left: give back half of ours
    // and try once more; other threads' caches and sockets hold the rest.
    this.#evict(Math.max(1, Math.ceil(this.#fds.size / 2)))
    try {
      return this.#opener.openSync(filePath, flags)
    } catch (error) {
      if (!outOfDescriptors(error)) throw error
      const limit = openFilesSoftLimit()
      throw storageError(
        `open ${filePath} failed: ${errnoCode(error)}: the open files limit is reached ` +
          `(soft RLIMIT_NOFILE ${limit ?? 'unknown'}; this thread's cache holds ${this.#fds.size} of at most ${this.openFilesMax})`,
      )
    }
  }

  #evict(count: number, counted = true): void {
    let left = count
    // Deleting the entry being visited is safe while iterating a Map.
    for (const [filePath, fd] of this.#fds) {
      if (left-- <= 0) break
      this.#fds.delete(filePath)
      if (this.#mostRecent === filePath) this.#mostRecent = null
      if (counted) this.#evictions++
      this.#close(fd)
    }
  }

  #close(fd: number): void {
    if (this.#pins.has(fd)) this.#detached.add(fd)
    else this.#closeNow(fd)
  }

  #closeNow(fd: number): void {
    try {
      this.#opener.closeSync(fd)
    } catch {
      // Linux releases the descriptor even when close reports an error, and a writeback error is
      // reported again to the next fsync of the file, which is where durability is decided.
    }
  }
}

function outOfDescriptors(error: unknown): boolean {
  const code = errnoCode(error)
  return code === 'EMFILE' || code === 'ENFILE'
}

const FALLBACK_OPEN_FILES_LIMIT = 1024

/** The process's soft limit on open files (RLIMIT_NOFILE), or null when it cannot be read. */
export function openFilesSoftLimit(): number | null {
  let text: string
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8')
  } catch {
    return null
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text)
  if (match === null || match[1] === 'unlimited') return null
  return Number(match[1])
}

/**
 * A quarter of the soft limit: several shard threads share the process's limit, and sockets,
 * checkpoints, compaction and the runtime need descriptors too.
 */
export function defaultOpenFilesMax(): number {
  return Math.max(16, Math.floor((openFilesSoftLimit() ?? FALLBACK_OPEN_FILES_LIMIT) / 4))
}

let threadCache: FileHandleCache | null = null

/**
 * The cache of logs opened without one of their own. Module state is per thread (each worker
 * loads its own copy of this module), so this is one cache per shard.
 */
export function defaultFileHandleCache(): FileHandleCache {
  threadCache ??= new FileHandleCache()
  return threadCache
}
