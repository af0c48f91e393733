/**
 * Tests of src/bench/run.ts, the workload loop every system runs, against a driver in memory.
 */
import { describe, expect, it } from 'vitest'
import type { BenchDriver, BenchProducer } from '../../src/bench/driver.js'
import { runWorkload, type WorkloadSettings } from '../../src/bench/run.js'

/** A system that acknowledges every send at once, after `busyMicros` of synchronous work each. */
function memoryDriver(busyMicros: number, counts: number[]): BenchDriver {
  const producer: BenchProducer = {
    send: (_partition, count) => {
      counts.push(count)
      const untilMs = performance.now() + busyMicros / 1000
      while (performance.now() < untilMs) {
        // As a client encoding and writing its request: records fall due meanwhile.
      }
      return Promise.resolve()
    },
    close: () => Promise.resolve(),
  }
  return {
    system: 'memory',
    flushMode: 'none',
    driven: 'in memory',
    server: null,
    setup: () => Promise.resolve(),
    producer: () => Promise.resolve(producer),
    consumer: () => Promise.reject(new Error('no consumers in this test')),
    teardown: () => Promise.resolve(),
  }
}

const settings: WorkloadSettings = {
  mode: 'produce',
  records: 2_000,
  recordSize: 100,
  partitions: 4,
  acks: 1,
  throughput: 20_000,
  producers: 1,
  consumers: 0,
  batchBytes: 16_384,
  inFlight: 5,
  reportIntervalMs: 60_000,
  idleTimeoutMs: 1_000,
  warmupRecords: 0,
}

describe('the paced producer loop', () => {
  it('sends the records that fell due while a batch was sent with the next turn, not as a send of their own', async () => {
    const counts: number[] = []
    // 300 µs per send at 20,000 records/s: six records fall due during each.
    const result = await runWorkload(memoryDriver(300, counts), settings, () => {})
    expect(result.published).toBe(2_000)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2_000)
    // Turns of the timer are at least 1 ms apart, so a send carries 20 records or more, but for the
    // first (one record due at the start) and what is left after a full batch. Sent at once, the
    // six that fell due during each send made a stream of six-record sends.
    const median = [...counts].sort((a, b) => a - b)[Math.floor(counts.length / 2)]
    expect(median).toBeGreaterThanOrEqual(15)
  })

  it('still sends full batches back to back when more than a batch is due', async () => {
    const counts: number[] = []
    // 1,000 records of 1,000 bytes at 1,000,000 records/s: far more than a batch (16) is due each turn.
    await runWorkload(memoryDriver(0, counts), { ...settings, records: 1_000, recordSize: 1_000, throughput: 1_000_000 }, () => {})
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1_000)
    expect(counts.filter((count) => count === 16).length).toBeGreaterThanOrEqual(50)
  })
})
