/**
 * The TCP loop both ceiling servers share: length-prefixed frames read with Partita's own
 * FrameReader, each handed to `answer`. Answers leave in request order, as Kafka's do: one given
 * at once goes out with the others of the same socket read in one write, unless an earlier one is
 * still awaited (a parked fetch), which it then follows. A frame `answer` throws on closes that
 * connection. Prints `<name>: listening on host:port` once listening, and exits on SIGTERM or
 * SIGINT. A ceiling is a process of its own that a bench spawns: its standard output and error are
 * its interface to that parent, written directly, with no Logger.
 */
import net from 'node:net'
import { FrameReader } from '../../protocol/frame-reader.js'

/** The largest frame accepted, as Partita's default socket.request.max.bytes. */
const FRAME_BYTES_MAX = 104_857_600
const HOST = '127.0.0.1'
/** Answers a connection may have queued behind one still awaited; a bench client keeps a few in flight. */
const QUEUED_ANSWERS_MAX = 10_000

export interface FrameServerOptions {
  name: string
  /** The port to listen on; 0 (the default) takes a free one. */
  port?: number
  /** The answer to one frame (without its size prefix), or null when none is due; a promise when it must wait. */
  answer(frame: Buffer): Buffer | null | Promise<Buffer | null>
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
    // Answers awaited, in request order; an answer given at once joins the tail while any is.
    let awaited: Promise<Buffer | null> = Promise.resolve(null)
    let waiting = 0
    const fail = (error: unknown): void => {
      process.stderr.write(`${options.name}: ${(error as Error).message}\n`)
      socket.destroy()
    }
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      socket.cork()
      try {
        // Bounded: each pass takes one whole frame out of what is buffered.
        for (let frame = reader.next(); frame !== null; frame = reader.next()) {
          const answer = options.answer(frame)
          if (waiting === 0 && !(answer instanceof Promise)) {
            if (answer !== null) socket.write(answer)
            continue
          }
          if (++waiting > QUEUED_ANSWERS_MAX) throw new Error(`more than ${QUEUED_ANSWERS_MAX} answers queued on one connection`)
          awaited = awaited.then(() => answer).then((ready) => {
            waiting--
            if (ready !== null && !socket.destroyed) socket.write(ready)
            return null
          })
          awaited.catch(fail)
        }
      } catch (error) {
        fail(error)
      } finally {
        socket.uncork()
      }
    })
  })
  server.listen(options.port ?? 0, HOST, () => {
    const address = server.address() as net.AddressInfo
    options.onListening?.(address.port)
    // The line the parent process waits for (see servers.ts and start-peer.ts), not a log line.
    process.stdout.write(`${options.name}: listening on ${HOST}:${address.port}\n`)
  })
  const stop = (): void => {
    server.close()
    options.onStop?.()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
