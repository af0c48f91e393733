/**
 * Broker configs over the wire (resource type BROKER, 4): DescribeConfigs, AlterConfigs and
 * IncrementalAlterConfigs as Kafka 3.x answers them. The cluster default's dynamic log keys take
 * effect on every replica; every refusal is INVALID_REQUEST and changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { MetadataStore } from '../../src/controller/metadata-store.js'
import { KAFKA_BROKER_KEYS } from '../../src/metadata/kafka-broker-keys.js'
import { ApiKey } from '../../src/protocol/index.js'
import { startTestServer, type TestServer } from './helpers.js'
import type { WireClient } from './wire-client.js'

const BROKER = 4
const TOPIC = 2
const SET = 0
const DELETE = 1
const APPEND = 2

let ts: TestServer
let client: WireClient

beforeEach(async () => {
  ts = await startTestServer({ brokers: 1 })
  client = await ts.connect()
  const [created] = await ts.core.createTopics([{ name: 'plain', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
  expect(created.errorCode).toBe(ErrorCode.NONE)
  const [own] = await ts.core.createTopics([{ name: 'own', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': '5000' } }], false)
  expect(own.errorCode).toBe(ErrorCode.NONE)
})

afterEach(async () => {
  await ts.close()
})

function incremental(resourceName: string, configs: Array<{ name: string; configOperation: number; value: string | null }>, validateOnly = false) {
  return client.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: BROKER, resourceName, configs }], validateOnly })
}

async function describeBroker(resourceName: string, keys: string[] | null = null) {
  const response = await client.request(ApiKey.DescribeConfigs, 2, { resources: [{ resourceType: BROKER, resourceName, configurationKeys: keys }], includeSynonyms: false })
  return response.results[0]
}

async function describeTopic(name: string, key: string) {
  const response = await client.request(ApiKey.DescribeConfigs, 2, { resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: [key] }], includeSynonyms: false })
  return response.results[0].configs[0]
}

describe('broker configs', () => {
  it('describes every broker key with its source, dynamic ones writable and the rest read-only', async () => {
    const described = await describeBroker('0')
    expect(described.errorCode).toBe(ErrorCode.NONE)
    const byName = new Map(described.configs.map((c) => [c.name, c]))
    expect(byName.get('num.partitions')).toMatchObject({ readOnly: true, configSource: 4 })
    expect(byName.get('max.incremental.fetch.session.cache.slots')).toMatchObject({ value: '1000', readOnly: true })
    expect(byName.get('log.retention.ms')).toMatchObject({ value: '604800000', readOnly: false, configSource: 5 })
    expect(byName.get('message.max.bytes')).toMatchObject({ value: '1048588', readOnly: false })
    // The cluster default holds only what was set dynamically: nothing yet.
    expect((await describeBroker('')).configs).toEqual([])
  })

  it('sets a dynamic key at the cluster default, and every topic without its own value and every replica take it', async () => {
    const response = await incremental('', [{ name: 'log.retention.ms', configOperation: SET, value: '60000' }])
    expect(response.responses[0]).toMatchObject({ errorCode: ErrorCode.NONE, resourceType: BROKER, resourceName: '' })
    expect((await describeBroker('', null)).configs).toMatchObject([{ name: 'log.retention.ms', value: '60000', configSource: 3, readOnly: false }])
    expect((await describeBroker('0', ['log.retention.ms'])).configs).toMatchObject([{ value: '60000', configSource: 3 }])
    expect(await describeTopic('plain', 'retention.ms')).toMatchObject({ value: '60000', configSource: 3 })
    expect(await describeTopic('own', 'retention.ms')).toMatchObject({ value: '5000', configSource: 1 })
    expect(ts.partitions.partition('plain', 0)!.config?.retentionMs).toBe(60_000)
    expect(ts.partitions.partition('own', 0)!.config?.retentionMs).toBe(5_000)
    // A topic created afterwards starts with it.
    await ts.core.createTopics([{ name: 'later', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    expect(await describeTopic('later', 'retention.ms')).toMatchObject({ value: '60000', configSource: 3 })
  })

  it('deletes a dynamic key back to its static value, appends to a list key, and replaces the whole set with AlterConfigs', async () => {
    await incremental('', [
      { name: 'log.retention.ms', configOperation: SET, value: '60000' },
      { name: 'log.cleanup.policy', configOperation: APPEND, value: 'compact' },
    ])
    // APPEND starts from the value in force: Kafka's default, delete.
    expect((await describeBroker('0', ['log.cleanup.policy'])).configs[0].value).toBe('delete,compact')
    await incremental('', [{ name: 'log.retention.ms', configOperation: DELETE, value: null }])
    expect((await describeBroker('0', ['log.retention.ms'])).configs[0]).toMatchObject({ value: '604800000', configSource: 5 })
    const replaced = await client.request(ApiKey.AlterConfigs, 1, {
      resources: [{ resourceType: BROKER, resourceName: '', configs: [{ name: 'message.max.bytes', value: '2000000' }] }],
      validateOnly: false,
    })
    expect(replaced.responses[0].errorCode).toBe(ErrorCode.NONE)
    expect((await describeBroker('')).configs.map((c) => [c.name, c.value])).toEqual([['message.max.bytes', '2000000']])
    expect(ts.partitions.partition('plain', 0)!.config?.maxMessageBytes).toBe(2_000_000)
  })

  it("sets a dynamic key for one broker over the cluster default, on that broker's replicas", async () => {
    await incremental('', [{ name: 'log.retention.ms', configOperation: SET, value: '60000' }])
    const own = await incremental('0', [{ name: 'log.retention.ms', configOperation: SET, value: '70000' }])
    expect(own.responses[0]).toMatchObject({ errorCode: ErrorCode.NONE, resourceName: '0' })
    expect((await describeBroker('0', ['log.retention.ms'])).configs).toMatchObject([{ value: '70000', configSource: 2, readOnly: false }])
    expect((await describeBroker('')).configs).toMatchObject([{ name: 'log.retention.ms', value: '60000', configSource: 3 }])
    expect(await describeTopic('plain', 'retention.ms')).toMatchObject({ value: '70000', configSource: 2 })
    expect(ts.partitions.partition('plain', 0)!.config?.retentionMs).toBe(70_000)
    await incremental('0', [{ name: 'log.retention.ms', configOperation: DELETE, value: null }])
    expect(ts.partitions.partition('plain', 0)!.config?.retentionMs).toBe(60_000)
  })

  it('answers INVALID_REQUEST for a read-only key, a bad value, an unknown broker or a bad name, INVALID_CONFIG for an unknown key, and changes nothing', async () => {
    const refusals = [
      await incremental('', [
        { name: 'log.retention.ms', configOperation: SET, value: '60000' },
        { name: 'log.dirs', configOperation: SET, value: '/elsewhere' },
      ]),
      await incremental('', [{ name: 'log.retention.ms', configOperation: SET, value: 'soon' }]),
      await incremental('', [{ name: 'no.such.broker.key', configOperation: SET, value: '1' }]),
      await incremental('0', [{ name: 'num.partitions', configOperation: SET, value: '3' }]),
      await incremental('zero', [{ name: 'log.retention.ms', configOperation: SET, value: '60000' }]),
      await incremental('7', [{ name: 'log.retention.ms', configOperation: SET, value: '60000' }]),
    ]
    const invalid = ErrorCode.INVALID_REQUEST
    expect(refusals.map((r) => r.responses[0].errorCode)).toEqual([invalid, invalid, ErrorCode.INVALID_CONFIG, invalid, invalid, invalid])
    expect(refusals[0].responses[0].errorMessage).toContain('Cannot update these configs dynamically: Set(log.dirs)')
    expect((await describeBroker('')).configs).toEqual([])
    expect(ts.partitions.partition('plain', 0)!.config).toBeNull()
  })

  it("describes every broker key of Kafka 3.9 with Kafka's defaults and update modes, sensitive ones without their value", async () => {
    const byName = new Map((await describeBroker('0')).configs.map((c) => [c.name, c]))
    expect(byName.size).toBeGreaterThanOrEqual(KAFKA_BROKER_KEYS.size)
    for (const key of KAFKA_BROKER_KEYS.values()) expect(byName.get(key.name)?.readOnly, key.name).toBe(key.mode === 'read-only')
    expect(byName.get('num.network.threads')).toMatchObject({ value: '3', readOnly: false, configSource: 5, isSensitive: false })
    expect(byName.get('process.roles')).toMatchObject({ value: '', readOnly: true, configSource: 5 })
    expect(byName.get('ssl.keystore.password')).toMatchObject({ value: null, readOnly: false, isSensitive: true })
    expect(byName.get('log.cleaner.min.cleanable.ratio')).toMatchObject({ value: '0.5', readOnly: false, configSource: 5 })
  })

  it('stores a dynamic key Kafka updates without effect here, refuses a per-broker key at the cluster default and a value of the wrong type', async () => {
    const threads = await incremental('', [{ name: 'num.io.threads', configOperation: SET, value: '16' }])
    expect(threads.responses[0]).toMatchObject({ errorCode: ErrorCode.NONE })
    expect((await describeBroker('0', ['num.io.threads'])).configs).toMatchObject([{ value: '16', configSource: 3, readOnly: false }])
    const perBroker = await incremental('', [{ name: 'ssl.keystore.password', configOperation: SET, value: 'secret' }])
    expect(perBroker.responses[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST })
    expect(perBroker.responses[0].errorMessage).toContain('Cannot update these configs at default cluster level, broker id must be specified: Set(ssl.keystore.password)')
    const own = await incremental('0', [{ name: 'ssl.keystore.password', configOperation: SET, value: 'secret' }])
    expect(own.responses[0].errorCode).toBe(ErrorCode.NONE)
    expect((await describeBroker('0', ['ssl.keystore.password'])).configs).toMatchObject([{ value: null, configSource: 2, isSensitive: true }])
    const wrongType = await incremental('', [{ name: 'background.threads', configOperation: SET, value: 'many' }])
    expect(wrongType.responses[0].errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await describeBroker('')).configs.map((c) => c.name)).toEqual(['num.io.threads'])
  })

  it('changes nothing on validateOnly', async () => {
    const response = await incremental('', [{ name: 'log.retention.ms', configOperation: SET, value: '60000' }], true)
    expect(response.responses[0].errorCode).toBe(ErrorCode.NONE)
    expect((await describeBroker('')).configs).toEqual([])
  })

  it('answers INVALID_REQUEST when asked to describe another broker id', async () => {
    const other = await describeBroker('3')
    expect(other).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, configs: [] })
  })

  it('keeps the dynamic broker configs in the metadata store across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'partita-store-'))
    try {
      MetadataStore.open(dir).putBrokerConfigs({ '': { 'log.retention.ms': '60000' }, '0': { 'log.segment.bytes': '1048576' } })
      expect(MetadataStore.open(dir).brokerConfigs()).toEqual({ '': { 'log.retention.ms': '60000' }, '0': { 'log.segment.bytes': '1048576' } })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
