/**
 * The main thread's side of the runtime: starts N long-lived shard workers, each hosting many
 * actors, talks to them through one ring per direction, relays actor-to-actor messages between
 * shards, and watches the workers (exits, heartbeats) for the supervisor.
 */
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import { SystemClock, type Clock, type TimerHandle } from '../common/clock.js'
import { PartitaError, deserializeError, serializeError, type SerializedError } from '../common/errors.js'
import { assert } from '../common/assert.js'
import type { ActorAddress, ActorReply, RequestOptions } from './actor.js'
import { MessageKind, decodeFrame, readFrameKind, relayFrame, writeFrame, type ActorId, type OutgoingFrame } from './codec.js'
import { compiledUrl, normalizeModuleUrl } from './compiled-url.js'
import { RingReader, RingWriter, createRingBuffer, maxFrameBytes, startReaderLoop, type ReaderLoop } from './ring.js'
import type { PoolControlMessage, ShardControlMessage, ShardWorkerData, SpawnControl } from './shard-worker.js'

export interface ShardPoolOptions {
  /** Actor kind to the URL of its compiled module (a .ts URL is mapped into dist/). */
  actorModules: Record<string, string | URL>
  /** Worker threads; default os.availableParallelism(). */
  shards?: number
  /** Data bytes of each ring (a power of two); the largest message is this minus a few bytes. Default 8 MiB. */
  ringBytes?: number
  /** Default timeout of requests (main to actor, and actor to actor). Default 30 s. */
  requestTimeoutMs?: number
  /** Default mailbox bound of an actor. Default 1024. */
  mailboxCapacity?: number
  /** Each shard posts a heartbeat this often. Default 1 s. */
  heartbeatIntervalMs?: number
  /** Heartbeats missed in a row before onShardUnresponsive fires. Default 3. */
  missedHeartbeatsMax?: number
  /** How long stop() waits for a shard to stop its actors before terminating it. Default 5 s. */
  stopTimeoutMs?: number
  /** Clock of the heartbeat watch. Default SystemClock. */
  clock?: Clock
}

export interface SpawnOptions {
  mailboxCapacity?: number
}

export interface ActorEvent<T = unknown> {
  from: ActorAddress
  event: T
  payload?: Buffer
}

export interface ShardExit {
  shard: number
  exitCode: number
  /** The uncaught error that ended the worker, if any. */
  error?: Error
  /** True when killShard or restartShard ended it. */
  killed: boolean
}

export interface OrphanError {
  /** The actor whose failure nobody was waiting for (id '' for the shard itself). */
  from: ActorAddress
  error: Error
}

type Unsubscribe = () => void

interface OwnPending {
  relay: false
  shard: number
  resolve: (reply: ActorReply) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

interface RelayPending {
  relay: true
  /** The shard that asked, and its correlation id for the answer. */
  fromShard: number
  fromCorrelationId: number
  /** The shard asked. */
  shard: number
  timer: NodeJS.Timeout
}

type Pending = OwnPending | RelayPending

interface ShardSlot {
  index: number
  worker: Worker
  writer: RingWriter
  reader: RingReader
  loop: ReaderLoop
  alive: boolean
  killed: boolean
  lastHeartbeatMs: number
  unresponsiveReported: boolean
  /** The worker's OS thread id, from its 'ready' message (null until then, or off Linux). */
  tid: number | null
  /** Resolves on the shard's 'stopped' message (graceful stop). */
  stopped: Promise<void>
  /** Resolves once the worker's exit has been handled (one listener, however often it is killed). */
  exited: Promise<void>
}

/** Requests in flight at once across the pool; more are refused, so the table cannot grow unbounded. */
const PENDING_MAX = 1_000_000

export class ShardPool {
  readonly shardCount: number
  /** The largest payload plus control object one message can carry. */
  readonly maxMessageBytes: number
  readonly #options: Required<Omit<ShardPoolOptions, 'clock' | 'actorModules' | 'shards'>>
  readonly #actorModules: Record<string, string>
  readonly #clock: Clock
  readonly #slots: (ShardSlot | null)[]
  readonly #pending = new Map<number, Pending>()
  #nextCorrelationId = 1
  readonly #eventHandlers = new Set<(event: ActorEvent) => void>()
  readonly #exitHandlers = new Set<(exit: ShardExit) => void>()
  readonly #unresponsiveHandlers = new Set<(shard: number, silentMs: number) => void>()
  readonly #orphanHandlers = new Set<(orphan: OrphanError) => void>()
  #heartbeatTimer: TimerHandle | null = null
  #stopping = false

  private constructor(options: ShardPoolOptions) {
    this.shardCount = options.shards ?? os.availableParallelism()
    assert(Number.isInteger(this.shardCount) && this.shardCount >= 1 && this.shardCount <= 1024, `shards must be 1..1024, got ${this.shardCount}`)
    this.#options = {
      ringBytes: options.ringBytes ?? 8 * 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      mailboxCapacity: options.mailboxCapacity ?? 1024,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
      missedHeartbeatsMax: options.missedHeartbeatsMax ?? 3,
      stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
    }
    this.maxMessageBytes = maxFrameBytes(this.#options.ringBytes) - 64
    this.#actorModules = Object.fromEntries(Object.entries(options.actorModules).map(([kind, url]) => [kind, normalizeModuleUrl(url).href]))
    this.#clock = options.clock ?? new SystemClock()
    this.#slots = new Array<ShardSlot | null>(this.shardCount).fill(null)
  }

  /** Starts every shard and resolves once all are ready. */
  static async start(options: ShardPoolOptions): Promise<ShardPool> {
    const pool = new ShardPool(options)
    try {
      await Promise.all(pool.#slots.map((_, index) => pool.#startShard(index)))
    } catch (error) {
      await pool.stop()
      throw error
    }
    pool.#armHeartbeatWatch()
    return pool
  }

  /** Each shard's OS thread id by shard index (null while it is down, or off Linux), for CPU profiles. */
  threadIds(): (number | null)[] {
    return this.#slots.map((slot) => (slot?.alive === true ? slot.tid : null))
  }

  isAlive(shard: number): boolean {
    return this.#slots[shard]?.alive === true
  }

  /** Creates actor `id` of `kind` on `shard`; rejects with the factory's error. */
  async spawn(shard: number, kind: string, id: ActorId, init?: unknown, options: SpawnOptions = {}): Promise<void> {
    const control: SpawnControl = { kind, init, mailboxCapacity: options.mailboxCapacity }
    await this.#call(MessageKind.SPAWN, { shard, id }, control, undefined, this.#options.requestTimeoutMs)
  }

  /** Stops an actor (its stop hook runs; queued requests fail). Resolves false if there was none. */
  async stopActor(address: ActorAddress): Promise<boolean> {
    const reply = await this.#call(MessageKind.STOP_ACTOR, address, undefined, undefined, this.#options.requestTimeoutMs)
    return reply.message === true
  }

  /** Asks an actor; rejects with its error, PARTITA_REQUEST_TIMEOUT, or PARTITA_SHARD_DIED. */
  request<T = unknown>(address: ActorAddress, message: unknown, payload?: Uint8Array, options: RequestOptions = {}): Promise<ActorReply<T>> {
    return this.#call(MessageKind.REQUEST, address, message, payload, options.timeoutMs ?? this.#options.requestTimeoutMs) as Promise<ActorReply<T>>
  }

  /** Sends without a reply. Resolves once the message is in the shard's ring. */
  tell(address: ActorAddress, message: unknown, payload?: Uint8Array): Promise<void> {
    const slot = this.#liveSlot(address.shard)
    if (slot instanceof Error) return Promise.reject(slot)
    return writeFrame(slot.writer, { kind: MessageKind.TELL, correlationId: 0, shard: -1, id: address.id, message, payload }, this.#options.requestTimeoutMs)
  }

  onEvent(handler: (event: ActorEvent) => void): Unsubscribe {
    this.#eventHandlers.add(handler)
    return () => this.#eventHandlers.delete(handler)
  }

  /** A shard's worker ended for any reason but pool.stop(): crashed, exited, or was killed. */
  onShardExit(handler: (exit: ShardExit) => void): Unsubscribe {
    this.#exitHandlers.add(handler)
    return () => this.#exitHandlers.delete(handler)
  }

  /** A live shard missed missedHeartbeatsMax heartbeats in a row (fires once until it beats again). */
  onShardUnresponsive(handler: (shard: number, silentMs: number) => void): Unsubscribe {
    this.#unresponsiveHandlers.add(handler)
    return () => this.#unresponsiveHandlers.delete(handler)
  }

  /** Failures nobody waits for: a tell's handler threw, a tell found a full mailbox or no actor. */
  onOrphanError(handler: (orphan: OrphanError) => void): Unsubscribe {
    this.#orphanHandlers.add(handler)
    return () => this.#orphanHandlers.delete(handler)
  }

  /** Terminates a shard's worker at once (fault injection); resolves after its exit is handled. */
  async killShard(shard: number): Promise<void> {
    const slot = this.#slots[shard]
    if (slot === null || slot === undefined || !slot.alive) return
    slot.killed = true
    await slot.worker.terminate()
    await slot.exited
  }

  /** A fresh worker with fresh rings on the same index; its actors must be spawned again. */
  async restartShard(shard: number): Promise<void> {
    assert(shard >= 0 && shard < this.shardCount, `no shard ${shard}`)
    if (this.#stopping) throw new PartitaError('PARTITA_POOL_STOPPED', 'the shard pool is stopped')
    await this.killShard(shard)
    await this.#startShard(shard)
  }

  /** Stops every shard (actors' stop hooks run), rejecting what is still pending. */
  async stop(): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    if (this.#heartbeatTimer !== null) this.#clock.clearTimeout(this.#heartbeatTimer)
    await Promise.all(
      this.#slots.map(async (slot) => {
        if (slot === null || !slot.alive) return
        slot.worker.postMessage({ type: 'stop' } satisfies PoolControlMessage)
        let timer: NodeJS.Timeout | undefined
        const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.stopTimeoutMs)))
        await Promise.race([slot.stopped, timedOut])
        clearTimeout(timer)
        await slot.worker.terminate()
        await slot.exited
      }),
    )
    const stopped = new PartitaError('PARTITA_POOL_STOPPED', 'the shard pool is stopped')
    for (const [id, pending] of this.#pending) this.#failPending(id, pending, stopped)
  }

  #startShard(index: number): Promise<void> {
    const toShardRing = createRingBuffer(this.#options.ringBytes)
    const toMainRing = createRingBuffer(this.#options.ringBytes)
    const data: ShardWorkerData = {
      shard: index,
      toShardRing,
      toMainRing,
      actorModules: this.#actorModules,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      mailboxCapacity: this.#options.mailboxCapacity,
      requestTimeoutMs: this.#options.requestTimeoutMs,
    }
    const worker = new Worker(compiledUrl(import.meta.url, './shard-worker.js'), { workerData: data, name: `partita-shard-${index}` })
    const reader = new RingReader(toMainRing)
    let markStopped = (): void => {}
    let markExited = (): void => {}
    const slot: ShardSlot = {
      index,
      worker,
      writer: new RingWriter(toShardRing),
      reader,
      // The workers keep the process alive while the pool runs; the reader loop need not.
      loop: startReaderLoop(reader, (bytes, offset, length) => this.#onFrame(slot, bytes, offset, length), (error) => this.#orphan(index, '', error), {
        keepAlive: false,
      }),
      alive: true,
      killed: false,
      lastHeartbeatMs: this.#clock.nowMs(),
      unresponsiveReported: false,
      tid: null,
      stopped: new Promise<void>((resolve) => (markStopped = resolve)),
      exited: new Promise<void>((resolve) => (markExited = resolve)),
    }
    this.#slots[index] = slot
    let lastError: Error | undefined
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: ShardControlMessage) => {
        switch (message.type) {
          case 'ready':
            slot.tid = message.tid
            resolve()
            return
          case 'heartbeat':
            slot.lastHeartbeatMs = this.#clock.nowMs()
            slot.unresponsiveReported = false
            return
          case 'orphanError':
            this.#orphan(index, message.id, deserializeError(message.error))
            return
          case 'stopped':
            markStopped()
            return
        }
      })
      worker.on('error', (error) => {
        lastError = error
        reject(error)
      })
      worker.on('exit', (exitCode) => {
        reject(lastError ?? new PartitaError('PARTITA_SHARD_DIED', `shard ${index} exited with code ${exitCode} while starting`))
        this.#onExit(slot, exitCode, lastError)
        setImmediate(markExited)
      })
    })
  }

  #onExit(slot: ShardSlot, exitCode: number, error: Error | undefined): void {
    slot.alive = false
    void slot.loop.stop()
    slot.writer.close()
    const died = new PartitaError('PARTITA_SHARD_DIED', `shard ${slot.index} exited (code ${exitCode})${error ? `: ${error.message}` : ''}`)
    for (const [id, pending] of this.#pending) {
      if (pending.shard === slot.index || (pending.relay && pending.fromShard === slot.index)) this.#failPending(id, pending, died)
    }
    if (this.#stopping) return
    const exit: ShardExit = { shard: slot.index, exitCode, killed: slot.killed, ...(error ? { error } : {}) }
    for (const handler of this.#exitHandlers) handler(exit)
  }

  #failPending(id: number, pending: Pending, error: PartitaError): void {
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    if (!pending.relay) {
      pending.reject(error)
      return
    }
    // The asking shard is told, unless it is the one that died.
    const from = this.#slots[pending.fromShard]
    if (from?.alive) this.#replyError(from, pending.fromCorrelationId, error)
  }

  #replyError(slot: ShardSlot, correlationId: number, error: unknown): void {
    const frame: OutgoingFrame = { kind: MessageKind.REPLY_ERROR, correlationId, shard: -1, id: '', message: serializeError(error) }
    writeFrame(slot.writer, frame, this.#options.requestTimeoutMs).catch((writeError: unknown) => this.#orphan(slot.index, '', writeError))
  }

  #orphan(shard: number, id: ActorId, error: unknown): void {
    const orphan: OrphanError = { from: { shard, id }, error: error instanceof Error ? error : new Error(String(error)) }
    for (const handler of this.#orphanHandlers) handler(orphan)
  }

  #liveSlot(shard: number): ShardSlot | PartitaError {
    if (this.#stopping) return new PartitaError('PARTITA_POOL_STOPPED', 'the shard pool is stopped')
    const slot = this.#slots[shard]
    if (slot === undefined) return new PartitaError('PARTITA_NO_SUCH_SHARD', `no shard ${shard} (the pool has ${this.shardCount})`)
    if (slot === null || !slot.alive) return new PartitaError('PARTITA_SHARD_DIED', `shard ${shard} is not running`)
    return slot
  }

  #allocateCorrelationId(): number | PartitaError {
    if (this.#pending.size >= PENDING_MAX) return new PartitaError('PARTITA_TOO_MANY_REQUESTS', `${this.#pending.size} requests in flight`)
    // Bounded: fewer than PENDING_MAX ids are taken, so a free one is found within that many steps.
    for (;;) {
      const id = this.#nextCorrelationId
      this.#nextCorrelationId = id >= 0xfffffffe ? 1 : id + 1
      if (!this.#pending.has(id)) return id
    }
  }

  #call(kind: 1 | 6 | 7, address: ActorAddress, message: unknown, payload: Uint8Array | undefined, timeoutMs: number): Promise<ActorReply> {
    const slot = this.#liveSlot(address.shard)
    if (slot instanceof Error) return Promise.reject(slot)
    const correlationId = this.#allocateCorrelationId()
    if (correlationId instanceof Error) return Promise.reject(correlationId)
    return new Promise<ActorReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId)
        reject(new PartitaError('PARTITA_REQUEST_TIMEOUT', `request to actor ${String(address.id)} on shard ${address.shard} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(correlationId, { relay: false, shard: address.shard, resolve, reject, timer })
      writeFrame(slot.writer, { kind: kind as 1, correlationId, shard: -1, id: address.id, message, payload }, timeoutMs).catch((error: unknown) => {
        if (!this.#pending.delete(correlationId)) return
        clearTimeout(timer)
        reject(error as Error)
      })
    })
  }

  #onFrame(slot: ShardSlot, bytes: Buffer, offset: number, length: number): void {
    const kind = readFrameKind(bytes, offset)
    switch (kind) {
      case MessageKind.REPLY:
      case MessageKind.REPLY_ERROR:
        this.#onReply(slot, bytes, offset, length)
        return
      case MessageKind.EVENT: {
        const frame = decodeFrame(bytes, offset, length)
        const event: ActorEvent = { from: { shard: slot.index, id: frame.id }, event: frame.message, ...(frame.payload ? { payload: frame.payload } : {}) }
        for (const handler of this.#eventHandlers) handler(event)
        return
      }
      case MessageKind.RELAY_REQUEST:
        this.#relayRequest(slot, bytes, offset, length)
        return
      case MessageKind.RELAY_TELL: {
        const target = this.#liveSlot(bytes.readInt32LE(offset + 8))
        if (target instanceof Error) {
          this.#orphan(slot.index, '', target)
          return
        }
        relayFrame(target.writer, bytes, offset, length, MessageKind.TELL, 0, slot.index, this.#options.requestTimeoutMs).catch((error: unknown) =>
          this.#orphan(slot.index, '', error),
        )
        return
      }
      default:
        throw new PartitaError('PARTITA_PROTOCOL', `main thread got a frame of kind ${kind} from shard ${slot.index}`)
    }
  }

  #onReply(slot: ShardSlot, bytes: Buffer, offset: number, length: number): void {
    const correlationId = bytes.readUInt32LE(offset + 4)
    const pending = this.#pending.get(correlationId)
    // A late answer to a request that timed out, or to a shard that died since.
    if (pending === undefined || pending.shard !== slot.index) return
    this.#pending.delete(correlationId)
    clearTimeout(pending.timer)
    if (pending.relay) {
      const from = this.#slots[pending.fromShard]
      if (!from?.alive) return
      const kind = readFrameKind(bytes, offset)
      relayFrame(from.writer, bytes, offset, length, kind, pending.fromCorrelationId, slot.index, this.#options.requestTimeoutMs).catch(
        (error: unknown) => this.#orphan(slot.index, '', error),
      )
      return
    }
    const frame = decodeFrame(bytes, offset, length)
    if (frame.kind === MessageKind.REPLY_ERROR) pending.reject(deserializeError(frame.message as SerializedError))
    else pending.resolve(frame.payload === undefined ? { message: frame.message } : { message: frame.message, payload: frame.payload })
  }

  #relayRequest(from: ShardSlot, bytes: Buffer, offset: number, length: number): void {
    const fromCorrelationId = bytes.readUInt32LE(offset + 4)
    const target = this.#liveSlot(bytes.readInt32LE(offset + 8))
    if (target instanceof Error) {
      this.#replyError(from, fromCorrelationId, target)
      return
    }
    const correlationId = this.#allocateCorrelationId()
    if (correlationId instanceof Error) {
      this.#replyError(from, fromCorrelationId, correlationId)
      return
    }
    // The asker times out on its own; this entry only needs to outlive that.
    const timer = setTimeout(() => this.#pending.delete(correlationId), this.#options.requestTimeoutMs * 2 + 1_000)
    timer.unref()
    this.#pending.set(correlationId, { relay: true, fromShard: from.index, fromCorrelationId, shard: target.index, timer })
    relayFrame(target.writer, bytes, offset, length, MessageKind.REQUEST, correlationId, from.index, this.#options.requestTimeoutMs).catch((error: unknown) => {
      if (!this.#pending.delete(correlationId)) return
      clearTimeout(timer)
      this.#replyError(from, fromCorrelationId, error)
    })
  }

  #armHeartbeatWatch(): void {
    const intervalMs = this.#options.heartbeatIntervalMs
    let lastCheckMs = this.#clock.nowMs()
    const check = (): void => {
      if (this.#stopping) return
      const nowMs = this.#clock.nowMs()
      // A check that runs late means this thread was busy: heartbeats that arrived meanwhile still
      // wait in its message queue (timers run first), so silence cannot be judged this round.
      const stalled = nowMs - lastCheckMs > intervalMs * 2
      lastCheckMs = nowMs
      for (const slot of this.#slots) {
        if (stalled) break
        if (slot === null || !slot.alive || slot.unresponsiveReported) continue
        const silentMs = nowMs - slot.lastHeartbeatMs
        if (silentMs > intervalMs * this.#options.missedHeartbeatsMax) {
          slot.unresponsiveReported = true
          for (const handler of this.#unresponsiveHandlers) handler(slot.index, silentMs)
        }
      }
      this.#heartbeatTimer = this.#clock.setTimeout(check, intervalMs)
    }
    this.#heartbeatTimer = this.#clock.setTimeout(check, intervalMs)
  }
}
