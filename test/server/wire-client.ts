/**
 * A tiny Kafka client for server tests: our own codecs over a real TCP socket. Responses are
 * matched by correlation id, and the order they arrive in is recorded, so tests can check that
 * the server answers strictly in request order.
 */
import { connect, type Socket } from 'node:net'
import { decodeResponse, encodeRequest } from '../../src/protocol/index.js'
import type { Input, RequestApiKey, RequestByKey, ResponseByKey } from '../../src/protocol/index.js'
import { FrameReader } from '../../src/protocol/frame-reader.js'

interface Expected {
  apiKey: RequestApiKey
  /** The version to decode the response body with (v0 for an unsupported ApiVersions). */
  responseVersion: number
  resolve: (body: unknown) => void
  reject: (error: Error) => void
}

export class WireClient {
  readonly socket: Socket
  /** Correlation ids of responses in the order they arrived. */
  readonly arrivals: number[] = []
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>
  #nextCorrelationId = 1
  readonly #expected = new Map<number, Expected>()
  readonly #reader = new FrameReader(1 << 30)
  #isClosed = false

  private constructor(socket: Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#isClosed = true
        for (const e of this.#expected.values()) e.reject(new Error('connection closed'))
        this.#expected.clear()
        resolve()
      })
    })
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk)
      for (let frame = this.#reader.next(); frame !== null; frame = this.#reader.next()) this.#onFrame(frame)
    })
  }

  /** `localAddress` picks the source address (any 127.x.y.z works on Linux loopback). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, ...(localAddress === undefined ? {} : { localAddress }) }, () => {
        socket.off('error', reject)
        resolve(new WireClient(socket))
      })
      socket.once('error', reject)
    })
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  nextCorrelationId(): number {
    return this.#nextCorrelationId++
  }

  /** Sends a request and resolves with the decoded response body. */
  request<K extends RequestApiKey>(
    apiKey: K,
    version: number,
    body: Input<RequestByKey[K]>,
    options: { responseVersion?: number; clientId?: string } = {},
  ): Promise<ResponseByKey[K]> & { correlationId: number } {
    const correlationId = this.nextCorrelationId()
    const promise = new Promise<ResponseByKey[K]>((resolve, reject) => {
      this.#expected.set(correlationId, {
        apiKey,
        responseVersion: options.responseVersion ?? version,
        resolve: resolve as (body: unknown) => void,
        reject,
      })
    })
    this.socket.write(encodeRequest(apiKey, version, correlationId, options.clientId ?? 'wire-client', body))
    return Object.assign(promise, { correlationId })
  }

  /** Sends a request that expects no response (acks=0); returns its correlation id. */
  send<K extends RequestApiKey>(apiKey: K, version: number, body: Input<RequestByKey[K]>): number {
    const correlationId = this.nextCorrelationId()
    this.socket.write(encodeRequest(apiKey, version, correlationId, 'wire-client', body))
    return correlationId
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  close(): Promise<void> {
    this.socket.destroy()
    return this.closed
  }

  #onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0)
    this.arrivals.push(correlationId)
    const expected = this.#expected.get(correlationId)
    if (expected === undefined) return
    this.#expected.delete(correlationId)
    try {
      expected.resolve(decodeResponse(expected.apiKey, expected.responseVersion, frame).body)
    } catch (error) {
      expected.reject(error as Error)
    }
  }
}

/** A request frame with an arbitrary header and body bytes, for malformed-input tests. */
export function rawFrame(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(10)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(version, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(-1, 8)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + body.length, 0)
  return Buffer.concat([size, header, body])
}
