/**
 * A request that asks for more than the broker can hold is refused whole, with Kafka's error code
 * and a message naming the limit, and leaves nothing half-made behind; the topics the broker had
 * keep serving.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SILENT_LOGGER } from '../../src/common/logger.js'
import { startBroker } from '../../src/start-broker.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { readPartition } from './helpers.js'

describe('broker limits', () => {
  it('refuses topics and partitions past max.broker.partitions with POLICY_VIOLATION, creating nothing', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1, maxBrokerPartitions: 10 })
    const [kept] = await broker.cluster.createTopics([{ name: 'kept', numPartitions: 6, replicationFactor: 1, configs: {} }], false)
    expect(kept.errorCode).toBe(ErrorCode.NONE)

    const [tooMany] = await broker.cluster.createTopics([{ name: 'big', numPartitions: 5, replicationFactor: 1, configs: {} }], false)
    expect(tooMany.errorCode).toBe(ErrorCode.POLICY_VIOLATION)
    expect(tooMany.errorMessage).toContain('max.broker.partitions=10')
    const [grown] = await broker.cluster.createPartitions([{ name: 'kept', count: 11 }], false)
    expect(grown.errorCode).toBe(ErrorCode.POLICY_VIOLATION)

    const meta = await broker.cluster.metadata(null, false)
    expect(meta.topics.map((t) => [t.name, t.partitions.length])).toEqual([['kept', 6]])
    expect(readdirSync(join(broker.config.dataDir, 'broker-0')).filter((d) => d.startsWith('big'))).toEqual([])
    const [fits] = await broker.cluster.createPartitions([{ name: 'kept', count: 10 }], false)
    expect(fits.errorCode).toBe(ErrorCode.NONE)
  })

  it('refuses a partition count near 2^31 at once with POLICY_VIOLATION, and keeps answering admin requests', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1 })
    const [kept] = await broker.cluster.createTopics([{ name: 'kept', numPartitions: 1, replicationFactor: 1, configs: {} }], false)
    expect(kept.errorCode).toBe(ErrorCode.NONE)
    // The fuzzer's frame: before the fix the controller built 2^31 replica lists and ran out of memory.
    const [grown] = await broker.cluster.createPartitions([{ name: 'kept', count: 2 ** 31 - 4 }], false)
    expect(grown.errorCode).toBe(ErrorCode.POLICY_VIOLATION)
    expect(grown.errorMessage).toContain('max.broker.partitions=')
    const [huge] = await broker.cluster.createTopics([{ name: 'huge', numPartitions: 2 ** 31 - 1, replicationFactor: 1, configs: {} }], false)
    expect(huge.errorCode).toBe(ErrorCode.POLICY_VIOLATION)
    const [next] = await broker.cluster.createTopics([{ name: 'next', numPartitions: 2, replicationFactor: 1, configs: {} }], false)
    expect(next.errorCode).toBe(ErrorCode.NONE)
    expect((await broker.cluster.metadata(null, false)).topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([['kept', 1], ['next', 2]])
  })

  it('answers a Metadata auto-creation that cannot succeed with that refusal for the topic', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1, defaultReplicationFactor: 3 })
    const metadata = await broker.cluster.metadata(['cannot-exist', 'also-not'], true)
    expect(metadata.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['cannot-exist', ErrorCode.INVALID_REPLICATION_FACTOR],
      ['also-not', ErrorCode.INVALID_REPLICATION_FACTOR],
    ])
    expect((await broker.cluster.metadata(['cannot-exist'], false)).topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })

  it('undoes a whole topic when one replica cannot be opened, and keeps serving the topics it had', async () => {
    await using broker = await startBroker({ port: 0, brokers: 1, logger: SILENT_LOGGER })
    await broker.admin.createTopic({ name: 'kept', partitions: 2, replicationFactor: 1 })
    await broker.producer().send({ topic: 'kept', messages: [{ partition: 0, value: 'still here' }] })
    // A plain file where partition 3's directory must go: its log cannot be created.
    const brokerDir = join(broker.config.dataDir, 'broker-0')
    mkdirSync(brokerDir, { recursive: true })
    writeFileSync(join(brokerDir, 'broken-3'), 'in the way')

    const [result] = await broker.cluster.createTopics([{ name: 'broken', numPartitions: 8, replicationFactor: 1, configs: {} }], false)
    expect(result.errorCode).not.toBe(ErrorCode.NONE)
    expect(result.errorMessage).toContain('broken')
    const meta = await broker.cluster.metadata(['broken'], false)
    expect(meta.topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    for (const partition of [0, 1, 2, 4, 5, 6, 7]) expect(existsSync(join(brokerDir, `broken-${partition}`))).toBe(false)
    expect((await readPartition(broker, 'kept', 0)).map((r) => r.value)).toEqual(['still here'])
  })
})
