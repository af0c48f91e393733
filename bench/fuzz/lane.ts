/**
 * One lane of the fuzzer: a connection that sends frames pipelined (at most `inFlight` waiting
 * for an answer), reads the answers in order, and reconnects whenever the broker closes it.
 *
 * A frame the broker will close the connection for (predict.ts) is the last one the lane writes
 * before it waits for that close, so every frame before it is handled. A connection whose oldest
 * request waits longer than a request of its kind may legitimately wait (a long-poll, a rebalance)
 * is abandoned; one whose oldest request could not legitimately wait that long is stuck, which is
 * a finding.
 */
import { connect, type Socket } from 'node:net'
import { ApiKey, decodeResponse, encodeRequest, type RequestApiKey } from '../../src/protocol/index.js'
import type { Frame } from './frames.js'
import type { FuzzStats } from './stats.js'

export interface LaneOptions {
  host: string
  port: number
  /** Requests waiting for an answer at once. */
  inFlight: number
  /** How long a request that may legitimately wait is waited for before the connection is dropped. */
  idleMs: number
  /** How long a request that should answer at once may take before it counts as stuck. */
  stuckMs: number
  /**
   * The local address of each new connection. On loopback any 127.x.y.z will do, and a fresh one
   * per connection means no two connections share an address, so the broker's log line about a
   * connection names that one alone (ports alone are reused within seconds).
   */
  sourceAddress?: () => string
}

interface Waiting {
  frame: Frame
  sentAtMs: number
  /** An acks=0 produce: it takes its place in the answer order but is never answered. */
  silent: boolean
}

const FENCE_CORRELATION_ID = 0x7fffffff

/**
 * An ApiVersions sent after each acks=0 produce. The produce runs alone (the broker starts nothing
 * after it until it is appended), so the fence's answer says it went through, and a close before
 * that answer is the produce's failure, the one way an acks=0 producer hears of it.
 */
const FENCE: Frame = {
  index: -1,
  apiName: 'fence',
  apiKey: ApiKey.ApiVersions,
  apiVersion: 0,
  bytes: encodeRequest(ApiKey.ApiVersions, 0, FENCE_CORRELATION_ID, 'partita-fuzz-fence', {}),
  mutations: [],
  prediction: { kind: 'answer', apiKey: ApiKey.ApiVersions, apiVersion: 0, correlationId: FENCE_CORRELATION_ID, body: {} },
}

/** True when the request may legitimately go unanswered for a long time. */
function mayWait(frame: Frame): boolean {
  const p = frame.prediction
  if (p.kind !== 'answer') return false
  const body = p.body as Record<string, unknown>
  switch (p.apiKey) {
    case ApiKey.Fetch:
      return (body.maxWaitMs as number) > 0
    case ApiKey.Produce:
      return (body.acks as number) === -1 && (body.timeoutMs as number) > 0
    case ApiKey.JoinGroup:
    case ApiKey.SyncGroup:
      return true
    default:
      return false
  }
}

export class Lane {
  readonly #options: LaneOptions
  readonly #stats: FuzzStats
  #socket: Socket | null = null
  /** Requests sent and not yet answered, in order, acks=0 produces among them. */
  #waiting: Waiting[] = []
  /** The entries of #waiting that will be answered. */
  #answersPending = 0
  #buffered: Buffer = Buffer.alloc(0)
  /** Resolves when room frees up, the connection closes, or the watchdog drops it. */
  #wake: (() => void) | null = null
  /** The connection will close at the frame last written: write nothing more to it. */
  #closing: 'predicted' | 'desync' | null = null
  #closingSinceMs = 0
  /** A fence is out: nothing more is written until it is answered (or the connection closes). */
  #fenced = false
  /** The client address of the current connection, as the broker sees it (`ip:port`). */
  #peer = ''
  /** How the current connection ended: the peer's end of stream or a socket error. */
  #endedBy: string | null = null
  #watchdog: NodeJS.Timeout | null = null

  constructor(options: LaneOptions, stats: FuzzStats) {
    this.#options = options
    this.#stats = stats
  }

  /** Sends frames from `next` until it returns null, then waits for the last answers. */
  async run(next: () => Frame | null): Promise<void> {
    // Frames that end or may end the connection go alone, after every answer before them is in:
    // the broker drops the answers of requests still running when it closes, and a write after
    // its close would reset the connection and lose answers already on their way.
    this.#watchdog = setInterval(() => this.#checkStalls(), Math.max(50, Math.floor(this.#options.idleMs / 4)))
    try {
      // Bounded by `next`, which returns null after the run's last frame.
      for (let frame = next(); frame !== null; frame = next()) {
        let socket: Socket
        try {
          socket = await this.#ready(frame.prediction.kind === 'answer')
        } catch (error) {
          // No connection to be had: the broker is gone, which the run reports on its own.
          this.#stats.finding('connect-failed', frame.index, (error as Error).message)
          return
        }
        this.#send(socket, frame)
      }
      await this.#settle()
    } finally {
      clearInterval(this.#watchdog)
      const socket = this.#socket
      this.#socket = null
      socket?.destroy()
    }
  }

  /**
   * A connection with room for one more request, once there is one. A frame that will close the
   * connection waits until every answer before it is in: the broker drops the answers of requests
   * still running when it closes, and each answer is worth checking.
   */
  async #ready(answered: boolean): Promise<Socket> {
    const room = this.#options.inFlight
    // Bounded: each round either returns or waits for an event that changes the state.
    for (;;) {
      if (this.#socket === null) this.#socket = await this.#open()
      if (this.#fenced && this.#answersPending === 0) this.#fenced = false
      const roomFor = answered && !this.#fenced ? this.#answersPending < room : this.#answersPending === 0
      if (this.#closing === null && roomFor) return this.#socket
      if (this.#closing === 'desync') this.#socket.end()
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  /** Waits until every request sent has been answered or given up on. */
  async #settle(): Promise<void> {
    // Bounded: the watchdog drops a connection whose requests wait too long.
    while (this.#socket !== null && (this.#answersPending > 0 || this.#closing !== null)) {
      if (this.#closing === 'desync') this.#socket.end()
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  #open(): Promise<Socket> {
    const localAddress = this.#options.sourceAddress?.()
    return new Promise((resolve, reject) => {
      const socket = connect({ port: this.#options.port, host: this.#options.host, ...(localAddress === undefined ? {} : { localAddress }) }, () => {
        // Pipelined small frames must not sit in Nagle's buffer waiting for the broker's delayed ACK.
        socket.setNoDelay(true)
        socket.off('error', reject)
        // Read now: a closed socket no longer knows its address, and the broker's log names it.
        this.#peer = `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}`
        // Kept for the report: how the broker ended a connection it was not asked to end.
        socket.on('error', (error: NodeJS.ErrnoException) => (this.#endedBy = `error ${error.code ?? error.message}`))
        this.#stats.connectionsOpened++
        resolve(socket)
      })
      socket.once('error', reject)
      socket.on('data', (chunk: Buffer) => this.#onData(chunk))
      socket.on('end', () => (this.#endedBy ??= 'end of stream'))
      socket.on('close', () => this.#onClose(socket))
    })
  }

  #send(socket: Socket, frame: Frame): void {
    this.#stats.sent(frame)
    socket.write(frame.bytes)
    const p = frame.prediction
    if (p.kind === 'answer' || p.kind === 'silent') {
      this.#waiting.push({ frame, sentAtMs: Date.now(), silent: p.kind === 'silent' })
      if (p.kind === 'answer') this.#answersPending++
      if (p.kind === 'silent') this.#sendFence(socket)
    } else {
      this.#closing = p.kind === 'close' ? 'predicted' : 'desync'
      this.#closingSinceMs = Date.now()
    }
  }

  #sendFence(socket: Socket): void {
    socket.write(FENCE.bytes)
    this.#waiting.push({ frame: FENCE, sentAtMs: Date.now(), silent: false })
    this.#answersPending++
    this.#fenced = true
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk])
    // Bounded by the bytes buffered: each round consumes one whole response.
    while (this.#buffered.length >= 4) {
      const size = this.#buffered.readInt32BE(0)
      if (this.#buffered.length < 4 + size) break
      const response = this.#buffered.subarray(4, 4 + size)
      this.#buffered = this.#buffered.subarray(4 + size)
      this.#onResponse(response)
    }
  }

  #onResponse(response: Buffer): void {
    // acks=0 produces ahead of this answer were handled without one.
    while (this.#waiting[0]?.silent === true) this.#waiting.shift()
    const waiting = this.#waiting.shift()
    if (waiting === undefined) {
      // After a lying size prefix the broker may well answer what it read; otherwise only a frame
      // we expected to be refused can have been answered: a wrong prediction.
      if (this.#closing !== 'desync') this.#stats.finding('unexpected-response', -1, `an answer nobody waited for (${response.length} bytes)`)
      return
    }
    this.#answersPending--
    const p = waiting.frame.prediction
    if (p.kind !== 'answer') return
    if (waiting.frame === FENCE) {
      this.#wakeUp()
      return
    }
    try {
      const decoded = decodeResponse(p.apiKey as RequestApiKey, p.apiVersion, response)
      if (decoded.correlationId !== p.correlationId) {
        this.#stats.finding('correlation', waiting.frame.index, `answer carries correlation id ${decoded.correlationId}, request ${p.correlationId}`)
      }
      this.#stats.answered(waiting.frame, decoded.body, Date.now() - waiting.sentAtMs)
    } catch (error) {
      this.#stats.finding('undecodable-response', waiting.frame.index, (error as Error).message)
    }
    this.#wakeUp()
  }

  #onClose(socket: Socket): void {
    if (socket !== this.#socket) return
    const unanswered = this.#answersPending
    if (this.#closing !== null) this.#stats.connectionsClosedAsPredicted++
    // Closed before the fence after an acks=0 produce was answered: that produce failed.
    else if (this.#waiting.some((w) => w.silent)) this.#stats.connectionsClosedAfterSilentProduce++
    else {
      // The broker closed a connection none of our frames asked it to close: a handler failed.
      this.#stats.connectionsClosedUnexpectedly++
      const head = this.#waiting[0]
      const what = head === undefined ? 'nothing pending' : `${head.frame.apiName} v${head.frame.apiVersion} unanswered`
      this.#stats.finding('unexpected-close', head?.frame.index ?? -1, `the broker closed the connection with ${what} (${this.#endedBy ?? 'no end seen'})`, this.#peer)
    }
    this.#stats.unansweredAtClose += unanswered
    this.#reset()
  }

  #reset(): void {
    this.#socket = null
    this.#waiting = []
    this.#answersPending = 0
    this.#buffered = Buffer.alloc(0)
    this.#closing = null
    this.#fenced = false
    this.#endedBy = null
    this.#wakeUp()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  /** Drops a connection whose oldest request waited too long; records it as stuck if it should not have. */
  #checkStalls(): void {
    const socket = this.#socket
    if (socket === null) return
    const head = this.#waiting.find((w) => !w.silent)
    const nowMs = Date.now()
    if (head !== undefined) {
      const ageMs = nowMs - head.sentAtMs
      const waits = mayWait(head.frame)
      if (ageMs < (waits ? this.#options.idleMs : this.#options.stuckMs)) return
      if (waits) this.#stats.abandoned(head.frame)
      else this.#stats.finding('stuck', head.frame.index, `${head.frame.apiName} v${head.frame.apiVersion} unanswered after ${ageMs} ms`)
    } else {
      // Nothing to answer, but the close this connection was left waiting for never came.
      if (this.#closing === null || nowMs - this.#closingSinceMs < this.#options.stuckMs) return
      this.#stats.finding('no-close', -1, `the broker kept a connection open after a frame it should have closed it for (${this.#closing})`)
    }
    this.#socket = null
    socket.destroy()
    this.#stats.unansweredAtClose += this.#answersPending
    this.#reset()
  }
}
