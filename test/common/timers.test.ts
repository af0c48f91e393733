import { describe, expect, it } from 'vitest'
import { ManualClock, SystemClock } from '../../src/common/clock.js'
import { assertTimerDelay, TIMER_DELAY_MS_MAX, timerDelayMs } from '../../src/common/timers.js'

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

describe('timer delays', () => {
  it('clamps any int32 (and beyond) into what a timer holds', () => {
    expect(TIMER_DELAY_MS_MAX).toBe(INT32_MAX)
    expect(timerDelayMs(INT32_MIN)).toBe(0)
    expect(timerDelayMs(-1)).toBe(0)
    expect(timerDelayMs(0)).toBe(0)
    expect(timerDelayMs(1)).toBe(1)
    expect(timerDelayMs(INT32_MAX)).toBe(INT32_MAX)
    expect(timerDelayMs(INT32_MAX + 30_000)).toBe(INT32_MAX)
    expect(timerDelayMs(Number.POSITIVE_INFINITY)).toBe(INT32_MAX)
  })

  it('refuses NaN, which no clamp can give a meaning', () => {
    expect(() => timerDelayMs(Number.NaN)).toThrow(/timer delay/)
  })

  it('asserts the range at the timer, so an unclamped delay is a loud broker fault', () => {
    expect(() => assertTimerDelay(0)).not.toThrow()
    expect(() => assertTimerDelay(INT32_MAX)).not.toThrow()
    for (const delayMs of [-1, INT32_MAX + 1, Number.NaN]) {
      expect(() => assertTimerDelay(delayMs)).toThrow(/PARTITA_ASSERTION|assertion failed/)
    }
  })

  it('makes both clocks refuse a delay Node would silently turn into 1 ms', () => {
    for (const clock of [new ManualClock(), new SystemClock()]) {
      expect(() => clock.setTimeout(() => {}, INT32_MAX + 30_000)).toThrow(/assertion failed/)
      expect(() => clock.setTimeout(() => {}, -1)).toThrow(/assertion failed/)
      clock.clearTimeout(clock.setTimeout(() => {}, INT32_MAX))
    }
  })

  it('jumps a manual clock past its timers without firing them, and the next advance fires them late', () => {
    const clock = new ManualClock(0)
    const firedAtMs: number[] = []
    clock.setTimeout(() => firedAtMs.push(clock.nowMs()), 1_000)
    clock.jump(5_000)
    expect(firedAtMs).toEqual([])
    clock.advance(0)
    expect(firedAtMs).toEqual([5_000])
  })

  it('fires a manual timer of the longest delay at exactly that delay', () => {
    const clock = new ManualClock()
    let fired = false
    clock.setTimeout(() => (fired = true), INT32_MAX)
    clock.advance(INT32_MAX - 1)
    expect(fired).toBe(false)
    clock.advance(1)
    expect(fired).toBe(true)
  })
})
