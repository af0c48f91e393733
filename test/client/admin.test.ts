import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Admin, ConfigResourceTypes } from '../../src/client/admin.js'
import { Consumer } from '../../src/client/consumer.js'
import { Producer } from '../../src/client/producer.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { KafkaError } from '../../src/common/errors.js'
import { fastConsumer, until } from './helpers.js'
import { MemoryCore } from './memory-core.js'

let core: MemoryCore
let admin: Admin

beforeEach(async () => {
  core = await MemoryCore.create()
  admin = new Admin(core)
})

afterEach(async () => {
  await core.close()
})

describe('Admin', () => {
  it('creates topics (true), reports an existing one as false, and throws other errors', async () => {
    expect(await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '1000' }] }] })).toBe(true)
    expect(await admin.createTopic({ name: 'b', partitions: 2, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } })).toBe(true)
    expect(await admin.createTopics({ topics: [{ topic: 'a' }] })).toBe(false)
    await expect(admin.createTopics({ topics: [{ topic: 'c', numPartitions: 0 }] })).rejects.toMatchObject({ errorCode: ErrorCode.INVALID_PARTITIONS })
    expect(await admin.createTopics({ topics: [{ topic: 'v', numPartitions: 1 }], validateOnly: true })).toBe(true)
    expect((await admin.listTopics()).sort()).toEqual(['a', 'b'])
    expect(core.topics.get('a')?.configs).toEqual({ 'retention.ms': '1000' })
    expect(core.topics.get('b')?.partitions.length).toBe(2)
  })

  it('deletes topics and throws for an unknown one', async () => {
    await admin.createTopic({ name: 'gone', partitions: 1 })
    await admin.deleteTopics({ topics: ['gone'] })
    expect(await admin.listTopics()).toEqual([])
    const error = await admin.deleteTopics({ topics: ['gone'] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KafkaError)
    expect((error as KafkaError).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })

  it('describes topic metadata in kafkajs shape and adds partitions', async () => {
    await admin.createTopic({ name: 't', partitions: 2 })
    await admin.createPartitions({ topicPartitions: [{ topic: 't', count: 4 }] })
    const { topics } = await admin.fetchTopicMetadata({ topics: ['t'] })
    expect(topics[0].name).toBe('t')
    expect(topics[0].partitions.map((p) => p.partitionId)).toEqual([0, 1, 2, 3])
    expect(topics[0].partitions[0]).toEqual({ partitionErrorCode: 0, partitionId: 0, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] })
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 't', count: 2 }] })).rejects.toMatchObject({ errorCode: ErrorCode.INVALID_PARTITIONS })
    await expect(admin.fetchTopicMetadata({ topics: ['nope'] })).rejects.toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
  })

  it('reports offsets per partition, by timestamp, and after deleting records', async () => {
    await admin.createTopic({ name: 't', partitions: 2 })
    const producer = new Producer(core)
    await producer.send({ topic: 't', messages: [0, 1, 2, 3].map((i) => ({ value: `v${i}`, partition: 0, timestamp: 1000 + i * 100 })) })
    expect(await admin.fetchTopicOffsets('t')).toEqual([
      { partition: 0, offset: '4', high: '4', low: '0' },
      { partition: 1, offset: '0', high: '0', low: '0' },
    ])
    expect(await admin.fetchTopicOffsetsByTimestamp('t', 1150)).toEqual([
      { partition: 0, offset: '2' },
      { partition: 1, offset: '0' },
    ])
    expect((await admin.fetchTopicOffsetsByTimestamp('t', 9999))[0].offset).toBe('4')
    await admin.deleteTopicRecords({ topic: 't', partitions: [{ partition: 0, offset: '3' }] })
    expect((await admin.fetchTopicOffsets('t'))[0]).toEqual({ partition: 0, offset: '4', high: '4', low: '3' })
    await expect(admin.deleteTopicRecords({ topic: 't', partitions: [{ partition: 0, offset: '9' }] })).rejects.toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE })
  })

  it('describes and alters topic configs', async () => {
    await admin.createTopic({ name: 't', partitions: 1, configs: { 'retention.ms': '5000' } })
    const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 't', configNames: ['retention.ms', 'cleanup.policy'] }] })
    expect(described.resources[0].configEntries.map((c) => [c.configName, c.configValue, c.isDefault])).toEqual([
      ['retention.ms', '5000', false],
      ['cleanup.policy', 'delete', true],
    ])
    const altered = await admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 't', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })
    expect(altered.resources).toEqual([{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 't' }])
    // alterConfigs replaces the whole set, as Kafka's AlterConfigs does.
    expect(core.topics.get('t')?.configs).toEqual({ 'cleanup.policy': 'compact' })
    await admin.incrementalAlterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 't', configEntries: [{ name: 'retention.ms', value: '1' }] }] })
    expect(core.topics.get('t')?.configs).toEqual({ 'cleanup.policy': 'compact', 'retention.ms': '1' })
  })

  it('lists, describes, reads offsets of and deletes consumer groups', async () => {
    await admin.createTopic({ name: 't', partitions: 2 })
    await new Producer(core).send({ topic: 't', messages: [{ value: 'x', partition: 1 }] })
    const consumer = new Consumer(core, fastConsumer('billing'))
    await consumer.subscribe({ topics: ['t'], fromBeginning: true })
    let seen = 0
    await consumer.run({ eachMessage: async () => void seen++ })
    await until(() => seen === 1, 'one message')
    expect((await admin.listGroups()).groups).toEqual([{ groupId: 'billing', protocolType: 'consumer' }])
    const [group] = (await admin.describeGroups(['billing'])).groups
    expect(group).toMatchObject({ groupId: 'billing', state: 'Stable', protocolType: 'consumer', protocol: 'roundrobin' })
    expect(group.members.length).toBe(1)
    await expect(admin.deleteGroups(['billing'])).rejects.toMatchObject({ errorCode: ErrorCode.NON_EMPTY_GROUP })
    await consumer.disconnect()
    // On leaving, the consumer commits its position on every partition it held, as Java's does.
    expect(await admin.fetchOffsets({ groupId: 'billing', topics: ['t'] })).toEqual([
      // Kafka stores a commit without metadata as the empty string, and answers it so.
      { topic: 't', partitions: [{ partition: 0, offset: '0', metadata: '' }, { partition: 1, offset: '1', metadata: '' }] },
    ])
    expect((await admin.fetchOffsets({ groupId: 'other', topics: ['t'] }))[0].partitions.map((p) => p.offset)).toEqual(['-1', '-1'])
    expect((await admin.fetchOffsets({ groupId: 'other', topics: ['t'], resolveOffsets: true }))[0].partitions.map((p) => p.offset)).toEqual(['0', '1'])
    await admin.resetOffsets({ groupId: 'billing', topic: 't', earliest: true })
    expect((await admin.fetchOffsets({ groupId: 'billing' }))[0].partitions.map((p) => p.offset)).toEqual(['0', '0'])
    await admin.setOffsets({ groupId: 'billing', topic: 't', partitions: [{ partition: 1, offset: '1' }] })
    expect((await admin.fetchOffsets({ groupId: 'billing' }))[0].partitions.map((p) => p.offset)).toEqual(['0', '1'])
    expect(await admin.deleteGroups(['billing'])).toEqual([{ groupId: 'billing', errorCode: 0 }])
    expect((await admin.listGroups()).groups).toEqual([])
  })
})
