/**
 * The main thread's side of the runtime: starts N long-lived shard workers, each hosting many
 * actors, and wires them into a full mesh of single-producer single-consumer rings:
 *
 *            main
 *          ↗ ↙  ↘ ↖          one ring per direction between main and each shard,
 *     shard 0 ⇄ shard 1      and one per direction between every two shards
 *          ↘ ↖  ↗ ↙
 *           shard 2
 *
 * Shards talk to shards directly over their rings; the main thread carries none of that traffic.
 * Every writer into a thread's rings rings that thread's doorbell (doorbell.ts), so each thread
 * sleeps on one word however many rings it reads.
 *
 * The pool watches the workers (exits, heartbeats) for the supervisor. When a shard restarts it
 * gets fresh rings to and from everyone; the live shards are told of the new rings (and, when it
 * died, that requests to it will never be answered) over their MessagePort, which carries only
 * such rare control traffic.
 */
import { createWriteStream } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Worker } from 'node:worker_threads'
import { SystemClock, type Clock, type TimerHandle } from '../common/clock.js'
import { PartitaError, deserializeError, serializeError, type SerializedError } from '../common/errors.js'
import { assert } from '../common/assert.js'
import { assertTimerDelay } from '../common/timers.js'
import { MAIN_THREAD, type ActorAddress, type ActorReply, type RequestOptions } from './actor.js'
import { FrameAssembler, MessageKind, writeFrame, type ActorId, type IncomingFrame, type OutgoingFrame } from './codec.js'
import { compiledUrl, normalizeModuleUrl } from './compiled-url.js'
import { poolThreadsPerShard } from './cpu-pool.js'
import { Doorbell, createDoorbells } from './doorbell.js'
import { RingReader, RingWriter, createRingBuffer, ringOccupancy, startMultiReaderLoop, type MultiReaderLoop } from './ring.js'
import type { PoolControlMessage, ShardControlMessage, ShardWorkerData, SpawnControl } from './shard-worker.js'

export { MAIN_THREAD } from './actor.js'

export interface ShardPoolOptions {
  /** Actor kind to the URL of its compiled module (a .ts URL is mapped into dist/). */
  actorModules: Record<string, string | URL>
  /** Worker threads; default os.availableParallelism(). */
  shards?: number
  /** Data bytes of each main-to-shard and shard-to-main ring (a power of two). Default 1 MiB. */
  ringBytes?: number
  /** Data bytes of each shard-to-shard ring (a power of two). Default: ringBytes if given, else 4 MiB. */
  peerRingBytes?: number
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
  /**
   * V8's young generation of each shard (two semi-spaces and the new large-object space), in MiB.
   * 0 (the default) leaves a worker's own: 48 MiB on Node 20, 192 on Node 24.
   */
  youngGenerationSizeMb?: number
  /**
   * V8's old generation of each shard: the most its heap may retain, past which the shard dies of
   * out-of-memory and is restarted. 0 (the default) leaves V8's own limit, a quarter of the
   * machine's memory up to 4 GiB.
   */
  oldGenerationSizeMb?: number
  /**
   * Threads of each shard's CPU pool (cpu-pool.ts) at most. Default: half the cores shared out
   * between the shards, at least one each (poolThreadsPerShard).
   */
  cpuPoolThreadsMax?: number
}

/**
 * Main <-> shard rings carry control only (metadata, heartbeats, admin), so 1 MiB is room enough;
 * anything larger crosses in fragments. A ring's pages become resident as its write position first
 * goes round it, so every byte here is RSS sooner or later: with 8 MiB rings a 3-broker fuzz run's
 * RSS grew by ~96 MiB over its first 300,000 frames from the twelve rings alone.
 */
const CONTROL_RING_BYTES = 1024 * 1024
/**
 * Shard <-> shard rings carry the followers' fetch answers (a message past a quarter of the ring
 * crosses in fragments); there are N x (N - 1) of them for N brokers. bench:protocol's acks=all
 * RF 3 phase, alternated runs (measured with followers batched per leader shard, since reverted):
 * 0.69-0.71 M rec/s with 8 MiB, 0.65-0.69 M with 4 MiB, 0.66-0.67 M with 2 MiB.
 */
const PEER_RING_BYTES = 4 * 1024 * 1024

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

/** A request from a shard to the main thread, and where it came from. */
export interface MainRequest {
  fromShard: number
  /** The service asked (the `id` of the address the shard used). */
  id: ActorId
  message: unknown
  payload?: Buffer
}

export type MainRequestHandler = (request: MainRequest) => Promise<ActorReply> | ActorReply

type Unsubscribe = () => void

export interface RingOccupancy {
  shard: number
  in: { usedBytes: number; capacityBytes: number }
  out: { usedBytes: number; capacityBytes: number }
}

interface Pending {
  shard: number
  resolve: (reply: ActorReply) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

interface ShardSlot {
  index: number
  worker: Worker
  writer: RingWriter
  /** Main to shard and shard to main, kept for occupancy figures. */
  rings: { toShard: SharedArrayBuffer; toMain: SharedArrayBuffer }
  alive: boolean
  killed: boolean
  lastHeartbeatMs: number
  unresponsiveReported: boolean
  /** A heap snapshot holds the shard still: its silence is not judged until it is written. */
  snapshotting: boolean
  /** The worker's OS thread id (Linux), for per-thread CPU figures; -1 until it is ready. */
  threadId: number
  /** Resolves on the shard's 'stopped' message (graceful stop). */
  stopped: Promise<void>
  /** Resolves once the worker's exit has been handled (one listener, however often it is killed). */
  exited: Promise<void>
}

/** Requests in flight at once from the main thread; more are refused, so the table cannot grow unbounded. */
const PENDING_MAX = 1_000_000

export class ShardPool {
  readonly shardCount: number
  readonly #options: Required<Omit<ShardPoolOptions, 'clock' | 'actorModules' | 'shards'>>
  readonly #actorModules: Record<string, string>
  readonly #clock: Clock
  readonly #slots: (ShardSlot | null)[]
  /** `#peerRings[from][to]`: the ring shard `from` writes and shard `to` reads; null on the diagonal. */
  readonly #peerRings: (SharedArrayBuffer | null)[][]
  readonly #doorbells: SharedArrayBuffer
  readonly #mainDoorbell: Doorbell
  readonly #loop: MultiReaderLoop
  readonly #pending = new Map<number, Pending>()
  #nextCorrelationId = 1
  readonly #eventHandlers = new Set<(event: ActorEvent) => void>()
  readonly #exitHandlers = new Set<(exit: ShardExit) => void>()
  readonly #unresponsiveHandlers = new Set<(shard: number, silentMs: number) => void>()
  readonly #orphanHandlers = new Set<(orphan: OrphanError) => void>()
  #requestHandler: MainRequestHandler | null = null
  /** Frames the main thread has read from shards: replies, events and requests to it, nothing else. */
  #framesFromShards = 0
  /** Heap snapshots written so far: the sequence number in their names. */
  #heapSnapshotsWritten = 0
  #heartbeatTimer: TimerHandle | null = null
  /** Restarts under way, by shard index. */
  readonly #restarting = new Map<number, Promise<void>>()
  #stopping = false

  private constructor(options: ShardPoolOptions) {
    this.shardCount = options.shards ?? os.availableParallelism()
    assert(Number.isInteger(this.shardCount) && this.shardCount >= 1 && this.shardCount <= 256, `shards must be 1..256, got ${this.shardCount}`)
    this.#options = {
      ringBytes: options.ringBytes ?? CONTROL_RING_BYTES,
      peerRingBytes: options.peerRingBytes ?? options.ringBytes ?? PEER_RING_BYTES,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      mailboxCapacity: options.mailboxCapacity ?? 1024,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
      missedHeartbeatsMax: options.missedHeartbeatsMax ?? 3,
      stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
      youngGenerationSizeMb: options.youngGenerationSizeMb ?? 0,
      oldGenerationSizeMb: options.oldGenerationSizeMb ?? 0,
      cpuPoolThreadsMax: options.cpuPoolThreadsMax ?? poolThreadsPerShard(os.availableParallelism(), this.shardCount),
    }
    this.#actorModules = Object.fromEntries(Object.entries(options.actorModules).map(([kind, url]) => [kind, normalizeModuleUrl(url).href]))
    this.#clock = options.clock ?? new SystemClock()
    this.#slots = new Array<ShardSlot | null>(this.shardCount).fill(null)
    // Doorbell i belongs to shard i; the last one to the main thread.
    this.#doorbells = createDoorbells(this.shardCount + 1)
    this.#mainDoorbell = new Doorbell(this.#doorbells, this.shardCount)
    this.#peerRings = Array.from({ length: this.shardCount }, (_, from) =>
      Array.from({ length: this.shardCount }, (_, to) => (from === to ? null : createRingBuffer(this.#options.peerRingBytes))),
    )
    // The workers keep the process alive while the pool runs; the reader loop need not.
    this.#loop = startMultiReaderLoop(this.#mainDoorbell, (error) => this.#orphan(-1, '', error), { keepAlive: false })
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

  /** Frames the main thread has read; traffic between shards never passes through it. */
  get framesFromShards(): number {
    return this.#framesFromShards
  }

  isAlive(shard: number): boolean {
    return this.#slots[shard]?.alive === true
  }

  /** Each shard's OS thread id (-1 for one not running), and the main thread's (the process id). */
  threadIds(): { main: number; shards: number[] } {
    return { main: process.pid, shards: this.#slots.map((slot) => (slot?.alive === true ? slot.threadId : -1)) }
  }

  /**
   * Writes a V8 heap snapshot of each running shard into `dir`, one shard after another (a
   * snapshot costs its shard a pause, during which its silence is not judged, and about the heap's
   * size again in memory), named as Node names the main thread's
   * (`Heap.<time>.<pid>.<Node thread id>.<n>.heapsnapshot`) plus the shard. Node's own
   * `--heapsnapshot-signal` covers only the main thread; a leak hunt needs the shards. Returns
   * the files written.
   */
  async writeHeapSnapshots(dir: string): Promise<string[]> {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '.').slice(0, 15)
    const written: string[] = []
    // Bounded by the shard count.
    for (const slot of this.#slots) {
      if (slot?.alive !== true) continue
      const file = path.join(dir, `Heap.${stamp}.${process.pid}.${slot.worker.threadId}.${++this.#heapSnapshotsWritten}.shard-${slot.index}.heapsnapshot`)
      // A large heap takes seconds to walk, all of them without a heartbeat from the shard.
      slot.snapshotting = true
      try {
        await pipeline(await slot.worker.getHeapSnapshot(), createWriteStream(file))
      } finally {
        slot.snapshotting = false
        slot.lastHeartbeatMs = this.#clock.nowMs()
      }
      written.push(file)
    }
    return written
  }

  /**
   * Bytes waiting unread in the rings into each shard (from the main thread and its peers) and out
   * of it, by shard index (zeros for a shard that is down): a full ring is back-pressure.
   */
  ringOccupancy(): RingOccupancy[] {
    return this.#slots.map((slot, shard) => {
      const into = { usedBytes: 0, capacityBytes: 0 }
      const out = { usedBytes: 0, capacityBytes: 0 }
      if (slot === null || !slot.alive) return { shard, in: into, out }
      const add = (sum: typeof into, sab: SharedArrayBuffer | null): void => {
        if (sab === null) return
        const o = ringOccupancy(sab)
        sum.usedBytes += o.usedBytes
        sum.capacityBytes += o.capacityBytes
      }
      add(into, slot.rings.toShard)
      add(out, slot.rings.toMain)
      for (let peer = 0; peer < this.shardCount; peer++) {
        add(into, this.#peerRings[peer][shard])
        add(out, this.#peerRings[shard][peer])
      }
      return { shard, in: into, out }
    })
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
    return writeFrame(slot.writer, { kind: MessageKind.TELL, correlationId: 0, shard: MAIN_THREAD, id: address.id, message, payload }, this.#options.requestTimeoutMs)
  }

  /** Answers the requests shards send to the main thread (`{ shard: MAIN_THREAD, id }`). One handler. */
  onRequest(handler: MainRequestHandler): void {
    this.#requestHandler = handler
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

  /**
   * A fresh worker with fresh rings on the same index; its actors must be spawned again. Restarts
   * of one index asked for while one is under way join it: two at once would each start a worker,
   * and the one whose slot the other took would run on, unwatched, for the life of the process.
   */
  restartShard(shard: number): Promise<void> {
    assert(shard >= 0 && shard < this.shardCount, `no shard ${shard}`)
    if (this.#stopping) return Promise.reject(new PartitaError('PARTITA_POOL_STOPPED', 'the shard pool is stopped'))
    let restarting = this.#restarting.get(shard)
    if (restarting === undefined) {
      restarting = this.#restart(shard).finally(() => this.#restarting.delete(shard))
      this.#restarting.set(shard, restarting)
    }
    return restarting
  }

  async #restart(shard: number): Promise<void> {
    await this.killShard(shard)
    for (let other = 0; other < this.shardCount; other++) {
      if (other === shard) continue
      this.#peerRings[other][shard] = createRingBuffer(this.#options.peerRingBytes)
      this.#peerRings[shard][other] = createRingBuffer(this.#options.peerRingBytes)
      // Told before the new worker can write to it, so no frame of the new ring goes unread.
      this.#postControl(other, { type: 'peerUp', shard, toPeer: this.#peerRings[other][shard]!, fromPeer: this.#peerRings[shard][other]! })
    }
    await this.#startShard(shard)
  }

  /**
   * Stops judging silence: the owner is shutting down, and shards busy flushing their actors'
   * files for the last time must not be declared dead (and killed) meanwhile.
   */
  quiesce(): void {
    if (this.#heartbeatTimer !== null) this.#clock.clearTimeout(this.#heartbeatTimer)
    this.#heartbeatTimer = null
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
    await this.#loop.stop()
    const stopped = new PartitaError('PARTITA_POOL_STOPPED', 'the shard pool is stopped')
    for (const [id, pending] of this.#pending) this.#failPending(id, pending, stopped)
  }

  #startShard(index: number): Promise<void> {
    const toShardRing = createRingBuffer(this.#options.ringBytes)
    const toMainRing = createRingBuffer(this.#options.ringBytes)
    const data: ShardWorkerData = {
      shard: index,
      shardCount: this.shardCount,
      toShardRing,
      toMainRing,
      doorbells: this.#doorbells,
      toPeerRings: this.#peerRings[index],
      fromPeerRings: this.#peerRings.map((row) => row[index]),
      actorModules: this.#actorModules,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      mailboxCapacity: this.#options.mailboxCapacity,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      cpuPoolThreadsMax: this.#options.cpuPoolThreadsMax,
    }
    const worker = new Worker(compiledUrl(import.meta.url, './shard-worker.js'), {
      workerData: data,
      name: `partita-shard-${index}`,
      resourceLimits: {
        ...(this.#options.youngGenerationSizeMb > 0 ? { maxYoungGenerationSizeMb: this.#options.youngGenerationSizeMb } : {}),
        ...(this.#options.oldGenerationSizeMb > 0 ? { maxOldGenerationSizeMb: this.#options.oldGenerationSizeMb } : {}),
      },
    })
    let markStopped = (): void => {}
    let markExited = (): void => {}
    const slot: ShardSlot = {
      index,
      worker,
      writer: new RingWriter(toShardRing, { doorbell: new Doorbell(this.#doorbells, index) }),
      rings: { toShard: toShardRing, toMain: toMainRing },
      alive: true,
      killed: false,
      lastHeartbeatMs: this.#clock.nowMs(),
      unresponsiveReported: false,
      snapshotting: false,
      threadId: -1,
      stopped: new Promise<void>((resolve) => (markStopped = resolve)),
      exited: new Promise<void>((resolve) => (markExited = resolve)),
    }
    this.#slots[index] = slot
    const reader = new RingReader(toMainRing)
    const frames = new FrameAssembler()
    this.#loop.add(index, {
      reader,
      visit: (bytes, offset, length) => {
        const frame = frames.accept(bytes, offset, length)
        if (frame !== null) this.#onFrame(slot, frame)
      },
    })
    let lastError: Error | undefined
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: ShardControlMessage) => {
        switch (message.type) {
          case 'ready':
            slot.threadId = message.threadId
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

  #postControl(shard: number, message: PoolControlMessage): void {
    const slot = this.#slots[shard]
    if (slot?.alive === true) slot.worker.postMessage(message)
  }

  #onExit(slot: ShardSlot, exitCode: number, error: Error | undefined): void {
    slot.alive = false
    this.#loop.remove(slot.index)
    slot.writer.close()
    const died = new PartitaError('PARTITA_SHARD_DIED', `shard ${slot.index} exited (code ${exitCode})${error ? `: ${error.message}` : ''}`)
    for (const [id, pending] of this.#pending) if (pending.shard === slot.index) this.#failPending(id, pending, died)
    if (this.#stopping) return
    // Its peers fail what they asked it at once instead of waiting out their timeouts.
    for (let other = 0; other < this.shardCount; other++) if (other !== slot.index) this.#postControl(other, { type: 'peerDown', shard: slot.index, reason: died.message })
    const exit: ShardExit = { shard: slot.index, exitCode, killed: slot.killed, ...(error ? { error } : {}) }
    for (const handler of this.#exitHandlers) handler(exit)
  }

  #failPending(id: number, pending: Pending, error: PartitaError): void {
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    pending.reject(error)
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
    assertTimerDelay(timeoutMs)
    const slot = this.#liveSlot(address.shard)
    if (slot instanceof Error) return Promise.reject(slot)
    const correlationId = this.#allocateCorrelationId()
    if (correlationId instanceof Error) return Promise.reject(correlationId)
    return new Promise<ActorReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId)
        reject(new PartitaError('PARTITA_REQUEST_TIMEOUT', `request to actor ${String(address.id)} on shard ${address.shard} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(correlationId, { shard: address.shard, resolve, reject, timer })
      writeFrame(slot.writer, { kind: kind as 1, correlationId, shard: MAIN_THREAD, id: address.id, message, payload }, timeoutMs).catch((error: unknown) => {
        if (!this.#pending.delete(correlationId)) return
        clearTimeout(timer)
        reject(error as Error)
      })
    })
  }

  #onFrame(slot: ShardSlot, frame: IncomingFrame): void {
    this.#framesFromShards++
    switch (frame.kind) {
      case MessageKind.REPLY:
      case MessageKind.REPLY_ERROR:
        this.#onReply(slot, frame)
        return
      case MessageKind.EVENT: {
        const event: ActorEvent = { from: { shard: slot.index, id: frame.id }, event: frame.message, ...(frame.payload ? { payload: frame.payload } : {}) }
        for (const handler of this.#eventHandlers) handler(event)
        return
      }
      case MessageKind.REQUEST:
        void this.#answer(slot, frame)
        return
      default:
        throw new PartitaError('PARTITA_PROTOCOL', `main thread got a frame of kind ${frame.kind} from shard ${slot.index}`)
    }
  }

  #onReply(slot: ShardSlot, frame: IncomingFrame): void {
    const pending = this.#pending.get(frame.correlationId)
    // A late answer to a request that timed out, or to a shard that died since.
    if (pending === undefined || pending.shard !== slot.index) return
    this.#pending.delete(frame.correlationId)
    clearTimeout(pending.timer)
    if (frame.kind === MessageKind.REPLY_ERROR) pending.reject(deserializeError(frame.message as SerializedError))
    else pending.resolve(frame.payload === undefined ? { message: frame.message } : { message: frame.message, payload: frame.payload })
  }

  /** A shard's request to the main thread: the handler's answer (or error) goes back on its ring. */
  async #answer(slot: ShardSlot, frame: IncomingFrame): Promise<void> {
    let reply: OutgoingFrame
    try {
      if (this.#requestHandler === null) throw new PartitaError('PARTITA_NO_SUCH_ACTOR', 'the main thread answers no requests')
      const answer = await this.#requestHandler({ fromShard: slot.index, id: frame.id, message: frame.message, payload: frame.payload })
      reply = { kind: MessageKind.REPLY, correlationId: frame.correlationId, shard: MAIN_THREAD, id: '', message: answer.message, payload: answer.payload }
    } catch (error) {
      reply = { kind: MessageKind.REPLY_ERROR, correlationId: frame.correlationId, shard: MAIN_THREAD, id: '', message: serializeError(error) }
    }
    if (!slot.alive) return
    writeFrame(slot.writer, reply, this.#options.requestTimeoutMs).catch((error: unknown) => this.#orphan(slot.index, '', error))
  }

  #armHeartbeatWatch(): void {
    const intervalMs = this.#options.heartbeatIntervalMs
    let lastCheckMs = this.#clock.nowMs()
    const check = (): void => {
      if (this.#stopping) return
      const nowMs = this.#clock.nowMs()
      // A check that runs late means this thread was busy, or the whole process was stopped (a
      // frozen box, SIGSTOP): heartbeats that arrived meanwhile still wait in its message queue
      // (timers run first), and the shards stood still too. So silence is not judged this round,
      // and each shard's is measured afresh from now: judged from its last beat before the stall,
      // a fuzz run's shards were declared dead a second after the box came back from a pause of
      // several seconds.
      const stalled = nowMs - lastCheckMs > intervalMs * 2
      lastCheckMs = nowMs
      for (const slot of this.#slots) {
        if (slot === null) continue
        if (stalled || slot.snapshotting) {
          slot.lastHeartbeatMs = nowMs
          continue
        }
        if (!slot.alive || slot.unresponsiveReported) continue
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
