import { describe, expect, it } from 'vitest'
import { SimFileSystem } from '../../src/storage/sim-file-system.js'

function writeFile(disk: SimFileSystem, filePath: string, text: string, sync: boolean): number {
  const fd = disk.openSync(filePath, 'w+')
  const bytes = Buffer.from(text)
  expect(disk.writeSync(fd, bytes, 0, bytes.length, 0)).toBe(bytes.length)
  if (sync) disk.fsyncSync(fd)
  return fd
}

function syncDir(disk: SimFileSystem, dir: string): void {
  const fd = disk.openSync(dir, 'r')
  disk.fsyncSync(fd)
  disk.closeSync(fd)
}

describe('the simulated file system', () => {
  it('keeps fsynced bytes and named files across a power cut, for every seed', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const disk = new SimFileSystem(seed)
      disk.mkdirpSync('/d')
      writeFile(disk, '/d/a', 'hello', true)
      syncDir(disk, '/d')
      disk.powerCut()
      expect(disk.readFile('/d/a')?.toString()).toBe('hello')
    }
  })

  it('loses, keeps or tears unsynced writes depending on the seed, and closes every fd', () => {
    const outcomes = new Set<string>()
    for (let seed = 1; seed <= 200; seed++) {
      const disk = new SimFileSystem(seed)
      disk.mkdirpSync('/d')
      const fd = writeFile(disk, '/d/a', 'abc', true)
      syncDir(disk, '/d')
      const more = Buffer.from('defghij')
      disk.writeSync(fd, more, 0, more.length, 3)
      disk.powerCut()
      expect(() => disk.readSync(fd, Buffer.alloc(1), 0, 1, 0)).toThrow(/EBADF/)
      const text = disk.readFile('/d/a')!.toString()
      expect('abcdefghij'.startsWith(text)).toBe(true)
      outcomes.add(text.length === 3 ? 'lost' : text.length === 10 ? 'kept' : 'torn')
    }
    expect(outcomes).toEqual(new Set(['lost', 'kept', 'torn']))
  })

  it('can keep a later unsynced write while losing an earlier one (reordering), leaving a hole of zeros', () => {
    let reordered = false
    for (let seed = 1; seed <= 200 && !reordered; seed++) {
      const disk = new SimFileSystem(seed)
      disk.mkdirpSync('/d')
      const fd = writeFile(disk, '/d/a', '', true)
      syncDir(disk, '/d')
      disk.writeSync(fd, Buffer.from('AAAA'), 0, 4, 0)
      disk.writeSync(fd, Buffer.from('BBBB'), 0, 4, 4)
      disk.powerCut()
      reordered = disk.readFile('/d/a')!.equals(Buffer.from('\0\0\0\0BBBB'))
    }
    expect(reordered).toBe(true)
  })

  it('needs an fsync of the directory to keep a new name', () => {
    const kept = new Set<boolean>()
    for (let seed = 1; seed <= 50; seed++) {
      const disk = new SimFileSystem(seed)
      disk.mkdirpSync('/d')
      syncDir(disk, '/d')
      writeFile(disk, '/d/new', 'data', true)
      disk.powerCut()
      kept.add(disk.existsSync('/d/new'))
    }
    expect(kept).toEqual(new Set([true, false]))
  })

  it('fails an fsync with EIO and forgets the unsynced writes it could not make durable', () => {
    const disk = new SimFileSystem(7)
    disk.mkdirpSync('/d')
    const fd = writeFile(disk, '/d/a', 'old', true)
    syncDir(disk, '/d')
    disk.writeSync(fd, Buffer.from('NEW'), 0, 3, 0)
    disk.failNext('fsync', 'EIO')
    expect(() => disk.fsyncSync(fd)).toThrow(/EIO/)
    // Reads still see the new bytes, but the next fsync succeeds without making them durable.
    expect(disk.readFile('/d/a')!.toString()).toBe('NEW')
    disk.fsyncSync(fd)
    disk.powerCut()
    expect(disk.readFile('/d/a')!.toString()).toBe('old')
  })

  it('fails a write with EIO when told, and runs out of space with a short write, then ENOSPC', () => {
    const disk = new SimFileSystem(3)
    disk.mkdirpSync('/d')
    const fd = disk.openSync('/d/a', 'w+')
    disk.failNext('write', 'EIO')
    expect(() => disk.writeSync(fd, Buffer.from('x'), 0, 1, 0)).toThrow(/EIO/)
    disk.capacityBytes = 10
    expect(disk.writeSync(fd, Buffer.alloc(16, 1), 0, 16, 0)).toBe(10)
    expect(() => disk.writeSync(fd, Buffer.alloc(1), 0, 1, 10)).toThrow(/ENOSPC/)
    disk.capacityBytes = Infinity
    expect(disk.writeSync(fd, Buffer.alloc(1), 0, 1, 10)).toBe(1)
  })

  it('is deterministic: the same seed and operations leave the same disk', () => {
    const run = (seed: number): string => {
      const disk = new SimFileSystem(seed)
      disk.mkdirpSync('/d')
      const fd = writeFile(disk, '/d/a', 'base', true)
      syncDir(disk, '/d')
      for (let i = 0; i < 20; i++) disk.writeSync(fd, Buffer.from(`w${i}`), 0, 2 + String(i).length - 1, 4 + i * 3)
      writeFile(disk, '/d/b', 'bee', false)
      disk.powerCut()
      return `${disk.readFile('/d/a')?.toString('hex')}|${disk.readFile('/d/b')?.toString('hex')}`
    }
    expect(run(11)).toBe(run(11))
    expect(new Set([1, 2, 3, 4, 5].map(run)).size).toBeGreaterThan(1)
  })
})
