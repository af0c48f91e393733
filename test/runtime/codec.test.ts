import { describe, expect, it } from 'vitest'
import { FrameAssembler, MessageKind, PayloadSlab, decodeFrame, encodeFrame, prepareFrame, writeFrame, type IncomingFrame, type OutgoingFrame, type PayloadCopier } from '../../src/runtime/codec.js'
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

/** What a shard gives its frame assemblers: every payload into the slab. */
const copier =
  (slab: PayloadSlab): PayloadCopier =>
  (bytes, start, end) =>
    slab.copy(bytes, start, end)

describe('ring frame codec', () => {
  it('decodes a frame with its actor id, control object and payload', () => {
    const { bytes, offset, length } = ringBytes({ kind: MessageKind.REQUEST, correlationId: 7, shard: 2, id: 'topic-3', message: { op: 'fetch', fetchOffset: 12 }, payload: batchOf(100, 1) })
    const frame = decodeFrame(bytes, offset, length)
    expect(frame).toMatchObject({ kind: MessageKind.REQUEST, correlationId: 7, shard: 2, id: 'topic-3', message: { op: 'fetch', fetchOffset: 12 } })
    expect(frame.payload).toEqual(batchOf(100, 1))
  })

  it('copies the record batches a shard reads from its rings into shared slabs, not an ArrayBuffer each, and keeps each copy intact', () => {
    const slab = new PayloadSlab(256 * 1024)
    const payloads = [1, 2, 3, 4].map((fill) => {
      const { bytes, offset, length } = ringBytes({ kind: MessageKind.REPLY, correlationId: fill, shard: 1, id: '', message: { errorCode: 0 }, payload: batchOf(16 * 1024 + fill, fill) })
      const frame = decodeFrame(bytes, offset, length, copier(slab))
      // The ring slot is reused once the frame is read: the copy must not change with it.
      bytes.fill(0xff)
      return frame.payload!
    })
    expect(new Set(payloads.map((payload) => payload.buffer)).size).toBe(1)
    payloads.forEach((payload, i) => expect(payload).toEqual(batchOf(16 * 1024 + i + 1, i + 1)))
  })

  it('starts a new slab when one is used up, and gives a payload over a quarter slab a buffer of its own', () => {
    const slab = new PayloadSlab(64 * 1024)
    const decode = (payloadBytes: number): Buffer => {
      const { bytes, offset, length } = ringBytes({ kind: MessageKind.TELL, correlationId: 0, shard: 0, id: 5, message: undefined, payload: batchOf(payloadBytes, 9) })
      return decodeFrame(bytes, offset, length, copier(slab)).payload!
    }
    const first = [decode(16 * 1024), decode(16 * 1024), decode(16 * 1024), decode(16 * 1024)]
    const next = decode(16 * 1024)
    expect(new Set(first.map((payload) => payload.buffer)).size).toBe(1)
    expect(next.buffer).not.toBe(first[0].buffer)
    const large = decode(16 * 1024 + 1)
    expect(large.buffer).not.toBe(next.buffer)
    expect(large).toEqual(batchOf(16 * 1024 + 1, 9))
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
    const read = await readUntil(reader, new FrameAssembler(copier(new PayloadSlab())), writes)
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
