/**
 * What one broker node counts for /metrics (runs on the node's shard thread). Counting is per
 * request and per batch, never per record: a produce adds its batches' record counts read from
 * their headers, a fetch the same for what it returns, and a request's latency is one bucket
 * increment. The main thread pulls a snapshot on scrape over the control channel; nothing is
 * pushed.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { LATENCY_BUCKET_BOUNDS_SECONDS, latencyBucketOf } from '../common/latency-buckets.js'
import { ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, LOG_OVERHEAD, RECORD_COUNT_OFFSET, RECORDS_OFFSET, isControlBatch } from '../records/record-batch.js'

export interface TopicTraffic {
  topic: string
  recordsIn: number
  bytesIn: number
  recordsOut: number
  bytesOut: number
}

/** A node's answer to the console's rate sampler: its cumulative per-topic counters. */
export interface NodeTraffic {
  nodeId: number
  topics: TopicTraffic[]
}

export interface RequestLatency {
  apiKey: number
  /** Per bucket of LATENCY_BUCKET_BOUNDS_SECONDS, then the overflow (+Inf) bucket; not cumulative. */
  bucketCounts: number[]
  count: number
  sumSeconds: number
}

export interface EventLoopLag {
  /** Since the previous snapshot, in seconds. */
  p50Seconds: number
  p99Seconds: number
  maxSeconds: number
}

/** A partition replica this node hosts, as its replica reports it. */
export interface ReplicaSnapshot {
  topic: string
  partition: number
  role: string
  leaderEpoch: number
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  sizeBytes: number
}

export interface GroupSnapshot {
  group: string
  state: string
  members: number
  offsets: Array<{ topic: string; partition: number; offset: number }>
}

export interface NodeMetricsSnapshot {
  nodeId: number
  topics: TopicTraffic[]
  requests: RequestLatency[]
  eventLoopLag: EventLoopLag
  replicas: ReplicaSnapshot[]
  groups: GroupSnapshot[]
}

/** The sampling resolution of the event-loop delay monitor (its timer fires this often). */
const EVENT_LOOP_RESOLUTION_MS = 10

export class NodeMetrics {
  readonly #topics = new Map<string, TopicTraffic>()
  readonly #requests = new Map<number, RequestLatency>()
  readonly #loop: IntervalHistogram

  constructor() {
    this.#loop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS })
    this.#loop.enable()
  }

  /** Records appended to `topic` (one produce's batches). */
  produced(topic: string, records: Buffer): void {
    const traffic = this.#traffic(topic)
    traffic.recordsIn += recordsIn(records)
    traffic.bytesIn += records.length
  }

  /** Records returned to a consumer from `topic` (one fetch's batches for a partition). */
  fetched(topic: string, records: Buffer): void {
    const traffic = this.#traffic(topic)
    traffic.recordsOut += recordsIn(records)
    traffic.bytesOut += records.length
  }

  /**
   * The per-topic counters alone, for the console's rate sampler: unlike counters(), it leaves the
   * event-loop window of /metrics alone. Topics no longer in `liveTopics` are dropped: a produce or
   * fetch that ended after its topic's deletion counted it again.
   */
  traffic(liveTopics: ReadonlySet<string>): TopicTraffic[] {
    for (const topic of this.#topics.keys()) if (!liveTopics.has(topic)) this.#topics.delete(topic)
    return [...this.#topics.values()].map((t) => ({ ...t }))
  }

  /**
   * Drops the counters of topics the metadata image no longer holds (deleted, or recreated under a
   * new id), so a broker whose topics come and go keeps counters only for the ones that exist,
   * whether or not anyone reads them.
   */
  forgetTopics(removed: readonly string[]): void {
    for (const topic of removed) this.#topics.delete(topic)
  }

  requestDone(apiKey: number, durationMs: number): void {
    let latency = this.#requests.get(apiKey)
    if (latency === undefined) {
      latency = { apiKey, bucketCounts: new Array<number>(LATENCY_BUCKET_BOUNDS_SECONDS.length + 1).fill(0), count: 0, sumSeconds: 0 }
      this.#requests.set(apiKey, latency)
    }
    const seconds = durationMs / 1000
    latency.bucketCounts[latencyBucketOf(seconds)]++
    latency.count++
    latency.sumSeconds += seconds
  }

  /**
   * Counters so far (topics no longer in `liveTopics` are dropped, so deleted topics do not pile
   * up), and the event-loop lag since the previous call.
   */
  counters(liveTopics: ReadonlySet<string>): Pick<NodeMetricsSnapshot, 'topics' | 'requests' | 'eventLoopLag'> {
    const topics = this.traffic(liveTopics)
    const nsToSeconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0)
    const eventLoopLag = {
      p50Seconds: nsToSeconds(this.#loop.percentile(50)),
      p99Seconds: nsToSeconds(this.#loop.percentile(99)),
      maxSeconds: nsToSeconds(this.#loop.max),
    }
    this.#loop.reset()
    return {
      topics,
      requests: [...this.#requests.values()].map((r) => ({ ...r, bucketCounts: [...r.bucketCounts] })),
      eventLoopLag,
    }
  }

  close(): void {
    this.#loop.disable()
  }

  #traffic(topic: string): TopicTraffic {
    let traffic = this.#topics.get(topic)
    if (traffic === undefined) {
      traffic = { topic, recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }
      this.#topics.set(topic, traffic)
    }
    return traffic
  }
}

/**
 * Records in the data batches of `records`, from three header fields per batch (control batches
 * are not records). The bytes were validated on the way in, or come from the log; a truncated
 * last batch (a fetch may end mid-batch) is not counted.
 */
function recordsIn(records: Buffer): number {
  let count = 0
  let pos = 0
  // Bounded: every step advances pos by a batch's whole length, at least its header.
  while (pos + RECORDS_OFFSET <= records.length) {
    const end = pos + LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH_OFFSET)
    if (end > records.length || end < pos + RECORDS_OFFSET) break
    if (!isControlBatch(records.readInt16BE(pos + ATTRIBUTES_OFFSET))) count += records.readInt32BE(pos + RECORD_COUNT_OFFSET)
    pos = end
  }
  return count
}
