import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../src/common/clock.js'
import {
  FileHighWatermarkBook,
  HIGH_WATERMARKS_FILE,
  HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS,
} from '../../../src/actors/partition/high-watermark-book.js'
import { removeDir, tempDir } from './replica-harness.js'

let dir = ''
afterEach(() => removeDir(dir))

function fileText(): string | null {
  const file = path.join(dir, HIGH_WATERMARKS_FILE)
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null
}

describe('the high-watermark book of a broker directory', () => {
  it("writes every tracked partition's high watermark to one Kafka-format file at each interval", () => {
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
    expect(fileText()).toBe('0\n3\norders 0 5\norders 1 0\naudit 7 12\n')
    hw.set('orders\u00001', 9)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    expect(fileText()).toBe('0\n3\norders 0 5\norders 1 9\naudit 7 12\n')
  })

  it('does not rewrite the file when no high watermark changed', () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    book.track('t', 0, () => 4)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    const file = path.join(dir, HIGH_WATERMARKS_FILE)
    fs.writeFileSync(file, 'sentinel')
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS * 3)
    expect(fileText()).toBe('sentinel')
  })

  it('writes at once when the last partition closes, and a reopened book recalls what it wrote', () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    const stopA = book.track('t', 0, () => 7)
    const stopB = book.track('t', 1, () => 3)
    stopA(false)
    stopB(false)
    expect(fileText()).toBe('0\n2\nt 0 7\nt 1 3\n')
    const reopened = new FileHighWatermarkBook(dir, new ManualClock())
    expect(reopened.recorded('t', 0)).toBe(7)
    expect(reopened.recorded('t', 1)).toBe(3)
    expect(reopened.recorded('t', 2)).toBeNull()
  })

  it('drops a deleted partition from the file, so a new topic of that name starts without it', () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    book.track('kept', 0, () => 1)
    const stop = book.track('gone', 0, () => 40)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    expect(fileText()).toContain('gone 0 40')
    stop(true)
    expect(book.recorded('gone', 0)).toBeNull()
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    expect(fileText()).toBe('0\n1\nkept 0 1\n')
  })

  it('reads a torn or foreign file as recording nothing, so partitions re-learn their high watermarks', () => {
    dir = tempDir()
    for (const text of ['0\n2\nt 0 7\n', '1\n1\nt 0 7\n', '0\n1\nt zero 7\n', '']) {
      fs.writeFileSync(path.join(dir, HIGH_WATERMARKS_FILE), text)
      expect(new FileHighWatermarkBook(dir, new ManualClock()).recorded('t', 0)).toBeNull()
    }
  })

  it('ignores the stop of a replica that a newer one of the same partition replaced', () => {
    dir = tempDir()
    const clock = new ManualClock()
    const book = new FileHighWatermarkBook(dir, clock)
    const stopOld = book.track('t', 0, () => 2)
    book.track('t', 0, () => 8)
    stopOld(true)
    clock.advance(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
    expect(fileText()).toBe('0\n1\nt 0 8\n')
  })
})
