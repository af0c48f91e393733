/**
 * The high watermarks of every partition a broker hosts, in one file per broker directory, as
 * Kafka keeps its `replication-offset-checkpoint`: rewritten at most every few seconds, and only
 * when one changed, instead of one file per partition per change. A broker with 20,000 partitions
 * then writes one small file every few seconds, not thousands.
 *
 * A high watermark that a crash loses goes back to the last checkpoint, which is safe: a leader
 * re-learns it from its in-sync replicas (a lone replica's is its log end), as Kafka's does after
 * a crash between two checkpoints.
 *
 * Runs on a shard thread; the shard's partitions share the book of their broker directory. The
 * file is written off that thread (libuv's pool does the write, fsync and rename), one write at a
 * time: a synchronous fsync here held the shard's event loop, and with it every produce and fetch
 * of the broker, for up to 80 ms every interval on a busy disk (strace of an e2e latency run).
 * Format (Kafka's): a version line "0", a count line, then "topic partition offset" lines.
 */
import { SILENT_LOGGER, type Logger } from '../../common/logger.js'
import path from 'node:path'
import type { Clock, TimerHandle } from '../../common/clock.js'
import { readFileIfExistsSync, writeFileAtomic } from '../../storage/checkpoint-file.js'
import type { FileHandleCache } from '../../storage/file-handle-cache.js'

export const HIGH_WATERMARKS_FILE = 'replication-offset-checkpoint'
const VERSION = 0
/** How often the book writes its file when a high watermark changed (Kafka's replica.high.watermark.checkpoint.interval.ms). */
export const HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 5_000

export interface HighWatermarkBook {
  /** The high watermark the file recorded for the partition when the book was opened, or null. */
  recorded(topic: string, partition: number): number | null
  /**
   * Reads the partition's high watermark at each checkpoint; the returned function stops that
   * (keeping the last value, or dropping it) and resolves once what it changed is written, if the
   * book writes it then.
   */
  track(topic: string, partition: number, read: () => number): (forget: boolean) => Promise<void>
}

/** A book kept only in memory: for replicas that need no durable checkpoint (tests, tools). */
export class MemoryHighWatermarkBook implements HighWatermarkBook {
  readonly #values = new Map<string, number>()
  readonly #readers = new Map<string, () => number>()

  recorded(topic: string, partition: number): number | null {
    const key = keyOf(topic, partition)
    const reader = this.#readers.get(key)
    return reader !== undefined ? reader() : (this.#values.get(key) ?? null)
  }

  track(topic: string, partition: number, read: () => number): (forget: boolean) => Promise<void> {
    const key = keyOf(topic, partition)
    this.#readers.set(key, read)
    return (forget) => {
      if (this.#readers.get(key) !== read) return Promise.resolve()
      this.#readers.delete(key)
      if (forget) this.#values.delete(key)
      else this.#values.set(key, read())
      return Promise.resolve()
    }
  }
}

/** One broker directory's file, written by a timer on the shard that hosts its partitions. */
export class FileHighWatermarkBook implements HighWatermarkBook {
  readonly #file: string
  readonly #clock: Clock
  readonly #files: FileHandleCache | undefined
  /** What the file holds (or will, at the next write) for partitions not tracked now. */
  readonly #settled = new Map<string, number>()
  readonly #readers = new Map<string, () => number>()
  #written = ''
  #timer: TimerHandle | null = null
  /** The write in flight, if any: writes never overlap (they share the temp file). */
  #writing: Promise<void> | null = null
  readonly #log: Pick<Logger, 'warn'>

  constructor(brokerDir: string, clock: Clock, files?: FileHandleCache, log: Pick<Logger, 'warn'> = SILENT_LOGGER) {
    this.#file = path.join(brokerDir, HIGH_WATERMARKS_FILE)
    this.#log = log
    this.#clock = clock
    this.#files = files
    for (const [key, offset] of parse(readFileIfExistsSync(this.#file, files))) this.#settled.set(key, offset)
  }

  recorded(topic: string, partition: number): number | null {
    return this.#settled.get(keyOf(topic, partition)) ?? null
  }

  track(topic: string, partition: number, read: () => number): (forget: boolean) => Promise<void> {
    const key = keyOf(topic, partition)
    this.#readers.set(key, read)
    this.#arm()
    return (forget) => {
      if (this.#readers.get(key) !== read) return Promise.resolve()
      this.#readers.delete(key)
      if (forget) this.#settled.delete(key)
      else this.#settled.set(key, read())
      // A closing shard closes every replica in one go: one write, after the last of them, before
      // the shard may exit. A single partition closing (a deletion, a move) waits for the next
      // interval's write like any change: writing the whole book per close made a shutdown of
      // 25,000 partitions write it 25,000 times.
      if (this.#readers.size > 0) {
        this.#arm()
        return Promise.resolve()
      }
      if (this.#timer !== null) this.#clock.clearTimeout(this.#timer)
      this.#timer = null
      return this.write()
    }
  }

  /**
   * Writes the file if any high watermark changed since the last write, after the write in flight
   * (if any): the values are read when this write starts, so the last write holds the newest.
   * Never rejects: a failed write is retried at the next interval; only its high watermarks age.
   */
  write(): Promise<void> {
    const previous = this.#writing ?? Promise.resolve()
    const writing = previous.then(async () => {
      for (const [key, read] of this.#readers) this.#settled.set(key, read())
      const lines = [...this.#settled].map(([key, offset]) => `${key.replace('\0', ' ')} ${offset}`)
      const text = `${VERSION}\n${lines.length}\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}`
      if (text === this.#written) return
      try {
        await writeFileAtomic(this.#file, text, true, this.#files)
        this.#written = text
      } catch (error) {
        this.#log.warn(`writing ${this.#file} failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    })
    this.#writing = writing
    void writing.finally(() => {
      if (this.#writing === writing) this.#writing = null
    })
    return writing
  }

  /** Resolves once no write is in flight (what the last interval or close started is on disk). */
  async idle(): Promise<void> {
    // Bounded: each write in flight ends, and one started meanwhile is awaited in turn.
    while (this.#writing !== null) await this.#writing
  }

  #arm(): void {
    if (this.#timer !== null) return
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null
      // A write still in flight after a whole interval (a stalled disk) is not queued behind: one
      // write at a time is the bound, and the next interval tries again.
      const next = this.#writing === null ? this.write() : Promise.resolve()
      void next.finally(() => {
        if (this.#readers.size > 0) this.#arm()
      })
    }, HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\0${partition}`
}

/** Kafka's checkpoint lines; anything unreadable reads as no entries (every partition then re-learns its HW). */
function parse(text: string | null): Map<string, number> {
  const out = new Map<string, number>()
  if (text === null) return out
  const lines = text.split('\n').filter((l) => l !== '')
  if (lines[0] !== String(VERSION) || Number(lines[1]) !== lines.length - 2) return out
  for (const line of lines.slice(2)) {
    const match = /^(\S+) (\d+) (\d+)$/.exec(line)
    if (match === null) return new Map()
    out.set(keyOf(match[1], Number(match[2])), Number(match[3]))
  }
  return out
}
