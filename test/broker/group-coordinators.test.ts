/**
 * The node's group coordinators against a metadata image that changes under a request: a request
 * answers each partition it was asked about from one look at the image, whatever arrives while
 * its coordinator writes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ErrorCode } from '../../src/common/error-codes.js'
import { MetadataImage } from '../../src/metadata/image.js'
import { startTestServer, type TestServer } from '../server/helpers.js'

let ts: TestServer

beforeEach(async () => {
  ts = await startTestServer({ brokers: 1 })
})

afterEach(async () => {
  vi.restoreAllMocks()
  await ts.close()
})

describe('OffsetDelete at the node', () => {
  it('answers a partition created while the coordinator writes its tombstones as unknown, as it was when asked', async () => {
    for (const name of ['kept', 'born']) {
      const [created] = await ts.core.createTopics([{ name, numPartitions: 1, replicationFactor: 1, configs: {} }], false)
      expect(created.errorCode).toBe(ErrorCode.NONE)
    }
    const committed = await ts.core.groups.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 'kept', partition: 0, offset: 5 }] })
    expect(committed.map((r) => r.errorCode)).toEqual([ErrorCode.NONE])
    // 'born' is missing from the image at the first look and present at any later one: a topic
    // created while the request runs (the fuzzer's lanes create topics all the time).
    const partition = MetadataImage.prototype.partition
    let bornLookups = 0
    vi.spyOn(MetadataImage.prototype, 'partition').mockImplementation(function (this: MetadataImage, topic: string, index: number) {
      if (topic === 'born' && bornLookups++ === 0) return undefined
      return partition.call(this, topic, index)
    })
    const answer = await ts.core.deleteOffsets('g', [
      { topic: 'born', partition: 0 },
      { topic: 'kept', partition: 0 },
    ])
    expect(answer.errorCode).toBe(ErrorCode.NONE)
    expect(answer.partitions).toEqual([
      { topic: 'born', partition: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      { topic: 'kept', partition: 0, errorCode: ErrorCode.NONE },
    ])
  })
})

describe('a deleted topic at the group coordinators', () => {
  it("drops every group's offsets of a deleted topic, so a topic created again under its name starts with none", async () => {
    for (const name of ['gone', 'stays']) {
      const [created] = await ts.core.createTopics([{ name, numPartitions: 2, replicationFactor: 1, configs: {} }], false)
      expect(created.errorCode).toBe(ErrorCode.NONE)
    }
    const offsets = ['gone', 'stays'].flatMap((topic) => [0, 1].map((partition) => ({ topic, partition, offset: 5 })))
    for (const groupId of ['g1', 'g2']) {
      const committed = await ts.core.groups.commitOffsets({ groupId, generationId: -1, memberId: '', offsets })
      expect(committed.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE])
    }
    const appendsBefore = ts.partitions.produceCount
    expect((await ts.core.deleteTopics(['gone'], 5_000)).map((r) => r.errorCode)).toEqual([ErrorCode.NONE])
    const [recreated] = await ts.core.createTopics([{ name: 'gone', numPartitions: 2, replicationFactor: 1, configs: {} }], false)
    expect(recreated.errorCode).toBe(ErrorCode.NONE)
    for (const groupId of ['g1', 'g2']) {
      const fetched = await ts.core.groups.fetchOffsets({ groupId, topics: null })
      expect(fetched.topics.map((t) => [t.topic, t.partitions.map((p) => p.offset)])).toEqual([['stays', [5, 5]]])
    }
    // Written as tombstones, so a coordinator that loads the partition later does not bring them back.
    expect(ts.partitions.produceCount).toBeGreaterThan(appendsBefore)
  })
})
