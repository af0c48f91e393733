/**
 * One TCP connection to one Kafka broker: int32 length framing, correlation ids, pipelined
 * requests with a bound on those in flight (extra ones wait in a bounded queue), a timeout per
 * request, and the ApiVersions handshake that fixes the version of every later request.
 *
 * Kafka answers the requests of one connection in order, so a response that does not match the
 * oldest request in flight means the stream is broken: the connection closes and every waiting
 * request fails. A request that times out also closes the connection, as the Java client does:
 * its answer may still come, and the only safe way to skip it is to drop the stream.
 */
import net from 'node:net'
import { PartitaError } from '../../common/errors.js'
import { apiByKey, ApiKey, decodeResponse, encodeRequest } from '../../protocol/index.js'
import type { ApiVersionsResponse, Input, RequestApiKey, RequestByKey, ResponseByKey } from '../../protocol/index.js'
import { ErrorCode, errorName } from '../../common/error-codes.js'
import { pickVersion, type VersionRange } from './versions.js'
import { FrameReader } from '../../protocol/frame-reader.js'

export interface ConnectionOptions {
  host: string
  port: number
  clientId?: string
  /** Default 10 s. */
  connectTimeoutMs?: number
  /** Default for each request; a long-poll Fetch passes a longer one. Default 30 s. */
  requestTimeoutMs?: number
  /** Requests written and not yet answered. Default 16. */
  maxInFlight?: number
  /** Requests waiting for an in-flight slot; more are refused. Default 1024. */
  maxQueued?: number
  /** The largest response frame accepted. Default 256 MiB. */
  frameBytesMax?: number
}

export interface RequestOptions {
  /** Overrides the negotiated version (must be one both sides serve). */
  version?: number
  timeoutMs?: number
}

interface Pending {
  correlationId: number
  apiKey: number
  decode: (frame: Buffer) => unknown
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout | null
}

interface Queued {
  frame: Buffer
  pending: Pending
  timeoutMs: number
}

const CONNECT_TIMEOUT_MS_DEFAULT = 10_000
const REQUEST_TIMEOUT_MS_DEFAULT = 30_000
const MAX_IN_FLIGHT_DEFAULT = 16
const MAX_QUEUED_DEFAULT = 1024
const FRAME_BYTES_MAX_DEFAULT = 256 * 1024 * 1024
const CORRELATION_ID_MAX = 0x7fffffff

function connectionError(message: string): PartitaError {
  return new PartitaError('PARTITA_CONNECTION', message)
}

function apiName(apiKey: number): string {
  return apiByKey(apiKey)?.name ?? `api ${apiKey}`
}

export class Connection {
  readonly host: string
  readonly port: number
  readonly clientId: string
  readonly #socket: net.Socket
  readonly #requestTimeoutMs: number
  readonly #maxInFlight: number
  readonly #maxQueued: number
  readonly #frameBytesMax: number
  readonly #inFlight = new Map<number, Pending>()
  // Correlation ids in write order: Kafka answers in this order.
  readonly #order: number[] = []
  readonly #queue: Queued[] = []
  readonly #reader: FrameReader
  #nextCorrelationId = 0
  #closedError: Error | null = null
  #brokerVersions = new Map<number, VersionRange>()

  private constructor(socket: net.Socket, options: ConnectionOptions) {
    this.host = options.host
    this.port = options.port
    this.clientId = options.clientId ?? 'partita'
    this.#socket = socket
    this.#requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT
    this.#maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT_DEFAULT
    this.#maxQueued = options.maxQueued ?? MAX_QUEUED_DEFAULT
    this.#frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT
    // The socket hands each read over and never looks at it again: the reader frees it once copied out.
    this.#reader = new FrameReader(this.#frameBytesMax, { releaseChunks: true, frameName: 'response', limitName: "this client's frameBytesMax" })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.#fail(connectionError(`connection to ${this.address} failed: ${error.code ?? error.message}`)),
    )
    socket.on('close', () => this.#fail(connectionError(`connection to ${this.address} closed`)))
  }

  /** Opens a connection and runs the ApiVersions handshake. */
  static async connect(options: ConnectionOptions): Promise<Connection> {
    const socket = await openSocket(options.host, options.port, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT)
    const connection = new Connection(socket, options)
    try {
      await connection.#handshake()
    } catch (error) {
      connection.close()
      throw error
    }
    return connection
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }

  get closed(): boolean {
    return this.#closedError !== null
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#inFlight.size
  }

  /** The broker's version range for `apiKey` from the handshake, if it serves it. */
  brokerVersions(apiKey: number): VersionRange | undefined {
    return this.#brokerVersions.get(apiKey)
  }

  /** The version requests of `apiKey` use on this connection. */
  version(apiKey: number): number {
    return pickVersion(apiKey, this.#brokerVersions.get(apiKey), apiName(apiKey))
  }

  /** Sends a request and resolves with the decoded response body. */
  send<K extends RequestApiKey>(apiKey: K, body: Input<RequestByKey[K]>, options: RequestOptions = {}): Promise<ResponseByKey[K]> {
    const version = options.version ?? this.version(apiKey)
    const decode = (frame: Buffer): ResponseByKey[K] => decodeResponse(apiKey, version, frame).body
    return this.#enqueue(apiKey, version, body, decode, options.timeoutMs ?? this.#requestTimeoutMs) as Promise<ResponseByKey[K]>
  }

  /**
   * Sends a request the broker does not answer (a Produce with acks=0) and resolves once the
   * bytes are handed to the socket.
   */
  sendNoResponse<K extends RequestApiKey>(apiKey: K, body: Input<RequestByKey[K]>, options: RequestOptions = {}): Promise<void> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError)
    const version = options.version ?? this.version(apiKey)
    const frame = encodeRequest(apiKey, version, this.#takeCorrelationId(), this.clientId, body)
    return new Promise((resolve, reject) => {
      this.#socket.write(frame, (error) => (error ? reject(connectionError(`write to ${this.address} failed: ${error.message}`)) : resolve()))
    })
  }

  /** Closes the socket; requests still waiting fail with PARTITA_CONNECTION. */
  close(): void {
    this.#fail(connectionError(`connection to ${this.address} closed by the client`))
    this.#socket.destroy()
  }

  async #handshake(): Promise<void> {
    const version = pickVersion(ApiKey.ApiVersions, { min: 0, max: 3 }, 'ApiVersions')
    // A broker that does not serve our ApiVersions version answers in v0 with UNSUPPORTED_VERSION
    // (KIP-511); the error code sits first in the body in every version, so peek at it.
    const decoder = (asked: number) => (frame: Buffer): ApiVersionsResponse => {
      const unsupported = frame.length >= 6 && frame.readInt16BE(4) === ErrorCode.UNSUPPORTED_VERSION
      return decodeResponse(ApiKey.ApiVersions, unsupported ? 0 : asked, frame).body
    }
    const body = { clientSoftwareName: 'partita', clientSoftwareVersion: '0.1.0' }
    let response = (await this.#enqueue(ApiKey.ApiVersions, version, body, decoder(version), this.#requestTimeoutMs)) as ApiVersionsResponse
    if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION && version > 0) {
      response = (await this.#enqueue(ApiKey.ApiVersions, 0, {}, decoder(0), this.#requestTimeoutMs)) as ApiVersionsResponse
    }
    if (response.errorCode !== ErrorCode.NONE) {
      throw connectionError(`ApiVersions to ${this.address} failed: ${errorName(response.errorCode)}`)
    }
    for (const key of response.apiKeys) this.#brokerVersions.set(key.apiKey, { min: key.minVersion, max: key.maxVersion })
  }

  #takeCorrelationId(): number {
    const id = this.#nextCorrelationId
    this.#nextCorrelationId = id === CORRELATION_ID_MAX ? 0 : id + 1
    return id
  }

  #enqueue(apiKey: number, version: number, body: unknown, decode: (frame: Buffer) => unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError)
    const correlationId = this.#takeCorrelationId()
    // The body type was checked by the public signatures; encodeRequest's generic cannot see it here.
    const frame = encodeRequest(apiKey as RequestApiKey, version, correlationId, this.clientId, body as never)
    return new Promise((resolve, reject) => {
      const pending: Pending = { correlationId, apiKey, decode, resolve, reject, timer: null }
      if (this.#inFlight.size < this.#maxInFlight) {
        this.#write(frame, pending, timeoutMs)
      } else if (this.#queue.length < this.#maxQueued) {
        this.#queue.push({ frame, pending, timeoutMs })
      } else {
        reject(new PartitaError('PARTITA_CLIENT_QUEUE_FULL', `${this.#maxQueued} requests already wait for ${this.address}`))
      }
    })
  }

  #write(frame: Buffer, pending: Pending, timeoutMs: number): void {
    this.#inFlight.set(pending.correlationId, pending)
    this.#order.push(pending.correlationId)
    pending.timer = setTimeout(() => {
      const error = new PartitaError(
        'PARTITA_REQUEST_TIMEOUT',
        `${apiName(pending.apiKey)} to ${this.address} got no answer within ${timeoutMs} ms`,
      )
      this.#inFlight.delete(pending.correlationId)
      pending.reject(error)
      this.#fail(connectionError(`connection to ${this.address} closed after a request timed out`))
      this.#socket.destroy()
    }, timeoutMs)
    this.#socket.write(frame)
  }

  #onData(chunk: Buffer): void {
    this.#reader.push(chunk)
    // Bounded: every pass consumes one whole frame from what is buffered.
    while (this.#closedError === null) {
      let frame: Buffer | null
      try {
        frame = this.#reader.next()
      } catch (error) {
        this.#protocolFailure(`${error instanceof Error ? error.message : String(error)} from ${this.address}`)
        return
      }
      if (frame === null) return
      // Every response starts with its correlation id.
      if (frame.length < 4) {
        this.#protocolFailure(`response frame of ${frame.length} bytes from ${this.address}`)
        return
      }
      this.#onFrame(frame)
    }
  }

  #onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0)
    const expected = this.#order.shift()
    const pending = this.#inFlight.get(correlationId)
    if (expected !== correlationId || pending === undefined) {
      this.#protocolFailure(`response with correlation id ${correlationId} from ${this.address}, expected ${expected ?? 'none'}`)
      return
    }
    this.#inFlight.delete(correlationId)
    if (pending.timer !== null) clearTimeout(pending.timer)
    try {
      pending.resolve(pending.decode(frame))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      pending.reject(new PartitaError('PARTITA_PROTOCOL', `cannot decode ${apiName(pending.apiKey)} response from ${this.address}: ${message}`))
    }
    this.#drainQueue()
  }

  #drainQueue(): void {
    while (this.#closedError === null && this.#inFlight.size < this.#maxInFlight && this.#queue.length > 0) {
      const next = this.#queue.shift()!
      this.#write(next.frame, next.pending, next.timeoutMs)
    }
  }

  #protocolFailure(message: string): void {
    this.#fail(new PartitaError('PARTITA_PROTOCOL', message))
    this.#socket.destroy()
  }

  #fail(error: Error): void {
    if (this.#closedError !== null) return
    this.#closedError = error
    for (const pending of this.#inFlight.values()) {
      if (pending.timer !== null) clearTimeout(pending.timer)
      pending.reject(error)
    }
    this.#inFlight.clear()
    this.#order.length = 0
    for (const queued of this.#queue) queued.pending.reject(error)
    this.#queue.length = 0
  }
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(connectionError(`cannot connect to ${host}:${port}: no answer within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      socket.setNoDelay(true)
      resolve(socket)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(connectionError(`cannot connect to ${host}:${port}: ${error.code ?? error.message}`))
    })
  })
}
