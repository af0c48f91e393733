/**
 * Two partition actors, a leader and its follower, wired to each other in one thread by a router
 * that plays the shards' rings: what the follower sends its leader, and how.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PartitionActor, type PartitionActorContext } from '../../src/actors/partition-actor.js'
import type { OpenPartition, PartitionRequest } from '../../src/actors/partition-messages.js'
import type { ProduceResult } from '../../src/actors/partition/replica-types.js'
import { SystemClock } from '../../src/common/clock.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { SILENT_LOGGER } from '../../src/common/logger.js'
import { DEFAULT_LOG_CONFIG } from '../../src/storage/log-config.js'
import { batch, removeDir, tempDir } from './partition/replica-harness.js'

/** A message one actor sent another through its context, and whether it expected an answer. */
interface Sent {
  from: number
  op: string
  way: 'request' | 'tell'
}

/** Actors by "shard" (their broker id here); each context routes to them as a shard's rings would. */
function router() {
  const actors = new Map<number, PartitionActor>()
  const sent: Sent[] = []
  const contextFor = (from: number): PartitionActorContext => ({
    clock: new SystemClock(),
    log: SILENT_LOGGER,
    emit: () => undefined,
    housekeepingIntervalMs: 60_000,
    crashOnInvariantViolation: (error) => {
      throw error
    },
    request: (shard, _id, message, payload) => {
      sent.push({ from, op: (message as PartitionRequest).op, way: 'request' })
      return new Promise((resolve, reject) => {
        // Later, never inside the sender's call, as a shard delivers what a ring brings.
        queueMicrotask(() => void actors.get(shard)!.handle(message as PartitionRequest, payload, (answer, bytes) => resolve({ message: answer, payload: bytes }), reject))
      })
    },
    tell: (shard, _id, message) => {
      sent.push({ from, op: (message as PartitionRequest).op, way: 'tell' })
      queueMicrotask(() => void actors.get(shard)!.handle(message as PartitionRequest, undefined, () => undefined, () => undefined))
    },
  })
  return { actors, sent, contextFor }
}

const dirs: string[] = []
const open: PartitionActor[] = []
afterEach(async () => {
  for (const actor of open.splice(0)) await actor.close(false)
  for (const dir of dirs.splice(0)) removeDir(dir)
})

async function openActor(route: ReturnType<typeof router>, brokerId: number, root: string): Promise<PartitionActor> {
  const init: OpenPartition = {
    topic: 't',
    partition: 0,
    dir: join(root, `broker-${brokerId}`, 't-0'),
    config: { ...DEFAULT_LOG_CONFIG, fsyncMode: 'acks-all' },
    brokerId,
    housekeepingIntervalMs: 60_000,
    openFilesMax: 64,
  }
  const actor = await PartitionActor.open(init, route.contextFor(brokerId))
  route.actors.set(brokerId, actor)
  open.push(actor)
  return actor
}

function ask(actor: PartitionActor, message: PartitionRequest, payload?: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => void actor.handle(message, payload, resolve, reject))
}

describe('a follower partition actor', () => {
  it('tells its leader one way, with no answer awaited, that its copy reached the disk, and acks=all is answered after it', async () => {
    const root = tempDir()
    dirs.push(root)
    const route = router()
    const leader = await openActor(route, 0, root)
    const follower = await openActor(route, 1, root)
    await ask(leader, { op: 'becomeLeader', leaderEpoch: 0, replicas: [0, 1], isr: [0, 1] })
    await ask(follower, { op: 'becomeFollower', leaderId: 0, leaderEpoch: 0, leaderShard: 0, leaderActorId: 't/0' })

    const answer = (await ask(leader, { op: 'produce', acks: -1, timeoutMs: 10_000 }, batch('r', 3))) as ProduceResult

    expect(answer).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    const reports = route.sent.filter((m) => m.op === 'followerSynced')
    expect(reports.length).toBeGreaterThan(0)
    expect(reports.every((m) => m.from === 1 && m.way === 'tell')).toBe(true)
    // The follower's fetches still wait for their answers.
    expect(route.sent.some((m) => m.op === 'fetch' && m.way === 'request')).toBe(true)
  })
})
