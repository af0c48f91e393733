/**
 * Latency diagnostics, off unless PARTITA_PHASE_TRACE names a directory: each thread records how
 * long each phase of a record's way through the broker took (append to durable, group-commit
 * wait, fdatasync, high-watermark move to parked fetch answered, ...) with the monotonic time it
 * started (CLOCK_MONOTONIC, the clock librdkafka bench clients stamp records with), and the
 * event-loop delay. Every second it appends what it recorded to
 * `<dir>/phases-<pid>-<threadId>.jsonl`, one line per sample, so a slow record can be laid
 * beside what the broker was doing at the time. Off, each call site costs one null check.
 */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { threadId } from 'node:worker_threads'

/** Samples kept between two flushes; beyond it they are counted as dropped. */
const SAMPLES_MAX = 200_000
const FLUSH_INTERVAL_MS = 1000

export class PhaseTrace {
  readonly #file: string
  #lines: string[] = []
  #dropped = 0
  readonly #loop: IntervalHistogram

  constructor(dir: string) {
    this.#file = join(dir, `phases-${process.pid}-${threadId}.jsonl`)
    this.#loop = monitorEventLoopDelay({ resolution: 1 })
    this.#loop.enable()
    setInterval(() => this.flush(), FLUSH_INTERVAL_MS).unref()
  }

  /** Monotonic now in ms (CLOCK_MONOTONIC). */
  now(): number {
    return Number(process.hrtime.bigint()) / 1e6
  }

  /** One phase that started at `startMs` (from now()) and ends now. */
  since(phase: string, startMs: number): void {
    if (this.#lines.length >= SAMPLES_MAX) {
      this.#dropped++
      return
    }
    const endMs = this.now()
    this.#lines.push(`{"p":"${phase}","t":${startMs.toFixed(3)},"ms":${(endMs - startMs).toFixed(3)}}`)
  }

  flush(): void {
    const loop = this.#loop
    this.#lines.push(
      `{"p":"loop","t":${this.now().toFixed(3)},"p50":${(loop.percentile(50) / 1e6).toFixed(3)},"p99":${(loop.percentile(99) / 1e6).toFixed(3)},"max":${(loop.max / 1e6).toFixed(3)},"dropped":${this.#dropped}}`,
    )
    loop.reset()
    this.#dropped = 0
    appendFileSync(this.#file, this.#lines.join('\n') + '\n')
    this.#lines = []
  }
}

const dir = process.env.PARTITA_PHASE_TRACE
export const phaseTrace: PhaseTrace | null = dir !== undefined && dir !== '' ? new PhaseTrace(dir) : null
