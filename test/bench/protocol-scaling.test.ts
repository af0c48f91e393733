/**
 * The scaling figure of bench:protocol: each alternated pair's ratio, and the median that the
 * target is judged on, so one pair run while the shared box was busy does not decide it.
 */
import { describe, expect, it } from 'vitest'
import { median, scalingRatios } from '../../bench/protocol/report.js'
import type { PhaseFigures, ScalingPair } from '../../bench/protocol/run.js'

/** Only what a rate is computed from: records over seconds. */
function phase(recordsPerSecond: number): PhaseFigures {
  return { records: recordsPerSecond, seconds: 1 } as PhaseFigures
}

function pair(one: number, two: number): ScalingPair {
  return { one: phase(one), two: phase(two) }
}

describe('bench:protocol scaling', () => {
  it('gives each pair the rate of two brokers over the rate of one', () => {
    expect(scalingRatios([pair(2, 3), pair(4, 7)])).toEqual([1.5, 1.75])
  })

  it('judges on the median pair, so one outlying pair moves nothing', () => {
    expect(median(scalingRatios([pair(3.79, 4.39), pair(1.95, 3.4), pair(3.69, 5.01)]))).toBeCloseTo(5.01 / 3.69, 10)
  })

  it('takes the mean of the middle two for an even count, whatever the order', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([7])).toBe(7)
  })

  it('refuses the median of nothing', () => {
    expect(() => median([])).toThrow(/no values/)
  })
})
