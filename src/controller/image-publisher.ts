/**
 * Keeps every broker node's metadata image current (main thread). Whoever changes cluster state
 * marks what changed (a topic, the live brokers, an endpoint); the changes go out as one versioned
 * delta to every live node, either at the next turn of the event loop (coalescing a burst, such as
 * a failover's ISR reports) or at once when an answer must not overtake them (`flush`): the delta
 * and the answer travel on the same ring, in that order.
 */
import type { DynamicBrokerConfigs } from '../metadata/broker-dynamic-configs.js'
import { MetadataImage, type BrokerEndpoint, type MetadataDelta, type TopicState } from '../metadata/image.js'

/** Marks a topic whose change is not known partition by partition: it goes out whole. */
const WHOLE = 'whole'

export interface ImagePublisherDeps {
  clusterId: string
  topic(name: string): TopicState | undefined
  /** Sends a delta to one node (a tell on its ring). */
  send(nodeId: number, delta: MetadataDelta): void
  /** The brokers serving now, as the image reports them. */
  liveNodes(): number[]
}

export class ImagePublisher {
  readonly #deps: ImagePublisherDeps
  /** The image as the nodes have it, to snapshot for a node that (re)starts. */
  readonly #image = new MetadataImage()
  /** Changed topics: the partitions that changed in each, or WHOLE. */
  readonly #dirtyTopics = new Map<string, Set<number> | typeof WHOLE>()
  #brokersDirty = true
  #brokerConfigs: DynamicBrokerConfigs | null = null
  #scheduled = false
  /** Nodes that hold an image: every delta after their snapshot goes to them, none is skipped. */
  readonly #recipients = new Set<number>()

  constructor(deps: ImagePublisherDeps, brokers: BrokerEndpoint[]) {
    this.#deps = deps
    this.#image.apply({ version: 1, clusterId: deps.clusterId, brokers, liveBrokers: [] })
  }

  get version(): number {
    return this.#image.version
  }

  /**
   * The whole image for a node starting with nothing (after flushing what is pending); from now on
   * the node gets every delta, in order, behind this snapshot on its ring.
   */
  snapshotFor(nodeId: number): MetadataDelta {
    this.flush()
    this.#recipients.add(nodeId)
    return this.#image.snapshot()
  }

  /** The node's shard died: its image died with it. */
  forget(nodeId: number): void {
    this.#recipients.delete(nodeId)
  }

  /**
   * A topic changed: only `partitions` of it (added or changed, and its configs), when named;
   * else the whole of it (created, deleted, shrunk, or not known better).
   */
  topicChanged(name: string, partitions?: Iterable<number>): void {
    const dirty = this.#dirtyTopics.get(name)
    if (partitions === undefined) this.#dirtyTopics.set(name, WHOLE)
    else if (dirty === undefined) this.#dirtyTopics.set(name, new Set(partitions))
    else if (dirty !== WHOLE) for (const partition of partitions) dirty.add(partition)
    this.#schedule()
  }

  brokersChanged(): void {
    this.#brokersDirty = true
    this.#schedule()
  }

  /** The cluster's dynamic broker configs changed (or are first known, at start). */
  setBrokerConfigs(configs: DynamicBrokerConfigs): void {
    this.#brokerConfigs = structuredClone(configs)
    this.#schedule()
  }

  setEndpoint(endpoint: BrokerEndpoint): void {
    this.#image.brokers = this.#image.brokers.map((b) => (b.nodeId === endpoint.nodeId ? endpoint : b))
    this.brokersChanged()
  }

  /** Sends what changed now; returns the image version that holds it. */
  flush(): number {
    if (this.#dirtyTopics.size === 0 && !this.#brokersDirty && this.#brokerConfigs === null) return this.#image.version
    const delta: MetadataDelta = { version: this.#image.version + 1 }
    if (this.#brokerConfigs !== null) delta.brokerConfigs = this.#brokerConfigs
    this.#brokerConfigs = null
    if (this.#brokersDirty) {
      delta.brokers = this.#image.brokers
      delta.liveBrokers = this.#deps.liveNodes()
    }
    for (const [name, dirty] of this.#dirtyTopics) {
      // Copies: the controller goes on mutating its own objects, and the delta must not change
      // while it waits in a ring.
      const topic = this.#deps.topic(name)
      if (topic === undefined) (delta.deletedTopics ??= []).push(name)
      else if (dirty === WHOLE || !this.#holdsAllBut(topic, dirty)) (delta.topics ??= []).push(structuredClone(topic))
      else {
        const partitions = [...dirty].sort((a, b) => a - b).map((partition) => structuredClone(topic.partitions[partition]))
        ;(delta.partitionChanges ??= []).push({ name, topicId: topic.topicId, configs: { ...topic.configs }, partitions })
      }
    }
    this.#dirtyTopics.clear()
    this.#brokersDirty = false
    this.#image.apply(delta)
    for (const nodeId of this.#recipients) this.#deps.send(nodeId, delta)
    return this.#image.version
  }

  /**
   * Whether the nodes' image holds this very topic with every partition but the changed ones,
   * which may only extend it: else (new, recreated, shrunk) it must go out whole.
   */
  #holdsAllBut(topic: TopicState, changed: ReadonlySet<number>): boolean {
    const held = this.#image.topics.get(topic.name)
    if (held === undefined || held.topicId !== topic.topicId || held.partitions.length > topic.partitions.length) return false
    for (let partition = held.partitions.length; partition < topic.partitions.length; partition++) if (!changed.has(partition)) return false
    for (const partition of changed) if (partition < 0 || partition >= topic.partitions.length) return false
    return true
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.flush()
    })
  }
}
