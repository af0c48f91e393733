/**
 * The broker process's configuration keys, by Kafka's names (server.properties), and how each
 * sets a field of BrokerOptions. Keys that have a topic-level twin (log.retention.ms is
 * retention.ms per topic) set the broker-wide topic default, which topics override with Kafka's
 * topic key names. A few keys are Partita's own: num.brokers, broker.heap.max.mb, broker.heap.young.max.mb, admin.host, admin.port, admin.console, log.level.
 *
 * Values are strings, as in a .properties file; a bad one throws ConfigValueError saying why.
 * Where the file, the environment and the flags come from is src/cli/config.ts's business.
 */
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../common/logger.js'
import type { BrokerOptions } from './broker-config.js'

/** Everything `partita start` resolves: the broker's options plus the process's own settings. */
export interface ServerSettings {
  broker: BrokerOptions & { dataDir: string }
  logLevel: LogLevel
  /** Kafka's listener naming (controller.listener.names, listener.security.protocol.map), which picks the client listener. */
  listenerNames: ListenerNames
}

/** Which named listeners are the controller's, and each name's security protocol. */
export interface ListenerNames {
  controller: string[]
  protocols: Record<string, string>
}

export class ConfigValueError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigValueError'
  }
}

export interface ConfigKey {
  key: string
  doc: string
  /** Kafka's default (or Partita's, where it differs); null where unset means "see the key it defers to". */
  defaultValue: string | null
  apply(value: string, settings: ServerSettings): void
}

const LONG_MAX = '9223372036854775807'
const INT32_MAX = 2_147_483_647

function integer(value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const trimmed = value.trim()
  if (!/^-?\d+$/.test(trimmed)) throw new ConfigValueError(`'${value}' is not an integer`)
  const n = Number(trimmed)
  if (n < min || n > max) throw new ConfigValueError(`'${value}' is out of range [${min}, ${max}]`)
  return n
}

/** A Kafka long where Long.MAX_VALUE (and anything past 2^53) means "never". */
function long(value: string, min: number): string {
  const trimmed = value.trim()
  if (!/^-?\d+$/.test(trimmed)) throw new ConfigValueError(`'${value}' is not an integer`)
  const n = Number(trimmed)
  if (n < min) throw new ConfigValueError(`'${value}' must be at least ${min}`)
  return trimmed
}

function boolean(value: string): boolean {
  const v = value.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  throw new ConfigValueError(`'${value}' is not true or false`)
}

function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  const v = value.trim()
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigValueError(`'${value}' is not one of ${allowed.join(', ')}`)
  return v as T
}

function cleanupPolicy(value: string): string {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '')
  if (parts.length === 0 || parts.some((p) => p !== 'delete' && p !== 'compact')) throw new ConfigValueError(`'${value}' is not delete, compact or both`)
  return [...new Set(parts)].join(',')
}

/**
 * The client listener of a Kafka listener list (`PLAINTEXT://host:port`, Kafka's form, or
 * `host:port`); port 0 picks free ports. A KRaft server.properties names a controller listener
 * too (`PLAINTEXT://:9092,CONTROLLER://:9093` with controller.listener.names=CONTROLLER): the
 * controller listeners are set aside (the controller here is in-process), and what remains must
 * be one PLAINTEXT listener (by name, or by listener.security.protocol.map).
 */
export function parseListener(value: string, names: ListenerNames = { controller: [], protocols: {} }): { host: string; port: number } {
  const list = value.split(',').map((v) => v.trim()).filter((v) => v !== '')
  const parsed = list.map((entry) => {
    const match = /^(?:([A-Za-z_][A-Za-z0-9_-]*):\/\/)?(\[[^\]]*\]|[^:]*):(\d+)$/.exec(entry)
    if (match === null) throw new ConfigValueError(`'${entry}' is not PLAINTEXT://host:port`)
    return { name: match[1]?.toUpperCase() ?? 'PLAINTEXT', host: match[2], port: match[3], entry }
  })
  const clients = parsed.filter((l) => !names.controller.includes(l.name))
  if (clients.length !== 1) throw new ConfigValueError(`'${value}' must name one client listener besides controller.listener.names (broker i listens on port + i)`)
  const [client] = clients
  const protocol = names.protocols[client.name] ?? client.name
  if (protocol !== 'PLAINTEXT') throw new ConfigValueError(`'${client.entry}': only PLAINTEXT listeners are served`)
  return { host: client.host === '' ? '0.0.0.0' : client.host.replace(/^\[|\]$/g, ''), port: integer(client.port, 0, 65_535) }
}

/** The listener naming that controller.listener.names and listener.security.protocol.map give (either may be unset). */
export function listenerNames(controller: string | null, protocols: string | null): ListenerNames {
  return {
    controller: (controller ?? '').split(',').map((n) => n.trim().toUpperCase()).filter((n) => n !== ''),
    protocols: protocols === null ? {} : protocolMap(protocols),
  }
}

/** listener.security.protocol.map: `NAME:PROTOCOL,...`. */
function protocolMap(value: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const match = /^([A-Za-z_][A-Za-z0-9_-]*):([A-Za-z_]+)$/.exec(entry)
    if (match === null) throw new ConfigValueError(`entries are NAME:PROTOCOL, got '${entry}'`)
    out[match[1].toUpperCase()] = match[2].toUpperCase()
  }
  return out
}

/**
 * advertised.listeners: `PLAINTEXT://host:port` for broker 0 (broker i: port + i; port 0: each
 * broker's listening port), or per broker `0=host:port,1=host:port`.
 */
function applyAdvertised(value: string, broker: BrokerOptions, names: ListenerNames): void {
  if (/^\s*\d+=/.test(value)) {
    const out: Record<number, string> = {}
    for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
      const match = /^(\d+)=(.+):(\d+)$/.exec(entry)
      if (match === null) throw new ConfigValueError(`entries are id=host:port, got '${entry}'`)
      out[Number(match[1])] = `${match[2]}:${integer(match[3], 1, 65_535)}`
    }
    broker.advertisedListeners = out
    return
  }
  const { host, port } = parseListener(value, names)
  broker.advertisedHost = host
  broker.advertisedPort = port === 0 ? undefined : port
}

/** `address:count,...`; an IPv6 address may be bracketed. Host names are refused: no lookup is made. */
function connectionOverrides(value: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const colon = entry.lastIndexOf(':')
    if (colon <= 0) throw new ConfigValueError(`entries are address:count, got '${entry}'`)
    const address = entry.slice(0, colon).trim().replace(/^\[(.*)\]$/, '$1')
    if (isIP(address) === 0) throw new ConfigValueError(`'${address}' is not an IP address (host names are not resolved)`)
    out[address] = integer(entry.slice(colon + 1), 0, INT32_MAX)
  }
  return out
}

function topicDefault(settings: ServerSettings, name: string, value: string): void {
  settings.broker.topicDefaults = { ...settings.broker.topicDefaults, [name]: value }
}

const HOUR_MS = 3_600_000
/** The smallest broker.heap.max.mb taken: a few hundred partitions' state and the requests in flight fit. */
const HEAP_MAX_MB_MIN = 256
/** The smallest broker.heap.young.max.mb taken: V8 splits it in three (two semi-spaces and the new large-object space) of at least 1 MiB each. */
const HEAP_YOUNG_MAX_MB_MIN = 3

/** An integer up to `max` that is 0 (what `zeroMeans`) or at least `min`. */
function zeroOrAtLeast(v: string, min: number, max: number, zeroMeans: string): number {
  const n = integer(v, 0, max)
  if (n !== 0 && n < min) throw new ConfigValueError(`must be 0 (${zeroMeans}) or at least ${min}`)
  return n
}

/**
 * In application order: a key that Kafka lets override another comes after it (log.retention.ms
 * after .minutes after .hours), whichever source set each.
 */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  {
    key: 'controller.listener.names',
    doc: 'listener names set aside as the controller\'s (its quorum is in-process here)',
    defaultValue: null,
    apply: (v, s) => (s.listenerNames.controller = listenerNames(v, null).controller),
  },
  {
    key: 'listener.security.protocol.map',
    doc: 'security protocol of each listener name; the client listener\'s must be PLAINTEXT',
    defaultValue: 'SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT',
    apply: (v, s) => (s.listenerNames.protocols = protocolMap(v)),
  },
  { key: 'listeners', doc: "broker 0's listener; broker i listens on port + i", defaultValue: 'PLAINTEXT://127.0.0.1:9092', apply: (v, s) => Object.assign(s.broker, parseListener(v, s.listenerNames)) },
  {
    key: 'advertised.listeners',
    doc: 'what clients are told: PLAINTEXT://host:port, or 0=host:port,1=host:port',
    defaultValue: null,
    apply: (v, s) => applyAdvertised(v, s.broker, s.listenerNames),
  },
  {
    key: 'log.dir',
    doc: 'where logs and metadata live, when log.dirs is not set',
    defaultValue: null,
    apply: (v, s) => {
      if (v.trim() === '') throw new ConfigValueError('must not be empty')
      s.broker.dataDir = v.trim()
    },
  },
  {
    key: 'log.dirs',
    doc: 'where logs and metadata live (one directory)',
    defaultValue: './data',
    apply: (v, s) => {
      if (v.includes(',')) throw new ConfigValueError(`'${v}': one directory only`)
      if (v.trim() === '') throw new ConfigValueError('must not be empty')
      s.broker.dataDir = v.trim()
    },
  },
  { key: 'num.brokers', doc: 'brokers on this box, one thread each (Partita)', defaultValue: String(availableParallelism()), apply: (v, s) => (s.broker.brokers = integer(v, 1, 1024)) },
  {
    key: 'broker.heap.max.mb',
    doc: "each broker thread's heap limit in MiB, as -Xmx is a Kafka broker's; 0: V8's own (Partita)",
    defaultValue: '2000',
    apply: (v, s) => (s.broker.heapMaxMb = zeroOrAtLeast(v, HEAP_MAX_MB_MIN, 1_048_576, "V8's own limit")),
  },
  {
    key: 'broker.heap.young.max.mb',
    doc: "each broker thread's young generation in MiB, as -Xmn is a Kafka broker's; 0: a worker's own, 48 on Node 20 and 192 on Node 24 (Partita)",
    defaultValue: '12',
    apply: (v, s) => (s.broker.heapYoungMaxMb = zeroOrAtLeast(v, HEAP_YOUNG_MAX_MB_MIN, 4_096, "a worker's own")),
  },
  { key: 'num.partitions', doc: 'partitions of an auto-created topic', defaultValue: '1', apply: (v, s) => (s.broker.numPartitions = integer(v, 1, INT32_MAX)) },
  { key: 'default.replication.factor', doc: 'replicas of an auto-created topic', defaultValue: '1', apply: (v, s) => (s.broker.defaultReplicationFactor = integer(v, 1, 32_767)) },
  { key: 'min.insync.replicas', doc: 'replicas that must hold a record for acks=all', defaultValue: '1', apply: (v, s) => (s.broker.minInsyncReplicas = integer(v, 1, 32_767)) },
  { key: 'message.max.bytes', doc: 'largest record batch a topic takes', defaultValue: '1048588', apply: (v, s) => (s.broker.messageMaxBytes = integer(v, 0, INT32_MAX)) },
  { key: 'auto.create.topics.enable', doc: 'create unknown topics on metadata and produce', defaultValue: 'true', apply: (v, s) => (s.broker.autoCreateTopics = boolean(v)) },
  { key: 'log.retention.hours', doc: 'topic default retention.ms, in hours', defaultValue: '168', apply: (v, s) => topicDefault(s, 'retention.ms', String(integer(v, -1, INT32_MAX) < 0 ? -1 : Number(v) * HOUR_MS)) },
  { key: 'log.retention.minutes', doc: 'topic default retention.ms, in minutes (over .hours)', defaultValue: null, apply: (v, s) => topicDefault(s, 'retention.ms', String(integer(v, -1, INT32_MAX) < 0 ? -1 : Number(v) * 60_000)) },
  { key: 'log.retention.ms', doc: 'topic default retention.ms (over .minutes and .hours)', defaultValue: null, apply: (v, s) => topicDefault(s, 'retention.ms', long(v, -1)) },
  { key: 'log.retention.bytes', doc: 'topic default retention.bytes', defaultValue: '-1', apply: (v, s) => topicDefault(s, 'retention.bytes', long(v, -1)) },
  { key: 'log.segment.bytes', doc: 'topic default segment.bytes', defaultValue: '1073741824', apply: (v, s) => topicDefault(s, 'segment.bytes', String(integer(v, 14, INT32_MAX))) },
  { key: 'log.roll.hours', doc: 'topic default segment.ms, in hours', defaultValue: '168', apply: (v, s) => topicDefault(s, 'segment.ms', String(integer(v, 1, INT32_MAX) * HOUR_MS)) },
  { key: 'log.roll.ms', doc: 'topic default segment.ms (over log.roll.hours)', defaultValue: null, apply: (v, s) => topicDefault(s, 'segment.ms', long(v, 1)) },
  { key: 'log.cleanup.policy', doc: 'topic default cleanup.policy: delete, compact or both', defaultValue: 'delete', apply: (v, s) => topicDefault(s, 'cleanup.policy', cleanupPolicy(v)) },
  { key: 'log.cleaner.delete.retention.ms', doc: 'topic default delete.retention.ms', defaultValue: '86400000', apply: (v, s) => topicDefault(s, 'delete.retention.ms', long(v, 0)) },
  { key: 'log.flush.interval.messages', doc: 'topic default flush.messages', defaultValue: LONG_MAX, apply: (v, s) => topicDefault(s, 'flush.messages', long(v, 1)) },
  { key: 'log.flush.interval.ms', doc: 'topic default flush.ms', defaultValue: null, apply: (v, s) => topicDefault(s, 'flush.ms', long(v, 0)) },
  {
    key: 'log.partita.fsync.mode',
    doc: 'topic default partita.fsync.mode: acks-all (acks=all answered once on disk) or off (Partita)',
    defaultValue: 'acks-all',
    apply: (v, s) => topicDefault(s, 'partita.fsync.mode', oneOf(v.trim(), ['acks-all', 'off'] as const)),
  },
  {
    key: 'log.message.timestamp.type',
    doc: 'topic default message.timestamp.type',
    defaultValue: 'CreateTime',
    apply: (v, s) => topicDefault(s, 'message.timestamp.type', oneOf(v, ['CreateTime', 'LogAppendTime'] as const)),
  },
  { key: 'log.retention.check.interval.ms', doc: 'how often retention, rolling and compaction run', defaultValue: '10000', apply: (v, s) => (s.broker.retentionCheckIntervalMs = integer(v, 1)) },
  { key: 'group.initial.rebalance.delay.ms', doc: 'wait for more members before the first rebalance', defaultValue: '3000', apply: (v, s) => (s.broker.groupInitialRebalanceDelayMs = integer(v, 0)) },
  { key: 'group.min.session.timeout.ms', doc: 'shortest session a member may ask for', defaultValue: '6000', apply: (v, s) => (s.broker.groupMinSessionTimeoutMs = integer(v, 0)) },
  { key: 'group.max.session.timeout.ms', doc: 'longest session a member may ask for', defaultValue: '1800000', apply: (v, s) => (s.broker.groupMaxSessionTimeoutMs = integer(v, 0)) },
  { key: 'replica.lag.time.max.ms', doc: 'a follower this far behind leaves the ISR', defaultValue: '30000', apply: (v, s) => (s.broker.replicaLagTimeMaxMs = integer(v, 1)) },
  { key: 'producer.id.expiration.ms', doc: "a partition forgets an idle producer's sequence and epoch after this", defaultValue: '86400000', apply: (v, s) => (s.broker.producerIdExpirationMs = integer(v, 1, INT32_MAX)) },
  { key: 'socket.request.max.bytes', doc: 'largest request frame', defaultValue: '104857600', apply: (v, s) => (s.broker.socketRequestMaxBytes = integer(v, 1, INT32_MAX)) },
  { key: 'max.connections', doc: "open client connections one broker's listener holds", defaultValue: String(INT32_MAX), apply: (v, s) => (s.broker.maxConnections = integer(v, 0, INT32_MAX)) },
  { key: 'max.connections.per.ip', doc: "open connections one broker's listener holds from one address", defaultValue: String(INT32_MAX), apply: (v, s) => (s.broker.maxConnectionsPerIp = integer(v, 0, INT32_MAX)) },
  {
    key: 'max.connections.per.ip.overrides',
    doc: 'per-address limits over max.connections.per.ip: 10.0.0.1:100,[::1]:5 (IP addresses, not host names)',
    defaultValue: '',
    apply: (v, s) => (s.broker.maxConnectionsPerIpOverrides = connectionOverrides(v)),
  },
  { key: 'connections.max.idle.ms', doc: 'a connection idle this long (nothing in flight) is closed', defaultValue: '600000', apply: (v, s) => (s.broker.connectionsMaxIdleMs = integer(v, 1, INT32_MAX)) },
  { key: 'max.broker.partitions', doc: 'partition replicas one broker may host', defaultValue: '30000', apply: (v, s) => (s.broker.maxBrokerPartitions = integer(v, 1, INT32_MAX)) },
  { key: 'offsets.topic.num.partitions', doc: 'partitions of __consumer_offsets', defaultValue: '50', apply: (v, s) => (s.broker.offsetsTopicNumPartitions = integer(v, 1, INT32_MAX)) },
  { key: 'offsets.topic.replication.factor', doc: 'replicas of __consumer_offsets (at most the broker count)', defaultValue: '3', apply: (v, s) => (s.broker.offsetsTopicReplicationFactor = integer(v, 1, 32_767)) },
  { key: 'offsets.retention.minutes', doc: "how long an empty group's committed offsets are kept", defaultValue: '10080', apply: (v, s) => (s.broker.offsetsRetentionMinutes = integer(v, 1, INT32_MAX)) },
  {
    key: 'offsets.retention.check.interval.ms',
    doc: 'how often expired committed offsets are looked for',
    defaultValue: '600000',
    apply: (v, s) => (s.broker.offsetsRetentionCheckIntervalMs = integer(v, 1)),
  },
  {
    key: 'max.incremental.fetch.session.cache.slots',
    doc: 'incremental fetch sessions (KIP-227) each broker keeps',
    defaultValue: '1000',
    apply: (v, s) => (s.broker.maxIncrementalFetchSessionCacheSlots = integer(v, 0, INT32_MAX)),
  },
  { key: 'transaction.max.timeout.ms', doc: 'longest transaction.timeout.ms a producer may ask for', defaultValue: '900000', apply: (v, s) => (s.broker.transactionMaxTimeoutMs = integer(v, 1, INT32_MAX)) },
  { key: 'transaction.state.log.num.partitions', doc: 'partitions of __transaction_state', defaultValue: '50', apply: (v, s) => (s.broker.transactionStateLogNumPartitions = integer(v, 1, INT32_MAX)) },
  { key: 'transaction.state.log.replication.factor', doc: 'replicas of __transaction_state (at most the broker count)', defaultValue: '3', apply: (v, s) => (s.broker.transactionStateLogReplicationFactor = integer(v, 1, 32_767)) },
  { key: 'transaction.state.log.min.isr', doc: 'min.insync.replicas of __transaction_state (at most its replicas)', defaultValue: '2', apply: (v, s) => (s.broker.transactionStateLogMinIsr = integer(v, 1, 32_767)) },
  {
    key: 'transaction.partition.verification.enable',
    doc: "verify with the transaction coordinator a transaction's first write to each partition (KIP-890)",
    defaultValue: 'true',
    apply: (v, s) => (s.broker.transactionPartitionVerificationEnable = boolean(v)),
  },
  { key: 'transactional.id.expiration.ms', doc: 'an idle transactional id is forgotten after this', defaultValue: '604800000', apply: (v, s) => (s.broker.transactionalIdExpirationMs = integer(v, 1, INT32_MAX)) },
  {
    key: 'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    doc: 'how often transactions past their timeout are aborted',
    defaultValue: '10000',
    apply: (v, s) => (s.broker.transactionAbortTimedOutCleanupIntervalMs = integer(v, 1, INT32_MAX)),
  },
  { key: 'admin.host', doc: 'address of the admin HTTP port (Partita)', defaultValue: '127.0.0.1', apply: (v, s) => (s.broker.adminHost = v.trim()) },
  { key: 'admin.port', doc: 'admin HTTP port: metrics, health (Partita)', defaultValue: '9644', apply: (v, s) => (s.broker.adminPort = v.trim() === 'off' ? null : integer(v, 0, 65_535)) },
  {
    key: 'admin.console',
    doc: 'the web console on the admin port: read-write, read-only or off (Partita)',
    defaultValue: 'read-write',
    apply: (v, s) => {
      const mode = v.trim()
      if (mode !== 'read-write' && mode !== 'read-only' && mode !== 'off') throw new ConfigValueError(`'${v}' is not read-write, read-only or off`)
      s.broker.adminConsole = mode
    },
  },
  {
    key: 'log.level',
    doc: `the process's log level: ${LOG_LEVELS.join(', ')} (Partita)`,
    defaultValue: 'info',
    apply: (v, s) => {
      const level = v.trim()
      if (!isLogLevel(level)) throw new ConfigValueError(`'${v}' is not one of ${LOG_LEVELS.join(', ')}`)
      s.logLevel = level
    },
  },
]

const BY_KEY = new Map(CONFIG_KEYS.map((k) => [k.key, k]))

export function configKey(key: string): ConfigKey | undefined {
  return BY_KEY.get(key)
}

/** The settings before any key is applied: what an unset key leaves. */
export function baseSettings(): ServerSettings {
  return {
    broker: { dataDir: './data', host: '127.0.0.1', port: 9092, adminHost: '127.0.0.1', adminPort: 9644 },
    logLevel: 'info',
    listenerNames: { controller: [], protocols: {} },
  }
}
