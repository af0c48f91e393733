import { deserializeError } from '../common/errors.js'
import { type CompactionResult, type CompactionTaskInput, type CompactionTaskOutcome, compactSegments } from './compaction-task.js'

export type { CompactionResult, CompactionTaskInput, CompactionTaskOutcome } from './compaction-task.js'

/**
 * What the log hands a compactor (structurally the `Compactor` interface of log.ts): its
 * non-active segments, oldest first. When the promise resolves the segments' files hold their
 * compacted contents (a fully overwritten segment other than the first is gone).
 */
export interface Compactor {
  compact(input: CompactionTaskInput): Promise<CompactionResult>
  close(): Promise<void>
}

/**
 * The compiled task module. Workers load JS only, so when this module runs from its .ts source
 * (under vitest) point at the build output in dist/ instead.
 */
export function compactionTaskUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? '../../dist/src/storage/compaction-task.js' : './compaction-task.js', import.meta.url)
}

/** Runs the compaction task module on some thread pool the caller owns. */
export type TaskRunner = (filename: URL, task: CompactionTaskInput) => Promise<CompactionTaskOutcome>

/**
 * Runs each compaction as a task on a thread pool the caller provides (a shard's CPU pool), since
 * merging segments is CPU work that must not stall the partition's thread. Storage builds no pool
 * of its own: it knows files, not threads.
 */
export class TaskCompactor implements Compactor {
  readonly #runTask: TaskRunner
  readonly #filename: URL
  #closed = false

  constructor(runTask: TaskRunner, filename: URL = compactionTaskUrl()) {
    this.#runTask = runTask
    this.#filename = filename
  }

  async compact(input: CompactionTaskInput): Promise<CompactionResult> {
    return this.run(input)
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
      abortedTxns: input.abortedTxns?.map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset, lastOffset: t.lastOffset })),
    }
    const outcome = await this.#runTask(this.#filename, task)
    if (!outcome.ok) throw deserializeError(outcome.error)
    return outcome.result
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

/** The same compaction on the calling thread: for tests, tools, and as a fallback. */
export class InlineCompactor implements Compactor {
  async compact(input: CompactionTaskInput): Promise<CompactionResult> {
    return this.run(input)
  }

  /** As compact, with the figures of the run. */
  async run(input: CompactionTaskInput): Promise<CompactionResult> {
    return compactSegments(input)
  }

  async close(): Promise<void> {}
}
