import { describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { sweepCreatedState } from '../../bench/fuzz/census.js'

describe("the fuzzer's sweep of the state its frames created", () => {
  it('deletes every topic and group it was not told to keep, and leaves the kept ones and the internal topics', async () => {
    await using broker: Broker = await startBroker({ brokers: 1, port: 0 })
    const admin = broker.admin
    for (const name of ['known', 'made-1', 'made-2']) await admin.createTopic({ name, partitions: 1 })
    for (const groupId of ['kept-group', 'made-group']) await admin.setOffsets({ groupId, topic: 'known', partitions: [{ partition: 0, offset: '0' }] })

    const swept = await sweepCreatedState(broker.bootstrapServers, new Set(['known']), new Set(['kept-group']))

    expect(swept).toEqual({ topics: 2, groups: 1 })
    const topics = await admin.listTopics()
    expect(topics.filter((t) => !t.startsWith('__')).sort()).toEqual(['known'])
    expect(topics).toContain('__consumer_offsets')
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toEqual(['kept-group'])
  })
})
