import { describe, expect, it } from 'vitest'
import { MetadataImage, type TopicState } from '../../src/metadata/image.js'

const topic = (name: string, topicId: string): TopicState => ({ name, topicId, configs: {}, partitions: [{ partition: 0, replicas: [0], leader: 0, leaderEpoch: 0, isr: [0] }] })

describe('the metadata image', () => {
  it('names the topics a delta removed: deleted, or replaced under another id, and none for a stale delta', () => {
    const image = new MetadataImage()
    expect(image.apply({ version: 1, topics: [topic('a', 'a1'), topic('b', 'b1'), topic('c', 'c1')] })).toEqual([])
    expect(image.apply({ version: 2, deletedTopics: ['a', 'missing'], topics: [topic('b', 'b2'), topic('c', 'c1')] })).toEqual(['a', 'b'])
    expect(image.apply({ version: 2, deletedTopics: ['c'] })).toEqual([])
    expect([...image.topics.keys()].sort()).toEqual(['b', 'c'])
  })
})
