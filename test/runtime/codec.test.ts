import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameAssembler, MessageKind, decodeFrame, encodeFrame, prepareFrame, writeFrame, type IncomingFrame, type OutgoingFrame, type PayloadCopier } from '../../src/runtime/codec.js'
import { RingReader, RingWriter, createRingBuffer } from '../../src/runtime/ring.js'

/** Encodes `frame` as a ring would hold it: at an offset inside a bigger region. */
function ringBytes(frame: OutgoingFrame, offset = 40): { bytes: Buffer; offset: number; length: number } {
  const prepared = prepareFrame(frame)
  const bytes = Buffer.alloc(offset + prepared.length + 16)
  encodeFrame(prepared, bytes, offset)
  return { bytes, offset, length: prepared.length }
}

function batchOf(bytes: number, fill: number): Buffer {
  return Buffer.alloc(bytes, fill)
}

describe('ring frame codec', () => {
  it('decodes a frame with its actor id, control object and payload', () => {
    const { bytes, offset, length } = ringBytes({ kind: MessageKind.REQUEST, correlationId: 7, shard: 2, id: 'topic-3', message: { op: 'fetch', fetchOffset: 12 }, payload: batchOf(100, 1) })
    const frame = decodeFrame(bytes, offset, length)
    expect(frame).toMatchObject({ kind: MessageKind.REQUEST, correlationId: 7, shard: 2, id: 'topic-3', message: { op: 'fetch', fetchOffset: 12 } })
    expect(frame.payload).toEqual(batchOf(100, 1))
  })

  it('puts every payload at an 8-byte boundary of its frame, whatever the id and control object before it, and decodes it intact', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 1e9 })),
        fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string({ maxLength: 20 }))), { nil: undefined }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(16),
        (id, message, payload, slot) => {
          // A ring starts each frame on a multiple of 8 (ring.ts).
          const offset = slot * 8
          const prepared = prepareFrame({ kind: MessageKind.REPLY, correlationId: 3, shard: 1, id, message, payload })
          const bytes = Buffer.alloc(offset + prepared.length)
          encodeFrame(prepared, bytes, offset)
          const frame = decodeFrame(bytes, offset, prepared.length, undefined, false)
          expect(frame).toMatchObject({ kind: MessageKind.REPLY, correlationId: 3, shard: 1, id, message })
          if (payload.length === 0) {
            expect(frame.payload).toBeUndefined()
            return
          }
          expect(frame.payload!.equals(payload)).toBe(true)
          // A view into `bytes`, whose memory starts at its ArrayBuffer's start; the payload ends the frame.
          expect(frame.payload!.byteOffset % 8).toBe(0)
          expect(frame.payload!.byteOffset + payload.length).toBe(offset + prepared.length)
        },
      ),
      { seed: 7, numRuns: 500 },
    )
  })

  it("copies a payload out of the ring into the memory its copier gives, or into a buffer of the payload's own, and keeps each copy intact", () => {
    const pool = Buffer.alloc(64 * 1024)
    const asked: Array<[number, number]> = []
    const copier: PayloadCopier = (bytes, start, end, kind, correlationId) => {
      asked.push([kind, correlationId])
      if (correlationId !== 1) return undefined
      bytes.copy(pool, 0, start, end)
      return pool.subarray(0, end - start)
    }
    const decode = (correlationId: number): Buffer => {
      const { bytes, offset, length } = ringBytes({ kind: MessageKind.REPLY, correlationId, shard: 1, id: '', message: { errorCode: 0 }, payload: batchOf(5000, correlationId) })
      const payload = decodeFrame(bytes, offset, length, copier).payload!
      // The ring slot is reused once the frame is read: the copy must not change with it.
      bytes.fill(0xff)
      return payload
    }
    const given = decode(1)
    const own = decode(2)
    expect(asked).toEqual([
      [MessageKind.REPLY, 1],
      [MessageKind.REPLY, 2],
    ])
    expect(given.buffer).toBe(pool.buffer)
    expect(given).toEqual(batchOf(5000, 1))
    expect(own.buffer).not.toBe(pool.buffer)
    expect(own).toEqual(batchOf(5000, 2))
  })
})

/** Drains `reader` through `frames` until `done` settles, collecting every whole frame. */
async function readUntil(reader: RingReader, frames: FrameAssembler, done: Promise<unknown>): Promise<IncomingFrame[]> {
  const read: IncomingFrame[] = []
  let settled = false
  const finished = done.then(
    () => (settled = true),
    () => (settled = true),
  )
  const visit = (bytes: Buffer, offset: number, length: number): void => {
    const frame = frames.accept(bytes, offset, length)
    if (frame !== null) read.push(frame)
  }
  // Bounded by the writes' own timeouts: `done` settles either way.
  while (!settled) {
    reader.drain(visit)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await finished
  reader.drain(visit)
  return read
}

describe('messages larger than a ring frame', () => {
  it('carries a record batch three times the size of the ring as fragments, whole and in order with the frames around it', async () => {
    const sab = createRingBuffer(64 * 1024)
    const writer = new RingWriter(sab)
    const reader = new RingReader(sab)
    const big = Buffer.alloc(200 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff
    const writes = Promise.all([
      writeFrame(writer, { kind: MessageKind.REPLY, correlationId: 1, shard: 0, id: '', message: { n: 1 }, payload: batchOf(100, 1) }, 5_000),
      writeFrame(writer, { kind: MessageKind.REPLY, correlationId: 2, shard: 0, id: 'p-0', message: { errorCode: 0, highWatermark: 42 }, payload: big }, 5_000),
      writeFrame(writer, { kind: MessageKind.REPLY, correlationId: 3, shard: 0, id: '', message: { n: 3 }, payload: batchOf(100, 3) }, 5_000),
    ])
    const read = await readUntil(reader, new FrameAssembler(), writes)
    expect(read.map((frame) => frame.correlationId)).toEqual([1, 2, 3])
    expect(read[1]).toMatchObject({ kind: MessageKind.REPLY, id: 'p-0', message: { errorCode: 0, highWatermark: 42 } })
    expect(read[1].payload!.equals(big)).toBe(true)
    expect(read[2].payload).toEqual(batchOf(100, 3))
  })

  it('drops a fragmented message whose writing timed out midway, and reads the next message intact', async () => {
    const sab = createRingBuffer(64 * 1024)
    const writer = new RingWriter(sab)
    const reader = new RingReader(sab)
    const frames = new FrameAssembler()
    // Nobody reads while the big message is written: its first slices fill the ring, the rest time out.
    const failed = writeFrame(writer, { kind: MessageKind.REPLY, correlationId: 1, shard: 0, id: '', message: undefined, payload: batchOf(200 * 1024, 7) }, 20)
    await expect(failed).rejects.toMatchObject({ code: 'PARTITA_RING_FULL' })
    const next = writeFrame(writer, { kind: MessageKind.REPLY, correlationId: 2, shard: 0, id: '', message: undefined, payload: batchOf(100 * 1024, 8) }, 5_000)
    const read = await readUntil(reader, frames, next)
    expect(read.map((frame) => frame.correlationId)).toEqual([2])
    expect(read[0].payload).toEqual(batchOf(100 * 1024, 8))
  })
})
