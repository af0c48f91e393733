import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../../src/bench/latency-histogram.js'

/** The exact percentile of sorted samples, by the nearest-rank rule the histogram follows. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]
}

describe('LatencyHistogram', () => {
  it('gives every percentile within 1% of the exact one (or 1 µs), never above the max', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 60_000, noNaN: true }), { minLength: 1, maxLength: 500 }), fc.constantFrom(0, 50, 90, 99, 99.9, 100), (samples, p) => {
        const h = new LatencyHistogram()
        for (const s of samples) h.record(s)
        const want = exact([...samples].sort((a, b) => a - b), p)
        const got = h.percentileMs(p)
        expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.max(want * 0.0101, 0.001))
        expect(got).toBeLessThanOrEqual(h.maxMs)
      }),
    )
  })

  it('adds another histogram as if its samples were recorded here', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    const both = new LatencyHistogram()
    for (let i = 1; i <= 100; i++) {
      ;(i % 2 === 0 ? a : b).record(i, 2)
      both.record(i, 2)
    }
    a.add(b)
    expect([a.count, a.meanMs, a.maxMs, a.percentileMs(99)]).toEqual([both.count, both.meanMs, both.maxMs, both.percentileMs(99)])
    expect(a.count).toBe(200)
    expect(a.meanMs).toBeCloseTo(50.5, 10)
  })
})
