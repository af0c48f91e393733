import { Piscina } from 'piscina'
import { deserializeError } from '../common/errors.js'
import { type CompactionResult, type CompactionTaskInput, type CompactionTaskOutcome, compactSegments } from './compaction-task.js'

export type { CompactionResult, CompactionTaskInput, CompactionTaskOutcome } from './compaction-task.js'

/**
 * What the log hands a compactor (structurally the `Compactor` interface of log.ts): its
 * non-active segments, oldest first. When the promise resolves the segments' files hold their
 * compacted contents (a fully overwritten segment other than the first is gone).
 */
export interface Compactor {
  compact(input: CompactionTaskInput): Promise<void>
  close(): Promise<void>
}

/**
 * The compiled task module. Workers load JS only, so when this module runs from its .ts source
 * (under vitest) point at the build output in dist/ instead.
 */
export function compactionTaskUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? '../../dist/src/storage/compaction-task.js' : './compaction-task.js', import.meta.url)
}

export interface PiscinaCompactorOptions {
  /** The task module; default compactionTaskUrl(). */
  filename?: URL
  /** Compactions waiting for the worker; more are refused. Default 10 000. */
  maxQueue?: number
  /** How long an idle worker lingers before it exits. Default 60 s. */
  idleTimeoutMs?: number
  /**
   * Runs the task module on a pool the caller already has (the shard's shared CPU pool), instead
   * of a pool of this compactor's own; maxQueue and idleTimeoutMs then do not apply.
   */
  runTask?: (filename: URL, task: CompactionTaskInput) => Promise<CompactionTaskOutcome>
}

/**
 * Runs each compaction on one worker thread of its own (a lazily created piscina pool), since
 * merging segments is CPU work that must not stall the partition's thread. Compactions queue and
 * run one at a time, which also bounds the disk bandwidth they take.
 */
export class PiscinaCompactor implements Compactor {
  readonly #options: PiscinaCompactorOptions
  #pool: Piscina<CompactionTaskInput, CompactionTaskOutcome> | null = null
  #closed = false

  constructor(options: PiscinaCompactorOptions = {}) {
    this.#options = options
  }

  async compact(input: CompactionTaskInput): Promise<void> {
    await this.run(input)
  }

  /** As compact, with the figures of the run. */
  async run(input: CompactionTaskInput): Promise<CompactionResult> {
    if (this.#closed) throw new Error('compactor is closed')
    // Only plain data crosses to the worker: the log may pass richer objects.
    const task: CompactionTaskInput = {
      dir: input.dir,
      segments: input.segments.map((s) => ({ baseOffset: s.baseOffset, path: s.path })),
      nowMs: input.nowMs,
      deleteRetentionMs: input.deleteRetentionMs,
      minCompactionLagMs: input.minCompactionLagMs,
      offsetMapKeysMax: input.offsetMapKeysMax,
    }
    const outcome = await this.#runTask(task)
    if (!outcome.ok) throw deserializeError(outcome.error)
    return outcome.result
  }

  #runTask(task: CompactionTaskInput): Promise<CompactionTaskOutcome> {
    const filename = this.#options.filename ?? compactionTaskUrl()
    if (this.#options.runTask !== undefined) return this.#options.runTask(filename, task)
    this.#pool ??= new Piscina<CompactionTaskInput, CompactionTaskOutcome>({
      filename: filename.href,
      minThreads: 0,
      maxThreads: 1,
      maxQueue: this.#options.maxQueue ?? 10_000,
      idleTimeout: this.#options.idleTimeoutMs ?? 60_000,
    })
    return this.#pool.run(task)
  }

  async close(): Promise<void> {
    this.#closed = true
    const pool = this.#pool
    this.#pool = null
    if (pool !== null) await pool.destroy()
  }
}

/** The same compaction on the calling thread: for tests, tools, and as a fallback. */
export class InlineCompactor implements Compactor {
  async compact(input: CompactionTaskInput): Promise<void> {
    await this.run(input)
  }

  /** As compact, with the figures of the run. */
  async run(input: CompactionTaskInput): Promise<CompactionResult> {
    return compactSegments(input)
  }

  async close(): Promise<void> {}
}
