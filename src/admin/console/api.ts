/**
 * The console's JSON API under /v1 (topics, messages, groups). It is a thin client of the
 * broker's own Kafka API: every call goes through the embedded Admin, Producer and cluster
 * operations, which speak Kafka to the broker's own listener, never to partition internals.
 * Refusals carry the broker's own error text; bad input is a 4xx before anything is sent.
 */
import type { Admin } from '../../client/admin.js'
import type { Producer } from '../../client/producer.js'
import type { KafkaOperations } from '../../metadata/operations.js'
import { ErrorCode, errorName } from '../../common/error-codes.js'
import { KafkaError } from '../../common/errors.js'
import { browseMessages, parseBrowse } from './messages.js'
import { describeGroup, listGroupsWithLag, parseReset, resetGroup } from './groups.js'
import { NO_TRAFFIC, topicSizes, trafficJson, type LogDirsSource } from './usage.js'
import type { TrafficRates, TrafficSampler } from '../traffic-history.js'

export type ConsoleMode = 'read-write' | 'read-only' | 'off'
export const CONSOLE_MODES: readonly ConsoleMode[] = ['read-write', 'read-only', 'off']

export interface ConsoleBackend {
  admin: Admin
  cluster: KafkaOperations
  producer: Producer
  /** DescribeLogDirs of one broker, for topic sizes (the wire client). */
  logDirs: LogDirsSource
}

/** A 4xx or 5xx the console answers with `{ error }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

export interface ApiRequest {
  method: string
  /** Path segments after /v1, decoded. */
  segments: string[]
  query: URLSearchParams
  body: unknown
}

/** `sampler`: the rate history, which reads the /metrics counters (null: no rates). */
type Handler = (backend: ConsoleBackend, request: ApiRequest, params: string[], sampler: TrafficSampler | null) => Promise<unknown>

interface Route {
  method: 'GET' | 'POST' | 'DELETE'
  /** Literal segments, or ':' for a parameter. */
  pattern: string[]
  write: boolean
  handler: Handler
}

const TOPIC_CONFIG = 2
const PARTITIONS_MAX = 10_000

const ROUTES: readonly Route[] = [
  { method: 'GET', pattern: ['cluster'], write: false, handler: (b, _r, _p, s) => clusterOverview(b, s) },
  { method: 'GET', pattern: ['traffic'], write: false, handler: async (_b, _r, _p, s) => trafficJson(s) },
  { method: 'GET', pattern: ['topics'], write: false, handler: (b, _r, _p, s) => listTopics(b, s) },
  { method: 'POST', pattern: ['topics'], write: true, handler: (b, r) => createTopic(b, r.body) },
  { method: 'GET', pattern: ['topics', ':'], write: false, handler: (b, _r, [t]) => describeTopic(b, t) },
  { method: 'DELETE', pattern: ['topics', ':'], write: true, handler: (b, _r, [t]) => deleteTopic(b, t) },
  { method: 'POST', pattern: ['topics', ':', 'partitions'], write: true, handler: (b, r, [t]) => addPartitions(b, t, r.body) },
  { method: 'POST', pattern: ['topics', ':', 'configs'], write: true, handler: (b, r, [t]) => alterConfigs(b, t, r.body) },
  { method: 'GET', pattern: ['topics', ':', 'messages'], write: false, handler: (b, r, [t]) => browseMessages(b, t, parseBrowse(r.query)) },
  { method: 'POST', pattern: ['topics', ':', 'messages'], write: true, handler: (b, r, [t]) => produce(b, t, r.body) },
  { method: 'GET', pattern: ['groups'], write: false, handler: (b) => listGroupsWithLag(b) },
  { method: 'GET', pattern: ['groups', ':'], write: false, handler: (b, _r, [g]) => describeGroup(b, g) },
  { method: 'POST', pattern: ['groups', ':', 'reset'], write: true, handler: (b, r, [g]) => resetGroup(b, g, parseReset(r.body)) },
]

/** The paths this API answers, for the 404 listing. */
export const CONSOLE_API_PATHS: readonly string[] = ROUTES.map((r) => `${r.method} /v1/${r.pattern.map((s) => (s === ':' ? '{name}' : s)).join('/')}`)

/** True when /v1/<segments> is one of the console's paths (for any method). */
export function isConsolePath(segments: readonly string[]): boolean {
  return ROUTES.some((r) => match(r.pattern, segments) !== null)
}

export async function handleConsoleApi(backend: ConsoleBackend | null, mode: ConsoleMode, request: ApiRequest, sampler: TrafficSampler | null = null): Promise<{ status: number; value: unknown }> {
  const candidates = ROUTES.filter((r) => match(r.pattern, request.segments) !== null)
  if (mode === 'off' || candidates.length === 0) return { status: 404, value: { error: `no route /v1/${request.segments.join('/')}` } }
  const route = candidates.find((r) => r.method === request.method || (r.method === 'GET' && request.method === 'HEAD'))
  if (route === undefined) return { status: 405, value: { error: `${request.method} is not allowed here; use ${candidates.map((r) => r.method).join(' or ')}` } }
  if (route.write && mode === 'read-only') return { status: 403, value: { error: 'the console is read-only (--console read-only)' } }
  if (backend === null) return { status: 503, value: { error: 'the broker is still starting' } }
  try {
    return { status: route.method === 'POST' ? 201 : 200, value: await route.handler(backend, request, match(route.pattern, request.segments)!, sampler) }
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status, value: { error: error.message } }
    if (error instanceof KafkaError) return { status: statusOfKafkaError(error.errorCode), value: { error: error.message, code: errorName(error.errorCode) } }
    return { status: 500, value: { error: error instanceof Error ? error.message : String(error) } }
  }
}

function match(pattern: readonly string[], segments: readonly string[]): string[] | null {
  if (pattern.length !== segments.length) return null
  const params: string[] = []
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === ':') params.push(segments[i])
    else if (pattern[i] !== segments[i]) return null
  }
  return params
}

const NOT_FOUND: ReadonlySet<number> = new Set([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.GROUP_ID_NOT_FOUND])
const CONFLICT: ReadonlySet<number> = new Set([ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.NON_EMPTY_GROUP])
// Errors that say the broker is unwell rather than that the request was wrong.
const UNAVAILABLE: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_SERVER_ERROR,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
])

function statusOfKafkaError(code: number): number {
  if (NOT_FOUND.has(code)) return 404
  if (CONFLICT.has(code)) return 409
  if (UNAVAILABLE.has(code)) return 503
  return 400
}

// ---------------------------------------------------------------- input

export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object')
  return body as Record<string, unknown>
}

export function intIn(value: unknown, what: string, min: number, max: number, fallback?: number): number {
  if ((value === undefined || value === null || value === '') && fallback !== undefined) return fallback
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n)) throw new HttpError(400, `${what} must be a whole number, got ${JSON.stringify(value) ?? 'nothing'}`)
  if (n < min || n > max) throw new HttpError(400, `${what} must be between ${min} and ${max}, got ${n}`)
  return n
}

function stringRecord(value: unknown, what: string): Record<string, string | null> {
  if (value === undefined) return {}
  const record = objectBody(value)
  for (const [k, v] of Object.entries(record)) {
    if (v !== null && typeof v !== 'string') throw new HttpError(400, `${what}.${k} must be a string or null`)
  }
  return record as Record<string, string | null>
}

// ---------------------------------------------------------------- cluster and topics

async function clusterOverview(b: ConsoleBackend, sampler: TrafficSampler | null): Promise<unknown> {
  const metadata = await b.cluster.metadata(null, false)
  const topics = metadata.topics.filter((t) => t.errorCode === ErrorCode.NONE)
  const partitions = topics.flatMap((t) => t.partitions)
  return {
    clusterId: metadata.clusterId,
    controllerId: metadata.controllerId,
    brokers: metadata.brokers.map((n) => ({ nodeId: n.nodeId, host: n.host, port: n.port })),
    topics: topics.length,
    partitions: partitions.length,
    underReplicated: partitions.filter((p) => p.isrNodes.length < p.replicaNodes.length).length,
    offline: partitions.filter((p) => p.leaderId < 0).length,
    rates: sampler?.history.rates() ?? NO_TRAFFIC,
  }
}

/** Topics with their partitions, size on disk (every replica) and the last minute's rates. */
async function listTopics(b: ConsoleBackend, sampler: TrafficSampler | null): Promise<unknown> {
  const metadata = await b.cluster.metadata(null, false)
  const topics = metadata.topics.filter((t) => t.errorCode === ErrorCode.NONE).sort((x, y) => (x.name < y.name ? -1 : 1))
  const sizes = await topicSizes(b.logDirs, metadata.brokers.map((n) => n.nodeId))
  const rates = sampler?.history.topicRates() ?? new Map<string, TrafficRates>()
  return {
    topics: topics.map((t) => ({
      name: t.name,
      internal: t.isInternal,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicaNodes.length ?? 0,
      underReplicated: t.partitions.filter((p) => p.isrNodes.length < p.replicaNodes.length).length,
      sizeBytes: sizes.bytes.get(t.name) ?? 0,
      ...(rates.get(t.name) ?? NO_TRAFFIC),
    })),
    sizeUnansweredBrokers: sizes.unanswered,
  }
}

async function describeTopic(b: ConsoleBackend, topic: string): Promise<unknown> {
  const [{ topics }, offsets, configs] = await Promise.all([
    b.admin.fetchTopicMetadata({ topics: [topic] }),
    b.admin.fetchTopicOffsets(topic),
    b.admin.describeConfigs({ resources: [{ type: TOPIC_CONFIG, name: topic }] }),
  ])
  const resource = configs.resources[0]
  if (resource !== undefined && resource.errorCode !== ErrorCode.NONE) throw new KafkaError(resource.errorCode, resource.errorMessage ?? errorName(resource.errorCode))
  return {
    name: topic,
    partitions: topics[0].partitions.map((p) => {
      const o = offsets.find((x) => x.partition === p.partitionId)
      return {
        partition: p.partitionId,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
        offline: p.offlineReplicas,
        logStartOffset: o === undefined ? null : Number(o.low),
        highWatermark: o === undefined ? null : Number(o.high),
      }
    }),
    configs: (resource?.configEntries ?? []).map((c) => ({ name: c.configName, value: c.isSensitive ? null : c.configValue, source: configSource(c.configSource), readOnly: c.readOnly, sensitive: c.isSensitive })),
  }
}

const CONFIG_SOURCES = ['UNKNOWN', 'DYNAMIC_TOPIC_CONFIG', 'DYNAMIC_BROKER_CONFIG', 'DYNAMIC_DEFAULT_BROKER_CONFIG', 'STATIC_BROKER_CONFIG', 'DEFAULT_CONFIG', 'DYNAMIC_BROKER_LOGGER_CONFIG', 'CLIENT_METRICS_CONFIG', 'GROUP_CONFIG']
const configSource = (code: number): string => CONFIG_SOURCES[code] ?? String(code)

async function createTopic(b: ConsoleBackend, raw: unknown): Promise<unknown> {
  const body = objectBody(raw)
  if (typeof body.name !== 'string' || body.name === '') throw new HttpError(400, 'name must be a non-empty string')
  const partitions = intIn(body.partitions, 'partitions', -1, PARTITIONS_MAX, -1)
  const replicationFactor = intIn(body.replicationFactor, 'replicationFactor', -1, 32_767, -1)
  const configs = stringRecord(body.configs, 'configs')
  const created = await b.admin.createTopic({
    name: body.name,
    partitions,
    replicationFactor,
    configs: Object.fromEntries(Object.entries(configs).filter((e): e is [string, string] => e[1] !== null)),
  })
  if (!created) throw new HttpError(409, `TOPIC_ALREADY_EXISTS: topic '${body.name}' already exists`)
  return { created: body.name }
}

async function deleteTopic(b: ConsoleBackend, topic: string): Promise<unknown> {
  await b.admin.deleteTopics({ topics: [topic] })
  return { deleted: topic }
}

async function addPartitions(b: ConsoleBackend, topic: string, raw: unknown): Promise<unknown> {
  const count = intIn(objectBody(raw).count, 'count', 1, PARTITIONS_MAX)
  await b.admin.createPartitions({ topicPartitions: [{ topic, count }] })
  return { topic, partitions: count }
}

/** `{ "configs": { "retention.ms": "1000", "cleanup.policy": null } }`: null resets one to its default. */
async function alterConfigs(b: ConsoleBackend, topic: string, raw: unknown): Promise<unknown> {
  const configs = stringRecord(objectBody(raw).configs, 'configs')
  if (Object.keys(configs).length === 0) throw new HttpError(400, 'configs must name at least one config')
  const answer = await b.admin.incrementalAlterConfigs({ resources: [{ type: TOPIC_CONFIG, name: topic, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }] })
  const failed = answer.resources.find((r) => r.errorCode !== ErrorCode.NONE)
  if (failed !== undefined) throw new KafkaError(failed.errorCode, `${errorName(failed.errorCode)}: ${failed.errorMessage ?? ''}`.trim())
  return { topic, altered: Object.keys(configs) }
}

async function produce(b: ConsoleBackend, topic: string, raw: unknown): Promise<unknown> {
  const body = objectBody(raw)
  const text = (v: unknown, what: string): string | null => {
    if (v === undefined || v === null) return null
    if (typeof v !== 'string') throw new HttpError(400, `${what} must be a string or null`)
    return v
  }
  const key = text(body.key, 'key')
  const value = text(body.value, 'value')
  const headers = Object.fromEntries(Object.entries(stringRecord(body.headers, 'headers')).filter((e): e is [string, string] => e[1] !== null))
  const partition = body.partition === undefined || body.partition === null || body.partition === '' ? undefined : intIn(body.partition, 'partition', 0, PARTITIONS_MAX)
  // The console never creates a topic by producing to a misspelt one.
  await b.admin.fetchTopicMetadata({ topics: [topic] })
  const [result] = await b.producer.send({ topic, acks: -1, messages: [{ key, value, headers, partition }] })
  return { topic, partition: result.partition, offset: Number(result.baseOffset) }
}
