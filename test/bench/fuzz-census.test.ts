import { describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { censusLine, sweepCreatedState, takeCensus } from '../../bench/fuzz/census.js'
import { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { ErrorCode } from '../../src/common/error-codes.js'
import { ApiKey } from '../../src/protocol/index.js'

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

describe("the fuzzer's census", () => {
  it('counts the transactional ids the coordinators keep, which no sweep can delete', async () => {
    await using broker: Broker = await startBroker({ brokers: 1, port: 0 })
    const client = await KafkaClient.connect({ bootstrapServers: broker.bootstrapServers, clientId: 'census-test' })
    try {
      expect((await takeCensus(broker.bootstrapServers)).transactionalIds).toBe(0)
      await client.metadata([])
      // FindCoordinator creates __transaction_state; its coordinator answers once it has loaded.
      for (let attempt = 0; ; attempt++) {
        const found = await client.request(0, ApiKey.FindCoordinator, { keyType: 1, key: 'census-tx', coordinatorKeys: ['census-tx'] })
        const init = await client.request(0, ApiKey.InitProducerId, { transactionalId: 'census-tx', transactionTimeoutMs: 10_000, producerId: -1, producerEpoch: -1 })
        if (init.errorCode === ErrorCode.NONE) break
        expect(attempt, `FindCoordinator ${JSON.stringify(found)}, InitProducerId ${init.errorCode}`).toBeLessThan(100)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const census = await takeCensus(broker.bootstrapServers)
      expect(census.transactionalIds).toBe(1)
      expect(censusLine(census)).toMatch(/, 1 transactional ids$/)
    } finally {
      await client.close()
    }
  })
})
