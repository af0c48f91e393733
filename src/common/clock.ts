import { assertTimerDelay } from './timers.js'

/**
 * Time as every component sees it, so tests can inject a manual clock instead of sleeping.
 */
export interface Clock {
  nowMs(): number
  setTimeout(callback: () => void, delayMs: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export interface TimerHandle {
  readonly id: number
}

/** The real clock: wall time and Node's timers (unref'd so a timer never keeps a process alive). */
export class SystemClock implements Clock {
  #timers = new Map<number, NodeJS.Timeout>()
  #nextId = 1

  nowMs(): number {
    return Date.now()
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    assertTimerDelay(delayMs)
    const id = this.#nextId++
    const timer = setTimeout(() => {
      this.#timers.delete(id)
      callback()
    }, delayMs)
    timer.unref()
    this.#timers.set(id, timer)
    return { id }
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle.id)
    if (timer !== undefined) clearTimeout(timer)
    this.#timers.delete(handle.id)
  }
}

/** A clock that moves only when told: `advance(ms)` fires due timers in time order. */
export class ManualClock implements Clock {
  #nowMs: number
  #timers = new Map<number, { dueMs: number; callback: () => void }>()
  #nextId = 1

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs
  }

  nowMs(): number {
    return this.#nowMs
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    // The same check as the real clock's, so a test catches a delay no real timer could hold.
    assertTimerDelay(delayMs)
    const id = this.#nextId++
    this.#timers.set(id, { dueMs: this.#nowMs + delayMs, callback })
    return { id }
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle.id)
  }

  /** Moves time forward, firing each due timer at its own due time, earliest first. */
  advance(deltaMs: number): void {
    const targetMs = this.#nowMs + deltaMs
    // Bounded: each pass fires at least one timer or stops; a timer may schedule more timers.
    for (let fired = 0; fired < 1_000_000; fired++) {
      let nextId = -1
      let nextDueMs = Infinity
      for (const [id, timer] of this.#timers) {
        if (timer.dueMs <= targetMs && timer.dueMs < nextDueMs) {
          nextId = id
          nextDueMs = timer.dueMs
        }
      }
      if (nextId === -1) break
      const timer = this.#timers.get(nextId)!
      this.#timers.delete(nextId)
      this.#nowMs = Math.max(this.#nowMs, timer.dueMs)
      timer.callback()
    }
    this.#nowMs = targetMs
  }

  /**
   * Moves time forward without firing anything: a process resuming from a freeze (SIGSTOP), whose
   * overdue timers have not run yet when its first I/O is handled. A later advance fires them.
   */
  jump(deltaMs: number): void {
    this.#nowMs += deltaMs
  }
}
