/**
 * Answers that must match Kafka 3.9's exactly (issue 9, "wrong answers"), over the wire against
 * one broker node of a three-broker cluster: topic config keys, replica assignments and offset
 * commits for topics that do not exist. Every refusal carries Kafka's code and changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { TOPIC_CONFIG_KEYS } from '../../src/metadata/topic-config-keys.js'
import { ApiKey } from '../../src/protocol/index.js'
import { batchOf, startTestServer, type TestServer } from './helpers.js'
import type { WireClient } from './wire-client.js'

const RESOURCE_TOPIC = 2
const SOURCE_DYNAMIC_TOPIC = 1

let ts: TestServer
let client: WireClient

beforeEach(async () => {
  ts = await startTestServer({ brokers: 3 })
  client = await ts.connect()
})

afterEach(async () => {
  await ts.close()
})

async function topicNames(): Promise<string[]> {
  const metadata = await ts.core.metadata(null, false)
  return metadata.topics.map((t) => t.name).filter((name) => !name.startsWith('__'))
}

async function createWith(name: string, configs: Array<{ name: string; value: string }>): Promise<number> {
  const response = await client.request(ApiKey.CreateTopics, 4, { topics: [{ name, numPartitions: 1, replicationFactor: 1, configs }], timeoutMs: 5000 })
  return response.topics[0].errorCode
}

async function describeTopic(name: string): Promise<Map<string, { value: string | null; configSource: number }>> {
  const response = await client.request(ApiKey.DescribeConfigs, 2, { resources: [{ resourceType: RESOURCE_TOPIC, resourceName: name, configurationKeys: null }] })
  expect(response.results[0].errorCode).toBe(ErrorCode.NONE)
  return new Map(response.results[0].configs.map((c) => [c.name, { value: c.value, configSource: c.configSource }]))
}

describe('topic config keys', () => {
  it('refuses an unknown config key in CreateTopics with INVALID_CONFIG and creates nothing', async () => {
    const response = await client.request(ApiKey.CreateTopics, 4, {
      topics: [
        { name: 'bad-key', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'no.such.config', value: '1' }] },
        { name: 'good', numPartitions: 1, replicationFactor: 1, configs: [] },
      ],
      timeoutMs: 5000,
    })
    expect(response.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['bad-key', ErrorCode.INVALID_CONFIG],
      ['good', ErrorCode.NONE],
    ])
    expect(response.topics[0].errorMessage).toContain('no.such.config')
    expect(await topicNames()).toEqual(['good'])
  })

  it('refuses a bad value of a key the log does not use with INVALID_CONFIG', async () => {
    for (const [name, value] of [
      ['compression.type', 'brotli'],
      ['preallocate', 'yes'],
      ['min.cleanable.dirty.ratio', '1.5'],
      ['message.format.version', 'banana'],
      ['leader.replication.throttled.replicas', '0-1'],
      ['compression.gzip.level', '0'],
    ]) {
      expect(await createWith(`bad-${name}`, [{ name, value }]), `${name}=${value}`).toBe(ErrorCode.INVALID_CONFIG)
    }
    expect(await topicNames()).toEqual([])
  })

  it('accepts every topic key Kafka 3.9 accepts and describes each back as the topic set it', async () => {
    const samples: Record<string, string> = {
      'cleanup.policy': 'compact,delete',
      'compression.type': 'zstd',
      'flush.messages': '10000',
      'follower.replication.throttled.replicas': '0:1,0:2',
      'leader.replication.throttled.replicas': '*',
      'message.format.version': '2.8',
      'message.timestamp.type': 'LogAppendTime',
      'min.cleanable.dirty.ratio': '0.25',
      'preallocate': 'true',
      'remote.storage.enable': 'false',
    }
    const configs = Object.keys(TOPIC_CONFIG_KEYS).map((name) => ({ name, value: samples[name] ?? TOPIC_CONFIG_KEYS[name].kafkaDefault }))
    expect(configs.length).toBeGreaterThanOrEqual(36)
    expect(await createWith('all-keys', configs)).toBe(ErrorCode.NONE)
    const described = await describeTopic('all-keys')
    for (const { name, value } of configs) expect(described.get(name), name).toEqual({ value, configSource: SOURCE_DYNAMIC_TOPIC })
  })

  it('accepts message.format.version=2.8 in AlterConfigs and IncrementalAlterConfigs, as Kafka 3.x does', async () => {
    expect(await createWith('legacy', [])).toBe(ErrorCode.NONE)
    const altered = await client.request(ApiKey.AlterConfigs, 1, {
      resources: [{ resourceType: RESOURCE_TOPIC, resourceName: 'legacy', configs: [{ name: 'message.format.version', value: '2.8' }] }],
    })
    expect(altered.responses[0].errorCode).toBe(ErrorCode.NONE)
    expect((await describeTopic('legacy')).get('message.format.version')).toEqual({ value: '2.8', configSource: SOURCE_DYNAMIC_TOPIC })
    const incremental = await client.request(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: RESOURCE_TOPIC, resourceName: 'legacy', configs: [{ name: 'segment.jitter.ms', configOperation: 0, value: '100' }] }],
    })
    expect(incremental.responses[0].errorCode).toBe(ErrorCode.NONE)
    const described = await describeTopic('legacy')
    expect(described.get('segment.jitter.ms')?.value).toBe('100')
    expect(described.get('message.format.version')?.value).toBe('2.8')
  })
})

describe('replica assignments', () => {
  const create = (assignments: Array<{ partitionIndex: number; brokerIds: number[] }>, name = 'assigned') =>
    client.request(ApiKey.CreateTopics, 4, { topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments }], timeoutMs: 5000 })

  it('creates a topic exactly as assigned, each partition led by its first replica', async () => {
    const response = await create([
      { partitionIndex: 0, brokerIds: [2, 0] },
      { partitionIndex: 1, brokerIds: [1, 2] },
      { partitionIndex: 2, brokerIds: [0, 1] },
    ])
    expect(response.topics[0].errorCode).toBe(ErrorCode.NONE)
    const topic = (await ts.core.metadata(['assigned'], false)).topics[0]
    expect(topic.partitions.map((p) => [p.replicaNodes, p.leaderId])).toEqual([
      [[2, 0], 2],
      [[1, 2], 1],
      [[0, 1], 0],
    ])
  })

  it('refuses an unknown broker, uneven replica counts, a duplicate broker or a gap with INVALID_REPLICA_ASSIGNMENT and creates nothing', async () => {
    const bad = [
      [{ partitionIndex: 0, brokerIds: [0, 7] }],
      [
        { partitionIndex: 0, brokerIds: [0, 1] },
        { partitionIndex: 1, brokerIds: [2] },
      ],
      [{ partitionIndex: 0, brokerIds: [1, 1] }],
      [{ partitionIndex: 0, brokerIds: [] }],
      [
        { partitionIndex: 0, brokerIds: [0] },
        { partitionIndex: 2, brokerIds: [1] },
      ],
      [
        { partitionIndex: 0, brokerIds: [0] },
        { partitionIndex: 0, brokerIds: [1] },
      ],
    ]
    for (const assignments of bad) {
      const response = await create(assignments)
      expect(response.topics[0].errorCode, JSON.stringify(assignments)).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT)
    }
    expect(await topicNames()).toEqual([])
  })

  it('refuses assignments given with a partition count or replication factor, as Kafka does', async () => {
    const response = await client.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 'both', numPartitions: 1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [0] }] }],
      timeoutMs: 5000,
    })
    expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect(await topicNames()).toEqual([])
  })

  it('adds partitions exactly as assigned in CreatePartitions and refuses bad assignments without adding any', async () => {
    expect((await create([{ partitionIndex: 0, brokerIds: [0, 1] }], 'grown')).topics[0].errorCode).toBe(ErrorCode.NONE)
    const grow = (count: number, assignments: number[][]) =>
      client.request(ApiKey.CreatePartitions, 1, { topics: [{ name: 'grown', count, assignments: assignments.map((brokerIds) => ({ brokerIds })) }], timeoutMs: 5000, validateOnly: false })
    for (const [count, assignments] of [
      [3, [[1, 2]]], // one list for two new partitions
      [2, [[1, 9]]], // unknown broker
      [2, [[2]]], // the topic has two replicas per partition
      [2, [[2, 2]]], // duplicate
    ] as Array<[number, number[][]]>) {
      const response = await grow(count, assignments)
      expect(response.results[0].errorCode, JSON.stringify(assignments)).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT)
    }
    expect((await ts.core.metadata(['grown'], false)).topics[0].partitions).toHaveLength(1)
    const ok = await grow(3, [[2, 1], [1, 0]])
    expect(ok.results[0].errorCode).toBe(ErrorCode.NONE)
    const topic = (await ts.core.metadata(['grown'], false)).topics[0]
    expect(topic.partitions.map((p) => p.replicaNodes)).toEqual([[0, 1], [2, 1], [1, 0]])
  })
})

describe('OffsetCommit', () => {
  it('answers UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist and stores only the rest', async () => {
    expect(await createWith('real', [])).toBe(ErrorCode.NONE)
    const response = await client.request(ApiKey.OffsetCommit, 8, {
      groupId: 'simple',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        { name: 'ghost', partitions: [{ partitionIndex: 0, committedOffset: 5 }] },
        { name: 'real', partitions: [{ partitionIndex: 0, committedOffset: 3 }, { partitionIndex: 4, committedOffset: 9 }] },
      ],
    })
    expect(response.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])])).toEqual([
      ['ghost', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
      ['real', [[0, ErrorCode.NONE], [4, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    ])
    const fetched = await ts.core.groups.fetchOffsets({ groupId: 'simple', topics: null })
    expect(fetched.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.offset])])).toEqual([['real', [[0, 3]]]])
    expect(await topicNames()).toEqual(['real'])
  })
})

describe('internal topics', () => {
  it('refuses to create a topic whose name starts with "__", by CreateTopics or auto-creation, and refuses writes to __consumer_offsets', async () => {
    const created = await client.request(ApiKey.CreateTopics, 4, { topics: [{ name: '__mine', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
    expect(created.topics[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
    const auto = await client.request(ApiKey.Metadata, 9, { topics: [{ name: '__auto' }], allowAutoTopicCreation: true })
    expect(auto.topics[0].errorCode).not.toBe(ErrorCode.NONE)
    expect(await topicNames()).toEqual([])
    const metadata = await client.request(ApiKey.Metadata, 9, { topics: [{ name: '__consumer_offsets' }] })
    expect(metadata.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, isInternal: true })
    const produced = await client.request(ApiKey.Produce, 9, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: '__consumer_offsets', partitionData: [{ index: 0, records: batchOf(['x']) }] }],
    })
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
  })
})
