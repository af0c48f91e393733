/**
 * Broker-wide settings, with Kafka's names beside ours so DescribeConfigs can report them and a
 * Kafka user finds what they expect. Defaults are Kafka's except where a single box differs (the
 * housekeeping interval: 10 s instead of 5 minutes).
 */
import { availableParallelism } from 'node:os'
import type { Clock } from '../common/clock.js'
import type { Logger } from '../common/logger.js'
import { dynamicTopicDefaults } from './broker-dynamic-configs.js'

export interface BrokerOptions {
  /** Where logs and metadata live. Default for the embedded broker: a fresh temp dir removed on close. */
  dataDir?: string
  /** The address every broker's listener binds. Default 127.0.0.1. */
  host?: string
  /**
   * Broker 0's port; broker i listens on port + i. 0 picks a free port for each. Default 9092.
   * Each broker node is one shard: one thread with its own listener, partitions and coordinators.
   */
  port?: number
  /** The host clients are told to connect to (behind a proxy or NAT); default: host. */
  advertisedHost?: string
  /** Broker 0's advertised port (broker i: advertisedPort + i); default: each listening port. */
  advertisedPort?: number
  /** Per-broker advertised `host:port`, by broker id; overrides advertisedHost and advertisedPort. */
  advertisedListeners?: Record<number, string>
  /** Brokers on this box, each one shard (worker thread) with its own data directory. Default: one per core. */
  brokers?: number
  numPartitions?: number
  defaultReplicationFactor?: number
  autoCreateTopics?: boolean
  /** Broker-level defaults for topic configs, by Kafka topic-config name (e.g. 'retention.ms'). */
  topicDefaults?: Record<string, string>
  messageMaxBytes?: number
  minInsyncReplicas?: number
  replicaLagTimeMaxMs?: number
  /** producer.id.expiration.ms: a partition forgets a producer idle this long (its sequence and epoch). Default one day. */
  producerIdExpirationMs?: number
  retentionCheckIntervalMs?: number
  groupInitialRebalanceDelayMs?: number
  groupMinSessionTimeoutMs?: number
  groupMaxSessionTimeoutMs?: number
  /** transaction.max.timeout.ms: InitProducerId refuses a longer (or non-positive) transaction timeout. */
  transactionMaxTimeoutMs?: number
  /** transaction.state.log.num.partitions: partitions of __transaction_state, which spread the transaction coordinators. Default 50. */
  transactionStateLogNumPartitions?: number
  /** transaction.state.log.replication.factor: default 3, or the broker count when there are fewer. */
  transactionStateLogReplicationFactor?: number
  /** transaction.state.log.min.isr: min.insync.replicas of __transaction_state. Default 2 (at most its replication factor). */
  transactionStateLogMinIsr?: number
  /** transactional.id.expiration.ms: an idle transactional id is forgotten after this. Default 7 days. */
  transactionalIdExpirationMs?: number
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms: how often timed-out transactions are aborted. Default 10 s. */
  transactionAbortTimedOutCleanupIntervalMs?: number
  /** transaction.partition.verification.enable: verify a transaction's first write to each partition (KIP-890). Default true. */
  transactionPartitionVerificationEnable?: boolean
  socketRequestMaxBytes?: number
  /** max.connections: open client connections one broker's listener holds; past it a new one is closed. Default unlimited. */
  maxConnections?: number
  /** max.connections.per.ip: open connections one broker's listener holds from one address. Default unlimited. */
  maxConnectionsPerIp?: number
  /** max.connections.per.ip.overrides: per-address limits over maxConnectionsPerIp, by IP address. */
  maxConnectionsPerIpOverrides?: Record<string, number>
  /** connections.max.idle.ms: a connection with no traffic and nothing in flight this long is closed. Default 10 minutes. */
  connectionsMaxIdleMs?: number
  /**
   * max.broker.partitions (KIP-578): partition replicas one broker may host; CreateTopics and
   * CreatePartitions past it are refused with POLICY_VIOLATION.
   */
  maxBrokerPartitions?: number
  /** offsets.topic.num.partitions: partitions of __consumer_offsets, which spread the group coordinators. Default 50. */
  offsetsTopicNumPartitions?: number
  /** offsets.topic.replication.factor: default 3, or the broker count when there are fewer. */
  offsetsTopicReplicationFactor?: number
  /** offsets.retention.minutes: how long an Empty group's committed offsets are kept. Default 7 days. */
  offsetsRetentionMinutes?: number
  /** offsets.retention.check.interval.ms: how often expired offsets are looked for. Default 10 minutes. */
  offsetsRetentionCheckIntervalMs?: number
  /** max.incremental.fetch.session.cache.slots: incremental fetch sessions (KIP-227) each broker keeps. Default 1000. */
  maxIncrementalFetchSessionCacheSlots?: number
  /** How often shard workers report in, and how many missed reports mark one unresponsive. */
  heartbeatIntervalMs?: number
  /**
   * broker.heap.max.mb: each broker thread's V8 old generation, in MiB (what -Xmx is to a Kafka
   * broker); 0 leaves V8's own limit. Default HEAP_MAX_MB_DEFAULT.
   */
  heapMaxMb?: number
  /**
   * broker.heap.young.max.mb: each broker thread's V8 young generation, in MiB (what -Xmn is to a
   * Kafka broker); 0 leaves a worker's own (48 MiB on Node 20, 192 on Node 24). Default
   * HEAP_YOUNG_MAX_MB_DEFAULT.
   */
  heapYoungMaxMb?: number
  /**
   * The Kafka broker keys `partita start` was given, by name, as given (see kafka-broker-keys.ts):
   * DescribeConfigs reports them with their static source, those Partita applies and those it
   * accepts with no effect alike.
   */
  kafkaStartValues?: Record<string, string>
  clock?: Clock
  /**
   * Where broker events go (failures, recoveries, each shard's warnings), one call per event: a pino
   * logger fits. Default: warnings and errors as JSON lines on stderr (human lines on a terminal).
   */
  logger?: Logger
  /**
   * The admin HTTP port (admin.port: /metrics, /healthz, /readyz, /v1/status); 0 picks a free
   * one. Default null (off) for the embedded broker, so tests and services that start several
   * brokers never collide on a fixed port; `partita start` turns it on at 9644.
   */
  adminPort?: number | null
  /** The admin HTTP listener's address (admin.host). Default 127.0.0.1. */
  adminHost?: string
  /**
   * The web console and its /v1 JSON API on the admin port (admin.console): read-write (the
   * default), read-only (writes answer 403) or off. It binds wherever the admin port binds.
   */
  adminConsole?: 'read-write' | 'read-only' | 'off'
  /** How often the console's rate history reads the brokers' counters (default 5000; tests go faster). */
  adminConsoleSampleMs?: number
}

export interface BrokerConfig {
  dataDir: string
  host: string
  port: number
  advertisedHost: string
  advertisedPort: number | null
  advertisedListeners: Record<number, string>
  brokers: number
  numPartitions: number
  defaultReplicationFactor: number
  autoCreateTopics: boolean
  topicDefaults: Record<string, string>
  messageMaxBytes: number
  minInsyncReplicas: number
  replicaLagTimeMaxMs: number
  producerIdExpirationMs: number
  retentionCheckIntervalMs: number
  groupInitialRebalanceDelayMs: number
  groupMinSessionTimeoutMs: number
  groupMaxSessionTimeoutMs: number
  transactionMaxTimeoutMs: number
  transactionStateLogNumPartitions: number
  transactionStateLogReplicationFactor: number
  transactionStateLogMinIsr: number
  transactionalIdExpirationMs: number
  transactionAbortTimedOutCleanupIntervalMs: number
  transactionPartitionVerificationEnable: boolean
  socketRequestMaxBytes: number
  maxConnections: number
  maxConnectionsPerIp: number
  maxConnectionsPerIpOverrides: Record<string, number>
  connectionsMaxIdleMs: number
  maxBrokerPartitions: number
  offsetsTopicNumPartitions: number
  offsetsTopicReplicationFactor: number
  offsetsRetentionMinutes: number
  offsetsRetentionCheckIntervalMs: number
  maxIncrementalFetchSessionCacheSlots: number
  heartbeatIntervalMs: number
  heapMaxMb: number
  heapYoungMaxMb: number
  kafkaStartValues: Record<string, string>
}

/**
 * Kafka sets no such limit by default; a broker here hosts every replica in one process, and all
 * brokers share one box's memory and one restart path. 100,000 let the fuzzer's CreatePartitions
 * storms grow three brokers to 43,870 replicas each, 3.7 GB of RSS and restarts of 125 s; this is
 * what bench:partition-growth measured a 2-core box to serve and restart (see the README).
 */
const MAX_BROKER_PARTITIONS_DEFAULT = 30_000

/**
 * Just under the 2 GiB at which V8 lets a heap grow to four times what it retains before its next
 * full collection; below it V8 allows at most about twice (V8's MemoryController scales the factor
 * with the heap limit from 1.3 at 256 MiB to 2 just under 2 GiB, then jumps to 4). A shard retains
 * 20-40 MiB under the fuzzer, so with V8's own limit (4 GiB here) each one's heap swung between
 * about 100 and 200 MiB, and grew with what it retained. At 2000 MiB, two fuzz runs (seed 1) one
 * after the other on one box: RSS 515-569 MiB against 560-657 over their first million frames, at a
 * cost of about a tenth of acks=all RF 3 throughput (0.34-0.35 against 0.36-0.41 M records/s,
 * alternated, bench:protocol:phase acks-all) from the more frequent full collections. 1024 MiB
 * cost a quarter. See the README's fuzzer section.
 */
const HEAP_MAX_MB_DEFAULT = 2000

/**
 * A worker's young generation is 48 MiB on Node 20 and 192 MiB on Node 24 (V8 grows the two
 * semi-spaces to a third of it each under load). Shards get 12, as the CPU pool's threads do.
 *
 * Why small: socket reads, request frames and fetch buffers are ArrayBuffers whose memory lives
 * outside V8's heap, and V8 frees a dead one only when a collection finds it. A shard allocates
 * few JS objects per MiB of records, so with a large young generation scavenges are rare: dead
 * buffers piled up until V8's external-memory check, run as each new buffer is made, started a
 * full collection (perf's call graphs). In a perf profile of the 16 KiB produce phase at 48 MiB,
 * full collections were a quarter of the shards' CPU and scavenges 0.2%; at 12 MiB, 14% and 1%,
 * with the CPU per record the same within noise (three alternated runs each). Memory is where it
 * shows: glibc's arenas held the piled-up buffers, and the broker's peak RSS in the fetch phase
 * fell from 507-514 to 335 MiB (the README's "Where things live" has the table). An earlier
 * measurement that set 96 (small semi-spaces promoted in-flight requests' objects) no longer
 * holds: 20-record produces cost the same at 12 as at 48.
 */
export const HEAP_YOUNG_MAX_MB_DEFAULT = 12

/** Kafka's Int.MaxValue: the default of its connection limits, which means none. */
const INT32_MAX = 2_147_483_647

export function resolveBrokerConfig(options: BrokerOptions, dataDir: string): BrokerConfig {
  const host = options.host ?? '127.0.0.1'
  return {
    dataDir,
    host,
    port: options.port ?? 9092,
    advertisedHost: options.advertisedHost ?? host,
    advertisedPort: options.advertisedPort ?? null,
    advertisedListeners: options.advertisedListeners ?? {},
    brokers: options.brokers ?? availableParallelism(),
    numPartitions: options.numPartitions ?? 1,
    defaultReplicationFactor: options.defaultReplicationFactor ?? 1,
    autoCreateTopics: options.autoCreateTopics ?? true,
    topicDefaults: options.topicDefaults ?? {},
    messageMaxBytes: options.messageMaxBytes ?? 1_048_588,
    minInsyncReplicas: options.minInsyncReplicas ?? 1,
    replicaLagTimeMaxMs: options.replicaLagTimeMaxMs ?? 30_000,
    producerIdExpirationMs: options.producerIdExpirationMs ?? 86_400_000,
    retentionCheckIntervalMs: options.retentionCheckIntervalMs ?? 10_000,
    groupInitialRebalanceDelayMs: options.groupInitialRebalanceDelayMs ?? 3_000,
    groupMinSessionTimeoutMs: options.groupMinSessionTimeoutMs ?? 6_000,
    groupMaxSessionTimeoutMs: options.groupMaxSessionTimeoutMs ?? 1_800_000,
    transactionMaxTimeoutMs: options.transactionMaxTimeoutMs ?? 900_000,
    transactionStateLogNumPartitions: options.transactionStateLogNumPartitions ?? 50,
    transactionStateLogReplicationFactor: options.transactionStateLogReplicationFactor ?? 3,
    transactionStateLogMinIsr: options.transactionStateLogMinIsr ?? 2,
    transactionalIdExpirationMs: options.transactionalIdExpirationMs ?? 604_800_000,
    transactionAbortTimedOutCleanupIntervalMs: options.transactionAbortTimedOutCleanupIntervalMs ?? 10_000,
    transactionPartitionVerificationEnable: options.transactionPartitionVerificationEnable ?? true,
    socketRequestMaxBytes: options.socketRequestMaxBytes ?? 104_857_600,
    maxConnections: options.maxConnections ?? INT32_MAX,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? INT32_MAX,
    maxConnectionsPerIpOverrides: options.maxConnectionsPerIpOverrides ?? {},
    connectionsMaxIdleMs: options.connectionsMaxIdleMs ?? 600_000,
    maxBrokerPartitions: options.maxBrokerPartitions ?? MAX_BROKER_PARTITIONS_DEFAULT,
    offsetsTopicNumPartitions: options.offsetsTopicNumPartitions ?? 50,
    offsetsTopicReplicationFactor: options.offsetsTopicReplicationFactor ?? 3,
    offsetsRetentionMinutes: options.offsetsRetentionMinutes ?? 7 * 24 * 60,
    offsetsRetentionCheckIntervalMs: options.offsetsRetentionCheckIntervalMs ?? 600_000,
    maxIncrementalFetchSessionCacheSlots: options.maxIncrementalFetchSessionCacheSlots ?? 1_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 500,
    heapMaxMb: options.heapMaxMb ?? HEAP_MAX_MB_DEFAULT,
    heapYoungMaxMb: options.heapYoungMaxMb ?? HEAP_YOUNG_MAX_MB_DEFAULT,
    kafkaStartValues: { ...options.kafkaStartValues },
  }
}

/**
 * The broker's defaults for topic configs, by Kafka topic-config name: the broker-wide settings
 * that have a topic-level twin (message.max.bytes is max.message.bytes per topic), then the
 * explicit topic defaults, then the cluster's dynamic broker configs (`dynamic`, by broker key:
 * see broker-dynamic-configs.ts). A topic's own configs override these.
 */
export function brokerTopicDefaults(config: BrokerConfig, dynamic: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    'min.insync.replicas': String(config.minInsyncReplicas),
    'max.message.bytes': String(config.messageMaxBytes),
    ...config.topicDefaults,
    ...dynamicTopicDefaults(dynamic),
  }
}

/** The broker settings DescribeConfigs reports for a broker resource, by Kafka name. */
export function brokerConfigEntries(config: BrokerConfig): Record<string, string> {
  return {
    'num.partitions': String(config.numPartitions),
    'default.replication.factor': String(config.defaultReplicationFactor),
    'auto.create.topics.enable': String(config.autoCreateTopics),
    'message.max.bytes': String(config.messageMaxBytes),
    'min.insync.replicas': String(config.minInsyncReplicas),
    'replica.lag.time.max.ms': String(config.replicaLagTimeMaxMs),
    'producer.id.expiration.ms': String(config.producerIdExpirationMs),
    'log.retention.check.interval.ms': String(config.retentionCheckIntervalMs),
    'group.initial.rebalance.delay.ms': String(config.groupInitialRebalanceDelayMs),
    'group.min.session.timeout.ms': String(config.groupMinSessionTimeoutMs),
    'group.max.session.timeout.ms': String(config.groupMaxSessionTimeoutMs),
    'transaction.max.timeout.ms': String(config.transactionMaxTimeoutMs),
    'transaction.state.log.num.partitions': String(config.transactionStateLogNumPartitions),
    'transaction.state.log.replication.factor': String(config.transactionStateLogReplicationFactor),
    'transaction.state.log.min.isr': String(config.transactionStateLogMinIsr),
    'transactional.id.expiration.ms': String(config.transactionalIdExpirationMs),
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': String(config.transactionAbortTimedOutCleanupIntervalMs),
    'transaction.partition.verification.enable': String(config.transactionPartitionVerificationEnable),
    'socket.request.max.bytes': String(config.socketRequestMaxBytes),
    'max.connections': String(config.maxConnections),
    'max.connections.per.ip': String(config.maxConnectionsPerIp),
    'max.connections.per.ip.overrides': Object.entries(config.maxConnectionsPerIpOverrides).map(([address, n]) => `${address}:${n}`).join(','),
    'connections.max.idle.ms': String(config.connectionsMaxIdleMs),
    'max.broker.partitions': String(config.maxBrokerPartitions),
    'offsets.topic.num.partitions': String(config.offsetsTopicNumPartitions),
    'offsets.topic.replication.factor': String(config.offsetsTopicReplicationFactor),
    'offsets.retention.minutes': String(config.offsetsRetentionMinutes),
    'offsets.retention.check.interval.ms': String(config.offsetsRetentionCheckIntervalMs),
    'max.incremental.fetch.session.cache.slots': String(config.maxIncrementalFetchSessionCacheSlots),
    'log.dirs': config.dataDir,
  }
}
