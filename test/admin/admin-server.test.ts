/**
 * The admin HTTP port of a running broker: /metrics scraped and parsed as Prometheus text after a
 * produce and a group commit, /healthz, /readyz and /v1/status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { parsePrometheus, valueOf, type ParsedFamily } from './prometheus-text.js'

const TOPIC = 'metered'
const RECORDS = 30
const COMMITTED = 4
const GROUP = 'billing'
let broker: Broker

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(`${broker.adminAddress!.url}${path}`)
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() }
}

beforeAll(async () => {
  broker = await startBroker({ brokers: 2, port: 0, adminPort: 0, offsetsTopicNumPartitions: 2, groupInitialRebalanceDelayMs: 0 })
  await broker.admin.createTopic({ name: TOPIC, partitions: 2, replicationFactor: 2 })
  const producer = broker.producer({ acks: 'all' })
  // Keys chosen so both partitions get records; values of 10 bytes each.
  await producer.send({ topic: TOPIC, messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(10) })) })
  const results = await broker.cluster.groups.commitOffsets({ groupId: GROUP, generationId: -1, memberId: '', offsets: [{ topic: TOPIC, partition: 0, offset: COMMITTED }] })
  expect(results.map((r) => r.errorCode)).toEqual([0])
  // One consumer read of everything, so records and bytes out can be checked too.
  for (const partition of [0, 1]) {
    const [read] = await broker.cluster.fetch([{ topic: TOPIC, partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 }], { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0 })
    expect(read.errorCode).toBe(0)
  }
}, 60_000)

afterAll(async () => {
  await broker?.close()
})

describe('the admin port', () => {
  it('is off unless asked for', async () => {
    await using quiet = await startBroker({ brokers: 1, port: 0 })
    expect(quiet.adminAddress).toBeNull()
  })

  it('answers /healthz with 200 and /readyz with 200 once every partition has a leader', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' })
    const ready = await get('/readyz')
    expect(ready.status).toBe(200)
    expect(JSON.parse(ready.body)).toEqual({ ready: true, reasons: [] })
  })

  it('serves /metrics in Prometheus text format with records, bytes and latency per API', async () => {
    const scraped = await get('/metrics')
    expect(scraped.status).toBe(200)
    expect(scraped.type).toContain('text/plain; version=0.0.4')
    const families = parsePrometheus(scraped.body)
    const topic = { redpanda_namespace: 'kafka', redpanda_topic: TOPIC }
    expect(valueOf(families, 'redpanda_kafka_records_produced_total', topic)).toBe(RECORDS)
    expect(valueOf(families, 'redpanda_kafka_request_bytes_total', { ...topic, redpanda_request: 'produce' })).toBeGreaterThan(RECORDS * 10)
    expect(valueOf(families, 'redpanda_kafka_records_fetched_total', topic)).toBe(RECORDS)
    expect(valueOf(families, 'redpanda_kafka_request_bytes_total', { ...topic, redpanda_request: 'consume' })).toBe(
      valueOf(families, 'redpanda_kafka_request_bytes_total', { ...topic, redpanda_request: 'produce' }),
    )

    const latency = families.get('redpanda_kafka_request_latency_seconds')!
    expect(latency.type).toBe('histogram')
    const produceCount = valueOf(families, 'redpanda_kafka_request_latency_seconds', { redpanda_request: 'produce' }, 'redpanda_kafka_request_latency_seconds_count')
    expect(produceCount).toBeGreaterThanOrEqual(1)
    expectCumulative(latency, 'produce', produceCount)
    // Metadata went to the brokers too (the producer asked for the topic's leaders).
    expect(valueOf(families, 'redpanda_kafka_request_latency_seconds', { redpanda_request: 'metadata' }, 'redpanda_kafka_request_latency_seconds_count')).toBeGreaterThanOrEqual(1)
  })

  it('reports each partition high watermark and log start, and no under-replicated or offline partitions', async () => {
    const families = parsePrometheus((await get('/metrics')).body)
    const at = (partition: number): Record<string, string> => ({ redpanda_topic: TOPIC, redpanda_partition: String(partition) })
    const hw0 = valueOf(families, 'redpanda_kafka_max_offset', at(0))
    const hw1 = valueOf(families, 'redpanda_kafka_max_offset', at(1))
    expect(hw0 + hw1).toBe(RECORDS)
    expect(valueOf(families, 'partita_kafka_log_start_offset', at(0))).toBe(0)
    expect(valueOf(families, 'redpanda_kafka_under_replicated_replicas', at(0))).toBe(0)
    expect(valueOf(families, 'redpanda_cluster_unavailable_partitions')).toBe(0)
    expect(valueOf(families, 'partita_cluster_under_replicated_partitions')).toBe(0)
    expect(valueOf(families, 'redpanda_cluster_brokers')).toBe(2)
  })

  it('reports a group committed offset, its lag and the age of its oldest unconsumed record', async () => {
    const families = parsePrometheus((await get('/metrics')).body)
    const hw0 = valueOf(families, 'redpanda_kafka_max_offset', { redpanda_topic: TOPIC, redpanda_partition: '0' })
    const at = { redpanda_group: GROUP, redpanda_topic: TOPIC, redpanda_partition: '0' }
    expect(valueOf(families, 'redpanda_kafka_consumer_group_committed_offset', at)).toBe(COMMITTED)
    expect(valueOf(families, 'partita_kafka_consumer_group_lag', at)).toBe(hw0 - COMMITTED)
    expect(valueOf(families, 'redpanda_kafka_consumer_group_lag_max', { redpanda_group: GROUP })).toBe(hw0 - COMMITTED)
    const lagSeconds = valueOf(families, 'partita_kafka_consumer_group_lag_seconds', at)
    expect(hw0).toBeGreaterThan(COMMITTED)
    expect(lagSeconds).toBeGreaterThanOrEqual(0)
    expect(lagSeconds).toBeLessThan(600)
  })

  it('reports per-shard CPU, event-loop lag and ring occupancy, and the process memory and open files', async () => {
    const families = parsePrometheus((await get('/metrics')).body)
    for (const shard of ['0', '1']) {
      expect(valueOf(families, 'redpanda_cpu_busy_seconds_total', { redpanda_shard: shard })).toBeGreaterThan(0)
      expect(valueOf(families, 'partita_shard_event_loop_lag_seconds', { redpanda_shard: shard, quantile: '0.99' })).toBeGreaterThanOrEqual(0)
      expect(valueOf(families, 'partita_shard_ring_capacity_bytes', { redpanda_shard: shard, direction: 'in' })).toBeGreaterThan(0)
      expect(valueOf(families, 'partita_shard_ring_used_bytes', { redpanda_shard: shard, direction: 'out' })).toBeGreaterThanOrEqual(0)
      expect(valueOf(families, 'redpanda_cluster_broker_up', { redpanda_shard: shard })).toBe(1)
    }
    expect(valueOf(families, 'process_resident_memory_bytes')).toBeGreaterThan(1 << 20)
    expect(valueOf(families, 'process_open_fds')).toBeGreaterThan(3)
  })

  it('serves /v1/status as JSON with brokers, partitions and groups', async () => {
    const status = await get('/v1/status')
    expect(status.type).toContain('application/json')
    const body = JSON.parse(status.body) as {
      ready: boolean
      brokers: Array<{ id: number; live: boolean; port: number }>
      partitions: Array<{ topic: string; partition: number; leader: number; replicas: number[]; isr: number[]; highWatermark: number }>
      groups: Array<{ group: string; partitions: Array<{ topic: string; partition: number; committedOffset: number; lag: number }> }>
    }
    expect(body.ready).toBe(true)
    expect(body.brokers.map((b) => [b.id, b.live, b.port])).toEqual(broker.ports.map((port, id) => [id, true, port]))
    const partitions = body.partitions.filter((p) => p.topic === TOPIC)
    expect(partitions).toHaveLength(2)
    for (const p of partitions) {
      expect(p.replicas).toHaveLength(2)
      expect(p.isr).toHaveLength(2)
      expect(p.replicas).toContain(p.leader)
    }
    expect(partitions.reduce((sum, p) => sum + p.highWatermark, 0)).toBe(RECORDS)
    const group = body.groups.find((g) => g.group === GROUP)
    expect(group?.partitions).toEqual([expect.objectContaining({ topic: TOPIC, partition: 0, committedOffset: COMMITTED })])
  })

  it('answers an unknown path with 404 listing the routes, and a POST with 405', async () => {
    const missing = await get('/nope')
    expect(missing.status).toBe(404)
    const routes = JSON.parse(missing.body).routes as string[]
    expect(routes.slice(0, 4)).toEqual(['/healthz', '/readyz', '/metrics', '/v1/status'])
    // The console's page and API follow (it is on unless --console off).
    expect(routes).toContain('/')
    expect(routes).toContain('GET /v1/topics/{name}/messages')
    const post = await fetch(`${broker.adminAddress!.url}/metrics`, { method: 'POST' })
    expect(post.status).toBe(405)
    await post.text()
  })
})

/** Histogram buckets of one request label: cumulative, ending at +Inf with the count. */
function expectCumulative(family: ParsedFamily, request: string, count: number): void {
  const buckets = family.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.redpanda_request === request)
  expect(buckets.length).toBeGreaterThan(2)
  for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value)
  expect(buckets.at(-1)!.labels.le).toBe('+Inf')
  expect(buckets.at(-1)!.value).toBe(count)
}
