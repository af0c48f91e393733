/**
 * /metrics: a cluster snapshot as Prometheus families. Where Redpanda's public metrics
 * (/public_metrics) have a figure, it keeps Redpanda's name and labels (`redpanda_topic`,
 * `redpanda_partition`, `redpanda_group`, `redpanda_shard`, `redpanda_request`), so dashboards and
 * alerts written for Redpanda work unchanged; a shard is a broker here, so `redpanda_shard` is the
 * broker id. Figures Redpanda does not publish use the `partita_` prefix with the same labels;
 * process figures use Prometheus's standard `process_` names.
 */
import { ApiKey } from '../protocol/index.js'
import { LATENCY_BUCKET_BOUNDS_SECONDS } from '../common/latency-buckets.js'
import type { ClusterSnapshot } from './cluster-snapshot.js'
import { histogramSamples, renderFamilies, type MetricFamily, type Sample } from './prometheus.js'

const NAMESPACE = 'kafka'
const API_NAMES = new Map<number, string>(Object.entries(ApiKey).map(([name, key]) => [key, snakeCase(name)]))

/** Redpanda labels produce and fetch latency `produce` and `consume`; other APIs keep their own name. */
export function requestLabel(apiKey: number): string {
  if (apiKey === ApiKey.Produce) return 'produce'
  if (apiKey === ApiKey.Fetch) return 'consume'
  return API_NAMES.get(apiKey) ?? `api_${apiKey}`
}

export function renderMetrics(snapshot: ClusterSnapshot): string {
  return renderFamilies([...trafficFamilies(snapshot), ...latencyFamilies(snapshot), ...partitionFamilies(snapshot), ...groupFamilies(snapshot), ...shardFamilies(snapshot), ...processFamilies(snapshot)])
}

function trafficFamilies(snapshot: ClusterSnapshot): MetricFamily[] {
  const totals = new Map<string, { recordsIn: number; bytesIn: number; recordsOut: number; bytesOut: number }>()
  for (const node of snapshot.nodes) {
    for (const t of node.topics) {
      const sum = totals.get(t.topic) ?? { recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }
      sum.recordsIn += t.recordsIn
      sum.bytesIn += t.bytesIn
      sum.recordsOut += t.recordsOut
      sum.bytesOut += t.bytesOut
      totals.set(t.topic, sum)
    }
  }
  const topicLabels = (topic: string): Record<string, string> => ({ redpanda_namespace: NAMESPACE, redpanda_topic: topic })
  const entries = [...totals].sort(([a], [b]) => a.localeCompare(b))
  return [
    counter('redpanda_kafka_records_produced_total', 'Records produced to the topic.', entries.map(([topic, t]) => ({ labels: topicLabels(topic), value: t.recordsIn }))),
    counter('redpanda_kafka_records_fetched_total', 'Records fetched from the topic by consumers.', entries.map(([topic, t]) => ({ labels: topicLabels(topic), value: t.recordsOut }))),
    counter(
      'redpanda_kafka_request_bytes_total',
      'Record bytes produced to (redpanda_request="produce") and fetched from (redpanda_request="consume") the topic.',
      entries.flatMap(([topic, t]) => [
        { labels: { ...topicLabels(topic), redpanda_request: 'produce' }, value: t.bytesIn },
        { labels: { ...topicLabels(topic), redpanda_request: 'consume' }, value: t.bytesOut },
      ]),
    ),
  ]
}

function latencyFamilies(snapshot: ClusterSnapshot): MetricFamily[] {
  const bounds = LATENCY_BUCKET_BOUNDS_SECONDS
  const byApi = new Map<number, { bucketCounts: number[]; count: number; sumSeconds: number }>()
  for (const node of snapshot.nodes) {
    for (const r of node.requests) {
      const sum = byApi.get(r.apiKey) ?? { bucketCounts: new Array<number>(bounds.length + 1).fill(0), count: 0, sumSeconds: 0 }
      r.bucketCounts.forEach((c, i) => (sum.bucketCounts[i] += c))
      sum.count += r.count
      sum.sumSeconds += r.sumSeconds
      byApi.set(r.apiKey, sum)
    }
  }
  const samples = [...byApi]
    .sort(([a], [b]) => a - b)
    .flatMap(([apiKey, h]) => histogramSamples({ redpanda_request: requestLabel(apiKey) }, bounds, h.bucketCounts, h.sumSeconds, h.count))
  return [{ name: 'redpanda_kafka_request_latency_seconds', help: 'Time the broker took to answer a request, by Kafka API.', type: 'histogram', samples }]
}

function partitionFamilies(snapshot: ClusterSnapshot): MetricFamily[] {
  const labels = (p: { topic: string; partition: number }): Record<string, string | number> => ({ redpanda_namespace: NAMESPACE, redpanda_topic: p.topic, redpanda_partition: p.partition })
  const known = snapshot.partitions.filter((p) => p.highWatermark !== null)
  const topics = new Set(snapshot.partitions.map((p) => p.topic))
  return [
    gauge('redpanda_cluster_brokers', 'Brokers configured in this process.', [{ labels: {}, value: snapshot.brokers.length }]),
    gauge('redpanda_cluster_topics', 'Topics in the cluster.', [{ labels: {}, value: topics.size }]),
    gauge('redpanda_cluster_partitions', 'Partitions in the cluster.', [{ labels: {}, value: snapshot.partitions.length }]),
    gauge('redpanda_cluster_unavailable_partitions', 'Partitions without a live leader (offline).', [{ labels: {}, value: snapshot.partitions.filter((p) => p.offline).length }]),
    gauge('partita_cluster_under_replicated_partitions', 'Partitions with fewer in-sync (or live) replicas than replicas.', [
      { labels: {}, value: snapshot.partitions.filter((p) => p.underReplicated).length },
    ]),
    gauge(
      'redpanda_kafka_under_replicated_replicas',
      'Replicas of the partition that are not in sync (or not live).',
      snapshot.partitions.map((p) => ({ labels: labels(p), value: p.replicas.filter((id) => !p.isr.includes(id) || !liveBroker(snapshot, id)).length })),
    ),
    gauge('redpanda_kafka_max_offset', "The partition's high watermark: the offset after the last record every in-sync replica holds.", known.map((p) => ({ labels: labels(p), value: p.highWatermark! }))),
    gauge('partita_kafka_log_start_offset', "The partition's log start offset: the first offset still stored.", known.map((p) => ({ labels: labels(p), value: p.logStartOffset! }))),
  ]
}

function groupFamilies(snapshot: ClusterSnapshot): MetricFamily[] {
  const committed: Sample[] = []
  const lag: Sample[] = []
  const lagSeconds: Sample[] = []
  const lagMax: Sample[] = []
  const lagSum: Sample[] = []
  const consumers: Sample[] = []
  for (const g of [...snapshot.groups].sort((a, b) => a.group.localeCompare(b.group))) {
    consumers.push({ labels: { redpanda_group: g.group }, value: g.members })
    let max = 0
    let sum = 0
    for (const p of g.partitions) {
      const labels = { redpanda_group: g.group, redpanda_topic: p.topic, redpanda_partition: p.partition }
      committed.push({ labels, value: p.committedOffset })
      if (p.lag !== null) {
        lag.push({ labels, value: p.lag })
        max = Math.max(max, p.lag)
        sum += p.lag
      }
      if (p.lagSeconds !== null) lagSeconds.push({ labels, value: p.lagSeconds })
    }
    lagMax.push({ labels: { redpanda_group: g.group }, value: max })
    lagSum.push({ labels: { redpanda_group: g.group }, value: sum })
  }
  return [
    gauge('redpanda_kafka_consumer_group_committed_offset', "The group's committed offset for the partition.", committed),
    gauge('redpanda_kafka_consumer_group_consumers', 'Members of the group.', consumers),
    gauge('redpanda_kafka_consumer_group_lag_max', "The group's largest lag over its partitions, in records.", lagMax),
    gauge('redpanda_kafka_consumer_group_lag_sum', "The group's lag summed over its partitions, in records.", lagSum),
    gauge('partita_kafka_consumer_group_lag', "The group's lag on the partition: high watermark minus committed offset.", lag),
    gauge('partita_kafka_consumer_group_lag_seconds', 'Age of the oldest record the group has not consumed on the partition (0 when caught up).', lagSeconds),
  ]
}

function shardFamilies(snapshot: ClusterSnapshot): MetricFamily[] {
  const shard = (id: number): Record<string, number> => ({ redpanda_shard: id })
  const cpu = snapshot.brokers.filter((b) => b.cpuSeconds !== null).map((b) => ({ labels: shard(b.id), value: b.cpuSeconds! }))
  const lag = snapshot.brokers.flatMap((b) =>
    b.eventLoopLag === null
      ? []
      : [
          { labels: { ...shard(b.id), quantile: '0.5' }, value: b.eventLoopLag.p50Seconds },
          { labels: { ...shard(b.id), quantile: '0.99' }, value: b.eventLoopLag.p99Seconds },
          { labels: { ...shard(b.id), quantile: '1' }, value: b.eventLoopLag.maxSeconds },
        ],
  )
  const ringUsed = snapshot.brokers.flatMap((b) =>
    b.ring === null ? [] : [{ labels: { ...shard(b.id), direction: 'in' }, value: b.ring.in.usedBytes }, { labels: { ...shard(b.id), direction: 'out' }, value: b.ring.out.usedBytes }],
  )
  const ringCapacity = snapshot.brokers.flatMap((b) =>
    b.ring === null ? [] : [{ labels: { ...shard(b.id), direction: 'in' }, value: b.ring.in.capacityBytes }, { labels: { ...shard(b.id), direction: 'out' }, value: b.ring.out.capacityBytes }],
  )
  return [
    gauge('redpanda_cluster_broker_up', 'Whether the broker (shard) is running.', snapshot.brokers.map((b) => ({ labels: shard(b.id), value: b.live ? 1 : 0 }))),
    counter('redpanda_cpu_busy_seconds_total', "CPU time the shard's thread has used (user and system).", cpu),
    gauge('partita_shard_event_loop_lag_seconds', "Delay of the shard's event loop since the previous scrape (quantile 1: the largest).", lag),
    gauge('partita_shard_ring_used_bytes', 'Bytes waiting unread in the shared-memory rings into and out of the shard.', ringUsed),
    gauge('partita_shard_ring_capacity_bytes', 'Capacity of the shared-memory rings into and out of the shard.', ringCapacity),
  ]
}

function processFamilies(snapshot: ClusterSnapshot): MetricFamily[] {
  const p = snapshot.process
  const families: MetricFamily[] = [
    gauge('process_resident_memory_bytes', 'Resident set size of the whole process, every shard included.', [{ labels: {}, value: p.residentBytes }]),
    gauge('process_heap_used_bytes', "V8 heap used by the main thread (each shard has its own heap).", [{ labels: {}, value: p.heapUsedBytes }]),
    counter('process_cpu_seconds_total', 'CPU time of the whole process (user and system).', [{ labels: {}, value: p.cpuSeconds }]),
    gauge('process_start_time_seconds', 'When the process started, in seconds since the epoch.', [{ labels: {}, value: p.startTimeSeconds }]),
    counter('redpanda_application_uptime_seconds_total', 'Seconds since the process started.', [{ labels: {}, value: p.uptimeSeconds }]),
  ]
  if (p.openFds !== null) families.push(gauge('process_open_fds', 'Open file descriptors (logs, sockets, rings).', [{ labels: {}, value: p.openFds }]))
  if (p.maxFds !== null) families.push(gauge('process_max_fds', 'The soft limit on open file descriptors.', [{ labels: {}, value: p.maxFds }]))
  if (snapshot.mainThreadCpuSeconds !== null) {
    families.push(counter('partita_main_thread_cpu_seconds_total', "CPU time of the main thread (controller, admin port).", [{ labels: {}, value: snapshot.mainThreadCpuSeconds }]))
  }
  return families
}

function liveBroker(snapshot: ClusterSnapshot, id: number): boolean {
  return snapshot.brokers.find((b) => b.id === id)?.live === true
}

function counter(name: string, help: string, samples: Sample[]): MetricFamily {
  return { name, help, type: 'counter', samples }
}

function gauge(name: string, help: string, samples: Sample[]): MetricFamily {
  return { name, help, type: 'gauge', samples }
}

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()
}
