/**
 * The runtime's shard pool, seen as the supervisor's ActorHost: one shard per broker, the actor
 * modules (broker node, partition) loaded on every shard, requests from the shards answered by
 * the controller, and worker deaths (exit, crash, silence) reported as "shard down" so the
 * supervisor fails over.
 */
import type { ActorHost } from './supervisor.js'
import { isLogEvent, type LogEvent } from '../common/logger.js'
import type { PartitionEvent, PartitionRequest } from '../actors/partition-messages.js'
import { ShardPool, type MainRequestHandler, type RingOccupancy } from '../runtime/shard-pool.js'
import type { BrokerConfig } from '../metadata/broker-config.js'
import { TIMER_DELAY_MS_MAX } from '../common/timers.js'

export interface RuntimeActorHost extends ActorHost {
  /** Each shard's OS thread id, and the main thread's, for per-thread CPU figures. */
  threadIds(): { main: number; shards: number[] }
  /** Writes a heap snapshot of each shard into a directory; returns the files. */
  writeHeapSnapshots(dir: string): Promise<string[]>
  /** Bytes waiting in the rings into and out of each shard, for metrics. */
  ringOccupancy(): RingOccupancy[]
  /** Stops the heartbeat watch before a shutdown flushes every shard. */
  quiesce(): void
  stop(): Promise<void>
}

export interface ActorHostHandlers {
  /** Actor kind to its compiled module. */
  actorModules: Record<string, string | URL>
  onEvent(event: PartitionEvent): void
  /** A line a shard logged (its broker node, partitions, connections). */
  onLog(shard: number, event: LogEvent): void
  /** Answers the requests the shards send to the main thread (the controller's). */
  onRequest: MainRequestHandler
  onShardDown(shard: number): void
  /** Why a shard died on its own (a crash or a silence), for the log; kills asked for are not reported. */
  onShardFailure(shard: number, reason: string): void
}

/** How long a shard may be silent before it is taken for dead and restarted. */
const SILENCE_BEFORE_DEATH_MS = 5_000

/** Slack on top of a request's own wait, so a long-poll or an acks=-1 wait answers before the runtime gives up. */
const REQUEST_SLACK_MS = 30_000

/**
 * The runtime's timeout for a partition request: the partition's own wait (0 or below: none) plus
 * the slack, cut to what a timer holds. An int32 wait plus the slack used to pass 2^31-1 ms, which
 * Node turns into 1 ms; the runtime's timer now asserts the range, so this must stay within it.
 */
export function timeoutFor(message: unknown): number {
  const request = message as PartitionRequest
  const waitMs = request.op === 'fetch' ? request.maxWaitMs : request.op === 'produce' ? request.timeoutMs : 0
  return Math.min(TIMER_DELAY_MS_MAX, Math.max(0, waitMs) + REQUEST_SLACK_MS)
}

export async function startActorHost(config: BrokerConfig, handlers: ActorHostHandlers): Promise<RuntimeActorHost> {
  const pool = await ShardPool.start({
    actorModules: handlers.actorModules,
    shards: config.brokers,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    oldGenerationSizeMb: config.heapMaxMb,
    youngGenerationSizeMb: config.heapYoungMaxMb,
    // Silence is judged over several seconds: a shard that is merely slow (a loaded machine, a long
    // GC) must not be declared dead and lose its partitions' leadership; a crash is seen at once.
    missedHeartbeatsMax: Math.max(3, Math.ceil(SILENCE_BEFORE_DEATH_MS / config.heartbeatIntervalMs)),
  })
  pool.onEvent((event) => (isLogEvent(event.event) ? handlers.onLog(event.from.shard, event.event) : handlers.onEvent(event.event as PartitionEvent)))
  pool.onRequest(handlers.onRequest)
  pool.onShardExit((exit) => {
    if (!exit.killed) handlers.onShardFailure(exit.shard, `exited with code ${exit.exitCode}${exit.error ? `: ${exit.error.stack ?? exit.error.message}` : ''}`)
    handlers.onShardDown(exit.shard)
  })
  pool.onShardUnresponsive((shard, silentMs) => {
    handlers.onShardFailure(shard, `missed its heartbeats for ${silentMs} ms`)
    // A silent worker is as good as dead: end it for real so it cannot write once replaced.
    void pool.killShard(shard).finally(() => handlers.onShardDown(shard))
  })
  return {
    shardCount: pool.shardCount,
    spawn: async (shard, kind, id, init) => {
      try {
        await pool.spawn(shard, kind, id, init)
      } catch (error) {
        if ((error as { code?: string }).code !== 'PARTITA_ACTOR_EXISTS') throw error
        // Partitions are spawned once per opening, so one already there is left over from a
        // topic of the same name whose replica was never stopped (its close failed, or its
        // opening did): it holds no partition the metadata still names, so it makes way.
        await pool.stopActor({ shard, id })
        await pool.spawn(shard, kind, id, init)
      }
    },
    request: async (shard, id, message, payload) => {
      try {
        return await pool.request({ shard, id }, message, payload, { timeoutMs: timeoutFor(message) })
      } finally {
        // A closed partition serves nothing more, and one whose close failed is being dropped all
        // the same: its actor goes, so the id is free for a topic created later under the same
        // name (the supervisor closes replicas but never stops their actors). Found by the fuzzer:
        // 'opening partition replicas failed for 1: DOOM_1-0 on broker 2 (actor DOOM_1/0 already
        // exists on shard 2)' after a DeleteTopics and a Produce that auto-created the name again.
        if ((message as PartitionRequest).op === 'close') await pool.stopActor({ shard, id }).catch(() => undefined)
      }
    },
    tell: (shard, id, message) => {
      pool.tell({ shard, id }, message).catch(() => undefined)
    },
    killShard: (shard) => {
      void pool.killShard(shard)
    },
    restartShard: (shard) => pool.restartShard(shard),
    threadIds: () => pool.threadIds(),
    writeHeapSnapshots: (dir) => pool.writeHeapSnapshots(dir),
    ringOccupancy: () => pool.ringOccupancy(),
    quiesce: () => pool.quiesce(),
    stop: () => pool.stop(),
  }
}
