import { describe, expect, it } from 'vitest'
import { ImagePublisher } from '../../src/controller/image-publisher.js'
import { MetadataImage, type MetadataDelta, type PartitionState, type TopicState } from '../../src/metadata/image.js'

function partition(index: number, leader = 0): PartitionState {
  return { partition: index, replicas: [0], leader, leaderEpoch: 1, isr: [0] }
}

function topicOf(name: string, count: number, topicId = `${name}-id`): TopicState {
  return { name, topicId, configs: {}, partitions: Array.from({ length: count }, (_, i) => partition(i)) }
}

/** A publisher over a map of topics, with one node whose image is fed every delta as it would be on its shard. */
function setUp() {
  const topics = new Map<string, TopicState>()
  const sent: MetadataDelta[] = []
  const node = new MetadataImage()
  const publisher = new ImagePublisher(
    {
      clusterId: 'c',
      topic: (name) => topics.get(name),
      send: (_nodeId, delta) => {
        // What crosses the ring is a copy.
        const copy = structuredClone(delta)
        sent.push(copy)
        node.apply(copy)
      },
      liveNodes: () => [0],
    },
    [{ nodeId: 0, host: '127.0.0.1', port: 9092, rack: null }],
  )
  node.apply(publisher.snapshotFor(0))
  return { topics, sent, node, publisher }
}

/** How many partition states a delta carries, whole topics and changed partitions together. */
function partitionsIn(delta: MetadataDelta): number {
  return (delta.topics ?? []).reduce((n, t) => n + t.partitions.length, 0) + (delta.partitionChanges ?? []).reduce((n, c) => n + c.partitions.length, 0)
}

describe('ImagePublisher', () => {
  it('sends a new topic whole, then only the partitions that changed in it', () => {
    const { topics, sent, node, publisher } = setUp()
    topics.set('big', topicOf('big', 10_000))
    publisher.topicChanged('big')
    publisher.flush()
    expect(partitionsIn(sent.at(-1)!)).toBe(10_000)

    topics.get('big')!.partitions[7_000] = { ...partition(7_000), leaderEpoch: 2 }
    publisher.topicChanged('big', [7_000])
    publisher.flush()
    expect(partitionsIn(sent.at(-1)!)).toBe(1)
    expect(node.partition('big', 7_000)?.leaderEpoch).toBe(2)
    expect(node.topics.get('big')).toEqual(topics.get('big'))
  })

  it('sends only the added partitions when a huge topic grows, and the node appends them in place', () => {
    const { topics, sent, node, publisher } = setUp()
    topics.set('big', topicOf('big', 10_000))
    publisher.topicChanged('big')
    publisher.flush()
    const grown = { ...topics.get('big')!, partitions: [...topics.get('big')!.partitions, partition(10_000), partition(10_001)] }
    topics.set('big', grown)
    publisher.topicChanged('big', [10_001, 10_000])
    publisher.flush()
    expect(partitionsIn(sent.at(-1)!)).toBe(2)
    expect(node.topics.get('big')?.partitions).toHaveLength(10_002)
    expect(node.topics.get('big')).toEqual(grown)
  })

  it('sends a topic whole when it shrank, was recreated under its name, or a new partition is missing from the change', () => {
    const { topics, sent, node, publisher } = setUp()
    topics.set('t', topicOf('t', 4))
    publisher.topicChanged('t')
    publisher.flush()

    topics.set('t', topicOf('t', 2))
    publisher.topicChanged('t', [0])
    publisher.flush()
    expect(sent.at(-1)!.topics?.map((t) => t.name)).toEqual(['t'])
    expect(node.topics.get('t')?.partitions).toHaveLength(2)

    topics.set('t', topicOf('t', 2, 'another-id'))
    publisher.topicChanged('t', [1])
    publisher.flush()
    expect(node.topics.get('t')?.topicId).toBe('another-id')

    topics.set('t', topicOf('t', 5, 'another-id'))
    publisher.topicChanged('t', [4])
    publisher.flush()
    expect(sent.at(-1)!.topics?.map((t) => t.name)).toEqual(['t'])
    expect(node.topics.get('t')).toEqual(topics.get('t'))
  })

  it('merges partitions named before a flush, and a whole-topic change wins over them', () => {
    const { topics, sent, publisher } = setUp()
    topics.set('t', topicOf('t', 100))
    publisher.topicChanged('t')
    publisher.flush()
    publisher.topicChanged('t', [1])
    publisher.topicChanged('t', [2, 1])
    publisher.flush()
    expect(sent.at(-1)!.partitionChanges?.[0].partitions.map((p) => p.partition)).toEqual([1, 2])
    publisher.topicChanged('t', [3])
    publisher.topicChanged('t')
    publisher.flush()
    expect(partitionsIn(sent.at(-1)!)).toBe(100)
  })

  it('carries a copy: the controller changing its partition afterwards does not change the delta', () => {
    const { topics, publisher } = setUp()
    const deltas: MetadataDelta[] = []
    topics.set('t', topicOf('t', 3))
    publisher.topicChanged('t')
    publisher.flush()
    const image = new MetadataImage()
    const spy = new ImagePublisher({ clusterId: 'c', topic: (name) => topics.get(name), send: (_id, delta) => deltas.push(delta), liveNodes: () => [0] }, [])
    image.apply(spy.snapshotFor(0))
    spy.topicChanged('t')
    spy.flush()
    spy.topicChanged('t', [1])
    spy.flush()
    topics.get('t')!.partitions[1].leader = 5
    expect(deltas.at(-1)!.partitionChanges?.[0].partitions[0].leader).toBe(0)
  })
})

describe('MetadataImage', () => {
  it('refuses partitions of a topic it does not hold, or past the next index', () => {
    const image = new MetadataImage()
    expect(() => image.apply({ version: 1, partitionChanges: [{ name: 'x', topicId: 'x-id', configs: {}, partitions: [partition(0)] }] })).toThrow(/after the topic itself/)
    image.apply({ version: 2, topics: [topicOf('x', 1)] })
    expect(() => image.apply({ version: 3, partitionChanges: [{ name: 'x', topicId: 'x-id', configs: {}, partitions: [partition(2)] }] })).toThrow(/appends the next/)
  })
})
