/**
 * DescribeConfigs and AlterConfigs over Kafka's config names. A topic config reports its value
 * and its source: the topic's own override (DYNAMIC_TOPIC_CONFIG), a broker-wide default set at
 * start (STATIC_BROKER_CONFIG), or Kafka's default (DEFAULT_CONFIG).
 */
import { ErrorCode } from '../common/error-codes.js'
import { KafkaError } from '../common/errors.js'
import { brokerConfigEntries, brokerTopicDefaults, type BrokerConfig } from './broker-config.js'
import { DYNAMIC_BROKER_KEYS, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT_BROKER, dynamicTopicDefaults, type DynamicBrokerConfigs } from './broker-dynamic-configs.js'
import { KAFKA_BROKER_KEYS, kafkaBrokerKey } from './kafka-broker-keys.js'
import type { AlterConfigOp, ConfigEntry } from './operations.js'
import { TOPIC_CONFIG_KEYS, validateTopicConfigs } from './topic-config-keys.js'

const SOURCE_DYNAMIC_TOPIC = 1
const SOURCE_STATIC_BROKER = 4
const SOURCE_DEFAULT = 5

/** Kafka's defaults for every topic config Kafka 3.9 accepts, by name. */
export const TOPIC_CONFIG_DEFAULTS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(TOPIC_CONFIG_KEYS).map(([name, k]) => [name, k.kafkaDefault])),
)

function entry(name: string, value: string | null, source: number): ConfigEntry {
  return { name, value, readOnly: false, source, isDefault: source === SOURCE_DEFAULT, isSensitive: false }
}

function wanted(names: string[] | null, name: string): boolean {
  return names === null || names.length === 0 || names.includes(name)
}

/** A topic's configs as broker `brokerId` describes them (its own dynamic level over the cluster default's). */
export function describeTopicConfigs(overrides: Record<string, string>, config: BrokerConfig, names: string[] | null, dynamic: DynamicBrokerConfigs = {}, brokerId = -1): ConfigEntry[] {
  const brokerDefaults = brokerTopicDefaults(config)
  const perBroker = dynamicTopicDefaults(dynamic[String(brokerId)] ?? {})
  const clusterDefault = dynamicTopicDefaults(dynamic[''] ?? {})
  const entries: ConfigEntry[] = []
  for (const [name, kafkaDefault] of Object.entries(TOPIC_CONFIG_DEFAULTS)) {
    if (!wanted(names, name)) continue
    if (name in overrides) entries.push(entry(name, overrides[name], SOURCE_DYNAMIC_TOPIC))
    else if (name in perBroker) entries.push(entry(name, perBroker[name], SOURCE_DYNAMIC_BROKER))
    else if (name in clusterDefault) entries.push(entry(name, clusterDefault[name], SOURCE_DYNAMIC_DEFAULT_BROKER))
    else if (name in brokerDefaults && brokerDefaults[name] !== kafkaDefault) entries.push(entry(name, brokerDefaults[name], SOURCE_STATIC_BROKER))
    else entries.push(entry(name, kafkaDefault, SOURCE_DEFAULT))
  }
  return entries
}

/**
 * A broker resource as Kafka describes it: for a broker id, every broker key Kafka 3.9 has (see
 * kafka-broker-keys.ts) and Partita's own, each with its value and source (that broker's dynamic
 * value, the cluster's dynamic default, set at start, or Kafka's default), read-only where Kafka
 * cannot update it dynamically, a sensitive one with a null value; for the cluster default
 * (brokerId null), only the keys set there.
 */
export function describeBrokerConfigs(config: BrokerConfig, names: string[] | null, all: DynamicBrokerConfigs = {}, brokerId: number | null = null): ConfigEntry[] {
  const clusterDefault = all[''] ?? {}
  const shown = (name: string, value: string, source: number): ConfigEntry => {
    const kafka = kafkaBrokerKey(name)
    const sensitive = kafka?.sensitive === true
    return { ...entry(name, sensitive ? null : value, source), isSensitive: sensitive, readOnly: kafka === undefined || kafka.mode === 'read-only' }
  }
  if (brokerId === null) {
    return Object.entries(clusterDefault)
      .filter(([name]) => wanted(names, name))
      .map(([name, value]) => shown(name, value, SOURCE_DYNAMIC_DEFAULT_BROKER))
  }
  const own = all[String(brokerId)] ?? {}
  const statics = brokerConfigEntries(config)
  const topicDefaults = brokerTopicDefaults(config)
  const entries: ConfigEntry[] = []
  const keys = new Set([...KAFKA_BROKER_KEYS.keys(), ...Object.keys(statics)])
  for (const name of keys) {
    if (!wanted(names, name)) continue
    const topicKey = DYNAMIC_BROKER_KEYS[name]
    const kafkaDefault = kafkaBrokerKey(name)?.defaultValue ?? null
    if (Object.hasOwn(own, name)) entries.push(shown(name, own[name], SOURCE_DYNAMIC_BROKER))
    else if (Object.hasOwn(clusterDefault, name)) entries.push(shown(name, clusterDefault[name], SOURCE_DYNAMIC_DEFAULT_BROKER))
    else if (Object.hasOwn(statics, name)) entries.push(shown(name, statics[name], SOURCE_STATIC_BROKER))
    else if (topicKey !== undefined && topicDefaults[topicKey] !== undefined && topicDefaults[topicKey] !== TOPIC_CONFIG_DEFAULTS[topicKey]) {
      entries.push(shown(name, topicDefaults[topicKey], SOURCE_STATIC_BROKER))
    } else if (Object.hasOwn(config.kafkaStartValues, name)) entries.push(shown(name, config.kafkaStartValues[name], SOURCE_STATIC_BROKER))
    else if (topicKey !== undefined) entries.push(shown(name, TOPIC_CONFIG_DEFAULTS[topicKey], SOURCE_DEFAULT))
    else entries.push({ ...shown(name, '', SOURCE_DEFAULT), value: kafkaBrokerKey(name)?.sensitive === true ? null : kafkaDefault })
  }
  return entries
}

/** Refuses a topic config name Partita does not know, as Kafka does, instead of storing it unused. */
function checkTopicConfigNames(names: Iterable<string>): void {
  for (const name of names) {
    if (!Object.hasOwn(TOPIC_CONFIG_DEFAULTS, name)) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown topic config name: ${name}`)
  }
}

/**
 * AlterConfigs replaces the topic's whole override set; IncrementalAlterConfigs applies SET,
 * DELETE, APPEND and SUBTRACT (the last two on list values such as cleanup.policy).
 */
export function applyConfigOps(current: Record<string, string>, ops: AlterConfigOp[], incremental: boolean): Record<string, string> {
  const next: Record<string, string> = incremental ? { ...current } : {}
  checkTopicConfigNames(ops.map((op) => op.name))
  for (const op of ops) {
    const list = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
    if (!incremental || op.op === 0) {
      if (op.value === null) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Null value for config ${op.name}`)
      next[op.name] = op.value
    } else if (op.op === 1) {
      delete next[op.name]
    } else {
      const items = list(next[op.name] ?? TOPIC_CONFIG_DEFAULTS[op.name])
      const changes = list(op.value ?? '')
      const result = op.op === 2 ? [...items, ...changes.filter((c) => !items.includes(c))] : items.filter((i) => !changes.includes(i))
      next[op.name] = result.join(',')
    }
  }
  validateTopicConfigs(next)
  return next
}
