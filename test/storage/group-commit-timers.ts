import type { GroupCommitTimers } from '../../src/storage/group-commit.js'

/** Timers the test runs by hand: `schedule` on the next turn as in production, `delay` only when fired. */
export class HandTimers implements GroupCommitTimers {
  readonly delays: { run: () => void; delayMs: number; cancelled: boolean }[] = []
  schedule(run: () => void): void {
    setImmediate(run)
  }
  delay(run: () => void, delayMs: number): () => void {
    const entry = { run, delayMs, cancelled: false }
    this.delays.push(entry)
    return () => {
      entry.cancelled = true
    }
  }
  /** The armed (not cancelled, not fired) delays. */
  armed(): { run: () => void; delayMs: number; cancelled: boolean }[] {
    return this.delays.filter((d) => !d.cancelled)
  }
  fireAll(): void {
    const armed = this.armed()
    for (const d of armed) d.cancelled = true
    for (const d of armed) d.run()
  }
}
