import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { FileHandleCache, type FileOpener, defaultOpenFilesMax, openFilesSoftLimit } from '../../src/storage/file-handle-cache.js'
import { removeDir, tempDir } from './helpers.js'

const dirs: string[] = []
const caches: FileHandleCache[] = []
afterEach(() => {
  for (const c of caches.splice(0)) c.closeAll()
  for (const d of dirs.splice(0)) removeDir(d)
})

/**
 * Real files, with every open and close recorded in order (an fd number is reused by the next
 * open, so `closed` is a log, not a set), and EMFILE for the next `emfileCount` opens.
 */
class RecordingOpener implements FileOpener {
  readonly opened: string[] = []
  readonly closed: number[] = []
  emfileCount = 0

  openSync(filePath: string, flags: fs.OpenMode): number {
    if (this.emfileCount > 0) {
      this.emfileCount--
      throw Object.assign(new Error(`EMFILE: too many open files, open '${filePath}'`), { code: 'EMFILE', errno: -24, syscall: 'open' })
    }
    const fd = fs.openSync(filePath, flags)
    this.opened.push(filePath)
    return fd
  }

  closeSync(fd: number): void {
    fs.closeSync(fd)
    this.closed.push(fd)
  }
}

function setup(openFilesMax: number, names = ['a', 'b', 'c', 'd', 'e']): { cache: FileHandleCache; opener: RecordingOpener; files: string[] } {
  const dir = tempDir()
  dirs.push(dir)
  const files = names.map((n) => path.join(dir, n))
  for (const f of files) fs.writeFileSync(f, `contents of ${path.basename(f)}`)
  const opener = new RecordingOpener()
  const cache = new FileHandleCache({ openFilesMax, opener })
  caches.push(cache)
  return { cache, opener, files }
}

function readAll(fd: number): string {
  const buf = Buffer.alloc(64)
  return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString()
}

function openPaths(cache: FileHandleCache, files: string[]): string[] {
  return files.filter((f) => cache.isOpen(f)).map((f) => path.basename(f))
}

describe('FileHandleCache', () => {
  it('lends an open fd with pin, which eviction and forget leave open until its last unpin', () => {
    const { cache, opener, files } = setup(1)
    const [a, b] = files
    expect(cache.pin(a)).toBeNull()
    const fd = cache.acquire(a)
    expect(cache.pin(a)).toBe(fd)
    expect(cache.pin(a)).toBe(fd)
    // Evicted by b's open, then forgotten: still readable by the two borrowers.
    cache.acquire(b)
    cache.forget(a)
    expect(opener.closed).toEqual([])
    expect(readAll(fd)).toBe('contents of a')
    cache.unpin(fd)
    expect(opener.closed).toEqual([])
    cache.unpin(fd)
    expect(opener.closed).toEqual([fd])
    expect(() => cache.unpin(fd)).toThrow(/not pinned/)
  })

  it('evicts the least recently used file, where a hit counts as a use', () => {
    const { cache, files } = setup(3)
    const [a, b, c, d] = files
    cache.acquire(a)
    cache.acquire(b)
    cache.acquire(c)
    cache.acquire(a)
    cache.acquire(d)
    expect(openPaths(cache, files)).toEqual(['a', 'c', 'd'])
    cache.acquire(c)
    cache.acquire(b)
    expect(openPaths(cache, files)).toEqual(['b', 'c', 'd'])
  })

  it('closes the fd of an evicted file, and reopens it on the next use to read the same bytes', () => {
    const { cache, opener, files } = setup(1)
    const [a, b] = files
    const first = cache.acquire(a)
    expect(readAll(first)).toBe('contents of a')
    cache.acquire(b)
    expect(opener.closed.includes(first)).toBe(true)
    expect(readAll(cache.acquire(a))).toBe('contents of a')
    expect(opener.opened).toEqual([a, b, a])
  })

  it('applies open flags only when it opens, so a file created with w+ is not truncated by a reopen', () => {
    const { cache, files } = setup(1)
    const [a, b] = files
    const fd = cache.acquire(a, 'w+')
    fs.writeSync(fd, Buffer.from('fresh'), 0, 5, 0)
    expect(readAll(cache.acquire(a, 'w+'))).toBe('fresh')
    cache.acquire(b)
    expect(readAll(cache.acquire(a))).toBe('fresh')
  })

  it('counts hits, misses, evictions and open files', () => {
    const { cache, files } = setup(2)
    const [a, b, c] = files
    cache.acquire(a)
    cache.acquire(a)
    cache.acquire(b)
    cache.acquire(c)
    cache.acquire(c)
    expect(cache.stats).toEqual({ open: 2, openFilesMax: 2, hits: 2, misses: 3, evictions: 1 })
  })

  it('closes on forget and on closeAll, without counting those as evictions', () => {
    const { cache, opener, files } = setup(4)
    const [a, b, c] = files
    const fdA = cache.acquire(a)
    const fdB = cache.acquire(b)
    const fdC = cache.acquire(c)
    cache.forget(b)
    cache.forget(b)
    expect(opener.closed.includes(fdB)).toBe(true)
    expect(openPaths(cache, files)).toEqual(['a', 'c'])
    cache.closeAll()
    expect(opener.closed.includes(fdA) && opener.closed.includes(fdC)).toBe(true)
    expect(cache.stats).toMatchObject({ open: 0, evictions: 0 })
  })

  it('on EMFILE gives back half of its fds, least recently used first, and retries once', () => {
    const { cache, opener, files } = setup(8)
    const [a, b, c, d, e] = files
    for (const f of [a, b, c, d]) cache.acquire(f)
    opener.emfileCount = 1
    expect(readAll(cache.acquire(e))).toBe('contents of e')
    expect(openPaths(cache, files)).toEqual(['c', 'd', 'e'])
    expect(cache.stats).toMatchObject({ open: 3, evictions: 2 })
  })

  it('refuses with KAFKA_STORAGE_ERROR naming the limit when the retry also gets EMFILE', () => {
    const { cache, opener, files } = setup(8)
    const [a, b, c, d, e] = files
    for (const f of [a, b, c, d]) cache.acquire(f)
    opener.emfileCount = 2
    let error: unknown
    try {
      cache.acquire(e)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(KafkaError)
    expect((error as KafkaError).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect((error as KafkaError).message).toMatch(/EMFILE: the open files limit is reached \(soft RLIMIT_NOFILE \d+; this thread's cache holds 2 of at most 8\)/)
    expect(cache.isOpen(e)).toBe(false)
    // The cache is still usable once descriptors are back.
    expect(readAll(cache.acquire(e))).toBe('contents of e')
  })

  it('gives transient opens the same EMFILE retry, and leaves their fds to the caller', () => {
    const { cache, opener, files } = setup(8)
    const [a, b, c] = files
    cache.acquire(a)
    cache.acquire(b)
    opener.emfileCount = 1
    const fd = cache.openTransient(c, 'r')
    expect(readAll(fd)).toBe('contents of c')
    // One close: the eviction that made room. The transient fd is open until its owner closes it.
    expect(opener.closed).toHaveLength(1)
    expect(cache.isOpen(c)).toBe(false)
    fs.closeSync(fd)
    expect(cache.stats).toMatchObject({ open: 1, evictions: 1 })
  })

  it('throws other open failures as they are, for the caller to test or report', () => {
    const { cache, files } = setup(2)
    expect(() => cache.acquire(`${files[0]}-missing`)).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(cache.stats.open).toBe(0)
  })

  it('sizes itself by default at a quarter of the soft open files limit from /proc/self/limits', () => {
    const limit = openFilesSoftLimit()
    const text = fs.readFileSync('/proc/self/limits', 'utf8')
    const soft = /^Max open files\s+(\S+)/m.exec(text)![1]
    expect(limit).toBe(soft === 'unlimited' ? null : Number(soft))
    expect(defaultOpenFilesMax()).toBe(Math.max(16, Math.floor((limit ?? 1024) / 4)))
    expect(new FileHandleCache().openFilesMax).toBe(defaultOpenFilesMax())
    expect(() => new FileHandleCache({ openFilesMax: 0 })).toThrow(/openFilesMax 0/)
  })
})
