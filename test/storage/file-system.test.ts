import { createHook } from 'node:async_hooks'
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { realFileSystem } from '../../src/storage/file-system.js'

/** The async resources node:fs creates while `fn` runs: each is one trip through libuv's thread pool. */
async function fsRequestsDuring(fn: () => Promise<void>): Promise<string[]> {
  const types: string[] = []
  const hook = createHook({
    init(_id, type) {
      if (type.startsWith('FSREQ') || type.startsWith('FILEHANDLE')) types.push(type)
    },
  })
  hook.enable()
  try {
    await fn()
  } finally {
    hook.disable()
  }
  return types
}

describe('realFileSystem.syncPath and syncFd', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'partita-fs-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('sends only the fdatasync to the thread pool, opening and closing the file on the calling thread', async () => {
    const file = join(dir, 'segment.log')
    writeFileSync(file, Buffer.alloc(4096, 1))
    // Each trip through the pool waits for a turn of the shard's event loop on its way back, so
    // a group-commit round must cost one trip, not three (open, fdatasync, close).
    expect(await fsRequestsDuring(() => realFileSystem.syncPath(file, true))).toEqual(['FSREQCALLBACK'])
    expect(await fsRequestsDuring(() => realFileSystem.syncPath(dir, false))).toEqual(['FSREQCALLBACK'])
  })

  it('syncs an fd the caller holds with one trip through the pool, leaving it open', async () => {
    const file = join(dir, 'held.log')
    writeFileSync(file, Buffer.alloc(4096, 1))
    const fd = openSync(file, 'r+')
    try {
      expect(await fsRequestsDuring(() => realFileSystem.syncFd(fd, true))).toEqual(['FSREQCALLBACK'])
      expect(fstatSync(fd).size).toBe(4096)
    } finally {
      closeSync(fd)
    }
  })

  it('treats a file removed before its sync as nothing left to sync', async () => {
    await expect(realFileSystem.syncPath(join(dir, 'gone.log'), true)).resolves.toBeUndefined()
  })
})
