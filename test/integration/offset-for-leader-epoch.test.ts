/**
 * OffsetForLeaderEpoch against a leader that changed (KIP-320): a consumer that read at epoch 0
 * asks the new leader where its epoch ended. No client here sends this API (librdkafka 2.0.2,
 * kafkajs and kafka-python predate or skip it), so the consumer's side is raw requests, as a Java
 * consumer's validation after a leader change sends them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'
import { batchOf } from '../server/helpers.js'
import { RawConnection, eventually, startTestBroker, tempDataDir, type Broker } from './harness.js'

let data: ReturnType<typeof tempDataDir>
let broker: Broker

beforeAll(async () => {
  data = tempDataDir()
  broker = await startTestBroker(data.dir, { brokers: 2, defaultReplicationFactor: 2, replicaLagTimeMaxMs: 2_000 })
})

afterAll(async () => {
  await broker?.close()
  data?.remove()
})

async function leaderOf(topic: string): Promise<{ leaderId: number; leaderEpoch: number; port: number }> {
  const metadata = await broker.cluster.metadata([topic], false)
  const partition = metadata.topics[0].partitions[0]
  const endpoint = metadata.brokers.find((b) => b.nodeId === partition.leaderId)
  return { leaderId: partition.leaderId, leaderEpoch: partition.leaderEpoch, port: endpoint?.port ?? -1 }
}

async function produce(values: string[]): Promise<void> {
  const [result] = await broker.cluster.produce([{ topic: 'epochs', partition: 0, records: batchOf(values) }], -1, 10_000)
  expect(result.errorCode).toBe(ErrorCode.NONE)
}

describe('OffsetForLeaderEpoch', () => {
  it('tells a consumer past the end of its epoch on the new leader where that epoch ended, and fences stale epochs', async () => {
    const [created] = await broker.cluster.createTopics([{ name: 'epochs', numPartitions: 1, replicationFactor: 2, configs: {} }], false)
    expect(created.errorCode).toBe(ErrorCode.NONE)
    await produce(['a', 'b', 'c'])
    const first = await leaderOf('epochs')
    expect(first.leaderEpoch).toBeGreaterThanOrEqual(0)

    broker.faults.killBroker(first.leaderId)
    const second = await eventually(async () => {
      const now = await leaderOf('epochs')
      return now.leaderId !== first.leaderId && now.leaderId >= 0 ? now : undefined
    }, 'a new leader')
    expect(second.leaderEpoch).toBeGreaterThan(0)
    await eventually(async () => {
      const [result] = await broker.cluster.produce([{ topic: 'epochs', partition: 0, records: batchOf(['d', 'e']) }], -1, 10_000)
      return result.errorCode === ErrorCode.NONE ? true : undefined
    }, 'a produce to the new leader')

    const connection = await RawConnection.open(second.port)
    try {
      const ask = (version: number, leaderEpoch: number, currentLeaderEpoch: number) =>
        connection
          .request(ApiKey.OffsetForLeaderEpoch, version, {
            replicaId: -1,
            topics: [{ topic: 'epochs', partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }],
          })
          .then((r) => r.topics[0].partitions[0])
      for (const version of [0, 2, 4]) {
        // A consumer positioned at offset 4 having seen the first epoch learns that epoch ended at 3:
        // it was truncated (KIP-320) and must reset to 3.
        const ended = await ask(version, first.leaderEpoch, version >= 2 ? second.leaderEpoch : -1)
        expect(ended).toMatchObject({ errorCode: ErrorCode.NONE, endOffset: 3 })
        if (version >= 1) expect(ended.leaderEpoch).toBe(first.leaderEpoch)
      }
      // The current epoch has not ended: its end is the log end.
      expect(await ask(4, second.leaderEpoch, second.leaderEpoch)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: second.leaderEpoch, endOffset: 5 })
      // An epoch newer than any the leader knows has no end offset.
      expect(await ask(4, second.leaderEpoch + 5, -1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 })
      // A client still on the old epoch is fenced; one ahead of the leader is told to wait.
      expect((await ask(4, first.leaderEpoch, first.leaderEpoch)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)
      expect((await ask(4, first.leaderEpoch, second.leaderEpoch + 1)).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
      const unknown = await connection.request(ApiKey.OffsetForLeaderEpoch, 4, {
        replicaId: -1,
        topics: [{ topic: 'no-such-topic', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
      })
      expect(unknown.topics[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    } finally {
      connection.close()
    }
  })
})
