/**
 * The admin APIs Kafka's tools and the common UIs call, against a running cluster and real client
 * groups. kafkajs 2.2 and confluent-kafka-python 1.7 do not expose OffsetDelete or
 * DescribeCluster, so those are raw requests; the groups whose offsets they touch are kafkajs's.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { RawConnection, eventually, kcat, runPython, startTestBroker, tempDataDir, type Broker } from './harness.js'

let data: ReturnType<typeof tempDataDir>
let broker: Broker
let kafka: Kafka

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir)
  kafka = new Kafka({ clientId: 'admin-apis', brokers: broker.bootstrapServers.split(','), logLevel: logLevel.NOTHING })
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

async function coordinatorConnection(groupId: string): Promise<RawConnection> {
  const [host, port] = broker.bootstrapServers.split(',')[0].split(':')
  const any = await RawConnection.open(Number(port), host)
  try {
    const found = await any.request(ApiKey.FindCoordinator, 3, { key: groupId, keyType: 0 })
    expect(found.errorCode).toBe(ErrorCode.NONE)
    return await RawConnection.open(found.port, found.host)
  } finally {
    any.close()
  }
}

describe('OffsetDelete', () => {
  it('keeps the offsets of a topic a live kafkajs group consumes and deletes the rest, then all once the group is empty', async () => {
    const [created] = await broker.cluster.createTopics(
      [
        { name: 'consumed', numPartitions: 1, replicationFactor: -1, configs: {} },
        { name: 'abandoned', numPartitions: 1, replicationFactor: -1, configs: {} },
      ],
      false,
    )
    expect(created.errorCode).toBe(ErrorCode.NONE)
    const groupId = 'offset-delete-group'
    // The group once read 'abandoned' (an offset committed outside the group), and now reads 'consumed'.
    const admin = kafka.admin()
    await admin.connect()
    await admin.setOffsets({ groupId, topic: 'abandoned', partitions: [{ partition: 0, offset: '3' }] })
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000 })
    await consumer.connect()
    await consumer.subscribe({ topics: ['consumed'], fromBeginning: true })
    let joined = false
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true))
    await consumer.run({ eachMessage: async () => {} })
    await eventually(() => (joined ? true : undefined), 'the kafkajs consumer to join')

    const connection = await coordinatorConnection(groupId)
    try {
      const request = {
        groupId,
        topics: [
          { name: 'consumed', partitions: [{ partitionIndex: 0 }] },
          { name: 'abandoned', partitions: [{ partitionIndex: 0 }] },
        ],
      }
      const live = await connection.request(ApiKey.OffsetDelete, 0, request)
      expect(live.errorCode).toBe(ErrorCode.NONE)
      expect(live.topics.map((t) => [t.name, t.partitions[0].errorCode])).toEqual([
        ['consumed', ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC],
        ['abandoned', ErrorCode.NONE],
      ])
      const offsets = await admin.fetchOffsets({ groupId, topics: ['abandoned'] })
      expect(offsets[0].partitions[0].offset).toBe('-1')

      await consumer.disconnect()
      const empty = await connection.request(ApiKey.OffsetDelete, 0, request)
      expect(empty.topics.map((t) => [t.name, t.partitions[0].errorCode])).toEqual([
        ['consumed', ErrorCode.NONE],
        ['abandoned', ErrorCode.NONE],
      ])
      const unknown = await connection.request(ApiKey.OffsetDelete, 0, { groupId: 'never-was', topics: request.topics })
      expect(unknown).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] })
    } finally {
      connection.close()
      await consumer.disconnect()
      await admin.disconnect()
    }
  })
})

describe('DescribeCluster', () => {
  it('names the cluster, its controller and every broker as Metadata does', async () => {
    const [host, port] = broker.bootstrapServers.split(',')[0].split(':')
    const connection = await RawConnection.open(Number(port), host)
    try {
      const described = await connection.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 })
      const metadata = await connection.request(ApiKey.Metadata, 9, { topics: [] })
      expect(described).toMatchObject({ errorCode: ErrorCode.NONE, clusterId: metadata.clusterId, controllerId: metadata.controllerId })
      expect(described.brokers.map((b) => [b.brokerId, b.host, b.port])).toEqual(metadata.brokers.map((b) => [b.nodeId, b.host, b.port]))
    } finally {
      connection.close()
    }
  })
})

describe('DescribeLogDirs', () => {
  it('reports each broker its own directory with the size on disk of every replica it hosts', async () => {
    const [created] = await broker.cluster.createTopics([{ name: 'sized', numPartitions: 2, replicationFactor: -1, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: 'sized', messages: Array.from({ length: 50 }, (_, i) => ({ partition: 0, value: `value-${i}`.repeat(20) })) })
    await producer.disconnect()
    const seen = new Map<number, number>()
    for (const endpoint of broker.bootstrapServers.split(',')) {
      const [host, port] = endpoint.split(':')
      const connection = await RawConnection.open(Number(port), host)
      try {
        const response = await connection.request(ApiKey.DescribeLogDirs, 4, { topics: [{ topic: 'sized', partitions: [0, 1] }] })
        expect(response.errorCode).toBe(ErrorCode.NONE)
        const [dir] = response.results
        expect(dir.errorCode).toBe(ErrorCode.NONE)
        expect(dir.totalBytes).toBeGreaterThanOrEqual(dir.usableBytes)
        expect(dir.usableBytes).toBeGreaterThan(0)
        for (const topic of dir.topics) for (const p of topic.partitions) seen.set(p.partitionIndex, Math.max(seen.get(p.partitionIndex) ?? 0, p.partitionSize))
      } finally {
        connection.close()
      }
    }
    // Fifty 140-byte values in one batch, on disk with their batch header.
    expect(seen.get(0)).toBeGreaterThan(50 * 140)
    expect(seen.get(1)).toBe(0)
  })
})

describe('DescribeProducers', () => {
  it("shows librdkafka's idempotent producer on the partition's leader with its last sequence", async () => {
    const [created] = await broker.cluster.createTopics([{ name: 'produced', numPartitions: 1, replicationFactor: -1, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    await runPython('confluent_client.py', ['produce', broker.bootstrapServers, 'produced', '10', '1', JSON.stringify({ 'enable.idempotence': true })])
    const metadata = await broker.cluster.metadata(['produced'], false)
    const leader = metadata.topics[0].partitions[0].leaderId
    const endpoint = metadata.brokers.find((b) => b.nodeId === leader)!
    const connection = await RawConnection.open(endpoint.port, endpoint.host)
    try {
      const response = await connection.request(ApiKey.DescribeProducers, 0, { topics: [{ name: 'produced', partitionIndexes: [0] }] })
      const [partition] = response.topics[0].partitions
      expect(partition.errorCode).toBe(ErrorCode.NONE)
      expect(partition.activeProducers).toHaveLength(1)
      expect(partition.activeProducers[0]).toMatchObject({ producerEpoch: 0, lastSequence: 9, coordinatorEpoch: -1, currentTxnStartOffset: -1 })
      expect(partition.activeProducers[0].producerId).toBeGreaterThanOrEqual(0)
    } finally {
      connection.close()
    }
  })

  it('forgets a producer idle past producer.id.expiration.ms, as Kafka does', async () => {
    const own = tempDataDir()
    const expiring = await startTestBroker(own.dir, { brokers: 1, defaultReplicationFactor: 1, producerIdExpirationMs: 2_000, retentionCheckIntervalMs: 100 })
    const [host, port] = expiring.bootstrapServers.split(':')
    const connection = await RawConnection.open(Number(port), host)
    try {
      const [created] = await expiring.cluster.createTopics([{ name: 'expiring', numPartitions: 1, replicationFactor: -1, configs: {} }], false)
      expect(created.errorCode).toBe(ErrorCode.NONE)
      const producers = async (): Promise<number> => {
        const response = await connection.request(ApiKey.DescribeProducers, 0, { topics: [{ name: 'expiring', partitionIndexes: [0] }] })
        return response.topics[0].partitions[0].activeProducers.length
      }
      const producer = new Kafka({ clientId: 'expiring', brokers: [expiring.bootstrapServers], logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      await producer.send({ topic: 'expiring', messages: [{ value: 'once' }] })
      expect(await producers()).toBe(1)
      await producer.disconnect()
      await eventually(async () => ((await producers()) === 0 ? true : undefined), 'the idle producer forgotten', 15_000)
    } finally {
      connection.close()
      await expiring.close()
      own.remove()
    }
  })
})

describe('ElectLeaders', () => {
  it('moves leadership back to the preferred replica once it is in sync again, with a new epoch', async () => {
    const data3 = tempDataDir()
    const cluster = await startTestBroker(data3.dir, { brokers: 2, defaultReplicationFactor: 2, replicaLagTimeMaxMs: 2_000 })
    try {
      const [created] = await cluster.cluster.createTopics(
        [{ name: 'preferred', numPartitions: -1, replicationFactor: -1, configs: {}, assignments: [{ partitionIndex: 0, brokerIds: [0, 1] }] }],
        false,
      )
      expect(created.errorCode).toBe(ErrorCode.NONE)
      const partitionState = async () => (await cluster.cluster.metadata(['preferred'], false)).topics[0].partitions[0]
      expect((await partitionState()).leaderId).toBe(0)
      cluster.faults.killBroker(0)
      // Broker 1 takes over; broker 0 restarts as a follower and rejoins the ISR.
      await eventually(async () => {
        const p = await partitionState()
        return p.leaderId === 1 && p.isrNodes.length === 2 ? p : undefined
      }, 'broker 0 back in sync behind leader 1', 30_000)
      const before = await partitionState()
      const endpoint = (await cluster.cluster.metadata([], false)).brokers[0]
      const connection = await RawConnection.open(endpoint.port, endpoint.host)
      try {
        const response = await connection.request(ApiKey.ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'preferred', partitions: [0] }], timeoutMs: 10_000 })
        expect(response.errorCode).toBe(ErrorCode.NONE)
        expect(response.replicaElectionResults[0].partitionResult[0]).toMatchObject({ partitionId: 0, errorCode: ErrorCode.NONE })
        const again = await connection.request(ApiKey.ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'preferred', partitions: [0] }], timeoutMs: 10_000 })
        expect(again.replicaElectionResults[0].partitionResult[0].errorCode).toBe(ErrorCode.ELECTION_NOT_NEEDED)
      } finally {
        connection.close()
      }
      const after = await partitionState()
      expect(after.leaderId).toBe(0)
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch)
      // The moved leader serves: a produce lands and reads back.
      const producer = new Kafka({ clientId: 'elect', brokers: cluster.bootstrapServers.split(','), logLevel: logLevel.NOTHING }).producer()
      await producer.connect()
      await producer.send({ topic: 'preferred', acks: -1, messages: [{ value: 'after-election' }] })
      await producer.disconnect()
      const [latest] = await cluster.cluster.listOffsets([{ topic: 'preferred', partition: 0, timestamp: -1 }])
      expect(latest).toMatchObject({ errorCode: ErrorCode.NONE, offset: 1 })
    } finally {
      await cluster.close()
      data3.remove()
    }
  })
})

describe('AlterPartitionReassignments and ListPartitionReassignments', () => {
  it('moves a partition with data from broker 0 to brokers 1 and 2 while kafkajs produces, losing nothing, and the move outlives a restart', async () => {
    const data3 = tempDataDir()
    let cluster = await startTestBroker(data3.dir, { brokers: 3, replicaLagTimeMaxMs: 2_000 })
    try {
      const [created] = await cluster.cluster.createTopics(
        [{ name: 'moved', numPartitions: -1, replicationFactor: -1, configs: {}, assignments: [{ partitionIndex: 0, brokerIds: [0] }] }],
        false,
      )
      expect(created.errorCode).toBe(ErrorCode.NONE)
      // Idempotent: a send the old leader appended but could not answer (its epoch ended) is retried
      // at the new one, which must not store it twice. A plain producer may, in Kafka too.
      const producer = new Kafka({ clientId: 'reassign', brokers: cluster.bootstrapServers.split(','), logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      const acknowledged: string[] = []
      let producing = true
      const sending = (async () => {
        // Bounded: stops once the move is done and a few more batches went to the new leader.
        for (let batch = 0; producing && batch < 100_000; batch++) {
          const values = Array.from({ length: 20 }, (_, i) => `v${batch}-${i}`)
          await producer.send({ topic: 'moved', acks: -1, messages: values.map((value) => ({ value })) })
          acknowledged.push(...values)
        }
      })()
      await eventually(() => (acknowledged.length >= 200 ? true : undefined), 'records before the move')

      const endpoint = (await cluster.cluster.metadata([], false)).brokers[0]
      const connection = await RawConnection.open(endpoint.port, endpoint.host)
      try {
        const altered = await connection.request(ApiKey.AlterPartitionReassignments, 0, { timeoutMs: 10_000, topics: [{ name: 'moved', partitions: [{ partitionIndex: 0, replicas: [1, 2] }] }] })
        expect(altered).toMatchObject({ errorCode: ErrorCode.NONE, responses: [{ name: 'moved', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }] }] })
        // While it runs, it is listed with the union of the replicas; once done, it is not.
        const listed = await connection.request(ApiKey.ListPartitionReassignments, 0, { timeoutMs: 10_000, topics: null })
        for (const topic of listed.topics) expect(topic).toEqual({ name: 'moved', partitions: [{ partitionIndex: 0, replicas: [1, 2, 0], addingReplicas: [1, 2], removingReplicas: [0] }] })
        await eventually(async () => {
          const ongoing = await connection.request(ApiKey.ListPartitionReassignments, 0, { timeoutMs: 10_000, topics: null })
          return ongoing.topics.length === 0 ? true : undefined
        }, 'the reassignment to complete', 60_000)
      } finally {
        connection.close()
      }
      const moved = (await cluster.cluster.metadata(['moved'], false)).topics[0].partitions[0]
      expect(moved).toMatchObject({ leaderId: 1, replicaNodes: [1, 2], isrNodes: [1, 2] })
      const countAtMove = acknowledged.length
      await eventually(() => (acknowledged.length >= countAtMove + 100 ? true : undefined), 'records after the move')
      producing = false
      await sending
      await producer.disconnect()
      // Broker 0's replica is gone with its data.
      await eventually(() => (existsSync(join(data3.dir, 'broker-0', 'moved-0')) ? undefined : true), "broker 0's replica directory to be deleted")

      // Every acknowledged record is read back from the new leader, once and in order, after a restart too.
      const readAll = async (bootstrap: string) => (await kcat(bootstrap, ['-C', '-t', 'moved', '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { timeoutMs: 60_000 })).split('\n').filter((l) => l !== '')
      expect(await readAll(cluster.bootstrapServers)).toEqual(acknowledged)
      await cluster.close()
      cluster = await startTestBroker(data3.dir, { brokers: 3, replicaLagTimeMaxMs: 2_000 })
      expect((await cluster.cluster.metadata(['moved'], false)).topics[0].partitions[0]).toMatchObject({ replicaNodes: [1, 2] })
      expect(await readAll(cluster.bootstrapServers)).toEqual(acknowledged)
    } finally {
      await cluster.close()
      data3.remove()
    }
  })
})
