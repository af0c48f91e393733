/**
 * The supervisor (main thread): what ZooKeeper and the controller did for Kafka. It places each
 * partition's replicas on their brokers' shards, watches the shard workers, and when a broker's
 * worker dies it elects a new leader from the in-sync set for every partition that broker led,
 * restarts the worker with backoff, and brings its replicas back as followers.
 *
 * Leadership lives in the metadata store (leader, leader epoch, ISR) and is written before any
 * replica is told, so a restart never hands out an epoch twice.
 */
import { join } from 'node:path'
import type { Clock, TimerHandle } from '../common/clock.js'
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { assert } from '../common/assert.js'
import { brokerTopicDefaults, type BrokerConfig } from '../broker/broker-config.js'
import type { MetadataStore, PartitionState, TopicState } from '../broker/metadata-store.js'
import { shardSlot } from '../broker/placement.js'
import type { PartitionReply, PartitionRouter } from '../broker/router.js'
import { logConfigFromKafka } from '../storage/log-config.js'
import { partitionActorId, type OpenPartition, type PartitionEvent, type PartitionRequest } from './partition-messages.js'
import type { ReplicaConfig } from './partition/replica-types.js'

/** The part of the runtime's shard pool the supervisor uses. */
export interface ActorHost {
  readonly shardCount: number
  spawn(shard: number, kind: string, id: string, init: unknown): Promise<void>
  request(shard: number, id: string, message: unknown, payload?: Buffer): Promise<PartitionReply>
  tell(shard: number, id: string, message: unknown): void
  killShard(shard: number): void
  restartShard(shard: number): Promise<void>
}

const RESTART_BACKOFF_MIN_MS = 100
const RESTART_BACKOFF_MAX_MS = 5_000
export const PARTITION_ACTOR_KIND = 'partition'

export class Supervisor implements PartitionRouter {
  readonly #config: BrokerConfig
  readonly #store: MetadataStore
  readonly #host: ActorHost
  readonly #clock: Clock
  /** Brokers whose shards are all up. A broker with any dead shard counts as down until restarted. */
  readonly #liveBrokers = new Set<number>()
  readonly #restartAttempts = new Map<number, number>()
  readonly #restartTimers = new Map<number, TimerHandle>()
  #stopping = false

  constructor(options: { config: BrokerConfig; store: MetadataStore; host: ActorHost; clock: Clock }) {
    this.#config = options.config
    this.#store = options.store
    this.#host = options.host
    this.#clock = options.clock
    assert(this.#host.shardCount === this.#config.brokers * this.#config.shardsPerBroker, 'one shard set per broker')
    for (let id = 0; id < this.#config.brokers; id++) this.#liveBrokers.add(id)
  }

  /** Opens every stored topic's replicas. Every leader gets a fresh epoch: a restart is a new term. */
  async start(): Promise<void> {
    for (const topic of this.#store.topics()) await this.openPartitions(topic, 0)
  }

  liveBrokerIds(): number[] {
    return [...this.#liveBrokers].sort((a, b) => a - b)
  }

  shardOf(brokerId: number, topic: string, partition: number): number {
    return brokerId * this.#config.shardsPerBroker + shardSlot(topic, partition, this.#config.shardsPerBroker)
  }

  brokerOfShard(shard: number): number {
    return Math.floor(shard / this.#config.shardsPerBroker)
  }

  async requestLeader(topic: string, partition: number, message: PartitionRequest, payload?: Buffer): Promise<PartitionReply> {
    const state = this.#partitionState(topic, partition)
    if (state.leader === -1 || !this.#liveBrokers.has(state.leader)) {
      throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `No leader for ${topic}-${partition} right now`)
    }
    return this.#host.request(this.shardOf(state.leader, topic, partition), partitionActorId(topic, partition), message, payload)
  }

  tellLeader(topic: string, partition: number, message: PartitionRequest): void {
    const state = this.#store.topic(topic)?.partitions[partition]
    if (state === undefined || state.leader === -1 || !this.#liveBrokers.has(state.leader)) return
    this.#host.tell(this.shardOf(state.leader, topic, partition), partitionActorId(topic, partition), message)
  }

  async openPartitions(topic: TopicState, fromPartition: number): Promise<void> {
    const config = this.replicaConfig(topic)
    const opening: Promise<void>[] = []
    for (const state of topic.partitions.slice(fromPartition)) {
      opening.push(this.#openPartition(topic, state, config))
    }
    await Promise.all(opening)
    this.#store.save()
  }

  async #openPartition(topic: TopicState, state: PartitionState, config: ReplicaConfig): Promise<void> {
    const live = state.replicas.filter((id) => this.#liveBrokers.has(id))
    await Promise.all(live.map((brokerId) => this.#spawnReplica(topic.name, state.partition, brokerId, config)))
    // Prefer the stored leader, then the first live in-sync replica: never an out-of-sync one.
    const candidates = [state.leader, ...state.isr].filter((id) => id !== -1 && live.includes(id) && state.isr.includes(id))
    const leader = candidates.length > 0 ? candidates[0] : -1
    await this.#installLeader(topic.name, state, leader)
  }

  async #spawnReplica(topic: string, partition: number, brokerId: number, config: ReplicaConfig): Promise<void> {
    const init: OpenPartition = {
      topic,
      partition,
      dir: join(this.#config.dataDir, `broker-${brokerId}`, `${topic}-${partition}`),
      config,
      brokerId,
      housekeepingIntervalMs: this.#config.retentionCheckIntervalMs,
    }
    await this.#host.spawn(this.shardOf(brokerId, topic, partition), PARTITION_ACTOR_KIND, partitionActorId(topic, partition), init)
  }

  /**
   * Makes `leader` the partition's leader with a new epoch (or leaves it leaderless with -1),
   * persists that, then tells the leader and every other live replica.
   */
  async #installLeader(topic: string, state: PartitionState, leader: number): Promise<void> {
    state.leader = leader
    if (leader === -1) {
      this.#store.save()
      return
    }
    state.leaderEpoch += 1
    state.isr = state.isr.filter((id) => this.#liveBrokers.has(id))
    if (!state.isr.includes(leader)) state.isr.push(leader)
    this.#store.save()
    const id = partitionActorId(topic, state.partition)
    const leaderShard = this.shardOf(leader, topic, state.partition)
    await this.#host.request(leaderShard, id, {
      op: 'becomeLeader',
      leaderEpoch: state.leaderEpoch,
      replicas: state.replicas,
      isr: state.isr,
    } satisfies PartitionRequest)
    const followers = state.replicas.filter((b) => b !== leader && this.#liveBrokers.has(b))
    await Promise.all(followers.map((b) => this.#makeFollower(topic, state, b)))
  }

  async #makeFollower(topic: string, state: PartitionState, brokerId: number): Promise<void> {
    const id = partitionActorId(topic, state.partition)
    await this.#host.request(this.shardOf(brokerId, topic, state.partition), id, {
      op: 'becomeFollower',
      leaderId: state.leader,
      leaderEpoch: state.leaderEpoch,
      leaderShard: this.shardOf(state.leader, topic, state.partition),
      leaderActorId: id,
    } satisfies PartitionRequest)
  }

  async closeTopic(topic: TopicState, deleteData: boolean): Promise<void> {
    const closing: Promise<unknown>[] = []
    for (const state of topic.partitions) {
      for (const brokerId of state.replicas) {
        if (!this.#liveBrokers.has(brokerId)) continue
        const shard = this.shardOf(brokerId, topic.name, state.partition)
        closing.push(this.#host.request(shard, partitionActorId(topic.name, state.partition), { op: 'close', deleteData }).catch(() => undefined))
      }
    }
    await Promise.all(closing)
  }

  async updateTopicConfig(topic: TopicState): Promise<void> {
    const config = this.replicaConfig(topic)
    const updates: Promise<unknown>[] = []
    for (const state of topic.partitions) {
      for (const brokerId of state.replicas) {
        if (!this.#liveBrokers.has(brokerId)) continue
        const shard = this.shardOf(brokerId, topic.name, state.partition)
        updates.push(this.#host.request(shard, partitionActorId(topic.name, state.partition), { op: 'updateConfig', config }))
      }
    }
    await Promise.all(updates)
  }

  replicaConfig(topic: TopicState): ReplicaConfig {
    const entries = { ...brokerTopicDefaults(this.#config), ...topic.configs }
    return { ...logConfigFromKafka(entries), replicaLagTimeMaxMs: this.#config.replicaLagTimeMaxMs }
  }

  /** A partition actor reports its new ISR; the store keeps it if it is for the current epoch. */
  onPartitionEvent(event: PartitionEvent): void {
    if (event.event !== 'isrChange') return
    const state = this.#store.topic(event.topic)?.partitions[event.partition]
    if (state === undefined || state.leaderEpoch !== event.leaderEpoch) return
    state.isr = [...event.isr]
    this.#store.save()
  }

  /** Fault injection: kills every shard worker of one logical broker, for real. */
  killBroker(brokerId: number): void {
    assert(brokerId >= 0 && brokerId < this.#config.brokers, 'broker id in range')
    for (let slot = 0; slot < this.#config.shardsPerBroker; slot++) {
      this.#host.killShard(brokerId * this.#config.shardsPerBroker + slot)
    }
  }

  /**
   * A shard died (exit, error or missed heartbeats): its broker is down. Leaders it held move to
   * live in-sync replicas; leaders elsewhere drop it from their ISR; then it is restarted.
   */
  async onShardDown(shard: number): Promise<void> {
    const brokerId = this.brokerOfShard(shard)
    if (!this.#liveBrokers.delete(brokerId) || this.#stopping) return
    for (let slot = 0; slot < this.#config.shardsPerBroker; slot++) {
      const other = brokerId * this.#config.shardsPerBroker + slot
      if (other !== shard) this.#host.killShard(other)
    }
    await this.#failOver(brokerId)
    this.#scheduleRestart(brokerId)
  }

  async #failOver(deadBroker: number): Promise<void> {
    const work: Promise<unknown>[] = []
    for (const topic of this.#store.topics()) {
      for (const state of topic.partitions) {
        if (!state.replicas.includes(deadBroker)) continue
        if (state.leader === deadBroker) {
          const next = state.isr.find((id) => id !== deadBroker && this.#liveBrokers.has(id)) ?? -1
          state.isr = state.isr.filter((id) => id !== deadBroker)
          work.push(this.#installLeader(topic.name, state, next).catch(() => undefined))
        } else if (state.leader !== -1 && this.#liveBrokers.has(state.leader)) {
          work.push(this.requestLeader(topic.name, state.partition, { op: 'removeFromIsr', brokerId: deadBroker }).catch(() => undefined))
        }
      }
    }
    this.#store.save()
    await Promise.all(work)
  }

  #scheduleRestart(brokerId: number): void {
    const attempt = this.#restartAttempts.get(brokerId) ?? 0
    const delayMs = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS * 2 ** attempt)
    this.#restartAttempts.set(brokerId, attempt + 1)
    const timer = this.#clock.setTimeout(() => {
      this.#restartTimers.delete(brokerId)
      this.restartBroker(brokerId).catch(() => {
        if (!this.#stopping) this.#scheduleRestart(brokerId)
      })
    }, delayMs)
    this.#restartTimers.set(brokerId, timer)
  }

  /** Fresh workers for the broker, its replicas reopened (recovering their logs) as followers. */
  async restartBroker(brokerId: number): Promise<void> {
    if (this.#stopping) return
    for (let slot = 0; slot < this.#config.shardsPerBroker; slot++) {
      await this.#host.restartShard(brokerId * this.#config.shardsPerBroker + slot)
    }
    this.#liveBrokers.add(brokerId)
    for (const topic of this.#store.topics()) {
      const config = this.replicaConfig(topic)
      for (const state of topic.partitions) {
        if (!state.replicas.includes(brokerId)) continue
        await this.#spawnReplica(topic.name, state.partition, brokerId, config)
        if (state.leader === -1 && state.isr.includes(brokerId)) {
          await this.#installLeader(topic.name, state, brokerId)
        } else if (state.leader !== -1) {
          await this.#makeFollower(topic.name, state, brokerId)
        }
      }
    }
    this.#restartAttempts.delete(brokerId)
  }

  stop(): void {
    this.#stopping = true
    for (const timer of this.#restartTimers.values()) this.#clock.clearTimeout(timer)
    this.#restartTimers.clear()
  }

  /** Closes every live replica cleanly (flushing logs and writing their clean-shutdown markers). */
  async closeAll(): Promise<void> {
    for (const topic of this.#store.topics()) await this.closeTopic(topic, false)
  }

  #partitionState(topic: string, partition: number): PartitionState {
    const state = this.#store.topic(topic)?.partitions[partition]
    if (state === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unknown partition ${topic}-${partition}`)
    return state
  }
}
