import { describe, expect, it } from 'vitest'
import { consumerLine, producerFinalLine, producerWindowLine } from '../../src/bench/perf-output.js'

describe("Kafka's perf-tool lines", () => {
  it("prints kafka-producer-perf-test's periodic line as its printf does", () => {
    // 100 000 records of 100 B in 5 s, 4 200 ms of latency in total: Java's "%.1f ... (%.2f MB/sec), %.1f ... %.1f".
    expect(producerWindowLine({ records: 100_000, bytes: 10_000_000, elapsedMs: 5_000, latencyTotalMs: 420_000, latencyMaxMs: 37 })).toBe(
      '100000 records sent, 20000.0 records/sec (1.91 MB/sec), 4.2 ms avg latency, 37.0 ms max latency.',
    )
  })

  it("prints kafka-producer-perf-test's final line with %f rates and whole-millisecond percentiles", () => {
    expect(producerFinalLine({ records: 1_000_000, bytes: 100_000_000, elapsedMs: 12_345, avgMs: 3.456, maxMs: 250.5, p50Ms: 2.9, p95Ms: 7.99, p99Ms: 12.2, p999Ms: 180.7 })).toBe(
      '1000000 records sent, 81004.455245 records/sec (7.73 MB/sec), 3.46 ms avg latency, 250.50 ms max latency, 2 ms 50th, 7 ms 95th, 12 ms 99th, 180 ms 99.9th.',
    )
  })

  it("prints kafka-consumer-perf-test's result line with its date format and four decimals", () => {
    const start = new Date(2026, 0, 2, 3, 4, 5, 6).getTime()
    expect(consumerLine({ startMs: start, endMs: start + 2_000, bytes: 2 * 1024 * 1024, records: 20_000, rebalanceMs: 0 })).toBe(
      '2026-01-02 03:04:05:006, 2026-01-02 03:04:07:006, 2.0000, 1.0000, 20000, 10000.0000, 0, 2000, 1.0000, 10000.0000',
    )
  })
})
