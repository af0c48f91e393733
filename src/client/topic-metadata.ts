/**
 * A client's view of topic metadata: partition lists fetched from the core, cached for a bounded
 * time, refreshed on demand after an error that says the view is stale. Topics that are still
 * being created (LEADER_NOT_AVAILABLE, or UNKNOWN_TOPIC_OR_PARTITION right after auto-creation)
 * are retried with backoff before the error is surfaced.
 */
import type { KafkaOperations, PartitionMetadata, TopicMetadata } from '../metadata/operations.js'
import { ErrorCode } from '../common/error-codes.js'
import { backoffMs, isRetriable, kafkaError, sleep, type ResolvedRetry } from './retry.js'

/** Topics cached at once; the least recently fetched are dropped beyond this. */
const CACHED_TOPICS_MAX = 10_000

export class TopicMetadataCache {
  readonly #core: KafkaOperations
  readonly #retry: ResolvedRetry
  readonly #maxAgeMs: number
  readonly #allowAutoCreate: boolean
  readonly #cache = new Map<string, { fetchedAtMs: number; topic: TopicMetadata }>()

  constructor(core: KafkaOperations, retry: ResolvedRetry, options: { maxAgeMs: number; allowAutoCreate: boolean }) {
    this.#core = core
    this.#retry = retry
    this.#maxAgeMs = options.maxAgeMs
    this.#allowAutoCreate = options.allowAutoCreate
  }

  /** The topic's partitions, sorted by index; throws a KafkaError when it cannot be had. */
  async partitions(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.#cache.get(topic)
    if (cached !== undefined && Date.now() - cached.fetchedAtMs < this.#maxAgeMs) return cached.topic.partitions
    return (await this.refresh(topic)).partitions
  }

  async partitionCount(topic: string): Promise<number> {
    return (await this.partitions(topic)).length
  }

  /** Forgets a topic so the next lookup asks the core again. */
  invalidate(topic: string): void {
    this.#cache.delete(topic)
  }

  async refresh(topic: string): Promise<TopicMetadata> {
    // Bounded by the retry count.
    for (let attempt = 0; ; attempt++) {
      const metadata = await this.#core.metadata([topic], this.#allowAutoCreate)
      const found = metadata.topics.find((t) => t.name === topic)
      const errorCode = found === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : found.errorCode
      if (found !== undefined && errorCode === ErrorCode.NONE && found.partitions.length > 0) {
        const sorted = { ...found, partitions: [...found.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex) }
        this.#remember(topic, sorted)
        return sorted
      }
      const code = errorCode === ErrorCode.NONE ? ErrorCode.LEADER_NOT_AVAILABLE : errorCode
      // A missing topic without auto-creation will not appear by waiting; say so at once.
      const waitable = isRetriable(code) && !(code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && !this.#allowAutoCreate)
      if (!waitable || attempt >= this.#retry.retries) throw kafkaError(code, `topic ${topic} metadata`)
      await sleep(backoffMs(this.#retry, attempt))
    }
  }

  #remember(topic: string, metadata: TopicMetadata): void {
    this.#cache.delete(topic)
    if (this.#cache.size >= CACHED_TOPICS_MAX) {
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
    this.#cache.set(topic, { fetchedAtMs: Date.now(), topic: metadata })
  }
}
