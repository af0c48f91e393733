import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'
export type TimestampType = 'CreateTime' | 'LogAppendTime'
/**
 * When a partition's records reach the disk (`partita.fsync.mode`): `acks-all` answers an
 * acks=all produce only once its records are fdatasynced (by the shard's group commit) and lets
 * consumers see only records on disk; `off` leaves it to flush.messages / flush.ms and the OS,
 * as Kafka does.
 */
export type FsyncMode = 'acks-all' | 'off'

/** One partition log's settings, named after Kafka's topic configs (units last). */
export interface LogConfig {
  segmentBytes: number
  segmentMs: number
  /** -1 keeps data forever. */
  retentionMs: number
  /** -1 means no size limit. */
  retentionBytes: number
  cleanupPolicy: CleanupPolicy
  deleteRetentionMs: number
  minCompactionLagMs: number
  /** Infinity: a dirty record may wait for a cleaning as long as the dirty ratio allows. */
  maxCompactionLagMs: number
  /** A compacted log is cleaned once its dirty part is more than this share of it (see cleanable.ts). */
  minCleanableDirtyRatio: number
  maxMessageBytes: number
  indexIntervalBytes: number
  /** Infinity leaves flushing to the OS, as Kafka's default Long.MAX_VALUE does. */
  flushMessages: number
  flushMs: number
  fsyncMode: FsyncMode
  messageTimestampType: TimestampType
  /** Not used by the log; kept here so the partition actor reads one config object. */
  minInsyncReplicas: number
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  retentionMs: 604_800_000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 86_400_000,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Infinity,
  minCleanableDirtyRatio: 0.5,
  maxMessageBytes: 1_048_588,
  indexIntervalBytes: 4096,
  flushMessages: Infinity,
  flushMs: Infinity,
  fsyncMode: 'acks-all',
  messageTimestampType: 'CreateTime',
  minInsyncReplicas: 1,
})

const INT32_MAX = 2147483647

function invalid(key: string, value: string, why: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${JSON.stringify(value)} for configuration ${key}: ${why}`)
}

/**
 * Parses a Kafka long. Values past 2^53 (Kafka writes Long.MAX_VALUE for "never") become
 * Infinity, which every comparison in the log treats as "never".
 */
function parseLong(key: string, value: string, min: number): number {
  const trimmed = value.trim()
  if (!/^-?\d+$/.test(trimmed)) throw invalid(key, value, 'not an integer')
  let n = Number(trimmed)
  if (!Number.isSafeInteger(n)) n = n > 0 ? Infinity : -Infinity
  if (n < min) throw invalid(key, value, `must be at least ${min}`)
  return n
}

function parseInt32(key: string, value: string, min: number): number {
  const n = parseLong(key, value, min)
  if (n > INT32_MAX) throw invalid(key, value, `must be at most ${INT32_MAX}`)
  return n
}

function parseRatio(key: string, value: string): number {
  const n = Number(value.trim())
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw invalid(key, value, 'expected a number from 0 to 1')
  return n
}

function parseCleanupPolicy(key: string, value: string): CleanupPolicy {
  const parts = new Set(value.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== ''))
  for (const p of parts) if (p !== 'delete' && p !== 'compact') throw invalid(key, value, 'expected delete and/or compact')
  if (parts.size === 2) return 'compact,delete'
  if (parts.has('compact')) return 'compact'
  if (parts.has('delete')) return 'delete'
  throw invalid(key, value, 'expected delete and/or compact')
}

function parseTimestampType(key: string, value: string): TimestampType {
  if (value === 'CreateTime' || value === 'LogAppendTime') return value
  throw invalid(key, value, 'expected CreateTime or LogAppendTime')
}

function parseFsyncMode(key: string, value: string): FsyncMode {
  const v = value.trim().toLowerCase()
  if (v === 'acks-all' || v === 'off') return v
  throw invalid(key, value, 'expected acks-all or off')
}

type Parser = (key: string, value: string, config: LogConfig) => void

const PARSERS: Record<string, Parser> = {
  'segment.bytes': (k, v, c) => (c.segmentBytes = parseInt32(k, v, 14)),
  'segment.ms': (k, v, c) => (c.segmentMs = parseLong(k, v, 1)),
  'retention.ms': (k, v, c) => (c.retentionMs = parseLong(k, v, -1)),
  'retention.bytes': (k, v, c) => (c.retentionBytes = parseLong(k, v, -1)),
  'cleanup.policy': (k, v, c) => (c.cleanupPolicy = parseCleanupPolicy(k, v)),
  'delete.retention.ms': (k, v, c) => (c.deleteRetentionMs = parseLong(k, v, 0)),
  'min.compaction.lag.ms': (k, v, c) => (c.minCompactionLagMs = parseLong(k, v, 0)),
  'max.compaction.lag.ms': (k, v, c) => (c.maxCompactionLagMs = parseLong(k, v, 1)),
  'min.cleanable.dirty.ratio': (k, v, c) => (c.minCleanableDirtyRatio = parseRatio(k, v)),
  'max.message.bytes': (k, v, c) => (c.maxMessageBytes = parseInt32(k, v, 0)),
  'index.interval.bytes': (k, v, c) => (c.indexIntervalBytes = parseInt32(k, v, 0)),
  'flush.messages': (k, v, c) => (c.flushMessages = parseLong(k, v, 1)),
  'flush.ms': (k, v, c) => (c.flushMs = parseLong(k, v, 0)),
  'partita.fsync.mode': (k, v, c) => (c.fsyncMode = parseFsyncMode(k, v)),
  'message.timestamp.type': (k, v, c) => (c.messageTimestampType = parseTimestampType(k, v)),
  'min.insync.replicas': (k, v, c) => (c.minInsyncReplicas = parseInt32(k, v, 1)),
}

/** The Kafka topic config keys this module understands. */
export const LOG_CONFIG_KEYS: readonly string[] = Object.keys(PARSERS)

/**
 * Builds a LogConfig from Kafka-named entries over `base`. Keys the log does not use (for
 * example compression.type) are ignored; a bad value throws KafkaError(INVALID_CONFIG) naming it.
 */
export function logConfigFromKafka(entries: Record<string, string>, base: LogConfig = DEFAULT_LOG_CONFIG): LogConfig {
  const config: LogConfig = { ...base }
  for (const [key, value] of Object.entries(entries)) {
    const parse = PARSERS[key]
    if (parse !== undefined) parse(key, value, config)
  }
  return config
}
