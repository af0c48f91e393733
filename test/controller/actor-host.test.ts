import { describe, expect, it } from 'vitest'
import { timeoutFor } from '../../src/controller/actor-host.js'
import { TIMER_DELAY_MS_MAX } from '../../src/common/timers.js'

describe('the runtime timeout of a partition request from the main thread', () => {
  it('adds the slack to a fetch or produce wait and stays within what a timer holds at the ends of int32', () => {
    expect(timeoutFor({ op: 'fetch', maxWaitMs: 500 })).toBe(30_500)
    expect(timeoutFor({ op: 'produce', timeoutMs: 1_000 })).toBe(31_000)
    for (const waitMs of [-(2 ** 31), -1, 0]) {
      expect(timeoutFor({ op: 'fetch', maxWaitMs: waitMs })).toBe(30_000)
      expect(timeoutFor({ op: 'produce', timeoutMs: waitMs })).toBe(30_000)
    }
    expect(timeoutFor({ op: 'fetch', maxWaitMs: 2 ** 31 - 1 })).toBe(TIMER_DELAY_MS_MAX)
    expect(timeoutFor({ op: 'produce', timeoutMs: 2 ** 31 - 1 })).toBe(TIMER_DELAY_MS_MAX)
    expect(timeoutFor({ op: 'listOffsets', timestamp: -1 })).toBe(30_000)
  })
})
