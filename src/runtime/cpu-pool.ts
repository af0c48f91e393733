/**
 * Stateless CPU work (compression, CRC over big batches, compaction merges) off the shards: one
 * lazily started piscina pool shared by the whole thread, so a shard's event loop never runs a
 * long computation. Each task names its module; the module's default export does the work.
 */
import os from 'node:os'
import { Piscina } from 'piscina'
import { PartitaError } from '../common/errors.js'
import { normalizeModuleUrl } from './compiled-url.js'

export interface CpuPoolOptions {
  /** Worker threads at most. Default: half the cores, at least 1. */
  maxThreads?: number
  /** Tasks waiting for a thread; more are refused with PARTITA_CPU_POOL_FULL. Default 1 000. */
  maxQueue?: number
  /** How long an idle thread lingers. Default 30 s. */
  idleTimeoutMs?: number
  /** Each thread's V8 young generation (two semi-spaces and the new large-object space), in MiB. Default YOUNG_GENERATION_MB_DEFAULT. */
  youngGenerationSizeMb?: number
}

/**
 * A pool thread's young generation. Node gives a worker 48 MiB on Node 20 and 192 MiB on Node
 * 24, and V8 grows the semi-spaces to that bound while a thread allocates much that survives a
 * scavenge, which a validation or a compaction of a large batch does, and keeps them grown as long
 * as the thread stays busy. In a 10 M-frame fuzz run one pool thread's heap went from 7 MiB held
 * (5 live) to 17 and then 40, for good. A task's objects live for one task, so small semi-spaces
 * cost a few more scavenges, each of little.
 */
export const YOUNG_GENERATION_MB_DEFAULT = 12

export class CpuPool {
  readonly #options: CpuPoolOptions
  #piscina: Piscina | null = null
  #closed = false

  constructor(options: CpuPoolOptions = {}) {
    this.#options = options
  }

  /**
   * Runs the default export of the task module at `moduleUrl` (a .ts URL is mapped into dist/)
   * on `input`. Whatever the task throws rejects here. `transferList` moves buffers instead of
   * copying them.
   */
  async runTask<TInput, TOutput>(moduleUrl: string | URL, input: TInput, transferList?: ArrayBuffer[]): Promise<TOutput> {
    if (this.#closed) throw new PartitaError('PARTITA_CPU_POOL_CLOSED', 'the CPU pool is closed')
    const maxQueue = this.#options.maxQueue ?? 1_000
    this.#piscina ??= new Piscina({
      minThreads: 0,
      maxThreads: this.threadsMax,
      maxQueue,
      idleTimeout: this.#options.idleTimeoutMs ?? 30_000,
      resourceLimits: { maxYoungGenerationSizeMb: this.#options.youngGenerationSizeMb ?? YOUNG_GENERATION_MB_DEFAULT },
      // Tasks arrive as messages, so each worker's event loop turns between them. With piscina's
      // default ('sync') a worker sleeps in Atomics.wait between tasks and its event loop never
      // runs, so Node never calls the finalizers of the native codecs' output buffers (it defers
      // them to the event loop): every batch a task decompressed stayed in memory, and producing
      // 200 KB zstd batches grew the broker's RSS by 4 GB in 30 s.
      atomics: 'disabled',
    })
    if (this.#piscina.queueSize >= maxQueue) {
      throw new PartitaError('PARTITA_CPU_POOL_FULL', `${this.#piscina.queueSize} CPU tasks are waiting`)
    }
    const filename = normalizeModuleUrl(moduleUrl).href
    return (await this.#piscina.run(input, transferList === undefined ? { filename } : { filename, transferList })) as TOutput
  }

  /** The threads this pool starts at most. */
  get threadsMax(): number {
    return this.#options.maxThreads ?? poolThreadsPerShard(os.availableParallelism(), 1)
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.#piscina?.queueSize ?? 0
  }

  async close(): Promise<void> {
    this.#closed = true
    const piscina = this.#piscina
    this.#piscina = null
    if (piscina !== null) await piscina.destroy()
  }
}

let shared: CpuPool | null = null
let sharedOptions: CpuPoolOptions = {}

/**
 * Sets the options of the thread's shared pool, before its first use. Each shard has a pool of its
 * own, so a shard takes its share of the threads: with the default of half the cores per pool, a
 * box with N cores and N shards could start N²/2 pool threads, each a V8 isolate.
 */
export function configureSharedCpuPool(options: CpuPoolOptions): void {
  if (shared !== null) throw new PartitaError('PARTITA_CPU_POOL_STARTED', 'the shared CPU pool is already in use')
  sharedOptions = options
}

/** Pool threads for each of `shards` shards on `cores` cores: half the cores, shared out, at least one each. */
export function poolThreadsPerShard(cores: number, shards: number): number {
  return Math.max(1, Math.floor(cores / 2 / Math.max(1, shards)))
}

/** The thread's shared CPU pool, created on first use. */
export function sharedCpuPool(): CpuPool {
  shared ??= new CpuPool(sharedOptions)
  return shared
}

/** Runs a task on the shared CPU pool; see CpuPool.runTask. */
export function runTask<TInput, TOutput>(moduleUrl: string | URL, input: TInput, transferList?: ArrayBuffer[]): Promise<TOutput> {
  return sharedCpuPool().runTask<TInput, TOutput>(moduleUrl, input, transferList)
}

/** Closes the shared pool (a later runTask starts a fresh one). */
export async function closeSharedCpuPool(): Promise<void> {
  const pool = shared
  shared = null
  await pool?.close()
}
