/**
 * The TCP loop both ceiling servers share: length-prefixed frames read with Partita's own
 * FrameReader, each handed to `answer`, whose answers leave in request order, those of one socket
 * read in one write. A frame `answer` throws on closes that connection. Prints `<name>: listening
 * on host:port` once listening, and exits on SIGTERM or SIGINT.
 */
import net from 'node:net'
import { FrameReader } from '../../src/protocol/frame-reader.js'

/** The largest frame accepted, as Partita's default socket.request.max.bytes. */
const FRAME_BYTES_MAX = 104_857_600
const HOST = '127.0.0.1'

export interface FrameServerOptions {
  name: string
  /** The answer to one frame (without its size prefix), or null when none is due. */
  answer(frame: Buffer): Buffer | null
  /** Called with the port once listening, before the line is printed. */
  onListening?(port: number): void
  /** Called before the process exits on a signal. */
  onStop?(): void
}

export function serveFrames(options: FrameServerOptions): void {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    // As the broker's connections read: each socket read freed once its frames are copied out.
    const reader = new FrameReader(FRAME_BYTES_MAX, { releaseChunks: true })
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      socket.cork()
      try {
        // Bounded: each pass takes one whole frame out of what is buffered.
        for (let frame = reader.next(); frame !== null; frame = reader.next()) {
          const answer = options.answer(frame)
          if (answer !== null) socket.write(answer)
        }
      } catch (error) {
        console.error(`${options.name}: ${(error as Error).message}`)
        socket.destroy()
      } finally {
        socket.uncork()
      }
    })
  })
  server.listen(0, HOST, () => {
    const address = server.address() as net.AddressInfo
    options.onListening?.(address.port)
    console.log(`${options.name}: listening on ${HOST}:${address.port}`)
  })
  const stop = (): void => {
    server.close()
    options.onStop?.()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
