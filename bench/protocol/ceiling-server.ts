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
import net from 'node:net'
import { FrameReader } from '../../src/protocol/frame-reader.js'
import { CEILING_ACK_BYTES, CEILING_PRODUCE_API_KEY, CEILING_READ_API_KEY, READ_LENGTH_OFFSET, READ_POSITION_OFFSET } from './ceiling-wire.js'

/** The largest frame accepted, as Partita's default socket.request.max.bytes. */
const FRAME_BYTES_MAX = 104_857_600
/** The largest read served at once. */
const READ_BYTES_MAX = 64 * 1024 * 1024

function serve(file: string): void {
  const fd = fs.openSync(file, 'w+')
  let appendPosition = 0
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    // As the broker's connections read: each socket read freed once its frames are copied out.
    const reader = new FrameReader(FRAME_BYTES_MAX, { releaseChunks: true })
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      // The acks of one chunk's frames leave in one write.
      socket.cork()
      try {
        // Bounded: each pass takes one whole frame out of what is buffered.
        for (let frame = reader.next(); frame !== null; frame = reader.next()) {
          const apiKey = frame.readInt16BE(0)
          const correlationId = frame.readInt32BE(4)
          if (apiKey === CEILING_PRODUCE_API_KEY) {
            appendPosition += fs.writeSync(fd, frame, 0, frame.length, appendPosition)
            const ack = Buffer.allocUnsafe(4 + CEILING_ACK_BYTES)
            ack.writeInt32BE(CEILING_ACK_BYTES, 0)
            ack.writeInt32BE(correlationId, 4)
            ack.writeInt16BE(0, 8)
            socket.write(ack)
          } else if (apiKey === CEILING_READ_API_KEY) {
            const position = Number(frame.readBigInt64BE(READ_POSITION_OFFSET))
            const length = Math.min(frame.readInt32BE(READ_LENGTH_OFFSET), READ_BYTES_MAX)
            const answer = Buffer.allocUnsafe(8 + length)
            const read = fs.readSync(fd, answer, 8, length, position)
            answer.writeInt32BE(4 + read, 0)
            answer.writeInt32BE(correlationId, 4)
            socket.write(answer.subarray(0, 8 + read))
          } else {
            throw new Error(`api key ${apiKey} is neither a produce nor a read`)
          }
        }
      } catch (error) {
        console.error(`ceiling: ${(error as Error).message}`)
        socket.destroy()
      } finally {
        socket.uncork()
      }
    })
  })
  server.listen(0, '127.0.0.1', () => {
    const address = server.address() as net.AddressInfo
    console.log(`ceiling: listening on 127.0.0.1:${address.port}`)
  })
  const stop = (): void => {
    server.close()
    fs.closeSync(fd)
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

const file = process.argv[2]
if (file === undefined) {
  console.error('usage: ceiling-server.js <file>')
  process.exit(2)
}
serve(file)
