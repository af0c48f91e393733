import { describe, expect, it } from 'vitest'
import { ActorCell, ReplyHandle, type Actor } from '../../src/runtime/actor.js'

/** Holds the thread for `ms`, as a synchronous file open or write would. */
function busy(ms: number): void {
  const untilMs = performance.now() + ms
  while (performance.now() < untilMs) {
    // Busy on purpose: this stands for synchronous work in a handler.
  }
}

function cellsThatWork(count: number, workMs: number, done: () => void): ActorCell[] {
  const actor: Actor = {
    receive(_message, _payload, reply) {
      busy(workMs)
      done()
      reply.ok(null)
    },
  }
  return Array.from({ length: count }, (_, i) => {
    const cell = new ActorCell({ shard: 0, id: `a${i}` }, 4, () => {})
    cell.start(actor)
    return cell
  })
}

describe('actor turns', () => {
  it('lets a timer run while one fan-out to many actors is still being handled', async () => {
    const count = 400
    let handled = 0
    let handledWhenTimerRan = -1
    const cells = cellsThatWork(count, 1, () => handled++)
    const allHandled = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (handled === count) {
          clearInterval(check)
          resolve()
        }
      }, 5)
    })
    setTimeout(() => (handledWhenTimerRan = handled), 0)
    // One synchronous fan-out, as a produce to `count` partitions makes.
    for (const cell of cells) cell.deliver('go', undefined, new ReplyHandle(() => {}))
    await allHandled
    // Without turns, the 400 ms of handlers run as one batch of microtasks before any timer.
    expect(handledWhenTimerRan).toBeGreaterThanOrEqual(0)
    expect(handledWhenTimerRan).toBeLessThan(count / 2)
  })

  it('keeps each mailbox in order when its drains wait for a later turn', async () => {
    const seen: number[] = []
    const cell = new ActorCell({ shard: 0, id: 'ordered' }, 1_000, () => {})
    cell.start({
      receive(message, _payload, reply) {
        busy(0.2)
        seen.push(message as number)
        reply.ok(null)
      },
    })
    // Other actors use up the turn first, so this mailbox's drain is deferred.
    for (const other of cellsThatWork(50, 1, () => {})) other.deliver('go', undefined, new ReplyHandle(() => {}))
    const replies = Array.from({ length: 200 }, (_, i) => new Promise((resolve) => cell.deliver(i, undefined, new ReplyHandle(resolve))))
    await Promise.all(replies)
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })
})
