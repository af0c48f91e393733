/**
 * `partita start`'s configuration: the file formats, the precedence of file, environment and
 * flags, Kafka's overrides between keys, and refusals of unknown keys and bad values. The last
 * cases run the compiled CLI (`start --print-config`, `start --config`) as a user would.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { envName, environmentEntries, parseJsonConfig, parseProperties, resolveConfig, type ConfigEntry } from '../../src/cli/config.js'
import { CliError } from '../../src/cli/common.js'
import { CONFIG_KEYS, baseSettings } from '../../src/metadata/config-keys.js'
import { resolveBrokerConfig, brokerTopicDefaults } from '../../src/metadata/broker-config.js'
import { TOPIC_CONFIG_DEFAULTS } from '../../src/metadata/topic-configs.js'

const CLI = path.resolve('dist/src/cli/main.js')

function entries(source: string, pairs: Record<string, string>): ConfigEntry[] {
  return Object.entries(pairs).map(([key, value]) => ({ key, value, source }))
}

function thrown(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CliError)
    return (error as Error).message
  }
  throw new Error('expected a CliError')
}

describe('config files', () => {
  it('reads .properties as Kafka writes server.properties: comments, = and :, continuations, escapes', () => {
    const text = ['# a comment', '! another', '', 'log.retention.hours=24', '  num.partitions : 3', 'log.dirs=/var/lib/\\', '    partita', 'advertised.listeners=PLAINTEXT://h\\:1:9092'].join('\n')
    expect(parseProperties(text, 'server.properties').map((e) => [e.key, e.value, e.source])).toEqual([
      ['log.retention.hours', '24', 'file server.properties:4'],
      ['num.partitions', '3', 'file server.properties:5'],
      ['log.dirs', '/var/lib/partita', 'file server.properties:6'],
      ['advertised.listeners', 'PLAINTEXT://h:1:9092', 'file server.properties:8'],
    ])
  })

  it('reads JSON with flat or nested keys, and refuses what is not an object of scalars', () => {
    expect(parseJsonConfig('{"log.retention.ms": 1000, "log": {"segment": {"bytes": "2048"}}, "auto.create.topics.enable": false}', 'c.json')).toEqual([
      { key: 'log.retention.ms', value: '1000', source: 'file c.json' },
      { key: 'log.segment.bytes', value: '2048', source: 'file c.json' },
      { key: 'auto.create.topics.enable', value: 'false', source: 'file c.json' },
    ])
    expect(thrown(() => parseJsonConfig('[1]', 'c.json'))).toBe('config: c.json: expected a JSON object of keys to values')
    expect(thrown(() => parseJsonConfig('{"num.partitions": [1]}', 'c.json'))).toBe('config: c.json: num.partitions must be a string, number or boolean')
    expect(thrown(() => parseJsonConfig('{', 'c.json'))).toMatch(/^config: c\.json: not JSON: /)
  })
})

describe('config precedence', () => {
  it('takes the file, then PARTITA_* variables, then flags, and says where each value came from', () => {
    const file = entries('file a.properties', { 'num.partitions': '2', 'log.retention.ms': '1000', 'min.insync.replicas': '2' })
    const env = environmentEntries({ PARTITA_LOG_RETENTION_MS: '2000', PARTITA_NUM_PARTITIONS: '4', PARTITA_BROKERS: '127.0.0.1:9092', UNRELATED: 'x' })
    const flags = entries('flag --num-partitions', { 'num.partitions': '8' })
    const { settings, values } = resolveConfig(file, env, flags)
    expect(settings.broker).toMatchObject({ numPartitions: 8, minInsyncReplicas: 2, topicDefaults: { 'retention.ms': '2000' } })
    const byKey = Object.fromEntries(values.map((v) => [v.key, v]))
    expect(byKey['num.partitions']).toEqual({ key: 'num.partitions', value: '8', source: 'flag --num-partitions' })
    expect(byKey['log.retention.ms']).toEqual({ key: 'log.retention.ms', value: '2000', source: 'env PARTITA_LOG_RETENTION_MS' })
    expect(byKey['min.insync.replicas']).toEqual({ key: 'min.insync.replicas', value: '2', source: 'file a.properties' })
    expect(byKey['message.max.bytes']).toEqual({ key: 'message.max.bytes', value: '1048588', source: 'default' })
    expect(envName('log.retention.ms')).toBe('PARTITA_LOG_RETENTION_MS')
  })

  it('lets log.retention.ms override .minutes and .hours whatever source set each, as Kafka does', () => {
    const hoursOnly = resolveConfig(entries('flag', { 'log.retention.hours': '2' }))
    expect(hoursOnly.settings.broker.topicDefaults).toEqual({ 'retention.ms': String(2 * 3_600_000) })
    const both = resolveConfig(entries('file f', { 'log.retention.ms': '5000' }), entries('flag', { 'log.retention.hours': '2', 'log.retention.minutes': '3' }))
    expect(both.settings.broker.topicDefaults).toEqual({ 'retention.ms': '5000' })
    const forever = resolveConfig(entries('file f', { 'log.retention.hours': '-1' }))
    expect(forever.settings.broker.topicDefaults).toEqual({ 'retention.ms': '-1' })
  })

  it('maps the broker keys onto the broker options, listeners included', () => {
    const { settings } = resolveConfig(
      entries('file f', {
        listeners: 'PLAINTEXT://0.0.0.0:19092',
        'advertised.listeners': 'PLAINTEXT://kafka.example:29092',
        'log.dirs': '/srv/partita',
        'num.brokers': '3',
        'broker.heap.max.mb': '4096',
        'broker.heap.young.max.mb': '96',
        'default.replication.factor': '3',
        'message.max.bytes': '2000000',
        'auto.create.topics.enable': 'false',
        'log.retention.bytes': '1073741824',
        'log.segment.bytes': '16777216',
        'log.cleanup.policy': 'compact,delete',
        'log.flush.interval.messages': '1',
        'log.flush.interval.ms': '100',
        'group.initial.rebalance.delay.ms': '0',
        'admin.port': '19644',
        'admin.host': '0.0.0.0',
        'log.level': 'debug',
      }),
    )
    expect(settings.logLevel).toBe('debug')
    expect(settings.broker).toMatchObject({
      host: '0.0.0.0',
      port: 19092,
      advertisedHost: 'kafka.example',
      advertisedPort: 29092,
      dataDir: '/srv/partita',
      brokers: 3,
      heapMaxMb: 4096,
      heapYoungMaxMb: 96,
      defaultReplicationFactor: 3,
      messageMaxBytes: 2_000_000,
      autoCreateTopics: false,
      groupInitialRebalanceDelayMs: 0,
      adminPort: 19644,
      adminHost: '0.0.0.0',
      topicDefaults: { 'retention.bytes': '1073741824', 'segment.bytes': '16777216', 'cleanup.policy': 'compact,delete', 'flush.messages': '1', 'flush.ms': '100' },
    })
    const perBroker = resolveConfig(entries('flag', { 'advertised.listeners': '0=a:9092,1=b:9093' }))
    expect(perBroker.settings.broker.advertisedListeners).toEqual({ 0: 'a:9092', 1: 'b:9093' })
  })

  it('reads the connection limits by Kafka names, overrides as address:count with IPv6 in brackets', () => {
    const { settings } = resolveConfig(
      entries('file f', {
        'max.connections': '1000',
        'max.connections.per.ip': '50',
        'max.connections.per.ip.overrides': '10.0.0.1:200, [::1]:5',
        'connections.max.idle.ms': '60000',
      }),
    )
    expect(settings.broker).toMatchObject({
      maxConnections: 1000,
      maxConnectionsPerIp: 50,
      maxConnectionsPerIpOverrides: { '10.0.0.1': 200, '::1': 5 },
      connectionsMaxIdleMs: 60_000,
    })
    expect(thrown(() => resolveConfig([{ key: 'max.connections.per.ip.overrides', value: 'localhost:5', source: 'f' }]))).toBe(
      "config: bad value for max.connections.per.ip.overrides (f): 'localhost' is not an IP address (host names are not resolved)",
    )
    expect(thrown(() => resolveConfig([{ key: 'max.connections.per.ip.overrides', value: '10.0.0.1', source: 'f' }]))).toBe(
      "config: bad value for max.connections.per.ip.overrides (f): entries are address:count, got '10.0.0.1'",
    )
  })

  it('accepts every Kafka 3.9 broker key: applies the ones it serves, type-checks and keeps the rest', () => {
    const entries = [
      { key: 'process.roles', value: 'broker,controller', source: 'f:1' },
      { key: 'num.io.threads', value: '16', source: 'f:2' },
      { key: 'controller.listener.names', value: 'CONTROLLER', source: 'f:3' },
      { key: 'listeners', value: 'PLAINTEXT://:9092,CONTROLLER://:9093', source: 'f:4' },
      { key: 'unclean.leader.election.enable', value: 'true', source: 'f:5' },
      { key: 'offsets.retention.minutes', value: '60', source: 'f:6' },
      { key: 'log.dir', value: '/var/partita', source: 'f:7' },
    ]
    const { settings, values } = resolveConfig(entries)
    expect(settings.broker).toMatchObject({ host: '0.0.0.0', port: 9092, offsetsRetentionMinutes: 60, dataDir: '/var/partita' })
    expect(settings.broker.topicDefaults).toEqual({ 'unclean.leader.election.enable': 'true' })
    expect(settings.broker.kafkaStartValues).toMatchObject({ 'process.roles': 'broker,controller', 'num.io.threads': '16', listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093' })
    expect(values.find((v) => v.key === 'num.io.threads')).toEqual({ key: 'num.io.threads', value: '16', source: 'f:2 (accepted, no effect)' })
    expect(thrown(() => resolveConfig([{ key: 'num.io.threads', value: 'many', source: 'f:9' }]))).toBe("config: bad value for num.io.threads (f:9): 'many' is not a whole number")
    // Without controller.listener.names, two listeners are one too many.
    expect(thrown(() => resolveConfig([entries[3]]))).toContain('must name one client listener besides controller.listener.names')
  })

  it("gives each key a default that is the broker's own when unset", () => {
    // Applying every default explicitly must leave what resolveBrokerConfig picks without them.
    const defaults = CONFIG_KEYS.filter((k) => k.defaultValue !== null).map((k) => ({ key: k.key, value: k.defaultValue!, source: 'test' }))
    const applied = resolveConfig(defaults).settings.broker
    const implicit = resolveBrokerConfig(baseSettings().broker, 'd')
    const explicit = resolveBrokerConfig(applied, 'd')
    expect({ ...explicit, topicDefaults: {}, kafkaStartValues: {} }).toEqual({ ...implicit, topicDefaults: {}, kafkaStartValues: {} })
    for (const [name, value] of Object.entries(brokerTopicDefaults(explicit))) expect([name, value]).toEqual([name, TOPIC_CONFIG_DEFAULTS[name]])
  })

  it.each([
    [[{ key: 'log.retention.weeks', value: '1', source: 'file s.properties:3' }], "config: unknown key 'log.retention.weeks' (file s.properties:3)"],
    [[{ key: 'num.partitions', value: 'three', source: 'env PARTITA_NUM_PARTITIONS' }], "config: bad value for num.partitions (env PARTITA_NUM_PARTITIONS): 'three' is not an integer"],
    [[{ key: 'num.partitions', value: '0', source: 'flag --num-partitions' }], "config: bad value for num.partitions (flag --num-partitions): '0' is out of range [1, 2147483647]"],
    [[{ key: 'log.cleanup.policy', value: 'shred', source: 'f' }], "config: bad value for log.cleanup.policy (f): 'shred' is not delete, compact or both"],
    [[{ key: 'auto.create.topics.enable', value: 'yes', source: 'f' }], "config: bad value for auto.create.topics.enable (f): 'yes' is not true or false"],
    [[{ key: 'listeners', value: 'SSL://h:9093', source: 'f' }], "config: bad value for listeners (f): 'SSL://h:9093': only PLAINTEXT listeners are served"],
    [[{ key: 'broker.heap.max.mb', value: '64', source: 'f' }], "config: bad value for broker.heap.max.mb (f): must be 0 (V8's own limit) or at least 256"],
    [[{ key: 'broker.heap.young.max.mb', value: '2', source: 'f' }], "config: bad value for broker.heap.young.max.mb (f): must be 0 (a worker's own) or at least 3"],
    [[{ key: 'log.level', value: 'loud', source: 'f' }], "config: bad value for log.level (f): 'loud' is not one of silent, fatal, error, warn, info, debug, trace"],
  ])('refuses %j in one line', (given, message) => {
    expect(thrown(() => resolveConfig(given))).toBe(message)
  })
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function partita(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARTITA_')))
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('partita start --config and --print-config', () => {
  let dir: string
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-config-'))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('prints each value and its source: flag over PARTITA_* over the file over the default', async () => {
    const file = path.join(dir, 'server.properties')
    fs.writeFileSync(file, 'num.partitions=2\nlog.retention.ms=1000\nlisteners=PLAINTEXT://127.0.0.1:19092\nlog.segment.bytes=1048576\n')
    const run = await partita(['start', '--config', file, '--num-partitions', '6', '--port', '29092', '--format', 'json', '--print-config'], {
      PARTITA_NUM_PARTITIONS: '4',
      PARTITA_LOG_RETENTION_MS: '2000',
    })
    expect(run).toMatchObject({ code: 0, stderr: '' })
    const values = Object.fromEntries(run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { key: string }).map((v) => [v.key, v]))
    expect(values['num.partitions']).toEqual({ key: 'num.partitions', value: '6', source: 'flag --num-partitions' })
    expect(values['log.retention.ms']).toEqual({ key: 'log.retention.ms', value: '2000', source: 'env PARTITA_LOG_RETENTION_MS' })
    expect(values['log.segment.bytes']).toEqual({ key: 'log.segment.bytes', value: '1048576', source: `file ${file}:4` })
    // --port replaces the port of the file's listener and keeps its host.
    expect(values.listeners).toEqual({ key: 'listeners', value: 'PLAINTEXT://127.0.0.1:29092', source: 'flag --port' })
    expect(values['admin.port']).toEqual({ key: 'admin.port', value: '9644', source: 'default' })

    const text = await partita(['start', '--config', file, '--print-config'])
    expect(text.stdout.split('\n')[0]).toMatch(/^KEY\s+VALUE\s+SOURCE$/)
    expect(text.stdout).toMatch(/\nnum\.partitions\s+2\s+file .*server\.properties:1\n/)
  })

  it('refuses an unknown key or a bad value at start with one line and exit 1, before listening', async () => {
    const bad = path.join(dir, 'bad.properties')
    fs.writeFileSync(bad, 'num.partitions=1\nlog.retention.weeks=2\n')
    const unknown = await partita(['start', '--config', bad, '--port', '0', '--data-dir', path.join(dir, 'data')])
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: `partita: config: unknown key 'log.retention.weeks' (file ${bad}:2)\n` })

    const badValue = await partita(['start', '--port', '0', '--data-dir', path.join(dir, 'data')], { PARTITA_LOG_SEGMENT_BYTES: 'big' })
    expect(badValue).toMatchObject({ code: 1, stdout: '', stderr: "partita: config: bad value for log.segment.bytes (env PARTITA_LOG_SEGMENT_BYTES): 'big' is not an integer\n" })

    const badFlag = await partita(['start', '--set', 'log.cleanup.policy=shred', '--port', '0'])
    expect(badFlag).toMatchObject({ code: 1, stderr: "partita: config: bad value for log.cleanup.policy (--set): 'shred' is not delete, compact or both\n" })

    const missing = await partita(['start', '--config', path.join(dir, 'nowhere.json')])
    expect(missing).toMatchObject({ code: 1, stderr: `partita: config: cannot read ${path.join(dir, 'nowhere.json')}: ENOENT\n` })
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false)
  })
})
