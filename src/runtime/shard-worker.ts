/**
 * The entry of a shard's worker thread: hosts many actors, reads requests from the main thread's
 * ring, writes replies, events and relayed messages to its own. The MessagePort carries only
 * rare control traffic: ready, heartbeats, orphan errors, stop.
 */
import { readlinkSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { SystemClock, type TimerHandle } from '../common/clock.js'
import { isInvariantViolation } from '../common/assert.js'
import { PartitaError, deserializeError, serializeError, type SerializedError } from '../common/errors.js'
import { ActorCell, ReplyHandle, type ActorAddress, type ActorContext, type ActorModule, type ActorReply, type ReplySink, type RequestOptions } from './actor.js'
import { MessageKind, decodeFrame, writeFrame, type ActorId, type IncomingFrame, type OutgoingFrame } from './codec.js'
import { RingReader, RingWriter, startReaderLoop, type ReaderLoop } from './ring.js'

export interface ShardWorkerData {
  shard: number
  /** Main thread to shard. */
  toShardRing: SharedArrayBuffer
  /** Shard to main thread. */
  toMainRing: SharedArrayBuffer
  /** Actor kind to compiled module URL. */
  actorModules: Record<string, string>
  heartbeatIntervalMs: number
  mailboxCapacity: number
  requestTimeoutMs: number
}

/** Messages a shard posts to the main thread. */
export type ShardControlMessage =
  /** tid: this thread's OS thread id (Linux), so a profiler can tell the shards' CPU apart; null elsewhere. */
  | { type: 'ready'; tid: number | null }
  | { type: 'heartbeat' }
  | { type: 'orphanError'; id: ActorId; error: SerializedError }
  | { type: 'stopped' }

/** Messages the main thread posts to a shard. */
export type PoolControlMessage = { type: 'stop' }

export interface SpawnControl {
  kind: string
  init: unknown
  mailboxCapacity?: number
}

interface Outgoing {
  resolve: (reply: ActorReply) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
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
  readonly #writer: RingWriter
  readonly #reader: RingReader
  readonly #actors = new Map<ActorId, ActorCell>()
  readonly #timersByActor = new Map<ActorCell, Set<TimerHandle>>()
  readonly #modules = new Map<string, Promise<ActorModule>>()
  readonly #outgoing = new Map<number, Outgoing>()
  readonly #spawnQueue: QueuedSpawn[] = []
  #spawnsInFlight = 0
  #spawnSliceStartMs = 0
  #nextCorrelationId = 1
  #loop: ReaderLoop | null = null
  #heartbeat: NodeJS.Timeout | null = null

  constructor(data: ShardWorkerData) {
    this.#data = data
    this.#writer = new RingWriter(data.toMainRing)
    this.#reader = new RingReader(data.toShardRing)
  }

  start(): void {
    this.#loop = startReaderLoop(
      this.#reader,
      (bytes, offset, length) => this.#onFrame(decodeFrame(bytes, offset, length)),
      (error) => this.#post({ type: 'orphanError', id: '', error: serializeError(error) }),
    )
    this.#heartbeat = setInterval(() => this.#post({ type: 'heartbeat' }), this.#data.heartbeatIntervalMs)
    this.#post({ type: 'ready', tid: ownThreadId() })
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
    await this.#loop?.stop()
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    this.#post({ type: 'stopped' })
  }

  #post(message: ShardControlMessage): void {
    parentPort?.postMessage(message)
  }

  #write(frame: OutgoingFrame): Promise<void> {
    return writeFrame(this.#writer, frame, this.#data.requestTimeoutMs)
  }

  #onFrame(frame: IncomingFrame): void {
    switch (frame.kind) {
      case MessageKind.REQUEST:
      case MessageKind.TELL: {
        const reply = new ReplyHandle(frame.kind === MessageKind.REQUEST ? this.#ringReplySink(frame.correlationId) : null)
        this.#deliver(frame.id, frame.message, frame.payload, reply)
        return
      }
      case MessageKind.REPLY:
      case MessageKind.REPLY_ERROR:
        this.#settleOutgoing(frame)
        return
      case MessageKind.SPAWN:
        this.#queueSpawn(frame.id, frame.message as SpawnControl, this.#ringReplySink(frame.correlationId))
        return
      case MessageKind.STOP_ACTOR:
        void this.#stopActor(frame.id, this.#ringReplySink(frame.correlationId))
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

  /** Answers travel back over the ring under the asker's correlation id. */
  #ringReplySink(correlationId: number): ReplySink {
    return (outcome) => {
      const frame: OutgoingFrame = outcome.ok
        ? { kind: MessageKind.REPLY, correlationId, shard: this.#data.shard, id: '', message: outcome.message, payload: outcome.payload }
        : { kind: MessageKind.REPLY_ERROR, correlationId, shard: this.#data.shard, id: '', message: outcome.error }
      this.#write(frame).catch((error: unknown) => this.#reportOrphan('', error))
    }
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
        this.#write({ kind: MessageKind.EVENT, correlationId: 0, shard: this.#data.shard, id: cell.address.id, message: event, payload }).catch(
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
    this.#write({ kind: MessageKind.RELAY_TELL, correlationId: 0, shard: to.shard, id: to.id, message, payload }).catch((error: unknown) =>
      this.#reportOrphan(from.id, error),
    )
  }

  #request(to: ActorAddress, message: unknown, payload: Uint8Array | undefined, options: RequestOptions | undefined): Promise<ActorReply> {
    if (this.#outgoing.size >= OUTGOING_REQUESTS_MAX) {
      return Promise.reject(new PartitaError('PARTITA_TOO_MANY_REQUESTS', `shard ${this.#data.shard} has ${this.#outgoing.size} requests in flight`))
    }
    const timeoutMs = options?.timeoutMs ?? this.#data.requestTimeoutMs
    return new Promise<ActorReply>((resolve, reject) => {
      const correlationId = this.#nextCorrelationId
      this.#nextCorrelationId = this.#nextCorrelationId >= 0xfffffffe ? 1 : this.#nextCorrelationId + 1
      const timer = setTimeout(() => {
        this.#outgoing.delete(correlationId)
        reject(new PartitaError('PARTITA_REQUEST_TIMEOUT', `request to actor ${String(to.id)} on shard ${to.shard} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#outgoing.set(correlationId, { resolve, reject, timer })
      if (to.shard === this.#data.shard) {
        // Same shard: straight into the mailbox; the answer settles the same table entry.
        const sink: ReplySink = (outcome) => {
          const frame: IncomingFrame = outcome.ok
            ? { kind: MessageKind.REPLY, correlationId, shard: to.shard, id: '', message: outcome.message, payload: asBuffer(outcome.payload) }
            : { kind: MessageKind.REPLY_ERROR, correlationId, shard: to.shard, id: '', message: outcome.error, payload: undefined }
          this.#settleOutgoing(frame)
        }
        this.#deliver(to.id, message, asBuffer(payload), new ReplyHandle(sink))
        return
      }
      this.#write({ kind: MessageKind.RELAY_REQUEST, correlationId, shard: to.shard, id: to.id, message, payload }).catch((error: unknown) => {
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

/** '/proc/thread-self' links to '<pid>/task/<tid>' on Linux; other systems have no such link. */
function ownThreadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    return Number.isInteger(tid) && tid > 0 ? tid : null
  } catch {
    return null
  }
}

/** Same-shard payloads are handed over as they are (no copy): the sender must not reuse them. */
function asBuffer(bytes: Uint8Array | undefined): Buffer | undefined {
  if (bytes === undefined || Buffer.isBuffer(bytes)) return bytes
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'toShardRing' in workerData) {
  const shard = new Shard(workerData as ShardWorkerData)
  parentPort.on('message', (message: PoolControlMessage) => {
    if (message.type === 'stop') {
      void shard.stop().then(() => parentPort?.close())
    }
  })
  shard.start()
}
