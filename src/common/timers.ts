/**
 * The range of delays a timer can hold. Node keeps a timer's delay in a signed 32-bit count of
 * milliseconds: a larger delay is silently turned into 1 ms (with a TimeoutOverflowWarning), and a
 * negative one into 1 ms as well, so a wait a client asked to last for weeks would end at once.
 * Every delay that comes from a request passes through `timerDelayMs` before it reaches a timer,
 * and the timers themselves assert the range (an out-of-range delay there is our bug).
 */
import { assert } from './assert.js'

/** The largest delay setTimeout holds: 2^31-1 ms, about 24.8 days. */
export const TIMER_DELAY_MS_MAX = 2 ** 31 - 1

/** `ms` clamped to what a timer holds: a negative delay means "now", a huge one the longest wait. */
export function timerDelayMs(ms: number): number {
  assert(!Number.isNaN(ms), 'a timer delay must be a number')
  return Math.min(TIMER_DELAY_MS_MAX, Math.max(0, ms))
}

/** Asserts that a timer is about to get a delay it can hold. */
export function assertTimerDelay(ms: number): void {
  assert(ms >= 0 && ms <= TIMER_DELAY_MS_MAX, `timer delay ${ms} ms is outside 0-${TIMER_DELAY_MS_MAX}`)
}
