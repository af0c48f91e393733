/**
 * The cluster as every broker node sees it: topics with their partitions' replicas, leaders,
 * leader epochs and in-sync sets, and each broker's endpoint. The controller (main thread) owns
 * the truth; each shard holds an image of it, updated by versioned deltas the controller pushes on
 * every change, and answers Metadata, FindCoordinator and leadership questions from it alone.
 *
 * An image may lag the controller by a delta in flight; a replica's own role is the last word on
 * whether it leads (it answers NOT_LEADER_OR_FOLLOWER otherwise), as in Kafka.
 */
import { assert } from '../common/assert.js'
import type { DynamicBrokerConfigs } from './broker-dynamic-configs.js'

export interface PartitionState {
  partition: number
  replicas: number[]
  /** -1 while no replica may lead. */
  leader: number
  leaderEpoch: number
  /** Never empty: the last in-sync replica stays in it while it is down (see controller/election.ts). */
  isr: number[]
  /**
   * While a reassignment (KIP-455) runs, `replicas` is the union of the target and the original
   * replicas, as in Kafka; these name the ones being added and removed (absent otherwise). The
   * target is `replicas` without `removingReplicas`; the original, without `addingReplicas`.
   */
  addingReplicas?: number[]
  removingReplicas?: number[]
}

export interface TopicState {
  name: string
  topicId: string
  configs: Record<string, string>
  partitions: PartitionState[]
}

export interface BrokerEndpoint {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

/**
 * Some partitions of a topic the image holds, added or changed, with the topic's configs: applied
 * in place, so a change to one partition of a topic of 100,000 costs one partition on the way and
 * on every node, not the topic.
 */
export interface TopicPartitionsDelta {
  name: string
  topicId: string
  configs: Record<string, string>
  /** Each replaces the partition of its index, or appends the next one. */
  partitions: PartitionState[]
}

/** A change to the image: whole topics replaced or removed, partitions changed, and the brokers when they changed. */
export interface MetadataDelta {
  version: number
  clusterId?: string
  /** Every broker of the cluster with its advertised endpoint. */
  brokers?: BrokerEndpoint[]
  /** Brokers serving now. */
  liveBrokers?: number[]
  /** Whole topics: new ones, or ones that shrank or were replaced. */
  topics?: TopicState[]
  /** Partitions of topics the image already holds (after `topics` are applied). */
  partitionChanges?: TopicPartitionsDelta[]
  deletedTopics?: string[]
  /** The dynamic broker configs of every level, whole, when they changed. */
  brokerConfigs?: DynamicBrokerConfigs
}

const NONE_REMOVED: readonly string[] = []

export class MetadataImage {
  version = 0
  clusterId = ''
  brokers: BrokerEndpoint[] = []
  liveBrokers: number[] = []
  readonly topics = new Map<string, TopicState>()
  brokerConfigs: DynamicBrokerConfigs = {}

  /**
   * Applies deltas in version order; a stale or repeated one is ignored. Returns the topics it
   * removed: deleted, or replaced by a topic of the same name under another id (what depends on
   * a topic, such as groups' offsets of it, goes with it).
   */
  apply(delta: MetadataDelta): readonly string[] {
    if (delta.version <= this.version) return NONE_REMOVED
    let removed: string[] | null = null
    this.version = delta.version
    if (delta.clusterId !== undefined) this.clusterId = delta.clusterId
    if (delta.brokers !== undefined) this.brokers = delta.brokers
    if (delta.liveBrokers !== undefined) this.liveBrokers = delta.liveBrokers
    if (delta.brokerConfigs !== undefined) this.brokerConfigs = delta.brokerConfigs
    for (const name of delta.deletedTopics ?? []) if (this.topics.delete(name)) (removed ??= []).push(name)
    for (const topic of delta.topics ?? []) {
      assert(topic.partitions.every((p, i) => p.partition === i && p.isr.length > 0), `topic ${topic.name} arrives whole, with non-empty ISRs`)
      const before = this.topics.get(topic.name)
      if (before !== undefined && before.topicId !== topic.topicId) (removed ??= []).push(topic.name)
      // Its own array: later changes land in it in place, and the delta may still be read elsewhere.
      this.topics.set(topic.name, { ...topic, partitions: [...topic.partitions] })
    }
    for (const change of delta.partitionChanges ?? []) this.#applyPartitions(change)
    return removed ?? NONE_REMOVED
  }

  #applyPartitions(change: TopicPartitionsDelta): void {
    const topic = this.topics.get(change.name)
    assert(topic !== undefined && topic.topicId === change.topicId, `partitions of ${change.name} arrive after the topic itself`)
    topic.configs = change.configs
    for (const state of change.partitions) {
      assert(state.partition >= 0 && state.partition <= topic.partitions.length && state.isr.length > 0, `partition ${change.name}-${state.partition} replaces one or appends the next, with a non-empty ISR`)
      topic.partitions[state.partition] = state
    }
  }

  /** The whole image as one delta, for a node that starts with nothing. */
  snapshot(): MetadataDelta {
    return {
      version: this.version,
      clusterId: this.clusterId,
      brokers: this.brokers,
      liveBrokers: this.liveBrokers,
      topics: [...this.topics.values()],
      brokerConfigs: this.brokerConfigs,
    }
  }

  partition(topic: string, partition: number): PartitionState | undefined {
    return this.topics.get(topic)?.partitions[partition]
  }

  isLive(brokerId: number): boolean {
    return this.liveBrokers.includes(brokerId)
  }

  endpoint(brokerId: number): BrokerEndpoint | undefined {
    return this.brokers.find((b) => b.nodeId === brokerId)
  }

  /** The controller as clients see it: the lowest live broker, as a KRaft quorum would name one. */
  controllerId(): number {
    return this.liveBrokers.length > 0 ? Math.min(...this.liveBrokers) : -1
  }
}
