/**
 * The fixed bucket bounds of request latency histograms, in seconds. Fixed (not per-metric) so a
 * shard counts with one array increment and the main thread can add shards' counts bucket by
 * bucket. The range covers a cached produce (~100 µs) up to a parked fetch (maxWaitMs, seconds).
 */
export const LATENCY_BUCKET_BOUNDS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** The bucket a duration falls in: the first bound it does not exceed, or the overflow (+Inf) slot. */
export function latencyBucketOf(seconds: number): number {
  const bounds = LATENCY_BUCKET_BOUNDS_SECONDS
  // Bounded by the bounds' length (16).
  for (let i = 0; i < bounds.length; i++) if (seconds <= bounds[i]) return i
  return bounds.length
}
