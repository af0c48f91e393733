/**
 * One client connection: frames in, handlers run concurrently, responses out strictly in request
 * order (Kafka clients match responses to requests by order as well as by correlation id).
 *
 * Each dispatched request takes a slot at the tail of a queue; a handler that finishes fills its
 * slot, and the queue is flushed from the head while the head is filled. A request that gets no
 * response (acks=0 produce) fills its slot with nothing, so it never holds back the ones behind
 * it. The queue is bounded: at `inFlightRequestsMax` unanswered requests, or while the socket's
 * write buffer is full, the connection stops reading until a slot frees or the buffer drains.
 *
 * Fetches run one at a time per connection, from dispatch until their answer has been handed to
 * the socket, as Kafka runs every request (it mutes a connection until the answer is sent). A
 * fetch's answer holds up to the client's fetch.max.bytes of read buffers until it is written, so
 * without this a client that pipelines fetches and reads slowly would hold that much per request
 * in flight, instead of once per connection. Other requests behind a fetch still run; one fetch
 * behind another waits, and what follows it.
 *
 * A protocol violation (bad frame size, an unparsable request, an API or version we do not serve)
 * closes this connection only; every error is caught here, so no client can crash the process.
 */
import type { Socket } from 'node:net'
import { fetchReadBuffers } from '../common/buffer-pool.js'
import { phaseTrace } from '../common/phase-trace.js'
import type { BrokerCore } from './core.js'
import {
  ApiKey,
  decodeRequestBody,
  decodeRequestHeader,
  encodeResponse,
  encodeResponseChunks,
} from '../protocol/index.js'
import type { RequestApiKey, RequestHeader } from '../protocol/index.js'
import { FrameReader, freeWholeBuffer } from '../protocol/frame-reader.js'
import { CLOSE_CONNECTION, handlerFor, NO_RESPONSE, unsupportedApiVersionsBody } from './handlers/index.js'
import type { ApiHandler, HandlerContext } from './handlers/index.js'

export interface ServerLogger {
  warn(message: string): void
}

export interface ConnectionOptions {
  core: BrokerCore
  logger: ServerLogger
  frameBytesMax: number
  inFlightRequestsMax: number
  /** connections.max.idle.ms: no bytes either way and nothing in flight for this long closes the connection. */
  idleMs: number
  /** Called once per answered request with its API key and how long the broker took, for metrics. */
  onRequestDone?: (apiKey: number, durationMs: number) => void
}

/**
 * The ordinal the next accepted connection gets. Every connection this thread (one broker node's
 * shard) accepts is numbered in accept order, so a coordinator can tell a client's older
 * connection from its newer one (see src/actors/txn-coordinator.ts).
 */
let nextConnectionOrdinal = 0

/** How long a connection closed for a violation may take to flush what was already written. */
const FAIL_LINGER_MS = 1_000

interface Slot {
  done: boolean
  /** A Fetch: the connection dispatches no other fetch until this answer is written. */
  fetch: boolean
  /** The encoded response, or null when the request gets none. */
  chunks: Buffer[] | null
  /** When set, the connection closes when the flush reaches this slot, logging this reason. */
  closeReason: string | null
  /** When the handler finished (phaseTrace's clock), for the diagnostics only. */
  doneAtMs?: number
  /** The handler's run, while it is in #inFlight. */
  task?: Promise<void>
}

export class Connection {
  readonly #socket: Socket
  readonly #options: ConnectionOptions
  readonly #reader: FrameReader
  readonly #peer: string
  readonly #clientHost: string
  readonly #ordinal = nextConnectionOrdinal++
  /** Aborted when the socket closes, so handlers stop waiting on the connection's behalf. */
  readonly #abort = new AbortController()
  readonly #slots: Slot[] = []
  readonly #inFlight = new Set<Promise<void>>()
  #closed = false
  #readPaused = false
  #servicing = false
  #serviceScheduled = false
  /** An exclusive request is running: dispatch nothing until it completes. */
  #exclusiveRunning = false
  /** A fetch is dispatched and its answer not yet written (see the header). */
  #fetchHeld = false
  /** A fetch frame taken from the reader while another was held; it is dispatched next. */
  #waitingFrame: Buffer | null = null

  constructor(socket: Socket, options: ConnectionOptions) {
    this.#socket = socket
    this.#options = options
    // The socket hands each read over and never looks at it again: the reader frees it once copied out.
    this.#reader = new FrameReader(options.frameBytesMax, { releaseChunks: true })
    this.#peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.#clientHost = `/${socket.remoteAddress ?? ''}`
    socket.setNoDelay(true)
    // The timer restarts on every read and write; a request in flight (a JoinGroup waiting out a
    // rebalance) is not idleness, and its answer's write restarts the timer.
    socket.setTimeout(options.idleMs)
    socket.on('timeout', () => {
      if (this.#slots.length === 0 && this.#inFlight.size === 0) this.destroy()
    })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('drain', () => this.#service())
    // Resets and broken pipes are a client's business; 'close' follows and cleans up.
    socket.on('error', () => {})
    socket.on('close', () => this.#onPeerClose())
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Handlers still running for this connection (their answers are dropped once it closed). */
  inFlight(): Promise<void>[] {
    return [...this.#inFlight]
  }

  /** Closes the connection at once; handlers in flight finish but their answers are dropped. */
  destroy(): void {
    this.#onClose()
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#reader.push(chunk)
    this.#service()
  }

  /**
   * The peer closed (or the socket broke). Requests that had fully arrived still run, one at a
   * time in arrival order, as Kafka runs every request it has read before it notices a close: an
   * acks=0 producer that sends and closes at once loses nothing. Their answers go nowhere.
   */
  #onPeerClose(): void {
    if (this.#closed) return
    this.#onClose()
    void this.#runArrived()
  }

  /** Bounded by the frames already buffered: nothing is read after the close. */
  async #runArrived(): Promise<void> {
    // Requests dispatched before the close come first (an exclusive one must finish before the next).
    await Promise.allSettled(this.inFlight())
    for (;;) {
      let frame: Buffer | null
      try {
        frame = this.#nextFrame()
      } catch {
        return // a bad frame after the close: nothing after it can be trusted
      }
      if (frame === null) return
      const task = this.#dispatch(frame)
      if (task === null) return
      await task
    }
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    this.#slots.length = 0
    // Long-polls parked for this connection answer at once: nobody is left to read them.
    this.#abort.abort()
  }

  /**
   * Closes after a protocol violation or a failure only a close can report. Responses already
   * written still reach the client (end, then destroy once they are flushed); nothing more is read.
   */
  #fail(reason: string): void {
    if (this.#closed) return
    this.#options.logger.warn(`closing connection from ${this.#peer}: ${reason}`)
    this.#onClose()
    this.#socket.pause()
    this.#socket.end(() => this.#socket.destroy())
    // A peer that never reads would keep the flush (and the socket) waiting forever.
    setTimeout(() => this.#socket.destroy(), FAIL_LINGER_MS).unref()
  }

  /**
   * Flushes answered requests and dispatches buffered frames until neither makes progress.
   * Bounded: every pass either writes a response or consumes a buffered frame, and both are
   * finite; handlers finish asynchronously, so none completes inside this loop.
   */
  #service(): void {
    if (this.#servicing) return
    this.#servicing = true
    try {
      for (;;) {
        if (this.#closed) return
        const flushed = this.#flushReady()
        const dispatched = this.#dispatchReady()
        if (!flushed && !dispatched) break
      }
      this.#updateFlow()
    } finally {
      this.#servicing = false
    }
  }

  /** Writes every answered response at the head of the queue; true when it wrote or skipped one. */
  #flushReady(): boolean {
    let progressed = false
    this.#socket.cork()
    try {
      while (this.#slots.length > 0 && this.#slots[0].done && !this.#closed) {
        const slot = this.#slots.shift()!
        progressed = true
        if (slot.closeReason !== null) {
          this.#socket.uncork()
          this.#fail(slot.closeReason)
          return true
        }
        this.#write(slot.chunks ?? [], slot.fetch)
        if (phaseTrace !== null && slot.doneAtMs !== undefined) phaseTrace.since('answer.toWrite', slot.doneAtMs)
      }
    } finally {
      if (!this.#closed) this.#socket.uncork()
    }
    return progressed
  }

  /**
   * Dispatches buffered frames while the in-flight bound allows and the client keeps up with its
   * answers; true when it dispatched one. Pausing the socket stops new bytes only: frames already
   * buffered (hundreds of small fetches fit in one read) would each add a large answer to the
   * write buffer of a client that does not read, so a full write buffer stops dispatch too.
   */
  #dispatchReady(): boolean {
    let progressed = false
    while (
      !this.#closed &&
      !this.#exclusiveRunning &&
      this.#slots.length < this.#options.inFlightRequestsMax &&
      !this.#socket.writableNeedDrain
    ) {
      let frame: Buffer | null
      try {
        frame = this.#nextFrame()
      } catch (error) {
        this.#fail(messageOf(error))
        return true
      }
      if (frame === null) break
      if (this.#fetchHeld && isFetch(frame)) {
        this.#waitingFrame = frame
        break
      }
      progressed = true
      this.#dispatch(frame)
    }
    return progressed
  }

  /** The frame a held fetch kept waiting, else the reader's next one. */
  #nextFrame(): Buffer | null {
    const waiting = this.#waitingFrame
    if (waiting === null) return this.#reader.next()
    this.#waitingFrame = null
    return waiting
  }

  /**
   * Writes a response (no chunks for a request that gets none). Once the socket is done with it,
   * the fetch read buffers it holds go back to their pool, and a fetch's answer lets the
   * connection's next fetch run.
   */
  #write(chunks: Buffer[], fetch: boolean): void {
    const last = chunks.length - 1
    for (let i = 0; i < last; i++) this.#socket.write(chunks[i])
    const lent = anyLent(chunks)
    if (!lent && !fetch) {
      if (last >= 0) this.#socket.write(chunks[last])
      return
    }
    const written = (error?: Error | null): void => {
      if (lent && error == null) chunks.forEach((chunk) => fetchReadBuffers.give(chunk))
      if (fetch) {
        this.#fetchHeld = false
        this.#service()
      }
    }
    if (last >= 0) this.#socket.write(chunks[last], written)
    else written()
  }

  #updateFlow(): void {
    if (this.#closed) return
    // While an exclusive request runs nothing is dispatched, so reading on would only pile up bytes.
    const shouldPause =
      this.#slots.length >= this.#options.inFlightRequestsMax ||
      this.#socket.writableNeedDrain ||
      this.#exclusiveRunning ||
      this.#waitingFrame !== null
    if (shouldPause && !this.#readPaused) {
      this.#readPaused = true
      this.#socket.pause()
    } else if (!shouldPause && this.#readPaused) {
      this.#readPaused = false
      this.#socket.resume()
    }
  }

  /** Starts the request's handler; null when the frame was refused (the connection is closing). */
  #dispatch(frame: Buffer): Promise<void> | null {
    let header: RequestHeader
    try {
      header = decodeRequestHeader(frame)
    } catch (error) {
      this.#fail(`unreadable request header: ${messageOf(error)}`)
      return null
    }
    const handler = handlerFor(header.apiKey)
    if (handler === undefined || header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
      if (header.apiKey === ApiKey.ApiVersions) {
        // Kafka answers an ApiVersions it cannot serve in a v0 body, so the client can read it
        // whatever version it asked for and retry at one we list.
        const response = encodeResponse(ApiKey.ApiVersions, 0, header.correlationId, unsupportedApiVersionsBody())
        this.#slots.push({ done: true, fetch: false, chunks: [response], closeReason: null })
        return Promise.resolve()
      }
      const what = handler === undefined ? `unsupported api key ${header.apiKey}` : `unsupported version ${header.apiVersion} of api key ${header.apiKey}`
      this.#fail(what)
      return null
    }
    let body: unknown
    try {
      body = decodeRequestBody(header.apiKey as RequestApiKey, header.apiVersion, frame, header.bodyOffset)
    } catch (error) {
      this.#fail(`unparsable request (api key ${header.apiKey} v${header.apiVersion}): ${messageOf(error)}`)
      return null
    }
    const fetch = header.apiKey === ApiKey.Fetch
    const slot: Slot = { done: false, fetch, chunks: null, closeReason: null, task: undefined }
    if (!this.#closed) this.#slots.push(slot)
    if (fetch) this.#fetchHeld = true
    // The body was decoded for this handler's api key, so its type matches what it expects.
    const exclusive = handler.exclusive?.(body as never, header.apiVersion) === true
    if (exclusive) this.#exclusiveRunning = true
    // #run leaves #inFlight itself when it ends: a finally() per request would cost two more
    // promises. A handler that threw before its first await has ended its run already.
    const task = this.#run(handler, header, body, slot, exclusive, frame)
    if (!slot.done) {
      slot.task = task
      this.#inFlight.add(task)
    }
    return task
  }

  async #run(handler: ApiHandler, header: RequestHeader, body: unknown, slot: Slot, exclusive: boolean, frame: Buffer): Promise<void> {
    const ctx: HandlerContext = { core: this.#options.core, clientId: header.clientId, clientHost: this.#clientHost, connectionOrdinal: this.#ordinal, signal: this.#abort.signal }
    const startedMs = performance.now()
    const tracedMs = phaseTrace?.now() ?? 0
    try {
      // The body was decoded for this handler's api key, so its type matches what it expects.
      const result = await handler.handle(ctx, body as never, header.apiVersion)
      if (result === CLOSE_CONNECTION) {
        slot.closeReason = `request api key ${header.apiKey} v${header.apiVersion} (correlation id ${header.correlationId}) failed and has no response to carry the error`
      } else if (result !== NO_RESPONSE) slot.chunks = encodeResponseChunks(handler.apiKey, header.apiVersion, header.correlationId, result)
      // A large produce's frame is a copy of its own (see FrameReader); dead now, it is freed at
      // once rather than when a collection finds it. Left waiting, these 1 MB frames added about
      // 45 MiB to the broker's peak RSS in bench:protocol (README, "Where things live").
      if (handler.frameDoneWhenHandled === true) freeWholeBuffer(frame)
    } catch (error) {
      slot.closeReason = `request api key ${header.apiKey} v${header.apiVersion} failed in the broker: ${messageOf(error)}`
    }
    this.#options.onRequestDone?.(header.apiKey, performance.now() - startedMs)
    if (phaseTrace !== null) {
      phaseTrace.since(`req.${header.apiKey}`, tracedMs)
      slot.doneAtMs = phaseTrace.now()
    }
    slot.done = true
    if (slot.task !== undefined) this.#inFlight.delete(slot.task)
    slot.task = undefined
    if (exclusive) this.#exclusiveRunning = false
    this.#scheduleService()
  }

  /**
   * Answers that complete in one turn of the event loop leave in one write: the service runs
   * once, after the loop's I/O callbacks, instead of once per answer (a send per answer costs a
   * system call and a loopback delivery each).
   */
  #scheduleService(): void {
    if (this.#serviceScheduled) return
    this.#serviceScheduled = true
    setImmediate(() => {
      this.#serviceScheduled = false
      this.#service()
    })
  }
}

/** Whether a response holds fetch read buffers to give back once written (a loop: this runs per response). */
function anyLent(chunks: Buffer[]): boolean {
  for (const chunk of chunks) if (fetchReadBuffers.isLent(chunk)) return true
  return false
}

/** Whether a request frame (without its size prefix) is a Fetch: its api key is its first int16. */
function isFetch(frame: Buffer): boolean {
  return frame.length >= 2 && frame.readInt16BE(0) === ApiKey.Fetch
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
