/**
 * The catalogue of Kafka 3.9's broker keys: every key is named in the README, which says whether
 * it takes effect, and values are checked as Kafka's ConfigDef parses their types.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { KAFKA_BROKER_KEYS, kafkaBrokerKey, kafkaValueProblem } from '../../src/metadata/kafka-broker-keys.js'

describe("Kafka 3.9's broker keys", () => {
  it('are each named in the README\'s "Broker configs" section, as taking effect or accepted with no effect', () => {
    const readme = readFileSync('README.md', 'utf8')
    const section = readme.slice(readme.indexOf('### Broker configs'), readme.indexOf('### Lag monitors'))
    const named = new Set([...section.matchAll(/`([a-zA-Z0-9.]+)`/g)].map((m) => m[1]))
    const missing = [...KAFKA_BROKER_KEYS.keys()].filter((name) => !named.has(name))
    expect(missing).toEqual([])
  })

  it('holds Kafka 3.9\'s defaults, update modes and password types', () => {
    expect(KAFKA_BROKER_KEYS.size).toBe(314)
    expect(kafkaBrokerKey('num.network.threads')).toEqual({ name: 'num.network.threads', type: 'int', defaultValue: '3', mode: 'cluster-wide', sensitive: false })
    expect(kafkaBrokerKey('listeners')).toMatchObject({ defaultValue: 'PLAINTEXT://:9092', mode: 'per-broker' })
    expect(kafkaBrokerKey('process.roles')).toMatchObject({ type: 'list', defaultValue: '', mode: 'read-only' })
    expect(kafkaBrokerKey('sasl.jaas.config')).toMatchObject({ type: 'password', sensitive: true, mode: 'per-broker' })
    expect(kafkaBrokerKey('no.such.key')).toBeUndefined()
  })

  it('checks a value against its type as Kafka parses it', () => {
    const problem = (name: string, value: string) => kafkaValueProblem(kafkaBrokerKey(name)!, value)
    expect(problem('num.io.threads', '16')).toBeNull()
    expect(problem('num.io.threads', 'many')).toBe("'many' is not a whole number")
    expect(problem('num.io.threads', '2147483648')).toBe("'2147483648' is out of range for int [-2147483648, 2147483647]")
    expect(problem('offsets.topic.replication.factor', '40000')).toBe("'40000' is out of range for short [-32768, 32767]")
    expect(problem('log.flush.scheduler.interval.ms', '9223372036854775807')).toBeNull()
    expect(problem('log.flush.scheduler.interval.ms', '9223372036854775808')).toBe("'9223372036854775808' is out of range for long")
    expect(problem('log.cleaner.io.buffer.load.factor', '0.75')).toBeNull()
    expect(problem('log.cleaner.io.buffer.load.factor', 'most')).toBe("'most' is not a number")
    expect(problem('delete.topic.enable', 'TRUE')).toBeNull()
    expect(problem('delete.topic.enable', 'yes')).toBe("'yes' is not true or false")
    expect(problem('process.roles', 'broker,controller')).toBeNull()
  })
})
