/**
 * Every topic config key Kafka 3.9 accepts, with Kafka's default and whether Partita honours it.
 * A key Partita does not act on is still accepted, validated as Kafka validates it, stored and
 * described back, so a tool or script written for Kafka runs unchanged; the README lists those
 * keys as accepted with no effect. Any other key is refused with INVALID_CONFIG, as Kafka's
 * LogConfig.validateNames does, and the request changes nothing.
 *
 * The keys the log itself reads are checked again by src/storage/log-config.ts, which turns them
 * into numbers; the checks here cover the rest, so that every value stored is one Kafka would take.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'

const LONG_MAX = '9223372036854775807'

/** What Partita does with a key: `honoured` changes behaviour; `accepted` is stored and described only. */
export type TopicConfigEffect = 'honoured' | 'accepted'

export interface TopicConfigKey {
  /** Kafka 3.9's default, as DescribeConfigs reports it. */
  kafkaDefault: string
  effect: TopicConfigEffect
  /** Throws KafkaError(INVALID_CONFIG) for a value Kafka would refuse. */
  validate(name: string, value: string): void
}

function invalid(name: string, value: string, why: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration ${name}: ${why}`)
}

function integer(min: number, max: number = Number.POSITIVE_INFINITY): TopicConfigKey['validate'] {
  return (name, value) => {
    const trimmed = value.trim()
    if (!/^-?\d+$/.test(trimmed)) throw invalid(name, value, 'Not a number of type LONG')
    // Precision past 2^53 does not matter for a range check against small bounds.
    const n = Number(trimmed)
    if (n < min) throw invalid(name, value, `Value must be at least ${min}`)
    if (n > max) throw invalid(name, value, `Value must be no more than ${max}`)
  }
}

function ratio(name: string, value: string): void {
  const n = Number(value.trim())
  if (value.trim() === '' || !Number.isFinite(n)) throw invalid(name, value, 'Not a number of type DOUBLE')
  if (n < 0 || n > 1) throw invalid(name, value, 'Value must be between 0 and 1')
}

function boolean(name: string, value: string): void {
  const v = value.trim().toLowerCase()
  if (v !== 'true' && v !== 'false') throw invalid(name, value, 'Expected value to be either true or false')
}

function oneOf(...allowed: string[]): TopicConfigKey['validate'] {
  return (name, value) => {
    if (!allowed.includes(value.trim().toLowerCase())) throw invalid(name, value, `String must be one of: ${allowed.join(', ')}`)
  }
}

/** A delete/compact list; log-config.ts parses it for the log. */
function cleanupPolicy(name: string, value: string): void {
  const parts = value.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '')
  if (parts.length === 0 || parts.some((p) => p !== 'delete' && p !== 'compact')) {
    throw invalid(name, value, 'Invalid value for cleanup.policy, expected a list of: [delete, compact]')
  }
}

function timestampType(name: string, value: string): void {
  if (value !== 'CreateTime' && value !== 'LogAppendTime') throw invalid(name, value, 'String must be one of: CreateTime, LogAppendTime')
}

/** Kafka's MetadataVersion names: 0.8.0 through 3.9, optionally with an -IVn suffix. */
function messageFormatVersion(name: string, value: string): void {
  if (!/^(0\.(8|9|10|11)(\.\d+){0,2}|[123]\.\d+(\.\d+)?)(-IV\d+)?$/.test(value.trim())) {
    throw invalid(name, value, 'Version must be a Kafka version such as 2.8 or 3.0-IV1')
  }
}

/** Throttled replicas: empty, "*", or partition:broker pairs. */
function throttledReplicas(name: string, value: string): void {
  const v = value.trim()
  if (v === '' || v === '*') return
  for (const pair of v.split(',')) {
    if (!/^\s*\d+\s*:\s*\d+\s*$/.test(pair)) {
      throw invalid(name, value, 'must be the literal \'*\' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...')
    }
  }
}

function key(kafkaDefault: string, effect: TopicConfigEffect, validate: TopicConfigKey['validate']): TopicConfigKey {
  return { kafkaDefault, effect, validate }
}

/** Kafka 3.9's topic configs (LogConfig and the remote-storage keys), and Partita's own, by name. */
export const TOPIC_CONFIG_KEYS: Readonly<Record<string, TopicConfigKey>> = Object.freeze({
  'cleanup.policy': key('delete', 'honoured', cleanupPolicy),
  'compression.gzip.level': key('-1', 'accepted', (n, v) => {
    integer(-1, 9)(n, v)
    if (v.trim() === '0') throw invalid(n, v, 'Value must be -1 or between 1 and 9')
  }),
  'compression.lz4.level': key('9', 'accepted', integer(1, 17)),
  'compression.type': key('producer', 'accepted', oneOf('uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer')),
  'compression.zstd.level': key('3', 'accepted', integer(-131072, 22)),
  'delete.retention.ms': key('86400000', 'honoured', integer(0)),
  'file.delete.delay.ms': key('60000', 'accepted', integer(0)),
  'flush.messages': key(LONG_MAX, 'honoured', integer(1)),
  'flush.ms': key(LONG_MAX, 'honoured', integer(0)),
  'follower.replication.throttled.replicas': key('', 'accepted', throttledReplicas),
  'index.interval.bytes': key('4096', 'honoured', integer(0, 2147483647)),
  'leader.replication.throttled.replicas': key('', 'accepted', throttledReplicas),
  'local.retention.bytes': key('-2', 'accepted', integer(-2)),
  'local.retention.ms': key('-2', 'accepted', integer(-2)),
  'max.compaction.lag.ms': key(LONG_MAX, 'honoured', integer(1)),
  'max.message.bytes': key('1048588', 'honoured', integer(0, 2147483647)),
  'message.downconversion.enable': key('true', 'accepted', boolean),
  'message.format.version': key('3.0-IV1', 'accepted', messageFormatVersion),
  'message.timestamp.after.max.ms': key(LONG_MAX, 'accepted', integer(0)),
  'message.timestamp.before.max.ms': key(LONG_MAX, 'accepted', integer(0)),
  'message.timestamp.difference.max.ms': key(LONG_MAX, 'accepted', integer(0)),
  'message.timestamp.type': key('CreateTime', 'honoured', timestampType),
  'min.cleanable.dirty.ratio': key('0.5', 'honoured', ratio),
  'min.compaction.lag.ms': key('0', 'honoured', integer(0)),
  'min.insync.replicas': key('1', 'honoured', integer(1, 2147483647)),
  'partita.fsync.mode': key('acks-all', 'honoured', oneOf('acks-all', 'off')),
  'preallocate': key('false', 'accepted', boolean),
  'remote.log.copy.disable': key('false', 'accepted', boolean),
  'remote.log.delete.on.disable': key('false', 'accepted', boolean),
  'remote.storage.enable': key('false', 'accepted', boolean),
  'retention.bytes': key('-1', 'honoured', integer(-1)),
  'retention.ms': key('604800000', 'honoured', integer(-1)),
  'segment.bytes': key('1073741824', 'honoured', integer(14, 2147483647)),
  'segment.index.bytes': key('10485760', 'accepted', integer(4, 2147483647)),
  'segment.jitter.ms': key('0', 'accepted', integer(0)),
  'segment.ms': key('604800000', 'honoured', integer(1)),
  'unclean.leader.election.enable': key('false', 'honoured', boolean),
})

/**
 * Checks every name and value as Kafka would before a topic is created or altered: an unknown
 * name or a bad value throws KafkaError(INVALID_CONFIG), so nothing is applied.
 */
export function validateTopicConfigs(configs: Record<string, string>): void {
  for (const [name, value] of Object.entries(configs)) {
    const known = Object.hasOwn(TOPIC_CONFIG_KEYS, name) ? TOPIC_CONFIG_KEYS[name] : undefined
    if (known === undefined) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown topic config name: ${name}`)
    known.validate(name, value)
  }
}
