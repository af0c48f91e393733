/**
 * The ceiling: a bare Node TCP server, run as its own process like the broker, that does the least
 * any broker must do with a produce: read a length-prefixed frame, append its bytes to a file with
 * fs.writeSync, and ack it. It also serves reads of that file back (the fetch ceiling): each read
 * request names a range, which is read with fs.readSync and written to the socket.
 *
 * Framing is Partita's own FrameReader, so the two differ only in what happens to a frame.
 * Usage: node ceiling-server.js <file>; prints `listening on host:port`.
 */
import fs from 'node:fs'
import { CEILING_ACK_BYTES, CEILING_PRODUCE_API_KEY, CEILING_READ_API_KEY, READ_LENGTH_OFFSET, READ_POSITION_OFFSET } from './ceiling-wire.js'
import { serveFrames } from '../../src/bench/ceiling/frame-server.js'

/** The largest read served at once. */
const READ_BYTES_MAX = 64 * 1024 * 1024

function serve(file: string): void {
  const fd = fs.openSync(file, 'w+')
  let appendPosition = 0
  const answer = (frame: Buffer): Buffer => {
    const apiKey = frame.readInt16BE(0)
    const correlationId = frame.readInt32BE(4)
    if (apiKey === CEILING_PRODUCE_API_KEY) {
      appendPosition += fs.writeSync(fd, frame, 0, frame.length, appendPosition)
      const ack = Buffer.allocUnsafe(4 + CEILING_ACK_BYTES)
      ack.writeInt32BE(CEILING_ACK_BYTES, 0)
      ack.writeInt32BE(correlationId, 4)
      ack.writeInt16BE(0, 8)
      return ack
    }
    if (apiKey === CEILING_READ_API_KEY) {
      const position = Number(frame.readBigInt64BE(READ_POSITION_OFFSET))
      const length = Math.min(frame.readInt32BE(READ_LENGTH_OFFSET), READ_BYTES_MAX)
      const read = Buffer.allocUnsafe(8 + length)
      const bytes = fs.readSync(fd, read, 8, length, position)
      read.writeInt32BE(4 + bytes, 0)
      read.writeInt32BE(correlationId, 4)
      return read.subarray(0, 8 + bytes)
    }
    throw new Error(`api key ${apiKey} is neither a produce nor a read`)
  }
  serveFrames({ name: 'ceiling', answer, onStop: () => fs.closeSync(fd) })
}

const file = process.argv[2]
if (file === undefined) {
  console.error('usage: ceiling-server.js <file>')
  process.exit(2)
}
serve(file)
