import { describe, expect, it } from 'vitest'
import { defaultWarmupRecords } from '../../src/cli/bench.js'

describe('partita bench warm-up', () => {
  it('warms up with as many records as the measured run by default, at most 500,000', () => {
    expect(defaultWarmupRecords(100_000)).toBe(100_000)
    expect(defaultWarmupRecords(1_000_000)).toBe(500_000)
    expect(defaultWarmupRecords(1)).toBe(1)
  })
})
