import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import type { RequestApiKey } from '../../src/protocol/index.js'
import { HANDLERS } from '../../src/server/handlers/index.js'
import { decodeRecords, encodeBatch, iterateBatches } from '../../src/records/record-batch.js'
import { batchOf, startTestServer, type TestServer } from './helpers.js'
import { decompress } from '../../src/records/compression.js'
import { decodeMessageSet, encodeLegacyMessage } from '../../src/records/legacy-messages.js'
import { messageConversions } from '../../src/server/message-conversions.js'
import type { WireClient } from './wire-client.js'

let ts: TestServer
let client: WireClient

beforeEach(async () => {
  ts = await startTestServer({ brokers: 2 })
  client = await ts.connect()
})

afterEach(async () => {
  await ts.close()
})

async function createTopic(name: string, numPartitions = 1): Promise<void> {
  const [result] = await ts.core.createTopics([{ name, numPartitions, replicationFactor: 1, configs: {} }], false)
  expect(result.errorCode).toBe(ErrorCode.NONE)
}

async function produceValues(topic: string, values: string[]): Promise<void> {
  const [result] = await ts.core.produce([{ topic, partition: 0, records: batchOf(values) }], -1, 1000)
  expect(result.errorCode).toBe(ErrorCode.NONE)
}

/**
 * A transactional id whose coordinator is this test's node 0 (`base` with a suffix: the others are
 * ids without a listener here), InitProducerId'd once it has loaded (FindCoordinator creates
 * __transaction_state).
 */
async function txnIdOnNode0(base: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const id = `${base}.${i}`
    if ((await ts.core.findCoordinator(id, 1)).nodeId === 0) return id
  }
  throw new Error(`no id like ${base} is coordinated by node 0`)
}

/** EndTxn v5 (KIP-890): the epoch bumps per transaction, so an EndTxn delayed from the last one is fenced. */
async function endTxnBumpingEpochScenario(v: number, etId: string, producerId: number, producerEpoch: number, topic: string): Promise<void> {
    // KIP-890: the transaction ends under a bumped epoch, handed back for the next one.
    const ended = await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch, committed: true })
    expect(ended).toMatchObject({ errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 1 })
    expect(ts.partitions.markers).toContainEqual({ id: `${topic}/0`, commit: true, producerId })
    // A retry (the old epoch, nothing begun since) answers as the first did.
    expect(await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch, committed: true })).toMatchObject(ended)
    // The next transaction begins under the new epoch; the first EndTxn, delayed, arrives now: fenced, and it ends nothing.
    expect(await ts.core.txns.addPartitions(etId, producerId, producerEpoch + 1, [{ topic, partition: 0 }])).toBe(ErrorCode.NONE)
    const markersBefore = ts.partitions.markers.length
    const delayed = await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch, committed: true })
    expect(delayed.errorCode).toBe(ErrorCode.PRODUCER_FENCED)
    expect(ts.partitions.markers).toHaveLength(markersBefore)
    expect(ts.core.txns.describe([etId])[0]).toMatchObject({ state: 'Ongoing', producerEpoch: producerEpoch + 1 })
    // The transaction's own EndTxn still ends it.
    const next = await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch: producerEpoch + 1, committed: false })
    expect(next).toMatchObject({ errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 2 })
}

async function initTxn(transactionalId: string, v = 3): Promise<{ producerId: number; producerEpoch: number }> {
  await ts.core.findCoordinator(transactionalId, 1)
  for (let attempt = 0; attempt < 200; attempt++) {
    const r = await client.request(ApiKey.InitProducerId, v, { transactionalId, transactionTimeoutMs: 60_000 })
    if (r.errorCode === ErrorCode.NONE) return { producerId: r.producerId, producerEpoch: r.producerEpoch }
    expect([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]).toContain(r.errorCode)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`no coordinator loaded for ${transactionalId}`)
}

/** A v0/v1 message set of string values, as a pre-0.11 producer sends it. */
function messageSetOf(magic: 0 | 1, values: string[]): Buffer {
  return Buffer.concat(values.map((v, i) => encodeLegacyMessage(magic, i, magic === 0 ? -1 : Date.now(), false, null, Buffer.from(v))))
}

function values(records: Buffer | null): string[] {
  const out: string[] = []
  if (records === null) return out
  for (const span of iterateBatches(records)) {
    for (const record of decodeRecords(records.subarray(span.pos, span.pos + span.size))) out.push(record.value!.toString())
  }
  return out
}

const protocols = [{ name: 'range', metadata: Buffer.from('subscription') }]

/** Joins as the only member (answering KIP-394's MEMBER_ID_REQUIRED from v4) and syncs. */
async function joinAndSync(groupId: string, joinVersion: number, syncVersion: number): Promise<{ memberId: string; generationId: number }> {
  const join = { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols }
  let joined = await client.request(ApiKey.JoinGroup, joinVersion, join)
  if (joinVersion >= 4) {
    expect(joined.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED)
    joined = await client.request(ApiKey.JoinGroup, joinVersion, { ...join, memberId: joined.memberId })
  }
  expect(joined.errorCode).toBe(ErrorCode.NONE)
  expect(joined.leader).toBe(joined.memberId)
  expect(joined.protocolName).toBe('range')
  expect(joined.members.map((m) => m.metadata.toString())).toEqual(['subscription'])
  const synced = await client.request(ApiKey.SyncGroup, syncVersion, {
    groupId,
    generationId: joined.generationId,
    memberId: joined.memberId,
    assignments: [{ memberId: joined.memberId, assignment: Buffer.from('assignment') }],
  })
  expect(synced.errorCode).toBe(ErrorCode.NONE)
  expect(synced.assignment.toString()).toBe('assignment')
  return { memberId: joined.memberId, generationId: joined.generationId }
}

type Scenario = (version: number) => Promise<void>

/** One scenario per served API; each runs at the API's lowest and highest declared version. */
const scenarios: Record<number, Scenario> = {
  [ApiKey.ApiVersions]: async (v) => {
    const response = await client.request(ApiKey.ApiVersions, v, { clientSoftwareName: 'wire', clientSoftwareVersion: '1' })
    expect(response.errorCode).toBe(ErrorCode.NONE)
    expect(response.apiKeys.length).toBe(HANDLERS.length)
  },
  [ApiKey.Produce]: async (v) => {
    await createTopic('p')
    const produce = (records: Buffer | null) =>
      client.request(ApiKey.Produce, v, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'p', partitionData: [{ index: 0, records }] }] })
    // Below v3 the records are a v0/v1 message set, up-converted to a v2 batch before the log.
    const records = (values: string[]) => (v >= 3 ? batchOf(values) : messageSetOf(v === 2 ? 1 : 0, values))
    const first = await produce(records(['a', 'b']))
    const second = await produce(records(['c']))
    expect(first.responses[0].partitionResponses[0]).toMatchObject({ index: 0, errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(second.responses[0].partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2, logStartOffset: v >= 5 ? 0 : -1 })
    const nullRecords = await produce(null)
    expect(nullRecords.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(ts.partitions.partition('p', 0)!.nextOffset).toBe(3)
  },
  [ApiKey.Fetch]: async (v) => {
    await createTopic('f')
    await produceValues('f', ['x', 'y'])
    await produceValues('f', ['z'])
    const response = await client.request(ApiKey.Fetch, v, {
      replicaId: -1,
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 1 << 20,
      sessionId: 0,
      sessionEpoch: 0,
      topics: [{ topic: 'f', partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20 }] }],
    })
    // Epoch 0 asks for a session, which v7+ opens (id 0 below v7: no session field).
    expect(response.sessionId !== 0).toBe(v >= 7)
    const partition = response.responses[0].partitions[0]
    expect(partition).toMatchObject({ partitionIndex: 0, errorCode: ErrorCode.NONE, highWatermark: 3, lastStableOffset: v >= 4 ? 3 : -1, abortedTransactions: [] })
    expect(partition.logStartOffset).toBe(v >= 5 ? 0 : -1)
    expect(partition.preferredReadReplica).toBe(-1)
    if (v < 4) {
      // Down-converted to the version's message format, from the fetch offset on.
      const messages = decodeMessageSet(partition.records!, decompress)
      expect(messages.map((m) => [m.offset, m.magic, m.value?.toString()])).toEqual([
        [1, v <= 1 ? 0 : 1, 'y'],
        [2, v <= 1 ? 0 : 1, 'z'],
      ])
    } else {
      // Whole batches come back: the first one holds offset 0 too.
      expect(values(partition.records)).toEqual(['x', 'y', 'z'])
    }
    const unknown = await client.request(ApiKey.Fetch, v, {
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      topics: [{ topic: 'nope', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }] }],
    })
    expect(unknown.responses[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  },
  [ApiKey.OffsetForLeaderEpoch]: async (v) => {
    await createTopic('e')
    await produceValues('e', ['a', 'b', 'c'])
    const response = await client.request(ApiKey.OffsetForLeaderEpoch, v, {
      replicaId: -1,
      topics: [
        { topic: 'e', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
        { topic: 'nope', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
      ],
    })
    expect(response.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.errorCode, p.endOffset])])).toEqual([
      ['e', [[0, ErrorCode.NONE, 3]]],
      ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1]]],
    ])
  },
  [ApiKey.DescribeCluster]: async (v) => {
    const response = await client.request(ApiKey.DescribeCluster, v, { includeClusterAuthorizedOperations: false, endpointType: 1 })
    const metadata = await ts.core.metadata([], false)
    expect(response).toMatchObject({ errorCode: ErrorCode.NONE, clusterId: metadata.clusterId, controllerId: metadata.controllerId })
    expect(response.brokers.map((b) => [b.brokerId, b.port])).toEqual(metadata.brokers.map((b) => [b.nodeId, b.port]))
    if (v >= 1) {
      const controllers = await client.request(ApiKey.DescribeCluster, v, { includeClusterAuthorizedOperations: false, endpointType: 2 })
      expect(controllers.errorCode).toBe(ErrorCode.MISMATCHED_ENDPOINT_TYPE)
    }
  },
  [ApiKey.OffsetDelete]: async (v) => {
    await createTopic('od', 2)
    await ts.core.groups.commitOffsets({
      groupId: 'gone',
      generationId: -1,
      memberId: '',
      offsets: [
        { topic: 'od', partition: 0, offset: 5 },
        { topic: 'od', partition: 1, offset: 6 },
      ],
    })
    const response = await client.request(ApiKey.OffsetDelete, v, {
      groupId: 'gone',
      topics: [
        { name: 'od', partitions: [{ partitionIndex: 0 }] },
        { name: 'ghost', partitions: [{ partitionIndex: 0 }] },
      ],
    })
    expect(response.errorCode).toBe(ErrorCode.NONE)
    expect(response.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])])).toEqual([
      ['od', [[0, ErrorCode.NONE]]],
      ['ghost', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    ])
    const left = await ts.core.groups.fetchOffsets({ groupId: 'gone', topics: null })
    expect(left.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.offset])])).toEqual([['od', [[1, 6]]]])
    const missing = await client.request(ApiKey.OffsetDelete, v, { groupId: 'never', topics: [{ name: 'od', partitions: [{ partitionIndex: 0 }] }] })
    expect(missing).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] })
  },
  [ApiKey.DescribeLogDirs]: async (v) => {
    await createTopic('ld', 2)
    await produceValues('ld', ['a', 'b'])
    const all = await client.request(ApiKey.DescribeLogDirs, v, { topics: null })
    expect(all.results).toHaveLength(1)
    const [dir] = all.results
    expect(dir.errorCode).toBe(ErrorCode.NONE)
    expect(dir.logDir.endsWith('broker-0')).toBe(true)
    const ld = dir.topics.find((t) => t.name === 'ld')!
    const sizes = new Map(ld.partitions.map((p) => [p.partitionIndex, p.partitionSize]))
    const stored = ts.partitions.partition('ld', 0)!.batches.reduce((sum, b) => sum + b.bytes.length, 0)
    // Broker 0 hosts the partitions placed on it; partition 0 holds the two records.
    for (const [partition, size] of sizes) expect(size).toBe(partition === 0 ? stored : 0)
    if (v >= 4) expect(dir.totalBytes).toBeGreaterThan(0)
    const some = await client.request(ApiKey.DescribeLogDirs, v, { topics: [{ topic: 'ld', partitions: [0] }] })
    expect(some.results[0].topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex]))).toEqual(
      sizes.has(0) ? [['ld', 0]] : [],
    )
  },
  [ApiKey.DescribeProducers]: async (v) => {
    await createTopic('dp')
    const idempotent = encodeBatch({ baseTimestamp: 5000, producerId: 42, producerEpoch: 3, baseSequence: 0, records: [{ key: null, value: Buffer.from('a') }, { key: null, value: Buffer.from('b') }] })
    const [appended] = await ts.core.produce([{ topic: 'dp', partition: 0, records: idempotent }], -1, 1000)
    expect(appended.errorCode).toBe(ErrorCode.NONE)
    const response = await client.request(ApiKey.DescribeProducers, v, {
      topics: [
        { name: 'dp', partitionIndexes: [0] },
        { name: 'nope', partitionIndexes: [0] },
      ],
    })
    expect(response.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])])).toEqual([
      ['dp', [[0, ErrorCode.NONE]]],
      ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    ])
    expect(response.topics[0].partitions[0].activeProducers).toEqual([
      { producerId: 42, producerEpoch: 3, lastSequence: 1, lastTimestamp: 5000, coordinatorEpoch: -1, currentTxnStartOffset: -1 },
    ])
  },
  [ApiKey.ElectLeaders]: async (v) => {
    const [created] = await ts.core.createTopics([{ name: 'el', numPartitions: -1, replicationFactor: -1, configs: {}, assignments: [{ partitionIndex: 0, brokerIds: [0, 1] }] }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    const named = await client.request(ApiKey.ElectLeaders, v, {
      electionType: 0,
      topicPartitions: [
        { topic: 'el', partitions: [0] },
        { topic: 'nope', partitions: [0] },
      ],
      timeoutMs: 5000,
    })
    // The preferred replica already leads: nothing to do.
    expect(named.replicaElectionResults.map((t) => [t.topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode])])).toEqual([
      ['el', [[0, ErrorCode.ELECTION_NOT_NEEDED]]],
      ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    ])
    const all = await client.request(ApiKey.ElectLeaders, v, { electionType: 0, topicPartitions: null, timeoutMs: 5000 })
    expect(all.replicaElectionResults).toEqual([])
    if (v >= 1) {
      const unclean = await client.request(ApiKey.ElectLeaders, v, { electionType: 1, topicPartitions: [{ topic: 'el', partitions: [0] }], timeoutMs: 5000 })
      expect(unclean.replicaElectionResults[0].partitionResult[0].errorCode).toBe(ErrorCode.ELECTION_NOT_NEEDED)
    }
    expect((await ts.core.metadata(['el'], false)).topics[0].partitions[0].leaderId).toBe(0)
  },
  [ApiKey.AlterPartitionReassignments]: async (v) => {
    const assigned = (name: string, brokerIds: number[]) => ({ name, numPartitions: -1, replicationFactor: -1, configs: {}, assignments: [{ partitionIndex: 0, brokerIds }] })
    const created = await ts.core.createTopics([assigned('ra', [0]), assigned('rb', [1]), assigned('rd', [0, 1])], false)
    expect(created.map((c) => c.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE])
    await produceValues('ra', ['a', 'b'])
    const alter = async (name: string, partitionIndex: number, replicas: number[] | null) => {
      const response = await client.request(ApiKey.AlterPartitionReassignments, v, { timeoutMs: 5000, topics: [{ name, partitions: [{ partitionIndex, replicas }] }] })
      expect(response).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null })
      expect(response.responses.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([[name, [partitionIndex]]])
      return response.responses[0].partitions[0]
    }
    const partitionOf = async (name: string) => (await ts.core.metadata([name], false)).topics[0].partitions[0]
    // Refused, and nothing changes: an unknown topic or partition, bad lists, a cancel with none running.
    expect((await alter('nope', 0, [1])).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect((await alter('ra', 1, [1])).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    for (const bad of [[], [1, 1], [0, 7]]) expect((await alter('rb', 0, bad)).errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT)
    expect((await alter('rb', 0, null)).errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS)
    expect(await partitionOf('rb')).toMatchObject({ leaderId: 1, replicaNodes: [1], isrNodes: [1] })
    // To the replicas it has: nothing to do, and no new leader epoch.
    const rbEpoch = (await partitionOf('rb')).leaderEpoch
    expect((await alter('rb', 0, [1])).errorCode).toBe(ErrorCode.NONE)
    expect((await partitionOf('rb')).leaderEpoch).toBe(rbEpoch)
    // [0] to [1]: broker 1's replica is added and catches up (these replicas do not replicate, so it stays added).
    const before = await partitionOf('ra')
    expect(await alter('ra', 0, [1])).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null })
    const moving = await partitionOf('ra')
    // Metadata shows the union, target first, as Kafka does; the leader stays until the target is in sync.
    expect(moving).toMatchObject({ leaderId: 0, replicaNodes: [1, 0], isrNodes: [0] })
    expect(moving.leaderEpoch).toBeGreaterThan(before.leaderEpoch)
    expect(ts.partitions.hostsOf('ra', 0)).toEqual([0, 1])
    // Cancelled: back to [0], broker 1's replica closed with its data.
    expect((await alter('ra', 0, null)).errorCode).toBe(ErrorCode.NONE)
    expect(await partitionOf('ra')).toMatchObject({ leaderId: 0, replicaNodes: [0], isrNodes: [0] })
    expect(ts.partitions.hostsOf('ra', 0)).toEqual([0])
    expect((await alter('ra', 0, null)).errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS)
    // [0,1] to [1]: the target is in sync already, so the move completes at once and leadership moves to it.
    expect((await alter('rd', 0, [1])).errorCode).toBe(ErrorCode.NONE)
    expect(await partitionOf('rd')).toMatchObject({ leaderId: 1, replicaNodes: [1], isrNodes: [1] })
    expect(ts.partitions.hostsOf('rd', 0)).toEqual([1])
    const listed = await client.request(ApiKey.ListPartitionReassignments, 0, { timeoutMs: 5000, topics: null })
    expect(listed.topics).toEqual([])
  },
  [ApiKey.ListPartitionReassignments]: async (v) => {
    const [created] = await ts.core.createTopics([{ name: 'lr', numPartitions: 2, replicationFactor: 1, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    const replicas = (await ts.core.metadata(['lr'], false)).topics[0].partitions[0].replicaNodes
    const target = replicas[0] === 0 ? [1] : [0]
    const alter = await client.request(ApiKey.AlterPartitionReassignments, 0, { timeoutMs: 5000, topics: [{ name: 'lr', partitions: [{ partitionIndex: 0, replicas: target }] }] })
    expect(alter.responses[0].partitions[0].errorCode).toBe(ErrorCode.NONE)
    const ongoing = { partitionIndex: 0, replicas: [...target, ...replicas], addingReplicas: target, removingReplicas: replicas }
    const all = await client.request(ApiKey.ListPartitionReassignments, v, { timeoutMs: 5000, topics: null })
    expect(all).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null, topics: [{ name: 'lr', partitions: [ongoing] }] })
    // Named partitions: the running ones only; unknown topics and partitions are left out, as in Kafka.
    const named = await client.request(ApiKey.ListPartitionReassignments, v, {
      timeoutMs: 5000,
      topics: [
        { name: 'lr', partitionIndexes: [0, 1, 9] },
        { name: 'nope', partitionIndexes: [0] },
      ],
    })
    expect(named.topics).toEqual([{ name: 'lr', partitions: [ongoing] }])
    const idle = await client.request(ApiKey.ListPartitionReassignments, v, { timeoutMs: 5000, topics: [{ name: 'lr', partitionIndexes: [1] }] })
    expect(idle.topics).toEqual([])
  },
  [ApiKey.ListOffsets]: async (v) => {
    await createTopic('l')
    await ts.core.produce([{ topic: 'l', partition: 0, records: batchOf(['a', 'b'], 1000) }], -1, 1000)
    await ts.core.produce([{ topic: 'l', partition: 0, records: batchOf(['c'], 5000) }], -1, 1000)
    const response = await client.request(ApiKey.ListOffsets, v, {
      replicaId: -1,
      topics: [{ name: 'l', partitions: [{ partitionIndex: 0, timestamp: -2 }, { partitionIndex: 0, timestamp: -1 }, { partitionIndex: 0, timestamp: 4000 }] }],
    })
    const [earliest, latest, byTime] = response.topics[0].partitions
    if (v === 0) {
      // v0 answers a list of offsets in place of one.
      expect([earliest, latest, byTime].map((p) => [p.errorCode, p.oldStyleOffsets])).toEqual([
        [ErrorCode.NONE, [0]],
        [ErrorCode.NONE, [3]],
        [ErrorCode.NONE, [2]],
      ])
      return
    }
    expect(earliest).toMatchObject({ errorCode: ErrorCode.NONE, offset: 0 })
    expect(latest).toMatchObject({ errorCode: ErrorCode.NONE, offset: 3 })
    expect(byTime).toMatchObject({ errorCode: ErrorCode.NONE, offset: 2, timestamp: 5000 })
    expect(latest.leaderEpoch).toBe(v >= 4 ? 0 : -1)
  },
  [ApiKey.Metadata]: async (v) => {
    await createTopic('m1', 2)
    await createTopic('m2')
    const all = await client.request(ApiKey.Metadata, v, { topics: v === 0 ? [] : null })
    // __consumer_offsets is listed too, as Kafka lists it, marked internal.
    expect(all.topics.map((t) => t.name).sort()).toEqual(['__consumer_offsets', 'm1', 'm2'])
    if (v >= 1) expect(all.topics.find((t) => t.name === '__consumer_offsets')?.isInternal).toBe(true)
    expect(all.brokers.map((b) => b.nodeId)).toEqual([0, 1])
    expect(all.brokers[0]).toMatchObject({ host: '127.0.0.1', port: ts.server.port })
    if (v >= 1) expect(all.brokers.map((b) => b.nodeId)).toContain(all.controllerId)
    const m1 = all.topics.find((t) => t.name === 'm1')!
    expect(m1.partitions.map((p) => p.partitionIndex)).toEqual([0, 1])
    for (const p of m1.partitions) {
      expect(p.errorCode).toBe(ErrorCode.NONE)
      expect(p.replicaNodes).toEqual([p.leaderId])
      expect(p.isrNodes).toEqual([p.leaderId])
    }
    const some = await client.request(ApiKey.Metadata, v, { topics: [{ name: 'm2' }, { name: 'a/b' }], allowAutoTopicCreation: false })
    expect(some.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['m2', ErrorCode.NONE],
      ['a/b', ErrorCode.INVALID_TOPIC_EXCEPTION],
    ])
    const missing = await client.request(ApiKey.Metadata, v, { topics: [{ name: 'later' }], allowAutoTopicCreation: false })
    // Before v4 there is no flag and auto-creation is implied.
    expect(missing.topics[0].errorCode).toBe(v >= 4 ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NONE)
  },
  [ApiKey.OffsetCommit]: async (v) => {
    await createTopic('oc')
    const commit = await client.request(ApiKey.OffsetCommit, v, {
      groupId: 'simple',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [{ name: 'oc', partitions: [{ partitionIndex: 0, committedOffset: 42, committedMetadata: 'meta' }] }],
    })
    expect(commit.topics).toEqual([{ name: 'oc', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }] }])
    const fetched = await ts.core.groups.fetchOffsets({ groupId: 'simple', topics: [{ topic: 'oc', partitions: [0] }] })
    expect(fetched.topics[0].partitions[0]).toMatchObject({ offset: 42, metadata: 'meta' })
  },
  [ApiKey.OffsetFetch]: async (v) => {
    await createTopic('t')
    await ts.core.groups.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 7, metadata: 'm' }] })
    if (v >= 8) {
      const response = await client.request(ApiKey.OffsetFetch, v, {
        groups: [
          { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }] },
          { groupId: 'other', topics: null },
        ],
      })
      expect(response.groups[0].errorCode).toBe(ErrorCode.NONE)
      expect(response.groups[0].topics[0].partitions.map((p) => [p.partitionIndex, p.committedOffset])).toEqual([
        [0, 7],
        [1, -1],
      ])
      expect(response.groups[1]).toMatchObject({ groupId: 'other', topics: [], errorCode: ErrorCode.NONE })
      return
    }
    const response = await client.request(ApiKey.OffsetFetch, v, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }] })
    expect(response.topics[0].partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
      [0, 7, 'm'],
      [1, -1, ''],
    ])
  },
  [ApiKey.FindCoordinator]: async (v) => {
    if (v >= 4) {
      const response = await client.request(ApiKey.FindCoordinator, v, { keyType: 0, coordinatorKeys: ['a', 'b'] })
      expect(response.coordinators.map((c) => [c.key, c.nodeId, c.port, c.errorCode])).toEqual([
        ['a', 0, ts.server.port, ErrorCode.NONE],
        ['b', 0, ts.server.port, ErrorCode.NONE],
      ])
      const txn = await client.request(ApiKey.FindCoordinator, v, { keyType: 1, coordinatorKeys: ['tx'] })
      expect(txn.coordinators.map((c) => [c.key, c.errorCode])).toEqual([['tx', ErrorCode.NONE]])
      expect(txn.coordinators[0].nodeId).toBeGreaterThanOrEqual(0)
      return
    }
    const response = await client.request(ApiKey.FindCoordinator, v, { key: 'group' })
    expect(response).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 0, host: '127.0.0.1', port: ts.server.port })
  },
  [ApiKey.JoinGroup]: async (v) => {
    await joinAndSync('join', v, 0)
  },
  [ApiKey.SyncGroup]: async (v) => {
    await joinAndSync('sync', 6, v)
  },
  [ApiKey.Heartbeat]: async (v) => {
    const member = await joinAndSync('hb', 5, 3)
    const ok = await client.request(ApiKey.Heartbeat, v, { groupId: 'hb', ...member })
    expect(ok.errorCode).toBe(ErrorCode.NONE)
    const stale = await client.request(ApiKey.Heartbeat, v, { groupId: 'hb', generationId: member.generationId + 5, memberId: member.memberId })
    expect(stale.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
  },
  [ApiKey.LeaveGroup]: async (v) => {
    const member = await joinAndSync('leave', 5, 3)
    if (v >= 3) {
      const left = await client.request(ApiKey.LeaveGroup, v, { groupId: 'leave', members: [{ memberId: member.memberId }, { memberId: 'ghost' }] })
      expect(left.errorCode).toBe(ErrorCode.NONE)
      expect(left.members.map((m) => [m.memberId, m.errorCode])).toEqual([
        [member.memberId, ErrorCode.NONE],
        ['ghost', ErrorCode.UNKNOWN_MEMBER_ID],
      ])
    } else {
      const left = await client.request(ApiKey.LeaveGroup, v, { groupId: 'leave', memberId: member.memberId })
      expect(left.errorCode).toBe(ErrorCode.NONE)
      const again = await client.request(ApiKey.LeaveGroup, v, { groupId: 'leave', memberId: member.memberId })
      expect(again.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    }
    expect((await ts.core.groups.describeGroups(['leave']))[0].groupState).toBe('Empty')
  },
  [ApiKey.DescribeGroups]: async (v) => {
    const member = await joinAndSync('described', 5, 3)
    const response = await client.request(ApiKey.DescribeGroups, v, { groups: ['described', 'unknown'] })
    const [described, unknown] = response.groups
    expect(described).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' })
    expect(described.members).toHaveLength(1)
    expect(described.members[0]).toMatchObject({ memberId: member.memberId, clientId: 'wire-client' })
    expect(described.members[0].clientHost).toMatch(/^\/.+/)
    expect(described.members[0].memberAssignment.toString()).toBe('assignment')
    expect(unknown).toMatchObject({ groupId: 'unknown', errorCode: ErrorCode.NONE, groupState: 'Dead' })
  },
  [ApiKey.ListGroups]: async (v) => {
    await joinAndSync('listed', 5, 3)
    const response = await client.request(ApiKey.ListGroups, v, {})
    expect(response.errorCode).toBe(ErrorCode.NONE)
    expect(response.groups.map((g) => [g.groupId, g.protocolType])).toEqual([['listed', 'consumer']])
  },
  [ApiKey.DeleteGroups]: async (v) => {
    await createTopic('t')
    await ts.core.groups.commitOffsets({ groupId: 'doomed', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 1 }] })
    const response = await client.request(ApiKey.DeleteGroups, v, { groupsNames: ['doomed', 'never'] })
    expect(response.results).toEqual([
      { groupId: 'doomed', errorCode: ErrorCode.NONE },
      { groupId: 'never', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ])
  },
  [ApiKey.InitProducerId]: async (v) => {
    const first = await client.request(ApiKey.InitProducerId, v, { transactionalId: null, transactionTimeoutMs: 60_000 })
    expect(first.errorCode).toBe(ErrorCode.NONE)
    expect(first.producerId).toBeGreaterThanOrEqual(0)
    expect(first.producerEpoch).toBe(0)
    if (v >= 3) {
      const bumped = await client.request(ApiKey.InitProducerId, v, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: first.producerId, producerEpoch: 0 })
      expect(bumped).toMatchObject({ errorCode: ErrorCode.NONE, producerId: first.producerId, producerEpoch: 1 })
    }
    const ipid = await txnIdOnNode0(`ipid-${v}`)
    const transactional = await initTxn(ipid, v)
    expect(transactional.producerEpoch).toBe(0)
    // A second producer of the id gets the next epoch (the first is fenced); a timeout past the maximum is refused.
    expect(await initTxn(ipid, v)).toEqual({ producerId: transactional.producerId, producerEpoch: 1 })
    const tooLong = await client.request(ApiKey.InitProducerId, v, { transactionalId: ipid, transactionTimeoutMs: 900_001 })
    expect(tooLong.errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
  },
  [ApiKey.CreateTopics]: async (v) => {
    const response = await client.request(ApiKey.CreateTopics, v, {
      topics: [
        { name: 'made', numPartitions: 3, replicationFactor: 2, configs: [{ name: 'retention.ms', value: '1000' }] },
        {
          name: 'manual',
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [
            { partitionIndex: 1, brokerIds: [0, 1] },
            { partitionIndex: 0, brokerIds: [1, 0] },
          ],
        },
      ],
      timeoutMs: 1000,
    })
    expect(response.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['made', ErrorCode.NONE],
      ['manual', ErrorCode.NONE],
    ])
    const manual = (await ts.core.metadata(['manual'], false)).topics[0]
    expect(manual.partitions.map((p) => [p.replicaNodes, p.leaderId])).toEqual([
      [[1, 0], 1],
      [[0, 1], 0],
    ])
    expect((await ts.core.metadata([], false)).brokers).toHaveLength(2)
    const made = (await ts.core.metadata(['made'], false)).topics[0]
    expect(made.partitions).toHaveLength(3)
    expect(made.partitions[0].replicaNodes).toHaveLength(2)
    if (v >= 1) {
      const dry = await client.request(ApiKey.CreateTopics, v, { topics: [{ name: 'dry', numPartitions: 1, replicationFactor: 1 }], validateOnly: true })
      expect(dry.topics[0].errorCode).toBe(ErrorCode.NONE)
      expect((await ts.core.metadata(['dry'], false)).topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    }
  },
  [ApiKey.DeleteTopics]: async (v) => {
    await createTopic('gone')
    const response = await client.request(ApiKey.DeleteTopics, v, { topicNames: ['gone', 'never'], timeoutMs: 1000 })
    expect(response.responses.map((r) => [r.name, r.errorCode])).toEqual([
      ['gone', ErrorCode.NONE],
      ['never', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ])
  },
  [ApiKey.CreatePartitions]: async (v) => {
    await createTopic('grow')
    const response = await client.request(ApiKey.CreatePartitions, v, {
      topics: [
        { name: 'grow', count: 4, assignments: null },
        { name: 'grow', count: 1, assignments: null },
      ],
      timeoutMs: 1000,
    })
    expect(response.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.INVALID_PARTITIONS])
    expect((await ts.core.metadata(['grow'], false)).topics[0].partitions).toHaveLength(4)
  },
  [ApiKey.DescribeConfigs]: async (v) => {
    await ts.core.createTopics([{ name: 'dc', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': '1234' } }], false)
    const response = await client.request(ApiKey.DescribeConfigs, v, {
      resources: [
        { resourceType: 2, resourceName: 'dc', configurationKeys: ['retention.ms', 'cleanup.policy'] },
        { resourceType: 4, resourceName: '0', configurationKeys: null },
      ],
      includeSynonyms: true,
    })
    const [topic, broker] = response.results
    expect(topic.errorCode).toBe(ErrorCode.NONE)
    const retention = topic.configs.find((c) => c.name === 'retention.ms')!
    const cleanup = topic.configs.find((c) => c.name === 'cleanup.policy')!
    expect(retention.value).toBe('1234')
    expect(cleanup.value).toBe('delete')
    if (v === 0) {
      expect([retention.isDefault, cleanup.isDefault]).toEqual([false, true])
    } else {
      expect([retention.configSource, cleanup.configSource]).toEqual([1, 5])
      expect(retention.synonyms).toEqual([])
    }
    expect(broker.configs.find((c) => c.name === 'num.partitions')?.value).toBe('1')
  },
  [ApiKey.AlterConfigs]: async (v) => {
    await ts.core.createTopics([{ name: 'ac', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': '1234' } }], false)
    const response = await client.request(ApiKey.AlterConfigs, v, {
      resources: [
        { resourceType: 2, resourceName: 'ac', configs: [{ name: 'cleanup.policy', value: 'compact' }] },
        { resourceType: 2, resourceName: 'missing', configs: [] },
      ],
    })
    expect(response.responses.map((r) => [r.resourceName, r.errorCode])).toEqual([
      ['ac', ErrorCode.NONE],
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ])
    const [described] = await ts.core.describeConfigs([{ resourceType: 2, resourceName: 'ac', configNames: ['cleanup.policy', 'retention.ms'] }])
    // AlterConfigs replaces the whole override set.
    expect(described.configs.map((c) => [c.name, c.value])).toEqual([
      ['cleanup.policy', 'compact'],
      ['retention.ms', '604800000'],
    ])
  },
  [ApiKey.IncrementalAlterConfigs]: async (v) => {
    await ts.core.createTopics([{ name: 'iac', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': '1234' } }], false)
    const response = await client.request(ApiKey.IncrementalAlterConfigs, v, {
      resources: [
        { resourceType: 2, resourceName: 'iac', configs: [{ name: 'cleanup.policy', configOperation: 2, value: 'compact' }] },
        { resourceType: 2, resourceName: 'iac', configs: [{ name: 'cleanup.policy', configOperation: 9, value: 'x' }] },
      ],
    })
    expect(response.responses.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.INVALID_REQUEST])
    const [described] = await ts.core.describeConfigs([{ resourceType: 2, resourceName: 'iac', configNames: ['cleanup.policy', 'retention.ms'] }])
    expect(described.configs.map((c) => [c.name, c.value])).toEqual([
      ['cleanup.policy', 'delete,compact'],
      ['retention.ms', '1234'],
    ])
  },
  [ApiKey.DeleteRecords]: async (v) => {
    await createTopic('dr')
    await produceValues('dr', ['a', 'b'])
    await produceValues('dr', ['c'])
    const response = await client.request(ApiKey.DeleteRecords, v, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: 2 }] }], timeoutMs: 1000 })
    expect(response.topics[0].partitions[0]).toEqual({ partitionIndex: 0, lowWatermark: 2, errorCode: ErrorCode.NONE })
    const [earliest] = await ts.core.listOffsets([{ topic: 'dr', partition: 0, timestamp: -2 }])
    expect(earliest.offset).toBe(2)
  },
  [ApiKey.AddPartitionsToTxn]: async (v) => {
    await createTopic('apt')
    const aptId = await txnIdOnNode0(`apt-${v}`)
    const { producerId, producerEpoch } = await initTxn(aptId)
    const added = await client.request(ApiKey.AddPartitionsToTxn, v, { v3AndBelowTransactionalId: aptId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'apt', partitions: [0] }] })
    expect(added.resultsByTopicV3AndBelow).toEqual([{ name: 'apt', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }] }])
    const unknown = await client.request(ApiKey.AddPartitionsToTxn, v, {
      v3AndBelowTransactionalId: aptId,
      v3AndBelowProducerId: producerId,
      v3AndBelowProducerEpoch: producerEpoch,
      v3AndBelowTopics: [{ name: 'apt', partitions: [0] }, { name: 'nope', partitions: [0] }],
    })
    expect(unknown.resultsByTopicV3AndBelow.map((t) => t.resultsByPartition[0].partitionErrorCode)).toEqual([ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
    const fenced = await client.request(ApiKey.AddPartitionsToTxn, v, { v3AndBelowTransactionalId: aptId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch - 1, v3AndBelowTopics: [{ name: 'apt', partitions: [0] }] })
    expect(fenced.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(v >= 2 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH)
  },
  [ApiKey.AddOffsetsToTxn]: async (v) => {
    const aotId = await txnIdOnNode0(`aot-${v}`)
    const { producerId, producerEpoch } = await initTxn(aotId)
    expect(await client.request(ApiKey.AddOffsetsToTxn, v, { transactionalId: aotId, producerId, producerEpoch, groupId: 'g' })).toMatchObject({ errorCode: ErrorCode.NONE })
    const [described] = ts.core.txns.describe([aotId])
    expect(described).toMatchObject({ state: 'Ongoing', partitions: [{ topic: '__consumer_offsets', partition: 0 }] })
    expect((await client.request(ApiKey.AddOffsetsToTxn, v, { transactionalId: aotId, producerId: producerId + 1, producerEpoch, groupId: 'g' })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  },
  [ApiKey.EndTxn]: async (v) => {
    await createTopic('et')
    const etId = await txnIdOnNode0(`et-${v}`)
    const { producerId, producerEpoch } = await initTxn(etId)
    await ts.core.txns.addPartitions(etId, producerId, producerEpoch, [{ topic: 'et', partition: 0 }])
    if (v >= 5) return endTxnBumpingEpochScenario(v, etId, producerId, producerEpoch, 'et')
    expect(await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch, committed: true })).toMatchObject({ errorCode: ErrorCode.NONE })
    expect(ts.partitions.markers).toContainEqual({ id: 'et/0', commit: true, producerId })
    // Retried, it answers as before; asked to abort what committed, INVALID_TXN_STATE.
    expect((await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch, committed: true })).errorCode).toBe(ErrorCode.NONE)
    expect((await client.request(ApiKey.EndTxn, v, { transactionalId: etId, producerId, producerEpoch, committed: false })).errorCode).toBe(ErrorCode.INVALID_TXN_STATE)
  },
  [ApiKey.WriteTxnMarkers]: async (v) => {
    await createTopic('wtm')
    const response = await client.request(ApiKey.WriteTxnMarkers, v, { markers: [{ producerId: 77, producerEpoch: 0, transactionResult: false, coordinatorEpoch: 0, topics: [{ name: 'wtm', partitionIndexes: [0] }] }] })
    expect(response.markers).toEqual([{ producerId: 77, topics: [{ name: 'wtm', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }] }] }])
    expect(ts.partitions.markers).toContainEqual({ id: 'wtm/0', commit: false, producerId: 77 })
  },
  [ApiKey.TxnOffsetCommit]: async (v) => {
    await createTopic('toc')
    const id = await txnIdOnNode0(`toc-${v}`)
    const { producerId, producerEpoch } = await initTxn(id)
    const commit = (offset: number) =>
      client.request(ApiKey.TxnOffsetCommit, v, {
        transactionalId: id,
        groupId: `g-${v}`,
        producerId,
        producerEpoch,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [{ name: 'toc', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
      })
    const codeOf = (response: Awaited<ReturnType<typeof commit>>) => response.topics[0].partitions[0].errorCode
    // KIP-890: before AddOffsetsToTxn put the group's partition in the transaction, nothing is written.
    const producesBefore = ts.partitions.produceCount
    expect(codeOf(await commit(4))).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(ts.partitions.produceCount).toBe(producesBefore)
    await client.request(ApiKey.AddOffsetsToTxn, 0, { transactionalId: id, producerId, producerEpoch, groupId: `g-${v}` })
    expect((await commit(5)).topics).toEqual([{ name: 'toc', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }] }])
    const fetch = (requireStable: boolean) => client.request(ApiKey.OffsetFetch, 7, { groupId: `g-${v}`, topics: [{ name: 'toc', partitionIndexes: [0] }], requireStable })
    // Pending until the transaction commits: require_stable answers UNSTABLE_OFFSET_COMMIT, a plain fetch none yet.
    expect((await fetch(true)).topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT })
    expect((await fetch(false)).topics[0].partitions[0]).toMatchObject({ committedOffset: -1 })
    expect(await client.request(ApiKey.EndTxn, 0, { transactionalId: id, producerId, producerEpoch, committed: true })).toMatchObject({ errorCode: ErrorCode.NONE })
    expect((await fetch(true)).topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, committedOffset: 5 })
    // The marker ended the transaction: the next one must add the offsets again.
    expect(codeOf(await commit(6))).toBe(ErrorCode.INVALID_TXN_STATE)
    expect((await fetch(true)).topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, committedOffset: 5 })
  },
  [ApiKey.DescribeTransactions]: async (v) => {
    const dt = await txnIdOnNode0('dt')
    const unknown = await txnIdOnNode0('unknown')
    const { producerId } = await initTxn(dt)
    const response = await client.request(ApiKey.DescribeTransactions, v, { transactionalIds: [dt, unknown] })
    expect(response.transactionStates.map((t) => [t.transactionalId, t.errorCode, t.transactionState, t.producerId])).toEqual([
      [dt, ErrorCode.NONE, 'Empty', producerId],
      [unknown, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, '', -1],
    ])
  },
  [ApiKey.ListTransactions]: async (v) => {
    const lt = await txnIdOnNode0('lt')
    const { producerId } = await initTxn(lt)
    const all = await client.request(ApiKey.ListTransactions, v, { stateFilters: [], producerIdFilters: [] })
    expect(all.transactionStates).toContainEqual({ transactionalId: lt, producerId, transactionState: 'Empty' })
    const filtered = await client.request(ApiKey.ListTransactions, v, { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [] })
    expect(filtered).toMatchObject({ errorCode: ErrorCode.NONE, unknownStateFilters: ['Bogus'], transactionStates: [] })
  },
}

describe('every handler at its lowest and highest version', () => {
  it('has a scenario for every API the server declares, and none for an API it does not', () => {
    expect(Object.keys(scenarios).map(Number).sort((a, b) => a - b)).toEqual(HANDLERS.map((h) => h.apiKey as number).sort((a, b) => a - b))
  })

  for (const handler of HANDLERS) {
    for (const version of [handler.minVersion, handler.maxVersion]) {
      it(`serves api key ${handler.apiKey} at v${version}`, async () => {
        await scenarios[handler.apiKey as RequestApiKey](version)
        expect(ts.warnings).toEqual([])
        expect(client.isClosed).toBe(false)
      })
    }
  }
})

describe('Produce and Fetch below v3 and v4', () => {
  it('appends at v1 and v2 too, each message set up-converted to one v2 batch', async () => {
    for (const v of [1, 2]) {
      await ts.close()
      ts = await startTestServer({ brokers: 2 })
      client = await ts.connect()
      await scenarios[ApiKey.Produce](v)
      expect(ts.partitions.produceCount).toBe(2)
    }
  })

  it('refuses a message set with a bad CRC-32 with CORRUPT_MESSAGE and appends nothing', async () => {
    await createTopic('crc')
    const set = messageSetOf(1, ['a', 'b'])
    set[set.length - 1] ^= 0x01
    const response = await client.request(ApiKey.Produce, 2, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'crc', partitionData: [{ index: 0, records: set }] }] })
    expect(response.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(ts.partitions.produceCount).toBe(0)
  })

  it('counts the messages it converts each way', async () => {
    await createTopic('counted')
    const before = { ...messageConversions }
    await client.request(ApiKey.Produce, 2, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'counted', partitionData: [{ index: 0, records: messageSetOf(1, ['a', 'b', 'c']) }] }] })
    await client.request(ApiKey.Fetch, 3, { maxWaitMs: 0, maxBytes: 1 << 20, topics: [{ topic: 'counted', partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20 }] }] })
    await client.request(ApiKey.Fetch, 4, { maxWaitMs: 0, maxBytes: 1 << 20, topics: [{ topic: 'counted', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }] })
    expect(messageConversions.produceConversions - before.produceConversions).toBe(1)
    expect(messageConversions.produceMessagesConverted - before.produceMessagesConverted).toBe(3)
    expect(messageConversions.fetchConversions - before.fetchConversions).toBe(1)
    expect(messageConversions.fetchMessagesConverted - before.fetchMessagesConverted).toBe(2)
    expect(messageConversions.conversionTimeNs).toBeGreaterThan(before.conversionTimeNs)
  })

  it('holds Fetch v2 to partitionMaxBytes strictly and gives Fetch v3 its first message whole', async () => {
    await createTopic('big')
    await produceValues('big', ['x'.repeat(500), 'y'])
    const ask = (v: number) =>
      client.request(ApiKey.Fetch, v, { maxWaitMs: 0, maxBytes: 1 << 20, topics: [{ topic: 'big', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 100 }] }] })
    const strict = (await ask(2)).responses[0].partitions[0].records!
    expect(strict.length).toBe(100)
    // Only the start of a message larger than the limit: the client sees it is partial and asks for more.
    expect(strict.readInt32BE(8)).toBeGreaterThan(500)
    const whole = (await ask(3)).responses[0].partitions[0].records!
    expect(decodeMessageSet(whole, decompress).map((m) => m.value?.length)).toEqual([500])
  })
})

describe('validation the server owns', () => {
  const produceRequest = (acks: number, transactionalId: string | null = null) => ({
    transactionalId,
    acks,
    timeoutMs: 1000,
    topicData: [{ name: 'v', partitionData: [{ index: 0, records: batchOf(['a']) }, { index: 1, records: batchOf(['b']) }] }],
  })

  it('refuses acks outside -1, 0 and 1 with INVALID_REQUIRED_ACKS on every partition', async () => {
    await createTopic('v', 2)
    for (const acks of [2, -2, 100]) {
      const response = await client.request(ApiKey.Produce, 7, produceRequest(acks))
      expect(response.responses[0].partitionResponses.map((p) => p.errorCode)).toEqual([ErrorCode.INVALID_REQUIRED_ACKS, ErrorCode.INVALID_REQUIRED_ACKS])
    }
    expect(ts.partitions.produceCount).toBe(0)
  })

  it('fences an EndTxn v5 delayed from transaction N that arrives while N+1 is open, instead of ending N+1', async () => {
    await createTopic('et5')
    const id = await txnIdOnNode0('et5')
    const { producerId, producerEpoch } = await initTxn(id)
    await ts.core.txns.addPartitions(id, producerId, producerEpoch, [{ topic: 'et5', partition: 0 }])
    await endTxnBumpingEpochScenario(5, id, producerId, producerEpoch, 'et5')
  })

  it('fences an EndTxn below v5 delayed on a connection the producer gave up, instead of letting it end the next transaction', async () => {
    await createTopic('etd')
    for (const v of [1, 3]) {
      const id = await txnIdOnNode0(`etd-${v}`)
      const { producerId, producerEpoch } = await initTxn(id)
      const add = (via: WireClient) =>
        via.request(ApiKey.AddPartitionsToTxn, v, { v3AndBelowTransactionalId: id, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'etd', partitions: [0] }] })
      const end = (via: WireClient, committed: boolean) => via.request(ApiKey.EndTxn, v, { transactionalId: id, producerId, producerEpoch, committed })
      // Transaction N begins on the first connection; its EndTxn "times out" there, and the
      // client retries it on a new connection, where it commits N and begins N+1.
      expect((await add(client)).resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(ErrorCode.NONE)
      const reconnected = await ts.connect()
      expect((await end(reconnected, true)).errorCode).toBe(ErrorCode.NONE)
      expect((await add(reconnected)).resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(ErrorCode.NONE)
      const markersBefore = ts.partitions.markers.length
      // N's first EndTxn, delayed on the abandoned connection, arrives now: fenced, and N+1 stays open.
      expect((await end(client, true)).errorCode).toBe(v >= 2 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH)
      expect(ts.partitions.markers).toHaveLength(markersBefore)
      expect(ts.core.txns.describe([id])[0]).toMatchObject({ state: 'Ongoing', producerEpoch })
      // The producer, on its live connection, still ends N+1 its own way.
      expect((await end(reconnected, false)).errorCode).toBe(ErrorCode.NONE)
      expect(ts.partitions.markers.slice(markersBefore)).toEqual([{ id: 'etd/0', commit: false, producerId }])
      await reconnected.close()
    }
  })

  it('fences a TxnOffsetCommit delayed on a connection the producer gave up, so the next transaction commits its own offsets', async () => {
    await createTopic('tocd')
    for (const v of [2, 3]) {
      const id = await txnIdOnNode0(`tocd-${v}`)
      let groupId = `tocd-g-${v}`
      for (let i = 0; (await ts.core.findCoordinator(groupId, 0)).nodeId !== 0; i++) groupId = `tocd-g-${v}.${i}`
      const { producerId, producerEpoch } = await initTxn(id)
      const begin = async (via: WireClient) =>
        expect((await via.request(ApiKey.AddOffsetsToTxn, 0, { transactionalId: id, producerId, producerEpoch, groupId })).errorCode).toBe(ErrorCode.NONE)
      const commit = async (via: WireClient, offset: number) => {
        const response = await via.request(ApiKey.TxnOffsetCommit, v, {
          transactionalId: id,
          groupId,
          producerId,
          producerEpoch,
          generationId: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [{ name: 'tocd', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
        })
        return response.topics[0].partitions[0].errorCode
      }
      const committed = async () => (await client.request(ApiKey.OffsetFetch, 7, { groupId, topics: [{ name: 'tocd', partitionIndexes: [0] }], requireStable: true })).topics[0].partitions[0]
      // Transaction N commits offset 5 on the first connection; the client gives that connection up
      // and ends N on a new one, where N+1 commits offset 9.
      await begin(client)
      expect(await commit(client, 5)).toBe(ErrorCode.NONE)
      const reconnected = await ts.connect()
      expect((await reconnected.request(ApiKey.EndTxn, 1, { transactionalId: id, producerId, producerEpoch, committed: true })).errorCode).toBe(ErrorCode.NONE)
      await begin(reconnected)
      expect(await commit(reconnected, 9)).toBe(ErrorCode.NONE)
      // N's commit of 5, sent again and delayed on the abandoned connection, arrives now: fenced.
      expect(await commit(client, 5)).toBe(v >= 3 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH)
      expect((await reconnected.request(ApiKey.EndTxn, 1, { transactionalId: id, producerId, producerEpoch, committed: true })).errorCode).toBe(ErrorCode.NONE)
      expect(await committed()).toMatchObject({ errorCode: ErrorCode.NONE, committedOffset: 9 })
      await reconnected.close()
    }
  })

  it('answers each topic of a produce once, in request order, gathering the partitions of a topic named twice under its first entry', async () => {
    await createTopic('v', 2)
    await createTopic('w', 1)
    const entry = (name: string, index: number) => ({ name, partitionData: [{ index, records: batchOf([`${name}${index}`]) }] })
    const distinct = await client.request(ApiKey.Produce, 7, { acks: 1, timeoutMs: 1000, topicData: [entry('w', 0), entry('v', 1)] })
    expect(distinct.responses.map((t) => [t.name, t.partitionResponses.map((p) => [p.index, p.errorCode])])).toEqual([
      ['w', [[0, ErrorCode.NONE]]],
      ['v', [[1, ErrorCode.NONE]]],
    ])
    const repeated = await client.request(ApiKey.Produce, 7, { acks: 1, timeoutMs: 1000, topicData: [entry('v', 0), entry('w', 0), entry('v', 1)] })
    expect(repeated.responses.map((t) => [t.name, t.partitionResponses.map((p) => [p.index, p.errorCode])])).toEqual([
      ['v', [[0, ErrorCode.NONE], [1, ErrorCode.NONE]]],
      ['w', [[0, ErrorCode.NONE]]],
    ])
  })

  it('passes a produce naming a transactional id but carrying no transactional batch on to the partitions', async () => {
    await createTopic('v', 2)
    const response = await client.request(ApiKey.Produce, 3, produceRequest(1, 'tx-1'))
    expect(response.responses[0].partitionResponses.map((p) => p.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE])
    expect(ts.partitions.produceCount).toBe(2)
  })

  it('appends a transactional batch only to a partition its transaction added (KIP-890), until the marker ends the transaction', async () => {
    await createTopic('tv', 2)
    const id = await txnIdOnNode0('tv')
    const { producerId, producerEpoch } = await initTxn(id)
    const batch = (value: string, epoch = producerEpoch, pid = producerId) =>
      encodeBatch({ baseTimestamp: Date.now(), producerId: pid, producerEpoch: epoch, baseSequence: 0, isTransactional: true, records: [{ key: null, value: Buffer.from(value) }] })
    const produce = async (transactionalId: string | null, partition: number, records: Buffer) =>
      (await client.request(ApiKey.Produce, 9, { transactionalId, acks: -1, timeoutMs: 1000, topicData: [{ name: 'tv', partitionData: [{ index: partition, records }] }] })).responses[0].partitionResponses[0].errorCode
    expect(await ts.core.txns.addPartitions(id, producerId, producerEpoch, [{ topic: 'tv', partition: 0 }])).toBe(ErrorCode.NONE)
    const producesBefore = ts.partitions.produceCount
    // Refused without reaching the partition: one the transaction did not add, no transactional
    // id, an unknown producer id, an old epoch, two producers in one record set.
    expect(await produce(id, 1, batch('not added'))).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(await produce(null, 0, batch('no id'))).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    expect(await produce(id, 0, batch('other producer', producerEpoch, producerId + 1000))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    expect(await produce(id, 0, batch('fenced', producerEpoch - 1))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect(await produce(id, 0, Buffer.concat([batch('a'), batch('b', producerEpoch, producerId + 1)]))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    expect(ts.partitions.produceCount).toBe(producesBefore)
    // Added: appended, the second batch without asking the coordinator again.
    expect(await produce(id, 0, batch('added'))).toBe(ErrorCode.NONE)
    expect(ts.core.txnVerification.holds(producerId, producerEpoch, 'tv', 0)).toBe(true)
    expect(await produce(id, 0, batch('again'))).toBe(ErrorCode.NONE)
    expect(ts.partitions.produceCount).toBe(producesBefore + 2)
    expect((await client.request(ApiKey.EndTxn, 3, { transactionalId: id, producerId, producerEpoch, committed: true })).errorCode).toBe(ErrorCode.NONE)
    // The marker was written: a late write of the ended transaction would open one nobody ends.
    expect(ts.core.txnVerification.holds(producerId, producerEpoch, 'tv', 0)).toBe(false)
    const producesAfterEnd = ts.partitions.produceCount
    expect(await produce(id, 0, batch('late'))).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(ts.partitions.produceCount).toBe(producesAfterEnd)
  })

  it('answers illegal topic names with INVALID_TOPIC_EXCEPTION', async () => {
    const names = ['', '.', '..', 'x'.repeat(250), 'a/b']
    const response = await client.request(ApiKey.CreateTopics, 4, {
      topics: names.map((name) => ({ name, numPartitions: 1, replicationFactor: 1 })),
      timeoutMs: 1000,
    })
    expect(response.topics.map((t) => t.errorCode)).toEqual(names.map(() => ErrorCode.INVALID_TOPIC_EXCEPTION))
    const metadata = await client.request(ApiKey.Metadata, 9, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: true })
    expect(metadata.topics.map((t) => t.errorCode)).toEqual(names.map(() => ErrorCode.INVALID_TOPIC_EXCEPTION))
    expect((await ts.core.metadata([], false)).brokers).toHaveLength(2)
    expect((await ts.core.metadata(null, false)).topics.map((t) => t.name)).toEqual(['__consumer_offsets'])
  })

  it('answers zero partitions with INVALID_PARTITIONS and a replication factor beyond the brokers with INVALID_REPLICATION_FACTOR', async () => {
    const response = await client.request(ApiKey.CreateTopics, 2, {
      topics: [
        { name: 'zero', numPartitions: 0, replicationFactor: 1 },
        { name: 'wide', numPartitions: 1, replicationFactor: 3 },
      ],
      timeoutMs: 1000,
    })
    expect(response.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['zero', ErrorCode.INVALID_PARTITIONS],
      ['wide', ErrorCode.INVALID_REPLICATION_FACTOR],
    ])
    expect(response.topics[1].errorMessage).toContain('larger than available brokers: 2')
  })
})
