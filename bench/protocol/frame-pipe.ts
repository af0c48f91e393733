/**
 * One TCP connection that pipelines already-encoded request frames and matches the answers in
 * order. It is not the wire client (src/client/wire/connection.ts) on purpose: the load generator
 * must not pay for encoding on every request (it shares two cores with the broker it measures),
 * and it also drives the ceiling server, which speaks no Kafka beyond the frame header.
 *
 * A frame starts with its int32 size, then int16 api key, int16 version and int32 correlation id
 * (Kafka's request header); every answer starts with its int32 size and int32 correlation id.
 */
import net from 'node:net'
import { FrameReader } from '../../src/protocol/frame-reader.js'

/** Byte offset of the correlation id in a request frame (after size, api key and version). */
export const REQUEST_CORRELATION_ID_OFFSET = 8
/** The largest answer accepted: a fetch asks for at most a few MiB. */
const RESPONSE_BYTES_MAX = 256 * 1024 * 1024
/** Requests unanswered at once on one pipe; the load generator keeps far fewer. */
const PENDING_MAX = 4096
const CONNECT_TIMEOUT_MS = 10_000

interface Pending {
  correlationId: number
  resolve: (frame: Buffer) => void
  reject: (error: Error) => void
}

export class FramePipe {
  readonly address: string
  readonly #socket: net.Socket
  readonly #reader = new FrameReader(RESPONSE_BYTES_MAX)
  readonly #pending: Pending[] = []
  #nextCorrelationId = 1
  #failure: Error | null = null

  private constructor(socket: net.Socket, address: string) {
    this.address = address
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(new Error(`connection to ${address} failed: ${error.message}`)))
    socket.on('close', () => this.#fail(new Error(`connection to ${address} closed`)))
  }

  static connect(host: string, port: number): Promise<FramePipe> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`cannot connect to ${host}:${port} within ${CONNECT_TIMEOUT_MS} ms`))
      }, CONNECT_TIMEOUT_MS)
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(new Error(`cannot connect to ${host}:${port}: ${error.message}`))
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.setNoDelay(true)
        resolve(new FramePipe(socket, `${host}:${port}`))
      })
    })
  }

  /** A fresh correlation id for the caller to write into its next frame. */
  nextCorrelationId(): number {
    const id = this.#nextCorrelationId
    this.#nextCorrelationId = id >= 0x7fffffff ? 1 : id + 1
    return id
  }

  /**
   * Writes `frame` and resolves with its answer (without the size prefix). The socket may keep a
   * reference to `frame` until it is sent, so the caller must not change it before the answer.
   */
  send(frame: Buffer): Promise<Buffer> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    if (this.#pending.length >= PENDING_MAX) return Promise.reject(new Error(`${PENDING_MAX} requests already wait on ${this.address}`))
    const correlationId = frame.readInt32BE(REQUEST_CORRELATION_ID_OFFSET)
    return new Promise((resolve, reject) => {
      this.#pending.push({ correlationId, resolve, reject })
      this.#socket.write(frame)
    })
  }

  close(): void {
    this.#fail(new Error(`connection to ${this.address} closed by the load generator`))
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    this.#reader.push(chunk)
    try {
      // Bounded: each pass takes one whole frame out of what is buffered.
      for (let frame = this.#reader.next(); frame !== null && this.#failure === null; frame = this.#reader.next()) this.#onFrame(frame)
    } catch (error) {
      this.#fail(error as Error)
      this.#socket.destroy()
    }
  }

  #onFrame(frame: Buffer): void {
    const pending = this.#pending[0]
    const correlationId = frame.length >= 4 ? frame.readInt32BE(0) : -1
    if (pending === undefined || pending.correlationId !== correlationId) {
      throw new Error(`answer with correlation id ${correlationId} from ${this.address}, expected ${pending?.correlationId ?? 'none'}`)
    }
    this.#pending.shift()
    pending.resolve(frame)
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return
    this.#failure = error
    for (const pending of this.#pending.splice(0)) pending.reject(error)
  }
}
