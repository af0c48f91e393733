import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../src/common/clock.js'
import {
  FileHighWatermarkBook,
  HIGH_WATERMARKS_FILE,
  HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS,
} from '../../../src/actors/partition/high-watermark-book.js'
import { FileHandleCache } from '../../../src/storage/file-handle-cache.js'
import { realFileSystem, type FileSystem } from '../../../src/storage/file-system.js'
import { removeDir, tempDir } from './replica-harness.js'

let dir = ''
afterEach(() => removeDir(dir))

function fileText(): string | null {
  const file = path.join(dir, HIGH_WATERMARKS_FILE)
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null
}

describe('the high-watermark book of a broker directory', () => {
  it("writes every tracked partition's high watermark to one Kafka-format file at each interval", async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    const hw = new Map([['orders\u00000', 5], ['orders\u00001', 0], ['audit\u00007', 12]])
    for (const key of hw.keys()) {
      const [topic, partition] = key.split('\u0000')
      book.track(topic, Number(partition), () => hw.get(key)!)
    }
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS - 1)
    expect(fileText()).toBeNull()
    clock.advance(1)
    await book.idle()
    expect(fileText()).toBe('0\n3\norders 0 5\norders 1 0\naudit 7 12\n')
    hw.set('orders\u00001', 9)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    await book.idle()
    expect(fileText()).toBe('0\n3\norders 0 5\norders 1 9\naudit 7 12\n')
  })

  it('does not rewrite the file when no high watermark changed', async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    book.track('t', 0, () => 4)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    await book.idle()
    const file = path.join(dir, HIGH_WATERMARKS_FILE)
    fs.writeFileSync(file, 'sentinel')
    for (let interval = 0; interval < 3; interval++) {
      clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
      await book.idle()
    }
    expect(fileText()).toBe('sentinel')
  })

  it('writes at once when the last partition closes, and a reopened book recalls what it wrote', async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    const stopA = book.track('t', 0, () => 7)
    const stopB = book.track('t', 1, () => 3)
    await stopA(false)
    await stopB(false)
    expect(fileText()).toBe('0\n2\nt 0 7\nt 1 3\n')
    const reopened = new FileHighWatermarkBook(dir, new ManualClock())
    expect(reopened.recorded('t', 0)).toBe(7)
    expect(reopened.recorded('t', 1)).toBe(3)
    expect(reopened.recorded('t', 2)).toBeNull()
  })

  it('drops a deleted partition from the file, so a new topic of that name starts without it', async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    book.track('kept', 0, () => 1)
    const stop = book.track('gone', 0, () => 40)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    await book.idle()
    expect(fileText()).toContain('gone 0 40')
    await stop(true)
    expect(book.recorded('gone', 0)).toBeNull()
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    await book.idle()
    expect(fileText()).toBe('0\n1\nkept 0 1\n')
  })

  it('reads a torn or foreign file as recording nothing, so partitions re-learn their high watermarks', () => {
    dir = tempDir()
    for (const text of ['0\n2\nt 0 7\n', '1\n1\nt 0 7\n', '0\n1\nt zero 7\n', '']) {
      fs.writeFileSync(path.join(dir, HIGH_WATERMARKS_FILE), text)
      expect(new FileHighWatermarkBook(dir, new ManualClock()).recorded('t', 0)).toBeNull()
    }
  })

  it('ignores the stop of a replica that a newer one of the same partition replaced', async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    const stopOld = book.track('t', 0, () => 2)
    book.track('t', 0, () => 8)
    await stopOld(true)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    await book.idle()
    expect(fileText()).toBe('0\n1\nt 0 8\n')
  })

  it("makes no synchronous file call on the shard's thread at an interval: the write, fsync and rename run on libuv's pool", async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const synchronousCalls: string[] = []
    const offThread: FileSystem = { ...realFileSystem }
    for (const name of ['openSync', 'writeSync', 'fsyncSync', 'renameSync', 'closeSync'] as const) {
      ;(offThread as unknown as Record<string, (...args: unknown[]) => unknown>)[name] = (...args: unknown[]) => {
        synchronousCalls.push(name)
        return (realFileSystem[name] as (...a: unknown[]) => unknown)(...args)
      }
    }
    const book = new FileHighWatermarkBook(dir, clock, new FileHandleCache({ fs: offThread }))
    // Opening the book reads the file once, before any partition serves.
    synchronousCalls.length = 0
    book.track('t', 0, () => 6)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    await book.idle()
    expect(fileText()).toBe('0\n1\nt 0 6\n')
    expect(synchronousCalls).toEqual([])
  })

  it('lets a write started while another is in flight finish last, with the newest high watermarks', async () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    let hw = 1
    const stop = book.track('t', 0, () => hw)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    hw = 2
    // The last replica closes while the interval's write of hw 1 is still in flight.
    await stop(false)
    expect(fileText()).toBe('0\n1\nt 0 2\n')
  })
})
