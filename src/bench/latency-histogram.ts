/**
 * Latencies for the benchmark harness: log-bucketed at 1% relative precision from 1 µs to about
 * 17 minutes (HdrHistogram's idea in a few lines), so percentiles of millions of samples cost a
 * fixed 2,100 counters, and two histograms add up (per-producer into the total).
 */
import { assert } from '../common/assert.js'

const GROWTH = 1.01
const LOG_GROWTH = Math.log(GROWTH)
const MIN_US = 1
/** ceil(log(1e9 µs) / log(1.01)): about 17 minutes. */
const BUCKETS = 2_083

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS + 1)
  #count = 0
  #sumMs = 0
  #maxMs = 0

  get count(): number {
    return this.#count
  }

  get maxMs(): number {
    return this.#maxMs
  }

  get meanMs(): number {
    return this.#count === 0 ? 0 : this.#sumMs / this.#count
  }

  /** Records `times` samples of `ms` (negative clock skew counts as 0). */
  record(ms: number, times = 1): void {
    const value = Math.max(0, ms)
    this.#counts[bucketOf(value)] += times
    this.#count += times
    this.#sumMs += value * times
    if (value > this.#maxMs) this.#maxMs = value
  }

  add(other: LatencyHistogram): void {
    for (let i = 0; i < this.#counts.length; i++) this.#counts[i] += other.#counts[i]
    this.#count += other.#count
    this.#sumMs += other.#sumMs
    this.#maxMs = Math.max(this.#maxMs, other.#maxMs)
  }

  /** The latency at or below which `p` percent of samples fall (the bucket's upper edge, capped at the max). */
  percentileMs(p: number): number {
    assert(p >= 0 && p <= 100, `percentile ${p} is within 0..100`)
    if (this.#count === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count))
    let seen = 0
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]
      if (seen >= rank) return Math.min(upperEdgeMs(i), this.#maxMs)
    }
    return this.#maxMs
  }

  reset(): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#sumMs = 0
    this.#maxMs = 0
  }
}

function bucketOf(ms: number): number {
  const us = ms * 1000
  if (us <= MIN_US) return 0
  return Math.min(BUCKETS, Math.ceil(Math.log(us / MIN_US) / LOG_GROWTH))
}

function upperEdgeMs(bucket: number): number {
  return (MIN_US * GROWTH ** bucket) / 1000
}
