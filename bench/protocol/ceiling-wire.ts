/**
 * What the ceiling server (ceiling-server.ts) understands, shared with the load generator. It
 * reads Kafka's request header only: a Produce frame (api key 0) is appended to a file as it is
 * and acked with a small answer; a read frame (api key 1, a body of its own) asks for a range of
 * that file, which comes back as the answer's body.
 */
import { REQUEST_CORRELATION_ID_OFFSET } from './frame-pipe.js'

export const CEILING_PRODUCE_API_KEY = 0
export const CEILING_READ_API_KEY = 1
/** An ack: int32 correlation id, int16 error code (0). */
export const CEILING_ACK_BYTES = 6
/** A read request: size, api key, version, correlation id, then int64 file position and int32 length. */
const READ_REQUEST_BYTES = 4 + 2 + 2 + 4 + 8 + 4
export const READ_POSITION_OFFSET = 8
export const READ_LENGTH_OFFSET = 16

export function encodeCeilingRead(correlationId: number, position: number, length: number): Buffer {
  const frame = Buffer.alloc(READ_REQUEST_BYTES)
  frame.writeInt32BE(READ_REQUEST_BYTES - 4, 0)
  frame.writeInt16BE(CEILING_READ_API_KEY, 4)
  frame.writeInt32BE(correlationId, REQUEST_CORRELATION_ID_OFFSET)
  frame.writeBigInt64BE(BigInt(position), 4 + READ_POSITION_OFFSET)
  frame.writeInt32BE(length, 4 + READ_LENGTH_OFFSET)
  return frame
}

/** Throws unless `answer` is the ceiling's ack with error code 0. */
export function checkCeilingAck(answer: Buffer): void {
  if (answer.length !== CEILING_ACK_BYTES || answer.readInt16BE(4) !== 0) throw new Error(`bad ceiling ack of ${answer.length} bytes`)
}
