/**
 * The runtime's shard pool, seen as the supervisor's ActorHost: one shard set per logical broker,
 * the partition actor module loaded on every shard, and worker deaths (exit, crash, silence)
 * reported as "shard down" so the supervisor fails over.
 */
import type { ActorHost } from '../actors/supervisor.js'
import { PARTITION_ACTOR_KIND } from '../actors/supervisor.js'
import type { PartitionEvent, PartitionRequest } from '../actors/partition-messages.js'
import { compiledUrl } from '../runtime/compiled-url.js'
import { ShardPool } from '../runtime/shard-pool.js'
import type { BrokerConfig } from './broker-config.js'

export interface RuntimeActorHost extends ActorHost {
  /** Each shard worker's OS thread id by shard index (null while down, or off Linux). */
  threadIds(): (number | null)[]
  stop(): Promise<void>
}

export interface ActorHostHandlers {
  onEvent(event: PartitionEvent): void
  onShardDown(shard: number): void
  /** Why a shard died on its own (a crash or a silence), for the log; kills asked for are not reported. */
  onShardFailure(shard: number, reason: string): void
}

/** Slack on top of a request's own wait, so a long-poll or an acks=-1 wait answers before the runtime gives up. */
const REQUEST_SLACK_MS = 30_000

function timeoutFor(message: unknown): number {
  const request = message as PartitionRequest
  if (request.op === 'fetch') return request.maxWaitMs + REQUEST_SLACK_MS
  if (request.op === 'produce') return request.timeoutMs + REQUEST_SLACK_MS
  return REQUEST_SLACK_MS
}

export async function startActorHost(config: BrokerConfig, handlers: ActorHostHandlers): Promise<RuntimeActorHost> {
  const pool = await ShardPool.start({
    actorModules: { [PARTITION_ACTOR_KIND]: compiledUrl(import.meta.url, '../actors/partition-actor-module.js') },
    shards: config.brokers * config.shardsPerBroker,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
  })
  pool.onEvent((event) => handlers.onEvent(event.event as PartitionEvent))
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
    spawn: (shard, kind, id, init) => pool.spawn(shard, kind, id, init),
    request: (shard, id, message, payload) => pool.request({ shard, id }, message, payload, { timeoutMs: timeoutFor(message) }),
    tell: (shard, id, message) => {
      pool.tell({ shard, id }, message).catch(() => undefined)
    },
    killShard: (shard) => {
      void pool.killShard(shard)
    },
    restartShard: (shard) => pool.restartShard(shard),
    threadIds: () => pool.threadIds(),
    stop: () => pool.stop(),
  }
}
