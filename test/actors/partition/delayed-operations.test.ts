import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../src/common/clock.js'
import { DelayedOperations } from '../../../src/actors/partition/delayed-operations.js'

describe('delayed operations', () => {
  it('completes a waiter when a poke finds it ready', async () => {
    const clock = new ManualClock()
    const ops = new DelayedOperations<string>(clock, 4)
    let ready = false
    const handle = ops.wait({ tryComplete: () => (ready ? 'done' : undefined), onExpire: () => 'expired', onAbort: () => 'aborted' }, 1000)!
    ops.poke()
    expect(ops.size).toBe(1)
    ready = true
    ops.poke()
    expect(ops.size).toBe(0)
    await expect(handle.promise).resolves.toBe('done')
  })

  it('answers with onExpire when the deadline passes, and not before', async () => {
    const clock = new ManualClock()
    const ops = new DelayedOperations<string>(clock, 4)
    const handle = ops.wait({ tryComplete: () => undefined, onExpire: () => 'expired', onAbort: () => 'aborted' }, 1000)!
    let settled = false
    void handle.promise.then(() => (settled = true))
    clock.advance(999)
    await Promise.resolve()
    expect(settled).toBe(false)
    clock.advance(1)
    await expect(handle.promise).resolves.toBe('expired')
    expect(ops.size).toBe(0)
  })

  it('cancels a waiter with its expiry answer and aborts all with theirs', async () => {
    const clock = new ManualClock()
    const ops = new DelayedOperations<string>(clock, 4)
    const op = { tryComplete: () => undefined, onExpire: () => 'expired', onAbort: () => 'aborted' }
    const a = ops.wait(op, 1000)!
    const b = ops.wait(op, 1000)!
    a.cancel()
    await expect(a.promise).resolves.toBe('expired')
    ops.abortAll()
    await expect(b.promise).resolves.toBe('aborted')
    // Timers were cleared: advancing past the deadline changes nothing.
    clock.advance(5000)
    expect(ops.size).toBe(0)
  })

  it('refuses a waiter beyond its capacity', () => {
    const clock = new ManualClock()
    const ops = new DelayedOperations<string>(clock, 2)
    const op = { tryComplete: () => undefined, onExpire: () => 'expired', onAbort: () => 'aborted' }
    expect(ops.wait(op, 10)).not.toBeNull()
    expect(ops.wait(op, 10)).not.toBeNull()
    expect(ops.wait(op, 10)).toBeNull()
    clock.advance(10)
    expect(ops.wait(op, 10)).not.toBeNull()
  })

  it('expires a waiter whose timeout is 0 or below on the next turn, as a purgatory past its deadline does', async () => {
    const clock = new ManualClock()
    const ops = new DelayedOperations<string>(clock, 4)
    const op = { tryComplete: () => undefined, onExpire: () => 'expired', onAbort: () => 'aborted' }
    const handles = [0, -1, -(2 ** 31)].map((timeoutMs) => ops.wait(op, timeoutMs)!)
    expect(ops.size).toBe(3)
    clock.advance(0)
    for (const handle of handles) await expect(handle.promise).resolves.toBe('expired')
    expect(ops.size).toBe(0)
  })

  it('waits as long as a timer can for a timeout beyond one, instead of expiring in 1 ms', async () => {
    const clock = new ManualClock()
    const ops = new DelayedOperations<string>(clock, 4)
    const handle = ops.wait({ tryComplete: () => undefined, onExpire: () => 'expired', onAbort: () => 'aborted' }, 2 ** 31 + 30_000)!
    let settled = false
    void handle.promise.then(() => (settled = true))
    clock.advance(2 ** 31 - 2)
    await Promise.resolve()
    expect(settled).toBe(false)
    clock.advance(1)
    await expect(handle.promise).resolves.toBe('expired')
  })
})
