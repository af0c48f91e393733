import path from 'node:path'
import { readFileIfExistsSync, writeFileAtomic, writeFileAtomicSync } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'
import { withStorageErrors, withStorageErrorsAsync } from './storage-error.js'

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint'
const CHECKPOINT_VERSION = 0
/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1
export const UNDEFINED_EPOCH_OFFSET = -1

export interface EpochEntry {
  epoch: number
  startOffset: number
}

/**
 * Leader epoch -> first offset written in that epoch (KIP-101), for OffsetsForLeaderEpoch and
 * follower truncation. Persisted in Kafka's `leader-epoch-checkpoint` text format (version line,
 * count line, then "epoch startOffset" lines), written atomically and durably with the log's next
 * flush (and at close) when its entries changed.
 */
export class LeaderEpochCache {
  readonly #file: string
  readonly #logEndOffset: () => number
  readonly #fsync: boolean
  readonly #files: FileHandleCache | undefined
  #entries: EpochEntry[] = []
  /** The entries changed since the file was last written. */
  #stale = false

  /**
   * `options.files` is the log's file cache, for the checkpoint's short-lived fds; `exists: false`
   * says the caller knows there is no checkpoint yet (a new log), which saves a failed open.
   */
  constructor(dir: string, logEndOffset: () => number, fsync = true, options: { files?: FileHandleCache; exists?: boolean } = {}) {
    this.#file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
    this.#logEndOffset = logEndOffset
    this.#fsync = fsync
    this.#files = options.files
    if (options.exists !== false) {
      this.#entries = parseCheckpoint(withStorageErrors(`read ${this.#file}`, () => readFileIfExistsSync(this.#file, this.#files)))
    }
  }

  entries(): ReadonlyArray<Readonly<EpochEntry>> {
    return this.#entries
  }

  latestEpoch(): number {
    return this.#entries.length === 0 ? UNDEFINED_EPOCH : this.#entries[this.#entries.length - 1].epoch
  }

  /**
   * Records that `epoch` starts at `startOffset`. A repeat of the latest epoch is a no-op; as in
   * Kafka, entries that would break monotonicity (an epoch >= this one, or a start offset >= this
   * one) are removed first.
   */
  assign(epoch: number, startOffset: number): void {
    if (epoch < 0) return
    const latest = this.#entries[this.#entries.length - 1]
    if (latest !== undefined && latest.epoch === epoch && latest.startOffset <= startOffset) return
    while (this.#entries.length > 0) {
      const tail = this.#entries[this.#entries.length - 1]
      if (tail.epoch >= epoch || tail.startOffset >= startOffset) this.#entries.pop()
      else break
    }
    this.#entries.push({ epoch, startOffset })
    this.#persist()
  }

  /**
   * OffsetsForLeaderEpoch: the end offset of `epoch` as this log sees it — the start of the next
   * higher epoch, or the log end offset for the latest epoch — with the largest epoch <= the
   * requested one. Unknown (newer than any, or undefined) -> (-1, -1).
   */
  endOffsetFor(epoch: number): { epoch: number; endOffset: number } {
    if (epoch === UNDEFINED_EPOCH) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    if (epoch === this.latestEpoch()) return { epoch, endOffset: this.#logEndOffset() }
    const higher = this.#entries.findIndex((e) => e.epoch > epoch)
    if (higher === -1) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    const floor = higher === 0 ? undefined : this.#entries[higher - 1]
    return { epoch: floor === undefined ? epoch : floor.epoch, endOffset: this.#entries[higher].startOffset }
  }

  /** The log was truncated to end at `endOffset`: drop epochs starting at or after it. */
  truncateFromEnd(endOffset: number): void {
    const before = this.#entries.length
    this.#entries = this.#entries.filter((e) => e.startOffset < endOffset)
    if (this.#entries.length !== before) this.#persist()
  }

  /** The log now starts at `startOffset`: keep the epoch covering it, starting there. */
  truncateFromStart(startOffset: number): void {
    let covering = -1
    for (let i = 0; i < this.#entries.length && this.#entries[i].startOffset <= startOffset; i++) covering = i
    if (covering === -1 || (covering === 0 && this.#entries[0].startOffset === startOffset)) return
    const kept = this.#entries.slice(covering)
    kept[0] = { epoch: kept[0].epoch, startOffset }
    this.#entries = kept
    this.#persist()
  }

  /** Drops every entry (the log was emptied). */
  clear(): void {
    if (this.#entries.length === 0) return
    this.#entries = []
    this.#persist()
  }

  /**
   * Marks the checkpoint stale; sync() writes it. Not written here because every leader change
   * and a new leader's first append change the entries, and a broker taking over (or creating)
   * thousands of partitions must not pay a synchronous file write for each, let alone one per
   * partition in a single produce request. Losing the unwritten entries to a crash is safe: the
   * log calls sync() before it flushes data, so the entries of every durable record are on disk,
   * and recovery re-derives the epochs of everything after the recovery point from the batches
   * themselves (as Kafka's does). A damaged file reads as empty, which makes followers fall back to
   * truncating at the high watermark (KIP-279), never past committed data.
   */
  #persist(): void {
    this.#stale = true
  }

  /** Writes the checkpoint (temp file and rename, so it is whole or old) if it is stale, durably. */
  sync(): void {
    if (this.#stale) this.#write(this.#fsync)
  }


  /**
   * sync() off the thread (see writeFileAtomic), for a log's close: thousands of logs closing at
   * once write their checkpoints side by side.
   */
  async syncAsync(): Promise<void> {
    if (!this.#stale) return
    const text = this.#text()
    await withStorageErrorsAsync(`write ${this.#file}`, () => writeFileAtomic(this.#file, text, this.#fsync, this.#files))
    this.#stale = false
  }

  #write(fsync: boolean): void {
    withStorageErrors(`write ${this.#file}`, () => writeFileAtomicSync(this.#file, this.#text(), fsync, this.#files))
    this.#stale = false
  }

  #text(): string {
    const lines = [String(CHECKPOINT_VERSION), String(this.#entries.length)]
    for (const e of this.#entries) lines.push(`${e.epoch} ${e.startOffset}`)
    return lines.join('\n') + '\n'
  }
}

/** Parses the checkpoint; a damaged file yields no entries (the log then relearns epochs). */
function parseCheckpoint(text: string | null): EpochEntry[] {
  if (text === null) return []
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  if (lines.length < 2 || lines[0].trim() !== String(CHECKPOINT_VERSION)) return []
  const count = Number(lines[1])
  if (!Number.isInteger(count) || count !== lines.length - 2) return []
  const entries: EpochEntry[] = []
  for (const line of lines.slice(2)) {
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line)
    if (m === null) return []
    const entry = { epoch: Number(m[1]), startOffset: Number(m[2]) }
    const prev = entries[entries.length - 1]
    if (prev !== undefined && (entry.epoch <= prev.epoch || entry.startOffset < prev.startOffset)) return []
    entries.push(entry)
  }
  return entries
}
