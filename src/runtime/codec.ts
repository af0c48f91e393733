/**
 * The frame format of the shard rings. Each ring frame is one message:
 *
 *   offset 0   u8   kind (MessageKind)
 *          1   u8   flags (bit 0: the actor id is a number, stored as a float64)
 *          2   u16  idBytes: length of the actor id that follows the header
 *          4   u32  correlation id (0 when no reply is wanted)
 *          8   i32  shard: the sender's shard (-1: the main thread)
 *         12   u32  controlBytes: length of the msgpack-encoded control object
 *         16   ...  actor id (UTF-8, or float64 little-endian), control object, zero to seven
 *                  bytes of padding when a payload follows, raw payload
 *
 * The payload (record batches, on the hot path) is copied in as raw bytes, never msgpack'd; its
 * length is what remains of the frame. An absent control object is stored as zero bytes. The
 * padding puts the payload at an 8-byte boundary of the frame, and a ring starts every frame at
 * one (ring.ts says why: V8 copies into and out of shared memory far slower when the two
 * addresses differ modulo 8). Either end computes it from the sections before it.
 *
 * A message larger than the ring can hold (a record batch of up to max.message.bytes, which Kafka
 * lets reach 2 GiB, fetched by a follower) travels as FRAGMENT frames, each a slice of the whole
 * encoded message:
 *
 *   offset 0   u8   kind (FRAGMENT)
 *          1   u8   0
 *          2   u16  0
 *          4   u32  length of the whole message
 *          8   u32  where this slice starts in it
 *         12   u32  0
 *         16   ...  the slice
 *
 * A ring has one writer and keeps its writes in call order, and the slices are all asked for in
 * one synchronous run, so they arrive one after another; FrameAssembler joins them.
 */
import { Packr } from 'msgpackr'
import { assert } from '../common/assert.js'
import { PartitaError } from '../common/errors.js'
import { FRAME_ALIGN_BYTES, type RingWriter } from './ring.js'

export const MessageKind = {
  /** A request to an actor; the reply carries the same correlation id. */
  REQUEST: 1,
  /** A message to an actor that wants no reply. */
  TELL: 2,
  REPLY: 3,
  /** A reply whose control object is a SerializedError. */
  REPLY_ERROR: 4,
  /** An actor's event for the main thread (shard to main only). */
  EVENT: 5,
  /** Create an actor: control { kind, init, mailboxCapacity }; replied to. */
  SPAWN: 6,
  /** Stop and remove an actor; replied to. */
  STOP_ACTOR: 7,
  /** A slice of a message too large for one ring frame (see the header). */
  FRAGMENT: 8,
} as const
export type MessageKindValue = (typeof MessageKind)[keyof typeof MessageKind]

export type ActorId = string | number

export const HEADER_BYTES = 16
const FLAG_NUMERIC_ID = 1

/**
 * Plain msgpack, no shared record structures: the two ends of a ring are different threads with
 * separate Packr instances, so structures learned on one side would be unknown on the other.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true })

export interface OutgoingFrame {
  kind: MessageKindValue
  correlationId: number
  shard: number
  id: ActorId
  message: unknown
  payload?: Uint8Array
}

/** A frame ready to be written: the control object already encoded, the total length known. */
export interface PreparedFrame {
  frame: OutgoingFrame
  control: Buffer | null
  idBytes: number
  length: number
}

export function prepareFrame(frame: OutgoingFrame): PreparedFrame {
  const control = frame.message === undefined ? null : packr.pack(frame.message)
  const idBytes = typeof frame.id === 'number' ? 8 : Buffer.byteLength(frame.id)
  assert(idBytes <= 0xffff, 'actor id longer than 65535 bytes')
  const beforePayload = HEADER_BYTES + idBytes + (control?.length ?? 0)
  const payloadBytes = frame.payload?.length ?? 0
  const length = payloadBytes === 0 ? beforePayload : beforePayload + payloadPadBytes(beforePayload) + payloadBytes
  return { frame, control, idBytes, length }
}

/** The padding that puts a payload following `beforeBytes` of its frame at an 8-byte boundary. */
function payloadPadBytes(beforeBytes: number): number {
  return -beforeBytes & (FRAME_ALIGN_BYTES - 1)
}

/** Encodes a prepared frame at `bytes[offset ..]` (a ring reservation). */
export function encodeFrame(prepared: PreparedFrame, bytes: Buffer, offset: number): void {
  const { frame, control, idBytes } = prepared
  const numericId = typeof frame.id === 'number'
  bytes[offset] = frame.kind
  bytes[offset + 1] = numericId ? FLAG_NUMERIC_ID : 0
  bytes.writeUInt16LE(idBytes, offset + 2)
  bytes.writeUInt32LE(frame.correlationId >>> 0, offset + 4)
  bytes.writeInt32LE(frame.shard, offset + 8)
  bytes.writeUInt32LE(control?.length ?? 0, offset + 12)
  let at = offset + HEADER_BYTES
  if (numericId) bytes.writeDoubleLE(frame.id as number, at)
  else bytes.write(frame.id as string, at, idBytes, 'utf8')
  at += idBytes
  if (control !== null) {
    bytes.set(control, at)
    at += control.length
  }
  if (frame.payload === undefined || frame.payload.length === 0) return
  const pad = payloadPadBytes(at - offset)
  bytes.fill(0, at, at + pad)
  bytes.set(frame.payload, at + pad)
}

/**
 * Writes a frame into a ring, waiting (bounded by timeoutMs) while the ring is full; a frame larger
 * than the ring can hold goes as fragments (see the header).
 */
export function writeFrame(writer: RingWriter, frame: OutgoingFrame, timeoutMs: number): Promise<void> {
  const prepared = prepareFrame(frame)
  if (prepared.length > writer.maxFrameBytes) return writeFragments(writer, prepared, timeoutMs)
  return writer.writeWith(prepared.length, (bytes, offset) => encodeFrame(prepared, bytes, offset), { timeoutMs })
}

/** The largest message a fragmented write may carry: Kafka's sizes are int32, and a Node Buffer holds up to 4 GiB on 64-bit builds. */
export const FRAGMENTED_MESSAGE_BYTES_MAX = 2 ** 31

function writeFragments(writer: RingWriter, prepared: PreparedFrame, timeoutMs: number): Promise<void> {
  if (prepared.length > FRAGMENTED_MESSAGE_BYTES_MAX) {
    return Promise.reject(new PartitaError('PARTITA_FRAME_TOO_LARGE', `a message of ${prepared.length} bytes is over ${FRAGMENTED_MESSAGE_BYTES_MAX}`))
  }
  const whole = Buffer.allocUnsafe(prepared.length)
  encodeFrame(prepared, whole, 0)
  // A quarter of the ring per slice: the reader drains one slice while the next is written.
  // A multiple of 8, so each slice lands in the whole message at the alignment it has in the ring.
  const sliceBytes = Math.max(FRAME_ALIGN_BYTES, (Math.floor(writer.maxFrameBytes / 4) - HEADER_BYTES) & ~(FRAME_ALIGN_BYTES - 1))
  const writes: Promise<void>[] = []
  // Bounded: each pass writes at least one byte of the message.
  for (let start = 0; start < whole.length; start += sliceBytes) {
    const slice = whole.subarray(start, Math.min(whole.length, start + sliceBytes))
    writes.push(
      writer.writeWith(
        HEADER_BYTES + slice.length,
        (bytes, offset) => {
          bytes.fill(0, offset, offset + HEADER_BYTES)
          bytes[offset] = MessageKind.FRAGMENT
          bytes.writeUInt32LE(whole.length, offset + 4)
          bytes.writeUInt32LE(start, offset + 8)
          bytes.set(slice, offset + HEADER_BYTES)
        },
        { timeoutMs },
      ),
    )
  }
  return Promise.all(writes).then(() => undefined)
}

/** A frame read from a ring; the payload is a copy the receiver owns. */
export interface IncomingFrame {
  kind: MessageKindValue
  correlationId: number
  shard: number
  id: ActorId
  message: unknown
  payload: Buffer | undefined
}

function ownCopy(bytes: Buffer, start: number, end: number): Buffer {
  const payload = Buffer.allocUnsafe(end - start)
  bytes.copy(payload, 0, start, end)
  return payload
}

/**
 * Copies the payload at `bytes[start .. end)` out of the ring into memory the receiver owns, or
 * returns undefined for a buffer of the payload's own. It is told the frame's kind and correlation
 * id, so that an answer can go where its asker asked.
 */
export type PayloadCopier = (bytes: Buffer, start: number, end: number, kind: MessageKindValue, correlationId: number) => Buffer | undefined

/**
 * Decodes what one ring's reader reads: whole frames at once, fragments once the last slice of
 * their message is in. A message whose slices stop short (a write that timed out midway) is
 * dropped when the next message starts; its writer already saw the failure.
 */
export class FrameAssembler {
  readonly #copier: PayloadCopier | undefined
  #message: Buffer | null = null
  #filledBytes = 0

  constructor(copier?: PayloadCopier) {
    this.#copier = copier
  }

  /** The frame at `bytes[offset .. offset + length)`, or null while a fragmented message is incomplete. */
  accept(bytes: Buffer, offset: number, length: number): IncomingFrame | null {
    if (bytes[offset] !== MessageKind.FRAGMENT) {
      this.#message = null
      return decodeFrame(bytes, offset, length, this.#copier)
    }
    assert(length > HEADER_BYTES, `ring fragment of ${length} bytes holds nothing`)
    const totalBytes = bytes.readUInt32LE(offset + 4)
    const start = bytes.readUInt32LE(offset + 8)
    const sliceBytes = length - HEADER_BYTES
    if (start === 0) {
      this.#message = Buffer.allocUnsafe(totalBytes)
      this.#filledBytes = 0
    }
    const message = this.#message
    if (message === null || message.length !== totalBytes || start !== this.#filledBytes || start + sliceBytes > totalBytes) {
      this.#message = null // a slice of a message whose start was lost
      return null
    }
    bytes.copy(message, start, offset + HEADER_BYTES, offset + length)
    this.#filledBytes += sliceBytes
    if (this.#filledBytes < totalBytes) return null
    this.#message = null
    // The payload is a view of the assembled message, which nothing else holds.
    return decodeFrame(message, 0, totalBytes, undefined, false)
  }
}

/**
 * Decodes the frame at `bytes[offset .. offset + length)`, copying what must outlive the ring slot:
 * the payload with `copier` when it takes it, else into a buffer of its own.
 */
export function decodeFrame(bytes: Buffer, offset: number, length: number, copier?: PayloadCopier, copyPayload = true): IncomingFrame {
  assert(length >= HEADER_BYTES, `ring frame of ${length} bytes is shorter than its header`)
  const kind = bytes[offset] as MessageKindValue
  const numericId = (bytes[offset + 1] & FLAG_NUMERIC_ID) !== 0
  const idBytes = bytes.readUInt16LE(offset + 2)
  const correlationId = bytes.readUInt32LE(offset + 4)
  const shard = bytes.readInt32LE(offset + 8)
  const controlBytes = bytes.readUInt32LE(offset + 12)
  const end = offset + length
  let at = offset + HEADER_BYTES
  assert(at + idBytes + controlBytes <= end, 'ring frame sections overrun the frame')
  const id = numericId ? bytes.readDoubleLE(at) : bytes.toString('utf8', at, at + idBytes)
  at += idBytes
  const message = controlBytes === 0 ? undefined : packr.unpack(bytes.subarray(at, at + controlBytes))
  at += controlBytes
  let payload: Buffer | undefined
  if (at < end) at += payloadPadBytes(at - offset)
  if (at < end) payload = copyPayload ? (copier?.(bytes, at, end, kind, correlationId) ?? ownCopy(bytes, at, end)) : bytes.subarray(at, end)
  return { kind, correlationId, shard, id, message, payload }
}
