import { describe, expect, it } from 'vitest'
import { ActorCell, ReplyHandle } from '../../src/runtime/actor.js'

describe('actor mailbox', () => {
  it('handles queued messages whose handlers return synchronously back to back, without a microtask hop between them', async () => {
    const events: string[] = []
    const cell = new ActorCell({ shard: 0, id: 'sync' }, 16, () => {})
    cell.start({
      receive(message, _payload, reply) {
        events.push(`handle ${String(message)}`)
        // What a produce does after its append: its answer goes out in a later microtask.
        queueMicrotask(() => events.push(`after ${String(message)}`))
        reply.ok(null)
      },
    })
    const replies = [1, 2, 3].map((n) => new Promise((resolve) => cell.deliver(n, undefined, new ReplyHandle(resolve))))
    await Promise.all(replies)
    expect(events.slice(0, 3)).toEqual(['handle 1', 'handle 2', 'handle 3'])
  })

  it('still waits for a handler that returns a promise before it starts the next message', async () => {
    const events: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let firstStarted!: () => void
    const started = new Promise<void>((resolve) => (firstStarted = resolve))
    const cell = new ActorCell({ shard: 0, id: 'async' }, 16, () => {})
    cell.start({
      async receive(message, _payload, reply) {
        events.push(`start ${String(message)}`)
        if (message === 1) {
          firstStarted()
          await gate
        }
        events.push(`end ${String(message)}`)
        reply.ok(null)
      },
    })
    const replies = [1, 2].map((n) => new Promise((resolve) => cell.deliver(n, undefined, new ReplyHandle(resolve))))
    await started
    // The second message is queued behind the first, whose handler has not settled.
    await new Promise((resolve) => setImmediate(resolve))
    expect(events).toEqual(['start 1'])
    release()
    await Promise.all(replies)
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2'])
  })

  it('answers a handler that throws synchronously with its error and goes on with the next message', async () => {
    const cell = new ActorCell({ shard: 0, id: 'throws' }, 16, () => {})
    cell.start({
      receive(message, _payload, reply) {
        if (message === 'bad') throw new Error('refused')
        reply.ok(message)
      },
    })
    const outcomes: unknown[] = []
    const bad = new Promise((resolve) => cell.deliver('bad', undefined, new ReplyHandle((outcome) => resolve(outcomes.push(outcome)))))
    const good = new Promise((resolve) => cell.deliver('good', undefined, new ReplyHandle((outcome) => resolve(outcomes.push(outcome)))))
    await Promise.all([bad, good])
    expect(outcomes).toMatchObject([{ ok: false, error: { message: 'refused' } }, { ok: true, message: 'good' }])
  })
})
