import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../../src/start-broker.js'
import { ErrorCode } from '../../../src/common/error-codes.js'
import { decodeFetched } from '../../../src/client/fetch-decoder.js'
import { encodeAssignment, encodeSubscription } from '../../../src/client/assignors.js'
import { AlterConfigOp, ConfigResourceType, KafkaClient, OffsetSpec, parseHostPort } from '../../../src/client/wire/kafka-client.js'
import { compress } from '../../../src/records/compression.js'
import { CompressionType, encodeBatch } from '../../../src/records/record-batch.js'

let dataDir: string
let broker: Broker
let client: KafkaClient

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'partita-'))
  broker = await startBroker({ port: 0, dataDir, brokers: 2, groupInitialRebalanceDelayMs: 0 })
  client = await KafkaClient.connect({ bootstrapServers: broker.bootstrapServers, retryBackoffMs: 20 })
})

afterAll(async () => {
  await client?.close()
  await broker?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

function batch(values: string[], compression: number = CompressionType.NONE): Buffer {
  return encodeBatch({
    records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v) })),
    // Now, not a fixed date: the broker's retention check (every 10 s, retention.ms 7 days) deletes
    // records stamped long ago, and once ran between a test's produce and its fetch.
    baseTimestamp: Date.now(),
    compression,
    compress,
  })
}

describe('KafkaClient', () => {
  it('parses bootstrap servers and refuses malformed ones', () => {
    expect(parseHostPort('localhost:19092')).toEqual({ host: 'localhost', port: 19092 })
    expect(parseHostPort('[::1]:9093')).toEqual({ host: '::1', port: 9093 })
    expect(parseHostPort('kafka')).toEqual({ host: 'kafka', port: 9092 })
    expect(() => parseHostPort('host:99999')).toThrow(/bad bootstrap server/)
    expect(() => parseHostPort(':9092')).toThrow(/bad bootstrap server/)
  })

  it('loads both logical brokers and routes each partition to its own leader', async () => {
    const created = await client.createTopics([{ name: 'routed', numPartitions: 4, replicationFactor: 1 }])
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE)
    const topic = await client.topic('routed')
    expect(client.brokers.map((b) => b.nodeId)).toEqual([0, 1])
    const leaders = new Set(topic.partitions.map((p) => p.leader))
    expect(leaders.size).toBe(2)

    const results = await client.produce(topic.partitions.map((p) => ({ topic: 'routed', partition: p.partition, records: batch([`v${p.partition}`, 'w']) })))
    expect(results.map((r) => [r.partition, r.errorCode, r.baseOffset])).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [2, 0, 0],
      [3, 0, 0],
    ])
    const fetched = await client.fetch(topic.partitions.map((p) => ({ topic: 'routed', partition: p.partition, fetchOffset: 0 })), { maxWaitMs: 0 })
    for (const r of fetched) {
      expect(r.errorCode).toBe(ErrorCode.NONE)
      expect(r.highWatermark).toBe(2)
      expect(decodeFetched(r.records, 0).messages.map((m) => m.value!.toString())).toEqual([`v${r.partition}`, 'w'])
    }
    // Every broker is its own endpoint, and the client keeps one connection to each.
    const [c0, c1] = await Promise.all([client.connectionTo(0), client.connectionTo(1)])
    expect(c0).not.toBe(c1)
    expect([c0.address, c1.address]).toEqual(broker.bootstrapServers.split(','))
    expect(await client.connectionTo(0)).toBe(c0)
  })

  it('gives a sibling client connections of its own, so its produce is answered while this client long-polls the same broker', async () => {
    await client.createTopics([{ name: 'poll-pair', numPartitions: 4 }])
    const { partitions } = await client.topic('poll-pair')
    // Two partitions with the same leader: on one connection, both requests would share it.
    const polled = partitions[0]
    const written = partitions.find((p) => p !== polled && p.leader === polled.leader)!
    expect(written).toBeDefined()
    const sibling = client.sibling()
    try {
      let pollDone = false
      const poll = client
        .fetch([{ topic: 'poll-pair', partition: polled.partition, fetchOffset: 0 }], { maxWaitMs: 60_000, minBytes: 1 })
        .finally(() => (pollDone = true))
      // Answers leave a connection in request order: on the poll's own connection this produce
      // would wait out the 60 s poll. On the sibling's it is answered while the poll is parked.
      const [produced] = await sibling.produce([{ topic: 'poll-pair', partition: written.partition, records: batch(['x']) }], { acks: -1 })
      expect(produced.errorCode).toBe(ErrorCode.NONE)
      expect(pollDone).toBe(false)
      // A record on the polled partition ends the poll.
      await sibling.produce([{ topic: 'poll-pair', partition: polled.partition, records: batch(['wake']) }], { acks: -1 })
      const [woken] = await poll
      expect(decodeFetched(woken.records, 0).messages.map((m) => m.value!.toString())).toEqual(['wake'])
    } finally {
      await sibling.close()
    }
  })

  it('lists earliest and latest offsets and reads compressed batches back', async () => {
    await client.createTopics([{ name: 'zipped', numPartitions: 1 }])
    await client.topic('zipped')
    const [produced] = await client.produce([{ topic: 'zipped', partition: 0, records: batch(['a', 'b', 'c'], CompressionType.ZSTD) }], { acks: -1 })
    expect(produced.errorCode).toBe(ErrorCode.NONE)
    const offsets = await client.listOffsets([
      { topic: 'zipped', partition: 0, timestamp: OffsetSpec.EARLIEST },
      { topic: 'zipped', partition: 0, timestamp: OffsetSpec.LATEST },
    ])
    expect(offsets.map((o) => o.offset)).toEqual([0, 3])
    const [fetched] = await client.fetch([{ topic: 'zipped', partition: 0, fetchOffset: 1 }], { maxWaitMs: 0 })
    expect(decodeFetched(fetched.records, 1).messages.map((m) => m.value!.toString())).toEqual(['b', 'c'])
  })

  it('answers an unknown topic with UNKNOWN_TOPIC_OR_PARTITION and does not create it', async () => {
    await expect(client.topic('missing')).rejects.toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
    const meta = await client.metadata(null)
    expect(meta.topics.map((t) => t.name)).not.toContain('missing')
  })

  it('runs a group generation: join, sync, heartbeat, commit, fetch offsets, describe, leave, delete', async () => {
    await client.createTopics([{ name: 'grouped', numPartitions: 2 }])
    const groupId = 'wire-group'
    const join = () =>
      client.joinGroup({
        groupId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: encodeSubscription({ topics: ['grouped'] }) }],
      })
    let memberId = ''
    let joined = await join()
    if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      memberId = joined.memberId
      joined = await join()
    }
    expect(joined.errorCode).toBe(ErrorCode.NONE)
    memberId = joined.memberId
    expect(joined.leader).toBe(memberId)
    const assignment = encodeAssignment({ assignedPartitions: [{ topic: 'grouped', partitions: [0, 1] }] })
    const synced = await client.syncGroup({ groupId, generationId: joined.generationId, memberId, assignments: [{ memberId, assignment }] })
    expect(synced.errorCode).toBe(ErrorCode.NONE)
    expect(synced.assignment).toEqual(assignment)
    const beat = await client.heartbeat({ groupId, generationId: joined.generationId, memberId })
    expect(beat.errorCode).toBe(ErrorCode.NONE)

    const committed = await client.offsetCommit({
      groupId,
      generationIdOrMemberEpoch: joined.generationId,
      memberId,
      topics: [{ name: 'grouped', partitions: [{ partitionIndex: 1, committedOffset: 5, committedMetadata: '' }] }],
    })
    expect(committed.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE)
    const fetched = await client.offsetFetch(groupId, null)
    expect(fetched.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.committedOffset]))).toEqual([['grouped', 1, 5]])

    const [described] = await client.describeGroups([groupId])
    expect(described.groupState).toBe('Stable')
    expect(described.members.map((m) => m.memberId)).toEqual([memberId])
    expect((await client.listGroups()).map((g) => g.groupId)).toContain(groupId)

    const [notEmpty] = await client.deleteGroups([groupId])
    expect(notEmpty.errorCode).toBe(ErrorCode.NON_EMPTY_GROUP)
    expect((await client.leaveGroup(groupId, memberId)).errorCode).toBe(ErrorCode.NONE)
    const [deleted] = await client.deleteGroups([groupId])
    expect(deleted.errorCode).toBe(ErrorCode.NONE)
  })

  it('creates with configs, describes, alters incrementally and deletes a topic', async () => {
    const created = await client.createTopics([{ name: 'configured', numPartitions: 1, configs: { 'retention.ms': '60000' } }])
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE)
    const again = await client.createTopics([{ name: 'configured', numPartitions: 1 }])
    expect(again.topics[0].errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS)

    const describe = async (): Promise<Map<string, string | null>> => {
      const response = await client.describeConfigs([{ type: ConfigResourceType.TOPIC, name: 'configured', keys: ['retention.ms', 'cleanup.policy'] }])
      return new Map(response.results[0].configs.map((c) => [c.name, c.value]))
    }
    expect((await describe()).get('retention.ms')).toBe('60000')
    const altered = await client.incrementalAlterConfigs([
      { type: ConfigResourceType.TOPIC, name: 'configured', changes: [{ name: 'cleanup.policy', op: AlterConfigOp.SET, value: 'compact' }] },
    ])
    expect(altered.responses[0].errorCode).toBe(ErrorCode.NONE)
    expect(await describe()).toEqual(new Map([['retention.ms', '60000'], ['cleanup.policy', 'compact']]))

    const deleted = await client.deleteTopics(['configured'])
    expect(deleted.responses[0].errorCode).toBe(ErrorCode.NONE)
    const gone = await client.deleteTopics(['configured'])
    expect(gone.responses[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })

  it('fails to connect to an unreachable bootstrap server with PARTITA_CONNECTION', async () => {
    await expect(KafkaClient.connect({ bootstrapServers: '127.0.0.1:1' })).rejects.toMatchObject({ code: 'PARTITA_CONNECTION' })
  })
})
