/**
 * An actor host for the controller's tests: every spawn and request is recorded, shards die when
 * told (their actors with them), and nothing runs on a thread.
 */
import type { OpenPartition, PartitionRequest } from '../../src/actors/partition-messages.js'
import { PartitaError } from '../../src/common/errors.js'
import type { ActorHost } from '../../src/controller/supervisor.js'

export class ScriptedHost implements ActorHost {
  readonly shardCount: number
  readonly live: boolean[]
  readonly actors: Array<Set<string>>
  readonly sent: Array<{ shard: number; id: string; message: PartitionRequest }> = []
  /** Spawns this returns true for fail, as a replica whose log cannot be opened. */
  failSpawn: (shard: number, id: string) => boolean = () => false
  /** Requests this returns true for fail, as a close whose flush hit a disk error. */
  failRequest: (shard: number, id: string, message: PartitionRequest) => boolean = () => false
  /** The init each actor was last spawned with, by shard and id. */
  readonly inits = new Map<string, OpenPartition>()
  onShardDown: (shard: number) => Promise<void> = async () => {}

  constructor(shardCount: number) {
    this.shardCount = shardCount
    this.live = new Array<boolean>(shardCount).fill(true)
    this.actors = Array.from({ length: shardCount }, () => new Set<string>())
  }

  async spawn(shard: number, _kind: string, id: string, init?: unknown): Promise<void> {
    if (!this.live[shard]) throw new PartitaError('PARTITA_SHARD_DIED', `shard ${shard} is down`)
    if (this.failSpawn(shard, id)) throw new PartitaError('PARTITA_RESOURCE_LIMIT', `open files limit (EMFILE) opening ${id}`)
    this.actors[shard].add(id)
    this.inits.set(`${shard}/${id}`, init as OpenPartition)
  }

  async request(shard: number, id: string, message: unknown): Promise<{ message: unknown }> {
    if (!this.live[shard]) throw new PartitaError('PARTITA_SHARD_DIED', `shard ${shard} is down`)
    if (!this.actors[shard].has(id)) throw new PartitaError('PARTITA_NO_SUCH_ACTOR', `no actor ${id} on shard ${shard}`)
    this.sent.push({ shard, id, message: message as PartitionRequest })
    if (this.failRequest(shard, id, message as PartitionRequest)) throw new PartitaError('PARTITA_STORAGE_ERROR', `EIO on ${id}`)
    return { message: { ok: true } }
  }

  tell(): void {}

  killShard(shard: number): void {
    if (!this.live[shard]) return
    this.live[shard] = false
    this.actors[shard].clear()
    void this.onShardDown(shard)
  }

  async restartShard(shard: number): Promise<void> {
    this.live[shard] = true
  }

  lastLeaderEpoch(id: string): number | undefined {
    const becomes = this.sent.filter((s) => s.id === id && s.message.op === 'becomeLeader')
    const last = becomes[becomes.length - 1]?.message
    return last?.op === 'becomeLeader' ? last.leaderEpoch : undefined
  }
}
