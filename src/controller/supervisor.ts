/**
 * The supervisor (main thread): what ZooKeeper and the controller did for Kafka. Each broker is
 * one shard worker. The supervisor starts every broker's node (its listener and image), places
 * each partition's replicas on their brokers, watches the workers, and when a broker's worker
 * dies it elects a new leader from the in-sync set for every partition that broker led,
 * restarts the worker with backoff on the same port, and brings its replicas back: as leaders
 * again where they were the last in-sync replica, as followers elsewhere.
 *
 * Leadership lives in the metadata store (leader, leader epoch, ISR) and is written before any
 * replica is told, so a restart never hands out an epoch twice. Elections come in batches (every
 * partition of a dead broker, every partition of a new topic) with one metadata write per batch,
 * and replicas are spawned and told with a bounded number of requests in flight. Every change
 * reaches the nodes' images through the store's change listener.
 */
import type { Logger } from '../common/logger.js'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock, TimerHandle } from '../common/clock.js'
import { assert } from '../common/assert.js'
import { forEachBounded } from '../common/bounded.js'
import { ErrorCode } from '../common/error-codes.js'
import { brokerTopicDefaults, type BrokerConfig } from '../metadata/broker-config.js'
import { dynamicFor } from '../metadata/broker-dynamic-configs.js'
import type { MetadataStore, PartitionState, TopicChange, TopicState } from './metadata-store.js'
import { openFilesSoftLimit } from '../storage/file-handle-cache.js'
import { consumeCleanShutdownMarker, writeCleanShutdownMarker } from '../storage/clean-shutdown.js'
import { logConfigFromKafka } from '../storage/log-config.js'
import { decideAskedElection, electLeader, isrWithout, type ElectionType } from './election.js'
import { PARTITION_ACTOR_KIND, partitionActorId, type OpenPartition, type PartitionEvent, type PartitionRequest } from '../actors/partition-messages.js'
import type { ReplicaConfig } from '../actors/partition/replica-types.js'
import type { ElectLeadersResult } from '../metadata/operations.js'
import { leaderAfter, type ReplicaChange } from './reassignment.js'

/** The part of the runtime's shard pool the supervisor uses; shard i is broker i. */
export interface ActorHost {
  readonly shardCount: number
  spawn(shard: number, kind: string, id: string, init: unknown): Promise<void>
  request(shard: number, id: string, message: unknown, payload?: Buffer): Promise<{ message: unknown; payload?: Buffer }>
  tell(shard: number, id: string, message: unknown): void
  killShard(shard: number): void
  restartShard(shard: number): Promise<void>
}

/** How the supervisor starts a broker's node on its shard, and tells of endpoints and liveness. */
export interface NodeHooks {
  /** Spawns the broker node on its shard (with the current image); resolves with the port it listens on. */
  startNode(brokerId: number, port: number): Promise<number>
  /** A node listens on `port` (its advertised endpoint follows from it). */
  nodeListening(brokerId: number, port: number): void
  /**
   * The node may answer requests: its partitions are elected. Until then it holds its clients'
   * connections unread, so none hears a partition it holds is offline or unknown (librdkafka's
   * idempotent producer gave up on its sequence numbers after such an answer at a restart).
   */
  serveNode(brokerId: number): Promise<void>
  /** The set of live brokers changed. */
  liveBrokersChanged(): void
}

/** How long a broker was down, from its worker's death until all its partitions served again. */
export interface RecoveryReport {
  brokerId: number
  /** Replicas the broker hosts, all reopened (their logs recovered). */
  replicas: number
  /** Partitions it leads again: those whose only live in-sync replica it was. */
  ledAgain: number
  durationMs: number
  /** Where the time went, in order (they add up to about durationMs). */
  phasesMs: RecoveryPhases
}

/** The steps of a broker's recovery, each in ms. */
export interface RecoveryPhases {
  /** From the death to the restart's start: the failover (elections elsewhere, ISR shrinks) and the backoff. */
  failOver: number
  /** A fresh worker thread, its modules loaded and its rings mapped. */
  worker: number
  /** The broker node spawned with the current image, its listener bound. */
  node: number
  /** Every replica spawned on the shard, its log opened (and recovered). */
  replicas: number
  /** Leaderless partitions elected, stored once, their leaders told. */
  elect: number
  /** Replicas whose leader is elsewhere told to follow it. */
  follow: number
  /** The node told to read its held connections. */
  serve: number
}

export type SupervisorLogger = Pick<Logger, 'warn' | 'info'>

const OPEN_FILES_SHARE_FOR_LOGS = 0.5
const RESTART_BACKOFF_MIN_MS = 100
const RESTART_BACKOFF_MAX_MS = 5_000
/** Spawn and role requests in flight at once during a batch (a shard drains its ring in turns of 256). */
const REQUESTS_IN_FLIGHT_MAX = 256


interface Election {
  topic: TopicState
  state: PartitionState
}

/** One leadership as elected: who leads with which epoch and ISR, fixed at election time. */
interface Term {
  partition: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
}

function termOf(state: PartitionState): Term {
  return { partition: state.partition, leader: state.leader, leaderEpoch: state.leaderEpoch, replicas: [...state.replicas], isr: [...state.isr] }
}

interface FailedReplica {
  error: unknown
}

function replicaKey(topic: string, partition: number, brokerId: number): string {
  return `${topic}\0${partition}\0${brokerId}`
}

export class Supervisor {
  readonly #config: BrokerConfig
  readonly #store: MetadataStore
  readonly #host: ActorHost
  readonly #nodes: NodeHooks
  readonly #clock: Clock
  readonly #logger: SupervisorLogger
  /** Brokers whose worker is up and whose node listens. */
  readonly #liveBrokers = new Set<number>()
  /** The port each broker listens on, fixed at its first start so it comes back on the same one. */
  readonly #ports: number[]
  readonly #openFilesMax: number
  readonly #restartAttempts = new Map<number, number>()
  readonly #restartTimers = new Map<number, { timer: TimerHandle; hold: NodeJS.Timeout }>()
  /** When each down broker's worker died, for the recovery report. */
  readonly #downSinceMs = new Map<number, number>()
  /** Bumped on every death of a broker, so a restart that raced a new death gives up. */
  readonly #incarnations = new Map<number, number>()
  readonly #recoveryListeners = new Set<(report: RecoveryReport) => void>()
  readonly #isrListeners: Array<(topic: string, partition: number) => void> = []
  /** ISR changes applied in memory this turn and not yet stored (see onPartitionEvent). */
  #isrUnstored = new ChangedPartitions()
  #isrStoreScheduled = false
  #stopping = false

  constructor(options: { config: BrokerConfig; store: MetadataStore; host: ActorHost; nodes: NodeHooks; clock: Clock; logger: SupervisorLogger }) {
    this.#config = options.config
    this.#store = options.store
    this.#host = options.host
    this.#nodes = options.nodes
    this.#clock = options.clock
    this.#logger = options.logger
    assert(this.#host.shardCount === this.#config.brokers, 'one shard per broker')
    this.#ports = Array.from({ length: this.#config.brokers }, (_, id) => (this.#config.port === 0 ? 0 : this.#config.port + id))
    // Every broker's logs share the process's open files limit with the sockets of its clients and
    // the runtime: the logs together take half of it, split evenly.
    this.#openFilesMax = Math.max(16, Math.floor(((openFilesSoftLimit() ?? 1024) * OPEN_FILES_SHARE_FOR_LOGS) / this.#config.brokers))
  }

  /**
   * Starts every broker's node (each binds its listener), then opens every stored topic's replicas.
   * Every leader gets a fresh epoch: a restart is a new term. The nodes serve once all are elected.
   */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#config.brokers }, (_, id) => this.#startNode(id)))
    const elections = this.#store.topics().flatMap((topic) => topic.partitions.map((state) => ({ topic, state })))
    const clean = new Map(this.liveBrokerIds().map((brokerId) => [brokerId, consumeCleanShutdownMarker(this.#logDir(brokerId))]))
    const failed = await this.#spawnReplicas(elections, (brokerId) => this.#liveBrokers.has(brokerId), clean)
    await this.#elect(elections, failed)
    await Promise.all(this.liveBrokerIds().map((brokerId) => this.#nodes.serveNode(brokerId)))
  }

  async #startNode(brokerId: number): Promise<void> {
    const port = await this.#nodes.startNode(brokerId, this.#ports[brokerId])
    this.#ports[brokerId] = port
    this.#nodes.nodeListening(brokerId, port)
    this.#liveBrokers.add(brokerId)
    this.#nodes.liveBrokersChanged()
  }

  /** The port each broker listens on (known once it has started). */
  ports(): number[] {
    return [...this.#ports]
  }

  liveBrokerIds(): number[] {
    return [...this.#liveBrokers].sort((a, b) => a - b)
  }

  /** Calls `listener` each time a restarted broker serves all its partitions again. */
  onRecovered(listener: (report: RecoveryReport) => void): () => void {
    this.#recoveryListeners.add(listener)
    return () => this.#recoveryListeners.delete(listener)
  }

  /** Asks the partition's current leader replica (removeFromIsr during a failover). */
  async #requestLeader(topic: string, partition: number, message: PartitionRequest): Promise<void> {
    const state = this.#store.topic(topic)?.partitions[partition]
    if (state === undefined || state.leader === -1 || !this.#liveBrokers.has(state.leader)) return
    await this.#host.request(state.leader, partitionActorId(topic, partition), message)
  }

  /**
   * Spawns the replicas of partitions [fromPartition, end) and elects their leaders. Rejects if
   * any replica could not be opened (a storage failure, a resource limit); the caller then removes
   * the partitions again with closeTopic.
   */
  async openPartitions(topic: TopicState, fromPartition: number): Promise<void> {
    const elections = topic.partitions.slice(fromPartition).map((state) => ({ topic, state }))
    const failed = await this.#spawnReplicas(elections, (brokerId) => this.#liveBrokers.has(brokerId))
    if (failed.size > 0) {
      const [first] = failed.values()
      throw first.error
    }
    await this.#elect(elections, failed)
  }

  /**
   * Spawns (opens) the replicas of the batch on the brokers `include` names. A replica that fails
   * to open (a damaged or unreadable log, a full disk) does not stop the others: it is returned,
   * keyed by replicaKey, so elections pass it over, and logged. Its partition stays offline while
   * it was the only in-sync replica, as a Kafka partition does whose log directory failed.
   */
  async #spawnReplicas(
    elections: readonly Election[],
    include: (brokerId: number) => boolean,
    cleanLogs: ReadonlyMap<number, ReadonlySet<string>> = new Map(),
  ): Promise<Map<string, FailedReplica>> {
    const spawns: Array<{ topic: TopicState; partition: number; brokerId: number }> = []
    for (const { topic, state } of elections) {
      for (const brokerId of state.replicas) if (include(brokerId)) spawns.push({ topic, partition: state.partition, brokerId })
    }
    const failed = new Map<string, FailedReplica>()
    const unopened = new FailureTally('opening partition replicas')
    await forEachBounded(spawns, REQUESTS_IN_FLIGHT_MAX, async ({ topic, partition, brokerId }) => {
      const config = this.replicaConfig(topic, brokerId)
      try {
        await this.#spawnReplica(topic, partition, brokerId, config, cleanLogs.get(brokerId)?.has(logDirName(topic.name, partition)) === true)
      } catch (error) {
        failed.set(replicaKey(topic.name, partition, brokerId), { error })
        unopened.add(`${topic.name}-${partition} on broker ${brokerId}`, error)
      }
    })
    unopened.report(this.#logger)
    return failed
  }

  /** The directory of a broker's partition logs (Kafka's log dir), with its clean-shutdown marker. */
  #logDir(brokerId: number): string {
    return join(this.#config.dataDir, `broker-${brokerId}`)
  }

  async #spawnReplica(topic: TopicState, partition: number, brokerId: number, config: ReplicaConfig, cleanShutdown: boolean): Promise<void> {
    const init: OpenPartition = {
      topic: topic.name,
      topicId: topic.topicId,
      partition,
      dir: join(this.#logDir(brokerId), logDirName(topic.name, partition)),
      cleanShutdown,
      config,
      brokerId,
      housekeepingIntervalMs: this.#config.retentionCheckIntervalMs,
      openFilesMax: this.#openFilesMax,
    }
    await this.#host.spawn(brokerId, PARTITION_ACTOR_KIND, partitionActorId(topic.name, partition), init)
  }

  /**
   * Elects a leader for every partition in the batch among live replicas, persists the outcome
   * once, then tells each leader and its live followers. A leaderless partition keeps its ISR
   * (never empty) and waits for an in-sync replica's broker to come back.
   */
  async #elect(elections: readonly Election[], unopened: ReadonlyMap<string, FailedReplica> = new Map()): Promise<void> {
    const led: Array<{ topic: string; term: Term }> = []
    const changed = new ChangedPartitions()
    for (const election of elections) {
      const { topic, state } = election
      const isLive = (brokerId: number): boolean => this.#liveBrokers.has(brokerId) && !unopened.has(replicaKey(topic.name, state.partition, brokerId))
      const result = electLeader(state, isLive, this.#uncleanAllowed(topic))
      if (result.unclean) {
        this.#logger.warn(`unclean leader election: ${topic.name}-${state.partition} is led by out-of-sync replica ${result.leader}; records only the old ISR held are lost`)
      }
      state.isr = result.isr
      state.leader = result.leader
      changed.add(topic.name, state.partition)
      if (result.leader === -1) continue
      state.leaderEpoch += 1
      led.push({ topic: topic.name, term: termOf(state) })
    }
    this.#store.save(changed.list())
    // Announced from the term as elected: a later election (another death while these requests
    // are in flight) has its own announcements, and replicas refuse an older epoch. A replica that
    // cannot be told (its shard died meanwhile) is that failover's business.
    const unannounced = new FailureTally('telling leaders and followers of their new epoch')
    await forEachBounded(led, REQUESTS_IN_FLIGHT_MAX, ({ topic, term }) =>
      this.#announceLeader(topic, term).catch((error: unknown) => {
        if (this.#store.topic(topic)?.partitions[term.partition]?.leaderEpoch === term.leaderEpoch) unannounced.add(`${topic}-${term.partition}`, error)
      }),
    )
    unannounced.report(this.#logger)
  }

  async #announceLeader(topic: string, term: Term): Promise<void> {
    if (this.#store.topic(topic)?.partitions[term.partition]?.leaderEpoch !== term.leaderEpoch) return
    const message: PartitionRequest = { op: 'becomeLeader', leaderEpoch: term.leaderEpoch, replicas: term.replicas, isr: term.isr }
    await this.#host.request(term.leader, partitionActorId(topic, term.partition), message)
    const followers = term.replicas.filter((b) => b !== term.leader && this.#liveBrokers.has(b))
    await Promise.all(followers.map((b) => this.#makeFollower(topic, term, b)))
  }

  async #makeFollower(topic: string, term: Term, brokerId: number): Promise<void> {
    const id = partitionActorId(topic, term.partition)
    await this.#host.request(brokerId, id, {
      op: 'becomeFollower',
      leaderId: term.leader,
      leaderEpoch: term.leaderEpoch,
      leaderShard: term.leader,
      leaderActorId: id,
    } satisfies PartitionRequest)
  }

  /**
   * ElectLeaders: decides each asked-for election (see decideAskedElection), stores the new
   * leaders and epochs at once, then tells each new leader and its live followers (the old leader
   * among them) before answering.
   */
  async electLeaders(type: ElectionType, partitions: ReadonlyArray<{ topic: string; partition: number }>): Promise<ElectLeadersResult[]> {
    const results: ElectLeadersResult[] = []
    const led: Array<{ topic: string; term: Term }> = []
    const changed = new ChangedPartitions()
    for (const { topic, partition } of partitions) {
      const state = this.#store.topic(topic)?.partitions[partition]
      if (state === undefined) {
        results.push({ topic, partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic partition ${topic}-${partition}` })
        continue
      }
      const decided = decideAskedElection(state, (id) => this.#liveBrokers.has(id), type)
      if ('errorCode' in decided) {
        results.push({ topic, partition, ...decided })
        continue
      }
      if (!state.isr.includes(decided.leader)) {
        this.#logger.warn(`unclean leader election (asked for): ${topic}-${partition} is led by out-of-sync replica ${decided.leader}; records only the old ISR held are lost`)
      }
      state.leader = decided.leader
      state.isr = decided.isr
      state.leaderEpoch += 1
      changed.add(topic, partition)
      led.push({ topic, term: termOf(state) })
      results.push({ topic, partition, errorCode: ErrorCode.NONE, errorMessage: null })
    }
    if (changed.size > 0) this.#store.save(changed.list())
    const failures = new Map<string, unknown>()
    await forEachBounded(led, REQUESTS_IN_FLIGHT_MAX, ({ topic, term }) =>
      this.#announceLeader(topic, term).catch((error: unknown) => {
        failures.set(`${topic}-${term.partition}`, error)
      }),
    )
    for (const result of results) {
      const failure = failures.get(`${result.topic}-${result.partition}`)
      // Stored, but its replicas could not all be told (a shard died meanwhile): that failover's business.
      if (failure !== undefined) this.#logger.warn(`elected ${result.topic}-${result.partition} but could not tell its replicas: ${String(failure)}`)
    }
    return results
  }

  /**
   * One step of a partition reassignment (see reassignment.ts): opens the added replicas, stores
   * the new replica sets with a leader from them and a new leader epoch (as Kafka's controller
   * bumps it at each step, so every replica learns the new set), tells the leader and its
   * followers, then closes the removed replicas and deletes their data. A replica on a dead
   * broker is opened (or left) when that broker restarts; one that cannot be opened fails the
   * step before anything is stored.
   */
  async changeReplicas(topicName: string, partition: number, change: ReplicaChange): Promise<void> {
    const topic = this.#store.topic(topicName)
    const state = topic?.partitions[partition]
    assert(topic !== undefined && state !== undefined, `${topicName}-${partition} exists`)
    const opening = change.open.filter((id) => this.#liveBrokers.has(id))
    // Only the added replicas are spawned: the partition's state narrowed to them.
    const failed = await this.#spawnReplicas(
      opening.length === 0 ? [] : [{ topic, state: { ...state, replicas: opening } }],
      () => true,
    )
    if (failed.size > 0) {
      await this.#closeReplicas(topicName, partition, opening, true)
      const [first] = failed.values()
      throw first.error
    }
    if (change.unclean) this.#logger.warn(`reassignment of ${topicName}-${partition} reverted to out-of-sync replicas ${change.replicas.join(',')}; records only the others held are lost`)
    const leader = leaderAfter(state, change, (id) => this.#liveBrokers.has(id))
    state.replicas = change.replicas
    state.isr = change.isr
    if (change.addingReplicas !== undefined) state.addingReplicas = change.addingReplicas
    else delete state.addingReplicas
    if (change.removingReplicas !== undefined) state.removingReplicas = change.removingReplicas
    else delete state.removingReplicas
    state.leader = leader
    if (leader !== -1) state.leaderEpoch += 1
    this.#store.save([{ topic: topicName, partitions: [partition] }])
    if (leader !== -1) {
      await this.#announceLeader(topicName, termOf(state)).catch((error: unknown) => {
        this.#logger.warn(`reassigned ${topicName}-${partition} but could not tell its replicas: ${messageOf(error)}`)
      })
    }
    await this.#closeReplicas(topicName, partition, change.close, true)
  }

  async #closeReplicas(topic: string, partition: number, brokerIds: readonly number[], deleteData: boolean): Promise<void> {
    const id = partitionActorId(topic, partition)
    const live = brokerIds.filter((b) => this.#liveBrokers.has(b))
    await Promise.all(live.map((b) => this.#host.request(b, id, { op: 'close', deleteData } satisfies PartitionRequest).catch(() => undefined)))
  }

  /** Calls `listener` after the supervisor stored a partition's new ISR (a reassignment may complete). */
  onIsrStored(listener: (topic: string, partition: number) => void): void {
    this.#isrListeners.push(listener)
  }

  /**
   * Closes the topic's live replicas (deleting their data when asked); never rejects. Returns
   * those whose close finished (flushed), by broker id and log directory name.
   */
  async closeTopic(topic: TopicState, deleteData: boolean, fromPartition = 0): Promise<Array<{ brokerId: number; log: string }>> {
    const closes: Array<{ shard: number; id: string; partition: number }> = []
    for (const state of topic.partitions.slice(fromPartition)) {
      for (const brokerId of state.replicas) {
        if (!this.#liveBrokers.has(brokerId)) continue
        closes.push({ shard: brokerId, id: partitionActorId(topic.name, state.partition), partition: state.partition })
      }
    }
    const closed: Array<{ brokerId: number; log: string }> = []
    await forEachBounded(closes, REQUESTS_IN_FLIGHT_MAX, async ({ shard, id, partition }) => {
      await this.#host.request(shard, id, { op: 'close', deleteData } satisfies PartitionRequest).then(
        () => closed.push({ brokerId: shard, log: logDirName(topic.name, partition) }),
        () => undefined,
      )
    })
    return closed
  }

  async updateTopicConfig(topic: TopicState): Promise<void> {
    const updates: Array<{ shard: number; id: string }> = []
    for (const state of topic.partitions) {
      for (const brokerId of state.replicas) {
        if (!this.#liveBrokers.has(brokerId)) continue
        updates.push({ shard: brokerId, id: partitionActorId(topic.name, state.partition) })
      }
    }
    await forEachBounded(updates, REQUESTS_IN_FLIGHT_MAX, async ({ shard, id }) => {
      await this.#host.request(shard, id, { op: 'updateConfig', config: this.replicaConfig(topic, shard) } satisfies PartitionRequest)
    })
  }

  /** A replica's config on broker `brokerId`: the topic's own, over that broker's dynamic defaults, over the static ones. */
  replicaConfig(topic: TopicState, brokerId: number): ReplicaConfig {
    const entries = { ...brokerTopicDefaults(this.#config, dynamicFor(this.#store.brokerConfigs(), brokerId)), ...topic.configs }
    return { ...logConfigFromKafka(entries), replicaLagTimeMaxMs: this.#config.replicaLagTimeMaxMs, producerIdExpirationMs: this.#config.producerIdExpirationMs }
  }

  #uncleanAllowed(topic: TopicState): boolean {
    const entries = { ...brokerTopicDefaults(this.#config, dynamicFor(this.#store.brokerConfigs(), null)), ...topic.configs }
    return entries['unclean.leader.election.enable'] === 'true'
  }

  /**
   * A partition actor reports its new ISR; the store keeps it if it is for the current epoch.
   * Changes arriving in one turn are stored with one write: a broker's death or return changes the
   * ISR of every partition it replicates, and a write per partition (the whole document, fsynced)
   * held the main thread for seconds at a few thousand partitions.
   */
  onPartitionEvent(event: PartitionEvent): void {
    if (event.event !== 'isrChange') return
    const state = this.#store.topic(event.topic)?.partitions[event.partition]
    if (state === undefined || state.leaderEpoch !== event.leaderEpoch) return
    assert(event.isr.length > 0, `the ISR of ${event.topic}-${event.partition} is never empty`)
    state.isr = [...event.isr]
    this.#isrUnstored.add(event.topic, event.partition)
    if (this.#isrStoreScheduled) return
    this.#isrStoreScheduled = true
    setImmediate(() => this.#storeIsrChanges())
  }

  /** Resolves once every ISR change reported so far is stored (and its listeners told). */
  isrChangesStored(): Promise<void> {
    return new Promise((resolve) => (this.#isrStoreScheduled ? setImmediate(resolve) : resolve()))
  }

  #storeIsrChanges(): void {
    this.#isrStoreScheduled = false
    const changed = this.#isrUnstored
    this.#isrUnstored = new ChangedPartitions()
    if (changed.size === 0) return
    try {
      this.#store.save(changed.list())
    } catch (error) {
      this.#logger.warn(`storing ${changed.size} topics' ISR changes failed: ${messageOf(error)}`)
      return
    }
    const stored: Array<{ topic: string; partition: number; leader: number; message: PartitionRequest }> = []
    for (const { topic, partitions } of changed.list()) {
      for (const partition of partitions ?? []) {
        const state = this.#store.topic(topic)?.partitions[partition]
        if (state !== undefined && this.#liveBrokers.has(state.leader)) {
          stored.push({ topic, partition, leader: state.leader, message: { op: 'isrStored', leaderEpoch: state.leaderEpoch, isr: [...state.isr] } })
        }
        for (const listener of this.#isrListeners) listener(topic, partition)
      }
    }
    // Each leader counts the followers it dropped toward its high watermark until it hears this
    // (see LeaderState). One it misses is reported again by the leader's next lag check.
    void forEachBounded(stored, REQUESTS_IN_FLIGHT_MAX, ({ topic, partition, leader, message }) =>
      this.#host.request(leader, partitionActorId(topic, partition), message).then(
        () => undefined,
        () => undefined,
      ),
    )
  }

  /** Fault injection: kills one broker's worker, for real (its listener and connections go too). */
  killBroker(brokerId: number): void {
    assert(brokerId >= 0 && brokerId < this.#config.brokers, 'broker id in range')
    this.#host.killShard(brokerId)
  }

  /**
   * A broker's shard died (exit, error or missed heartbeats). Leaders it held move to live
   * in-sync replicas (or wait for it, when it was the last one); leaders elsewhere drop it from
   * their ISR; then it is restarted.
   */
  async onShardDown(brokerId: number): Promise<void> {
    if (!this.#liveBrokers.delete(brokerId) || this.#stopping) return
    this.#downSinceMs.set(brokerId, this.#clock.nowMs())
    this.#incarnations.set(brokerId, (this.#incarnations.get(brokerId) ?? 0) + 1)
    this.#nodes.liveBrokersChanged()
    try {
      await this.#failOver(brokerId)
    } finally {
      this.#scheduleRestart(brokerId)
    }
  }

  async #failOver(deadBroker: number): Promise<void> {
    const elections: Election[] = []
    const shrinks: Array<{ topic: string; partition: number }> = []
    const kept = new ChangedPartitions()
    for (const topic of this.#store.topics()) {
      for (const state of topic.partitions) {
        if (!state.replicas.includes(deadBroker)) continue
        if (state.leader === deadBroker) {
          elections.push({ topic, state })
        } else if (state.leader !== -1 && this.#liveBrokers.has(state.leader)) {
          shrinks.push({ topic: topic.name, partition: state.partition })
        } else if (state.leader === -1) {
          // Already leaderless: the dead broker may have been the last live ISR member; keep it.
          state.isr = isrWithout(state.isr, deadBroker)
          kept.add(topic.name, state.partition)
        }
      }
    }
    if (kept.size > 0) this.#store.save(kept.list())
    await this.#elect(elections)
    // The leader shrinks its own ISR (it never removes itself, so it never empties) and reports it.
    await forEachBounded(shrinks, REQUESTS_IN_FLIGHT_MAX, async ({ topic, partition }) => {
      await this.#requestLeader(topic, partition, { op: 'removeFromIsr', brokerId: deadBroker }).catch(() => undefined)
    })
  }

  #scheduleRestart(brokerId: number): void {
    if (this.#stopping || this.#restartTimers.has(brokerId)) return
    const attempt = this.#restartAttempts.get(brokerId) ?? 0
    // The first restart is immediate (its partitions are offline meanwhile); a broker that keeps
    // dying is restarted ever more slowly.
    const delayMs = attempt === 0 ? 0 : Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS * 2 ** (attempt - 1))
    this.#restartAttempts.set(brokerId, attempt + 1)
    // The clock's timers never hold the process open, but the dead workers did: until the broker
    // is back, this does, so an embedded broker with no listener does not end its process.
    const hold = setInterval(() => {}, RESTART_BACKOFF_MAX_MS)
    const timer = this.#clock.setTimeout(() => {
      this.#restartTimers.delete(brokerId)
      this.restartBroker(brokerId)
        .catch((error: unknown) => {
          this.#logger.warn(`restarting broker ${brokerId} failed (attempt ${attempt + 1}): ${messageOf(error)}`)
          if (!this.#liveBrokers.has(brokerId)) this.#scheduleRestart(brokerId)
        })
        .finally(() => clearInterval(hold))
    }, delayMs)
    this.#restartTimers.set(brokerId, { timer, hold })
  }

  /**
   * Fresh workers for the broker, its replicas reopened (recovering their logs); partitions whose
   * last in-sync replica it holds are led by it again with a new epoch, the rest follow.
   */
  async restartBroker(brokerId: number): Promise<void> {
    if (this.#stopping) return
    const incarnation = this.#incarnations.get(brokerId) ?? 0
    const phase = phaseTimer(this.#clock)
    const failOverMs = this.#clock.nowMs() - (this.#downSinceMs.get(brokerId) ?? this.#clock.nowMs())
    await this.#host.restartShard(brokerId)
    const workerMs = phase()
    if (this.#stopping || (this.#incarnations.get(brokerId) ?? 0) !== incarnation) return
    // The node first: once it is live, a topic created meanwhile spawns its replica here itself;
    // one created before is in `hosted`. (Opening the logs while the node starts left a gap
    // between the two, and the fuzzer found partitions led by a broker that had no replica.)
    await this.#startNode(brokerId)
    const nodeMs = phase()
    const hosted: Election[] = []
    for (const topic of this.#store.topics()) {
      for (const state of topic.partitions) if (state.replicas.includes(brokerId)) hosted.push({ topic, state })
    }
    // A crash leaves no marker (the start consumed it), but a broker down since the start has one.
    const clean = new Map([[brokerId, consumeCleanShutdownMarker(this.#logDir(brokerId))]])
    const failed = await this.#spawnReplicas(hosted, (id) => id === brokerId, clean)
    const replicasMs = phase()
    // Died again while its replicas were opening: that death's failover and restart take over.
    if (this.#stopping || (this.#incarnations.get(brokerId) ?? 0) !== incarnation) return
    const leaderless = hosted.filter(({ state }) => state.leader === -1)
    await this.#elect(leaderless, failed)
    const electMs = phase()
    const following = hosted.filter(
      ({ topic, state }) =>
        state.leader !== -1 && state.leader !== brokerId && this.#liveBrokers.has(state.leader) && !failed.has(replicaKey(topic.name, state.partition, brokerId)),
    )
    const unfollowed = new FailureTally(`making broker ${brokerId} follow its leaders`)
    await forEachBounded(following, REQUESTS_IN_FLIGHT_MAX, ({ topic, state }) =>
      this.#makeFollower(topic.name, termOf(state), brokerId).catch((error: unknown) => unfollowed.add(`${topic.name}-${state.partition}`, error)),
    )
    unfollowed.report(this.#logger)
    const followMs = phase()
    await this.#nodes.serveNode(brokerId)
    const serveMs = phase()
    this.#restartAttempts.delete(brokerId)
    const downSinceMs = this.#downSinceMs.get(brokerId)
    this.#downSinceMs.delete(brokerId)
    const report: RecoveryReport = {
      brokerId,
      replicas: hosted.length,
      ledAgain: leaderless.filter(({ state }) => state.leader === brokerId).length,
      durationMs: downSinceMs === undefined ? 0 : this.#clock.nowMs() - downSinceMs,
      phasesMs: { failOver: failOverMs, worker: workerMs, node: nodeMs, replicas: replicasMs, elect: electMs, follow: followMs, serve: serveMs },
    }
    this.#logger.info(`broker ${brokerId} is back: ${report.replicas} replicas reopened, ${report.ledAgain} led again, ${report.durationMs} ms after it went down`)
    for (const listener of this.#recoveryListeners) listener(report)
  }

  stop(): void {
    this.#stopping = true
    this.#storeIsrChanges()
    for (const { timer, hold } of this.#restartTimers.values()) {
      this.#clock.clearTimeout(timer)
      clearInterval(hold)
    }
    this.#restartTimers.clear()
  }

  /**
   * Closes every live replica cleanly (flushing its log), then writes each live broker's
   * clean-shutdown marker naming the logs whose close finished; a log whose close failed, or that
   * closes after the marker, is recovered at the next start. A marker that cannot be written
   * costs the next start a recovery, nothing else.
   */
  async closeAll(): Promise<void> {
    const brokers = this.liveBrokerIds()
    const closed = new Map(brokers.map((brokerId) => [brokerId, [] as string[]]))
    for (const topic of this.#store.topics()) {
      for (const { brokerId, log } of await this.closeTopic(topic, false)) closed.get(brokerId)?.push(log)
    }
    for (const brokerId of brokers) {
      // Only a broker whose worker lived through every close: one that died meanwhile left logs to recover.
      if (!this.#liveBrokers.has(brokerId)) continue
      try {
        mkdirSync(this.#logDir(brokerId), { recursive: true })
        writeCleanShutdownMarker(this.#logDir(brokerId), closed.get(brokerId) ?? [])
      } catch (error) {
        this.#logger.warn(`writing the clean-shutdown marker of broker ${brokerId} failed (its logs will be recovered at the next start): ${messageOf(error)}`)
      }
    }
  }

}

/** Returns a function that gives the ms since it was last called (or since this call). */
function phaseTimer(clock: Clock): () => number {
  let lastMs = clock.nowMs()
  return () => {
    const nowMs = clock.nowMs()
    const elapsedMs = nowMs - lastMs
    lastMs = nowMs
    return elapsedMs
  }
}

/** The partitions a batch changed, by topic, for one save: the nodes get those partitions alone. */
class ChangedPartitions {
  /** A set per topic: a partition whose ISR changes twice in one turn is stored, and told, once. */
  readonly #byTopic = new Map<string, Set<number>>()

  get size(): number {
    return this.#byTopic.size
  }

  add(topic: string, partition: number): void {
    const partitions = this.#byTopic.get(topic)
    if (partitions === undefined) this.#byTopic.set(topic, new Set([partition]))
    else partitions.add(partition)
  }

  list(): TopicChange[] {
    return [...this.#byTopic].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }))
  }
}

/**
 * Failures of one batch, logged as one line (a shard that dies mid-batch fails hundreds of
 * requests for one reason): how many, the first few partitions, and each distinct reason once.
 */
class FailureTally {
  readonly #what: string
  readonly #names: string[] = []
  readonly #reasons = new Set<string>()
  #count = 0

  constructor(what: string) {
    this.#what = what
  }

  add(name: string, error: unknown): void {
    this.#count++
    if (this.#names.length < 5) this.#names.push(name)
    if (this.#reasons.size < 5) this.#reasons.add(messageOf(error))
  }

  report(logger: SupervisorLogger): void {
    if (this.#count === 0) return
    const more = this.#count > this.#names.length ? ` and ${this.#count - this.#names.length} more` : ''
    logger.warn(`${this.#what} failed for ${this.#count}: ${this.#names.join(', ')}${more} (${[...this.#reasons].join('; ')})`)
  }
}

/** A partition's log directory under its broker's log directory, as Kafka names it. */
function logDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
