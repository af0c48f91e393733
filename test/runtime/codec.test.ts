import { describe, expect, it } from 'vitest'
import { MessageKind, PayloadSlab, decodeFrame, encodeFrame, prepareFrame, type OutgoingFrame } from '../../src/runtime/codec.js'

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

  it('copies the record batches a shard reads from its rings into shared slabs, not an ArrayBuffer each, and keeps each copy intact', () => {
    const slab = new PayloadSlab(256 * 1024)
    const payloads = [1, 2, 3, 4].map((fill) => {
      const { bytes, offset, length } = ringBytes({ kind: MessageKind.REPLY, correlationId: fill, shard: 1, id: '', message: { errorCode: 0 }, payload: batchOf(16 * 1024 + fill, fill) })
      const frame = decodeFrame(bytes, offset, length, slab)
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
      return decodeFrame(bytes, offset, length, slab).payload!
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
