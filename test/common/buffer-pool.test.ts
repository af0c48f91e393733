import { describe, expect, it } from 'vitest'
import { BufferPool } from '../../src/common/buffer-pool.js'

const KiB = 1024

describe('BufferPool', () => {
  it('lends a buffer of exactly the asked length and lends the same memory again once it is given back', () => {
    const pool = new BufferPool(64 * KiB, 1024 * KiB, 4096 * KiB)
    const first = pool.take(100 * KiB)
    expect(first.length).toBe(100 * KiB)
    expect(pool.isLent(first.subarray(10, 20))).toBe(true)
    // A second read while the first is still out gets other memory.
    const second = pool.take(100 * KiB)
    expect(second.buffer).not.toBe(first.buffer)
    // Given back through a view of it, as a fetch's records (a cut of the read) come back.
    pool.give(first.subarray(0, 90 * KiB))
    expect(pool.isLent(first)).toBe(false)
    expect(pool.retainedBytes).toBe(128 * KiB)
    const third = pool.take(70 * KiB)
    expect(third.buffer).toBe(first.buffer)
    expect(third.length).toBe(70 * KiB)
    expect(pool.retainedBytes).toBe(0)
  })

  it('ignores buffers it did not lend and a second give of the same one', () => {
    const pool = new BufferPool(64 * KiB, 1024 * KiB, 4096 * KiB)
    pool.give(Buffer.alloc(128 * KiB))
    expect(pool.retainedBytes).toBe(0)
    const lent = pool.take(128 * KiB)
    pool.give(lent)
    pool.give(lent)
    expect(pool.retainedBytes).toBe(128 * KiB)
    // Only one of two takes gets the given-back memory: it was not put back twice.
    expect(pool.take(128 * KiB).buffer).toBe(lent.buffer)
    expect(pool.take(128 * KiB).buffer).not.toBe(lent.buffer)
  })

  it('hands out plain buffers outside its size classes and keeps no more than its bound free', () => {
    const pool = new BufferPool(64 * KiB, 256 * KiB, 512 * KiB)
    const small = pool.take(1000)
    const large = pool.take(300 * KiB)
    expect(pool.isLent(small)).toBe(false)
    expect(pool.isLent(large)).toBe(false)
    const lent = [pool.take(256 * KiB), pool.take(256 * KiB), pool.take(256 * KiB)]
    for (const buffer of lent) pool.give(buffer)
    expect(pool.retainedBytes).toBe(512 * KiB)
  })
})
