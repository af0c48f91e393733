import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameReader } from '../../src/server/frame-reader.js'

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
