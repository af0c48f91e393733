/** Tests of src/bench/kafka-driver.ts: how `partita bench` drives a Kafka-protocol broker. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { KafkaClient } from '../../src/client/wire/kafka-client.js'
import { KafkaDriver } from '../../src/bench/kafka-driver.js'
import { startBroker } from '../../src/start-broker.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the bench Kafka driver', () => {
  it("commits a consumer's positions over a connection of its own, never the one its fetches use", async () => {
    await using broker = await startBroker({ brokers: 1, port: 0, adminPort: null, offsetsTopicNumPartitions: 1 })
    const driver = new KafkaDriver({ system: 'partita', bootstrapServers: broker.bootstrapServers, flushMode: 'test', server: null })
    await driver.setup({ partitions: 1, recordSize: 16, acks: 1, inFlight: 1 })
    const fetchedBy = new Set<string>()
    const committedBy = new Set<string>()
    const fetch = KafkaClient.prototype.fetch
    const offsetCommit = KafkaClient.prototype.offsetCommit
    vi.spyOn(KafkaClient.prototype, 'fetch').mockImplementation(function (this: KafkaClient, ...args) {
      fetchedBy.add(this.clientId)
      return fetch.apply(this, args)
    })
    vi.spyOn(KafkaClient.prototype, 'offsetCommit').mockImplementation(function (this: KafkaClient, ...args) {
      committedBy.add(this.clientId)
      return offsetCommit.apply(this, args)
    })
    const producer = await driver.producer(0)
    const consumer = await driver.consumer(0, [0], 'start', false)
    await producer.send(0, 3, null)
    let records = 0
    // Bounded: three records arrive within a few polls of the fetch's long-poll wait.
    for (let poll = 0; poll < 50 && records < 3; poll++) records += (await consumer.poll()).records
    await consumer.close()
    await producer.close()
    await driver.teardown()
    expect(records).toBe(3)
    expect([...fetchedBy]).toEqual(['partita-bench-consumer-0'])
    expect([...committedBy]).toEqual(['partita-bench-consumer-0-coordinator'])
  })
})
