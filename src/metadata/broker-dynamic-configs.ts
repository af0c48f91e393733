/**
 * The broker keys that Kafka 3.x updates dynamically (DynamicLogConfig's reconfigurable keys),
 * each with the topic key it is the broker's default of. They are set at the cluster default
 * (kafka-configs --entity-default: the broker resource with an empty name) for every broker, or
 * for one broker (its id as the name), which overrides the cluster default on that broker's
 * replicas; either way every replica without the topic's own override takes the value at once, as
 * in Kafka. Every other broker key is read-only here, as it is in Kafka (or, like listeners, is
 * per-broker dynamic in Kafka but fixed by the shape of one box). What each topic key does, or
 * that it is accepted with no effect, is the topic key's business (README, "Topic configs").
 *
 * Kafka answers every broker config refusal with INVALID_REQUEST (42): a read-only key ("Cannot
 * update these configs dynamically"), a bad value, or a name that is not a broker id.
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import type { AlterConfigOp } from './operations.js'
import { kafkaBrokerKey, kafkaValueProblem } from './kafka-broker-keys.js'
import { validateTopicConfigs } from './topic-config-keys.js'

export const DYNAMIC_BROKER_KEYS: Readonly<Record<string, string>> = Object.freeze({
  'log.segment.bytes': 'segment.bytes',
  'log.roll.ms': 'segment.ms',
  'log.roll.jitter.ms': 'segment.jitter.ms',
  'log.index.size.max.bytes': 'segment.index.bytes',
  'log.flush.interval.messages': 'flush.messages',
  'log.flush.interval.ms': 'flush.ms',
  'log.retention.bytes': 'retention.bytes',
  'log.retention.ms': 'retention.ms',
  'message.max.bytes': 'max.message.bytes',
  'log.index.interval.bytes': 'index.interval.bytes',
  'log.cleaner.delete.retention.ms': 'delete.retention.ms',
  'log.cleaner.min.compaction.lag.ms': 'min.compaction.lag.ms',
  'log.cleaner.max.compaction.lag.ms': 'max.compaction.lag.ms',
  'log.segment.delete.delay.ms': 'file.delete.delay.ms',
  'log.cleaner.min.cleanable.ratio': 'min.cleanable.dirty.ratio',
  'log.cleanup.policy': 'cleanup.policy',
  'unclean.leader.election.enable': 'unclean.leader.election.enable',
  'min.insync.replicas': 'min.insync.replicas',
  'compression.type': 'compression.type',
  'log.preallocate': 'preallocate',
  'log.message.timestamp.type': 'message.timestamp.type',
  'log.message.downconversion.enable': 'message.downconversion.enable',
})

/** Kafka's ConfigSource values that broker entries carry. */
export const SOURCE_DYNAMIC_BROKER = 2
export const SOURCE_DYNAMIC_DEFAULT_BROKER = 3

/** Dynamic broker configs by level: '' the cluster default, '0', '1', ... one broker's own. */
export type DynamicBrokerConfigs = Readonly<Record<string, Readonly<Record<string, string>>>>

/** What is in force on broker `brokerId` (null: the cluster default alone). */
export function dynamicFor(all: DynamicBrokerConfigs, brokerId: number | null): Record<string, string> {
  return { ...all[''], ...(brokerId === null ? {} : all[String(brokerId)]) }
}

/** The cluster default broker resource's dynamic keys as topic-default entries (max.message.bytes for message.max.bytes). */
export function dynamicTopicDefaults(dynamic: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(dynamic)) {
    const topicKey = DYNAMIC_BROKER_KEYS[key]
    if (topicKey !== undefined) out[topicKey] = value
  }
  return out
}

/**
 * One level's dynamic broker configs after `ops` (AlterConfigs replaces them all;
 * IncrementalAlterConfigs applies SET, DELETE, APPEND and SUBTRACT), validated; throws as Kafka
 * does, so nothing changes: a name neither Kafka 3.9 nor Partita has is INVALID_CONFIG; a key
 * Kafka cannot update dynamically (or one of Partita's own), a per-broker key at the cluster
 * default, or a bad value is INVALID_REQUEST. Dynamic keys other than the log defaults above and
 * transaction.partition.verification.enable (read by txn-verification.ts) are stored and
 * described with no effect (README, "Broker configs").
 * `partitaKey` says whether a name is one of Partita's own broker keys; `staticValue` gives a
 * key's value without a dynamic one, which APPEND and SUBTRACT start from.
 */
export function applyBrokerConfigOps(
  current: Readonly<Record<string, string>>,
  ops: AlterConfigOp[],
  incremental: boolean,
  level: { clusterDefault: boolean; resourceName: string },
  partitaKey: (name: string) => boolean,
  staticValue: (name: string) => string | undefined,
): Record<string, string> {
  const names = ops.map((op) => op.name)
  const unknown = names.filter((name) => kafkaBrokerKey(name) === undefined && !partitaKey(name))
  if (unknown.length > 0) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown broker configs: ${unknown.join(', ')}`)
  const readOnly = names.filter((name) => (kafkaBrokerKey(name)?.mode ?? 'read-only') === 'read-only')
  if (readOnly.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Cannot update these configs dynamically: Set(${readOnly.join(', ')})`)
  const perBroker = names.filter((name) => kafkaBrokerKey(name)?.mode === 'per-broker')
  if (level.clusterDefault && perBroker.length > 0) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `Cannot update these configs at default cluster level, broker id must be specified: Set(${perBroker.join(', ')})`)
  }
  const next: Record<string, string> = incremental ? { ...current } : {}
  const list = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const op of ops) {
    if (!incremental || op.op === 0) {
      if (op.value === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value for config ${op.name}`)
      next[op.name] = op.value
    } else if (op.op === 1) {
      delete next[op.name]
    } else {
      const items = list(next[op.name] ?? staticValue(op.name))
      const changes = list(op.value ?? '')
      next[op.name] = (op.op === 2 ? [...items, ...changes.filter((c) => !items.includes(c))] : items.filter((i) => !changes.includes(i))).join(',')
    }
  }
  const invalid = (why: string): KafkaError =>
    new KafkaError(ErrorCode.INVALID_REQUEST, `Invalid config value for resource ConfigResource(type=BROKER, name='${level.resourceName}'): ${why}`)
  for (const [name, value] of Object.entries(next)) {
    const key = kafkaBrokerKey(name)
    const problem = key === undefined ? null : kafkaValueProblem(key, value)
    if (problem !== null) throw invalid(`${name}: ${problem}`)
  }
  try {
    validateTopicConfigs(dynamicTopicDefaults(next))
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error))
  }
  return next
}

/** A broker resource's name: '' for the cluster default, else this cluster's broker id; INVALID_REQUEST otherwise, as Kafka answers. */
export function brokerResourceId(name: string, brokers: number): number | null {
  if (name === '') return null
  if (!/^\d+$/.test(name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`)
  const id = Number(name)
  if (id >= brokers) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected one of 0 to ${brokers - 1} or empty string, but received ${name}`)
  return id
}
