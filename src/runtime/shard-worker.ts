/**
 * The entry of a shard's worker thread: hosts many actors, and reads frames from the main thread's
 * ring and from one ring per peer shard (sleeping on its own doorbell when all are empty). A
 * request to an actor on another shard goes straight into that shard's ring; its answer comes back
 * on the ring from that shard. The MessagePort carries only rare control traffic: ready,
 * heartbeats, orphan errors, stop, and peers going down or coming back with fresh rings.
 */
import { readlinkSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { SystemClock, type TimerHandle } from '../common/clock.js'
import { isInvariantViolation } from '../common/assert.js'
import { fetchReadBuffers, type BufferPool } from '../common/buffer-pool.js'
import { PartitaError, deserializeError, serializeError, type SerializedError } from '../common/errors.js'
import { assertTimerDelay } from '../common/timers.js'
import { ActorCell, MAIN_THREAD, ReplyHandle, type ActorAddress, type ActorContext, type ActorModule, type ActorReply, type ReplySink, type RequestOptions } from './actor.js'
import { configureSharedCpuPool } from './cpu-pool.js'
import { FrameAssembler, MessageKind, writeFrame, type ActorId, type IncomingFrame, type MessageKindValue, type OutgoingFrame } from './codec.js'
import { Doorbell } from './doorbell.js'
import { RingReader, RingWriter, startMultiReaderLoop, type MultiReaderLoop } from './ring.js'

/** The main thread's place in address and ring tables. */
const MAIN = MAIN_THREAD

export interface ShardWorkerData {
  shard: number
  shardCount: number
  /** Main thread to shard. */
  toShardRing: SharedArrayBuffer
  /** Shard to main thread. */
  toMainRing: SharedArrayBuffer
  /** Every thread's doorbell: shard i's at index i, the main thread's at index shardCount. */
  doorbells: SharedArrayBuffer
  /** This shard to shard j, at index j (null at its own index). */
  toPeerRings: (SharedArrayBuffer | null)[]
  /** Shard j to this shard, at index j (null at its own index). */
  fromPeerRings: (SharedArrayBuffer | null)[]
  /** Actor kind to compiled module URL. */
  actorModules: Record<string, string>
  heartbeatIntervalMs: number
  mailboxCapacity: number
  requestTimeoutMs: number
  /** Threads of this shard's CPU pool at most. */
  cpuPoolThreadsMax: number
}

/** Messages a shard posts to the main thread. */
export type ShardControlMessage =
  | { type: 'ready'; threadId: number }
  | { type: 'heartbeat' }
  | { type: 'orphanError'; id: ActorId; error: SerializedError }
  | { type: 'stopped' }

/** Messages the main thread posts to a shard. */
export type PoolControlMessage =
  | { type: 'stop' }
  /** Shard `shard` died: requests to it will never be answered. */
  | { type: 'peerDown'; shard: number; reason: string }
  /** Shard `shard` (re)started with fresh rings to and from this shard. */
  | { type: 'peerUp'; shard: number; toPeer: SharedArrayBuffer; fromPeer: SharedArrayBuffer }

export interface SpawnControl {
  kind: string
  init: unknown
  mailboxCapacity?: number
}

interface Outgoing {
  /** The thread asked (MAIN for the main thread), so its death fails this request at once. */
  target: number
  resolve: (reply: ActorReply) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
  /** The asker's RequestOptions.replyPayloadPool. */
  replyPayloadPool: BufferPool | undefined
}

/** Frames this shard will hold answers for at once; more requests are refused. */
const OUTGOING_REQUESTS_MAX = 100_000
/** Actor creations waiting at once; the supervisor keeps far fewer in flight. */
const SPAWN_QUEUE_MAX = 100_000
/** Work done creating actors before the shard lets timers and other messages run. */
const SPAWN_SLICE_MS = 10
/** Actors being created at once on a shard. */
const SPAWNS_IN_FLIGHT_MAX = 8

interface QueuedSpawn {
  id: ActorId
  control: SpawnControl
  sink: ReplySink
}

class Shard {
  readonly #data: ShardWorkerData
  readonly #clock = new SystemClock()
  /** Writers to the main thread (key MAIN) and to each live peer shard (key: its index). */
  readonly #writers = new Map<number, RingWriter>()
  /** Why a peer cannot be reached, while it is down. */
  readonly #peersDown = new Map<number, string>()
  readonly #actors = new Map<ActorId, ActorCell>()
  readonly #timersByActor = new Map<ActorCell, Set<TimerHandle>>()
  readonly #modules = new Map<string, Promise<ActorModule>>()
  readonly #outgoing = new Map<number, Outgoing>()
  readonly #spawnQueue: QueuedSpawn[] = []
  #spawnsInFlight = 0
  #spawnSliceStartMs = 0
  #nextCorrelationId = 1
  readonly #loop: MultiReaderLoop
  #heartbeat: NodeJS.Timeout | null = null

  constructor(data: ShardWorkerData) {
    this.#data = data
    this.#loop = startMultiReaderLoop(new Doorbell(data.doorbells, data.shard), (error) => this.#reportOrphan('', error))
    this.#connect(MAIN, data.toMainRing, data.toShardRing)
    for (let peer = 0; peer < data.shardCount; peer++) {
      const toPeer = data.toPeerRings[peer]
      const fromPeer = data.fromPeerRings[peer]
      if (peer !== data.shard && toPeer !== null && fromPeer !== null) this.#connect(peer, toPeer, fromPeer)
    }
  }

  /** Starts writing to and reading from `peer` (MAIN for the main thread) over these rings. */
  #connect(peer: number, toPeer: SharedArrayBuffer, fromPeer: SharedArrayBuffer): void {
    const doorbell = new Doorbell(this.#data.doorbells, peer === MAIN ? this.#data.shardCount : peer)
    this.#writers.get(peer)?.close()
    this.#writers.set(peer, new RingWriter(toPeer, { doorbell }))
    this.#peersDown.delete(peer)
    const frames = new FrameAssembler((bytes, start, end, kind, correlationId) => this.#copyPayload(bytes, start, end, kind, correlationId))
    this.#loop.add(peer, {
      reader: new RingReader(fromPeer),
      visit: (bytes, offset, length) => {
        const frame = frames.accept(bytes, offset, length)
        if (frame !== null) this.#onFrame(peer, frame)
      },
    })
  }

  /** A peer died: what was asked of it fails now, and nothing more is sent until it is back. */
  peerDown(peer: number, reason: string): void {
    this.#writers.get(peer)?.close()
    this.#writers.delete(peer)
    this.#loop.remove(peer)
    this.#peersDown.set(peer, reason)
    const died = new PartitaError('PARTITA_SHARD_DIED', reason)
    for (const [id, outgoing] of this.#outgoing) {
      if (outgoing.target !== peer) continue
      this.#outgoing.delete(id)
      clearTimeout(outgoing.timer)
      outgoing.reject(died)
    }
  }

  peerUp(peer: number, toPeer: SharedArrayBuffer, fromPeer: SharedArrayBuffer): void {
    this.#connect(peer, toPeer, fromPeer)
  }

  start(): void {
    this.#heartbeat = setInterval(() => this.#post({ type: 'heartbeat' }), this.#data.heartbeatIntervalMs)
    this.#post({ type: 'ready', threadId: ownThreadId() })
  }

  async stop(): Promise<void> {
    const reason = new PartitaError('PARTITA_SHARD_STOPPED', `shard ${this.#data.shard} is stopping`)
    // The ones being created finish; the ones waiting are refused.
    for (const queued of this.#spawnQueue.splice(0)) new ReplyHandle(queued.sink).fail(reason)
    await Promise.allSettled([...this.#actors.values()].map((cell) => this.#stopCell(cell, reason)))
    this.#actors.clear()
    for (const [id, outgoing] of this.#outgoing) {
      clearTimeout(outgoing.timer)
      outgoing.reject(reason)
      this.#outgoing.delete(id)
    }
    await this.#loop.stop()
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    this.#post({ type: 'stopped' })
  }

  #post(message: ShardControlMessage): void {
    parentPort?.postMessage(message)
  }

  /** Writes a frame to `peer` (MAIN: the main thread), waiting (bounded) while its ring is full. */
  #write(peer: number, frame: OutgoingFrame): Promise<void> {
    const writer = this.#writers.get(peer)
    if (writer === undefined) {
      const why = this.#peersDown.get(peer) ?? `shard ${this.#data.shard} has no ring to ${peer === MAIN ? 'the main thread' : `shard ${peer}`}`
      return Promise.reject(new PartitaError('PARTITA_SHARD_DIED', why))
    }
    return writeFrame(writer, frame, this.#data.requestTimeoutMs)
  }

  /** An answer goes into the pool its asker named; any other payload gets a buffer of its own. */
  #copyPayload(bytes: Buffer, start: number, end: number, kind: MessageKindValue, correlationId: number): Buffer | undefined {
    const pool = kind === MessageKind.REPLY ? this.#outgoing.get(correlationId)?.replyPayloadPool : undefined
    if (pool === undefined) return undefined
    const copy = pool.take(end - start)
    bytes.copy(copy, 0, start, end)
    return copy
  }

  #onFrame(from: number, frame: IncomingFrame): void {
    switch (frame.kind) {
      case MessageKind.REQUEST:
      case MessageKind.TELL: {
        const reply = new ReplyHandle(frame.kind === MessageKind.REQUEST ? this.#ringReplySink(from, frame.correlationId) : null)
        this.#deliver(frame.id, frame.message, frame.payload, reply)
        return
      }
      case MessageKind.REPLY:
      case MessageKind.REPLY_ERROR:
        this.#settleOutgoing(frame)
        return
      case MessageKind.SPAWN:
        this.#queueSpawn(frame.id, frame.message as SpawnControl, this.#ringReplySink(from, frame.correlationId))
        return
      case MessageKind.STOP_ACTOR:
        void this.#stopActor(frame.id, this.#ringReplySink(from, frame.correlationId))
        return
      default:
        throw new PartitaError('PARTITA_PROTOCOL', `shard ${this.#data.shard} got a frame of kind ${frame.kind}`)
    }
  }

  #deliver(id: ActorId, message: unknown, payload: Buffer | undefined, reply: ReplyHandle): void {
    const cell = this.#actors.get(id)
    if (cell !== undefined) {
      cell.deliver(message, payload, reply)
      return
    }
    const error = new PartitaError('PARTITA_NO_SUCH_ACTOR', `no actor ${String(id)} on shard ${this.#data.shard}`)
    if (!reply.fail(error)) this.#reportOrphan(id, error)
  }

  #reportOrphan(id: ActorId, error: unknown): void {
    this.#post({ type: 'orphanError', id, error: serializeError(error) })
  }

  /** Answers travel back over the ring to the asker, under its correlation id. */
  #ringReplySink(asker: number, correlationId: number): ReplySink {
    return (outcome) => {
      const frame: OutgoingFrame = outcome.ok
        ? { kind: MessageKind.REPLY, correlationId, shard: this.#data.shard, id: '', message: outcome.message, payload: outcome.payload }
        : { kind: MessageKind.REPLY_ERROR, correlationId, shard: this.#data.shard, id: '', message: outcome.error }
      // An asker that died meanwhile needs no answer.
      if (asker !== MAIN && this.#peersDown.has(asker)) return
      const payload = outcome.ok ? outcome.payload : undefined
      this.#write(asker, frame).then(
        // The ring holds its own copy now, and the answer was the payload's last holder: a buffer
        // lent from this thread's read pool (a follower fetch's records) goes back to it, instead
        // of becoming garbage the next full mark-compact must find.
        () => payload !== undefined && fetchReadBuffers.give(payload as Buffer),
        (error: unknown) => this.#replyFailed(asker, correlationId, outcome.ok, error),
      )
    }
  }

  /**
   * An answer that could not be written (too large for the ring, or the ring stayed full) is
   * replaced by the error, a small frame: without it the asker waits out its whole timeout and
   * then blames the wrong cause.
   */
  #replyFailed(asker: number, correlationId: number, wasAnswer: boolean, error: unknown): void {
    if (!wasAnswer) return this.#reportOrphan('', error)
    const frame: OutgoingFrame = { kind: MessageKind.REPLY_ERROR, correlationId, shard: this.#data.shard, id: '', message: serializeError(error) }
    this.#write(asker, frame).catch((again: unknown) => this.#reportOrphan('', again))
  }

  #settleOutgoing(frame: IncomingFrame): void {
    const outgoing = this.#outgoing.get(frame.correlationId)
    // A late answer to a request that timed out has nobody to go to.
    if (outgoing === undefined) return
    this.#outgoing.delete(frame.correlationId)
    clearTimeout(outgoing.timer)
    if (frame.kind === MessageKind.REPLY_ERROR) outgoing.reject(deserializeError(frame.message as SerializedError))
    else outgoing.resolve(frame.payload === undefined ? { message: frame.message } : { message: frame.message, payload: frame.payload })
  }

  async #loadModule(kind: string): Promise<ActorModule> {
    let loading = this.#modules.get(kind)
    if (loading === undefined) {
      const url = this.#data.actorModules[kind]
      if (url === undefined) throw new PartitaError('PARTITA_UNKNOWN_ACTOR_KIND', `no actor module for kind ${kind}`)
      loading = import(url) as Promise<ActorModule>
      this.#modules.set(kind, loading)
    }
    const module = await loading
    if (typeof module.createActor !== 'function') throw new PartitaError('PARTITA_UNKNOWN_ACTOR_KIND', `actor module for ${kind} exports no createActor`)
    return module
  }

  /**
   * Actors are created a few at a time (their file reads overlap), and the thread gives a turn to
   * timers and other messages after every SPAWN_SLICE_MS of creation work: a request to create
   * thousands of partitions must not hold the thread long enough to miss heartbeats or stall the
   * requests of partitions already serving.
   */
  #queueSpawn(id: ActorId, control: SpawnControl, sink: ReplySink): void {
    if (this.#spawnQueue.length >= SPAWN_QUEUE_MAX) {
      new ReplyHandle(sink).fail(new PartitaError('PARTITA_RESOURCE_LIMIT', `shard ${this.#data.shard} has ${SPAWN_QUEUE_MAX} actors waiting to be created`))
      return
    }
    this.#spawnQueue.push({ id, control, sink })
    this.#pumpSpawns()
  }

  #pumpSpawns(): void {
    // Bounded: each pass starts one queued creation, at most SPAWNS_IN_FLIGHT_MAX at a time.
    while (this.#spawnsInFlight < SPAWNS_IN_FLIGHT_MAX && this.#spawnQueue.length > 0) {
      const { id, control, sink } = this.#spawnQueue.shift()!
      this.#spawnsInFlight++
      void this.#spawn(id, control, sink).then(async () => {
        if (performance.now() - this.#spawnSliceStartMs >= SPAWN_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve))
          this.#spawnSliceStartMs = performance.now()
        }
        this.#spawnsInFlight--
        this.#pumpSpawns()
      })
    }
  }

  async #spawn(id: ActorId, control: SpawnControl, sink: ReplySink): Promise<void> {
    const reply = new ReplyHandle(sink)
    if (this.#actors.has(id)) {
      reply.fail(new PartitaError('PARTITA_ACTOR_EXISTS', `actor ${String(id)} already exists on shard ${this.#data.shard}`))
      return
    }
    const address: ActorAddress = { shard: this.#data.shard, id }
    const cell = new ActorCell(
      address,
      control.mailboxCapacity ?? this.#data.mailboxCapacity,
      (at, error) => this.#reportOrphan(at.id, error),
      (error) => crashOnInvariantViolation(error),
    )
    // Registered before creation, so messages sent right after the spawn wait in its mailbox.
    this.#actors.set(id, cell)
    try {
      const module = await this.#loadModule(control.kind)
      const actor = await module.createActor(control.init, this.#contextFor(cell))
      if (cell.stopped) {
        await actor.stop?.()
        throw new PartitaError('PARTITA_NO_SUCH_ACTOR', `actor ${String(id)} was stopped while starting`)
      }
      cell.start(actor)
      reply.ok(null)
    } catch (error) {
      if (this.#actors.get(id) === cell) this.#actors.delete(id)
      await cell.stop(new PartitaError('PARTITA_NO_SUCH_ACTOR', `actor ${String(id)} failed to start`)).catch(() => undefined)
      reply.fail(error)
    }
  }

  async #stopActor(id: ActorId, sink: ReplySink): Promise<void> {
    const reply = new ReplyHandle(sink)
    const cell = this.#actors.get(id)
    if (cell === undefined) {
      reply.ok(false)
      return
    }
    this.#actors.delete(id)
    try {
      await this.#stopCell(cell, new PartitaError('PARTITA_NO_SUCH_ACTOR', `actor ${String(id)} stopped`))
      reply.ok(true)
    } catch (error) {
      reply.fail(error)
    }
  }

  async #stopCell(cell: ActorCell, reason: PartitaError): Promise<void> {
    for (const handle of this.#timersByActor.get(cell) ?? []) this.#clock.clearTimeout(handle)
    this.#timersByActor.delete(cell)
    await cell.stop(reason)
  }

  #contextFor(cell: ActorCell): ActorContext {
    const timers = new Set<TimerHandle>()
    this.#timersByActor.set(cell, timers)
    return {
      address: cell.address,
      clock: this.#clock,
      send: (to, message, payload) => this.#send(cell.address, to, message, payload),
      request: <T>(to: ActorAddress, message: unknown, payload?: Uint8Array, options?: RequestOptions) =>
        this.#request(to, message, payload, options) as Promise<ActorReply<T>>,
      emit: (event, payload) => {
        this.#write(MAIN, { kind: MessageKind.EVENT, correlationId: 0, shard: this.#data.shard, id: cell.address.id, message: event, payload }).catch(
          (error: unknown) => this.#reportOrphan(cell.address.id, error),
        )
      },
      setTimeout: (callback, delayMs) => {
        const handle = this.#clock.setTimeout(() => {
          timers.delete(handle)
          callback()
        }, delayMs)
        timers.add(handle)
        return handle
      },
      clearTimeout: (handle) => {
        timers.delete(handle)
        this.#clock.clearTimeout(handle)
      },
      crashOnInvariantViolation,
    }
  }

  #send(from: ActorAddress, to: ActorAddress, message: unknown, payload: Uint8Array | undefined): void {
    if (to.shard === this.#data.shard) {
      this.#deliver(to.id, message, asBuffer(payload), new ReplyHandle(null))
      return
    }
    this.#write(to.shard, { kind: MessageKind.TELL, correlationId: 0, shard: this.#data.shard, id: to.id, message, payload }).catch((error: unknown) =>
      this.#reportOrphan(from.id, error),
    )
  }

  #request(to: ActorAddress, message: unknown, payload: Uint8Array | undefined, options: RequestOptions | undefined): Promise<ActorReply> {
    if (to.shard === this.#data.shard) {
      // Same shard: straight into the mailbox, with no encoding, no timer and no table entry. The
      // actor is on this thread, and every actor answers every request (its own waits are
      // bounded) or fails it when it stops, so nothing here can wait forever.
      return new Promise<ActorReply>((resolve, reject) => {
        const sink: ReplySink = (outcome) => {
          if (outcome.ok) resolve(outcome.payload === undefined ? { message: outcome.message } : { message: outcome.message, payload: asBuffer(outcome.payload) })
          else reject(deserializeError(outcome.error))
        }
        this.#deliver(to.id, message, asBuffer(payload), new ReplyHandle(sink))
      })
    }
    if (this.#outgoing.size >= OUTGOING_REQUESTS_MAX) {
      return Promise.reject(new PartitaError('PARTITA_TOO_MANY_REQUESTS', `shard ${this.#data.shard} has ${this.#outgoing.size} requests in flight`))
    }
    const timeoutMs = options?.timeoutMs ?? this.#data.requestTimeoutMs
    assertTimerDelay(timeoutMs)
    return new Promise<ActorReply>((resolve, reject) => {
      const correlationId = this.#nextCorrelationId
      this.#nextCorrelationId = this.#nextCorrelationId >= 0xfffffffe ? 1 : this.#nextCorrelationId + 1
      const timer = setTimeout(() => {
        this.#outgoing.delete(correlationId)
        reject(new PartitaError('PARTITA_REQUEST_TIMEOUT', `request to actor ${String(to.id)} on shard ${to.shard} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#outgoing.set(correlationId, { target: to.shard, resolve, reject, timer, replyPayloadPool: options?.replyPayloadPool })
      this.#write(to.shard, { kind: MessageKind.REQUEST, correlationId, shard: this.#data.shard, id: to.id, message, payload }).catch((error: unknown) => {
        if (!this.#outgoing.delete(correlationId)) return
        clearTimeout(timer)
        reject(error as Error)
      })
    })
  }
}

/**
 * A broken invariant ends this worker thread with the error uncaught (the main thread sees it in
 * the worker's 'error' event and restarts the shard). Thrown from a fresh task so no caller's
 * catch can swallow it.
 */
function crashOnInvariantViolation(error: unknown): void {
  if (!isInvariantViolation(error)) return
  setImmediate(() => {
    throw error
  })
}

/** Same-shard payloads are handed over as they are (no copy): the sender must not reuse them. */
function asBuffer(bytes: Uint8Array | undefined): Buffer | undefined {
  if (bytes === undefined || Buffer.isBuffer(bytes)) return bytes
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * This thread's OS thread id, for per-thread CPU figures from /proc: '/proc/thread-self' links to
 * '<pid>/task/<tid>' on Linux; elsewhere there is no such link, and the id is -1.
 */
function ownThreadId(): number {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    return Number.isInteger(tid) && tid > 0 ? tid : -1
  } catch {
    return -1
  }
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'toShardRing' in workerData) {
  configureSharedCpuPool({ maxThreads: (workerData as ShardWorkerData).cpuPoolThreadsMax })
  const shard = new Shard(workerData as ShardWorkerData)
  parentPort.on('message', (message: PoolControlMessage) => {
    switch (message.type) {
      case 'stop':
        void shard.stop().then(() => parentPort?.close())
        return
      case 'peerDown':
        shard.peerDown(message.shard, message.reason)
        return
      case 'peerUp':
        shard.peerUp(message.shard, message.toPeer, message.fromPeer)
        return
    }
  })
  shard.start()
}
