import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameReader, freeWholeBuffer } from '../../src/protocol/frame-reader.js'

function framed(bodies: Buffer[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((body) => {
      const size = Buffer.alloc(4)
      size.writeInt32BE(body.length, 0)
      return [size, body]
    }),
  )
}

describe('FrameReader', () => {
  it('returns the same frames however the stream is split into chunks', () => {
    const bodies = fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { maxLength: 12 })
    const cuts = fc.array(fc.nat(), { maxLength: 20 })
    fc.assert(
      fc.property(bodies, cuts, (frames, cutPoints) => {
        const stream = framed(frames)
        const points = [...new Set(cutPoints.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b)
        const reader = new FrameReader(1024)
        const out: Buffer[] = []
        let from = 0
        for (const to of [...points, stream.length]) {
          reader.push(stream.subarray(from, to))
          from = to
          for (let frame = reader.next(); frame !== null; frame = reader.next()) out.push(Buffer.from(frame))
        }
        expect(out).toEqual(frames)
        expect(reader.bufferedBytes).toBe(0)
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('copies a frame that spans chunks and hands out a view of one inside a single chunk', () => {
    const reader = new FrameReader(1024)
    const stream = framed([Buffer.from('whole'), Buffer.from('spanning')])
    // The first frame (9 bytes with its prefix) lies in the first chunk; the second crosses the cut.
    const firstChunk = Buffer.from(stream.subarray(0, 15))
    const secondChunk = Buffer.from(stream.subarray(15))
    reader.push(firstChunk)
    reader.push(secondChunk)
    const whole = reader.next()!
    const spanning = reader.next()!
    expect(whole.buffer).toBe(firstChunk.buffer)
    firstChunk.fill(0)
    secondChunk.fill(0)
    expect(spanning.toString()).toBe('spanning')
    expect(whole.toString()).toBe('\0'.repeat(5))
  })

  it('frees a chunk of its own once a spanning frame is copied out of it, never one a frame is a view of, nor shared memory', () => {
    const canDetach = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'
    const reader = new FrameReader(1024, { releaseChunks: true })
    // Chunks as a socket hands them out: each the whole of an ArrayBuffer of its own.
    const own = (bytes: Buffer): Buffer => {
      const chunk = Buffer.from(new ArrayBuffer(bytes.length))
      bytes.copy(chunk)
      return chunk
    }
    const stream = framed([Buffer.from('inside'), Buffer.from('spanning three'), Buffer.from('last')])
    // 'inside' (10 bytes with its prefix) and the next prefix lie in the first chunk; 'spanning
    // three' crosses into a second and a third chunk, which also holds all of 'last'.
    const first = own(stream.subarray(0, 16))
    const second = own(stream.subarray(16, 22))
    const third = own(stream.subarray(22))
    for (const chunk of [first, second, third]) reader.push(chunk)
    const inside = reader.next()!
    expect(reader.next()!.toString()).toBe('spanning three')
    expect(reader.next()!.toString()).toBe('last')
    expect(reader.bufferedBytes).toBe(0)
    // The view is intact; the chunks only copied from are freed; the one 'last' is a view of is not.
    expect(inside.toString()).toBe('inside')
    expect(first.buffer.byteLength).toBe(16)
    expect(second.buffer.byteLength).toBe(canDetach ? 0 : 6)
    expect(third.buffer.byteLength).toBe(stream.length - 22)
    // A slice of a shared buffer (as Node's small-buffer pool hands out) is never freed.
    const pool = Buffer.alloc(64)
    const part = framed([Buffer.from('pooled')])
    part.copy(pool, 10)
    reader.push(pool.subarray(10, 13))
    reader.push(own(part.subarray(3)))
    expect(reader.next()!.toString()).toBe('pooled')
    expect(pool.buffer.byteLength).toBe(64)
  })

  it('frees a buffer only when it is the whole of its own memory, and freeing twice is harmless', () => {
    const canDetach = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'
    const own = Buffer.from(new ArrayBuffer(32))
    const shared = Buffer.alloc(64)
    const slice = shared.subarray(8, 16)
    const pooled = Buffer.allocUnsafe(16)
    freeWholeBuffer(slice)
    freeWholeBuffer(pooled)
    freeWholeBuffer(own)
    freeWholeBuffer(own)
    expect(own.buffer.byteLength).toBe(canDetach ? 0 : 32)
    expect(shared.buffer.byteLength).toBe(64)
    expect(pooled.length).toBe(16)
  })

  it('frees nothing unless asked to, even a chunk a spanning frame was copied out of', () => {
    const reader = new FrameReader(1024)
    const stream = framed([Buffer.from('spanning')])
    const head = Buffer.from(new ArrayBuffer(6))
    const tail = Buffer.from(new ArrayBuffer(stream.length - 6))
    stream.copy(head, 0, 0, 6)
    stream.copy(tail, 0, 6)
    reader.push(head)
    reader.push(tail)
    expect(reader.next()!.toString()).toBe('spanning')
    expect(head.buffer.byteLength).toBe(6)
    expect(tail.buffer.byteLength).toBe(stream.length - 6)
  })

  it('refuses a size above the limit or below zero before reading the body', () => {
    for (const size of [1025, -1]) {
      const reader = new FrameReader(1024)
      const prefix = Buffer.alloc(4)
      prefix.writeInt32BE(size, 0)
      reader.push(prefix)
      expect(() => reader.next()).toThrow(/socket.request.max.bytes/)
    }
    const atLimit = new FrameReader(1024)
    atLimit.push(framed([Buffer.alloc(1024, 7)]))
    expect(atLimit.next()!.length).toBe(1024)
  })
})
