/**
 * A small actor for the runtime's tests and benchmark (compiled to dist/ so shards can load it):
 * echoes, counts, fails on request, forwards to other actors, parks replies, and can be slow.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { fetchReadBuffers } from '../../common/buffer-pool.js'
import { resourceLimits } from 'node:worker_threads'
import { KafkaError, PartitaError } from '../../common/errors.js'
import { sharedCpuPool } from '../cpu-pool.js'
import type { Actor, ActorAddress, ActorContext, Reply } from '../actor.js'

export type EchoMessage =
  | { op: 'echo'; value?: unknown }
  | { op: 'count' }
  | { op: 'fail'; errorCode?: number; code?: `PARTITA_${string}`; message: string }
  | { op: 'forward'; to: ActorAddress; value?: unknown; message?: EchoMessage; lendReplyPayload?: boolean }
  | { op: 'forwardMany'; to: ActorAddress; count: number }
  | { op: 'tell'; to: ActorAddress; value: unknown }
  | { op: 'record'; value: unknown }
  | { op: 'log' }
  | { op: 'park' }
  | { op: 'release'; value: unknown }
  | { op: 'sleep'; ms: number }
  | { op: 'block'; ms: number }
  | { op: 'emit'; value: unknown }
  | { op: 'lendRead'; bytes: number; fill: number }
  | { op: 'readPoolRetained' }
  | { op: 'resourceLimits' }
  | { op: 'cpuPoolThreadsMax' }

export interface EchoInit {
  name?: string
  /** When set, creation fails with this message. */
  failToStart?: string
}

export function createActor(init: EchoInit | undefined, context: ActorContext): Actor {
  if (init?.failToStart !== undefined) throw new PartitaError('PARTITA_TEST_START', init.failToStart)
  let count = 0
  const log: unknown[] = []
  const parked: Reply[] = []
  return {
    async receive(raw: unknown, payload: Buffer | undefined, reply: Reply): Promise<void> {
      const message = raw as EchoMessage
      switch (message.op) {
        case 'echo':
          reply.ok({ value: message.value, name: init?.name, at: context.address }, payload)
          return
        case 'resourceLimits':
          reply.ok({ ...resourceLimits })
          return
        case 'cpuPoolThreadsMax':
          reply.ok({ threadsMax: sharedCpuPool().threadsMax })
          return
        case 'count':
          count++
          reply.ok({ count })
          return
        case 'fail':
          if (message.errorCode !== undefined) throw new KafkaError(message.errorCode, message.message)
          throw new PartitaError(message.code ?? 'PARTITA_TEST', message.message)
        case 'forward': {
          const answer = await context.request(message.to, message.message ?? { op: 'echo', value: message.value }, payload, {
            replyPayloadPool: message.lendReplyPayload === true ? fetchReadBuffers : undefined,
          })
          const lent = answer.payload !== undefined && fetchReadBuffers.isLent(answer.payload)
          reply.ok({ forwarded: answer.message, lent }, answer.payload)
          return
        }
        case 'forwardMany': {
          const answers = await Promise.all(Array.from({ length: message.count }, () => context.request(message.to, { op: 'echo' }, payload)))
          reply.ok({ forwarded: answers.length })
          return
        }
        case 'tell':
          context.send(message.to, { op: 'record', value: message.value }, payload)
          reply.ok(null)
          return
        case 'record':
          log.push(message.value)
          return
        case 'log':
          reply.ok(log)
          return
        case 'park':
          // Answered later by 'release': the mailbox moves on meanwhile.
          parked.push(reply)
          return
        case 'release':
          for (const waiting of parked.splice(0)) waiting.ok({ released: message.value })
          reply.ok(null)
          return
        case 'sleep':
          // Tells the test the mailbox is now busy, so it need not guess with a delay.
          context.emit({ sleeping: message.ms })
          await sleep(message.ms)
          reply.ok(null)
          return
        case 'block': {
          const untilMs = Date.now() + message.ms
          while (Date.now() < untilMs) {
            // Holds the thread on purpose: heartbeats stop while it runs.
          }
          reply.ok(null)
          return
        }
        case 'emit':
          context.emit({ value: message.value }, payload)
          reply.ok(null)
          return
        case 'lendRead': {
          // Answers with a buffer lent from this thread's fetch read pool, as a partition's read does.
          const read = fetchReadBuffers.take(message.bytes)
          read.fill(message.fill)
          reply.ok(null, read)
          return
        }
        case 'readPoolRetained':
          reply.ok({ retainedBytes: fetchReadBuffers.retainedBytes })
          return
        default:
          throw new PartitaError('PARTITA_TEST', `unknown op ${(message as { op: string }).op}`)
      }
    },
  }
}
